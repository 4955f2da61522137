"""Search limits. Past any of them a request is refused with 400, never served slowly.

``max_iterate_depth`` and ``max_included_per_page`` bound the executor (how many
rounds of ``:iterate`` includes it follows, how many resources it adds to a page, how
many linked resources a chain, ``_has`` or ``_list`` may examine);
the parser enforces the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import LimitSettings


@dataclass(frozen=True, slots=True)
class SearchLimits:
    max_params: int = 100
    max_or_values: int = 100
    max_includes: int = 10
    max_iterate_depth: int = 3
    max_included_per_page: int = 1000
    max_link_candidates: int = 10_000
    default_count: int = 50
    max_count: int = 1000
    max_value_length: int = 4096
    max_sort_keys: int = 5

    @classmethod
    def from_settings(cls, limits: LimitSettings) -> SearchLimits:
        return cls(
            max_params=limits.max_params,
            max_or_values=limits.max_or_values,
            max_includes=limits.max_includes,
            max_iterate_depth=limits.max_iterate_depth,
            max_included_per_page=limits.max_included_per_page,
            max_link_candidates=limits.max_link_candidates,
            default_count=limits.default_count,
            max_count=limits.max_count,
        )

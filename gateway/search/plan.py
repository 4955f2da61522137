"""Extraction plans: a type's extractors grouped by the resource's top-level key.

:func:`gateway.search.extract` walks a resource's keys once and runs only the
extractors that start with a key the resource has, so absent elements cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from gateway.search.bound import BoundParam
from gateway.search.builders import Builder
from gateway.search.compiler import Getter, HandGetter, Op
from gateway.search.fallback import FallbackGetter


class PlanStep(NamedTuple):
    """One extractor of one parameter, keyed in :class:`Plan` by its top-level key.

    A named tuple: the extraction loop unpacks it, which is faster than attributes.
    """

    code: str
    rest: tuple[Op, ...]  # ops after the top-level key
    builder: Builder


@dataclass(frozen=True, slots=True)
class Plan:
    """How to extract every served parameter of one resource type."""

    by_key: Mapping[str, tuple[PlanStep, ...]]
    # Extractors not starting with a key (fallbacks): (code, getter, builder, param type).
    other: tuple[tuple[str, Getter | HandGetter | FallbackGetter, Builder | None, str], ...]


def plan_for(params: Iterable[BoundParam]) -> Plan:
    by_key: dict[str, list[PlanStep]] = {}
    other = []
    for param in params:
        for ex in param.extractors:
            getter = ex.getter
            if isinstance(getter, Getter) and getter.ops and isinstance(getter.ops[0], str):
                assert ex.builder is not None
                by_key.setdefault(getter.ops[0], []).append(
                    PlanStep(param.code, getter.ops[1:], ex.builder)
                )
            else:
                other.append((param.code, getter, ex.builder, param.type))
    return Plan({k: tuple(v) for k, v in by_key.items()}, tuple(other))

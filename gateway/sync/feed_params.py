"""The parameters of ``GET /sync/changes`` (pure parsing; 400 naming the parameter).

``cursor`` (opaque, from the previous answer's ``next`` link), or ``start=now`` to begin
after everything committed so far (without either, the feed starts at the beginning of
the record); ``_type`` (comma-separated resource types, repeatable); ``limit`` (entries per
answer, 1 to ``feed_max_limit``); ``wait`` (seconds to long-poll when there is nothing
new, 0 to ``feed_max_wait``). Anything else is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.config import SyncSettings
from gateway.errors import BadRequest, UnsupportedParameter, shown
from gateway.fhir.resource_types import RESOURCE_TYPES

KNOWN = frozenset({"cursor", "start", "_type", "limit", "wait"})


@dataclass(frozen=True, slots=True)
class FeedParams:
    cursor: str | None
    start_now: bool
    types: tuple[str, ...] | None
    limit: int
    wait: float


def _one(query: Sequence[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in query if k == name]
    if len(values) > 1:
        raise BadRequest(
            f"Parameter '{name}' may appear only once", expression=name, code="GW-1681"
        )
    return values[0] if values else None


def _number(raw: str | None, name: str, low: float, high: float, default: float) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise BadRequest(
            f"'{name}' must be a number from {low:g} to {high:g}", expression=name, code="GW-1681"
        )
    return value


def parse_feed_params(query: Sequence[tuple[str, str]], settings: SyncSettings) -> FeedParams:
    for name, _ in query:
        if name not in KNOWN:
            raise UnsupportedParameter(
                f"Unknown parameter '{shown(name)}'", expression=shown(name), code="GW-1002"
            )
    cursor, start = _one(query, "cursor"), _one(query, "start")
    if start is not None and start != "now":
        raise BadRequest("'start' accepts only 'now'", expression="start", code="GW-1681")
    if cursor is not None and start is not None:
        raise BadRequest("Give 'cursor' or 'start', not both", expression="start", code="GW-1681")
    types = sorted(
        {
            t.strip()
            for v in (v for k, v in query if k == "_type")
            for t in v.split(",")
            if t.strip()
        }
    )
    unknown = [t for t in types if t not in RESOURCE_TYPES]
    if unknown:
        raise BadRequest(
            f"Unknown resource type '{unknown[0]}'", expression="_type", code="GW-1681"
        )
    limit = _number(
        _one(query, "limit"), "limit", 1, settings.feed_max_limit, settings.feed_default_limit
    )
    if limit != int(limit):
        raise BadRequest("'limit' must be a whole number", expression="limit", code="GW-1681")
    wait = _number(_one(query, "wait"), "wait", 0, settings.feed_max_wait, 0)
    return FeedParams(cursor, start == "now", tuple(types) or None, int(limit), wait)

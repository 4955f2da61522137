"""What a FHIR R4 Subscription must say to be accepted here (pure checks).

https://hl7.org/fhir/R4/subscription.html: ``criteria`` is a search URL relative to the
base (``Observation?subject=Patient/123``), ``channel.type`` must be ``rest-hook`` (the only
channel served), ``channel.endpoint`` an allowed origin (see :mod:`gateway.sync.netguard`),
``channel.payload`` absent (a ping) or ``application/fhir+json``, and ``channel.header``
plain ``Name: value`` lines that may not override the gateway's own headers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from gateway.errors import Unprocessable
from gateway.fhir.instant import parse_range
from gateway.fhir.resource_types import RESOURCE_TYPES
from gateway.sync.netguard import EndpointRefused, check_origin

PAYLOAD = "application/fhir+json"
# Result parameters shape a response; they select nothing, so a criteria may not use them.
RESULT_PARAMETERS = frozenset(
    {
        "_count",
        "_sort",
        "_include",
        "_revinclude",
        "_summary",
        "_elements",
        "_total",
        "_contained",
        "_containedType",
        "_format",
        "_pretty",
        "_page",
    }
)
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection"}
)
RESERVED_PREFIX = "x-dmp-"
MAX_HEADERS = 10
MAX_HEADER_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Criteria:
    resource_type: str
    params: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Channel:
    endpoint: str
    payload: str | None
    headers: tuple[tuple[str, str], ...]


def _refuse(message: str, expression: str, code: str) -> Unprocessable:
    return Unprocessable(message, expression=expression, code=code)


def parse_criteria(value: Any) -> Criteria:
    """``Type?name=value&…`` (or a bare ``Type``); 422 naming ``Subscription.criteria``."""
    where = "Subscription.criteria"
    if not isinstance(value, str) or not value.strip():
        raise _refuse("criteria must be a search expression Type?params", where, "GW-4601")
    rtype, _, query = value.strip().partition("?")
    if rtype.startswith("/") or "/" in rtype or rtype not in RESOURCE_TYPES:
        raise _refuse(f"criteria must start with a resource type, not '{rtype}'", where, "GW-4601")
    try:
        params = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise _refuse("criteria has a malformed query string", where, "GW-4601") from None
    for name, param_value in params:
        if name.split(":", 1)[0] in RESULT_PARAMETERS:
            raise _refuse(f"criteria may not use the result parameter '{name}'", where, "GW-4601")
        if not param_value:
            raise _refuse(f"criteria parameter '{name}' has no value", where, "GW-4601")
    return Criteria(rtype, tuple(params))


def parse_channel(resource: dict[str, Any], allowed_origins: Sequence[str]) -> Channel:
    channel = resource.get("channel")
    if not isinstance(channel, dict):
        raise _refuse("channel is required", "Subscription.channel", "GW-4602")
    if channel.get("type") != "rest-hook":
        raise _refuse(
            "Only the rest-hook channel is served", "Subscription.channel.type", "GW-4602"
        )
    endpoint = channel.get("endpoint")
    if not isinstance(endpoint, str):
        raise _refuse("A rest-hook needs an endpoint", "Subscription.channel.endpoint", "GW-4603")
    try:
        check_origin(endpoint, allowed_origins)
    except EndpointRefused as exc:
        raise _refuse(
            f"The endpoint is not allowed: {exc}", "Subscription.channel.endpoint", "GW-4603"
        ) from None
    payload = channel.get("payload")
    if payload is not None and payload != PAYLOAD:
        raise _refuse(
            f"payload must be absent or {PAYLOAD}", "Subscription.channel.payload", "GW-4604"
        )
    return Channel(endpoint, payload, parse_headers(channel.get("header")))


def parse_headers(value: Any) -> tuple[tuple[str, str], ...]:
    where = "Subscription.channel.header"
    lines = value if isinstance(value, list) else [] if value is None else None
    if lines is None or len(lines) > MAX_HEADERS:
        raise _refuse(f"at most {MAX_HEADERS} header lines", where, "GW-4605")
    out = []
    for i, line in enumerate(lines):
        name, sep, text = line.partition(":") if isinstance(line, str) else ("", "", "")
        name, text = name.strip(), text.strip()
        bad = (
            not sep
            or not name
            or any(c in name for c in " \t\r\n")
            or any(c in text for c in "\r\n")
            or len(line.encode("utf-8")) > MAX_HEADER_BYTES
        )
        if bad:
            raise _refuse("header lines are 'Name: value'", f"{where}[{i}]", "GW-4605")
        lowered = name.lower()
        if lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_PREFIX):
            raise _refuse(f"the header '{name}' is set by the gateway", f"{where}[{i}]", "GW-4605")
        out.append((name, text))
    return tuple(out)


def end_of(resource: dict[str, Any]) -> int | None:
    """``Subscription.end`` in microseconds (the subscription stops matching then)."""
    end = resource.get("end")
    if not isinstance(end, str):
        return None
    return parse_range(end, what="Subscription.end")[0]

"""Framework-neutral request and response of one FHIR interaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.errors import BadRequest
from gateway.storage.records import StoredVersion

ReturnPreference = Literal["minimal", "representation", "OperationOutcome"]


@dataclass(slots=True)
class FhirRequest:
    """One interaction: an HTTP request, or one entry of a batch/transaction Bundle.

    ``segments`` is the path below the FHIR base (``["Patient", "123"]``); ``resource``
    is the parsed JSON body (a resource, a JSON Patch array, or None).
    """

    method: str
    segments: list[str]
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    resource: Any = None
    base: str = ""
    content_type: str | None = None
    in_bundle: bool = False
    assigned_id: str | None = None  # the id a transaction chose for a POST entry

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def params(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]

    def param(self, name: str) -> str | None:
        values = self.params(name)
        if len(values) > 1:
            raise BadRequest(f"Parameter '{name}' may appear only once", expression=name)
        return values[0] if values else None

    @property
    def prefer(self) -> dict[str, str]:
        """The ``Prefer`` header (RFC 7240) as a dict, e.g. ``{"return": "minimal"}``."""
        raw = self.header("prefer") or ""
        out: dict[str, str] = {}
        for part in raw.split(","):
            for token in part.split(";"):
                key, _, value = token.strip().partition("=")
                if key:
                    out[key.lower()] = value.strip().strip('"')
        return out

    @property
    def return_preference(self) -> ReturnPreference:
        value = self.prefer.get("return", "representation")
        if value == "minimal":
            return "minimal"
        if value.lower() == "operationoutcome":
            return "OperationOutcome"
        return "representation"


@dataclass(slots=True)
class FhirResponse:
    """Status, headers and a JSON body (already serialised), or no body.

    ``entries`` holds, for a batch or transaction, the responses of its entries in
    entry order: what the body says, for in-process callers (the intake) that would
    otherwise parse the response Bundle again.
    """

    status: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    outcome: dict[str, Any] | None = None  # an OperationOutcome for Bundle.entry.response
    version: StoredVersion | None = None  # the version a resource interaction returned
    entries: tuple[FhirResponse, ...] | None = None  # a batch's or transaction's entries

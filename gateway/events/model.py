"""The events on the bus: small, versioned, and free of clinical content.

A :class:`ChangeEvent` says that a resource version was committed: its history sequence,
type, id, version, interaction, the id of the patient it belongs to, and when. A
:class:`PatientNotice` is a notification owed to a patient (an emergency access, a
professional recording a consent on their behalf, a document announced after the delay of
CSP R1111-53). Both serialise to compact JSON with a version field ``v``; a reader refuses
a version it does not know rather than guessing.

``seq`` orders events only on SQLite; on PostgreSQL sequence numbers are assigned at insert
and transactions commit in any order, so never use it as a resume position: the change
feed's cursor is the resume position (see ``gateway/sync/README.md``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import orjson

CHANGE_VERSION = 1
NOTICE_VERSION = 1

Interaction = Literal["create", "update", "delete"]
NoticeKind = Literal["emergency-access", "consent-recorded", "document-announced"]

_INTERACTIONS: dict[str, Interaction] = {
    "POST": "create",
    "PUT": "update",
    "PATCH": "update",
    "DELETE": "delete",
}


class EventFormatError(ValueError):
    """An entry on the bus that is not an event this gateway understands."""


def interaction_of(method: str | None, version: int) -> Interaction:
    """The interaction of a stored version (its HTTP method, or its version number)."""
    if method in _INTERACTIONS:
        found = _INTERACTIONS[method]
        return "create" if found == "update" and version == 1 else found
    return "create" if version == 1 else "update"


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    seq: int
    resource_type: str
    id: str
    version: int
    interaction: Interaction
    patient: str | None  # the patient's resource id, never an INS
    time: int  # lastUpdated, microseconds since the Unix epoch (UTC)

    @property
    def event_id(self) -> str:
        """Stable and unique: the same version always gives the same id (deduplication)."""
        return f"{self.resource_type}/{self.id}/_history/{self.version}"

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "v": CHANGE_VERSION,
                "seq": self.seq,
                "type": self.resource_type,
                "id": self.id,
                "version": self.version,
                "interaction": self.interaction,
                "patient": self.patient,
                "time": self.time,
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> ChangeEvent:
        raw = _object(data, CHANGE_VERSION)
        try:
            interaction = raw["interaction"]
            if interaction not in ("create", "update", "delete"):
                raise EventFormatError(f"unknown interaction {interaction!r}")
            return cls(
                seq=_int(raw["seq"]),
                resource_type=_str(raw["type"]),
                id=_str(raw["id"]),
                version=_int(raw["version"]),
                interaction=interaction,
                patient=None if raw.get("patient") is None else _str(raw["patient"]),
                time=_int(raw["time"]),
            )
        except KeyError as exc:
            raise EventFormatError(f"missing field {exc}") from None


@dataclass(frozen=True, slots=True)
class PatientNotice:
    """A notice owed to a patient; ``id`` is stable, so a redelivered notice is sent once."""

    id: str
    kind: NoticeKind
    patient: str  # the patient's resource id
    time: int  # microseconds since the Unix epoch (UTC)
    reason: str | None = None  # the access-policy reason code (btg-granted, …)
    actor: dict[str, str] = field(default_factory=dict)  # who: kind, subject, structure…
    resource: str | None = None  # Type/id of the announced document

    def encode(self) -> bytes:
        return orjson.dumps({"v": NOTICE_VERSION, **asdict(self)})

    @classmethod
    def decode(cls, data: bytes) -> PatientNotice:
        raw = _object(data, NOTICE_VERSION)
        kind = raw.get("kind")
        if kind not in ("emergency-access", "consent-recorded", "document-announced"):
            raise EventFormatError(f"unknown notice kind {kind!r}")
        actor = raw.get("actor") or {}
        if not isinstance(actor, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in actor.items()
        ):
            raise EventFormatError("actor must be an object of strings")
        try:
            return cls(
                id=_str(raw["id"]),
                kind=kind,
                patient=_str(raw["patient"]),
                time=_int(raw["time"]),
                reason=None if raw.get("reason") is None else _str(raw["reason"]),
                actor=dict(actor),
                resource=None if raw.get("resource") is None else _str(raw["resource"]),
            )
        except KeyError as exc:
            raise EventFormatError(f"missing field {exc}") from None


def _object(data: bytes, version: int) -> dict[str, Any]:
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise EventFormatError("not JSON") from None
    if not isinstance(raw, dict):
        raise EventFormatError("not a JSON object")
    if raw.get("v") != version:
        raise EventFormatError(f"unknown event version {raw.get('v')!r}")
    return raw


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventFormatError("expected an integer")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise EventFormatError("expected a non-empty string")
    return value

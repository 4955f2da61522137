"""The caller's context, built once per request by authentication.

Every storage call goes through a repository bound to an :class:`AccessContext`; the
access-control rules (DOMAIN.md §3) read it and nothing else. The fields mirror the
facts of the DMP's VIHF assertion (DOMAIN.md §2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CallerKind = Literal["professional", "patient", "system", "auditor", "admin", "dev", "anonymous"]
PurposeOfUse = Literal["normal", "bris_de_glace", "centre_15"]


@dataclass(frozen=True, slots=True)
class AccessContext:
    """Immutable facts about one caller, taken from its verified token."""

    kind: CallerKind
    client_id: str | None = None
    subject: str | None = None  # idNat_PS for professionals, INS for patients
    profession: str | None = None  # TRE_G15 code
    specialty: str | None = None
    role: str | None = None
    structure: str | None = None  # idNat_Struct
    patient: str | None = None  # INS of the patient the call concerns
    purpose_of_use: PurposeOfUse = "normal"
    justification: str | None = None
    software: str | None = None
    group: str | None = None  # Group id an EHPAD system token is bound to
    jti: str | None = None
    request_id: str | None = None

    @classmethod
    def dev_open(cls, request_id: str | None = None) -> AccessContext:
        """The context of an unauthenticated caller when ``GATEWAY_AUTH=disabled`` (dev only)."""
        return cls(kind="dev", client_id="dev", request_id=request_id)

"""The context of a registered client that sends without a bearer token (MLLP, CLI).

MLLP carries no token, and neither does a file dropped on the command line. The
listener (or the command) runs as one client of the registry (``clients.yaml``), and
every message it receives is written as that client:

- an **ehpad** client is a ``system`` caller: its subject is the client id, its
  structure the one idNat_Struct it is registered for (or the one chosen among them),
  and it is bound to its registry Group (the residents), exactly the facts its tokens
  may carry (:data:`gateway.auth.registry.KINDS_BY_ROLE`);
- a **vendor** client speaks for professionals, so the listener must be configured
  with *one* professional identity (idNat_PS, TRE_G15 profession, structure), the one
  the vendor's token would name: e.g. the pharmacist in charge for a pharmacy's
  dispensing software;
- auditor and admin clients never feed the record.

Anything unknown or inconsistent with the registry refuses to start
(:class:`UnknownClient`, :class:`ClientMisconfigured`), before any port is opened.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.access.context import AccessContext
from gateway.auth.claims import DEFAULT_PROFESSIONS
from gateway.auth.registry import Client, ClientRegistry
from gateway.fhir.identifiers import is_valid_idnat_ps


class UnknownClient(LookupError):
    """The client id is not in the registry."""


class ClientMisconfigured(ValueError):
    """The client exists but cannot send as configured; the message says why."""


@dataclass(frozen=True, slots=True)
class ProfessionalIdentity:
    """The professional a vendor's listener writes as."""

    idnat_ps: str
    profession: str
    structure: str | None = None
    specialty: str | None = None
    role: str | None = None


def _structure(client: Client, wanted: str | None) -> str:
    if wanted is not None:
        if wanted not in client.structures:
            raise ClientMisconfigured(
                f"client {client.id!r} is not registered for structure {wanted!r}; "
                f"its structures: {sorted(client.structures)}"
            )
        return wanted
    if len(client.structures) != 1:
        raise ClientMisconfigured(
            f"client {client.id!r} has {len(client.structures)} structures: name one "
            f"(--structure) among {sorted(client.structures)}"
        )
    return next(iter(client.structures))


def registered_context(
    registry: ClientRegistry,
    client_id: str,
    *,
    structure: str | None = None,
    professional: ProfessionalIdentity | None = None,
    software: str = "dmp-gateway/intake",
) -> AccessContext:
    """The context every payload from ``client_id`` is written with."""
    client = registry.clients.get(client_id)
    if client is None:
        raise UnknownClient(f"client {client_id!r} is not in the registry")
    if client.role == "ehpad":
        if professional is not None:
            raise ClientMisconfigured(
                f"client {client_id!r} is an EHPAD system: it sends as itself, not as a "
                "professional"
            )
        return AccessContext(
            kind="system",
            client_id=client.id,
            subject=client.id,
            structure=_structure(client, structure),
            group=client.group,
            software=software,
        )
    if client.role == "vendor":
        if professional is None:
            raise ClientMisconfigured(
                f"client {client_id!r} is a vendor: configure the professional it sends as "
                "(idNat_PS, profession, structure)"
            )
        if not is_valid_idnat_ps(professional.idnat_ps):
            raise ClientMisconfigured(f"{professional.idnat_ps!r} is not a valid idNat_PS")
        if professional.profession not in DEFAULT_PROFESSIONS:
            raise ClientMisconfigured(
                f"profession {professional.profession!r} is not a known TRE_G15 code"
            )
        return AccessContext(
            kind="professional",
            client_id=client.id,
            subject=professional.idnat_ps,
            profession=professional.profession,
            specialty=professional.specialty,
            role=professional.role,
            structure=_structure(client, professional.structure or structure),
            software=software,
        )
    raise ClientMisconfigured(f"client {client_id!r} is an {client.role} client: it cannot send")

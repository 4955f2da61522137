"""Who is sending: the caller's context and the source configuration derived from it.

Ingestion writes *as the sender* (DESIGN.md: ``Repository(ctx of the sending system)``),
so every payload needs an :class:`~gateway.access.context.AccessContext`. The parsers
also need a :class:`~gateway.normalise.SourceConfig`: its FINESS roots the identifier
systems of the sender's local ids (``https://dmp-gateway.fr/fhir/sid/finess/<FINESS>/…``).

The FINESS comes from the caller's structure, never from the payload: an idNat_Struct
is ``1`` + FINESS for establishments (DOMAIN.md §1). A caller whose structure is not
FINESS-based (``3`` + SIRET…) or that has none cannot ingest (403): its local ids would
have no system, and a sender could otherwise claim another establishment's ids by
writing its FINESS in MSH-4.

``source`` (the quarantine's and ledger's *source* column) is the client id the caller
authenticated with. A sender is the client, the structure and, for a professional, the
professional (:attr:`Sender.subject`): that triple owns its quarantined payloads
(:mod:`gateway.intake.visibility`) and scopes its idempotency keys
(:mod:`gateway.intake.ledger`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gateway.access.context import AccessContext
from gateway.errors import Forbidden
from gateway.fhir.identifiers import is_valid_finess
from gateway.normalise import SourceConfig

FEEDING_KINDS = frozenset({"professional", "system", "dev"})


@dataclass(frozen=True, slots=True)
class Sender:
    """A caller allowed to ingest, with the parser's view of it."""

    ctx: AccessContext
    source: SourceConfig

    @property
    def client_id(self) -> str:
        return self.source.source_id

    @property
    def structure(self) -> str:
        return self.source.idnat_struct

    @property
    def subject(self) -> str | None:
        """The professional part of the sender: a professional's idNat_PS (the token's
        ``sub``); None for a system (every token of its client and structure is the same
        sender) or the development caller."""
        if self.ctx.kind != "professional":
            return None
        return self.ctx.subject or ""  # never None: that would make it a system

    def for_patient(self, patient: str | None) -> Sender:
        """The same sender naming the patient a message concerns.

        A professional's token names the patient of each call (the VIHF's ``patient``,
        ``require_patient_claim``); a message names its patient in PID, so the pipeline
        fills the claim in when the caller's context has none. A claim the caller did
        make is kept: a message about someone else is then refused by the rules.
        """
        if patient is None or self.ctx.patient is not None or self.ctx.kind != "professional":
            return self
        return replace(self, ctx=replace(self.ctx, patient=patient))


def sender_for(ctx: AccessContext, *, name: str = "", dev_finess: str | None = None) -> Sender:
    """The sender for ``ctx``, or :class:`Forbidden` (403) saying why it cannot ingest.

    ``dev_finess`` is honoured for the open development caller only (``GATEWAY_AUTH=
    disabled``), which has no structure of its own.
    """
    if ctx.kind not in FEEDING_KINDS:
        raise Forbidden(
            f"A {ctx.kind} caller cannot ingest data; send as a professional or a system",
            code="GW-2010",
        )
    if ctx.kind == "dev":
        finess = dev_finess
        if finess is None:
            raise Forbidden(
                "The development caller must name the FINESS it sends for (?finess=)",
                code="GW-2011",
            )
    else:
        structure = ctx.structure or ""
        finess = structure[1:] if structure.startswith("1") else None
        if finess is None:
            raise Forbidden(
                "Ingestion needs a caller structure identified by FINESS (idNat_Struct "
                f"'1' + FINESS); the caller's is {structure or 'missing'!r}",
                code="GW-2011",
            )
    if not is_valid_finess(finess):
        raise Forbidden(f"{finess!r} is not a valid FINESS", code="GW-2011")
    source = SourceConfig(ctx.client_id or ctx.kind, finess, name)
    return Sender(ctx, source)

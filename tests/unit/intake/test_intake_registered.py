"""Contexts of registered clients that send without a token (MLLP, CLI)."""

from __future__ import annotations

import pytest

from gateway.auth.dev import client_entry, generate_private_jwk, public_jwk
from gateway.auth.registry import ClientRegistry, ClientRole, parse_registry
from gateway.ingest.issues import CsvLocation, error
from gateway.intake import ClientMisconfigured, ProfessionalIdentity, UnknownClient
from gateway.intake import registered_context as context
from gateway.intake.outcome import FileOutcome, RowOutcome
from gateway.intake.report import SUMMARY, file_outcome


def _registry() -> ClientRegistry:
    def entry(
        cid: str, role: ClientRole, structures: list[str], group: str | None = None
    ) -> object:
        key = public_jwk(generate_private_jwk("Ed25519", kid=f"{cid}-1"))
        return client_entry(
            cid, name=cid, role=role, structures=structures, public_keys=[key], group=group
        )

    return parse_registry(
        {
            "clients": [
                entry("ehpad", "ehpad", ["1920000031"], "residents"),
                entry("vendor", "vendor", ["1750000028", "1750000010"]),
                entry("audit", "auditor", ["1750000010"]),
            ]
        }
    )


def test_an_ehpad_client_sends_as_its_system() -> None:
    ctx = context(_registry(), "ehpad")
    assert (ctx.kind, ctx.subject, ctx.structure, ctx.group) == (
        "system",
        "ehpad",
        "1920000031",
        "residents",
    )


def test_a_vendor_client_sends_as_the_configured_professional() -> None:
    who = ProfessionalIdentity("810000000025", "21", "1750000028")
    ctx = context(_registry(), "vendor", professional=who)
    assert (ctx.kind, ctx.subject, ctx.profession, ctx.structure) == (
        "professional",
        "810000000025",
        "21",
        "1750000028",
    )


@pytest.mark.parametrize(
    ("client", "kwargs", "error_type", "message"),
    [
        ("nobody", {}, UnknownClient, "not in the registry"),
        ("vendor", {}, ClientMisconfigured, "configure the professional"),
        ("audit", {}, ClientMisconfigured, "cannot send"),
        ("ehpad", {"structure": "1750000010"}, ClientMisconfigured, "not registered for"),
        (
            "vendor",
            {"professional": ProfessionalIdentity("810000000025", "21")},
            ClientMisconfigured,
            "name one",
        ),
        (
            "vendor",
            {"professional": ProfessionalIdentity("123", "21", "1750000028")},
            ClientMisconfigured,
            "not a valid idNat_PS",
        ),
        (
            "vendor",
            {"professional": ProfessionalIdentity("810000000025", "99", "1750000028")},
            ClientMisconfigured,
            "TRE_G15",
        ),
        (
            "ehpad",
            {"professional": ProfessionalIdentity("810000000025", "21")},
            ClientMisconfigured,
            "sends as itself",
        ),
    ],
)
def test_unusable_clients_refuse_to_start(
    client: str, kwargs: dict[str, object], error_type: type[Exception], message: str
) -> None:
    with pytest.raises(error_type, match=message):
        context(_registry(), client, **kwargs)  # type: ignore[arg-type]


def test_the_csv_answer_counts_and_locates() -> None:
    bad = error("'x' is not a number", CsvLocation(3, "Valeur"), expression="Observation.value")
    outcome = FileOutcome(
        "csv:vitals",
        (
            RowOutcome(2, "accepted"),
            RowOutcome(3, "quarantined", (bad,), "q-1"),
            RowOutcome(4, "duplicate", first=False, first_status="accepted"),
        ),
    )
    body = file_outcome(outcome)
    counts = {e["url"]: e["valueInteger"] for e in body["extension"][0]["extension"]}
    assert body["extension"][0]["url"] == SUMMARY
    assert counts == {"submitted": 3, "accepted": 1, "duplicates": 1, "quarantined": 1}
    assert body["issue"][0]["diagnostics"] == (
        "3 submitted: 1 accepted, 1 duplicates, 1 quarantined"
    )
    located = body["issue"][1]
    assert located["location"] == ["line 3, column 'Valeur'"]
    assert located["expression"] == ["Observation.value"]
    assert located["diagnostics"] == "line 3: 'x' is not a number (quarantine q-1)"
    assert body["issue"][2]["code"] == "duplicate"

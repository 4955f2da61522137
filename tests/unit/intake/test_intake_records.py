"""Pure pieces of the pipeline: demographics, links, roster, Provenance, visibility, formats."""

from __future__ import annotations

import itertools

import pytest
from fhir.resources.R4B import get_fhir_model_class

from gateway.access.context import AccessContext
from gateway.auth import demo
from gateway.intake.demographics import enrolled, linked, merged_patient, retired
from gateway.intake.formats import UnknownFormat, detect, split_hl7
from gateway.intake.provenance import ProvenanceFacts, build_provenance, named_information
from gateway.intake.quarantine import QuarantineEntry
from gateway.intake.visibility import View, may_discard, may_list, may_replay, view_of

KINDS = ("administrations", "care-notes", "residents", "vitals")


def test_demographics_update_keeps_what_other_sources_wrote() -> None:
    stored = {
        "resourceType": "Patient",
        "id": "p",
        "meta": {"versionId": "3", "lastUpdated": "2024-01-01T00:00:00Z"},
        "identifier": [{"system": "a", "value": "1"}],
        "extension": [{"url": "x", "valueString": "old"}, {"url": "y", "valueString": "kept"}],
        "telecom": [{"value": "0101"}],
        "link": [{"other": {"reference": "Patient/q"}, "type": "seealso"}],
        "active": True,
    }
    incoming = {
        "resourceType": "Patient",
        "identifier": [{"system": "a", "value": "1"}, {"system": "b", "value": "2"}],
        "extension": [{"url": "x", "valueString": "new"}],
        "telecom": [{"value": "0202"}],
        "active": False,
    }
    merged = merged_patient(stored, incoming)
    assert merged["identifier"] == [{"system": "a", "value": "1"}, {"system": "b", "value": "2"}]
    assert merged["extension"] == [
        {"url": "y", "valueString": "kept"},
        {"url": "x", "valueString": "new"},
    ]
    assert merged["telecom"] == [{"value": "0202"}]
    assert merged["active"] is True and merged["link"] == stored["link"]
    assert "meta" not in merged and merged["id"] == "p"


def test_merge_links_both_ways_and_deactivates_the_retired_record() -> None:
    old = retired({"resourceType": "Patient", "id": "r", "active": True}, "s")
    assert old["active"] is False
    assert old["link"] == [{"other": {"reference": "Patient/s"}, "type": "replaced-by"}]
    survivor = linked({"resourceType": "Patient", "id": "s"}, "r", "replaces")
    assert linked(survivor, "r", "replaces") == survivor, "added once"


def test_roster_enrolment() -> None:
    group = {"resourceType": "Group", "member": [{"entity": {"reference": "Patient/a"}}]}
    assert enrolled(group, ["Patient/a"]) is None
    grown = enrolled(group, ["Patient/a", "urn:uuid:b"])
    assert grown is not None
    assert grown["member"][-1] == {"entity": {"reference": "urn:uuid:b"}}


def test_provenance_is_valid_r4_and_says_everything_the_issue_asks() -> None:
    digest = "a" * 64
    resource = build_provenance(
        ProvenanceFacts(
            targets=["Observation/1", "Observation/1", "Patient/p"],
            recorded=1_700_000_000_000_000,
            structure="1750712184",
            source_display="demo-ehpad (TITAN/EHPAD)",
            payload_sha256=digest,
            message_system="https://dmp-gateway.fr/fhir/sid/finess/750712184/message",
            message_id="MSG-1",
            occurred="2024-01-15T08:35:00+01:00",
            authors=["PractitionerRole/n"],
            organization="Organization/o",
            assumptions=["Europe/Paris assumed [OBX-14]", "lb converted to kg"],
        )
    )
    get_fhir_model_class("Provenance").model_validate(resource)
    assert resource["target"] == [{"reference": "Observation/1"}, {"reference": "Patient/p"}]
    assert resource["recorded"] == "2023-11-14T22:13:20.000000Z"
    assert [e["valueString"] for e in resource["extension"]][1] == "lb converted to kg"
    author, informant = resource["agent"]
    assert author["onBehalfOf"] == {"reference": "Organization/o"}
    assert informant["who"]["identifier"]["value"] == "1750712184"
    message, payload = resource["entity"]
    assert message["what"]["identifier"]["value"] == "MSG-1"
    assert payload["what"]["identifier"]["value"] == named_information(digest)
    assert named_information(digest).startswith("ni:///sha-256;qqqq")


def _entry(source: str = "demo-ehpad", structure: str = demo.EHPAD) -> QuarantineEntry:
    return QuarantineEntry(
        "e", source, structure, "hl7v2", "ADT^A01", "rejected", "open", 0, 0, b"x", "h", []
    )


CALLERS = {
    "sender": demo.EHPAD_SYSTEM.context(client_id="demo-ehpad"),
    "same client, other structure": demo.EHPAD_SYSTEM.context(
        client_id="demo-ehpad", structure="1750000010"
    ),
    "other client": demo.PHYSICIAN.context(client_id="demo-vendor", structure=demo.EHPAD),
    "admin": demo.ADMIN.context(),
    "auditor": demo.AUDITOR.context(),
    "patient": demo.PATIENT.context(),
    "dev": AccessContext.dev_open(),
    "anonymous": AccessContext(kind="anonymous"),
}
EXPECTED = {
    # caller: (view, replay, discard, list) without / with dev mode
    "sender": (View.FULL, True, True, True),
    "same client, other structure": (View.NONE, False, False, True),
    "other client": (View.NONE, False, False, True),
    "admin": (View.METADATA, False, True, True),
    "auditor": (View.NONE, False, False, False),
    "patient": (View.NONE, False, False, False),
    "anonymous": (View.NONE, False, False, False),
}


@pytest.mark.parametrize(("caller", "dev_mode"), list(itertools.product(CALLERS, [False, True])))
def test_quarantine_visibility_truth_table(caller: str, dev_mode: bool) -> None:
    ctx, entry = CALLERS[caller], _entry()
    got = (
        view_of(ctx, entry, dev_mode=dev_mode),
        may_replay(ctx, entry, dev_mode=dev_mode),
        may_discard(ctx, entry, dev_mode=dev_mode),
        may_list(ctx, dev_mode=dev_mode),
    )
    if caller == "dev":
        expected = (View.FULL, True, True, True) if dev_mode else (View.NONE, False, False, False)
    else:
        expected = EXPECTED[caller]
    assert got == expected


@pytest.mark.parametrize(
    ("name", "head", "forced", "expected"),
    [
        ("a.hl7", b"", "auto", ("hl7v2", None)),
        ("export.txt", b"MSH|^~\\&|", "auto", ("hl7v2", None)),
        ("x.dat", b"\x0bMSH|", "auto", ("hl7v2", None)),
        ("bundle.json", b"", "auto", ("fhir", None)),
        ("Vitals_2024.csv", b"a;b", "auto", ("csv", "vitals")),
        ("care_notes.csv", b"", "auto", ("csv", "care-notes")),
        ("anything", b"", "csv:residents", ("csv", "residents")),
        ("a.hl7", b"", "fhir", ("fhir", None)),
    ],
)
def test_format_detection(
    name: str, head: bytes, forced: str, expected: tuple[str, str | None]
) -> None:
    assert detect(name, head, forced, KINDS) == expected


@pytest.mark.parametrize(("name", "forced"), [("x.csv", "auto"), ("a", "csv:nope"), ("a", "xml")])
def test_undecidable_formats_say_why(name: str, forced: str) -> None:
    with pytest.raises(UnknownFormat):
        detect(name, b"a;b", forced, KINDS)


def test_hl7_batch_files_split_into_messages_with_their_own_bytes() -> None:
    batch = b"FHS|^~\\&\rBHS|^~\\&\rMSH|1\rPID|1\nMSH|2\r\nPID|2\r\nBTS|2\rFTS|1\r"
    assert split_hl7(batch) == [b"MSH|1\rPID|1\n", b"MSH|2\r\nPID|2\r\n"]
    assert split_hl7(b"\x0bMSH|1\x1c\r\n\x0bMSH|2\x1c\r") == [b"MSH|1", b"MSH|2"]
    assert split_hl7(b"\r\n") == []

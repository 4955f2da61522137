"""The DMP access rules over real HTTP with the demo actors (DOMAIN.md §3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.auth import demo, demo_bundle
from tests.demo_server import DemoGateway, demo_gateway

ALICE, BRUNO, CHLOE, GASTON = demo.PATIENT_INS


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[DemoGateway]:
    with demo_gateway(tmp_path_factory.mktemp("demo"), sqlite_template) as gateway:
        yield gateway


READS = [
    # (actor, token facts, path, expected status, why)
    ("physician", {"patient": ALICE}, "/Patient/alice", 200, "care team"),
    ("nurse", {"patient": ALICE}, "/Patient/alice", 200, "care team"),
    ("physician", {"patient": BRUNO}, "/Patient/bruno", 404, "no relationship, hidden"),
    ("physician", {}, "/Patient/alice", 404, "no patient in the token"),
    ("physician", {"patient": BRUNO}, "/Patient/alice", 404, "token names another patient"),
    (
        "physician",
        {"patient": BRUNO, "purpose_of_use": "bris_de_glace", "justification": "inconscient"},
        "/Patient/bruno",
        404,
        "BTG opposed",
    ),
    (
        "physician",
        {"patient": CHLOE, "purpose_of_use": "bris_de_glace", "justification": "inconscient"},
        "/Patient/chloe",
        200,
        "BTG granted",
    ),
    (
        "regulator",
        {"patient": CHLOE, "purpose_of_use": "centre_15"},
        "/Patient/chloe",
        200,
        "centre 15",
    ),
    (
        "physician",
        {"patient": CHLOE, "purpose_of_use": "centre_15"},
        "/Patient/chloe",
        401,
        "centre 15 by a non-regulator: the token is refused, not every read hidden",
    ),
    ("dentist", {"patient": ALICE}, "/Patient/alice", 404, "not in the care team"),
    ("patient", {}, "/Patient/alice", 200, "own record"),
    ("patient", {}, "/Patient/bruno", 404, "someone else's record"),
    ("admin", {}, "/Patient/alice", 404, "no patient identity for the operator"),
    ("admin", {}, "/Organization/org-ehpad", 200, "directory data"),
    ("auditor", {}, "/Patient/alice", 404, "auditors read audit data only"),
    ("physician", {"patient": ALICE}, "/Organization/org-hospital", 200, "directory"),
]


@pytest.mark.parametrize(("actor", "facts", "path", "status", "why"), READS)
def test_reads(
    gw: DemoGateway, actor: str, facts: dict[str, Any], path: str, status: int, why: str
) -> None:
    with gw.client(actor, **facts) as http:
        r = http.get(path)
    assert r.status_code == status, (why, r.text)
    if status == 404:
        assert r.json()["issue"][0]["code"] == "not-found", "hidden looks exactly like missing"
    if status == 401:
        issue = r.json()["issue"][0]
        assert issue["details"]["coding"][0]["code"] == "GW-2128", issue
        assert "regulating physician" in issue["diagnostics"]


def _hr(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "valueQuantity": {
            "value": 72,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }


def test_writes_need_a_care_relationship_and_only_the_author_deletes(gw: DemoGateway) -> None:
    with gw.client("physician", patient=ALICE) as physician:
        created = physician.post("/Observation", json=_hr("alice"))
        assert created.status_code == 201
        rid = created.json()["id"]
    with gw.client("dentist", patient=ALICE) as dentist:
        refused = dentist.post("/Observation", json=_hr("alice"))
        assert refused.status_code == 403
        assert "no-relationship" in refused.json()["issue"][0]["diagnostics"]
    with gw.client("nurse", patient=ALICE) as nurse:
        assert nurse.get(f"/Observation/{rid}").status_code == 200
        denied = nurse.delete(f"/Observation/{rid}")
        assert denied.status_code == 403, "only the author deletes"
    with gw.client("physician", patient=ALICE) as physician:
        moved = {
            **physician.get(f"/Observation/{rid}").json(),
            "subject": {"reference": "Patient/bruno"},
        }
        assert physician.put(f"/Observation/{rid}", json=moved).status_code == 403
        assert physician.delete(f"/Observation/{rid}").status_code == 204


def test_put_if_none_match_star_does_not_reveal_a_hidden_resource(gw: DemoGateway) -> None:
    with gw.client("physician", patient=ALICE) as physician:
        created = physician.post("/Observation", json=_hr("alice"))
        assert created.status_code == 201
        body = created.json()
        star = {"if-none-match": "*"}
        assert (
            physician.put(f"/Observation/{body['id']}", json=body, headers=star).status_code == 412
        )
    with gw.client("dentist", patient=ALICE) as dentist:
        hidden = dentist.put(f"/Observation/{body['id']}", json=body, headers=star)
        new = dentist.put(
            "/Observation/never-written", json={**body, "id": "never-written"}, headers=star
        )
    assert hidden.status_code != 412, "hidden: as absent as to a read"
    # A hidden resource answers as an id that does not exist (here: the create refused).
    assert (hidden.status_code, _issue(hidden)) == (new.status_code, _issue(new))


def _issue(r: httpx.Response) -> tuple[str, str]:
    issue = r.json()["issue"][0]
    return issue["code"], issue["diagnostics"].replace("never-written", "<id>")


def test_masked_document_is_invisible_to_other_professionals(gw: DemoGateway) -> None:
    with gw.client("nurse", patient=ALICE) as nurse:
        assert nurse.get("/DocumentReference/doc-alice-consultation").status_code == 404


def test_explain(gw: DemoGateway) -> None:
    facts = json.dumps(
        {
            "kind": "professional",
            "sub": demo.DENTIST.subject,
            "profession": "40",
            "structure": demo.HOSPITAL,
            "patient": ALICE,
        }
    )
    with gw.client("auditor") as auditor:
        r = auditor.get(
            gw.server.url + "/access/explain", params={"resource": "Patient/alice", "as": facts}
        )
    assert r.status_code == 200
    body = r.json()
    assert body["effect"] == "deny"
    assert body["code"] == "no-relationship"
    assert body["rule"] == 4
    with gw.client("physician", patient=ALICE) as physician:
        forbidden = physician.get(
            gw.server.url + "/access/explain", params={"resource": "Patient/alice", "as": facts}
        )
    assert forbidden.status_code == 403


def _outcome(r: httpx.Response) -> tuple[int, list[tuple[Any, ...]]]:
    issues = r.json()["issue"]
    return r.status_code, [
        (
            i.get("code"),
            i.get("diagnostics"),
            [c.get("code") for c in i.get("details", {}).get("coding", [])],
        )
        for i in issues
    ]


def test_explain_is_no_identity_or_consent_oracle_for_admins(gw: DemoGateway) -> None:
    """Regression: an admin chose the ``as`` facts freely and learnt whether an INS is
    Bruno's (``patient-mismatch`` vs ``no-relationship``), that he opposed
    break-the-glass (``btg-opposed``) and whether a Patient id exists, none of which they
    may see (``GET /fhir/Patient/bruno`` is 404 for them). Every admin question now gets
    the same 403, whatever the patient facts."""
    physician = {
        "kind": "professional",
        "sub": demo.PHYSICIAN.subject,
        "profession": "10",
        "structure": demo.HOSPITAL,
    }
    questions = [
        ("Patient/bruno", {**physician, "patient": BRUNO}),
        ("Patient/bruno", {**physician, "patient": ALICE}),
        (
            "Patient/bruno",
            {
                **physician,
                "patient": BRUNO,
                "purpose_of_use": "bris_de_glace",
                "justification": "inconscient",
            },
        ),
        (
            "Patient/chloe",
            {
                **physician,
                "patient": CHLOE,
                "purpose_of_use": "bris_de_glace",
                "justification": "inconscient",
            },
        ),
        ("Patient/nobody-x", {**physician, "patient": BRUNO}),
        ("Organization/org-ehpad", {**physician, "patient": BRUNO}),
    ]
    answers = []
    with gw.client("admin") as admin:
        for resource, facts in questions:
            r = admin.get(
                gw.server.url + "/access/explain",
                params={"resource": resource, "as": json.dumps(facts)},
            )
            answers.append(_outcome(r))
    assert answers[0][0] == 403
    assert all(a == answers[0] for a in answers), answers
    assert not any(
        word in str(answers)
        for word in ("patient-mismatch", "no-relationship", "btg", "opposed", BRUNO, "bruno")
    )
    # the auditor, whose job this is, still gets the distinctions
    with gw.client("auditor") as auditor:
        codes = [
            auditor.get(
                gw.server.url + "/access/explain",
                params={"resource": resource, "as": json.dumps(facts)},
            ).json()["code"]
            for resource, facts in questions[:3]
        ]
    assert codes == ["no-relationship", "patient-mismatch", "btg-opposed"]


def test_transaction_with_one_refused_entry_fails_whole(gw: DemoGateway) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": _hr("alice"), "request": {"method": "POST", "url": "Observation"}},
            {"resource": _hr("bruno"), "request": {"method": "POST", "url": "Observation"}},
        ],
    }
    with gw.client("physician", patient=ALICE) as physician:
        r = physician.post("/", json=bundle)
        assert r.status_code == 403
        assert "Bundle.entry[1]" in r.json()["issue"][0]["diagnostics"]
        history = physician.get("/Observation/_history").json()
    assert all(
        e.get("resource", {}).get("subject", {}).get("reference") != "Patient/bruno"
        for e in history.get("entry", [])
    )


def test_unauthenticated_and_wrong_token_never_see_anything(gw: DemoGateway) -> None:
    r = httpx.get(gw.server.url + "/fhir/Patient/alice")
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("actor", "facts", "query", "status"),
    [
        ("physician", {"patient": ALICE}, {"subject:Patient.family": "Dupont"}, 200),
        ("auditor", {}, {"subject:Patient.family": "Dupont"}, 400),
        ("admin", {}, {"subject:Patient.family": "Dupont"}, 400),
        ("admin", {}, {"_has:Observation:subject:code": "8867-4"}, 400),
    ],
)
def test_chains_over_types_the_caller_cannot_read_are_refused(
    gw: DemoGateway, actor: str, facts: dict[str, Any], query: dict[str, str], status: int
) -> None:
    path = "/Patient" if any(k.startswith("_has") for k in query) else "/Observation"
    with gw.client(actor, **facts) as http:
        r = http.get(path, params=query)
    assert r.status_code == status, r.text
    if status == 400:
        issue = r.json()["issue"][0]
        assert issue["details"]["coding"][0]["code"] == "GW-1108"
        assert issue["expression"] == [next(iter(query))]


def test_masking_a_document_later_hides_its_old_versions(gw: DemoGateway) -> None:
    """Regression (leak test, issue 6): vread and type history judged an old version on
    its own labels, so a document masked in version 2 still showed version 1."""
    note = {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11506-3"}]},
        "subject": {"reference": "Patient/alice"},
        "content": [{"attachment": {"contentType": "text/plain", "data": "dGV4dGU="}}],
    }
    with gw.client("physician", patient=ALICE) as physician:
        rid = physician.post("/DocumentReference", json=note).json()["id"]
        with gw.client("nurse", patient=ALICE) as nurse:
            assert nurse.get(f"/DocumentReference/{rid}/_history/1").status_code == 200
        masked = {
            **note,
            "id": rid,
            "meta": {"security": [{"system": demo_bundle.TRE_A07, "code": "MASQUE_PS"}]},
        }
        assert physician.put(f"/DocumentReference/{rid}", json=masked).status_code == 200
    with gw.client("nurse", patient=ALICE) as nurse:
        assert nurse.get(f"/DocumentReference/{rid}").status_code == 404
        assert nurse.get(f"/DocumentReference/{rid}/_history/1").status_code == 404
        assert nurse.get(f"/DocumentReference/{rid}/_history").status_code == 404
        history = nurse.get("/DocumentReference/_history?_count=100").json()
        shown = {e["resource"]["id"] for e in history.get("entry", []) if "resource" in e}
        assert rid not in shown
    with gw.client("physician", patient=ALICE) as physician:
        assert physician.get(f"/DocumentReference/{rid}/_history/1").status_code == 200
    # Nor through the change feed, which lists the committed versions (issue 8).
    with gw.client("nurse", patient=ALICE) as nurse:
        url: str | None = gw.server.url + "/sync/changes?limit=50"
        fed: list[str] = []
        while url:
            body = nurse.get(url).json()
            assert body["resourceType"] == "Bundle", body
            fed += [e.get("fullUrl", "") for e in body.get("entry", [])]
            url = next(x["url"] for x in body["link"] if x["relation"] == "next")
            url = url if body.get("entry") else None
        assert fed and not [u for u in fed if u.endswith(f"DocumentReference/{rid}")]


def test_a_professional_rereads_the_access_grant_that_names_them(gw: DemoGateway) -> None:
    """Regression (leak test, issue 6): the grant's actor is a literal Practitioner
    reference; it was never resolved when the Consent itself was read, so the professional
    it names could not re-read it (over-denial against the documented rule)."""
    grant = {
        "resourceType": "Consent",
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "policy": [{"uri": "https://dmp-gateway.fr/fhir/policy/dmp-access"}],
        "patient": {"reference": "Patient/alice"},
        "dateTime": "2026-11-01T10:00:00+01:00",
        "provision": {"type": "permit", "actor": [
            {"role": {"coding": [{"code": "PRCP"}]},
             "reference": {"reference": "Practitioner/pr-dentist"}}]},
    }  # fmt: skip
    with gw.client("dentist", patient=ALICE) as dentist:
        assert dentist.get("/Patient/alice").status_code == 404
    with gw.client("patient") as alice:
        created = alice.post("/Consent", json=grant)
        assert created.status_code == 201, created.text
        rid = created.json()["id"]
    try:
        with gw.client("dentist", patient=ALICE) as dentist:
            assert dentist.get("/Patient/alice").status_code == 200
            assert dentist.get(f"/Consent/{rid}").status_code == 200
        with gw.client("nurse", patient=ALICE) as nurse:
            assert nurse.get(f"/Consent/{rid}").status_code == 404  # names someone else
    finally:
        with gw.client("patient") as alice:
            assert alice.delete(f"/Consent/{rid}").status_code in (200, 204)


def test_a_professional_cannot_split_a_record_they_cannot_see(gw: DemoGateway) -> None:
    """README walk-through finding: a physician created a Patient, could not see it (no care
    relationship yet), and conditional creates with its INS made duplicates."""
    lea = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "299056202512351"}],
        "name": [{"family": "Durand", "given": ["Léa"]}],
    }
    with gw.client("physician", patient=ALICE) as physician:
        assert physician.post("/Patient", json=lea).status_code == 201
        again = physician.post("/Patient", json=lea)
        conditional = physician.post(
            "/Patient",
            json=lea,
            headers={"If-None-Exist": "identifier=urn:oid:1.2.250.1.213.1.4.8|299056202512351"},
        )
        for r in (again, conditional):
            assert r.status_code == 409, r.text
            issue = r.json()["issue"][0]
            assert issue["details"]["coding"][0]["code"] == "GW-3016"
            assert issue["expression"] == ["Patient.identifier"]
    with gw.client("dentist", patient=ALICE) as dentist:  # may not write: 403, not 409
        assert dentist.post("/Patient", json=lea).status_code == 403


def _patient_body(rid: str, ins: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": rid,
        "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": ins}],
        "name": [{"family": "Essai", "given": ["Zoé"]}],
        "gender": "female",
        "birthDate": "1985-03-07",
    }


def _put_outcome(r: httpx.Response, rid: str) -> tuple[int, list[tuple[Any, ...]]]:
    status, issues = _outcome(r)
    return status, [(c, (d or "").replace(rid, "<id>"), g) for c, d, g in issues]


# (actor, token facts, type, id hidden from the actor, body for a given id)
HIDDEN_PUTS = [
    ("dentist", {"patient": BRUNO}, "Patient", "bruno", lambda rid: _patient_body(rid, BRUNO)),
    ("dentist", {"patient": ALICE}, "Patient", "bruno", lambda rid: _patient_body(rid, BRUNO)),
    ("dentist", {"patient": ALICE}, "Patient", "bruno", lambda rid: _patient_body(rid, ALICE)),
    ("dentist", {"patient": GASTON}, "Observation", "bp-gaston-1", lambda rid: _hr_id(rid)),
    ("dentist", {"patient": ALICE}, "Observation", "bp-gaston-1", lambda rid: _hr_id(rid)),
    ("physician", {"patient": BRUNO}, "Observation", "bp-gaston-1", lambda rid: _hr_id(rid)),
]


def _hr_id(rid: str, patient: str = "bruno") -> dict[str, Any]:
    return {**_hr(patient), "id": rid}


@pytest.mark.parametrize(("actor", "facts", "rtype", "hidden", "body"), HIDDEN_PUTS)
@pytest.mark.parametrize("if_match", [None, 'W/"1"'])
def test_put_to_a_hidden_id_answers_as_a_put_to_a_new_id(
    gw: DemoGateway,
    actor: str,
    facts: dict[str, Any],
    rtype: str,
    hidden: str,
    body: Any,
    if_match: str | None,
) -> None:
    """Regression: a PUT to an existing resource hidden from the caller answered 404, to
    an id that does not exist 403 (patient-mismatch / no-relationship): the answer told
    whether the hidden resource exists. A write the caller could not make as a create is
    now refused the same way for both; no patient fact of the hidden resource shows."""
    headers = {"If-Match": if_match} if if_match else {}
    with gw.client(actor, **facts) as http:
        assert http.get(f"/{rtype}/{hidden}").status_code == 404, "hidden from this caller"
        answers = []
        for rid in (hidden, "nobody-x"):
            r = http.put(f"/{rtype}/{rid}", json=body(rid), headers=headers)
            answers.append(_put_outcome(r, rid))
        assert http.get(f"/{rtype}/nobody-x").status_code == 404, "nothing was created"
    assert answers[0] == answers[1], answers
    assert answers[0][0] == (412 if if_match else 403)


def test_put_to_a_hidden_id_the_caller_could_create_is_404(gw: DemoGateway) -> None:
    """When the body is one the caller may create, the hidden id is still not theirs to
    take: 404, as before."""
    with gw.client("physician", patient=ALICE) as physician:
        r = physician.put("/Observation/bp-gaston-1", json=_hr_id("bp-gaston-1", "alice"))
        assert r.status_code == 404
        assert r.json()["issue"][0]["code"] == "not-found"


def _labels(code: str) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "meta",
                "valueMeta": {"security": [{"system": demo_bundle.TRE_A07, "code": code}]},
            }
        ],
    }


def test_a_patient_masks_a_document_from_professionals_and_shows_it_again(
    gw: DemoGateway,
) -> None:
    """``$meta-add`` / ``$meta-delete`` of MASQUE_PS, judged as UPDATE_LABELS: the patient
    may change the labels of what they see, though they may not write the document."""
    note = {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11506-3"}]},
        "subject": {"reference": "Patient/alice"},
        "content": [{"attachment": {"contentType": "text/plain", "data": "dGV4dGU="}}],
    }
    with gw.client("physician", patient=ALICE) as physician:
        rid = physician.post("/DocumentReference", json=note).json()["id"]
    with gw.client("patient") as patient:
        # The document as a whole is not the patient's to write...
        whole = patient.get(f"/DocumentReference/{rid}").json()
        whole["meta"] = {"security": [{"system": demo_bundle.TRE_A07, "code": "MASQUE_PS"}]}
        assert patient.put(f"/DocumentReference/{rid}", json=whole).status_code == 403
        # ...but its labels are.
        masked = patient.post(f"/DocumentReference/{rid}/$meta-add", json=_labels("MASQUE_PS"))
        assert masked.status_code == 200, masked.text
        (returned,) = masked.json()["parameter"]
        assert {c["code"] for c in returned["valueMeta"]["security"]} == {"MASQUE_PS"}
        assert masked.headers["etag"] == 'W/"2"'
    with gw.client("nurse", patient=ALICE) as nurse:
        assert nurse.get(f"/DocumentReference/{rid}").status_code == 404
        # A professional other than the author may not lift the patient's mask (hidden).
        lifted = nurse.post(f"/DocumentReference/{rid}/$meta-delete", json=_labels("MASQUE_PS"))
        assert lifted.status_code == 404
    with gw.client("patient") as patient:
        # The label is named here by the OID of TRE_A07, stored under its URL: the same.
        by_oid = _labels("MASQUE_PS")
        by_oid["parameter"][0]["valueMeta"]["security"][0]["system"] = (
            "urn:oid:1.2.250.1.213.1.1.4.13"
        )
        shown = patient.post(f"/DocumentReference/{rid}/$meta-delete", json=by_oid)
        assert shown.status_code == 200, shown.text
        assert "security" not in shown.json()["parameter"][0]["valueMeta"]
        again = patient.post(f"/DocumentReference/{rid}/$meta-delete", json=_labels("MASQUE_PS"))
        assert again.status_code == 200 and again.headers["etag"] == 'W/"3"', "no new version"
        for bad, where in (
            ({"resourceType": "Parameters"}, "Parameters.parameter"),
            (
                {
                    "resourceType": "Parameters",
                    "parameter": [{"name": "meta", "valueMeta": {"tag": [{"code": "x"}]}}],
                },
                "Parameters.parameter.valueMeta.tag",
            ),
            (
                {
                    "resourceType": "Parameters",
                    "parameter": [{"name": "meta", "valueMeta": {"security": [{"code": "x"}]}}],
                },
                "Parameters.parameter.valueMeta.security[0]",
            ),
        ):
            refused = patient.post(f"/DocumentReference/{rid}/$meta-add", json=bad)
            assert refused.status_code == 400, refused.text
            issue = refused.json()["issue"][0]
            assert issue["details"]["coding"][0]["code"] == "GW-1040"
            assert issue["expression"] == [where]
    with gw.client("nurse", patient=ALICE) as nurse:
        assert nurse.get(f"/DocumentReference/{rid}").status_code == 200

"""Snapshot generation, checked against the snapshots FR Core 2.2.0 publishes.

Each FR Core profile's differential is applied to its base snapshot; the result must agree
with the published snapshot on every element's id, cardinality, types, fixed/pattern value
and binding, except for the documented deviations below.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.validation import Validator
from gateway.validation.snapshot import SnapshotError, generate_snapshot

FR_CORE = sorted(
    (Path(__file__).resolve().parents[3] / "profiles" / "fr-core").glob(
        "StructureDefinition-*.json"
    )
)

#: Where the published snapshot and ours differ, and why (element id → reason).
DEVIATIONS = {
    # The IG publisher built FR Core on a corrected vital-signs base, where this binding is
    # extensible; hl7.fhir.r4.core 4.0.1, which we ship, says required.
    "Observation.component.value[x]": "base package",
    "Observation.component:SystolicBP.value[x]": "base package",
    "Observation.component:DiastolicBP.value[x]": "base package",
    "Observation.component:MeanBP.value[x]": "base package",
    # A new slice inherits the sliced element's constraints (FR Core's type profile, its
    # children's binding or max), where the publisher restarted from the bare data type.
    "Patient.identifier:INS-NIR.type": "slice children",
    "Patient.identifier:INS-NIR-TEST.type": "slice children",
    "Patient.identifier:INS-NIR-DEMO.type": "slice children",
    "Patient.identifier:INS-NIA.type": "slice children",
    "Patient.name:usualName": "slice children",
    "Patient.name:officialName": "slice children",
    "Patient.name:usualName.prefix": "slice children",
    "Patient.name:officialName.prefix": "slice children",
}


def _summary(e: dict[str, Any]) -> tuple[Any, ...]:
    fixed = {k: v for k, v in e.items() if k.startswith(("fixed", "pattern"))}
    binding = e.get("binding") or {}
    return (
        e.get("min"),
        e.get("max"),
        tuple(sorted(str(t.get("code")) for t in e.get("type") or ())),
        tuple(sorted(p.split("|")[0] for t in e.get("type") or () for p in t.get("profile") or ())),
        json.dumps(fixed, sort_keys=True),
        binding.get("strength"),
        str(binding.get("valueSet") or "").split("|")[0],
        e.get("sliceName"),
    )


@pytest.mark.parametrize("path", FR_CORE, ids=lambda p: p.stem.removeprefix("StructureDefinition-"))
def test_generated_snapshot_matches_the_published_one(validator: Validator, path: Path) -> None:
    sd = json.loads(path.read_text(encoding="utf-8"))
    base = validator.registry.snapshot(sd["baseDefinition"])
    assert base is not None
    generated = {
        e["id"]: _summary(e) for e in generate_snapshot(sd, base, validator.registry.snapshot)
    }
    differences = []
    for element in sd["snapshot"]["element"]:
        mine = generated.get(element["id"])
        if mine != _summary(element) and element["id"] not in DEVIATIONS:
            differences.append((element["id"], _summary(element), mine))
    assert differences == []


def test_unsupported_constructs_are_refused(validator: Validator) -> None:
    base = validator.registry.snapshot("http://hl7.org/fhir/StructureDefinition/Patient")
    assert base is not None
    for eid in ("Patient.valueQuantity", "Patient.identifier:a/b", "Nothing.identifier.x"):
        sd = {"url": "x", "differential": {"element": [{"id": eid, "path": eid, "min": 1}]}}
        with pytest.raises(SnapshotError):
            generate_snapshot(sd, base, validator.registry.snapshot)


def test_differential_constraints_are_added_not_replaced(validator: Validator) -> None:
    base = validator.registry.snapshot("http://hl7.org/fhir/StructureDefinition/Patient")
    assert base is not None
    sd = {
        "url": "https://example.org/p",
        "differential": {
            "element": [
                {
                    "id": "Patient",
                    "path": "Patient",
                    "constraint": [
                        {"key": "t-1", "severity": "error", "human": "h", "expression": "true"}
                    ],
                },
                {"id": "Patient.identifier.system", "path": "Patient.identifier.system", "min": 1},
                {
                    "id": "Patient.identifier:a",
                    "path": "Patient.identifier",
                    "sliceName": "a",
                    "max": "1",
                },
            ]
        },
    }
    out = {e["id"]: e for e in generate_snapshot(sd, base, validator.registry.snapshot)}
    keys = [c["key"] for c in out["Patient"]["constraint"]]
    assert "dom-2" in keys
    assert keys[-1] == "t-1"
    assert out["Patient"]["constraint"][-1]["source"] == "https://example.org/p"
    assert out["Patient.identifier.system"]["min"] == 1
    assert out["Patient.identifier:a"]["max"] == "1"
    assert out["Patient.identifier:a.system"]["min"] == 1  # copied from the sliced element
    assert base[0].get("constraint", [])[-1]["key"] != "t-1"  # the base is left untouched

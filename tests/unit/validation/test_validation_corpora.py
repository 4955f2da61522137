"""ePrescription and PDSm examples validate against their base types, or fail for a known reason.

Copied into ``fixtures/validation/eprescription`` (Interop'Santé/ANS FHIR ePrescription IG
examples) and ``fixtures/validation/pdsm4dmp`` (ANS PDSm4DMP draft examples). Their own
profiles are not held, so each ``meta.profile`` is a warning and the resources are checked
against the R4 base types (and the FR Core profiles some of them claim).

Documented exceptions, all faults of the examples themselves:

* ``ref-1``: the ePrescription bundles point from one entry to another with ``#id``; in R4
  a ``#`` reference can only name a resource contained in the same resource (§2.3.0.8).
* ``tim-6``, ``tim-8``, ``tim-10``, ``rat-1``: Timing or Ratio invariants the dosage breaks
  (``periodMax`` without ``period``, ``countMax`` without ``count``, both ``timeOfDay`` and
  ``when``, a strength numerator without denominator).
* ``INS-NIR``, ``idNat_PS``: placeholder identifiers whose check keys are wrong
  (123456789012345, 289062913400149, 899999999999).
* ``binding``: a birthplace coded in TRE_R13-Commune, while FR Core 2.2.0's required value
  set fr-core-vs-insee-code includes only TRE_R13-CommuneOM.
* ``cardinality``: a PN13 patient claims fr-core-patient but its official name has no family.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from gateway.errors import Issue
from gateway.validation import Validator

ROOT = Path(__file__).resolve().parents[3] / "fixtures" / "validation"
FILES = sorted((ROOT / "eprescription").glob("*.json")) + sorted((ROOT / "pdsm4dmp").glob("*.json"))

EXPECTED: dict[str, dict[str, int]] = {
    "Bundle-HAS-01-Presc-Pantoprazole-DC.json": {"ref-1": 1},
    "Bundle-HAS-04b-Presc-DAFALGANCODEINE.json": {"idNat_PS": 1},
    "Bundle-HAS-12-3-Presc-Enoxaparine.json": {"ref-1": 1},
    "Bundle-HAS-15-Presc-Morphine.json": {"tim-10": 1},
    "Bundle-HAS-16-Presc-Racecadotril.json": {"tim-8": 1},
    "Bundle-HAS-30-1-Presc-Hydrocortisone.json": {"tim-10": 1},
    "Bundle-MultiLine-Presc-METFORMINE-GLICLAZIDE.json": {"ref-1": 2},
    "Bundle-MultiLine-Presc-METHOTREXATE-LEDERFOLINE.json": {"ref-1": 2},
    "Bundle-MultiLine-Presc-Sucralfate-Paracetamol.json": {"ref-1": 2},
    "Bundle-Presc-BISOPROLOL-SANDOZ-DosesRationnelles.json": {"ref-1": 1},
    "Bundle-Presc-Betamethasone-ApplCut.json": {"ref-1": 1},
    "Bundle-Presc-Capecitabine-Dose-Calculee.json": {"ref-1": 1},
    "Bundle-Presc-DIPROSONE-AppCut.json": {"ref-1": 1},
    "Bundle-Presc-DOLIPRANE-20DoseParKG.json": {"ref-1": 1, "rat-1": 1},
    "Bundle-Presc-EFFERALGAN.json": {"ref-1": 1},
    "Bundle-Presc-Fentanyl-patch72h-TL3j.json": {"ref-1": 1},
    "Bundle-Presc-MATRIFEN-patch-TL72h.json": {"ref-1": 1},
    "Bundle-Presc-Methylpredinosolone-DosesEvolutives.json": {"ref-1": 1},
    "Bundle-Presc-MiniperfCefotaxime-En20min-Pdt3j.json": {"ref-1": 4},
    "Bundle-Presc-MiniperfCefotaxime-En20min-Pdt4j.json": {"ref-1": 4},
    "Bundle-Presc-NICORETTESKIN-patch.json": {"ref-1": 1},
    "Bundle-Presc-Nicotine-15mgPar16h.json": {"ref-1": 1},
    "Bundle-Presc-Paracetamol-DoseEvolutive.json": {"ref-1": 1},
    "Bundle-Presc-Paracetamol-SiDouleur-MaxPrise-DelaisMin.json": {"ref-1": 1, "tim-6": 1},
    "Bundle-Presc-Paracetamol-TL6h.json": {"ref-1": 1},
    "Bundle-Presc-Paracetamol.json": {"ref-1": 1},
    "Bundle-Presc-ParacetamolCodeine-500mg30mg.json": {"ref-1": 1},
    "Bundle-Presc-PerfDobutamine-Qsp40mL.json": {"ref-1": 3},
    "Bundle-Presc-PerfGl-NaCl-KCl-1l.json": {"ref-1": 4},
    "Bundle-Presc-PerfGl-NaCl-KCl-500ml.json": {"ref-1": 4},
    "Bundle-Presc-SolPrPerf-BIONOLYTE-G5-500mL-Sur12h.json": {"ref-1": 1},
    "Bundle-TradPN13FHIR-MultiLine-Presc-Alt-METFORMINE-GLICLAZIDE.json": {
        "ref-1": 5,
        "INS-NIR": 1,
        "idNat_PS": 2,
        "binding": 1,
    },
    "Bundle-TradPN13FHIR-Presc-DOLIPRANE-Interpret.json": {"ref-1": 1},
    "Bundle-TradPN13FHIR-Presc-DOLIPRANE.json": {"ref-1": 1},
    "Bundle-TradPN13FHIR-Presc-Morphine-PCA.json": {
        "ref-1": 1,
        "INS-NIR": 1,
        "idNat_PS": 1,
        "binding": 1,
    },
    "Bundle-TradPN13FHIR-Presc-Paracetamol-SiDouleur.json": {"ref-1": 7},
    "Bundle-TradPN13FHIR-Presc-Paracetamol.json": {"ref-1": 7},
    "Bundle-TradPN13FHIR-Presc-perfusion-6-composants.json": {"ref-1": 15, "cardinality": 1},
    "Bundle-example-annexe-fhir-document.json": {"INS-NIR": 1},
    "Bundle-example-annexe-searchset-documentreferences.json": {"INS-NIR": 2},
    "Bundle-example-td2-1-remplacement.json": {"INS-NIR": 2},
    "Bundle-example-td2-iti65-lot-soumission.json": {"INS-NIR": 2},
    "DocumentReference-doc-x-id.json": {"INS-NIR": 1},
    "DocumentReference-example-annexe-docref-cda.json": {"INS-NIR": 1},
    "DocumentReference-example-annexe-docref-fhir.json": {"INS-NIR": 1},
    "DocumentReference-example-td3-1a-cr-consultation.json": {"INS-NIR": 1},
    "DocumentReference-example-td3-1a-fhir-document.json": {"INS-NIR": 1},
    "DocumentReference-example-td3-1a-ordonnance.json": {"INS-NIR": 1},
}


def kind(issue: Issue) -> str:
    """A short name for the rule an error breaks."""
    if issue.gateway_code == "GW-4108":
        return issue.diagnostics.split(":")[1].strip()
    if issue.gateway_code == "GW-4110":  # "invalid INS-NIR: …": the identifier's kind
        return issue.diagnostics.split(":")[0].split(" ")[-1]
    return {"GW-4105": "binding", "GW-4102": "cardinality"}.get(str(issue.gateway_code), issue.code)


def test_corpora_are_all_there() -> None:
    assert len(FILES) == 85 + 19
    assert set(EXPECTED) <= {p.name for p in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_example_validates_against_base_types(validator: Validator, path: Path) -> None:
    issues = validator.validate(json.loads(path.read_text(encoding="utf-8")))
    found = Counter(kind(i) for i in issues if i.is_error)
    assert found == Counter(EXPECTED.get(path.name, {})), "\n".join(
        f"{i.expression} {i.diagnostics}" for i in issues if i.is_error
    )

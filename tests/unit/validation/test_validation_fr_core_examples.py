"""Every FR Core 2.2.0 example validates against the profiles it declares, without error.

The examples come from the published package (``fixtures/validation/fr-core-examples``,
copied from hl7.fhir.fr.core 2.2.0 ``package/example``, CC0). Three of them carry
identifiers whose check keys are wrong, which our identifier checks (DOMAIN.md §1) catch
and the IG publisher's validator does not: they are kept as known-bad cases, each with the
exact error expected.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.validation import Validator

EXAMPLES = sorted(
    (Path(__file__).resolve().parents[3] / "fixtures/validation/fr-core-examples").glob("*.json")
)

#: example file → (reason, the errors expected: (code, expression, gateway code))
KNOWN_BAD: dict[str, tuple[str, set[tuple[str, str, str]]]] = {
    "Patient-FRCorePatientExample.json": (
        "the INS-NIR 123456789012244 has key 44; 97 - (1234567890122 mod 97) = 12",
        {("value", "Patient.identifier[0].value", "GW-4110")},
    ),
    "Practitioner-FRCorePractitionerExample.json": (
        "the RPPS 10101201234 (and so the idNat_PS 810101201234) fails its Luhn key",
        {
            ("value", "Practitioner.identifier[0].value", "GW-4110"),
            ("value", "Practitioner.identifier[1].value", "GW-4110"),
        },
    ),
    "PractitionerRole-FRCorePractitionerRoleExample.json": (
        "the RPPS 1011848351 has 10 digits, not 11",
        {("value", "PractitionerRole.identifier[0].value", "GW-4110")},
    ),
}


def test_every_example_is_covered() -> None:
    assert len(EXAMPLES) == 31
    assert set(KNOWN_BAD) <= {p.name for p in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_validates_against_its_profiles(validator: Validator, path: Path) -> None:
    resource = json.loads(path.read_text(encoding="utf-8"))
    declared = resource.get("meta", {}).get("profile", [])
    assert all(validator.knows_profile(url) for url in declared)
    issues = validator.validate(resource)
    found = {(i.code, i.expression[0], i.gateway_code) for i in issues if i.is_error}
    expected = KNOWN_BAD.get(path.name, ("", set()))[1]
    assert found == expected, "\n".join(i.diagnostics for i in issues if i.is_error)

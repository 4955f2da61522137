"""The Consent examples of gateway/policy/README.md read as the shapes they document."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.policy import patient_facts_from_consents, summarise_consent

README = Path(__file__).resolve().parents[3] / "gateway" / "policy" / "README.md"
EXAMPLES = re.findall(
    r"<!-- shape: ([a-z0-9 -]+) -->\n```json\n(.*?)\n```", README.read_text("utf-8"), re.S
)
REFERENCES = {"Practitioner/dr-martin": "810000000017"}


def test_every_defined_shape_has_an_example() -> None:
    shown = {shape for shapes, _ in EXAMPLES for shape in shapes.split()}
    assert shown >= {
        "blocked-professional", "btg-opposition", "centre15-opposition", "designation",
        "masked-emergency", "access-grant", "care-team-opposition", "general-opposition",
        "closed-record",
    }  # fmt: skip


@pytest.mark.parametrize(("shapes", "text"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_reads_as_documented(shapes: str, text: str) -> None:
    consent: dict[str, Any] = json.loads(text)
    assert summarise_consent(consent, REFERENCES).shapes == set(shapes.split())
    facts = patient_facts_from_consents(
        [consent], [], patient_refs={"Patient/p1"}, references=REFERENCES,
        now=datetime(2025, 7, 1, tzinfo=UTC),
    )  # fmt: skip
    assert facts.unreadable == ()

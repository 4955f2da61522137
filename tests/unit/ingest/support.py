"""Helpers for the ingestion tests: sources, fixture files, FHIR checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from gateway.ingest.result import ParseResult
from gateway.normalise import SourceConfig

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
HL7 = FIXTURES / "hl7v2"
SAMPLES = HL7 / "samples"
CSV = FIXTURES / "csv"

EHPAD = SourceConfig("ehpad-tilleuls", "750712184", "EHPAD Les Tilleuls")
PHARMACY = SourceConfig("pharmacie-centre", "920012341", "Pharmacie du Centre")
CABINET = SourceConfig("cabinet-garnier", "130004567", "Cabinet Garnier")
HOSPITAL = SourceConfig("ch-lyon-sud", "690001235", "CH Lyon Sud")


def production(payload: bytes) -> bytes:
    """``payload`` with MSH-11 P: some samples are training messages (T), which the
    gateway refuses as sent (AR 202); their content is what the mapping tests read."""
    msh, sep, rest = payload.partition(b"\r")
    fields = msh.split(b"|")
    if len(fields) > 10 and fields[10] == b"T":
        fields[10] = b"P"
    return b"|".join(fields) + sep + rest


def sample_bytes(path: Path) -> bytes:
    """A sample message as a production message (see :func:`production`)."""
    return production(path.read_bytes())


def hl7_bytes(name: str) -> bytes:
    path = HL7 / name if (HL7 / name).exists() else SAMPLES / name
    return sample_bytes(path)


def assert_valid_fhir(result: ParseResult) -> None:
    """Every produced resource is structurally valid FHIR R4 (R4B models)."""
    for entry in result.entries:
        model = get_fhir_model_class(entry.resource_type)
        model.model_validate(entry.resource)
    if result.entries:
        get_fhir_model_class("Bundle").model_validate(result.transaction())


def readable(result: ParseResult) -> list[dict[str, Any]]:
    """The resources with every urn:uuid replaced by ``Type/n`` (n-th of that type)."""
    names: dict[str, str] = {}
    counts: dict[str, int] = {}
    for entry in result.entries:
        n = counts.get(entry.resource_type, 0)
        counts[entry.resource_type] = n + 1
        names[entry.full_url] = f"{entry.resource_type}/{n}"

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str) and node in names:
            return names[node]
        return node

    return [walk(e.resource) for e in result.entries]


def of_type(result: ParseResult, resource_type: str) -> list[dict[str, Any]]:
    return [r for r in readable(result) if r["resourceType"] == resource_type]

"""Outcomes as the HTTP answers carry them (pure).

- a CSV file → an OperationOutcome: the first issue summarises (``N submitted: a
  accepted, d duplicates, q quarantined``), the counts are also in the extension
  :data:`SUMMARY` (``submitted``, ``accepted``, ``duplicates``, ``quarantined``,
  ``valueInteger``), then one issue per problem of each record, located (``line 7,
  column 'Valeur'`` in ``location``, the FHIRPath in ``expression``) and naming its
  quarantine entry;
- a replay → JSON: the new status, and the ACK (HL7) or the record's outcome (CSV).
"""

from __future__ import annotations

from typing import Any

from gateway.errors import ERROR_CODE_SYSTEM
from gateway.intake.outcome import FileOutcome, MessageOutcome, summary_line

SUMMARY = "https://dmp-gateway.fr/fhir/StructureDefinition/ingest-summary"
_COUNT_NAMES = (
    ("accepted", "accepted"),
    ("duplicate", "duplicates"),
    ("quarantined", "quarantined"),
)


def _located(issue: dict[str, Any], line: int, suffix: str) -> dict[str, Any]:
    out = dict(issue)
    out["diagnostics"] = f"line {line}: {issue.get('diagnostics', '')}{suffix}"
    if "location" not in out:
        out["location"] = [f"line {line}"]
    return out


def file_outcome(outcome: FileOutcome) -> dict[str, Any]:
    counts = outcome.counts
    summary = summary_line(counts)
    extension = [{"url": "submitted", "valueInteger": sum(counts.values())}]
    extension += [{"url": name, "valueInteger": counts[key]} for key, name in _COUNT_NAMES]
    issues: list[dict[str, Any]] = [
        {"severity": "information", "code": "informational", "diagnostics": summary}
    ]
    for issue in outcome.issues:
        issues.append(issue.to_fhir())
    if outcome.file_quarantine:
        issues.append(
            {
                "severity": "error",
                "code": "processing",
                "details": {"coding": [{"system": ERROR_CODE_SYSTEM, "code": "GW-4109"}]},
                "diagnostics": f"the file was quarantined as a whole "
                f"(quarantine {outcome.file_quarantine})",
            }
        )
    for row in outcome.rows:
        suffix = f" (quarantine {row.quarantine_id})" if row.quarantine_id else ""
        if row.status == "duplicate":
            first = row.first_status or "accepted"
            issues.append(
                {
                    "severity": "information",
                    "code": "duplicate",
                    "diagnostics": f"line {row.line}: already ingested (first outcome: "
                    f"{first}){suffix}",
                    "location": [f"line {row.line}"],
                }
            )
            continue
        for issue in row.issues:
            fhir = issue.to_fhir()
            if row.status == "quarantined" or fhir.get("severity") != "information":
                issues.append(_located(fhir, row.line, suffix))
    return {
        "resourceType": "OperationOutcome",
        "extension": [{"url": SUMMARY, "extension": extension}],
        "issue": issues,
    }


def replay_result(outcome: MessageOutcome | FileOutcome) -> dict[str, Any]:
    if isinstance(outcome, MessageOutcome):
        return {
            "status": outcome.status,
            "ackCode": outcome.ack_code,
            "ack": outcome.ack,
            "quarantine": outcome.quarantine_id,
            "resources": [w.to_json() for w in outcome.written],
        }
    rows = [r.to_json() for r in outcome.rows]
    status = rows[0]["status"] if len(rows) == 1 else ("quarantined" if not rows else "mixed")
    return {"status": status, "rows": rows, "outcome": file_outcome(outcome)}

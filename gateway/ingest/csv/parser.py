"""One CSV export in, one :class:`CsvParseResult` out: every record accepted or rejected.

Steps: decode (:mod:`.reader`), sniff the separator, match the header to the kind's
mapping (:mod:`.mapping`), then build each record with the kind's builder. A record is
**rejected**, with its exact text and located issues (line, column, FHIRPath), when:

- the file lacks a required column (every record is rejected: nothing is lost);
- the ``csv`` module cannot read it, or it has more non-empty cells than the header;
- any value in it is refused (an error issue).

Otherwise it is **accepted** with its own :class:`ParseResult` (entries, assumptions,
patient keys), which the pipeline commits on its own or merged with others.
Blank lines are not records. ``accepted + rejected == submitted`` always.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace

from gateway.ingest.assembly import Assembly
from gateway.ingest.csv import administrations, care_notes, residents, vitals
from gateway.ingest.csv.mapping import CsvMapping
from gateway.ingest.csv.reader import Record, decode, first_line, records, sniff_delimiter
from gateway.ingest.csv.rows import Header, Row
from gateway.ingest.issues import (
    GW_CSV_COLUMN,
    GW_CSV_RECORD,
    GW_PARTIAL,
    CsvLocation,
    IngestIssue,
    error,
    warning,
)
from gateway.ingest.result import CsvParseResult, CsvRow, Entry, PatientRef, RejectedRow
from gateway.normalise.source import SourceConfig
from gateway.normalise.terminology import Terminology

Builder = Callable[[Row], PatientRef | None]
BUILDERS: dict[str, Builder] = {
    "residents": residents.build,
    "vitals": vitals.build,
    "administrations": administrations.build,
    "care-notes": care_notes.build,
}
_DELIMITER_NAMES = {";": "semicolon", ",": "comma", "\t": "tab", "|": "pipe"}


def _file_issues(header: Header, mapping: CsvMapping) -> list[IngestIssue]:
    issues: list[IngestIssue] = []
    for column in mapping.columns:
        if column.required and column.name not in header.fields:
            issues.append(
                error(
                    f"required column missing: one of {sorted(column.aliases)}",
                    CsvLocation(1),
                    code="required",
                    expression=column.target,
                    gateway_code=GW_CSV_COLUMN,
                )
            )
    for group in mapping.one_of:
        if not any(name in header.fields for name in group):
            issues.append(
                error(
                    f"the file needs one of the columns {list(group)}",
                    CsvLocation(1),
                    code="required",
                    gateway_code=GW_CSV_COLUMN,
                )
            )
    if mapping.wide is not None and "measure" not in header.fields and not header.measures:
        issues.append(
            error(
                "no measurement column: give 'paramètre'/'valeur' columns or one column per "
                "measurement (TA, Pouls, Poids…)",
                CsvLocation(1),
                code="required",
                gateway_code=GW_CSV_COLUMN,
            )
        )
    for cell in header.duplicates:
        issues.append(warning(f"column {cell!r} repeats a field: ignored", CsvLocation(1, cell)))
    if header.ignored:
        issues.append(
            IngestIssue(
                "information",
                "informational",
                f"columns not mapped, ignored: {header.ignored}",
                CsvLocation(1),
                gateway_code=GW_PARTIAL,
            )
        )
    return issues


def _malformed(record: Record, header: Header) -> IngestIssue | None:
    if record.cells is None:
        return error(
            f"record cannot be read: {record.error}",
            CsvLocation(record.line),
            code="structure",
            gateway_code=GW_CSV_RECORD,
        )
    extra = record.cells[len(header.cells) :]
    if any(c.strip() for c in extra):
        return error(
            f"{len(record.cells)} cells for {len(header.cells)} columns (a separator in an "
            "unquoted value?)",
            CsvLocation(record.line),
            code="structure",
            gateway_code=GW_CSV_RECORD,
        )
    return None


def _row(
    record: Record,
    cells: list[str],
    header: Header,
    mapping: CsvMapping,
    source: SourceConfig,
    terminology: Terminology,
    shared: dict[tuple[str, ...], list[Entry]],
) -> CsvRow | RejectedRow:
    seed = f"csv|{mapping.kind}|{hashlib.sha256(record.raw.encode()).hexdigest()}"
    asm = Assembly(source, terminology, seed, shared)
    row = Row(record.line, cells, header, mapping, asm)
    row.check_required()
    try:
        patient = BUILDERS[mapping.kind](row)
    except Exception as exc:  # a builder bug: reject the row (kept), never crash the file
        issue = error(
            f"internal error while mapping the record ({type(exc).__name__})",
            CsvLocation(record.line),
            code="exception",
            gateway_code="GW-5000",
            severity="fatal",
        )
        return RejectedRow(record.line, record.raw, (*asm.issues, issue))
    result = asm.finish(format="csv", kind=f"csv:{mapping.kind}", patient=patient)
    if result.ok:
        return CsvRow(record.line, record.raw, result)
    return RejectedRow(record.line, record.raw, result.issues)


def parse_csv(
    payload: bytes | str,
    mapping: CsvMapping,
    source: SourceConfig,
    terminology: Terminology,
    *,
    first_record_line: int | None = None,
) -> CsvParseResult:
    """Parse one CSV export of ``mapping.kind``.

    ``first_record_line``: the line, in its original file, of the first record after the
    header; the lines of all records (and so of their issues) are shifted to match. A
    record replayed from quarantine is its file's header then it: its issues keep the
    line it had in the file sent.
    """
    if mapping.kind not in BUILDERS:
        raise ValueError(f"no builder for CSV kind {mapping.kind!r}")
    decoded = decode(payload)
    delimiter = sniff_delimiter(first_line(decoded.text))
    assumptions = [a for a in (decoded.assumption,) if a]
    assumptions.append(f"separator: {_DELIMITER_NAMES[delimiter]}")
    vital_map = mapping.wide.conceptmap if mapping.wide else None

    def is_measure(name: str) -> bool:
        return bool(vital_map and terminology.translate(vital_map, name))

    header: Header | None = None
    shared: dict[tuple[str, ...], list[Entry]] = {}  # Organization, Practitioners: built once
    file_issues: list[IngestIssue] = []
    accepted: list[CsvRow] = []
    rejected: list[RejectedRow] = []
    shift: int | None = None
    for record in records(decoded.text, delimiter):
        if record.blank:
            continue
        if header is not None and first_record_line is not None:
            if shift is None:
                shift = first_record_line - record.line
            record = replace(record, line=record.line + shift)
        if header is None:
            if record.cells is None:
                file_issues.append(
                    error(
                        "the header line cannot be read",
                        CsvLocation(record.line),
                        code="structure",
                        gateway_code=GW_CSV_RECORD,
                    )
                )
                header = Header([])
                continue
            header = Header.match(record.cells, mapping, is_measure)
            file_issues.extend(_file_issues(header, mapping))
            continue
        blocking = tuple(i for i in file_issues if i.is_error)
        if blocking:
            rejected.append(RejectedRow(record.line, record.raw, blocking))
            continue
        problem = _malformed(record, header)
        if problem is not None or record.cells is None:
            rejected.append(RejectedRow(record.line, record.raw, (problem,) if problem else ()))
            continue
        outcome = _row(record, record.cells, header, mapping, source, terminology, shared)
        if isinstance(outcome, CsvRow):
            accepted.append(outcome)
        else:
            rejected.append(outcome)
    if header is None:
        file_issues.append(warning("the file is empty", CsvLocation(1)))
    return CsvParseResult(
        kind=mapping.kind,
        encoding=decoded.encoding,
        delimiter=delimiter,
        header=tuple(c.strip() for c in header.cells) if header else (),
        accepted=tuple(accepted),
        rejected=tuple(rejected),
        issues=tuple(file_issues),
        assumptions=tuple(assumptions),
    )

"""One CSV row seen through its mapping: typed reads with located refusals.

:class:`Header` matches the file's header cells to a mapping's fields once per file;
:class:`Row` then reads a record's cells by field name. Reads of typed fields
(``ins``, ``date``, ``time``, ``code``, ``professional``) go through the normalisers and
report refusals on the :class:`Assembly` with the line, the column header as sent, and
the field's FHIRPath target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.ingest.assembly import Assembly, Professional
from gateway.ingest.csv.mapping import Column, CsvMapping, split_header
from gateway.ingest.issues import GW_REQUIRED, HL7_REQUIRED_MISSING, CsvLocation, error
from gateway.normalise.errors import NormalisationError
from gateway.normalise.identifiers import NormalisedIdentifier, ProfessionalKind, ins, professional
from gateway.normalise.text import clean, fold_label
from gateway.normalise.times import FhirTime, french_datetime


@dataclass(frozen=True, slots=True)
class MeasureColumn:
    """A wide-layout measurement column: its index, header, and unit from the header."""

    index: int
    header: str
    label: str
    unit: str | None


@dataclass(slots=True)
class Header:
    """Where each field of a mapping is in a file."""

    cells: list[str]
    fields: dict[str, int] = field(default_factory=dict)  # field name -> column index
    duplicates: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    measures: list[MeasureColumn] = field(default_factory=list)

    @classmethod
    def match(cls, cells: list[str], mapping: CsvMapping, is_measure: object = None) -> Header:
        header = cls(cells)
        for index, cell in enumerate(cells):
            if not cell.strip():
                continue
            name, unit = split_header(cell)
            column = mapping.find(fold_label(cell.lstrip("\ufeff"))) or mapping.find(name)
            if column is not None:
                if column.name in header.fields:
                    header.duplicates.append(cell.strip())
                else:
                    header.fields[column.name] = index
            elif callable(is_measure) and is_measure(name):
                header.measures.append(MeasureColumn(index, cell.strip(), name, unit))
            else:
                header.ignored.append(cell.strip())
        return header

    def header_of(self, name: str) -> str:
        index = self.fields.get(name)
        return self.cells[index].strip() if index is not None else name


class Row:
    """A record's cells, read by field name."""

    def __init__(
        self, line: int, cells: list[str], header: Header, mapping: CsvMapping, asm: Assembly
    ):
        self.line = line
        self.cells = [clean(c) for c in cells]  # cleaned once: fields are read many times
        self.header = header
        self.mapping = mapping
        self.asm = asm

    def location(self, name: str) -> CsvLocation:
        return CsvLocation(self.line, self.header.header_of(name))

    def _column(self, name: str) -> Column:
        return self.mapping.column(name)

    def text(self, name: str) -> str:
        """The cell of field ``name``, trimmed ('' when the column is absent or empty)."""
        index = self.header.fields.get(name)
        if index is None or index >= len(self.cells):
            return ""
        return self.cells[index]

    def cell(self, index: int) -> str:
        return self.cells[index] if index < len(self.cells) else ""

    def refuse(self, exc: NormalisationError, name: str) -> None:
        self.asm.refuse(exc, self.location(name), self._column(name).target)

    def missing(self, name: str, why: str = "") -> None:
        column = self._column(name)
        self.asm.report(
            error(
                why or f"{self.header.header_of(name)!r} is required",
                self.location(name),
                code="required",
                expression=column.target,
                gateway_code=GW_REQUIRED,
                hl7_error=HL7_REQUIRED_MISSING,
            )
        )

    def check_required(self) -> None:
        for column in self.mapping.columns:
            if column.required and not self.text(column.name):
                self.missing(column.name)
        for group in self.mapping.one_of:
            if not any(self.text(n) for n in group):
                names = " or ".join(repr(self.header.header_of(n)) for n in group)
                self.missing(group[0], f"one of {names} is required")

    def code(self, name: str) -> str | None:
        """A ``code`` field through its inline ``values`` or its ConceptMap."""
        text = self.text(name)
        column = self._column(name)
        if not text:
            return column.default
        if column.values:
            found = column.values.get(fold_label(text))
            if found is not None:
                return found
        if column.conceptmap:
            coding = self.asm.terminology.translate(column.conceptmap, text)
            if coding is not None:
                return coding.code
        self.refuse(NormalisationError(f"unknown value {text!r}", "code"), name)
        return None

    def ins(self, name: str = "ins") -> NormalisedIdentifier | None:
        text = self.text(name)
        if not text:
            return None
        try:
            return ins(text)
        except NormalisationError as exc:
            self.refuse(exc, name)
            return None

    def when(self, date_name: str = "date", time_name: str = "time") -> FhirTime | None:
        """The row's date and time (Europe/Paris) as a FHIR date or dateTime."""
        day = self.text(date_name)
        if not day:
            return None
        time = self.text(time_name)
        try:
            moment = french_datetime(day, time or None)
        except NormalisationError as exc:
            culprit = date_name
            if time:
                try:
                    french_datetime(day)
                    culprit = time_name
                except NormalisationError:
                    pass
            self.refuse(exc, culprit)
            return None
        self.asm.assume(moment.assumption, self.location(date_name))
        return moment

    def professional(self, name: str, name_field: str | None = None) -> Professional | None:
        """An RPPS / ADELI / idNat_PS column (key checked), with an optional name column."""
        text = self.text(name)
        if not text:
            return None
        try:
            identifiers = professional(text, self._kind(name))
        except NormalisationError as exc:
            self.refuse(exc, name)
            return None
        who = self.text(name_field) if name_field else ""
        display = {"text": who} if who else None
        return Professional(identifiers, display)

    def _kind(self, name: str) -> ProfessionalKind | None:
        header = fold_label(self.header.header_of(name))
        if "adeli" in header and "rpps" not in header:
            return "adeli"
        return None

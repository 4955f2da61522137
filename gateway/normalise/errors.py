"""The one exception the normalisers raise."""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal["value", "code", "identifier", "unit", "missing"]


class NormalisationError(ValueError):
    """The input cannot be normalised.

    ``kind`` says what went wrong so the parser can choose the FHIR issue code and the
    HL7 error code (table 0357): ``value`` (bad data type, 102), ``code`` (unknown
    code, 103), ``identifier`` (failed key check, 102), ``unit`` (unknown or
    inconvertible unit, 103), ``missing`` (required value absent, 101).
    """

    def __init__(self, message: str, kind: ErrorKind = "value") -> None:
        super().__init__(message)
        self.message = message
        self.kind: ErrorKind = kind

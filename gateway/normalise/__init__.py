"""Pure normalisers: turn what a source sent into the gateway's canonical FHIR values.

Each function is pure (no I/O, no clock, no environment) and raises
:class:`NormalisationError` when the input cannot be normalised; the caller (a parser)
turns that into a located issue. Functions that must *guess* something (a time zone,
a unit conversion, a code system) return the assumption they made as text, so the
pipeline can record it in the Provenance of the ingested data.

Modules, one concept each:

- :mod:`~gateway.normalise.text`: label folding (accents, case, spacing) and trimming;
- :mod:`~gateway.normalise.source`: :class:`SourceConfig`, the per-client facts
  (FINESS, per-source identifier systems);
- :mod:`~gateway.normalise.times`: HL7 TS and French dates to FHIR date/dateTime/instant,
  Europe/Paris with daylight-saving rules when no offset is given;
- :mod:`~gateway.normalise.numbers`: French decimals (``37,5``) to :class:`~decimal.Decimal`;
- :mod:`~gateway.normalise.units`: unit labels to UCUM, with value conversion;
- :mod:`~gateway.normalise.terminology`: the ConceptMaps of ``profiles/conceptmaps``;
- :mod:`~gateway.normalise.vitals`: local vital-sign codes to LOINC and FR Core profiles;
- :mod:`~gateway.normalise.medication`: medication codes to CIP13, UCD, CIS or ATC;
- :mod:`~gateway.normalise.codes`: gender, route, coding-system names, document types;
- :mod:`~gateway.normalise.identifiers`: INS (key checked), idNat_PS, idNat_Struct,
  per-source local identifiers;
- :mod:`~gateway.normalise.names`: human names, trimmed with case preserved.
"""

from __future__ import annotations

from gateway.normalise.errors import NormalisationError
from gateway.normalise.source import SourceConfig
from gateway.normalise.terminology import Terminology

__all__ = ["NormalisationError", "SourceConfig", "Terminology"]

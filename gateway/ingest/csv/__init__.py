"""CSV exports of EHPAD software: :func:`parse_csv` and the YAML mappings that drive it."""

from __future__ import annotations

from gateway.ingest.csv.mapping import CsvMapping, load_mappings
from gateway.ingest.csv.parser import BUILDERS, parse_csv

__all__ = ["BUILDERS", "CsvMapping", "load_mappings", "parse_csv"]

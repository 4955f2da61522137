"""Search: the parameter registry, pure index extraction and the query grammar.

Public surface (everything else is internal):

- :class:`SearchRegistry` (``SearchRegistry.load(profiles_dir)``): parameters by
  (resource type, code), served or not and why, compartments, CapabilityStatement
  entries;
- :func:`extract` (resource → :class:`IndexRows`), :func:`patient_of` and
  :func:`compartments_of`;
- :func:`parse_search` (request parameters → :class:`SearchRequest`) with
  :class:`SearchLimits`; the request types live in :mod:`gateway.search.query`.

The package does no I/O after :meth:`SearchRegistry.load` and none at import.
"""

from __future__ import annotations

from gateway.search.blind import BlindIndex, blind_request
from gateway.search.bound import BoundParam
from gateway.search.compartments import compartments_of, patient_of
from gateway.search.extract import DEFAULT_TZ, default_tz, extract
from gateway.search.limits import SearchLimits
from gateway.search.parser import parse_search
from gateway.search.query import SearchRequest
from gateway.search.registry import SearchRegistry
from gateway.search.rows import IndexRows

__all__ = [
    "DEFAULT_TZ",
    "BlindIndex",
    "BoundParam",
    "IndexRows",
    "SearchLimits",
    "SearchRegistry",
    "SearchRequest",
    "blind_request",
    "compartments_of",
    "default_tz",
    "extract",
    "parse_search",
    "patient_of",
]

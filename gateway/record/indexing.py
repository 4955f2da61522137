"""The real :class:`~gateway.record.seams.Indexer`: search index rows and the owning patient.

Rows come from :func:`gateway.search.extract` (every served search parameter of the
type), the owner from :func:`gateway.search.patient_of` over the same rows, so a
resource is extracted once per write. Two adjustments before storage:

- ``_id`` and ``_lastUpdated`` rows are dropped: the resource table already holds both
  (``resource.id``, ``resource.last_updated``) and search reads them there, which saves
  two index rows per resource;
- an absolute reference is *local* only under this server's public base
  (``GATEWAY_BASE_URL``): elsewhere it keeps its URL and type but loses its id, so
  ``subject=Patient/1`` never matches ``http://other.example/fhir/Patient/1``, and
  includes, chains and the patient compartment never follow it;
- identifier values (and, when configured, person names) become keyed hashes
  (:class:`gateway.search.BlindIndex`), after the owner is known: ownership reads
  reference rows, which stay clear.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from gateway.search import BlindIndex, IndexRows, SearchRegistry, extract, patient_of
from gateway.search.blind import PRIVATE_TAG_SYSTEMS
from gateway.search.rows import ReferenceRow

SERVED_FROM_COLUMNS = frozenset({"_id", "_lastUpdated"})
# In the Patient compartment through a list of members, but owned by nobody: a Group is
# an EHPAD's roster (its own access rule), whether it has one member or a hundred.
NO_OWNER = frozenset({"Group"})

_PARAM = attrgetter("param")
_URL = attrgetter("url")


def _has_url(references: list[ReferenceRow]) -> bool:
    """Whether a reference row has a URL (one ``None`` test per row in C)."""
    return bool(references) and set(map(_URL, references)) != {None}


class SearchIndexer:
    """Pure and thread-safe; ``patient_of`` then ``rows`` on the same dict extracts once."""

    def __init__(
        self,
        registry: SearchRegistry,
        *,
        base_url: str | None = None,
        tz: ZoneInfo | None = None,
        blind: BlindIndex | None = None,
    ) -> None:
        self.registry = registry
        self.blind = blind or BlindIndex.clear(registry)
        self._base = base_url.rstrip("/") + "/" if base_url else None
        self._tz = tz
        self._last = threading.local()

    def rows(self, resource: dict[str, Any]) -> IndexRows:
        last = getattr(self._last, "value", None)
        if last is not None and last[0] is resource:
            self._last.value = None
            rows: IndexRows = last[1]
            return rows
        return self._extract(resource)

    def patient_of(self, resource: dict[str, Any]) -> str | None:
        rows = self._extract(resource)
        self._last.value = (resource, rows)
        if resource.get("resourceType") in NO_OWNER:
            return None
        return patient_of(resource, self.registry, rows)

    def _extract(self, resource: dict[str, Any]) -> IndexRows:
        # Rows served from columns are never built, rather than built and dropped.
        rows = extract(resource, self.registry, tz=self._tz, skip=SERVED_FROM_COLUMNS)
        # The C-level scans below (``in`` over a ``map``) find most resources without a
        # tag or an absolute reference, before the exact checks in Python.
        if "_tag" in map(_PARAM, rows.tokens) and any(
            t.param == "_tag" and t.system in PRIVATE_TAG_SYSTEMS for t in rows.tokens
        ):
            rows.tokens = [
                t for t in rows.tokens if t.param != "_tag" or t.system not in PRIVATE_TAG_SYSTEMS
            ]
        if _has_url(rows.references) and any(
            r.url is not None and r.target_id is not None for r in rows.references
        ):
            rows.references = [
                replace(r, target_id=None)
                if r.url is not None and r.target_id is not None and not self._is_local(r.url)
                else r
                for r in rows.references
            ]
        rtype = resource.get("resourceType")
        if isinstance(rtype, str):
            self.blind.apply(rtype, rows)
        return rows

    def _is_local(self, url: str) -> bool:
        return self._base is not None and url.startswith(self._base)

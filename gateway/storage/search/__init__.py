"""Search in SQL: compiling a parsed search to one query per page, on SQLite and PostgreSQL.

Public surface: :class:`SqlSearch` (the engine), :class:`Candidate` and
:class:`Position` (a place in a result order, carried by paging cursors). The
modules below compile one concern each: per parameter type (:mod:`.tokens`,
:mod:`.strings`, :mod:`.ranges`, :mod:`.references`), links between resources
(:mod:`.links`), order and paging (:mod:`.keyset`), the query (:mod:`.statement`) and
includes (:mod:`.includes`).
"""

from __future__ import annotations

from gateway.storage.search.engine import Candidate, SqlSearch
from gateway.storage.search.keyset import Position

__all__ = ["Candidate", "Position", "SqlSearch"]

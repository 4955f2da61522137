"""The change feed read from ``resource_history``: every committed version exactly once.

SQLite serialises writers (``BEGIN IMMEDIATE``), so commit order is ``seq`` order and a
position is simply the last ``seq`` delivered.

PostgreSQL assigns ``seq`` at insert time but transactions commit in any order: a reader
remembering "the last seq seen" would skip a row committed later with a lower seq. So a
position there is a *window between two snapshots* (the scheme of PgQ): ``lo`` is a
snapshot whose every visible row was delivered, ``hi`` a later snapshot; the window holds
the rows whose writing transaction (``sync_history_tx.txid``, recorded by a trigger) is
visible in ``hi`` and not in ``lo``, read in ``seq`` order and paged by ``after``. When a
window is exhausted, ``hi`` becomes the next ``lo``. A transaction still running when
``hi`` was taken is in neither snapshot's visible set, so its rows fall in a later window,
whatever their ``seq``; and the versions of one resource keep their order, because the
writer of version n+1 waits on the row lock of version n (its ``seq`` is larger and it
commits later). See https://www.postgresql.org/docs/15/functions-info.html#FUNCTIONS-PG-SNAPSHOT.

A fresh window may be closed by a snapshot taken a moment earlier in another transaction
(``read_changes(hi=…)``): any snapshot that covers ``lo`` (:func:`snapshot_covers`) is a
valid end, and readers that share one end up at the same position, so their next reads
are the same read (:mod:`gateway.sync.feed_share`). Each batch also carries the current
version number of every resource in it (one join), for the rule that an old version
shows only if the resource as it is now may be seen.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, select, text
from sqlalchemy.engine import Connection, Row

from gateway.storage import schema as s
from gateway.storage.records import StoredVersion
from gateway.storage.sealing import open_resource_or_none
from gateway.storage.store import StoreTx
from gateway.storage.version_rows import HISTORY_COLUMNS


@dataclass(frozen=True, slots=True)
class FeedPosition:
    """Where a reader of the change feed stands (see the module docstring)."""

    lo: str | None = None
    hi: str | None = None
    after: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"a": self.after}
        if self.lo is not None:
            out["l"] = self.lo
        if self.hi is not None:
            out["h"] = self.hi
        return out

    @classmethod
    def from_json(cls, raw: Any) -> FeedPosition:
        if not isinstance(raw, dict):
            raise ValueError("position must be an object")
        lo, hi, after = raw.get("l"), raw.get("h"), raw.get("a", 0)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ValueError("position.a must be a non-negative integer")
        for snap in (lo, hi):
            if snap is not None and not isinstance(snap, str):
                raise ValueError("a snapshot is a string")
            if snap is not None:
                snapshot_xmin(snap)
        return cls(lo=lo, hi=hi, after=after)


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    versions: list[StoredVersion]  # in delivery order
    position: FeedPosition  # resume here
    caught_up: bool  # nothing more was committed when this batch was read
    start: FeedPosition  # where the batch was read from
    hi: str | None = None  # the snapshot closing the window read (PostgreSQL)
    # The current version number of each (type, id) of ``versions`` that still has a
    # current row, read by the same statement.
    current: dict[tuple[str, str], int] = field(default_factory=dict)

    def after(self, version: StoredVersion) -> FeedPosition:
        """The position right after ``version``, one of this batch's versions."""
        if version is self.versions[-1]:
            return self.position
        assert version.seq is not None
        return FeedPosition(lo=self.start.lo, hi=self.hi, after=version.seq)


def snapshot_xmin(snapshot: str) -> int:
    """The ``xmin`` of a ``pg_snapshot`` text (``xmin:xmax:xip,…``); ValueError if malformed."""
    parts = snapshot.split(":")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise ValueError("malformed snapshot")
    if parts[2] and not all(x.isdigit() for x in parts[2].split(",")):
        raise ValueError("malformed snapshot")
    return int(parts[0])


def _snapshot_parts(snapshot: str) -> tuple[int, frozenset[int]]:
    snapshot_xmin(snapshot)  # validates
    _, xmax, xip = snapshot.split(":")
    return int(xmax), frozenset(int(x) for x in xip.split(",") if x)


def snapshot_covers(later: str, earlier: str) -> bool:
    """Whether every transaction visible in snapshot ``earlier`` is visible in ``later``
    (true of any snapshot taken after ``earlier``). A transaction is visible in
    ``xmin:xmax:xip`` when it is below ``xmax`` and not in ``xip``; ``later`` sees all that
    ``earlier`` sees iff its ``xmax`` is not lower and every transaction it still has in
    progress below ``earlier``'s ``xmax`` was in progress in ``earlier`` too."""
    later_xmax, later_xip = _snapshot_parts(later)
    earlier_xmax, earlier_xip = _snapshot_parts(earlier)
    if later_xmax < earlier_xmax:
        return False
    return all(x in earlier_xip for x in later_xip if x < earlier_xmax)


def take_snapshot(tx: StoreTx) -> str | None:
    """A snapshot to close feed windows with (PostgreSQL; None on SQLite)."""
    if tx.dialect != "postgresql":
        return None
    return _snapshot(tx)


_SNAPSHOT = text("SELECT CAST(pg_current_snapshot() AS text)")


def _snapshot(tx: StoreTx) -> str:
    return str(tx.conn.execute(_SNAPSHOT).scalar_one())


def current_position(tx: StoreTx, *, hi: str | None = None) -> FeedPosition:
    """A position after everything committed so far (``cursor=now``); on PostgreSQL,
    ``hi`` is a snapshot taken a moment ago to use instead of a new one."""
    if tx.dialect == "postgresql":
        return FeedPosition(lo=hi or _snapshot(tx))
    last = tx.conn.execute(select(func.max(s.history.c.seq))).scalar()
    return FeedPosition(after=int(last or 0))


_VISIBLE_IN_HI = text(
    "pg_visible_in_snapshot(CAST(CAST(sync_history_tx.txid AS text) AS xid8),"
    " CAST(:hi AS pg_snapshot))"
)
_NOT_VISIBLE_IN_LO = text(
    "NOT pg_visible_in_snapshot(CAST(CAST(sync_history_tx.txid AS text) AS xid8),"
    " CAST(:lo AS pg_snapshot))"
)


_CURRENT = s.resource.alias("current_row")
_FEED_COLUMNS = (  # in the order _decode unpacks them
    *HISTORY_COLUMNS,
    _CURRENT.c.version.label("current_version"),
)
# The join that reads each change's current version number along with it.
_WITH_CURRENT = s.history.outerjoin(
    _CURRENT,
    and_(_CURRENT.c.resource_type == s.history.c.resource_type, _CURRENT.c.id == s.history.c.id),
)


@functools.cache
def _changes_query(postgresql: bool, typed: bool, after_lo: bool) -> Select[Any]:
    """The feed's SELECT for one shape of read, built once: constructing it is most of
    the client's cost of a small read. Parameters: ``after``, ``limit``, ``types``
    (``typed``), ``hi`` (PostgreSQL), ``lo`` and ``lo_xmin`` (``after_lo``)."""
    h = s.history
    conds: list[ColumnElement[bool]] = [h.c.seq > bindparam("after")]
    if typed:
        conds.append(h.c.resource_type.in_(bindparam("types", expanding=True)))
    stmt = select(*_FEED_COLUMNS).select_from(_WITH_CURRENT)
    if postgresql:
        t = s.sync_history_tx
        stmt = stmt.join(t, t.c.seq == h.c.seq)
        conds.append(_VISIBLE_IN_HI)  # type: ignore[arg-type]
        if after_lo:
            conds.append(t.c.txid >= bindparam("lo_xmin"))
            conds.append(_NOT_VISIBLE_IN_LO)  # type: ignore[arg-type]
    return stmt.where(and_(*conds)).order_by(h.c.seq).limit(bindparam("limit"))


def read_changes(
    tx: StoreTx,
    position: FeedPosition,
    *,
    types: Sequence[str] | None,
    limit: int,
    hi: str | None = None,
) -> ChangeBatch:
    """Up to ``limit`` committed versions after ``position``, in delivery order (unfiltered:
    the caller's repository decides what may be seen).

    On PostgreSQL a position without ``hi`` opens a new window, closed by ``hi`` when it is
    given and covers the position's ``lo`` (else by a snapshot taken now). ``caught_up``
    is True only when the window read was closed now or by the ``hi`` given: a window
    closed by an older snapshot (from a cursor) that runs out means "read on", not "wait"
    (and when nothing at all was left of it, the next window is read in the same call).
    """
    params: dict[str, Any] = {"after": position.after, "limit": limit}
    if types:
        params["types"] = list(types)
    if tx.dialect != "postgresql":
        stmt = _changes_query(False, bool(types), False)
        rows = tx.conn.execute(stmt, params).all()
        versions, current = _decode(rows, tx.conn)
        after = position.after
        if versions and versions[-1].seq is not None:
            after = versions[-1].seq
        return ChangeBatch(
            versions, FeedPosition(after=after), len(versions) < limit, position, current=current
        )
    fresh = position.hi is None
    if position.hi is not None:
        hi = position.hi
    elif hi is None or (position.lo is not None and not snapshot_covers(hi, position.lo)):
        hi = _snapshot(tx)
    params["hi"] = hi
    if position.lo is not None:
        params["lo_xmin"] = snapshot_xmin(position.lo)
        params["lo"] = position.lo
    query = _changes_query(True, bool(types), position.lo is not None)
    rows = tx.conn.execute(query, params).all()
    versions, current = _decode(rows, tx.conn)
    if not versions and not fresh:
        # What was left of an older window is empty: read on from its end at once, so a
        # reader that only moves when it receives something (the subscription worker)
        # does not stay at the end of a window that filled exactly its last batch.
        return read_changes(tx, FeedPosition(lo=hi), types=types, limit=limit)
    if len(versions) < limit:  # the window is exhausted: its end is the next start
        return ChangeBatch(versions, FeedPosition(lo=hi), fresh, position, hi, current)
    last = versions[-1].seq
    assert last is not None
    return ChangeBatch(
        versions, FeedPosition(lo=position.lo, hi=hi, after=last), False, position, hi, current
    )


def _decode(
    rows: Sequence[Row[Any, *tuple[Any, ...]]], conn: Connection
) -> tuple[list[StoredVersion], dict[tuple[str, str], int]]:
    """Rows of ``_FEED_COLUMNS`` as versions (their content opened; an erased, i.e.
    crypto-shredded, version reads as a deletion) and the current version numbers."""
    versions: list[StoredVersion] = []
    current: dict[tuple[str, str], int] = {}
    for (
        seq,
        rtype,
        rid,
        number,
        last_updated,
        deleted,
        content,
        patient_id,
        method,
        author,
        author_structure,
        created,
        current_version,
    ) in rows:
        opened, erased = open_resource_or_none(conn, rtype, rid, number, patient_id, content)
        versions.append(
            StoredVersion(
                resource_type=rtype,
                id=rid,
                version=number,
                last_updated=last_updated,
                deleted=bool(deleted) or erased,
                content=opened,
                patient_id=patient_id,
                seq=seq,
                method=method,
                author=author,
                author_structure=author_structure,
                created=created,
            )
        )
        if current_version is not None:
            current[(rtype, rid)] = current_version
    return versions, current

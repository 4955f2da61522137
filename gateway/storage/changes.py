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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select, text

from gateway.storage import schema as s
from gateway.storage.records import StoredVersion
from gateway.storage.store import HISTORY_COLUMNS, StoreTx, bulk_version


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


def _snapshot(tx: StoreTx) -> str:
    return str(tx.conn.execute(text("SELECT CAST(pg_current_snapshot() AS text)")).scalar_one())


def current_position(tx: StoreTx) -> FeedPosition:
    """A position after everything committed so far (``cursor=now``)."""
    if tx.dialect == "postgresql":
        return FeedPosition(lo=_snapshot(tx))
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


def read_changes(
    tx: StoreTx,
    position: FeedPosition,
    *,
    types: Sequence[str] | None,
    limit: int,
) -> ChangeBatch:
    """Up to ``limit`` committed versions after ``position``, in delivery order (unfiltered:
    the caller's repository decides what may be seen)."""
    h = s.history
    conds = [h.c.seq > position.after]
    if types:
        conds.append(h.c.resource_type.in_(list(types)))
    stmt = select(*HISTORY_COLUMNS)
    if tx.dialect != "postgresql":
        rows = tx.conn.execute(stmt.where(and_(*conds)).order_by(h.c.seq).limit(limit)).all()
        versions = [bulk_version(r, tx.conn) for r in rows]
        after = position.after
        if versions and versions[-1].seq is not None:
            after = versions[-1].seq
        return ChangeBatch(versions, FeedPosition(after=after), len(versions) < limit, position)
    hi = position.hi or _snapshot(tx)
    t = s.sync_history_tx
    stmt = stmt.join(t, t.c.seq == h.c.seq)
    params: dict[str, Any] = {"hi": hi}
    conds.append(_VISIBLE_IN_HI)  # type: ignore[arg-type]
    if position.lo is not None:
        conds.append(t.c.txid >= snapshot_xmin(position.lo))
        conds.append(_NOT_VISIBLE_IN_LO)  # type: ignore[arg-type]
        params["lo"] = position.lo
    query = stmt.where(and_(*conds)).order_by(h.c.seq).limit(limit)
    rows = tx.conn.execute(query, params).all()
    versions = [bulk_version(r, tx.conn) for r in rows]
    if len(versions) < limit:  # the window is exhausted: its end is the next start
        return ChangeBatch(versions, FeedPosition(lo=hi), True, position, hi)
    last = versions[-1].seq
    assert last is not None
    return ChangeBatch(
        versions, FeedPosition(lo=position.lo, hi=hi, after=last), False, position, hi
    )

"""Data keys (DEKs) in the ``data_key`` table, wrapped by a KEK, cached unwrapped.

A :class:`Keyring` is attached to an engine (:func:`attach`); code holding a
``Connection`` finds it with :func:`keyring_of`, so every transaction seals and opens
content with the same keys (see :mod:`gateway.storage.sealing`).

Create-on-first-use is race-free across processes: ``INSERT … ON CONFLICT DO NOTHING``
on ``(scope, owner)`` then a ``SELECT`` of the winner. A key created inside a
transaction is only remembered by this process once that transaction commits (engine
``commit``/``rollback`` events), so a rolled-back write never leaves a cached key whose
row does not exist. Cached keys are re-checked against their row after
``cache_seconds``, which bounds how long another process keeps reading a shredded key.
"""

from __future__ import annotations

import secrets
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, func, literal_column, select, update
from sqlalchemy.engine import Connection, Row

from gateway.config import Settings
from gateway.crypto.errors import ContentErased
from gateway.crypto.kek import KeyWrapper, key_wrapper, new_data_key
from gateway.storage import schema as s
from gateway.storage.dialect_insert import insert_ignore
from gateway.storage.engine import WRITE

_K = s.data_key
_PENDING = "gw_pending_keys"


def _now() -> int:
    return time.time_ns() // 1000


def _context(key_id: str, scope: str, owner: str) -> bytes:
    """Associated data of a wrapped key: it cannot be swapped into another row."""
    return b"\x00".join((b"dmp-gateway dek v1", key_id.encode(), scope.encode(), owner.encode()))


@dataclass(frozen=True, slots=True)
class DataKey:
    key_id: bytes  # 16 bytes
    aead: AESGCM
    loaded: float  # monotonic time of the last check against the row


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self._d: OrderedDict[Any, DataKey] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, k: Any) -> DataKey | None:
        with self._lock:
            v = self._d.get(k)
            if v is not None:
                self._d.move_to_end(k)
            return v

    def put(self, k: Any, v: DataKey) -> None:
        with self._lock:
            self._d[k] = v
            self._d.move_to_end(k)
            while len(self._d) > self.size:
                self._d.popitem(last=False)

    def drop(self, pred: Any) -> None:
        with self._lock:
            for k in [k for k, v in self._d.items() if pred(k, v)]:
                del self._d[k]


class Keyring:
    """Data keys of one database, wrapped by ``wrapper``."""

    def __init__(
        self,
        wrapper: KeyWrapper,
        *,
        encrypt: bool = True,
        cache_size: int = 100_000,
        cache_seconds: float = 10.0,
    ) -> None:
        self.wrapper = wrapper
        self.encrypt = encrypt
        self.cache_seconds = cache_seconds
        self._by_id = _Lru(cache_size)
        self._by_owner = _Lru(cache_size)

    # -- lookups ------------------------------------------------------------------------

    def _fresh(self, k: DataKey | None) -> DataKey | None:
        if k is None or time.monotonic() - k.loaded > self.cache_seconds:
            return None
        return k

    def for_write(self, conn: Connection, scope: str, owner: str) -> DataKey:
        """The owner's key, created on first use. Raises :class:`ContentErased` when it
        was shredded (nothing new is written for an erased patient)."""
        pending: dict[Any, DataKey] = conn.info.setdefault(_PENDING, {})
        key = pending.get((scope, owner)) or self._fresh(self._by_owner.get((scope, owner)))
        if key is not None:
            return key
        row = self._select_owner(conn, scope, owner)
        if row is None:
            kid = secrets.token_hex(16)
            dek = new_data_key()
            self.wrapper.refresh()  # a rotation elsewhere: wrap under the newest KEK
            kek_id, wrapped = self.wrapper.wrap(dek, _context(kid, scope, owner))
            insert_ignore(
                conn,
                _K,
                [
                    {
                        "key_id": kid,
                        "scope": scope,
                        "owner": owner,
                        "kek_id": kek_id,
                        "wrapped": wrapped,
                        "created": _now(),
                        "shredded": None,
                    }
                ],
            )
            row = self._select_owner(conn, scope, owner)
            assert row is not None
            if row.key_id == kid:  # ours: usable now, remembered once committed
                key = DataKey(bytes.fromhex(kid), AESGCM(dek), time.monotonic())
                pending[(scope, owner)] = key
                pending[key.key_id] = key
                return key
        key = self._unwrap(row)
        self._remember(key, scope, owner)
        return key

    def by_id(self, conn: Connection, key_id: bytes) -> DataKey:
        pending = conn.info.get(_PENDING)
        if pending and key_id in pending:
            return pending[key_id]  # type: ignore[no-any-return]
        key = self._fresh(self._by_id.get(key_id))
        if key is not None:
            return key
        row = conn.execute(select(_K).where(_K.c.key_id == key_id.hex())).first()
        if row is None:
            raise ContentErased("The content's data key does not exist (erased)")
        key = self._unwrap(row)
        self._remember(key, row.scope, row.owner)
        return key

    def _select_owner(self, conn: Connection, scope: str, owner: str) -> Row[Any] | None:
        return conn.execute(select(_K).where(_K.c.scope == scope, _K.c.owner == owner)).first()

    def _unwrap(self, row: Any) -> DataKey:
        if row.shredded is not None or row.wrapped is None:
            raise ContentErased("This content was erased (its data key was destroyed)")
        dek = self.wrapper.unwrap(
            row.kek_id, bytes(row.wrapped), _context(row.key_id, row.scope, row.owner)
        )
        return DataKey(bytes.fromhex(row.key_id), AESGCM(dek), time.monotonic())

    def _remember(self, key: DataKey, scope: str, owner: str) -> None:
        self._by_id.put(key.key_id, key)
        self._by_owner.put((scope, owner), key)

    # -- transaction events ---------------------------------------------------------------

    def _committed(self, conn: Connection) -> None:
        pending = conn.info.pop(_PENDING, None)
        if pending:
            for k, key in pending.items():
                if isinstance(k, tuple):
                    self._remember(key, *k)

    @staticmethod
    def _rolled_back(conn: Connection) -> None:
        conn.info.pop(_PENDING, None)

    def forget(self, scope: str, owner: str) -> None:
        key = self._by_owner.get((scope, owner))
        self._by_owner.drop(lambda k, _v: k == (scope, owner))
        if key is not None:
            self._by_id.drop(lambda k, _v: k == key.key_id)

    # -- administration -------------------------------------------------------------------

    def shred(self, conn: Connection, scope: str, owner: str) -> bool:
        """Destroy a key: wipe its wrapped bytes, stamp it. False when there was none.

        A key that does not exist yet is created already shredded, so nothing can be
        written for that owner afterwards either.
        """
        row = self._select_owner(conn, scope, owner)
        if row is None:
            insert_ignore(
                conn,
                _K,
                [
                    {
                        "key_id": secrets.token_hex(16),
                        "scope": scope,
                        "owner": owner,
                        "kek_id": "-",
                        "wrapped": None,
                        "created": _now(),
                        "shredded": _now(),
                    }
                ],
            )
        conn.execute(
            update(_K)
            .where(_K.c.scope == scope, _K.c.owner == owner)
            .values(wrapped=None, shredded=func.coalesce(_K.c.shredded, _now()))
        )
        self.forget(scope, owner)
        return row is not None

    def rewrap(self, engine: Engine, *, batch: int = 5000) -> Iterator[int]:
        """Re-wrap every live key not under the current KEK, ``batch`` keys per
        transaction; yields the count done after each batch. Ciphertexts are untouched;
        a key changed meanwhile (shredded, re-wrapped elsewhere) is skipped."""
        self.wrapper.refresh()
        current = self.wrapper.current()
        done = 0
        # SQLite walks the table in storage (rowid) order, so a batch dirties neighbouring
        # pages: in key id order (random) each commit checkpointed pages from all over the
        # file and dominated a rotation. PostgreSQL writes new row versions anyway.
        sqlite = engine.dialect.name == "sqlite"
        pos: Any = literal_column("rowid") if sqlite else _K.c.key_id
        after: Any = 0 if sqlite else ""
        # To the driver as tuples in one executemany: SQLAlchemy's per-row parameter
        # processing was a third of the time of a rotation.
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        sql = (  # the table name comes from the schema module, never from input
            f"UPDATE {_K.name} SET kek_id = {mark}, wrapped = {mark} "  # noqa: S608
            f"WHERE key_id = {mark} AND kek_id = {mark} AND shredded IS NULL"
        )
        while True:
            with engine.connect().execution_options(**WRITE) as conn, conn.begin():
                rows = conn.execute(
                    select(pos, _K.c.key_id, _K.c.scope, _K.c.owner, _K.c.kek_id, _K.c.wrapped)
                    .where(pos > after, _K.c.kek_id != current, _K.c.shredded.is_(None))
                    .order_by(pos)
                    .limit(batch)
                ).all()
                if not rows:
                    return
                params = []
                for _, kid, scope, owner, kek_id, wrapped in rows:
                    ctx = _context(kid, scope, owner)
                    dek = self.wrapper.unwrap(kek_id, bytes(wrapped), ctx)
                    new_kek, new_wrapped = self.wrapper.wrap(dek, ctx)
                    params.append((new_kek, new_wrapped, kid, kek_id))
                conn.exec_driver_sql(sql, params)
            done += len(rows)
            after = rows[-1][0]
            yield done

    @staticmethod
    def status(conn: Connection) -> list[tuple[str, str, int]]:
        """``(kek id or 'shredded', scope, count)`` of every data key."""
        rows = conn.execute(
            select(_K.c.kek_id, _K.c.scope, _K.c.wrapped.is_(None).label("gone"), func.count())
            .group_by(_K.c.kek_id, _K.c.scope, _K.c.wrapped.is_(None))
            .order_by(_K.c.kek_id, _K.c.scope)
        ).all()
        out: dict[tuple[str, str], int] = {}
        for kek_id, scope, gone, n in rows:
            name = "(shredded)" if gone else kek_id
            out[(name, scope)] = out.get((name, scope), 0) + int(n)
        return [(k, sc, n) for (k, sc), n in sorted(out.items())]


def keyring_from_settings(settings: Settings) -> Keyring:
    """The keyring settings describe; production refuses to start without a KEK."""
    c = settings.crypto
    return Keyring(
        key_wrapper(settings),
        encrypt=c.encrypt,
        cache_size=c.key_cache_size,
        cache_seconds=c.key_cache_seconds,
    )


def open_keys(engine: Engine, settings: Settings) -> Keyring:
    """Attach the keyring of ``settings`` to ``engine`` (once per engine)."""
    ring = _RINGS.get(engine)
    return ring if ring is not None else attach(engine, keyring_from_settings(settings))


_RINGS: weakref.WeakKeyDictionary[Engine, Keyring] = weakref.WeakKeyDictionary()


def attach(engine: Engine, keyring: Keyring) -> Keyring:
    """Make ``keyring`` the keys of every connection of ``engine``."""
    from sqlalchemy import event

    _RINGS[engine] = keyring
    event.listen(engine, "commit", keyring._committed)
    event.listen(engine, "rollback", keyring._rolled_back)
    return keyring


def keyring_of(conn: Connection) -> Keyring | None:
    return _RINGS.get(conn.engine)

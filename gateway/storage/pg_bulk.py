"""Many rows in one PostgreSQL statement, at the least driver cost for their number.

psycopg's ``executemany`` sends and checks each row on its own (a Bind/Execute each),
and SQLAlchemy's multi-row ``VALUES`` form makes a new statement text per batch size,
which psycopg parses again each time once it has more than 50 parameters (its cache
limit). Instead:

- few rows (at most 50 parameters): one multi-row ``VALUES``, one text per row count,
  cached by psycopg and prepared on the server after a few uses;
- more rows, when the caller needs values back (``RETURNING``): one array per column
  through ``unnest``, a fixed text whatever the count;
- more rows, nothing returned: ``COPY … FROM STDIN``, whose rows psycopg formats in C
  (a few microseconds each, against tens for the other forms);
- few rows for several tables, nothing returned (the index rows of one write): one
  statement of data-modifying ``WITH`` parts, one round trip instead of one per table.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from psycopg import RawCursor
from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
)
from sqlalchemy.engine import Connection

from gateway.storage.multirow import values_sql


def _array_type(table: Table, column: str) -> str:
    kind = table.c[column].type
    # Most specific first: BigInteger and SmallInteger are Integers.
    for sql_type, name in (
        (BigInteger, "int8"),
        (SmallInteger, "int2"),
        (Integer, "int4"),
        (Float, "float8"),
        (Boolean, "bool"),
        (LargeBinary, "bytea"),
        (String, "text"),  # Text is a String; the column's length limit still applies
    ):
        if isinstance(kind, sql_type):
            return name
    raise TypeError(f"no array type for {table.name}.{column} ({kind!r})")


def _as_float(value: Any) -> Any:
    # psycopg refuses a list that mixes int and float; the column is float8 anyway.
    return value if value is None or value.__class__ is float else float(value)


@functools.cache
def _plan(
    table: Table, columns: tuple[str, ...], returning: tuple[str, ...]
) -> tuple[str, tuple[Callable[[Any], Any] | None, ...]]:
    types = [_array_type(table, c) for c in columns]
    names = ", ".join(columns)
    arrays = ", ".join(f"%s::{t}[]" for t in types)
    # Table and column names come from the schema module, never from input. The rows
    # are inserted in the order given (ORDER BY the ordinal), so identities and
    # sequences are drawn in that order, as a row-by-row insert would draw them.
    sql = (
        f"INSERT INTO {table.name} ({names}) "  # noqa: S608
        f"SELECT {names} FROM unnest({arrays}) WITH ORDINALITY AS u({names}, ord_) "
        "ORDER BY ord_"
    )
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    converters = tuple(_as_float if t == "float8" else None for t in types)
    return sql, converters


MAX_VALUES_PARAMS = 50
"""psycopg caches the parsed text of a statement of at most this many parameters."""


def _values(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    returning: tuple[str, ...],
) -> list[tuple[Any, ...]]:
    params = tuple(value for row in rows for value in row)
    result = conn.exec_driver_sql(values_sql(table, columns, returning, len(rows), "%s"), params)
    return [tuple(row) for row in result.fetchall()] if returning else []


def insert_rows(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    returning: tuple[str, ...] = (),
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` in one statement,
    in the order given.

    Returns the ``returning`` columns of the inserted rows (not promised in any order:
    match them on a key). PostgreSQL only.
    """
    if not rows:
        return []
    if len(rows) * len(columns) <= MAX_VALUES_PARAMS:
        return _values(conn, table, columns, rows, returning)
    sql, converters = _plan(table, columns, returning)
    arrays: list[list[Any]] = []
    for values, convert in zip(zip(*rows, strict=True), converters, strict=True):
        arrays.append(list(values) if convert is None else [convert(v) for v in values])
    result = conn.exec_driver_sql(sql, tuple(arrays))
    return [tuple(row) for row in result.fetchall()] if returning else []


def copy_rows(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` into ``table``, in this transaction, returning nothing. PostgreSQL
    only. (A ``COPY`` goes to the driver directly: statement events do not see it.)"""
    if not rows:
        return
    if len(rows) * len(columns) <= MAX_VALUES_PARAMS:
        _values(conn, table, columns, rows, ())
        return
    driver = conn.connection.driver_connection
    if driver is None:
        raise RuntimeError("no open database connection")
    # Table and column names come from the schema module, never from input.
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


Part = tuple[Table, tuple[str, ...], Sequence[Sequence[Any]]]
"""Rows for one table: (table, columns, rows in ``columns`` order)."""


@functools.cache
def _together_sql(shape: tuple[tuple[Table, tuple[str, ...], int], ...]) -> bytes:
    inserts = []
    n = 0
    for table, columns, count in shape:
        rows = []
        for _ in range(count):
            rows.append("(" + ", ".join(f"${n + i + 1}" for i in range(len(columns))) + ")")
            n += len(columns)
        # Table and column names come from the schema module, never from input.
        inserts.append(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {', '.join(rows)}"  # noqa: S608
        )
    *first, last = inserts
    head = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(first))
    return f"WITH {head} {last}".encode()


def insert_together(conn: Connection, parts: Sequence[Part]) -> None:
    """Insert a few rows into each of several tables, returning nothing, in one statement
    (each part at most :data:`MAX_VALUES_PARAMS` parameters). PostgreSQL only. Like
    :func:`copy_rows` it goes to the driver directly (``$n`` parameters, a text per
    shape that psycopg prepares after a few uses): statement events do not see it."""
    parts = [p for p in parts if p[2]]
    if len(parts) <= 1:
        for table, columns, rows in parts:
            _values(conn, table, columns, rows, ())
        return
    driver = conn.connection.driver_connection
    if driver is None:
        raise RuntimeError("no open database connection")
    sql = _together_sql(tuple((t, c, len(rows)) for t, c, rows in parts))
    params = [value for _, _, rows in parts for row in rows for value in row]
    with RawCursor(driver) as cursor:
        cursor.execute(sql, params)

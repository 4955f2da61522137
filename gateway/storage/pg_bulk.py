"""Many rows in one PostgreSQL statement: ``INSERT … SELECT … FROM unnest(arrays)``.

An ``executemany`` through psycopg sends one Bind/Execute per row, and SQLAlchemy's
multi-row ``VALUES`` form makes a new statement text per batch size, which psycopg
parses again each time (texts over its cache limit are never cached). Here a table's
rows go as one array per column: the statement text is fixed, so psycopg caches it and
prepares it on the server, and the driver packs each column in C. The cost per row is
a few list appends.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

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


def insert_arrays(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    returning: tuple[str, ...] = (),
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` in one statement.

    Returns the ``returning`` columns of the inserted rows (not promised in any order:
    match them on a key). PostgreSQL only.
    """
    if not rows:
        return []
    sql, converters = _plan(table, columns, returning)
    arrays: list[list[Any]] = []
    for values, convert in zip(zip(*rows, strict=True), converters, strict=True):
        arrays.append(list(values) if convert is None else [convert(v) for v in values])
    result = conn.exec_driver_sql(sql, tuple(arrays))
    return [tuple(row) for row in result.fetchall()] if returning else []

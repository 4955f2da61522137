"""Many rows in few SQLite statements, with values back (``RETURNING``).

SQLAlchemy's ``insert().returning(..., sort_by_parameter_order=True)`` cannot trust
SQLite to return rows in parameter order, so it inserts them one at a time, each with
its own parameter processing: a few hundred microseconds for a message of six
resources, milliseconds for a CSV chunk. A multi-row ``VALUES`` whose ``RETURNING``
carries a natural key, matched by the caller, does the same in one statement per
:data:`MAX_ROWS` rows. Rows are inserted in ``VALUES`` order, so primary keys and
history sequence numbers are drawn in the order given, as row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection

from gateway.storage.multirow import values_sql

MAX_ROWS = 64
"""Rows per statement: at most a few dozen statement texts per table (the driver caches
them), and fewer parameters than the smallest ``SQLITE_MAX_VARIABLE_NUMBER`` (999)."""


def insert_returning(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    returning: tuple[str, ...],
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``, in the order given;
    the ``returning`` columns of the inserted rows, in no promised order (match them on
    a key). SQLite only; values go to the driver as they are (no type processing)."""
    if len(columns) * MAX_ROWS > 999:
        raise ValueError(f"too many columns for {MAX_ROWS} rows a statement: {columns}")
    got: list[tuple[Any, ...]] = []
    for start in range(0, len(rows), MAX_ROWS):
        batch = rows[start : start + MAX_ROWS]
        params = tuple(value for row in batch for value in row)
        result = conn.exec_driver_sql(
            values_sql(table, columns, returning, len(batch), "?"), params
        )
        got.extend(tuple(row) for row in result.fetchall())
    return got

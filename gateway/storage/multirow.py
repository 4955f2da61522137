"""The text of a multi-row ``INSERT … VALUES``, shared by both back-ends' bulk inserts."""

from __future__ import annotations

import functools

from sqlalchemy import Table


@functools.cache
def values_sql(
    table: Table, columns: tuple[str, ...], returning: tuple[str, ...], count: int, mark: str
) -> str:
    """``INSERT INTO table (columns) VALUES (…), … [RETURNING …]`` for ``count`` rows, with
    the driver's parameter ``mark`` (``?`` for sqlite3, ``%s`` for psycopg). One text per
    row count, cached here and by the drivers."""
    row = f"({', '.join(mark for _ in columns)})"
    # Table and column names come from the schema module, never from input.
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES {', '.join(row for _ in range(count))}"
    )
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return sql

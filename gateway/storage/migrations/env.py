"""Alembic environment: runs on the connection passed in by :mod:`gateway.storage.migrate`."""

from __future__ import annotations

from alembic import context

from gateway.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through gateway.storage.migrate
    raise RuntimeError("run migrations with `dmp-gateway migrate`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

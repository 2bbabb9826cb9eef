"""Alembic's entry point for warpsmith's store, loaded by path by warpsmith.store.migrate.

It runs on the connection that warpsmith.store.migrate hands over in
`config.attributes["connection"]`, already inside the transaction (and lock) that makes the
upgrade atomic; it never reads an alembic.ini nor configures logging.
"""

from __future__ import annotations

from alembic import context

from warpsmith.store.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place: batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

"""How a row goes in, whatever the dialect: insert-or-ignore on a natural key, upsert, the
created_at default of Core inserts, and text made storable (lone surrogates replaced).

Owns: the mechanics every write module shares (warpsmith.store.writes, lessons, population).
Does not own: which rows a step writes (those modules) or the tables (warpsmith.store.schema).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from warpsmith.store.schema import Base, utcnow

log = logging.getLogger("warpsmith.store")


def valid_text(value: Any) -> tuple[Any, int]:
    """`value` (a str, or lists and dicts of them) with every lone surrogate replaced by U+FFFD,
    and how many were replaced.

    Python strings may hold lone surrogates (an LLM answer decoded with surrogateescape, a
    JSON `\\ud800` escape); UTF-8 cannot. Replacing them where text is stored means storing never
    fails (a run is not lost to one bad character) and what is stored can always be shown. A
    well-formed pair that arrived as two code points is joined into its character.
    """
    if isinstance(value, str):
        try:
            value.encode()
            return value, 0
        except UnicodeEncodeError:
            fixed = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            return fixed, fixed.count("\ufffd") - value.count("\ufffd")
    if isinstance(value, list | tuple):
        cleaned = [valid_text(item) for item in value]
        return [item for item, _ in cleaned], sum(n for _, n in cleaned)
    if isinstance(value, dict):
        cleaned_items = {key: valid_text(item) for key, item in value.items()}
        return {key: item for key, (item, _) in cleaned_items.items()}, sum(
            n for _, n in cleaned_items.values()
        )
    return value, 0


def stored_text(value: Any, where: str) -> Any:
    """valid_text, with a one-line warning when something had to be replaced."""
    cleaned, replaced = valid_text(value)
    if replaced:
        log.warning("%s: %d invalid Unicode character(s) (lone surrogates) stored as U+FFFD", where, replaced)
    return cleaned


def insert_ignore(
    session: Session, row_class: type[Base], values: dict[str, Any] | list[dict[str, Any]], key: list[str]
) -> bool | int:
    """INSERT unless a row with the same `key` columns exists; True when this call inserted it.

    A list of rows goes as one statement (executemany) on SQLite and Postgres and returns how many
    were inserted, or -1 where the driver does not say (Postgres: not asked)."""
    session.flush()  # pending ORM rows first: the row inserted here may point at them
    table = row_class.__table__
    dialect = session.get_bind().dialect.name
    if isinstance(values, list):
        if dialect in ("sqlite", "postgresql"):
            insert = (sqlite if dialect == "sqlite" else postgresql).insert(table)
            inserted = session.execute(insert.on_conflict_do_nothing(index_elements=key), values).rowcount
            return inserted if dialect == "sqlite" else -1
        return sum(insert_ignore(session, row_class, one, key) for one in values)
    if dialect == "sqlite":
        statement = sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=key)
        return session.execute(statement).rowcount == 1
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=key)
        # rowcount is unreliable here (implicit RETURNING of serial keys): ask for the inserted key.
        return session.execute(statement.returning(table.c[key[0]])).first() is not None
    # Other dialects: check, then insert (enough with one writer per store).
    if session.scalar(select(func.count()).select_from(table).filter_by(**{k: values[k] for k in key})):
        return False
    session.execute(table.insert().values(values))
    return True


def with_defaults(row_class: type[Base], values: dict[str, Any]) -> dict[str, Any]:
    """Core inserts skip ORM-side defaults only for columns given; fill created_at ourselves."""
    if "created_at" in row_class.__table__.c and "created_at" not in values:
        values = {**values, "created_at": utcnow()}
    return values


def upsert(session: Session, row_class: type[Base], values: dict[str, Any], key: list[str],
            refresh: dict[str, Any]) -> bool:
    """INSERT, or on a `key` conflict UPDATE the `refresh` columns (each a function of the table and
    the `excluded` row): one statement on SQLite and Postgres; False on other dialects (the caller
    reads back and updates)."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return False
    session.flush()
    table = row_class.__table__
    statement = (sqlite if dialect == "sqlite" else postgresql).insert(table).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=key, set_={column: how(table, statement.excluded) for column, how in refresh.items()})
    session.execute(statement)
    return True

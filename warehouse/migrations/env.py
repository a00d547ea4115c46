"""Alembic environment for the warehouse, configured from code (no alembic.ini): see warehouse/store.py.

The caller passes an open connection in ``config.attributes["connection"]``; the URL is never parsed again here, so
passwords with ``%`` in them need no escaping.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

from warehouse.models import Base


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Autogenerate compares only the warehouse's own tables (run_date_locks, for one, is not migrated)."""
    return not (type_ == "table" and reflected and compare_to is None)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        include_object=_ours,
        # SQLite alters tables by copying them; batch mode does that for later revisions that need it.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("cakupan migrations run online only: use `cakupan db upgrade --db URL`")
_run(context.config.attributes["connection"])

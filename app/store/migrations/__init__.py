"""Schema migrations (Alembic): every database is brought to the newest revision at start.

Revision "0001" is the schema as it was before migrations existed, so a database that the
app made earlier with `create_all` (or that `sql/schema.sql` made) has its tables but no
`alembic_version`: it is stamped "0001" and then upgraded in place, its rows kept.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

HERE = Path(__file__).parent
BASELINE = "0001"
# Any fixed number: processes starting together on one PostgreSQL migrate one at a time.
_PG_LOCK_KEY = 7_310_093_001


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config on this folder; with a connection, the migrations run on it."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision of the migration scripts."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migration scripts")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None when it was never stamped)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(connection: Connection) -> str:
    """Bring the database on `connection` (inside a transaction) to the newest revision."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    config = alembic_config(connection)
    if current_revision(connection) is None and inspect(connection).has_table("sessions"):
        command.stamp(config, BASELINE)
    command.upgrade(config, "head")
    return current_revision(connection) or BASELINE

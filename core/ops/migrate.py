"""Applies `migrations/NNNN_name.sql` to DATABASE_URL: the `release` process (`python -m core.ops.migrate`).

Each pending file runs in its own transaction and is recorded in `schema_migrations` in that same
transaction, so a file is either applied and recorded or neither. A second run is a no-op. Two runs at
once (two release processes, or a test and a deploy) are serialised by a PostgreSQL advisory lock held
for the whole run: the second waits, then finds nothing left to do.

We keep this to one small module rather than adding yoyo or alembic: plain SQL files are the contract,
and the advisory lock gives a stronger concurrency guarantee than a lock table that must be polled.
"""
from __future__ import annotations

import hashlib
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from core.ops import db
from core.ops.settings import SettingsError, load_settings

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
# Any constant works; this one spells "schedmig" so it is recognisable in pg_locks.
ADVISORY_LOCK_KEY = 0x7363686564_6D6967 & 0x7FFFFFFFFFFFFFFF
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in order; a misnamed or duplicate-numbered file is an error, not skipped."""
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name!r} must be named NNNN_lowercase_words.sql")
        migrations.append(Migration(match.group(1), path.stem, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migration files share a number in {directory}")
    return migrations


def apply_migrations(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration; returns the names applied (empty when up to date)."""
    migrations = discover(directory)
    conn = db.connect(dsn, application_name="migrate")
    applied_now: list[str] = []
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version TEXT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            cur.execute("SELECT version, checksum FROM schema_migrations")
            done = {row["version"]: row["checksum"] for row in cur.fetchall()}
        for migration in migrations:
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    logger.warning("Migration %s was edited after it was applied; not re-applying it",
                                   migration.name)
                continue
            conn.autocommit = False
            with conn, conn.cursor() as cur:
                cur.execute(migration.sql)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            conn.autocommit = True
            logger.info("Applied migration %s", migration.name)
            applied_now.append(migration.name)
    finally:
        conn.close()  # closing the session releases the advisory lock
    return applied_now


def main(argv: list[str] | None = None) -> int:
    from core.ops.logs import configure_logging

    try:
        settings = load_settings()
        settings.require("database_url")
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    try:
        applied = apply_migrations(settings.database_url)
    except psycopg2.Error as exc:
        logger.error("Migration failed: %s: %s", type(exc).__name__, str(exc).strip())
        return 1
    if applied:
        logger.info("Database is up to date (%d migration(s) applied)", len(applied))
    else:
        logger.info("Database is up to date (nothing to apply)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

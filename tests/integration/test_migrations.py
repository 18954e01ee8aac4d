"""The release process: migrations apply on an empty database, are a no-op the second time, and two
processes running them at once apply each file exactly once."""
import subprocess
import sys
from pathlib import Path

from core.ops import db
from core.ops.migrate import apply_migrations, discover

ROOT = Path(__file__).resolve().parents[2]


def _applied(url):
    conn = db.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT version FROM schema_migrations ORDER BY version")
            return [row["version"] for row in cur.fetchall()]
    finally:
        conn.close()


def test_migrations_apply_to_an_empty_database_then_are_a_no_op(empty_database_url):
    names = [m.name for m in discover()]
    assert apply_migrations(empty_database_url) == names
    assert apply_migrations(empty_database_url) == []
    assert _applied(empty_database_url) == [m.version for m in discover()]


def test_every_migration_file_opens_with_a_comment_saying_why():
    for migration in discover():
        assert migration.sql.lstrip().startswith("--"), migration.name


def test_two_release_processes_at_once_apply_each_migration_once(empty_database_url):
    env = {"DATABASE_URL": empty_database_url, "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen([sys.executable, "-m", "core.ops.migrate"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sum("Applied migration 0001_schema" in out for out in outputs) == 1, outputs
    assert _applied(empty_database_url) == [m.version for m in discover()]


def test_release_without_database_url_fails_with_one_line():
    result = subprocess.run([sys.executable, "-m", "core.ops.migrate"], cwd=ROOT, env={"PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: DATABASE_URL is not set: point it at PostgreSQL, e.g. postgresql://user:pass@host:5432/db"
    ]

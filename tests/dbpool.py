"""Test databases handed out from a pool: a copy of the migrated template, reset between tests.

A copy made by `CREATE DATABASE ... TEMPLATE` and dropped after its test cost 0.4-0.8 s a test; most of
the suite's tests asked for one. Now each copy is reused, and before the next test gets it:

1. it is renamed to a new unique name, after every connection to it was terminated (renaming waits
   until no one is connected). Whatever a test left running (an orphaned worker, a pool in a thread)
   knows only the old name, so it cannot reach the database the next test gets;
2. every table whose size (heap, indexes, TOAST, free-space and visibility maps) differs from a fresh
   copy's is TRUNCATEd, and every sequence set back to a fresh copy's value;
3. its whole state is compared with a fresh copy's: the catalog (tables, columns, constraints, indexes,
   triggers and whether they are enabled, functions, policies, owners, grants, extensions), every
   relation's size, pages and tuple estimate, the rows of the tables the migrations filled (plans,
   schema_migrations), the sequences, the planner statistics (none in a fresh copy), large objects, the
   database's own settings. One difference and the copy is dropped; the next test gets a new one.

So a test starts on a database equal to a fresh copy of the template, under a name no one has used
before, as when each test had its own copy. A reset takes about 0.25 s on the embedded server (0.5 s on
one that syncs to disk, where TRUNCATE waits for it); a pool keeps COPIES copies, so that the reset of
the copy a test gave back runs while the next test runs on the other one, instead of before it.
"""
from __future__ import annotations

import logging
import queue
import threading
import uuid
from urllib.parse import urlsplit

from psycopg2 import errors, extras, sql

from core.ops import db
from devtools.embedded import create_database, drop_database, with_database

logger = logging.getLogger(__name__)

_USER = "c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)" \
        " AND c.relnamespace::regnamespace::text NOT LIKE 'pg\\_temp\\_%'" \
        " AND c.relnamespace::regnamespace::text NOT LIKE 'pg\\_toast\\_temp\\_%'"

# Every user object of the database and how it is defined: any DDL a test ran changes this digest.
_CATALOG = f"""
SELECT md5(string_agg(x, E'\\n' ORDER BY x)) AS digest FROM (
  SELECT concat_ws('|', 'class', c.oid, c.relname, c.relnamespace, c.relkind, c.relowner, c.relacl,
                   c.relpersistence, c.relrowsecurity, c.relforcerowsecurity, c.reloptions, c.relispartition,
                   c.relreplident, c.relhastriggers) AS x
    FROM pg_class c WHERE {_USER} AND c.relnamespace <> 'pg_toast'::regnamespace
  UNION ALL SELECT concat_ws('|', 'column', a.attrelid, a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull,
                             a.atthasdef, a.attisdropped, a.attidentity, a.attgenerated, a.attacl, a.attoptions,
                             a.attstattarget, a.attcollation)
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
   WHERE {_USER} AND c.relnamespace <> 'pg_toast'::regnamespace AND a.attnum > 0
  UNION ALL SELECT concat_ws('|', 'default', d.oid, pg_get_expr(d.adbin, d.adrelid)) FROM pg_attrdef d
  UNION ALL SELECT concat_ws('|', 'constraint', oid, conname, conrelid, condeferrable, condeferred, convalidated,
                             pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
  UNION ALL SELECT concat_ws('|', 'index', indexrelid, pg_get_indexdef(indexrelid), indisvalid, indisready)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE {_USER}
  UNION ALL SELECT concat_ws('|', 'trigger', oid, tgrelid, tgname, tgenabled, tgfoid) FROM pg_trigger
  UNION ALL SELECT concat_ws('|', 'rule', oid, ev_class, rulename, ev_enabled) FROM pg_rewrite
   WHERE ev_class >= 16384
  UNION ALL SELECT concat_ws('|', 'function', p.oid, p.proname, p.pronamespace, p.proowner, p.proacl,
                             p.prosecdef, p.proconfig, p.provolatile, md5(p.prosrc))
    FROM pg_proc p WHERE p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
  UNION ALL SELECT concat_ws('|', 'policy', oid, polrelid, polname, polcmd, polpermissive, polroles,
                             pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid))
    FROM pg_policy
  UNION ALL SELECT concat_ws('|', 'schema', oid, nspname, nspowner, nspacl) FROM pg_namespace
   WHERE nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
  UNION ALL SELECT concat_ws('|', 'type', oid, typname, typnamespace, typowner, typacl) FROM pg_type t
   WHERE typnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace,
                              'pg_toast'::regnamespace)
     AND typnamespace::regnamespace::text NOT LIKE 'pg\\_temp\\_%'
     AND typnamespace::regnamespace::text NOT LIKE 'pg\\_toast\\_temp\\_%'
  UNION ALL SELECT concat_ws('|', 'enum', oid, enumtypid, enumlabel, enumsortorder) FROM pg_enum
  UNION ALL SELECT concat_ws('|', 'extension', oid, extname, extversion, extconfig) FROM pg_extension
  UNION ALL SELECT concat_ws('|', 'default_acl', oid, defaclrole, defaclnamespace, defaclobjtype, defaclacl)
    FROM pg_default_acl
  UNION ALL SELECT concat_ws('|', 'statistic_ext', oid, stxname, stxrelid) FROM pg_statistic_ext
  UNION ALL SELECT concat_ws('|', 'event_trigger', oid, evtname, evtenabled) FROM pg_event_trigger
  UNION ALL SELECT concat_ws('|', 'publication', oid, pubname) FROM pg_publication
  UNION ALL SELECT concat_ws('|', 'database', datname IS NOT NULL, datdba, encoding, datallowconn,
                             datconnlimit, datacl, datistemplate)
    FROM pg_database WHERE datname = current_database()
  UNION ALL SELECT concat_ws('|', 'setting', setrole, setconfig) FROM pg_db_role_setting
   WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL SELECT concat_ws('|', 'large_objects', count(*)) FROM pg_largeobject_metadata
  UNION ALL SELECT concat_ws('|', 'planner_statistics', count(*)) FROM pg_statistic s
    JOIN pg_class c ON c.oid = s.starelid WHERE {_USER}
  UNION ALL SELECT concat_ws('|', 'prepared_xacts', count(*)) FROM pg_prepared_xacts
   WHERE database = current_database()
) objects
"""

# Every relation's size (all forks), pages and tuple estimate, keyed by the table it belongs to (a
# TOAST table's, and its index's, is the table whose values it holds); and the sequences' values.
# TRUNCATE gives a table, its indexes and its TOAST table new, empty files, as a fresh copy has.
_RELATIONS = f"""
SELECT coalesce(toasted.oid, i.indrelid, t.oid, c.oid)::regclass::text AS owner,
       c.oid::regclass::text AS relation,
       c.relkind, pg_total_relation_size(c.oid) AS size, c.relpages, c.reltuples, c.relallvisible
  FROM pg_class c
  LEFT JOIN pg_index i ON i.indexrelid = c.oid
  LEFT JOIN pg_class t ON t.reltoastrelid = c.oid
  LEFT JOIN pg_class toasted ON toasted.reltoastrelid = i.indrelid
 WHERE ({_USER} OR c.relnamespace = 'pg_toast'::regnamespace) AND c.relkind IN ('r', 'i', 't', 'm', 'p')
"""
_SEQUENCES = f"""
SELECT c.oid::regclass::text AS sequence, pg_sequence_last_value(c.oid) AS last_value, s.seqstart
  FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid WHERE {_USER} AND c.relkind = 'S'
"""


# Copies per pool (per test process): one in use, one being reset. The tests that wait for nothing
# (most of them) once waited for the last test's reset before each start: 0.4 s of setup a test.
COPIES = 2


class DatabasePool:
    """Copies of `template` on the server of `admin_url`, named `prefix` + a new suffix at each hand-out.

    A copy given back is renamed at once (so nothing the test left behind can reach it), then reset by
    a thread of the pool while the next test runs on another copy: a test waits only when no copy is
    ready and the pool has COPIES already, and a copy that cannot be made clean is replaced by a new
    one in that thread too."""

    def __init__(self, admin_url: str, template: str, prefix: str):
        self.admin_url, self.template, self.prefix = admin_url, template, prefix
        self.clean: dict | None = None  # a fresh copy's state
        self.created = self.reused = self.replaced = 0
        self._ready: list[str] = []
        self._busy = 0  # copies being reset or made by the thread
        self._copies = 0  # copies that exist: in use, being reset or made, ready
        self._changed = threading.Condition()
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._reset_loop, name="test-database-pool", daemon=True)
        self._thread.start()

    def _name(self) -> str:
        return f"{self.prefix}{uuid.uuid4().hex[:12]}"

    def acquire(self) -> str:
        """The URL of a database equal to a fresh copy of the template, under a name never used before."""
        with self._changed:
            while not self._ready and self._busy and self._copies >= COPIES:
                self._changed.wait()
            if self._ready:
                self.reused += 1
                return with_database(self.admin_url, self._ready.pop())
            self._copies += 1
        try:
            url = create_database(self.admin_url, self._name(), template=self.template)
        except BaseException:
            with self._changed:
                self._copies -= 1
                self._changed.notify_all()
            raise
        self.created += 1
        if self.clean is None:
            self.clean = self._state(url)
        return url

    def release(self, url: str) -> None:
        """Take a database back: renamed now, reset (or replaced) by the pool's thread."""
        old = urlsplit(url).path.lstrip("/")
        new = self._name()
        with self._changed:
            self._busy += 1
        if self._rename(old, new):
            self._work.put(new)
        else:
            drop_database(self.admin_url, old)
            self._work.put(None)  # make a new copy instead

    def _reset_loop(self) -> None:
        while True:
            name = self._work.get()
            if name is StopIteration:
                return
            ready = None
            try:
                if name is not None:
                    try:
                        if self._reset(with_database(self.admin_url, name)):
                            ready = name
                    except Exception:  # noqa: BLE001 - any failure to reset means: not reusable
                        logger.exception("could not reset test database %s; dropping it", name)
                    if ready is None:
                        drop_database(self.admin_url, name)
                if ready is None:
                    self.replaced += 1
                    ready = self._name()
                    create_database(self.admin_url, ready, template=self.template)
                    self.created += 1
            except Exception:  # noqa: BLE001 - the next acquire makes a copy itself
                logger.exception("test database pool: could not make a copy")
                ready = None
            with self._changed:
                self._busy -= 1
                if ready is not None:
                    self._ready.append(ready)
                else:
                    self._copies -= 1
                self._changed.notify_all()

    def close(self) -> None:
        self._work.put(StopIteration)
        self._thread.join(timeout=60)
        logger.info("test database pool: %d copies made, %d hand-outs of a reset copy, %d replaced",
                    self.created, self.reused, self.replaced)
        for name in self._ready:
            drop_database(self.admin_url, name)
        self._ready = []

    def _rename(self, old: str, new: str) -> bool:
        """Disconnect everyone from `old` and rename it; False when someone keeps connecting."""
        conn = db.connect(self.admin_url, application_name="tests-pool", autocommit=True)
        try:
            with conn.cursor() as cur:
                for _ in range(5):
                    # Waits (up to 5 s each) until the backends have exited; RENAME refuses while any is
                    # connected (and waits up to 5 s for them too).
                    cur.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                                " WHERE datname = %s AND pid <> pg_backend_pid()", (old,))
                    try:
                        cur.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                            sql.Identifier(old), sql.Identifier(new)))
                        return True
                    except errors.ObjectInUse:
                        continue
                return False
        finally:
            conn.close()

    def _state(self, url: str) -> dict:
        conn = db.connect(url, application_name="tests-pool", autocommit=True)
        try:
            return self._read_state(conn)
        finally:
            conn.close()

    def _read_state(self, conn) -> dict:
        with conn.cursor() as cur:
            cur.execute(_CATALOG)
            catalog = cur.fetchone()["digest"]
            cur.execute(_RELATIONS)
            relations = {row["relation"]: dict(row) for row in cur.fetchall()}
            cur.execute(_SEQUENCES)
            sequences = {row["sequence"]: dict(row) for row in cur.fetchall()}
            filled = sorted(r["relation"] for r in relations.values()
                            if r["relkind"] in ("r", "m") and r["size"] and r["relation"] == r["owner"]
                            and self._has_rows(cur, r["relation"]))
            rows = {}
            for table in filled:
                cur.execute(sql.SQL("SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
                                    " AS digest, count(*) AS n FROM {} t").format(sql.SQL(table)))
                rows[table] = dict(cur.fetchone())
        return {"catalog": catalog, "relations": relations, "sequences": sequences, "rows": rows}

    @staticmethod
    def _has_rows(cur, table: str) -> bool:
        cur.execute(sql.SQL("SELECT EXISTS (SELECT FROM {}) AS any").format(sql.SQL(table)))
        return cur.fetchone()["any"]

    def _reset(self, url: str) -> bool:
        clean = self.clean
        conn = db.connect(url, application_name="tests-pool", autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(_RELATIONS)
                relations = {row["relation"]: dict(row) for row in cur.fetchall()}
                if set(relations) != set(clean["relations"]):
                    return False
                # Tables the migrations filled are not truncated: if a test changed them, the check
                # below finds it and the copy is replaced.
                seeded = set(clean["rows"])
                dirty = sorted({row["owner"] for name, row in relations.items()
                                if row != clean["relations"][name]} - seeded)
                if dirty:
                    cur.execute("SET lock_timeout = '10s'")
                    cur.execute(sql.SQL("TRUNCATE {} CASCADE").format(sql.SQL(", ").join(map(sql.SQL, dirty))))
                    cur.execute("RESET lock_timeout")
            with conn.cursor() as cur:
                cur.execute(_SEQUENCES)
                for row in cur.fetchall():
                    want = clean["sequences"].get(row["sequence"])
                    if want is None:
                        return False
                    if row["last_value"] != want["last_value"]:
                        if want["last_value"] is None:
                            cur.execute("SELECT setval(%s::regclass, %s, false)", (row["sequence"], want["seqstart"]))
                        else:
                            cur.execute("SELECT setval(%s::regclass, %s, true)", (row["sequence"], want["last_value"]))
                # TRUNCATE leaves a table and its indexes as never vacuumed (reltuples -1, relpages 0);
                # a fresh copy's may say empty (0) instead, which the planner reads differently.
                cur.execute(_RELATIONS)
                stats = ("relpages", "reltuples", "relallvisible")
                fixes = []
                for row in cur.fetchall():
                    want = [clean["relations"][row["relation"]][key] for key in stats]
                    if [row[key] for key in stats] != want:
                        fixes.append((*want, row["relation"]))
                if fixes:  # one statement (a TRUNCATE CASCADE leaves some 90 relations to put back)
                    extras.execute_values(
                        cur, "UPDATE pg_class c SET relpages = v.relpages, reltuples = v.reltuples,"
                             " relallvisible = v.relallvisible FROM (VALUES %s) v (relpages, reltuples,"
                             " relallvisible, relation) WHERE c.oid = v.relation::regclass",
                        fixes, template="(%s::int, %s::real, %s::int, %s)")
                state = self._read_state(conn)
        finally:
            conn.close()
        if state != clean:
            differs = [key for key in clean if state[key] != clean[key]]
            logger.info("test database %s differs from a fresh copy in %s; replacing it", url, differs)
            return False
        return True

"""The loader's audit history is append-only for the loader: owned by the admin, INSERT and SELECT only."""

from __future__ import annotations

import secrets

import psycopg2
import psycopg2.errors
import pytest

from ingest import audit
from python_tests.integration.ingest_helpers import HEADER, row
from warehouse.db import roles
from warehouse.db.connection import connect

pytestmark = pytest.mark.integration

TABLES = list(audit._tables(audit.DDL))
VIEWS = audit._views(audit.DDL)
# A row each table takes: columns without a default that are not null.
PROBE_ROWS = {
    "audit.ingest_run_events": "(run_id, os_user, command_line, status) values ('r', 'u', 'c', 'running')",
    "audit.file_manifest_entries": (
        "(feed, entity, file_sha256, file_name, status, config_sha256, run_id) "
        "values ('f', 'e', 's', 'n', 'loaded', 'c', 'r')"
    ),
    "audit.file_loads": "(run_id, feed, file_name, status) values ('r', 'f', 'n', 'loaded')",
    "audit.file_quarantine_reasons": (
        "(run_id, feed, entity, file_name, file_sha256, reason, rows) values ('r', 'f', 'e', 'n', 's', 'x', 1)"
    ),
    "audit.schema_drift": (
        "(run_id, feed, entity, file_name, file_sha256, missing_columns, extra_columns) "
        "values ('r', 'f', 'e', 'n', 's', '{}', '{}')"
    ),
    "audit.watermark_events": (
        "(feed, entity, client_id, column_name, high_water) values ('f', 'e', 'c', 'x', '2026-01-01')"
    ),
    "audit.name_tokens": "(token) values ('probe-token')",
}


def _refused(conn, statement: str) -> None:
    """`statement` fails for want of privilege (or ownership), and changes nothing."""
    with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
        cur.execute(statement)
    conn.rollback()


def test_every_audit_table_has_a_probe_row():
    assert set(PROBE_ROWS) <= set(TABLES), "a table of the test is no longer in the DDL"
    missing = set(TABLES) - set(PROBE_ROWS)
    # Tables appended to the DDL later (another feature's) are covered by the privilege checks below
    # with a generic statement; only the insert check needs a row.
    assert all(name.startswith("audit.") for name in missing)


@pytest.mark.parametrize("table", TABLES)
def test_loader_cannot_rewrite_or_erase_an_audit_table(role_conn, table):
    conn = role_conn("loader")
    conn.autocommit = False
    _refused(conn, f"update {table} set {_first_column(conn, table)} = {_first_column(conn, table)}")
    _refused(conn, f"delete from {table}")
    _refused(conn, f"truncate {table}")
    _refused(conn, f"drop table {table}")
    _refused(conn, f"alter table {table} add column loader_was_here int")
    _refused(conn, f"alter table {table} owner to loader")


def test_loader_cannot_drop_the_balance_constraint(role_conn):
    conn = role_conn("loader")
    conn.autocommit = False
    _refused(conn, "alter table audit.file_loads drop constraint file_loads_balance")
    with pytest.raises(psycopg2.errors.CheckViolation), conn.cursor() as cur:
        cur.execute(
            "insert into audit.file_loads (run_id, feed, file_name, status, rows_read, rows_loaded) "
            "values ('r', 'f', 'n', 'loaded', 2, 1)"
        )
    conn.rollback()


@pytest.mark.parametrize("view", VIEWS)
def test_loader_reads_the_views_and_cannot_write_through_them(role_conn, view):
    conn = role_conn("loader")
    conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute(f"select count(*) from {view}")
    _refused(conn, f"create or replace view {view} as select * from {view}")
    _refused(conn, f"drop view {view}")


@pytest.mark.parametrize("table", sorted(PROBE_ROWS))
def test_loader_may_insert_and_read(role_conn, table):
    conn = role_conn("loader")
    conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute(f"insert into {table} {PROBE_ROWS[table]}")
        cur.execute(f"select count(*) from {table}")
        assert cur.fetchone()[0] >= 1
    conn.rollback()


@pytest.mark.parametrize("reader", ["auditor", "transformer"])
def test_readers_read_every_audit_table_and_view(role_conn, reader):
    conn = role_conn(reader)
    with conn.cursor() as cur:
        for name in TABLES + VIEWS:
            cur.execute(f"select count(*) from {name}")


def test_an_ingest_records_runs_and_files_by_appending(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land("acme_2026-11-01.csv", f"{HEADER}\n{row()}\n{row(pid='P2', height='999')}\n")
    first = env.ingest()
    assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in first.files] == [("loaded", 1, 1)]
    second = env.ingest()
    assert [f.status for f in second.files] == ["unchanged"]
    # Each invocation its own run_id; the same input, the same content fingerprint beside it.
    assert first.run_id != second.run_id and first.content_fingerprint == second.content_fingerprint
    runs = env.query(
        "select id, status, files_loaded, files_unchanged, ended_at is not null from audit.ingest_runs "
        "where content_fingerprint = %s order by id",
        first.content_fingerprint,
    )
    assert [r[1:] for r in runs] == [("succeeded", 1, 0, True), ("succeeded", 0, 1, True)]
    # Each run: a 'running' event, then its end, both kept.
    events = env.query(
        "select status from audit.ingest_run_events where coalesce(run_row, event_id) = %s order by event_id",
        runs[0][0],
    )
    assert events == [("running",), ("succeeded",)]
    manifest = env.query("select status, file_name from audit.file_manifest where feed = %s", env.feed)
    assert manifest == [("loaded", "acme_2026-11-01.csv")]
    # --force loads the same version again: a second manifest entry, the view shows the latest.
    env.ingest(force=True)
    entries = env.query("select count(*) from audit.file_manifest_entries where feed = %s", env.feed)
    assert entries == [(2,)]
    assert env.query("select count(*) from audit.file_manifest where feed = %s", env.feed) == [(1,)]


def test_a_run_left_running_is_closed_by_the_next_loader(ingest_env, role_conn):
    env = ingest_env
    conn = role_conn("loader")
    run_row = audit.start_run(conn, "abandoned-" + env.feed)
    env.write_feed()
    env.land("acme_2026-11-01.csv", f"{HEADER}\n{row()}\n")
    env.ingest()
    assert env.query("select status, error like 'abandoned%%' from audit.ingest_runs where id = %s", run_row) == [
        ("failed", True)
    ]


LEGACY_DDL = """
create table audit.ingest_runs (
    id bigserial primary key, run_id text not null, os_user text not null,
    db_role text not null default current_user, command_line text not null,
    started_at timestamptz not null default now(), ended_at timestamptz,
    status text not null, files_seen integer, files_loaded integer, files_unchanged integer,
    files_held integer, files_rejected integer, error text
);
create table audit.file_manifest (
    feed text not null, entity text not null, file_sha256 text not null, file_name text not null,
    client_id text, file_date date, file_seq integer, size_bytes bigint, status text not null, reason text,
    config_sha256 text not null, run_id text not null, recorded_at timestamptz not null default now(),
    primary key (feed, entity, file_sha256)
);
create table audit.file_loads (
    id bigserial primary key, run_id text not null, feed text not null, entity text, client_id text,
    file_name text not null, file_sha256 text, rows_read bigint not null default 0,
    rows_loaded bigint not null default 0, rows_quarantined bigint not null default 0,
    status text not null, reason text, seconds double precision,
    recorded_at timestamptz not null default now()
);
create table audit.watermarks (
    feed text not null, entity text not null, client_id text not null, column_name text not null,
    high_water timestamp not null, updated_at timestamptz not null default now(),
    primary key (feed, entity, client_id)
);
insert into audit.ingest_runs (run_id, os_user, command_line, status, ended_at, files_loaded)
    values ('old-run', 'me', 'warehouse ingest', 'succeeded', now(), 1),
           ('old-run-2', 'me', 'x', 'running', null, null);
insert into audit.file_manifest (feed, entity, file_sha256, file_name, status, config_sha256, run_id)
    values ('f', 'e', 'sha', 'a.csv', 'loaded', 'c', 'old-run');
insert into audit.file_loads (run_id, feed, file_name, status, rows_read, rows_loaded)
    values ('old-run', 'f', 'a.csv', 'loaded', 3, 3);
insert into audit.watermarks (feed, entity, client_id, column_name, high_water)
    values ('f', 'e', 'c', 'updated', '2026-01-02 03:04:05');
"""


@pytest.fixture
def legacy_database(target):
    """A database whose audit tables an earlier version's loader created (and owns), with history."""
    name = f"legacy_{secrets.token_hex(3)}"
    admin = connect(target.admin("postgres"))
    try:
        roles.ensure_database(admin, name)
    finally:
        admin.close()
    db = connect(target.admin(name))
    try:
        roles.apply_privileges(db, name)
    finally:
        db.close()
    loader = connect(target.role("loader", name))
    try:
        with loader.cursor() as cur:
            cur.execute(LEGACY_DDL)
    finally:
        loader.close()
    yield name
    target.drop(name)


def test_init_takes_over_and_converts_the_tables_of_an_earlier_version(target, legacy_database):
    target.init([legacy_database], log=lambda _msg: None)
    target.init([legacy_database], log=lambda _msg: None)  # a second init changes nothing
    admin = connect(target.admin(legacy_database))
    try:
        with admin.cursor() as cur:
            cur.execute("select id, run_id, status, files_loaded from audit.ingest_runs order by id")
            assert cur.fetchall() == [(1, "old-run", "succeeded", 1), (2, "old-run-2", "running", None)]
            cur.execute("select file_name, status from audit.file_manifest")
            assert cur.fetchall() == [("a.csv", "loaded")]
            cur.execute("select high_water::text from audit.watermarks")
            assert cur.fetchall() == [("2026-01-02 03:04:05",)]
            # Columns the old table lacked were added; the old rows kept.
            cur.execute("select rows_filtered, invalid_ratio from audit.file_loads")
            assert cur.fetchall() == [(0, None)]
            cur.execute(
                "select c.relname, pg_get_userbyid(c.relowner) from pg_class c "
                "where c.relnamespace = 'audit'::regnamespace and c.relkind in ('r', 'v', 'S')"
            )
            owners = dict(cur.fetchall())
            assert "loader" not in owners.values(), owners
    finally:
        admin.close()
    loader = connect(target.role("loader", legacy_database))
    loader.autocommit = False
    try:
        _refused(loader, "alter table audit.file_loads drop constraint file_loads_balance_superseded")
        _refused(loader, "delete from audit.file_loads")
        # The balance constraint is back (not validated against old rows, enforced on new ones).
        with pytest.raises(psycopg2.errors.CheckViolation), loader.cursor() as cur:
            cur.execute(
                "insert into audit.file_loads (run_id, feed, file_name, status, rows_read) "
                "values ('r', 'f', 'n', 'loaded', 1)"
            )
        loader.rollback()
        # A new run gets an id after the old ones.
        assert audit.start_run(loader, "new-run") > 2
        loader.commit()
    finally:
        loader.close()


def test_a_table_appended_to_the_ddl_is_created_owned_and_granted(target, test_database, role_conn):
    appended = audit.DDL + "\ncreate table if not exists audit.probe_appended (\n    id bigserial primary key\n);\n"
    admin = connect(target.admin(test_database))
    try:
        audit.create_tables(admin, writer="loader", readers=["auditor"], ddl=appended)
        # A column added to the DDL later reaches the existing table.
        grown = appended.replace("id bigserial primary key\n", "id bigserial primary key,\n    note text default 'x'\n")
        audit.create_tables(admin, writer="loader", readers=["auditor"], ddl=grown)
        loader = role_conn("loader")
        loader.autocommit = False
        with loader.cursor() as cur:
            cur.execute("insert into audit.probe_appended default values returning note")
            assert cur.fetchone() == ("x",)
        loader.commit()
        _refused(loader, "update audit.probe_appended set note = 'y'")
        _refused(loader, "drop table audit.probe_appended")
    finally:
        with admin.cursor() as cur:
            cur.execute("drop table if exists audit.probe_appended")
        admin.close()


def _first_column(conn, table: str) -> str:
    with conn.cursor() as cur:
        cur.execute(f"select * from {table} limit 0")
        return cur.description[0].name

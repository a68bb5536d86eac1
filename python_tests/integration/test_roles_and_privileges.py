"""What each role may and may not do, proved against a real server."""

from __future__ import annotations

import stat
import subprocess
import time
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest

from python_tests.conftest import PROJECT_ROOT, WAREHOUSE_BIN, run_cli
from warehouse.db.connection import ConnInfo, connect
from warehouse.db.roles import ROLES, SCHEMAS
from warehouse.dbt_runner import run_dbt

pytestmark = pytest.mark.integration

FORBIDDEN_TO_ANALYST = ("raw", "quarantine", "audit", "staging", "refined")


@pytest.fixture
def table_in_every_schema(admin_conn):
    with admin_conn.cursor() as cur:
        for schema in SCHEMAS:
            cur.execute(f"create table if not exists {schema}.probe (id int)")
            cur.execute(f"insert into {schema}.probe values (1)")
    yield
    with admin_conn.cursor() as cur:
        for schema in SCHEMAS:
            cur.execute(f"drop table if exists {schema}.probe")


def test_analyst_can_connect_and_select(role_conn):
    with role_conn("analyst").cursor() as cur:
        cur.execute("select 1")
        assert cur.fetchone() == (1,)


@pytest.mark.parametrize("schema", [*SCHEMAS, "public"])
def test_analyst_cannot_create_tables_anywhere(role_conn, schema):
    conn = role_conn("analyst")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
        cur.execute(f"create table {schema}.analyst_was_here (id int)")


def test_analyst_cannot_create_temporary_tables(role_conn):
    conn = role_conn("analyst")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
        cur.execute("create temporary table scratch (id int)")


@pytest.mark.parametrize("schema", FORBIDDEN_TO_ANALYST)
def test_analyst_cannot_read_outside_derived(role_conn, table_in_every_schema, schema):
    conn = role_conn("analyst")
    with (
        pytest.raises(psycopg2.errors.InsufficientPrivilege, match="permission denied"),
        conn.cursor() as cur,
    ):
        cur.execute(f"select * from {schema}.probe")


@pytest.mark.parametrize("writer", ["loader", "transformer"])
def test_auditor_reads_audit_tables_written_by_pipeline_roles(role_conn, writer):
    with role_conn(writer).cursor() as cur:
        cur.execute(f"create table audit.{writer}_probe (id int)")
        cur.execute(f"insert into audit.{writer}_probe values (1)")
    try:
        with role_conn("auditor").cursor() as cur:
            cur.execute(f"select count(*) from audit.{writer}_probe")
            assert cur.fetchone() == (1,)
    finally:
        with role_conn(writer).cursor() as cur:
            cur.execute(f"drop table audit.{writer}_probe")


@pytest.mark.parametrize("schema", [s for s in SCHEMAS if s != "audit"])
def test_auditor_cannot_read_outside_audit(role_conn, table_in_every_schema, schema):
    conn = role_conn("auditor")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
        cur.execute(f"select * from {schema}.probe")


def test_loader_writes_raw_and_transformer_reads_it(role_conn):
    loader = role_conn("loader")
    with loader.cursor() as cur:
        cur.execute("create table raw.loader_probe (id int)")
        cur.execute("insert into raw.loader_probe values (7)")
    try:
        transformer = role_conn("transformer")
        with transformer.cursor() as cur:
            # Default privileges: tables the loader creates later are readable by dbt too.
            cur.execute("select id from raw.loader_probe")
            assert cur.fetchall() == [(7,)]
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), transformer.cursor() as cur:
            cur.execute("insert into raw.loader_probe values (8)")
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), loader.cursor() as cur:
            cur.execute("create table derived.loader_probe (id int)")
    finally:
        with loader.cursor() as cur:
            cur.execute("drop table raw.loader_probe")


def test_dbt_grants_let_analyst_read_derived_models_and_nothing_else(target, test_database, role_conn, monkeypatch):
    """Build the real dbt project into the throwaway database: the derived model lands in schema
    `derived` (not `staging_derived`) and dbt's grants make it readable by analyst; the seed it
    is built from (schema `refined`) stays out of reach."""
    monkeypatch.setenv("WAREHOUSE_DB_NAME", test_database)
    assert run_dbt(["deps", "--quiet"], target=target) == 0
    assert run_dbt(["build", "--quiet", "--select", "+dim_age_bracket"], target=target) == 0
    analyst = role_conn("analyst")
    with analyst.cursor() as cur:
        cur.execute("select count(*) from derived.dim_age_bracket")
        assert cur.fetchone()[0] >= 1
    with pytest.raises(psycopg2.errors.InsufficientPrivilege), analyst.cursor() as cur:
        cur.execute("select * from refined.age_brackets")


# ---- hostile input: what interactive roles cannot take or read (issue "Privacy holds", item 7) ----


def _raw_connect(info: ConnInfo) -> psycopg2.extensions.connection:
    """One attempt, no retry: a refusal is what these tests look for."""
    return psycopg2.connect(
        host=info.host, port=info.port, user=info.user, password=info.password, dbname=info.dbname, connect_timeout=10
    )


def test_analyst_sessions_cannot_lock_out_the_pipeline(target, test_database):
    """97 analyst sessions once locked the loader and dbt out. Now the 21st analyst is refused, and
    the loader and transformer connect whatever analysts hold; they also own reserved slots."""
    opened: list[psycopg2.extensions.connection] = []
    refused = None
    try:
        for _ in range(98):
            try:
                opened.append(_raw_connect(target.role("analyst", test_database)))
            except psycopg2.OperationalError as exc:
                refused = str(exc)
                break
        assert refused is not None and "too many connections for role" in refused, refused
        assert len(opened) <= ROLES["analyst"].connection_limit
        for role in ("loader", "transformer"):
            conn = _raw_connect(target.role(role, test_database))
            with conn.cursor() as cur:
                cur.execute("select pg_has_role(current_user, 'pg_use_reserved_connections', 'USAGE')")
                assert cur.fetchone() == (True,)
            conn.close()
    finally:
        for conn in opened:
            conn.close()


@pytest.mark.parametrize("role", ["analyst", "auditor"])
def test_interactive_sessions_have_time_limits(role_conn, role):
    with role_conn(role).cursor() as cur:
        for name, value in ROLES[role].settings:
            cur.execute(f"show {name}")
            assert cur.fetchone() == (value,), name


def test_analyst_statement_timeout_cancels_a_long_query(target, test_database, admin_conn):
    """The role's setting applies to every new session without the client asking. (Shortened to 1 s
    in this database, a more specific setting than the role's own 5 min, to keep the test quick.)"""
    with admin_conn.cursor() as cur:
        cur.execute(f"alter role analyst in database \"{test_database}\" set statement_timeout = '1s'")
    try:
        conn = connect(target.role("analyst", test_database))
        try:
            with pytest.raises(psycopg2.errors.QueryCanceled, match="statement timeout"), conn.cursor() as cur:
                cur.execute("select pg_sleep(10)")
        finally:
            conn.close()
    finally:
        with admin_conn.cursor() as cur:
            cur.execute(f'alter role analyst in database "{test_database}" reset statement_timeout')


@pytest.mark.parametrize("role", ["analyst", "auditor"])
@pytest.mark.parametrize("database", ["postgres", "warehouse database"])
def test_no_large_objects_or_temporary_tables(target, test_database, role, database):
    conn = connect(target.role(role, test_database if database == "warehouse database" else database))
    try:
        for statement in (
            "select lo_create(0)",
            "select lo_creat(-1)",
            "select lo_from_bytea(0, 'x')",
            "create temporary table scratch (id int)",
        ):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
                cur.execute(statement)
        # Nor through libpq's own large-object calls (the fast-path interface).
        with pytest.raises(psycopg2.Error):
            conn.lobject(0, "wb")
    finally:
        conn.close()


def test_databases_created_later_inherit_the_catalogue_privileges(target, admin_conn):
    """template1 is hardened too: a database created from it refuses large objects and the lineage
    in attmissingval without `db init` having run on it."""
    name = f"{admin_conn.info.dbname}_later"
    with admin_conn.cursor() as cur:
        cur.execute(f'create database "{name}"')
    try:
        conn = connect(target.role("analyst", name))
        try:
            for statement in ("select lo_create(0)", "select attmissingval from pg_attribute limit 1"):
                with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
                    cur.execute(statement)
        finally:
            conn.close()
    finally:
        target.drop(name)


LINEAGE_MARKER = "first-file-lineage-marker.csv"
# By name, not ::regclass: that needs USAGE on the schema, which the auditor lacks on derived.
PROBE_OID = (
    "(select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace "
    "where n.nspname = 'derived' and c.relname = 'lineage_probe')"
)


@pytest.fixture
def table_with_missing_value(admin_conn):
    """A table whose rows predate a column added with a default: PostgreSQL keeps that default in
    pg_attribute.attmissingval, as promotion's lineage columns do."""
    with admin_conn.cursor() as cur:
        cur.execute("create table derived.lineage_probe (id int)")
        cur.execute("insert into derived.lineage_probe values (1)")
        cur.execute(f"alter table derived.lineage_probe add column _file_name text default '{LINEAGE_MARKER}'")
        cur.execute("alter table derived.lineage_probe alter column _file_name drop default")
        cur.execute("grant select on derived.lineage_probe to analyst")
        cur.execute(
            "select attmissingval::text from pg_attribute "
            "where attrelid = 'derived.lineage_probe'::regclass and attname = '_file_name'"
        )
        assert LINEAGE_MARKER in cur.fetchone()[0]  # the probe holds what the test must not read
    yield
    with admin_conn.cursor() as cur:
        cur.execute("drop table derived.lineage_probe")


@pytest.mark.parametrize("role", ["analyst", "auditor", "transformer"])
def test_catalogue_does_not_reveal_missing_values(role_conn, table_with_missing_value, role):
    conn = role_conn(role)
    for query in (
        f"select attmissingval from pg_attribute where attrelid = {PROBE_OID}",
        f"select * from pg_attribute where attrelid = {PROBE_OID}",
    ):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
            cur.execute(query)
    # Every other column stays readable: psql, dbt and information_schema select them by name.
    with conn.cursor() as cur:
        cur.execute(
            f"select attname, atthasmissing from pg_attribute where attrelid = {PROBE_OID} "
            "and attnum > 0 order by attnum"
        )
        assert cur.fetchall() == [("id", False), ("_file_name", True)]


def test_psql_describe_still_works_for_analyst(test_database, table_with_missing_value):
    result = run_cli("db", "psql", "--role", "analyst", "--database", test_database, "-c", r"\d derived.lineage_probe")
    assert result.returncode == 0, result.stderr
    assert "_file_name" in result.stdout
    assert LINEAGE_MARKER not in result.stdout + result.stderr


def _process_tree(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found.extend(_process_tree(int(child)))
    return found


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_psql_password_is_not_in_any_argv(target, test_database, role):
    """`ps` shows every user each process's argv; psql gets its password from a 0600 file in the
    secrets folder instead (and the environment handed to it holds none either)."""
    secrets_dir = target.state.secrets
    passwords = [p.read_text().strip() for p in secrets_dir.glob("*.password")]
    proc = subprocess.Popen(
        [WAREHOUSE_BIN, "db", "psql", "--role", role, "--database", test_database, "-c", "select pg_sleep(3)"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        seen: dict[int, bytes] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            for pid in _process_tree(proc.pid):
                try:
                    seen[pid] = Path(f"/proc/{pid}/cmdline").read_bytes() + Path(f"/proc/{pid}/environ").read_bytes()
                except OSError:
                    continue
            if any(b"psql" in text.split(b"\0")[0] for text in seen.values()):
                break
            time.sleep(0.05)
        assert any(b"psql" in text.split(b"\0")[0] for text in seen.values()), "psql never started"
        for text in seen.values():
            for password in passwords:
                assert password.encode() not in text
    finally:
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    for path in secrets_dir.glob("*.pgpass"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_transformer_cannot_read_quarantine_stage_tables(role_conn):
    """dlt lands quarantined rows in raw.stage__*_quarantine as the loader; the default privileges
    of raw would let dbt read them, the database's DDL guard takes that back in the same transaction."""
    loader = role_conn("loader")
    with loader.cursor() as cur:
        cur.execute("create table raw.stage__probe__rows_quarantine (_record_id text, ssn text)")
        cur.execute("insert into raw.stage__probe__rows_quarantine values ('r1', '123-45-6789')")
        cur.execute("create table raw.stage__probe__rows (_record_id text)")
        cur.execute("create table raw.stage__probe__later (_record_id text)")
        cur.execute("alter table raw.stage__probe__later rename to stage__probe__later_quarantine")
    try:
        transformer = role_conn("transformer")
        for table in ("stage__probe__rows_quarantine", "stage__probe__later_quarantine"):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege), transformer.cursor() as cur:
                cur.execute(f"select * from raw.{table}")
        with transformer.cursor() as cur:
            cur.execute("select count(*) from raw.stage__probe__rows")  # other stage tables: readable as before
        with loader.cursor() as cur:
            cur.execute("select _record_id from raw.stage__probe__rows_quarantine")
            assert cur.fetchall() == [("r1",)]
    finally:
        with loader.cursor() as cur:
            cur.execute(
                "drop table raw.stage__probe__rows_quarantine, raw.stage__probe__rows, "
                "raw.stage__probe__later_quarantine"
            )


def test_auditor_reads_keys_not_values_of_stored_failures(role_conn):
    transformer = role_conn("transformer")
    with transformer.cursor() as cur:
        cur.execute(
            "create table dq_failures.probe_failures as "
            "select 'r1'::text as _record_id, 'k1'::text as patient_key, 'Jane Roe'::text as full_name"
        )
    try:
        auditor = role_conn("auditor")
        for query in ("select full_name from dq_failures.probe_failures", "select * from dq_failures.probe_failures"):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege), auditor.cursor() as cur:
                cur.execute(query)
        with auditor.cursor() as cur:
            cur.execute("select _record_id, patient_key from dq_failures.probe_failures")
            assert cur.fetchall() == [("r1", "k1")]
    finally:
        with transformer.cursor() as cur:
            cur.execute("drop table dq_failures.probe_failures")


def test_dbt_keeps_no_password_in_its_files(target, test_database, monkeypatch):
    """dbt gets the transformer's password in its environment; none of its files may keep it."""
    monkeypatch.setenv("WAREHOUSE_DB_NAME", test_database)
    assert run_dbt(["deps", "--quiet"], target=target) == 0
    assert run_dbt(["build", "--quiet", "--select", "+dim_age_bracket"], target=target) == 0
    password = target.role("transformer").password.encode()
    for folder in (PROJECT_ROOT / "target", PROJECT_ROOT / "logs"):
        for path in folder.rglob("*"):
            if path.is_file():
                try:
                    assert password not in path.read_bytes(), path
                except FileNotFoundError:
                    continue  # another dbt run replaced it meanwhile

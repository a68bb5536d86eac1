"""What each role may and may not do, proved against a real server."""

from __future__ import annotations

import psycopg2
import pytest

from warehouse.db.roles import SCHEMAS
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

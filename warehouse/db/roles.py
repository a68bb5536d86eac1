"""Schemas, roles and privileges: what each role may touch, created idempotently by `warehouse db init`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

# dq_failures holds dbt's stored failing rows (store_failures): whole model rows, values included, so
# only the transformer reads them; the auditor is granted their key columns one table at a time
# (see GUARD_FUNCTION).
SCHEMAS = ("raw", "quarantine", "audit", "dq_failures", "staging", "refined", "derived", "snapshots")
FAILURES_SCHEMA = "dq_failures"
# Columns of a failing-rows table the auditor may read: lineage and surrogate keys, never values.
FAILURE_KEY_COLUMN = r"^(_record_id|[a-z0-9_]*_key)$"
# dlt's stage tables of quarantined rows (raw.stage__<feed>__<entity>_quarantine): invalid values the
# transformer has no business reading, although it reads everything else in raw.
QUARANTINE_STAGE_PATTERN = r"^stage__.*_quarantine$"


# Session defaults of the interactive roles: a runaway query or a forgotten open transaction or
# session gives its connection back. These are defaults a session may lower or raise with SET (no
# PostgreSQL setting can forbid that for a user-settable parameter); the hard bound on what
# analysts can take is their CONNECTION LIMIT plus the reserved slots of the pipeline roles.
INTERACTIVE_SETTINGS = (
    ("statement_timeout", "5min"),
    ("idle_in_transaction_session_timeout", "5min"),
    ("idle_session_timeout", "30min"),
)

# Server-wide connection budget (warehouse/db/server.py writes it into the server's settings):
# max_connections minus the superuser's slots minus RESERVED_CONNECTIONS is what everyone else
# shares; the loader and the transformer (members of pg_use_reserved_connections) also get the
# reserved ones. Analyst plus auditor limits stay well below the shared part.
MAX_CONNECTIONS = 100
SUPERUSER_RESERVED_CONNECTIONS = 3
RESERVED_CONNECTIONS = 12


@dataclass(frozen=True)
class Role:
    name: str
    purpose: str
    usage: tuple[str, ...]  # schemas it may see into
    create: tuple[str, ...]  # schemas it may create tables in
    reads: tuple[str, ...]  # schemas whose tables (present and future) it may select
    temp: bool = False  # may create temporary tables (dbt's incremental models and snapshots do)
    # Interactive roles are bounded so that they can never take the connections or time the
    # pipeline needs; pipeline roles instead get the reserved connection slots.
    connection_limit: int = -1
    reserved_connections: bool = False
    settings: tuple[tuple[str, str], ...] = ()


ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role(
            "loader",
            "the ingest job: writes raw, quarantine and audit",
            usage=("raw", "quarantine", "audit"),
            create=("raw", "quarantine", "audit"),
            reads=(),
            temp=True,
            reserved_connections=True,
        ),
        Role(
            "transformer",
            "runs dbt: reads raw, writes staging, refined, derived, snapshots and audit",
            usage=("raw", "audit", "dq_failures", "staging", "refined", "derived", "snapshots"),
            create=("audit", "dq_failures", "staging", "refined", "derived", "snapshots"),
            reads=("raw", "audit"),
            temp=True,
            reserved_connections=True,
        ),
        # Analysts get SELECT on derived models only through dbt's `grants` config.
        Role(
            "analyst",
            "analysts: reads derived only",
            usage=("derived",),
            create=(),
            reads=(),
            connection_limit=20,
            settings=INTERACTIVE_SETTINGS,
        ),
        # The auditor sees dq_failures only column by column: the key columns the guard grants.
        Role(
            "auditor",
            "data-quality owners: reads audit only, and the key columns of dbt's failing rows",
            usage=("audit", "dq_failures"),
            create=(),
            reads=("audit",),
            connection_limit=10,
            settings=INTERACTIVE_SETTINGS,
        ),
    )
}

# Who creates tables in each schema: default privileges must be declared per creating role.
WRITERS: dict[str, tuple[str, ...]] = {
    schema: tuple(role.name for role in ROLES.values() if schema in role.create) for schema in SCHEMAS
}


def _exists(cur: psycopg2.extensions.cursor, query: str, *args: object) -> bool:
    cur.execute(query, args)
    return cur.fetchone() is not None


def ensure_database(admin: psycopg2.extensions.connection, dbname: str) -> bool:
    """Create `dbname` when missing. True when it was created."""
    with admin.cursor() as cur:
        if _exists(cur, "select 1 from pg_database where datname = %s", dbname):
            return False
        cur.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
        return True


def ensure_role(admin: psycopg2.extensions.connection, name: str, password: str, *, reset_password: bool) -> bool:
    """Create a login role. The password goes over the wire as a SCRAM verifier, so the server's
    DDL log never sees it in clear. True when the role was created."""
    verifier = psycopg2.extensions.encrypt_password(password, name, admin, "scram-sha-256")
    with admin.cursor() as cur:
        created = not _exists(cur, "select 1 from pg_roles where rolname = %s", name)
        if created:
            cur.execute(
                sql.SQL("create role {} login password {} nosuperuser nocreatedb nocreaterole noinherit").format(
                    sql.Identifier(name), sql.Literal(verifier)
                )
            )
        elif reset_password:
            cur.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(name), sql.Literal(verifier)))
    return created


def apply_privileges(conn: psycopg2.extensions.connection, dbname: str) -> None:
    """Schemas and privileges inside one database. Every statement is idempotent."""
    ident = sql.Identifier
    statements: list[sql.Composable] = [
        sql.SQL("revoke all on database {} from public").format(ident(dbname)),
        sql.SQL("revoke all on schema public from public"),
    ]
    for schema in SCHEMAS:
        statements.append(sql.SQL("create schema if not exists {}").format(ident(schema)))
        statements.append(sql.SQL("revoke all on schema {} from public").format(ident(schema)))
    for role in ROLES.values():
        statements.append(sql.SQL("grant connect on database {} to {}").format(ident(dbname), ident(role.name)))
        if role.temp:
            statements.append(sql.SQL("grant temporary on database {} to {}").format(ident(dbname), ident(role.name)))
        for schema in role.usage:
            statements.append(sql.SQL("grant usage on schema {} to {}").format(ident(schema), ident(role.name)))
        for schema in role.create:
            statements.append(sql.SQL("grant create on schema {} to {}").format(ident(schema), ident(role.name)))
        for schema in role.reads:
            statements.append(
                sql.SQL("grant select on all tables in schema {} to {}").format(ident(schema), ident(role.name))
            )
            for writer in WRITERS[schema]:
                if writer == role.name:
                    continue
                statements.append(
                    sql.SQL("alter default privileges for role {} in schema {} grant select on tables to {}").format(
                        ident(writer), ident(schema), ident(role.name)
                    )
                )
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
        _withdraw_failures_left_in_audit(cur)


def _withdraw_failures_left_in_audit(cur: psycopg2.extensions.cursor) -> None:
    """dbt stored failing rows in `audit` before they moved to dq_failures: whole rows the auditor
    must not read. They stay for the transformer; the auditor loses them."""
    cur.execute("select to_regclass('audit.dbt_node_results') is not null")
    if not cur.fetchone()[0]:
        return
    cur.execute("select distinct failures_relation from audit.dbt_node_results where failures_relation is not null")
    for (relation,) in cur.fetchall():
        parts = [part.strip('"') for part in relation.split(".")][-2:]
        if len(parts) != 2 or parts[0] != "audit":
            continue
        cur.execute("select to_regclass(%s) is not null", (sql.Identifier(*parts).as_string(cur),))
        if cur.fetchone()[0]:
            cur.execute(sql.SQL("revoke all on table {} from auditor").format(sql.Identifier(*parts)))


def apply_role_limits(admin: psycopg2.extensions.connection, log: Callable[[str], None] = print) -> None:
    """Connection limits, reserved connection slots and session defaults of each role (cluster-wide)."""
    ident = sql.Identifier
    with admin.cursor() as cur:
        reserved_role = _exists(cur, "select 1 from pg_roles where rolname = 'pg_use_reserved_connections'")
        for role in ROLES.values():
            cur.execute(
                sql.SQL("alter role {} connection limit {}").format(
                    ident(role.name), sql.Literal(role.connection_limit)
                )
            )
            for name, value in role.settings:
                cur.execute(
                    sql.SQL("alter role {} set {} = {}").format(ident(role.name), ident(name), sql.Literal(value))
                )
            if role.reserved_connections and reserved_role:
                # WITH INHERIT TRUE: the roles are NOINHERIT, and the server checks the privileges
                # the role has, not the roles it could SET ROLE to.
                cur.execute(
                    sql.SQL("grant pg_use_reserved_connections to {} with inherit true").format(ident(role.name))
                )
        if not reserved_role:
            log("this PostgreSQL has no reserved_connections (version 16+): the pipeline roles get no reserved slots")


# Functions that create a large object. A large object is storage outside every schema's privileges
# that any role could fill; nobody in the warehouse needs one. (lo_import is superuser-only already.)
LARGE_OBJECT_CREATORS = (
    "lo_create(oid)",
    "lo_creat(integer)",
    "lo_from_bytea(oid, bytea)",
    "lo_import(text)",
    "lo_import(text, oid)",
)


def harden_database(conn: psycopg2.extensions.connection) -> None:
    """Catalogue privileges inside one database (run in every database, template1 included, so
    databases created from it inherit them). Idempotent, and a no-op once done: no catalogue row is
    rewritten on every init. Needs a superuser."""
    with conn.cursor() as cur:
        for function in LARGE_OBJECT_CREATORS:
            cur.execute(
                "select exists (select 1 from pg_catalog.pg_proc p, "
                "aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a "
                "where p.oid = %s::regprocedure and a.grantee = 0 and a.privilege_type = 'EXECUTE')",
                (f"pg_catalog.{function}",),
            )
            if cur.fetchone()[0]:
                cur.execute(sql.SQL("revoke execute on function pg_catalog.{} from public").format(sql.SQL(function)))
        # attmissingval keeps the value a column added with a default had for the rows already there:
        # promotion adds its lineage columns that way, so it would hold a file's name, hash, client
        # and run id, readable by every role. All the other columns stay readable (psql's \d, dbt's
        # catalogue and information_schema select them by name).
        cur.execute(
            "select exists (select 1 from pg_catalog.pg_class c, "
            "aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a "
            "where c.oid = 'pg_catalog.pg_attribute'::regclass and a.grantee = 0 and a.privilege_type = 'SELECT'), "
            "exists (select 1 from pg_catalog.pg_attribute t, aclexplode(t.attacl) a "
            "where t.attrelid = 'pg_catalog.pg_attribute'::regclass and t.attname = 'attname' and a.grantee = 0)"
        )
        table_wide, by_column = cur.fetchone()
        if by_column and not table_wide:
            return
        cur.execute(
            "select attname from pg_catalog.pg_attribute where attrelid = 'pg_catalog.pg_attribute'::regclass "
            "and attnum > 0 and not attisdropped and attname <> 'attmissingval' order by attnum"
        )
        columns = [row[0] for row in cur.fetchall()]
        cur.execute("revoke select on table pg_catalog.pg_attribute from public")
        cur.execute(
            sql.SQL("grant select ({}) on table pg_catalog.pg_attribute to public").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in columns)
            )
        )


def revoke_temporary_from_public(admin: psycopg2.extensions.connection) -> None:
    """Temporary tables only for the roles that need them, in every database of the server
    (`postgres` and the templates too: PUBLIC gets TEMPORARY on a database by default)."""
    with admin.cursor() as cur:
        cur.execute("select datname from pg_database order by datname")
        for (dbname,) in cur.fetchall():
            try:
                cur.execute(sql.SQL("revoke temporary on database {} from public").format(sql.Identifier(dbname)))
            except psycopg2.errors.InvalidCatalogName:
                continue  # dropped since it was listed (a test's scratch database)


def is_superuser(conn: psycopg2.extensions.connection) -> bool:
    with conn.cursor() as cur:
        cur.execute("select rolsuper from pg_roles where rolname = current_user")
        row = cur.fetchone()
    return bool(row and row[0])


# Run by the event trigger below at the end of every DDL command, as the role that ran it (the
# owner of what it created), inside that command's transaction: nothing is readable by anyone else
# before the grants are right.
GUARD_FUNCTION = """
create or replace function warehouse_guard.on_ddl_end() returns event_trigger
language plpgsql
set search_path = pg_catalog
as $guard$
declare
    created record;
    rel record;
    col record;
begin
    for created in
        select objid from pg_event_trigger_ddl_commands()
        where classid = 'pg_catalog.pg_class'::regclass
          and command_tag in ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'CREATE VIEW', 'ALTER TABLE')
    loop
        select c.oid, c.relname, n.nspname, c.relkind into rel
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.oid = created.objid;
        if not found or rel.relkind not in ('r', 'p', 'v', 'm') then
            continue;
        end if;
        if rel.nspname = 'raw' and rel.relname ~ {quarantine_pattern} then
            -- dlt's stage table of quarantined rows: the loader's alone, whatever default
            -- privileges granted when it was created (or renamed into this name).
            execute format('revoke all on table %I.%I from {others}', rel.nspname, rel.relname);
        elsif rel.nspname = {failures_schema} then
            -- dbt's stored failing rows: the auditor reads their key columns and nothing else.
            for col in
                select a.attname from pg_attribute a
                where a.attrelid = rel.oid and a.attnum > 0 and not a.attisdropped
                  and a.attname ~ {key_pattern}
            loop
                execute format('grant select (%I) on table %I.%I to auditor', col.attname, rel.nspname, rel.relname);
            end loop;
        end if;
    end loop;
end
$guard$
"""


def install_guard(conn: psycopg2.extensions.connection) -> None:
    """The event trigger that keeps quarantine stage tables the loader's own and grants the auditor
    only the key columns of dbt's failing rows. Needs a superuser (event triggers do)."""
    others = ", ".join(["public", *(name for name in ROLES if name != "loader")])
    body = GUARD_FUNCTION.format(
        quarantine_pattern=sql.Literal(QUARANTINE_STAGE_PATTERN).as_string(conn),
        failures_schema=sql.Literal(FAILURES_SCHEMA).as_string(conn),
        key_pattern=sql.Literal(FAILURE_KEY_COLUMN).as_string(conn),
        others=others,
    )
    with conn.cursor() as cur:
        # A schema of its own that no role but the superuser may touch: the function runs for every
        # role's DDL, so nobody else may replace it.
        cur.execute("create schema if not exists warehouse_guard")
        cur.execute("revoke all on schema warehouse_guard from public")
        cur.execute(body)
        cur.execute("revoke all on function warehouse_guard.on_ddl_end() from public")
        if not _exists(cur, "select 1 from pg_event_trigger where evtname = 'warehouse_guard'"):
            cur.execute(
                "create event trigger warehouse_guard on ddl_command_end "
                "when tag in ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'CREATE VIEW', 'ALTER TABLE') "
                "execute function warehouse_guard.on_ddl_end()"
            )
        # Tables made before the trigger existed get the same treatment.
        cur.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'raw' and c.relkind in ('r', 'p') and c.relname ~ %s",
            (QUARANTINE_STAGE_PATTERN,),
        )
        for (name,) in cur.fetchall():
            cur.execute(sql.SQL("revoke all on table raw.{} from " + others).format(sql.Identifier(name)))

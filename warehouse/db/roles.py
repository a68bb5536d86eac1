"""Schemas, roles and privileges: what each role may touch, created idempotently by `warehouse db init`."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2.extensions
from psycopg2 import sql

SCHEMAS = ("raw", "quarantine", "audit", "staging", "refined", "derived", "snapshots")


@dataclass(frozen=True)
class Role:
    name: str
    purpose: str
    usage: tuple[str, ...]  # schemas it may see into
    create: tuple[str, ...]  # schemas it may create tables in
    reads: tuple[str, ...]  # schemas whose tables (present and future) it may select
    temp: bool = False  # may create temporary tables (dbt's incremental models and snapshots do)


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
        ),
        Role(
            "transformer",
            "runs dbt: reads raw, writes staging, refined, derived, snapshots and audit",
            usage=("raw", "audit", "staging", "refined", "derived", "snapshots"),
            create=("audit", "staging", "refined", "derived", "snapshots"),
            reads=("raw", "audit"),
            temp=True,
        ),
        # Analysts get SELECT on derived models only through dbt's `grants` config.
        Role("analyst", "analysts: reads derived only", usage=("derived",), create=(), reads=()),
        Role("auditor", "data-quality owners: reads audit only", usage=("audit",), create=(), reads=("audit",)),
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

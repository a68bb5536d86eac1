"""The warehouse's database target: embedded or external, and the credentials of each role."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ingest import audit
from warehouse.db import roles
from warehouse.db.connection import (
    DEV_DATABASE,
    ConnInfo,
    connect,
    external_admin,
    external_requested,
    server_version_ok,
)
from warehouse.db.server import HOST, SUPERUSER, EmbeddedServer
from warehouse.errors import WarehouseError
from warehouse.paths import StatePaths
from warehouse.secrets import ensure_secret, read_secret

ADMIN = "admin"
INIT_LOCK = 7_230_611  # pg_advisory_lock key of `warehouse db init`
ROLE_CHOICES = (ADMIN, *roles.ROLES)


@dataclass
class Target:
    state: StatePaths
    external: bool

    @classmethod
    def discover(cls) -> Target:
        return cls(state=StatePaths.discover(), external=external_requested())

    @property
    def server(self) -> EmbeddedServer:
        return EmbeddedServer(self.state)

    # ---- databases -----------------------------------------------------------------------------
    @property
    def dev_database(self) -> str:
        return external_admin().dbname if self.external else DEV_DATABASE

    @property
    def ci_database(self) -> str:
        return os.environ.get("WAREHOUSE_CI_DATABASE", f"{self.dev_database}_ci")

    def database(self, override: str | None = None) -> str:
        return override or os.environ.get("WAREHOUSE_DB_NAME") or self.dev_database

    # ---- credentials ----------------------------------------------------------------------------
    def admin(self, dbname: str | None = None) -> ConnInfo:
        if self.external:
            info = external_admin()
            return info.with_(dbname=dbname) if dbname else info
        status = self.server.status()
        if not status.running:
            raise WarehouseError(f"the embedded PostgreSQL is {status.describe()}")
        return ConnInfo(HOST, int(status.port), SUPERUSER, self.server.superuser_password, dbname or DEV_DATABASE)

    def role_password_path(self, role: str):
        return self.state.secrets / f"{role}.password"

    def role(self, role: str, dbname: str | None = None) -> ConnInfo:
        if role == ADMIN:
            return self.admin(dbname or self.database())
        if role not in roles.ROLES:
            raise WarehouseError(f"unknown role {role!r}; choose one of {', '.join(ROLE_CHOICES)}")
        password = read_secret(self.role_password_path(role))
        base = self.admin(dbname or self.database())
        return base.with_(user=role, password=password)

    # ---- init ------------------------------------------------------------------------------------
    def init(self, databases: list[str] | None = None, log=print) -> None:
        """Databases, roles, schemas and privileges; safe to run any number of times."""
        targets = databases or [self.dev_database, self.ci_database]
        maintenance = self.admin("postgres") if not self.external else self.admin()
        conn = connect(maintenance)
        try:
            server_version_ok(conn, maintenance)
            # One init at a time (test sessions run theirs concurrently): two sessions granting on the
            # same catalogue row (a role, template1's functions) fail with "tuple concurrently updated".
            # Held by this connection until the end of init.
            with conn.cursor() as cur:
                cur.execute("select pg_advisory_lock(%s)", (INIT_LOCK,))
            for dbname in targets:
                if dbname != maintenance.dbname and _try_create(conn, dbname):
                    log(f"created database {dbname}")
            for name in roles.ROLES:
                path = self.role_password_path(name)
                fresh = not path.exists()
                password = ensure_secret(path)
                if roles.ensure_role(conn, name, password, reset_password=fresh):
                    log(f"created role {name}")
            superuser = roles.is_superuser(conn)
            if superuser:
                roles.apply_role_limits(conn, log)
                roles.revoke_temporary_from_public(conn)
                others = _other_databases(conn, targets)
            else:
                log("the admin role is not a superuser: role limits, catalogue privileges and the DDL guard skipped")
                others = []
            self._init_databases(targets, others, superuser, log)
        finally:
            conn.close()

    def _init_databases(self, targets: list[str], others: list[str], superuser: bool, log) -> None:
        for dbname in targets:
            db = connect(self.admin(dbname))
            try:
                roles.apply_privileges(db, dbname)
                if superuser:
                    roles.harden_database(db)
                    roles.install_guard(db)
                # Owned by the admin, not the loader: the loader may append to its history, never rewrite it.
                audit.create_tables(
                    db, writer="loader", readers=[r.name for r in roles.ROLES.values() if "audit" in r.reads]
                )
            finally:
                db.close()
        # Every other database analysts can connect to (postgres, template1 and so every database
        # created from it later, other warehouse databases) gets the same catalogue privileges.
        for dbname in others:
            self._harden_other(dbname, log)

    def _harden_other(self, dbname: str, log) -> None:
        import psycopg2

        essential = dbname in ("postgres", "template1")
        try:
            db = connect(self.admin(dbname), total_seconds=5, attempts=2)
        except WarehouseError as exc:
            if essential:
                raise
            log(f"database {dbname} not hardened: {exc}")  # dropped meanwhile (a test's scratch database)
            return
        try:
            roles.harden_database(db)
        except psycopg2.OperationalError as exc:
            if essential:
                raise
            log(f"database {dbname} not hardened: {str(exc).strip().splitlines()[0]}")
        finally:
            db.close()

    def drop(self, dbname: str) -> None:
        """Drop a (throwaway) database, closing its open connections first."""
        conn = connect(self.admin("postgres") if not self.external else self.admin())
        try:
            with conn.cursor() as cur:
                cur.execute(f'drop database if exists "{dbname}" with (force)')
        finally:
            conn.close()


def _other_databases(conn, targets: list[str]) -> list[str]:
    """Connectable databases besides `targets`, template1 first: a database created while this runs
    copies it already hardened."""
    with conn.cursor() as cur:
        cur.execute(
            "select datname from pg_database where datallowconn and not (datname = any(%s)) "
            "order by datname <> 'template1', datname",
            (targets,),
        )
        return [row[0] for row in cur.fetchall()]


def _try_create(conn, dbname: str) -> bool:
    import psycopg2

    try:
        return roles.ensure_database(conn, dbname)
    except psycopg2.errors.InsufficientPrivilege:
        raise WarehouseError(
            f"cannot create database {dbname!r}: the admin role lacks CREATEDB; create it and rerun"
        ) from None

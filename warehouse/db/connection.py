"""Which PostgreSQL the warehouse talks to, and connecting to it with bounded retries.

Embedded (default): the private server under `.warehouse/`. External: `WAREHOUSE_DB_URL`, or the
standard `PGHOST`/`PGPORT`/`PGUSER`/`PGPASSWORD`/`PGDATABASE`; then nothing embedded starts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import psycopg2
import psycopg2.extensions

from warehouse.errors import WarehouseError

DEV_DATABASE = "warehouse"
MIN_SERVER_VERSION = 140000


@dataclass(frozen=True)
class ConnInfo:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self) -> str:
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(self.dbname, safe='')}"
        )

    def with_(self, **changes: object) -> ConnInfo:
        return replace(self, **changes)


def external_requested() -> bool:
    return bool(os.environ.get("WAREHOUSE_DB_URL") or os.environ.get("PGHOST"))


def external_admin() -> ConnInfo:
    """The external server's connection, as given by the environment."""
    url = os.environ.get("WAREHOUSE_DB_URL")
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
            raise WarehouseError("WAREHOUSE_DB_URL must look like postgresql://user:password@host:port/database")
        try:
            port = parts.port or 5432
        except ValueError:
            raise WarehouseError("WAREHOUSE_DB_URL has an invalid port") from None
        return ConnInfo(
            host=parts.hostname,
            port=port,
            user=unquote(parts.username or os.environ.get("USER", "postgres")),
            password=unquote(parts.password or os.environ.get("PGPASSWORD", "")),
            dbname=unquote(parts.path.lstrip("/")) or DEV_DATABASE,
        )
    port_text = os.environ.get("PGPORT", "5432")
    if not port_text.isdigit():
        raise WarehouseError(f"PGPORT must be a number, got {port_text!r}")
    return ConnInfo(
        host=os.environ["PGHOST"],
        port=int(port_text),
        user=os.environ.get("PGUSER", os.environ.get("USER", "postgres")),
        password=os.environ.get("PGPASSWORD", ""),
        dbname=os.environ.get("PGDATABASE", DEV_DATABASE),
    )


def _classify(exc: psycopg2.OperationalError) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.removeprefix("connection to server at ").strip()


def _is_auth_failure(message: str) -> bool:
    lowered = message.lower()
    return (
        "password authentication failed" in lowered
        or "no password supplied" in lowered
        or ("authentication" in lowered and "failed" in lowered)
    )


def connect(
    info: ConnInfo,
    *,
    total_seconds: float | None = None,
    attempts: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    autocommit: bool = True,
) -> psycopg2.extensions.connection:
    """Connect, retrying transient failures with exponential backoff inside a bounded total time.

    Wrong credentials and missing databases are not transient: they fail at once with one line.
    """
    total = total_seconds if total_seconds is not None else float(os.environ.get("WAREHOUSE_DB_CONNECT_SECONDS", "30"))
    max_attempts = attempts if attempts is not None else int(os.environ.get("WAREHOUSE_DB_CONNECT_ATTEMPTS", "8"))
    deadline = time.monotonic() + total
    delay = 0.25
    last = ""
    for attempt in range(1, max_attempts + 1):
        remaining = deadline - time.monotonic()
        try:
            conn = psycopg2.connect(
                host=info.host,
                port=info.port,
                user=info.user,
                password=info.password,
                dbname=info.dbname,
                connect_timeout=max(1, min(10, int(remaining) or 1)),
                application_name="warehouse",
            )
        except psycopg2.OperationalError as exc:
            last = _classify(exc)
            if _is_auth_failure(last):
                raise WarehouseError(
                    f"PostgreSQL at {info.where} rejected the password for role {info.user!r}"
                ) from None
            if "does not exist" in last and "database" in last:
                raise WarehouseError(
                    f"database {info.dbname!r} does not exist on {info.where}; run `warehouse db init`"
                ) from None
            remaining = deadline - time.monotonic()
            if attempt == max_attempts or remaining <= 0:
                break
            sleep(min(delay, max(remaining, 0)))
            delay = min(delay * 2, 5.0)
            continue
        conn.autocommit = autocommit
        return conn
    raise WarehouseError(f"cannot reach PostgreSQL at {info.where} after {attempt} attempts in {total:g}s: {last}")


def server_version_ok(conn: psycopg2.extensions.connection, info: ConnInfo) -> None:
    if conn.server_version < MIN_SERVER_VERSION:
        raise WarehouseError(
            f"PostgreSQL at {info.where} is version {conn.server_version // 10000}; the warehouse needs 14 or newer"
        )


def _pgpass_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def write_passfile(info: ConnInfo, folder: Path) -> Path:
    """A libpq password file (PGPASSFILE) for `info` in `folder` (the secrets folder), mode 0600 from
    its creation: a child program such as psql gets the password from it, not from its argv, which
    every user on the machine can read in `ps`."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / f"{info.user}.pgpass"
    line = ":".join(_pgpass_field(v) for v in (info.host, str(info.port), "*", info.user, info.password))
    # Written beside and renamed over: two commands at once never read a half-written file.
    partial = folder / f".{info.user}.pgpass.{os.getpid()}"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(line + "\n")
    os.replace(partial, path)
    return path


def conninfo_without_password(info: ConnInfo) -> str:
    """A libpq connection string for argv: everything but the password."""

    def quoted(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    return f"host={quoted(info.host)} port={info.port} user={quoted(info.user)} dbname={quoted(info.dbname)}"

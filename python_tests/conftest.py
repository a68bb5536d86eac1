"""Shared fixtures. Integration tests talk to a real PostgreSQL: the embedded server (started if it
is not running) or the external one named by WAREHOUSE_DB_URL / PGHOST, always in a throwaway
database created for the session and dropped after it."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from warehouse.db.connection import connect
from warehouse.db.target import Target

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WAREHOUSE_BIN = str(Path(sys.executable).with_name("warehouse"))


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the installed `warehouse` command the way a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [WAREHOUSE_BIN, *args],
        cwd=PROJECT_ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def target() -> Target:
    found = Target.discover()
    if not found.external and not found.server.status().running:
        found.server.start(log=lambda _msg: None)
    return found


@pytest.fixture(scope="session")
def test_database(target: Target) -> Iterator[str]:
    """A database of its own for this test session, with the warehouse's schemas and roles."""
    name = f"test_{os.getpid()}_{secrets.token_hex(3)}"
    target.init([name], log=lambda _msg: None)
    yield name
    target.drop(name)


@pytest.fixture
def admin_conn(target: Target, test_database: str):
    conn = connect(target.admin(test_database))
    yield conn
    conn.close()


@pytest.fixture
def role_conn(target: Target, test_database: str):
    """Factory: a connection to the throwaway database as one of the warehouse roles."""
    opened = []

    def _open(role: str):
        conn = connect(target.role(role, test_database))
        opened.append(conn)
        return conn

    yield _open
    for conn in opened:
        conn.close()

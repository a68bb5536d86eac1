"""The embedded server's life cycle and its failure modes, each through the real CLI."""

from __future__ import annotations

import os
import socket
import stat
import time
from pathlib import Path

import psycopg2
import pytest

from python_tests.conftest import run_cli
from warehouse.db import roles
from warehouse.db.connection import ConnInfo, connect
from warehouse.db.server import HOST, EmbeddedServer
from warehouse.errors import WarehouseError
from warehouse.paths import StatePaths

pytestmark = pytest.mark.integration


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def _module_server(tmp_path_factory):
    """A second embedded server with its own state dir, so life-cycle tests never touch the main one."""
    state_dir = tmp_path_factory.mktemp("state")
    env = {"WAREHOUSE_STATE_DIR": str(state_dir)}
    yield env, EmbeddedServer(StatePaths(state_dir))
    run_cli("db", "stop", env=env)


@pytest.fixture
def private_server(_module_server):
    """The module's server, running at the start of every test whatever the previous test left."""
    env, server = _module_server
    started = run_cli("db", "start", env=env)
    assert started.returncode == 0, started.stderr
    return env, server


def superuser(server: EmbeddedServer, port: int | None = None) -> ConnInfo:
    status = server.status()
    return ConnInfo(HOST, port or status.port, "postgres", server.superuser_password, "postgres")


def test_status_stop_start_keeps_data(private_server):
    env, server = private_server
    status = run_cli("db", "status", env=env)
    assert status.returncode == 0 and "running" in status.stdout
    conn = connect(superuser(server))
    with conn.cursor() as cur:
        cur.execute("create table if not exists kept (v text)")
        cur.execute("insert into kept values ('survives a restart')")
    conn.close()

    assert run_cli("db", "stop", env=env).returncode == 0
    stopped = run_cli("db", "status", env=env)
    assert stopped.returncode == 3 and "stopped" in stopped.stdout
    assert run_cli("db", "start", env=env).returncode == 0

    conn = connect(superuser(server))
    with conn.cursor() as cur:
        cur.execute("select v from kept")
        assert cur.fetchall() == [("survives a restart",)]
    conn.close()


def test_status_is_not_fooled_by_a_stale_pid_file(private_server):
    env, server = private_server
    assert run_cli("db", "stop", env=env).returncode == 0
    pid_file = server.pgdata / "postmaster.pid"
    # A crash leaves postmaster.pid behind; a pid that is not a postgres process must not count.
    pid_file.write_text(f"{os.getpid()}\n{server.pgdata}\n0\n{server.remembered_port()}\n\n127.0.0.1\n0 0\nready\n")
    try:
        result = run_cli("db", "status", env=env)
        assert result.returncode == 3 and "stopped" in result.stdout
    finally:
        pid_file.unlink()
        assert run_cli("db", "start", env=env).returncode == 0


def test_taken_port_moves_to_a_free_one_and_says_so(private_server):
    env, server = private_server
    old_port = server.remembered_port()
    assert run_cli("db", "stop", env=env).returncode == 0
    squatter = socket.socket()
    # Connections the server just closed linger in TIME_WAIT on this port; a listener may still bind.
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind((HOST, old_port))
    squatter.listen()
    try:
        result = run_cli("db", "start", env=env)
        assert result.returncode == 0, result.stderr
        assert f"port {old_port} is taken by another program" in result.stderr
        new_port = server.remembered_port()
        assert new_port != old_port
        assert f":{new_port}" in result.stdout
        connect(superuser(server, new_port)).close()
    finally:
        squatter.close()


def test_listens_on_loopback_only_without_unix_socket(private_server):
    _, server = private_server
    conn = connect(superuser(server))
    with conn.cursor() as cur:
        cur.execute("select current_setting('listen_addresses'), current_setting('unix_socket_directories')")
        assert cur.fetchone() == ("127.0.0.1", "")
    conn.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the outward address
        outward = probe.getsockname()[0]
    if outward.startswith("127."):
        pytest.fail("this machine has no non-loopback address to prove the negative with")
    with pytest.raises(OSError), socket.create_connection((outward, server.remembered_port()), timeout=2):
        pass


def test_connections_need_a_password(private_server):
    _, server = private_server
    port = server.remembered_port()
    with pytest.raises(psycopg2.OperationalError, match="no password supplied"):
        psycopg2.connect(host=HOST, port=port, user="postgres", dbname="postgres", connect_timeout=5)
    with pytest.raises(WarehouseError, match="rejected the password for role 'postgres'"):
        connect(ConnInfo(HOST, port, "postgres", "wrong-password", "postgres"), total_seconds=5)


def test_wrong_password_via_cli_is_one_line(private_server):
    _, server = private_server
    url = f"postgresql://postgres:wrong@{HOST}:{server.remembered_port()}/postgres"
    result = run_cli("db", "status", env={"WAREHOUSE_DB_URL": url})
    assert_one_line_error(result, "rejected the password", f"{HOST}:{server.remembered_port()}")
    assert "wrong" not in result.stderr


def test_server_log_is_an_audit_trail(private_server):
    _, server = private_server
    conn = connect(superuser(server))
    with conn.cursor() as cur:
        cur.execute("create table if not exists audited_ddl (id int)")
    conn.close()
    log = server.state.pg_log.read_text()
    assert "connection authorized: user=postgres" in log
    assert "disconnection:" in log
    assert "statement: create table if not exists audited_ddl" in log
    assert "role=postgres" in log
    assert server.superuser_password not in log


def test_the_settings_bulk_loads_rely_on_are_in_effect(private_server):
    """`deadlock_timeout`: an automatic analyze yields to a waiting lock after it, and at the default
    1 s a promotion right after a big load waited that second (promote.exclude_from_autovacuum has
    the rest). `wal_level = minimal`: the promotion's indexes and calculated table skip the WAL."""
    _, server = private_server
    conn = connect(superuser(server))
    with conn.cursor() as cur:
        cur.execute(
            "select name, setting from pg_settings where name in ('deadlock_timeout', 'wal_level', 'max_wal_senders') "
            "order by name"
        )
        assert cur.fetchall() == [("deadlock_timeout", "100"), ("max_wal_senders", "0"), ("wal_level", "minimal")]
    conn.close()


def test_secrets_are_private(private_server):
    _, server = private_server
    secret_dir = server.state.secrets
    assert stat.S_IMODE(secret_dir.stat().st_mode) == 0o700
    for path in secret_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.parametrize(
    ("prepare", "fragment"),
    [
        (lambda d: (d / "pgdata").write_text("not a directory"), "is not a directory"),
        (
            lambda d: ((d / "pgdata").mkdir(), (d / "pgdata" / "stray.txt").write_text("x")),
            "holds no PostgreSQL",
        ),
        (
            lambda d: ((d / "pgdata").mkdir(), (d / "pgdata" / "PG_VERSION").write_text("14\n")),
            "PostgreSQL 14",
        ),
    ],
    ids=["file", "foreign-content", "old-version"],
)
def test_unusable_data_directory_is_one_line(tmp_path: Path, prepare, fragment):
    prepare(tmp_path)
    result = run_cli("db", "start", env={"WAREHOUSE_STATE_DIR": str(tmp_path)})
    assert_one_line_error(result, "cannot use data directory", fragment)


def test_unreachable_external_database_gives_up_with_host_and_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        closed_port = sock.getsockname()[1]
    env = {
        "WAREHOUSE_DB_URL": f"postgresql://someone:secret@{HOST}:{closed_port}/warehouse",
        "WAREHOUSE_DB_CONNECT_SECONDS": "3",
    }
    result = run_cli("db", "init", env=env, timeout=30)
    assert_one_line_error(result, "cannot reach PostgreSQL", f"{HOST}:{closed_port}", "attempts")
    assert "secret" not in result.stderr


def test_unknown_role_is_one_line():
    result = run_cli("db", "url", "--role", "superhero")
    assert_one_line_error(result, "unknown role 'superhero'")


ERROR_MARKER = "error-value-marker-4711"


def test_values_quoted_by_errors_never_reach_the_log(private_server):
    """An error message quotes the value it failed on. The client gets all of it (SQLSTATE and
    message: the failure stays diagnosable where it happened); the server log gets none of it."""
    _, server = private_server
    log = server.state.pg_log
    offset = log.stat().st_size
    conn = connect(superuser(server))
    with pytest.raises(psycopg2.errors.InvalidTextRepresentation) as failure, conn.cursor() as cur:
        cur.execute(f"select '{ERROR_MARKER}'::integer")
    conn.close()
    assert failure.value.pgcode == "22P02"
    assert ERROR_MARKER in failure.value.diag.message_primary
    deadline = time.monotonic() + 10
    while True:  # the backend logs its disconnection just after the client has gone
        with log.open("rb") as handle:
            handle.seek(offset)
            written = handle.read().decode(errors="replace")
        if "disconnection:" in written or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert ERROR_MARKER not in written
    # The scan is not vacuous: the failing session's own connection and disconnection were logged.
    assert "connection authorized: user=postgres" in written and "disconnection:" in written


def test_the_connection_budget_and_log_level_are_in_effect(private_server):
    _, server = private_server
    conn = connect(superuser(server))
    with conn.cursor() as cur:
        cur.execute(
            "select name, setting from pg_settings where name in ('log_min_messages', 'max_connections', "
            "'reserved_connections', 'superuser_reserved_connections') order by name"
        )
        assert cur.fetchall() == [
            ("log_min_messages", "log"),
            ("max_connections", str(roles.MAX_CONNECTIONS)),
            ("reserved_connections", str(roles.RESERVED_CONNECTIONS)),
            ("superuser_reserved_connections", str(roles.SUPERUSER_RESERVED_CONNECTIONS)),
        ]
    conn.close()
    interactive = sum(max(role.connection_limit, 0) for role in roles.ROLES.values() if role.settings)
    assert all(role.connection_limit > 0 for role in roles.ROLES.values() if role.settings)
    shared = roles.MAX_CONNECTIONS - roles.SUPERUSER_RESERVED_CONNECTIONS - roles.RESERVED_CONNECTIONS
    assert interactive <= shared // 2  # analysts and auditors together leave most shared slots free


def test_no_password_outside_the_secrets_folder(private_server):
    """initdb read the superuser password from a 0600 file in secrets/, removed after; nothing else
    in the state folder (data directory, log, port file) holds it in clear."""
    _, server = private_server
    password = server.superuser_password.encode()
    secrets_dir = server.state.secrets
    assert not list(secrets_dir.glob("*.pwfile"))
    for path in server.state.root.rglob("*"):
        if secrets_dir in path.parents or not path.is_file():
            continue
        try:
            assert password not in path.read_bytes(), path
        except FileNotFoundError:
            continue  # a server file that went away while the folder was read

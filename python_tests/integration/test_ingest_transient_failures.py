"""The database goes away in the middle of an ingest: a restart is ridden out with retries; an
outage longer than the retry budget ends in one line, and the run is recorded as failed."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from ingest.generate.landing import generate_landing_zone
from python_tests.conftest import PROJECT_ROOT, WAREHOUSE_BIN, run_cli
from python_tests.integration.ingest_helpers import TEST_KEY
from warehouse.db.connection import ConnInfo, connect
from warehouse.db.server import HOST, EmbeddedServer
from warehouse.paths import StatePaths

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def private(tmp_path_factory):
    """A server of its own, to be restarted and stopped under a running loader."""
    state_dir = tmp_path_factory.mktemp("transient-state")
    env = {"WAREHOUSE_STATE_DIR": str(state_dir), "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY}
    assert run_cli("db", "start", env=env).returncode == 0
    assert run_cli("db", "init", env=env).returncode == 0
    landing = tmp_path_factory.mktemp("transient-landing")
    generate_landing_zone(landing, patients=1500, seed=5, days=2)
    yield env, EmbeddedServer(StatePaths(state_dir)), landing
    run_cli("db", "stop", env=env)


def start_ingest(env: dict, database: str, work_dir: Path, landing: Path, **extra: str):
    full = {**os.environ, **env, "WAREHOUSE_DB_NAME": database, "WAREHOUSE_DLT_DIR": str(work_dir), **extra}
    return subprocess.Popen(
        [WAREHOUSE_BIN, "ingest", "--landing", str(landing)],
        cwd=PROJECT_ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def on_first_promotion(proc, action) -> tuple[threading.Thread, list[str]]:
    """Run `action` once the loader has promoted its first file; collect stderr meanwhile."""
    lines: list[str] = []

    def watch():
        fired = False
        for line in proc.stderr:
            lines.append(line)
            if not fired and ": loaded: read" in line:
                fired = True
                action()

    thread = threading.Thread(target=watch)
    thread.start()
    return thread, lines


def admin(server: EmbeddedServer, database: str):
    return connect(ConnInfo(HOST, server.remembered_port(), "postgres", server.superuser_password, database))


def fresh_database(server: EmbeddedServer, env: dict, name: str) -> str:
    conn = admin(server, "postgres")
    with conn.cursor() as cur:
        cur.execute(f'drop database if exists "{name}" with (force)')
    conn.close()
    result = subprocess.run(
        [WAREHOUSE_BIN, "db", "init"], cwd=PROJECT_ROOT, env={**os.environ, **env, "WAREHOUSE_CI_DATABASE": name},
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return name


def test_a_database_restart_mid_run_is_retried(private, tmp_path):
    env, server, landing = private
    database = fresh_database(server, env, "transient_restart")

    def restart():
        server.stop()
        server.start(log=lambda _m: None)

    proc = start_ingest(env, database, tmp_path / "dlt", landing)
    thread, lines = on_first_promotion(proc, restart)
    proc.wait(timeout=600)
    thread.join()
    stderr = "".join(lines)
    assert proc.returncode == 0, stderr[-3000:]
    assert "transient failure" in stderr
    conn = admin(server, database)
    with conn.cursor() as cur:
        cur.execute("select status, count(*) from audit.ingest_runs group by 1")
        assert cur.fetchall() == [("succeeded", 1)]
        cur.execute("select count(distinct file_sha256) from audit.file_manifest where status = 'loaded'")
        loaded = cur.fetchone()[0]
    conn.close()
    assert loaded == sum(1 for p in landing.rglob("*") if p.is_file())


def test_an_outage_longer_than_the_retry_budget_fails_in_one_line_and_is_recorded(private, tmp_path):
    env, server, landing = private
    database = fresh_database(server, env, "transient_outage")
    budget = {"WAREHOUSE_INGEST_RETRY_SECONDS": "3", "WAREHOUSE_DB_CONNECT_SECONDS": "3"}
    proc = start_ingest(env, database, tmp_path / "dlt", landing, **budget)
    thread, lines = on_first_promotion(proc, server.stop)
    proc.wait(timeout=600)
    thread.join()
    server.start(log=lambda _m: None)
    stderr = "".join(lines)
    assert proc.returncode == 1
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("error: ")
    # The next run finds the dead run still 'running', records it as failed, and finishes the work.
    again = start_ingest(env, database, tmp_path / "dlt", landing)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    assert "never finished as failed" in err
    conn = admin(server, database)
    with conn.cursor() as cur:
        cur.execute("select status, error from audit.ingest_runs order by id")
        runs = cur.fetchall()
    conn.close()
    assert [r[0] for r in runs] == ["failed", "succeeded"]
    assert "abandoned" in runs[0][1]

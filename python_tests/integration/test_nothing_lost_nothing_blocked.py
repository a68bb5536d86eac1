"""Nothing lost, nothing blocked: every landed entry is accounted for, every held file explained, a
dry run reads what a run would, findings clear with their cause, each run has its own id, and the
CLI behaves (click's usage errors, --version, children that die with `warehouse run`)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from python_tests.conftest import PROJECT_ROOT, WAREHOUSE_BIN, run_cli
from python_tests.integration.ingest_helpers import HEADER, TEST_KEY, row

FILE = "acme_2026-11-20.csv"


def cli_env(env, **extra: str) -> dict[str, str]:
    return {
        "WAREHOUSE_DB_NAME": env.database,
        "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY,
        "WAREHOUSE_DLT_DIR": str(env.root / "dlt"),
        "WAREHOUSE_INGEST_RETRY_SECONDS": "5",
        **extra,
    }


def ingest_cli(env, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_cli(
        "ingest", *args, "--feeds-dir", str(env.feeds_dir), "--landing", str(env.landing), env=cli_env(env)
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def loads(env) -> list[tuple]:
    return env.query(
        "select entity, file_name, status, reason from audit.file_loads where feed = %s order by id", env.feed
    )


# ---- the CLI -------------------------------------------------------------------------------------------


def test_a_mistyped_command_is_clicks_usage_error():
    result = run_cli("ingset")
    assert result.returncode == 2, result.stderr
    assert "Did you mean 'ingest'?" in result.stderr and "unexpected" not in result.stderr


def test_version_and_flags_shown_as_flags():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("warehouse "), result
    helped = run_cli("ingest", "--help", env={"COLUMNS": "200"})
    assert helped.returncode == 0
    force = next(line for line in helped.stdout.splitlines() if "--force" in line)
    assert "<bool>" not in force and "--no-force" not in force, force


def test_a_missing_landing_zone_is_an_error(ingest_env):
    env = ingest_env
    env.write_feed()
    result = run_cli(
        "ingest", "--feeds-dir", str(env.feeds_dir), "--landing", "/nonexistent-landing-zone", env=cli_env(env)
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "/nonexistent-landing-zone does not exist" in lines[0], result.stderr


# ---- everything landed is reported -------------------------------------------------------------------


def test_undeclared_folder_dot_file_and_unmatched_file_are_reported(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, f"{HEADER}\n{row()}\n")
    env.land(".acme_2026-11-21.csv", f"{HEADER}\n{row('P2')}\n")
    env.land("notes.txt", "not a delivery")
    env.land("acme_2026-11-20.csv", f"{HEADER}\n{row('P3')}\n", entity="allergies")
    report = env.ingest()
    outcomes = sorted((f.entity or "", f.status) for f in report.files)
    assert outcomes == [("", "rejected"), ("people", "loaded"), ("people", "rejected"), ("people", "rejected")]
    recorded = loads(env)
    by_reason = {reason.split(":")[0]: (entity, name, status) for entity, name, status, reason in recorded if reason}
    assert any("entity folder allergies/ is not declared" in r for *_, r in recorded), recorded
    assert any("hidden (dot) entry" in (r or "") for *_, r in recorded), recorded
    assert any("does not match the pattern" in (r or "") for *_, r in recorded), recorded
    names = [name for _, name, _, _ in recorded]
    # Unmatched names are described, never stored as they are (a file name can be a patient's).
    assert "notes.txt" not in names and ".acme_2026-11-21.csv" not in names, names
    assert by_reason


# ---- --explain ---------------------------------------------------------------------------------------------


def test_explain_a_threshold_held_and_an_encoding_held_file(ingest_env):
    env = ingest_env
    env.write_feed(threshold=0.05)
    bad_heights = [row(f"P{i}", height="999") for i in range(3)]
    env.land(FILE, "\n".join([HEADER, row("G1"), *bad_heights]) + "\n")
    latin = "\n".join([HEADER, *(row(f"L{i}", city="CITY") for i in range(4))]) + "\n"
    env.land("acme_2026-11-21.csv", latin.encode().replace(b"CITY", "Zürich".encode("iso-8859-1")))
    ingested = ingest_cli(env)
    assert ingested.returncode == 0, ingested.stderr
    assert [s for _, _, s, _ in loads(env)] == ["held", "held"]
    explained = ingest_cli(env, "--explain")
    assert explained.returncode == 0, explained.stderr
    out = explained.stdout
    assert f"{env.feed}/people/{FILE}: held: invalid_ratio" in out, out
    assert "top reasons" in out and "height_cm" in out, out
    assert "invalid_row_threshold: 0.76" in out, out
    assert f"{env.feed}/people/acme_2026-11-21.csv: held: invalid_ratio" in out, out
    assert "invalid_utf8:city" in out and "encoding: iso-8859-1" in out, out
    assert "no schema drift" not in out.lower()


# ---- --dry-run ------------------------------------------------------------------------------------------


def _database_state(env) -> list:
    tables = [
        "audit.file_loads", "audit.ingest_run_events", "audit.file_manifest_entries", "audit.schema_drift",
        "audit.file_quarantine_reasons", "audit.watermark_events", "audit.name_tokens",
    ]  # fmt: skip
    counts = [env.query(f"select count(*) from {t}")[0][0] for t in tables]
    relations = env.query(
        "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where c.relname like %s order by 1, 2",
        f"%{env.feed}%",
    )
    return [counts, relations]


def test_dry_run_reads_every_row_and_writes_nothing(ingest_env):
    env = ingest_env
    env.write_feed(threshold=0.4)
    env.land(FILE, "\n".join([HEADER, row("P1"), row("P2", height="999"), row("P3", consent="N"), row("P4")]) + "\n")
    env.land("acme_2026-11-21.csv", "\n".join([HEADER, row("Q1", plan="x"), row("Q2", plan="y")]) + "\n")
    env.land("bogus.csv", "x")
    before = _database_state(env)
    dry = env.ingest(dry_run=True)
    assert _database_state(env) == before
    assert not (env.root / "dlt").exists() or not any((env.root / "dlt").rglob("*"))
    real = env.ingest()

    def counts(report) -> list[tuple]:
        return sorted(
            (f.file_name, f.rows_read, f.rows_loaded, f.rows_quarantined, f.rows_filtered) for f in report.files
        )

    assert counts(dry) == counts(real)
    assert sorted(f.status for f in dry.files) == ["rejected", "would hold", "would load"]
    assert sorted(f.status for f in real.files) == ["held", "loaded", "rejected"]
    assert dry.content_fingerprint == real.content_fingerprint and dry.run_id != real.run_id


# ---- dq check: a finding clears with its cause ---------------------------------------------------------


def test_dq_check_drift_finding_clears_once_the_file_loads(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([f"{HEADER},favourite_colour", f"{row()},blue"]) + "\n")
    assert [f.status for f in env.ingest().files] == ["held"]

    def drift_lines() -> list[str]:
        result = run_cli("dq", "check", "--feeds-dir", str(env.feeds_dir), env=cli_env(env))
        assert "Traceback" not in result.stderr, result.stderr
        return [line for line in result.stdout.splitlines() if "schema_drift" in line and env.feed in line]

    assert len(drift_lines()) == 1
    feed_yml = env.feeds_dir / f"{env.feed}.yml"
    feed_yml.write_text(
        feed_yml.read_text().replace(
            "      - {source: consent",
            "      - {source: favourite_colour, name: favourite_colour, pii: none}\n      - {source: consent",
        )
    )
    assert [f.status for f in env.ingest().files] == ["loaded"]
    assert drift_lines() == []


# ---- run ids -----------------------------------------------------------------------------------------------


def test_held_fixed_and_forced_runs_have_their_own_ids_and_one_fingerprint(ingest_env):
    env = ingest_env
    env.write_feed(threshold=0.05)
    env.land(FILE, "\n".join([HEADER, row("P1"), row("P2", height="999")]) + "\n")
    held = env.ingest()
    assert [f.status for f in held.files] == ["held"]
    env.write_feed(threshold=0.6)
    fixed = env.ingest()
    assert [f.status for f in fixed.files] == ["loaded"]
    forced = env.ingest(force=True)
    assert [f.status for f in forced.files] == ["loaded"]
    ids = [held.run_id, fixed.run_id, forced.run_id]
    assert len(set(ids)) == 3
    rows = env.query(
        "select run_id, content_fingerprint from audit.ingest_runs where run_id = any(%s) order by id", ids
    )
    assert [r[0] for r in rows] == ids
    assert len({r[1] for r in rows}) == 1 and rows[0][1] == held.content_fingerprint
    # Each run's rows carry its own id: the forced reload did not merge into the fixed run.
    assert {r[0] for r in env.query(f'select _run_id from raw."{env.feed}__people"')} == {forced.run_id}


# ---- killing `warehouse run` --------------------------------------------------------------------------------


def _dbt_descendants(pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [c for c in children if any("dbt" in Path(part).name for part in _cmdline(c)[:2])]


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["term", "int", "kill"])
def test_killing_warehouse_run_mid_dbt_stops_dbt(ingest_env, tmp_path, sig):
    env = ingest_env
    env.write_feed()
    env.landing.mkdir(parents=True, exist_ok=True)
    run_env = {
        **os.environ,
        **cli_env(env),
        "WAREHOUSE_LANDING": str(env.landing),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "WAREHOUSE_ALERTS_CONFIG": str(tmp_path / "no-alerts.yml"),
    }
    parent = subprocess.Popen(
        [WAREHOUSE_BIN, "run"], cwd=PROJECT_ROOT, env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        dbt: list[psutil.Process] = []
        while time.monotonic() < deadline and parent.poll() is None:
            dbt = _dbt_descendants(parent.pid)
            if dbt:
                break
            time.sleep(0.05)
        assert dbt, f"no dbt child seen (exit {parent.poll()}): {parent.stderr.read()[-2000:] if parent.poll() else ''}"
        os.kill(parent.pid, sig)
        parent.wait(timeout=60)
        _, alive = psutil.wait_procs(dbt, timeout=30)
        assert not alive, [(p.pid, _cmdline(p)) for p in alive]
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()

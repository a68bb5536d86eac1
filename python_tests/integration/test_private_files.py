"""What the warehouse writes is its owner's only (0600 files in 0700 folders), and dlt keeps no staged
rows on disk once they are loaded: the dlt working folder, the Parquet copy and the reports."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from python_tests.conftest import run_cli
from python_tests.integration.ingest_helpers import HEADER, TEST_KEY, row

pytestmark = pytest.mark.integration

# Files of a load package that hold rows: dlt's job files (`<table>.<file id>.<retry>.<format>`).
ROW_DATA_SUFFIXES = (".parquet", ".insert_values", ".jsonl", ".csv", ".typed-jsonl", ".sql")


def _wide(root: Path) -> list[str]:
    """Entries under `root` (itself included) that are not 0600 files or 0700 folders."""
    found = []
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue
        wanted = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
        if stat.S_IMODE(st.st_mode) != wanted:
            found.append(f"{oct(stat.S_IMODE(st.st_mode))} {path.relative_to(root)}")
    return found


def _staged_rows(dlt_dir: Path) -> list[str]:
    """Files under the dlt folder that hold rows: job files anywhere, anything under a load package."""
    return [
        str(path.relative_to(dlt_dir))
        for path in dlt_dir.rglob("*")
        if path.is_file()
        and (path.name.endswith(ROW_DATA_SUFFIXES) or path.name.startswith("stage__") or "parquet_tee" in path.parts)
    ]


def _land_two_files(env, out: Path) -> None:
    env.write_feed()
    feed_yml = env.feeds_dir / f"{env.feed}.yml"
    feed_yml.write_text(feed_yml.read_text() + f"parquet_output: {out}\n")
    env.land("acme_2026-11-20.csv", "\n".join([HEADER, row("P1"), row("P2", height="999")]) + "\n")
    env.land("acme_2026-11-21.csv", "\n".join([HEADER, row("P3"), row("P4")]) + "\n")


def test_the_cli_writes_private_files_and_keeps_no_staged_rows(ingest_env, tmp_path):
    env = ingest_env
    parquet, dlt_dir, reports = tmp_path / "pseudonymised", tmp_path / "dlt", tmp_path / "reports"
    _land_two_files(env, parquet)
    cli_env = {
        "WAREHOUSE_DB_NAME": env.database,
        "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY,
        "WAREHOUSE_DLT_DIR": str(dlt_dir),
    }
    ingest = run_cli("ingest", "--landing", str(env.landing), "--feeds-dir", str(env.feeds_dir), env=cli_env)
    assert ingest.returncode == 0, ingest.stderr
    report = run_cli("dq", "report", "--out", str(reports), "--feeds-dir", str(env.feeds_dir), env=cli_env)
    assert report.returncode == 0, report.stderr
    assert (reports / "dq_report.html").exists() and list((parquet / env.feed).rglob("*.parquet"))
    assert _staged_rows(dlt_dir) == []
    assert not list(dlt_dir.rglob("load/loaded/*")), "a loaded package was kept"
    for root in (dlt_dir, parquet, reports):
        assert _wide(root) == [], root


def test_an_ingest_in_process_restricts_what_it_wrote_under_a_wide_umask(ingest_env, tmp_path):
    """A caller that never set a umask (a notebook, a test) still leaves nothing readable by others."""
    env = ingest_env
    parquet = tmp_path / "pseudonymised"
    _land_two_files(env, parquet)
    previous = os.umask(0o022)
    try:
        report = env.ingest()
    finally:
        os.umask(previous)
    assert {f.status for f in report.files} == {"loaded"}
    dlt_dir = env.root / "dlt"
    assert _staged_rows(dlt_dir) == []
    assert _wide(dlt_dir) == []
    assert _wide(parquet) == []

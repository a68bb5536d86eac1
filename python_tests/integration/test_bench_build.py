"""`warehouse bench build` at a tiny size, on the real database: the size is reported, the change
day's files load without a single quarantined row, and the incremental run of patient_bmi_latest
touches only the changed patients. No timings are asserted: on a shared machine they prove nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.generate.landing import generate_landing_zone
from warehouse.bench_build import bench_build, format_results, write_changes
from warehouse.db.connection import connect
from warehouse.db.target import Target

pytestmark = pytest.mark.integration

# One size keeps make test short (each size is two dbt builds); the loop over sizes is the same code.
SIZES = [60]
# 1 % of 60 patients is nobody; 10 % changes a handful, still well below the total.
CHANGE_PERCENT = 10.0


def test_change_day_copies_the_generated_formats(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    generate_landing_zone(landing, patients=60, seed=42)
    before = {path: path.read_bytes() for path in landing.rglob("*") if path.is_file()}

    change = write_changes(landing, CHANGE_PERCENT)

    assert change.day.isoformat() == "2026-11-21"  # the day after the generator's last one
    assert 0 < len(change.patients) < 60
    new = [path for path in landing.rglob("*") if path.is_file() and path not in before]
    assert new and all(change.day.isoformat() in path.name for path in new)
    assert all(path.read_bytes() == content for path, content in before.items()), "generated files changed"
    for path in new:
        if path.suffix == ".csv":
            generated = next(p for p in sorted(path.parent.iterdir()) if p in before)
            assert path.read_text().splitlines()[0] == generated.read_text().splitlines()[0], path
    assert change.total_rows == sum(change.rows.values())


def test_bench_build_reports_the_size_and_an_incremental_run_that_touches_only_the_change(target) -> None:
    messages: list[str] = []
    results = bench_build(SIZES, change_percent=CHANGE_PERCENT, log=messages.append)
    report = format_results(results, CHANGE_PERCENT)

    assert [r.patients for r in results] == SIZES
    table = report.splitlines()
    for size in SIZES:
        assert any(line.split()[:1] == [str(size)] for line in table), report
    for result in results:
        assert result.ingest.rows_loaded > 0
        # every change row is valid: none quarantined, none filtered
        assert result.change_ingest.rows_loaded == result.change.total_rows, result.change.rows
        assert result.full.failures == 0 and result.incremental.failures == 0
        assert result.full.slowest and result.incremental.slowest

    largest = results[-1]
    assert largest.change.patients
    assert (largest.full.rows_affected["patient_bmi_latest"] or 0) >= largest.bmi_patients > 0
    incremental_bmi = largest.incremental.rows_affected["patient_bmi_latest"]
    assert incremental_bmi is not None
    assert 0 < incremental_bmi < largest.bmi_patients, report
    assert "patient_bmi_latest" in report and "5 slowest" in report
    assert not _existing({r.database for r in results}), "a throwaway database was left behind"


def _existing(names: set[str]) -> set[str]:
    found = Target.discover()
    conn = connect(found.admin("postgres") if not found.external else found.admin())
    try:
        with conn.cursor() as cur:
            cur.execute("select datname from pg_database where datname = any(%s)", (sorted(names),))
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()

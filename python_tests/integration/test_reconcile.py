"""Exact accounting: every row read is loaded, quarantined, filtered or superseded, and every row the
audit says was loaded is in raw or was replaced by a named newer file (`warehouse reconcile`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.generate.landing import generate_landing_zone
from ingest.reconcile import Reconciliation, entity_modes, reconcile_connection
from python_tests.conftest import run_cli
from python_tests.integration.ingest_helpers import HEADER, IngestEnv, row
from python_tests.integration.test_dbt_layers import Warehouse, _throwaway
from python_tests.integration.test_ingest_real_data import SHARED, SYNTHEA_ENTITIES, needs_shared
from warehouse.db.connection import connect

pytestmark = pytest.mark.integration

REFERENCE_FEED = """
feed: {feed}
description: A reference list replaced whole by each newer file.
invalid_row_threshold: 0.5
entities:
  people:
    description: Reference rows.
    business_key: [person_id]
    incremental:
      mode: reference
    columns:
      - {{source: id, name: person_id, type: string, required: true, pii: none}}
      - {{source: height, name: height_cm, type: decimal, min: 0, max: 300, pii: none}}
"""


def link(landing: Path, feed: str, entity: str, name: str, source: Path) -> None:
    """A copy in the test's temporary landing zone (the loader refuses links out of it)."""
    folder = landing / feed / entity
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, folder / name)


def reconciled(env: IngestEnv, feeds_dir: Path | None, feeds: list[str]) -> Reconciliation:
    conn = connect(env.target.role("loader", env.database))
    try:
        files = []
        for feed in feeds:
            files += reconcile_connection(conn, entity_modes(feeds_dir), feed).files
    finally:
        conn.close()
    result = Reconciliation(files)
    assert result.files, feeds
    assert not result.failures, [f.line() for f in result.failures]
    return result


def balanced(load) -> None:
    assert load.rows_read == load.rows_loaded + load.rows_quarantined + load.rows_filtered + load.rows_superseded


def test_duplicate_keys_in_a_file_are_superseded_or_kept_as_conflicting(ingest_env):
    env = ingest_env
    env.write_feed()
    first = [
        row("P1", height="170"),  # line 2: same as line 4 apart from its line: superseded
        row("P2"),
        row("P1", height="170"),
        row("P3", height="170"),  # line 5: differs from line 6: a conflicting duplicate, quarantined
        row("P3", height="172"),
        row("P4", consent="N"),  # filtered by the whitelist
    ]
    env.land("acme_2026-11-01.csv", "\n".join([HEADER, *first]) + "\n")
    [load] = env.ingest().files
    balanced(load)
    assert (load.rows_read, load.rows_loaded, load.rows_quarantined, load.rows_filtered, load.rows_superseded) == (
        6, 3, 1, 1, 1,
    )  # fmt: skip
    assert {r["_source_line"]: r["height_cm"] for r in env.table("raw")} == {3: 170.0, 4: 170.0, 6: 172.0}
    [kept] = env.table("quarantine")
    assert (kept["_source_line"], kept["_reasons"]) == (5, "conflicting_duplicate:person_id")
    assert float(kept["height_cm"]) == 170.0
    reasons = env.query(
        "select reason, rows from audit.file_quarantine_reasons where feed = %s and file_name = %s",
        env.feed, load.file_name,
    )  # fmt: skip
    assert reasons == [("conflicting_duplicate:person_id", 1)]
    recorded = env.query(
        "select rows_loaded, rows_quarantined, rows_superseded from audit.file_loads where feed = %s", env.feed
    )
    assert recorded == [(3, 1, 1)]

    # Into an existing table (the upsert path): the same accounting; P1 and P2 are replaced by this newer file.
    second = [row("P1", height="180"), row("P1", height="180"), row("P5", height="150"), row("P5", height="151")]
    env.land("acme_2026-11-02.csv", "\n".join([HEADER, *second]) + "\n")
    [load] = [f for f in env.ingest().files if f.status != "unchanged"]
    balanced(load)
    assert (load.rows_read, load.rows_loaded, load.rows_quarantined, load.rows_superseded) == (4, 2, 1, 1)
    result = reconciled(env, env.feeds_dir, [env.feed])
    older = next(f for f in result.files if f.file_name.endswith("2026-11-01.csv"))
    assert (older.loaded, older.in_raw, older.replaced) == (3, 2, 1)
    assert older.recorded_replacements == {"acme_2026-11-02.csv": 1}
    # A backfilled older file: its row of P5 gives way to the newer one already loaded, and is recorded so.
    env.land("acme_2026-10-01.csv", "\n".join([HEADER, row("P5", height="140"), row("P6")]) + "\n")
    [backfill] = [f for f in env.ingest().files if f.status != "unchanged"]
    assert (backfill.rows_loaded, backfill.rows_superseded) == (2, 0)
    result = reconciled(env, env.feeds_dir, [env.feed])
    older = next(f for f in result.files if f.file_name.endswith("2026-10-01.csv"))
    assert (older.in_raw, older.recorded_replacements) == (1, {"acme_2026-11-02.csv": 1})


def test_reconcile_finds_rows_the_audit_says_were_loaded_but_are_gone(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land("acme_2026-11-01.csv", "\n".join([HEADER, row("P1"), row("P2")]) + "\n")
    env.ingest()
    command = ("reconcile", "--feed", env.feed, "--feeds-dir", str(env.feeds_dir))
    ok = run_cli(*command, env={"WAREHOUSE_DB_NAME": env.database})
    assert ok.returncode == 0 and "reconciled 1 file(s), 2 rows read: 0 with a problem" in ok.stdout, ok
    env.query(f'delete from raw."{env.feed}__people" where person_id is not null and _source_line = 3')
    conn = connect(env.target.role("loader", env.database))
    try:
        [check] = reconcile_connection(conn, entity_modes(env.feeds_dir), env.feed).files
    finally:
        conn.close()
    assert check.problems and "1 loaded rows are neither in raw nor replaced" in check.problems[0]
    failed = run_cli(*command, env={"WAREHOUSE_DB_NAME": env.database})
    assert failed.returncode == 1 and "1 with a problem" in failed.stdout, failed
    # One line per problem, naming the file and the counts, never a value.
    [line] = [x for x in failed.stdout.splitlines() if "acme_2026-11-01.csv" in x]
    assert "in raw 1" in line and "neither in raw nor replaced" in line


def test_an_older_reference_file_after_a_newer_one_changes_nothing(ingest_env):
    env = ingest_env
    env.write_feed(REFERENCE_FEED.format(feed=env.feed))
    header = "id,height"
    env.land("acme_2026-11-20.csv", "\n".join([header, "R1,170", "R2,171", "R2,171"]) + "\n")
    [newer] = env.ingest().files
    assert (newer.status, newer.rows_loaded, newer.rows_superseded) == ("loaded", 2, 1)
    before = env.table("raw", order="person_id")
    env.land("acme_2019-01-01.csv", "\n".join([header, "R1,150", "R9,100", "R8,x"]) + "\n")
    [older] = [f for f in env.ingest().files if f.status != "unchanged"]
    balanced(older)
    assert older.status == "superseded" and "acme_2026-11-20.csv" in older.reason, older
    assert (older.rows_loaded, older.rows_superseded, older.rows_quarantined) == (0, 2, 1)
    assert env.table("raw", order="person_id") == before
    # The invalid row is kept like any file's; nothing of the older file reached raw.
    assert [r["_source_file"] for r in env.table("quarantine")] == [older.file_name]
    manifest = env.query("select status from audit.file_manifest where feed = %s and file_name = %s",
                         env.feed, older.file_name)  # fmt: skip
    assert manifest == [("superseded",)]
    again = env.ingest().files
    assert {f.status for f in again} == {"unchanged"}
    assert env.table("raw", order="person_id") == before
    reconciled(env, env.feeds_dir, [env.feed])
    # A newer snapshot still replaces the client's rows whole.
    env.land("acme_2026-11-21.csv", "\n".join([header, "R3,160"]) + "\n")
    env.ingest()
    assert [r["person_id"] for r in env.table("raw", order="person_id")] == ["R3"]
    result = reconciled(env, env.feeds_dir, [env.feed])
    replaced = next(f for f in result.files if f.file_name == "acme_2026-11-20.csv")
    assert replaced.recorded_replacements == {"acme_2026-11-21.csv": 2}


def test_an_older_reference_snapshot_leaves_raw_and_the_drug_mart_unchanged(target, tmp_path):
    database = _throwaway(target, "test_recon_ref")
    built = Warehouse(target, database, tmp_path)
    generate_landing_zone(built.landing, patients=60, seed=11, days=1)

    def build() -> None:
        # The mart and what it is made of, models only: this test is about the rows, not the data tests.
        for args in (["ingest"], ["dbt", "deps", "--quiet"], ["dbt", "run", "--select", "+drug_utilisation"]):
            result = run_cli(*args, env=built.env(), timeout=900)
            assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])

    try:
        build()

        def state() -> tuple[list[tuple], list[tuple]]:
            return (
                built.query("select * from derived.drug_utilisation order by 1, 2"),
                built.query("select * from raw.fda_ndc__product order by _client_id, product_id"),
            )

        before = state()
        assert before[0] and before[1]
        # The same client's snapshot of 2019, half as long: loaded, it would drop half the products.
        newest = sorted((built.landing / "fda_ndc" / "product").glob("*.txt"))[0]
        client = newest.name.split("_")[0]
        lines = newest.read_bytes().split(b"\r\n")
        older = newest.with_name(f"{client}_2019-01-01.txt")
        older.write_bytes(b"\r\n".join(lines[: len(lines) // 2]) + b"\r\n")
        build()
        assert state() == before
        outcome = built.query(
            "select status, reason from audit.file_loads where feed = 'fda_ndc' and file_name like %s",
            (f"%{older.name}",),
        )
        assert [status for status, _ in outcome] == ["superseded"], outcome
        assert newest.name in outcome[0][1]
    finally:
        target.drop(database)


def test_reconcile_over_the_generated_landing_zone(ingest_env):
    env = ingest_env
    generate_landing_zone(env.landing, patients=60, seed=7, days=2)
    report = env.ingest(feeds_dir=None)
    for load in report.files:
        balanced(load)
    assert sum(f.rows_superseded + f.rows_quarantined for f in report.files) > 0
    feeds = sorted({f.feed for f in report.files})
    reconciled(env, None, feeds)


@needs_shared
def test_reconcile_over_the_real_files(ingest_env):
    env = ingest_env
    for entity in SYNTHEA_ENTITIES:
        link(env.landing, "synthea", entity, "recon_2019-02-17.csv", SHARED / "synthea-27" / f"{entity}.csv")
    finished, unfinished = SHARED / "fda-ndc" / "finished", SHARED / "fda-ndc" / "unfinished"
    for entity in ("product", "package"):
        link(env.landing, "fda_ndc", entity, "recon_2019-04-29.txt", finished / f"{entity}.txt")
        link(env.landing, "fda_ndc", entity, "unfinrecon_2018-06-25.txt", unfinished / f"unfinished_{entity}.txt")
    report = env.ingest(feeds_dir=None, feed="synthea")
    report.files += env.ingest(feeds_dir=None, feed="fda_ndc").files
    for load in report.files:
        balanced(load)
        assert load.status in ("loaded", "unchanged"), (load.file_name, load.reason)
    # Distinct records of a real export never share a key: nothing superseded, nothing conflicting.
    assert all(f.rows_superseded == 0 for f in report.files)
    conflicting = env.query(
        "select feed, entity, reason, rows from audit.file_quarantine_reasons "
        "where client_id like '%%recon' and reason like 'conflicting_duplicate:%%'"
    )
    assert conflicting == []
    reconciled(env, None, ["synthea", "fda_ndc"])

"""Real files written by others (../shared/data): the Synthea export and the FDA NDC Directory,
ingested through the project's own feed configs. Skipped, with the reason, where they are absent."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

from python_tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration

SHARED = Path(os.environ.get("WAREHOUSE_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
needs_shared = pytest.mark.skipif(
    not (SHARED / "synthea-27").is_dir() or not (SHARED / "fda-ndc").is_dir(),
    reason=f"reference data not found at {SHARED} (set WAREHOUSE_SHARED_DATA); a fresh clone does not have it",
)

SYNTHEA_ENTITIES = ("patients", "encounters", "observations", "medications", "conditions")


def link(landing: Path, feed: str, entity: str, name: str, source: Path) -> None:
    """Land a real file under the name the feed expects, without copying it where a hard link can do.

    Not a symbolic link: the loader rejects those leading out of the landing zone."""
    folder = landing / feed / entity
    folder.mkdir(parents=True, exist_ok=True)
    try:
        (folder / name).hardlink_to(source)
    except OSError:  # another file system
        shutil.copyfile(source, folder / name)


@pytest.fixture
def own_database(ingest_env, scratch_database, monkeypatch):
    """A database of this test's own: the session's database is shared by the test files of one worker
    (newer generated FDA snapshots of the same clients; the same real files landed by test_reconcile)."""
    name = scratch_database()
    monkeypatch.setenv("WAREHOUSE_DB_NAME", name)
    return dataclasses.replace(ingest_env, database=name)


@needs_shared
def test_real_synthea_export_ingests_through_the_synthea_feed(own_database):
    # A database of its own: other tests of the session (test_reconcile) land the same real files, and
    # a file already loaded (same SHA-256) is unchanged, not loaded again.
    env = own_database
    for entity in SYNTHEA_ENTITIES:
        link(env.landing, "synthea", entity, "real_2019-02-17.csv", SHARED / "synthea-27" / f"{entity}.csv")
    report = env.ingest(feeds_dir=None, feed="synthea")
    by_entity = {f.entity: f for f in report.files}
    assert set(by_entity) == set(SYNTHEA_ENTITIES)
    for entity, load in by_entity.items():
        expected_rows = sum(1 for _ in (SHARED / "synthea-27" / f"{entity}.csv").open()) - 1
        assert load.status == "loaded", (entity, load.reason)
        assert load.rows_read == expected_rows, entity
        assert load.rows_read == load.rows_loaded + load.rows_quarantined + load.rows_filtered + load.rows_superseded
    # Names, addresses and exact birth dates are gone; ages came out of the birth dates.
    columns = {r[0] for r in env.query(
        "select column_name from information_schema.columns "
        "where table_schema = 'raw' and table_name = 'synthea__patients'"
    )}  # fmt: skip
    assert columns and not columns & {"first_name", "last_name", "address", "birth_date", "ssn_raw"}
    ages = env.query(
        "select count(*), min(age_years_at_ingestion), max(age_years_at_ingestion) "
        "from raw.synthea__patients_calculated where _client_id = 'real'"  # other tests share the database
    )
    assert ages[0][0] == by_entity["patients"].rows_loaded and 0 <= ages[0][1] <= ages[0][2] <= 90


@needs_shared
def test_real_fda_files_ingest_and_an_unchanged_reference_is_skipped(own_database):
    env = own_database
    finished = SHARED / "fda-ndc" / "finished"
    link(env.landing, "fda_ndc", "product", "fda_2019-04-29.txt", finished / "product.txt")
    link(env.landing, "fda_ndc", "package", "fda_2019-04-29.txt", finished / "package.txt")
    unfinished = SHARED / "fda-ndc" / "unfinished"
    link(env.landing, "fda_ndc", "product", "unfinished_2018-06-25.txt", unfinished / "unfinished_product.txt")
    link(env.landing, "fda_ndc", "package", "unfinished_2018-06-25.txt", unfinished / "unfinished_package.txt")
    report = env.ingest(feeds_dir=None, feed="fda_ndc")
    assert {f.status for f in report.files} == {"loaded"}, [(f.file_name, f.reason) for f in report.files]
    # The finished product file carries one byte that is not UTF-8: that row alone is quarantined.
    product = next(f for f in report.files if f.entity == "product" and f.client_id == "fda")
    assert product.rows_quarantined == 1
    reasons = env.query("select _reasons from quarantine.fda_ndc__product where _client_id = 'fda'")
    assert reasons == [("invalid_utf8:labeler_name",)]
    # ISO-8859-1 decoded as declared: accented labeler names arrive intact, no replacement characters.
    bad = env.query("select count(*) from raw.fda_ndc__product where labeler_name like '%%\ufffd%%'")
    assert bad == [(0,)]
    accented = env.query(
        "select count(*) from raw.fda_ndc__product where _client_id = 'unfinished' and labeler_name ~ '[^\\x01-\\x7f]'"
    )
    assert accented[0][0] >= 1
    again = env.ingest(feeds_dir=None, feed="fda_ndc")
    assert {f.status for f in again.files} == {"unchanged"}


@needs_shared
def test_real_invalid_utf8_file_is_held_with_a_reason(ingest_env):
    env = ingest_env
    link(env.landing, "fda_ndc", "product", "fda_2019-05-01.txt", SHARED / "fda-ndc" / "bad-inputs" / "badutf8.txt")
    [load] = env.ingest(feeds_dir=None, feed="fda_ndc").files
    assert load.status == "held" and "missing required columns" in load.reason

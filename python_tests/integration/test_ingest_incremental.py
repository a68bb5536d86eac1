"""Incremental feeds with a watermark, onboarding by YAML only, and fsspec landing zones."""

from __future__ import annotations

import fsspec
import pytest

from python_tests.integration.ingest_helpers import HEADER, row

pytestmark = pytest.mark.integration

VISITS_FEED = """
feed: {feed}
entities:
  visits:
    business_key: [visit_id]
    incremental: {{mode: watermark, column: last_updated, lookback_hours: 24}}
    columns:
      - {{source: visit_id, name: visit_id, required: true, pii: none}}
      - {{source: patient_id, name: patient_id, required: true, pii: identifier}}
      - {{source: visit_date, name: visit_date, type: date, required: true, pii: none}}
      - {{source: visit_cost, name: visit_cost, type: decimal, min: 0, pii: none}}
      - {{source: last_updated, name: last_updated, type: timestamp, required: true, pii: none}}
"""
VISITS_HEADER = "visit_id,patient_id,visit_date,visit_cost,last_updated"


def test_watermark_takes_updates_and_late_rows_inside_the_lookback(ingest_env):
    env = ingest_env
    env.write_feed(VISITS_FEED.format(feed=env.feed))
    day1 = [VISITS_HEADER, "V1,P1,2026-11-18,100.00,2026-11-18T10:00:00", "V2,P2,2026-11-18,50.00,2026-11-18T11:00:00"]
    env.land("acme_2026-11-18_1.csv", "\n".join(day1) + "\n", entity="visits")
    env.ingest()
    day2 = [
        VISITS_HEADER,
        "V1,P1,2026-11-18,120.00,2026-11-19T09:00:00",  # an update of V1
        "V3,P3,2026-11-15,80.00,2026-11-18T20:00:00",  # late, but inside the 24 h lookback
        "V4,P4,2026-11-10,10.00,2026-11-16T08:00:00",  # older than watermark minus lookback
        "V1,P1,2026-11-18,110.00,2026-11-18T23:00:00",  # a stale re-send of V1 in the same file
    ]
    env.land("acme_2026-11-19_1.csv", "\n".join(day2) + "\n", entity="visits")
    report = env.ingest()
    second = next(f for f in report.files if f.file_name == "acme_2026-11-19_1.csv")
    # The stale re-send of V1 differs from the row that wins: a conflicting duplicate, kept in quarantine.
    assert (second.rows_read, second.rows_loaded, second.rows_quarantined, second.rows_filtered) == (4, 2, 1, 1)
    rows = env.query(f'select visit_id, visit_cost from raw."{env.feed}__visits" order by visit_id')
    assert rows == [("V1", 120.0), ("V2", 50.0), ("V3", 80.0)]
    watermark = env.query("select high_water::text from audit.watermarks where feed = %s", env.feed)
    assert watermark == [("2026-11-19 09:00:00",)]

    before = env.query(f"select md5(string_agg(t::text, '|' order by visit_id)) from raw.\"{env.feed}__visits\" t")
    rerun = env.ingest()
    assert {f.status for f in rerun.files} == {"unchanged"}
    after = env.query(f"select md5(string_agg(t::text, '|' order by visit_id)) from raw.\"{env.feed}__visits\" t")
    assert before == after


def test_onboarding_a_new_client_is_yaml_only(ingest_env):
    env = ingest_env
    env.write_feed()
    # The new client sends semicolon-separated files and only lists gold-plan members as consented.
    feed_yml = env.feeds_dir / f"{env.feed}.yml"
    feed_yml.write_text(
        feed_yml.read_text()
        + "clients:\n  newco:\n    format: {delimiter: ';'}\n"
        + "    whitelist:\n      people:\n        - {column: plan, in: [gold]}\n"
    )
    env.land("acme_2026-11-20.csv", "\n".join([HEADER, row("A1")]) + "\n")
    semicolons = [HEADER.replace(",", ";"), row("N1").replace(",", ";"), row("N2", plan="silver").replace(",", ";")]
    env.land("newco_2026-11-20.csv", "\n".join(semicolons) + "\n")
    report = env.ingest()
    by_client = {f.client_id: f for f in report.files}
    assert by_client["acme"].rows_loaded == 1
    assert (by_client["newco"].rows_loaded, by_client["newco"].rows_filtered) == (1, 1)
    assert sorted(r["_client_id"] for r in env.table("raw")) == ["acme", "newco"]


def test_onboarding_a_new_feed_is_yaml_only(ingest_env):
    env = ingest_env
    yaml_text = f"""
    feed: {env.feed}
    description: Lab results as JSON lines from a partner lab.
    invalid_row_threshold: 0.9
    format: {{type: ndjson}}
    entities:
      results:
        business_key: [result_id]
        columns:
          - {{source: id, name: result_id, required: true, pii: none}}
          - {{source: mrn, name: patient_id, required: true, pii: identifier}}
          - {{source: loinc, name: loinc_code, required: true, pii: none}}
          - {{source: value, name: value, type: decimal, pii: none}}
    """
    env.write_feed(yaml_text)
    lines = [
        '{"id": "R1", "mrn": "MRN1", "loinc": "2345-7", "value": 5.4}',
        '{"id": "R2", "mrn": "MRN2", "loinc": "2345-7", "value": "high"}',
        "{not json",
    ]
    env.land("lab1_2026-11-20.ndjson", "\n".join(lines) + "\n", entity="results")
    [load] = env.ingest().files
    reasons = env.query(f'select _reasons from quarantine."{env.feed}__results" order by _source_line')
    assert reasons == [("not_a_number:value",), ("malformed_json",)]
    assert (load.rows_read, load.rows_loaded, load.rows_quarantined) == (3, 1, 2)


def test_landing_zone_behind_an_fsspec_url(ingest_env):
    """The same loader reads from any fsspec URL (s3://, gs://, ...); memory:// proves the path here."""
    env = ingest_env
    env.write_feed()
    fs = fsspec.filesystem("memory")
    root = f"memory://{env.feed}-landing"
    with fs.open(f"{root}/{env.feed}/people/acme_2026-11-20.csv", "w") as handle:
        handle.write("\n".join([HEADER, row("M1"), row("M2")]) + "\n")
    try:
        report = env.ingest(landing_root=root)
    finally:
        fs.rm(root, recursive=True)
    [load] = report.files
    assert (load.status, load.rows_loaded) == ("loaded", 2)


def test_parquet_copy_of_the_pseudonymised_layer(ingest_env, tmp_path):
    import pyarrow.parquet as pq

    env = ingest_env
    env.write_feed()
    out = tmp_path / "pseudonymised"
    feed_yml = env.feeds_dir / f"{env.feed}.yml"
    feed_yml.write_text(feed_yml.read_text() + f"parquet_output: {out}\n")
    env.land("acme_2026-11-20.csv", "\n".join([HEADER, row("P1"), row("P2")]) + "\n")
    env.ingest()
    day = out / env.feed / "2026" / "11" / "20"
    raw_files = sorted((day / "raw" / "people").glob("*.parquet"))
    calculated_files = sorted((day / "calculated" / "people").glob("*.parquet"))
    assert raw_files and calculated_files
    table = pq.read_table(raw_files[0])
    assert table.num_rows == 2
    assert "first_name" not in table.column_names and "birth_date" not in table.column_names
    assert "_load_nonce" not in table.column_names
    # A forced re-run replaces the copy of the same file instead of adding a second one.
    env.ingest(force=True)
    assert len(list((day / "raw" / "people").glob("*.parquet"))) == len(raw_files)

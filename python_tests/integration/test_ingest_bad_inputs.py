"""Every bad input the loader must survive, each with its expected outcome: a clear reason, nothing
valid lost, no traceback, and per file read = loaded + quarantined + filtered."""

from __future__ import annotations

import pytest

from python_tests.conftest import run_cli
from python_tests.integration.ingest_helpers import HEADER, TEST_KEY, row

pytestmark = pytest.mark.integration

FILE = "acme_2026-11-20.csv"


def only_file(report):
    assert len(report.files) == 1, report.files
    load = report.files[0]
    assert load.rows_read == load.rows_loaded + load.rows_quarantined + load.rows_filtered + load.rows_superseded
    return load


def balanced_in_audit(env) -> None:
    unbalanced = env.query(
        "select count(*) from audit.file_loads "
        "where rows_read != rows_loaded + rows_quarantined + rows_filtered + rows_superseded"
    )
    assert unbalanced == [(0,)]


def test_good_file_loads_pseudonymised(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER, row("P1"), row("P2", first="Bob", consent="N")]) + "\n")
    load = only_file(env.ingest())
    assert (load.status, load.rows_read, load.rows_loaded, load.rows_filtered) == ("loaded", 2, 1, 1)
    raw = env.table("raw")
    assert len(raw) == 1
    record = raw[0]
    assert "first_name" not in record and "last_name" not in record and "birth_date" not in record
    assert record["person_id"] != "P1" and len(record["person_id"]) == 64
    assert record["zip"] == "021"
    assert record["_source_line"] == 2 and record["_source_file"] == FILE
    calculated = env.table("raw", "people_calculated")
    assert calculated[0]["age_years_at_event"] == 46 and calculated[0]["birth_year"] == 1980
    assert calculated[0]["_record_id"] == record["_record_id"]
    balanced_in_audit(env)


def test_rerun_is_unchanged_and_new_content_is_a_new_version(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER, row("P1", height="170")]) + "\n")
    assert only_file(env.ingest()).status == "loaded"
    again = only_file(env.ingest())
    assert again.status == "unchanged" and again.rows_loaded == 0
    env.land(FILE, "\n".join([HEADER, row("P1", height="171")]) + "\n")
    assert only_file(env.ingest()).status == "loaded"
    assert [r["height_cm"] for r in env.table("raw")] == [171.0]
    forced = only_file(env.ingest(force=True))
    assert forced.status == "loaded"
    assert len(env.table("raw")) == 1


def test_empty_file_is_held(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, b"")
    load = only_file(env.ingest())
    assert load.status == "held" and "empty" in load.reason
    assert env.query("select to_regclass(%s)", f'raw."{env.feed}__people"') == [(None,)]


def test_header_only_loads_zero_rows(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, HEADER + "\n")
    load = only_file(env.ingest())
    assert (load.status, load.rows_read, load.rows_loaded) == ("loaded", 0, 0)


def test_wrong_delimiter_is_held_with_a_hint(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER.replace(",", ";"), row().replace(",", ";")]) + "\n")
    load = only_file(env.ingest())
    assert load.status == "held"
    assert "missing required columns: id" in load.reason and "delimiter" in load.reason


def test_missing_required_column_is_held(ingest_env):
    env = ingest_env
    env.write_feed()
    header = HEADER.replace("id,", "")
    env.land(FILE, "\n".join([header, row().split(",", 1)[1]]) + "\n")
    load = only_file(env.ingest())
    assert load.status == "held" and "missing required columns: id" in load.reason


def test_missing_optional_column_loads_as_null(ingest_env):
    env = ingest_env
    env.write_feed()
    header = HEADER.replace(",city", "")
    env.land(FILE, "\n".join([header, row().replace(",Boston", "")]) + "\n")
    load = only_file(env.ingest())
    assert load.status == "loaded" and env.table("raw")[0]["city"] is None


def test_undeclared_column_is_schema_drift_and_explain_shows_the_yaml(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER + ",favourite_colour", row() + ",blue"]) + "\n")
    load = only_file(env.ingest())
    assert load.status == "held" and "schema_drift" in load.reason and "favourite_colour" in load.reason
    drift = env.query("select extra_columns from audit.schema_drift where feed = %s", env.feed)
    assert drift == [(["favourite_colour"],)]
    explained = run_cli(
        "ingest", "--explain", "--feeds-dir", str(env.feeds_dir), "--landing", str(env.landing),
        env={"WAREHOUSE_DB_NAME": env.database, "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY},
    )  # fmt: skip
    assert explained.returncode == 0, explained.stderr
    assert "+ undeclared (in the file, not declared): favourite_colour" in explained.stdout
    assert "- source: favourite_colour" in explained.stdout and "name: favourite_colour" in explained.stdout
    assert "blue" not in explained.stdout


def test_duplicate_header_names_are_held(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER.replace("city", "zip"), row()]) + "\n")
    load = only_file(env.ingest())
    assert load.status == "held" and "duplicate column names in header: zip" in load.reason


def test_invalid_utf8_byte_quarantines_that_row_only(ingest_env):
    env = ingest_env
    env.write_feed()
    content = "\n".join([HEADER, row("P1"), row("P2", city="CITY"), row("P3")]) + "\n"
    env.land(FILE, content.encode().replace(b"CITY", b"Bad\x80Byte"))
    load = only_file(env.ingest())
    assert (load.rows_loaded, load.rows_quarantined) == (2, 1)
    [bad] = env.table("quarantine")
    assert bad["_reasons"] == "invalid_utf8:city" and bad["city"] is None and bad["_source_line"] == 3


def test_iso_8859_1_declared_as_such(ingest_env):
    env = ingest_env
    env.write_feed()
    feed_yml = env.feeds_dir / f"{env.feed}.yml"
    feed_yml.write_text(
        feed_yml.read_text().replace("invalid_row_threshold", "format:\n  encoding: iso-8859-1\ninvalid_row_threshold")
    )
    env.land(FILE, ("\n".join([HEADER, row(city="Zürich Straße")]) + "\n").encode("iso-8859-1"))
    load = only_file(env.ingest())
    assert load.status == "loaded"
    assert env.table("raw")[0]["city"] == "Zürich Straße"


def test_utf8_bom_and_crlf(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, b"\xef\xbb\xbf" + ("\r\n".join([HEADER, row("P1"), row("P2")]) + "\r\n").encode())
    load = only_file(env.ingest())
    assert (load.status, load.rows_loaded) == ("loaded", 2)
    assert [r["consent"] for r in env.table("raw")] == ["Y", "Y"]  # no stray \r in the last column


def test_truncated_last_line_is_quarantined(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER, row("P1"), row("P2"), "P3,Cara,Jones,1990-01"]))
    load = only_file(env.ingest())
    assert (load.rows_read, load.rows_loaded, load.rows_quarantined) == (3, 2, 1)
    [bad] = env.table("quarantine")
    assert bad["_reasons"].startswith("column_count_mismatch") and bad["_source_line"] == 4
    assert bad["person_id"] is None  # the row could not be split: nothing of it is kept but where it was


def test_quoted_newlines_keep_values_and_line_numbers(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER, row("P1", note='"line one\nline two"'), "P2,x,y", row("P3")]) + "\n")
    load = only_file(env.ingest())
    assert (load.rows_loaded, load.rows_quarantined) == (2, 1)
    notes = {r["_source_line"]: r["note"] for r in env.table("raw")}
    assert notes[2] == "line one\nline two"
    assert 4 in notes  # record numbers: header 1, P1 2, the broken row 3, P3 4
    assert env.table("quarantine")[0]["_source_line"] == 3


def test_one_megabyte_field(ingest_env):
    env = ingest_env
    env.write_feed()
    big = "word " * 210_000
    env.land(FILE, "\n".join([HEADER, row("P1", note=big.strip()), row("P2")]) + "\n")
    load = only_file(env.ingest())
    assert load.rows_loaded == 2
    lengths = env.query(f'select length(note) from raw."{env.feed}__people" order by _source_line')
    assert lengths[0][0] == len(big.strip())


def test_formula_injection_and_sql_looking_values_are_stored_verbatim(ingest_env):
    env = ingest_env
    env.write_feed()
    formula = '"=HYPERLINK(""http://x.example"",""click"")"'
    sql_like = "Robert'); DROP TABLE students;--"
    env.land(FILE, "\n".join([HEADER, row("P1", city=formula), row("P2", city=sql_like)]) + "\n")
    load = only_file(env.ingest())
    assert load.rows_loaded == 2
    cities = [r["city"] for r in env.table("raw")]
    assert cities == ['=HYPERLINK("http://x.example","click")', sql_like]


def test_sql_looking_column_names(ingest_env):
    env = ingest_env
    yaml_text = f"""
    feed: {env.feed}
    entities:
      people:
        business_key: [select]
        columns:
          - {{source: 'select', name: select, required: true, pii: identifier}}
          - {{source: 'drop table x;--', name: order, type: integer, pii: none}}
    """
    env.write_feed(yaml_text)
    env.land(FILE, 'select,"drop table x;--"\nA,1\nB,2\n')
    load = only_file(env.ingest())
    assert load.rows_loaded == 2
    assert env.query(f'select sum("order") from raw."{env.feed}__people"') == [(3,)]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"visit": "20/11/2026"}, "bad_date_format:visit_date"),
        ({"dob": "2099-01-01"}, "future_birth_date:birth_date"),
        ({"height": "-5"}, "out_of_range:height_cm"),
        ({"height": '"12,5kg"'}, "not_a_number:height_cm"),
        ({"plan": "platinum"}, "not_allowed:plan"),
        ({"pid": ""}, "missing_required:person_id"),
        ({"city": "call 555-867-5309"}, "pii_detected:city:phone"),
        ({"city": "anna.smith@example.com"}, "pii_detected:city:email"),
        ({"city": "Anna"}, "pii_detected:city:own_name"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_invalid_values_are_quarantined_with_a_reason(ingest_env, overrides, reason):
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER, row("P1"), row(**{"pid": "P2", **overrides}), row("P3")]) + "\n")
    load = only_file(env.ingest())
    assert (load.rows_loaded, load.rows_quarantined) == (2, 1)
    [bad] = env.table("quarantine")
    assert reason in bad["_reasons"].split(",")
    assert bad["_source_line"] == 3
    # Quarantine is pseudonymised like raw: no names, no birth date, tokens, redacted hits.
    assert "first_name" not in bad and "birth_date" not in bad
    assert bad["person_id"] is None or len(bad["person_id"]) == 64
    if reason.startswith("pii_detected"):
        assert bad["city"].startswith("[REDACTED:")
    reasons = env.query("select reason, rows from audit.file_quarantine_reasons where feed = %s", env.feed)
    assert (reason, 1) in reasons


def test_duplicate_business_keys_latest_wins(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER, row("P1", height="170"), row("P2"), row("P1", height="172")]) + "\n")
    load = only_file(env.ingest())
    # The earlier, different version of P1 is kept in quarantine as a conflicting duplicate, and counted.
    assert (load.rows_loaded, load.rows_quarantined) == (2, 1)
    heights = {r["_source_line"]: r["height_cm"] for r in env.table("raw")}
    assert heights == {3: 170.0, 4: 172.0}


def test_older_file_does_not_overwrite_newer(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land("acme_2026-11-21.csv", "\n".join([HEADER, row("P1", height="180")]) + "\n")
    env.ingest()
    env.land("acme_2026-11-19.csv", "\n".join([HEADER, row("P1", height="150")]) + "\n")  # a late backfill
    env.ingest()
    assert [r["height_cm"] for r in env.table("raw")] == [180.0]


def test_too_many_invalid_rows_hold_the_file_and_keep_every_row_in_quarantine(ingest_env):
    env = ingest_env
    env.write_feed(threshold=0.05)
    rows = [row(f"P{i}") for i in range(18)] + [row("X1", height="abc"), row("X2", height="-1")]
    env.land(FILE, "\n".join([HEADER, *rows]) + "\n")
    load = only_file(env.ingest())
    assert load.status == "held" and "invalid_ratio" in load.reason
    assert (load.rows_read, load.rows_loaded, load.rows_quarantined) == (20, 0, 20)
    assert env.query("select to_regclass(%s)", f'raw."{env.feed}__people"') == [(None,)]
    assert len(env.table("quarantine")) == 20


def test_file_name_not_matching_is_rejected_and_left_in_place(ingest_env):
    env = ingest_env
    env.write_feed()
    path = env.land("members export (final).csv", "\n".join([HEADER, row()]) + "\n")
    load = only_file(env.ingest())
    assert load.status == "rejected" and "does not match" in load.reason
    assert path.exists()


def test_feed_yaml_typo_is_one_clear_line(tmp_path):
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "typo.yml").write_text(
        "feed: typo\nentities:\n  people:\n    busines_key: [id]\n"
        "    columns:\n      - {source: id, name: id, pii: none}\n"
    )
    result = run_cli(
        "ingest", "--feeds-dir", str(feeds), "--landing", str(tmp_path), env={"WAREHOUSE_PSEUDONYM_KEY": TEST_KEY}
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "typo.yml" in lines[0] and "busines_key" in lines[0] and "unknown field" in lines[0]


def test_no_key_means_the_loader_refuses(tmp_path, ingest_env, monkeypatch):
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER, row()]) + "\n")
    result = run_cli(
        "ingest", "--feeds-dir", str(env.feeds_dir), "--landing", str(env.landing),
        env={"WAREHOUSE_PSEUDONYM_KEY": "", "WAREHOUSE_STATE_DIR": str(tmp_path / "nostate"),
             "WAREHOUSE_DB_NAME": env.database},
    )  # fmt: skip
    assert result.returncode == 1 and "refuses to run without a key" in result.stderr


def test_dry_run_reports_and_writes_nothing(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER, row("P1")]) + "\n")
    env.land("not matching.csv", "x\n")
    report = env.ingest(dry_run=True)
    assert sorted(f.status for f in report.files) == ["rejected", "would load"]
    assert env.query("select to_regclass(%s)", f'raw."{env.feed}__people"') == [(None,)]
    assert env.query("select count(*) from audit.file_loads where feed = %s", env.feed) == [(0,)]
    assert only_file(env.ingest(feed=env.feed, client="acme")).status == "loaded"


@pytest.mark.parametrize("tracked", [True, False], ids=["keys-tracked", "keys-too-many-to-track"])
def test_duplicate_keys_are_resolved_whether_or_not_the_loader_tracked_them(ingest_env, monkeypatch, tracked):
    """Big files are not tracked in memory; the database then finds the duplicates itself."""
    import ingest.loader

    if not tracked:
        monkeypatch.setattr(ingest.loader, "MAX_TRACKED_KEYS", 1)
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER, row("P1", height="170"), row("P2"), row("P1", height="175")]) + "\n")
    env.ingest()
    heights = {r["_source_line"]: r["height_cm"] for r in env.table("raw")}
    assert heights == {3: 170.0, 4: 175.0}
    # The calculated table, split off the same stage rows, keeps the same latest row per key.
    assert sorted(r["_source_line"] for r in env.table("raw", "people_calculated")) == [3, 4]
    env.land("acme_2026-11-21.csv", "\n".join([HEADER, row("P2", height="160"), row("P3")]) + "\n")
    env.ingest()
    assert sorted(r["height_cm"] for r in env.table("raw")) == [160.0, 170.0, 175.0]


def test_a_first_load_takes_the_stage_table_over_and_the_next_run_merges(ingest_env):
    """The first file of a new table becomes that table without a copy: it must still be crash-safe
    (logged), keyed, readable by dbt, free of stage-only and calculated columns, and leave dlt an empty
    stage table. The calculated table is split off the same stage table."""
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER, row("P1", height="170"), row("P2")]) + "\n")
    env.ingest()
    for suffix in ("", "_calculated"):
        table = f'raw."{env.feed}__people{suffix}"'
        assert env.query("select relpersistence from pg_class where oid = %s::regclass", table) == [("p",)]
        assert env.query("select has_table_privilege('transformer', %s, 'select')", table) == [(True,)]
        indexes = env.query(
            "select indexdef from pg_indexes where schemaname = 'raw' and tablename = %s", f"{env.feed}__people{suffix}"
        )
        # `_client_id` last: it is the same in a whole file, and first it slows the sort (promote.py).
        assert any("UNIQUE" in d and "(person_id, _client_id)" in d for (d,) in indexes), indexes
    assert env.query(f'select count(*) from raw."stage__{env.feed}__people"') == [(0,)]
    assert env.query("select to_regclass(%s)", f'raw."stage__{env.feed}__people_calculated"') == [(None,)]
    # Autovacuum is kept off the stage tables (its analyze after a big COPY held up the promotion for
    # a second) and given back to the raw tables the stage table became.
    options = (  # the table's own options, and its TOAST table's (which lists them without "toast.")
        "select coalesce(c.reloptions, '{}'), coalesce(t.reloptions, '{}') from pg_class c "
        "join pg_class t on t.oid = c.reltoastrelid where c.oid = %s::regclass"
    )
    off = ["autovacuum_enabled=false"]
    assert env.query(options, f'raw."stage__{env.feed}__people"') == [(off, off)]
    for suffix in ("", "_calculated"):
        assert env.query(options, f'raw."{env.feed}__people{suffix}"') == [([], [])]
    columns = set(env.table("raw")[0])
    assert "_load_nonce" not in columns and "_stage_file" not in columns and "_record_id" in columns
    assert not columns & {"age_years_at_event", "age_years_at_ingestion", "birth_year"}, columns
    calculated = env.table("raw", "people_calculated")
    assert len(calculated) == 2 and all(r["age_years_at_event"] is not None for r in calculated)
    assert {r["_record_id"] for r in calculated} == {r["_record_id"] for r in env.table("raw")}
    assert len(env.table("raw")) == 2
    env.land("acme_2026-11-21.csv", "\n".join([HEADER, row("P2", height="160"), row("P3", height="150")]) + "\n")
    env.ingest()
    rows = sorted((r["_source_file"], r["height_cm"]) for r in env.table("raw"))
    assert rows == [("acme_2026-11-20.csv", 170.0), ("acme_2026-11-21.csv", 150.0), ("acme_2026-11-21.csv", 160.0)]


def test_per_file_lineage_is_written_at_promotion(ingest_env):
    """The lineage that is the same for every row of a file is not staged: promotion writes it, on a
    first load as a column default of the renamed stage table (then dropped), on a merge as values."""
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER, row("P1"), row("P2", height="abc")]) + "\n")
    env.ingest()
    env.land("acme_2026-11-21.csv", "\n".join([HEADER, row("P3"), row("P4", height="-1")]) + "\n")
    env.ingest()
    lineage = ["_source_file", "_file_sha256", "_client_id", "_file_date", "_file_seq", "_run_id", "_ingested_at"]
    for schema, suffix in (("raw", ""), ("raw", "_calculated"), ("quarantine", "")):
        rows = env.table(schema, f"people{suffix}")
        assert len(rows) == 2, (schema, suffix)
        for record in rows:
            assert all(record[c] is not None for c in [*lineage, "_pseudonym_key_id", "_record_id"]), record
            assert record["_record_id"] == f"{record['_file_sha256'][:16]}-{record['_source_line']}"
            assert "_stage_file" not in record and "_load_nonce" not in record
        assert sorted(str(r["_file_date"]) for r in rows) == ["2026-11-20", "2026-11-21"]
        assert len({r["_file_sha256"] for r in rows}) == 2
        defaults = env.query(
            "select column_name from information_schema.columns "
            "where table_schema = %s and table_name = %s and column_default is not null",
            schema,
            f"{env.feed}__people{suffix}",
        )
        assert defaults == [], defaults


def test_files_sharing_the_stage_tables_promote_exactly_their_own_rows(ingest_env):
    """Several files (two clients) staged in one run share the stage tables: each promotion takes its
    own rows by `_stage_file` and writes its own lineage, also into quarantine."""
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER, row("P1"), row("P2", height="abc"), row("P3")]) + "\n")
    env.land("acme_2026-11-21.csv", "\n".join([HEADER, row("P3", height="150"), row("P4", plan="tin")]) + "\n")
    env.land("beta_2026-11-20.csv", "\n".join([HEADER, row("P1", height="180")]) + "\n")
    report = env.ingest()
    assert sorted((f.file_name, f.rows_loaded, f.rows_quarantined) for f in report.files) == [
        ("acme_2026-11-20.csv", 2, 1), ("acme_2026-11-21.csv", 1, 1), ("beta_2026-11-20.csv", 1, 0),
    ]  # fmt: skip
    balanced_in_audit(env)
    raw = sorted((r["_client_id"], r["_source_file"], r["_source_line"], r["height_cm"]) for r in env.table("raw"))
    assert raw == [
        ("acme", "acme_2026-11-20.csv", 2, 170.0),
        ("acme", "acme_2026-11-21.csv", 2, 150.0),
        ("beta", "beta_2026-11-20.csv", 2, 180.0),
    ]
    assert len(env.table("raw", "people_calculated")) == 3
    quarantined = sorted((r["_source_file"], r["_reasons"]) for r in env.table("quarantine"))
    assert quarantined == [
        ("acme_2026-11-20.csv", "not_a_number:height_cm"),
        ("acme_2026-11-21.csv", "not_allowed:plan"),
    ]

"""Privacy under hostile input: everything a landed file carries (its first row, its header cells, its
name, values that fail their checks) is data until proven otherwise, and names are known before any
free text is written. Each test lands the bad input itself and then looks for it everywhere: every
table of the database as text, the command's stdout and stderr, and `ingest --explain`."""

from __future__ import annotations

import subprocess

import pytest

import ingest.loader
from ingest.pii.keys import load_key
from ingest.pii.known_names import KnownNames
from python_tests.conftest import run_cli
from python_tests.integration.ingest_helpers import HEADER, PEOPLE_FEED, TEST_KEY, row

pytestmark = pytest.mark.integration

FILE = "acme_2026-11-20.csv"


def database_text(env) -> str:
    """Every row of every table of the test database, as text (what any leak would show up in)."""
    tables = env.query(
        "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
        "and table_schema not in ('pg_catalog', 'information_schema')"
    )
    parts = []
    for schema, table in tables:
        rows = env.query(f'select t::text from "{schema}"."{table}" t')
        parts.extend(r[0] for r in rows)
    return "\n".join(parts).lower()


def cli(env, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_cli(
        "ingest", *args, "--feeds-dir", str(env.feeds_dir), "--landing", str(env.landing),
        env={"WAREHOUSE_DB_NAME": env.database, "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY,
             "WAREHOUSE_DLT_DIR": str(env.root / "dlt"), "WAREHOUSE_INGEST_RETRY_SECONDS": "5"},
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    return result


def assert_nowhere(secrets: list[str], *texts: str) -> None:
    for text in texts:
        lowered = text.lower()
        for secret in secrets:
            assert secret.lower() not in lowered, f"{secret!r} leaked: ...{_around(lowered, secret.lower())}..."


def _around(text: str, secret: str) -> str:
    at = text.find(secret)
    return text[max(0, at - 80) : at + len(secret) + 80]


def file_loads(env) -> list[tuple]:
    return env.query("select file_name, status, reason from audit.file_loads where feed = %s order by id", env.feed)


def test_headerless_file_is_held_as_no_header_and_its_first_row_is_nowhere(ingest_env):
    env = ingest_env
    env.write_feed()
    first = row("M7731904", first="Quillon", last="Vantreese", dob="1961-02-03", zip_code="02139",
                note="call 617-555-0199 or q.vantreese@example.org, ssn 219-09-9999", city="Brookline")  # fmt: skip
    env.land(FILE, "\n".join([first, row("M7731905", first="Orla", last="Pendlebury")]) + "\n")
    secrets = ["M7731904", "Quillon", "Vantreese", "1961-02-03", "617-555-0199", "q.vantreese", "219-09-9999",
               "Brookline", "M7731905", "Pendlebury"]  # fmt: skip
    ingested = cli(env)
    assert ingested.returncode == 0, ingested.stderr
    [(name, status, reason)] = file_loads(env)
    assert (name, status) == (FILE, "held")
    assert reason.startswith("no_header: the first row looks like data"), reason
    assert env.query("select count(*) from audit.schema_drift where feed = %s", env.feed) == [(0,)]
    explained = cli(env, "--explain")
    assert explained.returncode == 0 and "no_header" in explained.stdout, explained.stdout
    assert_nowhere(secrets, database_text(env), ingested.stdout, ingested.stderr, explained.stdout, explained.stderr)


def test_header_cells_that_are_a_name_or_an_email_are_described_not_stored(ingest_env):
    env = ingest_env
    env.write_feed()
    # The name is known before the drifted file's header is judged: another file of the run carries it.
    env.land(FILE, "\n".join([HEADER, row("P1", first="Ysolde", last="Marchbanks")]) + "\n")
    header = HEADER + ",Marchbanks,ysolde.m@example.net,favourite_colour"
    env.land("acme_2026-11-21.csv", "\n".join([header, row("P2") + ",x,y,blue"]) + "\n")
    ingested = cli(env)
    assert ingested.returncode == 0, ingested.stderr
    drift = env.query("select extra_columns, file_name from audit.schema_drift where feed = %s", env.feed)
    [(extra, file_name)] = drift
    assert file_name == "acme_2026-11-21.csv"
    assert extra[0].startswith("column 12 (10 chars, letters, id "), extra
    assert extra[1].startswith("column 13 (20 chars, letters+punct, id "), extra
    assert extra[2] == "favourite_colour"  # a plain column name is shown as it is
    explained = cli(env, "--explain")
    assert explained.returncode == 0, explained.stderr
    out = explained.stdout
    assert "+ undeclared (in the file, not declared): favourite_colour" in out and "- source: favourite_colour" in out
    assert "+ undeclared (in the file, not declared): column 12 (10 chars, letters, id " in out
    assert "header cell 12" in out and "not shown, it may be personal data" in out
    # The same cell gets the same id in the audit table and in --explain (keyed by the same key).
    assert extra[0] in out
    secrets = ["Marchbanks", "ysolde"]
    assert_nowhere(secrets, database_text(env), ingested.stdout, ingested.stderr, out, explained.stderr)


def test_a_file_named_after_a_person_is_described_everywhere(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land("jorunn_halvorsen_555-867-5309.csv", "\n".join([HEADER, row("P1")]) + "\n")
    ingested = cli(env)
    assert ingested.returncode == 0, ingested.stderr
    [(name, status, reason)] = file_loads(env)
    assert status == "rejected" and "does not match" in reason
    assert name.startswith("file #") and name.endswith("(.csv, 33 chars)"), name
    assert_nowhere(["jorunn", "halvorsen", "867-5309"], database_text(env), ingested.stdout, ingested.stderr)


def test_a_file_name_that_matches_the_pattern_but_holds_a_known_name_is_rejected(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER, row("P1", first="Idunn", last="Sokolowska")]) + "\n")
    env.ingest()
    env.land("sokolowska_2026-11-22.csv", "\n".join([HEADER, row("P2")]) + "\n")
    ingested = cli(env)
    assert ingested.returncode == 0, ingested.stderr
    rows = file_loads(env)
    rejected = [r for r in rows if r[1] == "rejected"]
    assert len(rejected) == 1 and "personal data" in rejected[0][2], rows
    assert rejected[0][0].startswith("file #")
    assert_nowhere(["sokolowska", "idunn"], database_text(env), ingested.stdout, ingested.stderr)


NDJSON_FEED = """
feed: {feed}
format: {{type: ndjson}}
invalid_row_threshold: 0.9
entities:
  people:
    business_key: [person_id]
    columns:
      - {{source: id, name: person_id, required: true, pii: identifier}}
      - {{source: first, name: first_name, pii: direct}}
      - {{source: last, name: last_name, pii: direct}}
      - {{source: weight, name: weight_kg, type: decimal, pii: none}}
      - {{source: unit, name: unit, allowed: [kg, lb], pii: none}}
      - {{source: extra, name: extra, pii: none}}
      - {{source: note, name: note, pii: free_text}}
"""


def test_quarantine_holds_no_failing_value_and_no_stage_table_outlives_the_load(ingest_env):
    env = ingest_env
    env.write_feed(NDJSON_FEED.format(feed=env.feed))
    lines = [
        '{"id": "P1", "first": "Ottoline", "last": "Greybrook", "weight": 70, "unit": "kg", "extra": "x"}',
        # An SSN in a decimal column.
        '{"id": "P2", "first": "A", "last": "B", "weight": "219-09-9999", "unit": "kg", "extra": "x", "note": "ok"}',
        # A name in an allowed-values column (nobody's name the loader knows).
        '{"id": "P3", "first": "C", "last": "D", "weight": 1, "unit": "Wendeline Thackeray", "extra": "x"}',
        # A nested object holding a known name, in a plain `none` column.
        '{"id": "P4", "first": "E", "last": "F", "weight": 2, "unit": "kg", "extra": {"kin": {"name": "Greybrook"}}}',
        # A nested object where a number is due.
        '{"id": "P5", "first": "G", "last": "H", "weight": {"who": "Marisol Quennell"}, "unit": "lb", "extra": "x"}',
    ]
    env.land("acme_2026-11-20.ndjson", "\n".join(lines) + "\n")
    report = env.ingest()
    [load] = report.files
    assert (load.rows_loaded, load.rows_quarantined) == (1, 4), load
    quarantine = {r["_source_line"]: r for r in env.table("quarantine")}
    assert quarantine[2]["weight_kg"] == "[REDACTED:invalid value, 11 chars, digits+punct]"
    assert quarantine[3]["unit"] == "[REDACTED:invalid value, 19 chars, letters+space]"
    assert (
        quarantine[4]["extra"] == "[REDACTED:known_name]"
        and "pii_detected:extra:known_name" in quarantine[4]["_reasons"]
    )
    assert quarantine[5]["weight_kg"].startswith("[REDACTED:invalid value, ")
    stages = env.query(
        "select tablename from pg_tables where schemaname = 'raw' and tablename like %s", f"stage__{env.feed}%"
    )
    assert not [t for (t,) in stages if t.endswith("_quarantine")], stages
    assert_nowhere(["219-09-9999", "Wendeline", "Thackeray", "Greybrook", "Marisol", "Quennell"], database_text(env))
    # The next run loads into a quarantine stage table dlt creates again.
    env.land("acme_2026-11-21.ndjson", lines[1].replace("P2", "P9") + "\n")
    again = {f.file_name: f for f in env.ingest().files}["acme_2026-11-21.ndjson"]
    assert (again.status, again.rows_quarantined) == ("held", 1)  # one row, invalid: above the threshold
    assert len(env.table("quarantine")) == 5


def test_leftover_quarantine_stage_table_of_a_killed_run_is_dropped_at_start(ingest_env):
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER, row("P1"), row("P2", height="abc")]) + "\n")
    env.ingest()
    stage = f'raw."stage__{env.feed}__people_quarantine"'
    env.query(f"create table {stage} (city text)")
    env.query(f"alter table {stage} owner to loader")
    env.query(f"insert into {stage} values ('left behind by a kill')")
    env.ingest()
    assert env.query("select to_regclass(%s)", stage) == [(None,)]


def test_names_of_a_later_feed_are_redacted_from_free_text_of_an_earlier_feed(ingest_env):
    env = ingest_env
    later = env.feed + "z"  # feeds run in name order: this one after the fixture's
    env.write_feed()
    env.write_feed(PEOPLE_FEED.format(feed=later, threshold=0.5), name=later)
    env.land(FILE, "\n".join([HEADER, row("P1", note="seen with Fenwick Albescu today")]) + "\n")
    env.land(FILE, "\n".join([HEADER, row("P7", first="Fenwick", last="Albescu")]) + "\n", feed=later)
    report = env.ingest()
    assert [f.feed for f in report.files] == [env.feed, later]
    [earlier] = env.table("raw")
    assert earlier["note"] == "seen with [REDACTED:name] [REDACTED:name] today"
    assert_nowhere(["Fenwick", "Albescu"], database_text(env))


def _token(word: str) -> str:
    return KnownNames(load_key(None)).token_for(word)


def test_a_files_name_tokens_commit_with_its_promotion_and_only_then(ingest_env, monkeypatch):
    env = ingest_env
    env.write_feed()
    env.land(FILE, "\n".join([HEADER, row("P1", first="Aldwyn", last="Trevithick")]) + "\n")
    env.land("acme_2026-11-21.csv", "\n".join([HEADER, row("P2", first="Berenike", last="Quarrendon")]) + "\n")
    real = ingest.loader.promote
    promoted = []

    def promote_then_die(conn, request):
        if promoted:
            raise RuntimeError("killed between two promotions")
        real(conn, request)
        promoted.append(request.load.file_name)

    monkeypatch.setattr(ingest.loader, "promote", promote_then_die)
    with pytest.raises(RuntimeError):
        env.ingest()
    saved = {t for (t,) in env.query("select token from audit.name_tokens")}
    assert {_token("aldwyn"), _token("trevithick")} <= saved
    assert not {_token("berenike"), _token("quarrendon")} & saved
    monkeypatch.setattr(ingest.loader, "promote", real)
    env.ingest()
    saved = {t for (t,) in env.query("select token from audit.name_tokens")}
    assert {_token("berenike"), _token("quarrendon")} <= saved

"""Real feeds onboarded by YAML alone: a client's renamed header, a file without a header, two cells
of the same name, several date formats in one column, a file date from a name that is not
`client_date`, all-empty rows, and decimals that land exact as numeric(p, s)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ingest.loader import IngestOptions, run_ingest

pytestmark = pytest.mark.integration

FEED = """
feed: {feed}
invalid_row_threshold: 0.9
{top}
entities:
  people:
    business_key: [person_id]
    columns:
      - {{source: id, name: person_id, required: true, pii: identifier}}
      - {{source: amount, name: amount, type: decimal, precision: 12, scale: 2, pii: none}}
      - {{source: seen, name: seen, type: date, format: ["%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y"], pii: none}}
"""


def feed(env, top: str = "") -> None:
    env.write_feed(FEED.format(feed=env.feed, top=top))


def ingest(env) -> tuple[list, list[str]]:
    messages: list[str] = []
    options = IngestOptions(
        feeds_dir=env.feeds_dir, landing_root=str(env.landing), work_dir=env.root / "dlt", retry_seconds=5
    )
    report = run_ingest(options, env.target, log=messages.append)
    for load in report.files:
        assert load.rows_read == load.rows_loaded + load.rows_quarantined + load.rows_filtered + getattr(
            load, "rows_superseded", 0
        )
    return report.files, messages


def reasons(env) -> dict[str, int]:
    rows = env.query("select reason, rows from audit.file_quarantine_reasons where feed = %s", env.feed)
    return dict(rows)


def test_client_renamed_header_and_alternative_names(ingest_env):
    env = ingest_env
    env.write_feed(
        FEED.format(feed=env.feed, top="clients: {beta: {columns: {people: {person_id: PersonNo}}}}").replace(
            "{source: seen,", "{source: seen, sources: [last_seen],"
        )
    )
    env.land("acme_2026-11-20.csv", "id,amount,seen\nA1,1.50,2026-11-01\n")
    env.land("beta_2026-11-20.csv", "PersonNo,amount,last_seen\nB1,2.25,2026-11-02\n")
    loads, _ = ingest(env)
    assert sorted((f.client_id, f.status, f.rows_loaded) for f in loads) == [
        ("acme", "loaded", 1),
        ("beta", "loaded", 1),
    ]
    rows = env.query(f'select _client_id, amount, seen from raw."{env.feed}__people" order by 1')
    assert rows == [("acme", Decimal("1.50"), date(2026, 11, 1)), ("beta", Decimal("2.25"), date(2026, 11, 2))]
    # Acme's renamed header is not accepted: the mapping is beta's alone.
    env.land("acme_2026-11-21.csv", "PersonNo,amount,seen\nA2,1.50,2026-11-01\n")
    loads, _ = ingest(env)
    held = next(f for f in loads if f.status == "held")
    assert "missing required columns: id" in held.reason


def test_headerless_file_by_position(ingest_env):
    env = ingest_env
    env.write_feed(
        f"""
        feed: {env.feed}
        format: {{header: false}}
        entities:
          people:
            business_key: [person_id]
            columns:
              - {{name: person_id, position: 2, required: true, pii: identifier}}
              - {{name: amount, position: 1, type: decimal, scale: 2, pii: none}}
              - {{name: seen, position: 3, type: date, pii: none}}
        """
    )
    env.land("acme_2026-11-20.csv", "3.10,P1,2026-11-01\n4.20,P2,2026-11-02\n")
    loads, _ = ingest(env)
    assert [(f.status, f.rows_read, f.rows_loaded) for f in loads] == [("loaded", 2, 2)]
    rows = env.query(f'select amount, seen, _source_line from raw."{env.feed}__people" order by _source_line')
    # Without a header the first record is line 1.
    assert rows == [(Decimal("3.10"), date(2026, 11, 1), 1), (Decimal("4.20"), date(2026, 11, 2), 2)]


def test_duplicate_header_names_by_position(ingest_env):
    env = ingest_env
    env.write_feed(
        f"""
        feed: {env.feed}
        entities:
          people:
            business_key: [person_id]
            columns:
              - {{source: id, name: person_id, required: true, pii: identifier}}
              - {{source: "Celle 5:", name: cell5_top, position: 2, type: decimal, pii: none}}
              - {{source: "Celle 5:", name: cell5_bottom, position: 3, type: decimal, pii: none}}
        """
    )
    env.land("acme_2026-11-20.csv", "id,Celle 5:,Celle 5:\nS1,1.5,2.5\n")
    loads, _ = ingest(env)
    assert [(f.status, f.rows_loaded) for f in loads] == [("loaded", 1)]
    assert env.query(f'select cell5_top, cell5_bottom from raw."{env.feed}__people"') == [
        (Decimal("1.5"), Decimal("2.5"))
    ]


def test_duplicate_header_names_without_position_are_held(ingest_env):
    env = ingest_env
    feed(env)
    env.land("acme_2026-11-20.csv", "id,amount,amount,seen\nS1,1.5,2.5,2026-11-01\n")
    loads, _ = ingest(env)
    assert loads[0].status == "held" and "position:" in loads[0].reason


def test_several_date_formats_first_match_wins(ingest_env):
    env = ingest_env
    feed(env)
    env.land(
        "acme_2026-11-20.csv",
        "id,amount,seen\nP1,1,2026-11-01\nP2,1,02.11.2026\nP3,1,11/03/2026\nP4,1,2026/11/04\n",
    )
    loads, _ = ingest(env)
    assert [(f.rows_loaded, f.rows_quarantined) for f in loads] == [(3, 1)]
    seen = [r[0] for r in env.query(f'select seen from raw."{env.feed}__people" order by _source_line')]
    assert seen == [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]
    assert reasons(env) == {"bad_date_format:seen": 1}


def test_file_date_from_a_name_that_is_not_client_date(ingest_env):
    env = ingest_env
    feed(
        env,
        top='file_pattern: "^Export-(?P<client_id>[a-z]+)-(?P<file_date>\\\\d{8})\\\\.csv$"\n'
        'file_date_format: "%Y%m%d"',
    )
    env.land("Export-acme-20261120.csv", "id,amount,seen\nP1,1,2026-11-01\n")
    loads, _ = ingest(env)
    assert [(f.client_id, f.status) for f in loads] == [("acme", "loaded")]
    assert env.query(f'select _client_id, _file_date from raw."{env.feed}__people"') == [("acme", date(2026, 11, 20))]


def test_all_empty_rows_are_filtered_with_a_warning(ingest_env):
    env = ingest_env
    feed(env)
    env.land("acme_2026-11-20.csv", "id,amount,seen\nP1,1,2026-11-01\n,,\n , ,\nP2,2,2026-11-02\n,,\n")
    loads, messages = ingest(env)
    load = loads[0]
    assert (load.status, load.rows_read, load.rows_loaded, load.rows_quarantined, load.rows_filtered) == (
        "loaded",
        5,
        2,
        0,
        3,
    )
    assert "empty_row" in load.reason
    assert any(m.startswith("warning:") and "3 empty rows" in m and "empty_row" in m for m in messages)
    recorded = env.query("select rows_filtered, reason from audit.file_loads where feed = %s", env.feed)
    assert recorded[0][0] == 3 and "empty_row" in recorded[0][1]


def test_decimal_lands_as_exact_numeric(ingest_env):
    env = ingest_env
    feed(env)
    env.land(
        "acme_2026-11-20.csv",
        "id,amount,seen\nP1,0.1,2026-11-01\nP2,0.2,2026-11-01\nP3,1.005,2026-11-01\nP4,12345678901.5,2026-11-01\n"
        "P5,1e1,2026-11-01\nP6,abc,2026-11-01\n",
    )
    loads, _ = ingest(env)
    assert [(f.rows_loaded, f.rows_quarantined) for f in loads] == [(3, 3)]
    table = f"{env.feed}__people"
    column_type = env.query(
        "select format_type(atttypid, atttypmod) from pg_attribute where attrelid = %s::regclass and attname = %s",
        f'raw."{table}"',
        "amount",
    )
    assert column_type == [("numeric(12,2)",)]
    assert env.query(f'select sum(amount) = 0.3, sum(amount) from raw."{table}" where amount < 1') == [
        (True, Decimal("0.30"))
    ]
    assert env.query(f'select amount from raw."{table}" where amount > 1') == [(Decimal("10.00"),)]
    # Never rounded: 1.005 is no value of numeric(12, 2), nor is an 11-digit integer part.
    assert reasons(env) == {"too_many_digits:amount": 2, "not_a_number:amount": 1}


def test_raw_table_of_doubles_from_before_takes_decimals(ingest_env, monkeypatch):
    """A raw table created when decimals landed as double precision keeps loading."""
    import pyarrow as pa

    from ingest import validate

    env = ingest_env
    feed(env)
    exact = validate.parse_decimal
    monkeypatch.setattr(validate, "parse_decimal", lambda text, p, s: exact(text, p, s).cast(pa.float64()))
    env.land("acme_2026-11-20.csv", "id,amount,seen\nP1,0.1,2026-11-01\n")
    ingest(env)
    env.land("acme_2026-11-21.csv", "id,amount,seen\nP2,0.2,2026-11-01\n")
    ingest(env)
    monkeypatch.setattr(validate, "parse_decimal", exact)
    env.land("acme_2026-11-22.csv", "id,amount,seen\nP3,0.3,2026-11-01\nP4,0.4,2026-11-01\n")
    loads, _ = ingest(env)
    assert [(f.status, f.rows_loaded) for f in loads if f.status != "unchanged"] == [("loaded", 2)]
    assert len(env.table("raw")) == 4


def test_file_date_from_the_content(ingest_env):
    env = ingest_env
    env.write_feed(
        f"""
        feed: {env.feed}
        file_pattern: '^(?P<client_id>sensorlog)_export\\.csv$'
        entities:
          people:
            business_key: [person_id]
            file_date_from: {{column: read_at, take: max}}
            columns:
              - {{source: id, name: person_id, required: true, pii: identifier}}
              - {{source: read_at, name: read_at, type: timestamp, pii: none}}
        """
    )
    env.land(
        "sensorlog_export.csv", "id,read_at\nS1,2026-11-02 10:00:00\nS2,2026-11-05 23:59:00\nS3,2026-11-01 08:00:00\n"
    )
    loads, _ = ingest(env)
    assert [(f.client_id, f.status, f.rows_loaded) for f in loads] == [("sensorlog", "loaded", 3)]
    assert env.query(f'select distinct _file_date from raw."{env.feed}__people"') == [(date(2026, 11, 5),)]
    assert env.query("select file_date from audit.file_manifest where feed = %s", env.feed) == [(date(2026, 11, 5),)]

"""Read the audit history the checks and the report work from.

Everything here is a query against schema `audit` (the loader's tables and, once dbt has run, the
on-run-end hook's), run as the read-only `auditor` role. The only exception is `sample_record_ids`:
quarantined rows live in schema `quarantine`, which only the `loader` reads. Only counts, names,
dates, reason codes and `_record_id`s (file-hash prefix and line number) are read: never a value of
a data column, so nothing read here can carry PII.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from warehouse.db.roles import FAILURE_KEY_COLUMN, FAILURES_SCHEMA

Conn = psycopg2.extensions.connection

DBT_TABLES = ("dbt_invocations", "dbt_node_results", "dbt_source_freshness")


@dataclass(frozen=True)
class FileLoad:
    """The latest outcome of one file version (feed, entity, content hash)."""

    run_id: str
    feed: str
    entity: str
    client_id: str | None
    file_name: str
    file_sha256: str | None
    file_date: date | None
    file_seq: int | None
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_filtered: int
    invalid_ratio: float | None
    status: str
    reason: str | None
    recorded_at: datetime
    rows_held_valid: int = 0  # valid rows quarantined only because their file was held

    @property
    def table(self) -> str:
        return f"{self.feed}__{self.entity}"

    @property
    def rows_invalid(self) -> int:
        return self.rows_quarantined - self.rows_held_valid

    @property
    def file_invalid_ratio(self) -> float | None:
        """The share of invalid rows as the loader judged it. The recorded invalid_ratio of a file held
        for too many invalid rows is 1.0: by then all its rows, valid ones too, are in quarantine."""
        considered = self.rows_read - self.rows_filtered
        if self.invalid_ratio is None or not considered:
            return self.invalid_ratio
        return self.rows_invalid / considered


@dataclass(frozen=True)
class ClientDelivery:
    """A client's newest file for one feed and entity (loaded or held: delivered either way)."""

    feed: str
    entity: str
    client_id: str
    newest_file_date: date
    newest_file_name: str
    run_id: str


@dataclass(frozen=True)
class QuarantineCount:
    feed: str
    entity: str
    client_id: str | None
    reason: str
    rows: int
    files: int
    latest_file_sha256: str
    latest_file_name: str


@dataclass(frozen=True)
class Drift:
    run_id: str
    feed: str
    entity: str
    client_id: str | None
    file_name: str
    file_sha256: str
    missing_columns: tuple[str, ...]
    extra_columns: tuple[str, ...]
    detected_at: datetime


@dataclass(frozen=True)
class IngestRun:
    run_id: str
    started_at: datetime
    ended_at: datetime | None
    status: str
    files_seen: int | None
    files_loaded: int | None
    files_held: int | None
    files_rejected: int | None
    error: str | None


@dataclass(frozen=True)
class DbtTestRun:
    """Test outcomes of one dbt invocation that ran tests (build or test)."""

    invocation_id: str
    command: str
    started_at: datetime
    counts: dict[str, int]


@dataclass(frozen=True)
class NodeResult:
    invocation_id: str
    unique_id: str
    resource_type: str
    node_name: str
    attached_node: str | None
    column_name: str | None
    test_name: str | None
    severity: str | None
    status: str
    failures: int | None
    completed_at: datetime | None
    failures_relation: str | None = None  # where dbt stored the failing rows (store_failures)


@dataclass(frozen=True)
class SourceFreshness:
    invocation_id: str
    unique_id: str
    source_name: str
    table_name: str
    status: str
    max_loaded_at: datetime | None
    age_seconds: float | None
    warn_after_hours: float | None
    error_after_hours: float | None


@dataclass
class History:
    now: datetime
    file_loads: list[FileLoad] = field(default_factory=list)  # loaded and held files, latest outcome each
    other_loads: list[FileLoad] = field(default_factory=list)  # rejected and failed files in the window
    deliveries: list[ClientDelivery] = field(default_factory=list)
    quarantine: list[QuarantineCount] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    ingest_runs: list[IngestRun] = field(default_factory=list)
    dbt_available: bool = False
    test_runs: list[DbtTestRun] = field(default_factory=list)
    latest_build: str | None = None  # invocation id
    latest_build_at: datetime | None = None
    build_problems: list[NodeResult] = field(default_factory=list)  # non-passing nodes of the latest build
    latest_freshness: str | None = None
    source_freshness: list[SourceFreshness] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _rows(conn: Conn, query: str | sql.Composable, args: tuple = ()) -> list[tuple]:
    with conn.cursor() as cur:
        # Always with parameters, so a literal % in a query is written %% everywhere alike.
        cur.execute(query, args)
        return cur.fetchall()


def _exists(conn: Conn, relation: str) -> bool:
    return bool(_rows(conn, "select to_regclass(%s) is not null", (relation,))[0][0])


# The latest loaded-or-held outcome of each file (feed, entity, client, name): a re-delivered file
# with new content replaces the old one. file_date and file_seq come from the manifest.
FILE_LOADS = """
with latest as (
    select distinct on (l.feed, l.entity, l.client_id, l.file_name)
        l.run_id, l.feed, l.entity, l.client_id, l.file_name, l.file_sha256, m.file_date, m.file_seq,
        l.rows_read, l.rows_loaded, l.rows_quarantined, l.rows_filtered, l.invalid_ratio, l.status, l.reason,
        l.recorded_at
    from audit.file_loads l
    left join audit.file_manifest m
        on m.feed = l.feed and m.entity = l.entity and m.file_sha256 = l.file_sha256
    where l.status in ('loaded', 'held') and l.entity is not null
    order by l.feed, l.entity, l.client_id, l.file_name, l.recorded_at desc, l.id desc
),
held_valid as (
    -- A held file's valid rows follow it into quarantine under reason file_held:<why>.
    select run_id, feed, entity, file_sha256, sum(rows)::bigint as rows
    from audit.file_quarantine_reasons
    where reason like 'file_held:%%'
    group by run_id, feed, entity, file_sha256
)
select latest.*, coalesce(held_valid.rows, 0)
from latest
left join held_valid using (run_id, feed, entity, file_sha256)
"""

OTHER_LOADS = """
select l.run_id, l.feed, coalesce(l.entity, ''), l.client_id, l.file_name, l.file_sha256, null::date, null::int,
    l.rows_read, l.rows_loaded, l.rows_quarantined, l.rows_filtered, l.invalid_ratio, l.status, l.reason,
    l.recorded_at
from audit.file_loads l
where l.status in ('rejected', 'failed') and l.recorded_at >= now() - make_interval(secs => %s)
order by l.recorded_at desc
limit 200
"""

# Every file a client delivered, by name. Not the manifest alone: it is keyed by content, so two
# clients' identical files (two empty extracts) are one manifest row; the second is 'unchanged'.
DELIVERED_FILES = """
select l.feed, l.entity, l.client_id, l.file_name, max(m.file_date),
    (array_agg(l.run_id order by l.recorded_at desc))[1]
from audit.file_loads l
left join audit.file_manifest m
    on m.feed = l.feed and m.entity = l.entity and m.file_sha256 = l.file_sha256
where l.status in ('loaded', 'held', 'unchanged') and l.client_id is not null and l.entity is not null
group by l.feed, l.entity, l.client_id, l.file_name
"""

ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


def _file_date(file_name: str, recorded: date | None) -> date | None:
    """The date in the file's name (the landing convention `<client>_<YYYY-MM-DD>`), else the manifest's."""
    found = ISO_DATE.search(file_name)
    if found:
        try:
            return date.fromisoformat(found.group(1))
        except ValueError:
            pass
    return recorded


def deliveries(rows: list[tuple]) -> list[ClientDelivery]:
    newest: dict[tuple[str, str, str], ClientDelivery] = {}
    for feed, entity, client_id, file_name, manifest_date, run_id in rows:
        file_date = _file_date(file_name, manifest_date)
        if file_date is None:
            continue
        key = (feed, entity, client_id)
        current = newest.get(key)
        if current is None or (file_date, file_name) > (current.newest_file_date, current.newest_file_name):
            newest[key] = ClientDelivery(feed, entity, client_id, file_date, file_name, run_id)
    return [newest[key] for key in sorted(newest)]


# Reason counts of each file's latest run only (the manifest names it): a forced reload is not double-counted.
QUARANTINE = """
select r.feed, r.entity, r.client_id, r.reason, sum(r.rows)::bigint, count(distinct r.file_sha256)::int,
    (array_agg(r.file_sha256 order by r.recorded_at desc))[1],
    (array_agg(r.file_name order by r.recorded_at desc))[1]
from audit.file_quarantine_reasons r
join audit.file_manifest m
    on m.feed = r.feed and m.entity = r.entity and m.file_sha256 = r.file_sha256 and m.run_id = r.run_id
group by r.feed, r.entity, r.client_id, r.reason
order by sum(r.rows) desc, r.feed, r.entity, r.client_id, r.reason
"""

DRIFT = """
select distinct on (feed, entity, file_sha256)
    run_id, feed, entity, client_id, file_name, file_sha256, missing_columns, extra_columns, detected_at
from audit.schema_drift
where detected_at >= now() - make_interval(secs => %s)
order by feed, entity, file_sha256, detected_at desc
"""

INGEST_RUNS = """
select run_id, started_at, ended_at, status, files_seen, files_loaded, files_held, files_rejected, error
from audit.ingest_runs
order by started_at desc, id desc
limit %s
"""

TEST_RUNS = """
select i.invocation_id, i.command, i.started_at, r.status, count(*)::int
from audit.dbt_invocations i
join audit.dbt_node_results r on r.invocation_id = i.invocation_id and r.resource_type = 'test'
where i.invocation_id in (
    select invocation_id from audit.dbt_invocations where command in ('build', 'test')
    order by started_at desc limit %s
)
group by i.invocation_id, i.command, i.started_at, r.status
order by i.started_at
"""

NODE_COLUMNS = """
invocation_id, unique_id, resource_type, node_name, attached_node, column_name, test_name, severity, status,
failures, completed_at, failures_relation
"""


def load_history(conn: Conn, *, window_days: float, runs: int = 30) -> History:
    """Everything the checks and the report need, read in one pass as `auditor`."""
    window = window_days * 86400
    now = _rows(conn, "select now()")[0][0]
    history = History(now=now)
    if not _exists(conn, "audit.file_loads"):
        history.notes.append("no ingest recorded yet (audit.file_loads does not exist)")
    else:
        history.file_loads = [FileLoad(*row) for row in _rows(conn, FILE_LOADS)]
        history.other_loads = [FileLoad(*row) for row in _rows(conn, OTHER_LOADS, (window,))]
        history.deliveries = deliveries(_rows(conn, DELIVERED_FILES))
        history.quarantine = [QuarantineCount(*row) for row in _rows(conn, QUARANTINE)]
        history.drift = [Drift(*row[:6], tuple(row[6]), tuple(row[7]), row[8]) for row in _rows(conn, DRIFT, (window,))]
        history.ingest_runs = [IngestRun(*row) for row in _rows(conn, INGEST_RUNS, (runs,))]
    if not all(_exists(conn, f"audit.{name}") for name in DBT_TABLES):
        history.notes.append("no dbt run recorded yet (the audit.dbt_* tables appear after the first dbt run)")
        return history
    history.dbt_available = True
    _load_dbt(conn, history, runs)
    return history


def _load_dbt(conn: Conn, history: History, runs: int) -> None:
    grouped: dict[str, DbtTestRun] = {}
    for invocation_id, command, started_at, status, count in _rows(conn, TEST_RUNS, (runs,)):
        entry = grouped.setdefault(invocation_id, DbtTestRun(invocation_id, command, started_at, {}))
        entry.counts[status] = count
    history.test_runs = list(grouped.values())

    build = _rows(
        conn,
        "select invocation_id, started_at from audit.dbt_invocations where command = 'build' "
        "order by started_at desc limit 1",
    )
    if build:
        history.latest_build, history.latest_build_at = build[0]
        history.build_problems = [
            NodeResult(*row)
            for row in _rows(
                conn,
                f"select {NODE_COLUMNS} from audit.dbt_node_results where invocation_id = %s "
                "and (status in ('error', 'runtime error') or (resource_type = 'test' and status in ('fail', 'warn'))) "
                "order by resource_type, unique_id",
                (history.latest_build,),
            )
        ]
    else:
        history.notes.append("no `dbt build` recorded yet: no test results to check")

    # The latest invocation that checked source freshness, whatever command it was.
    fresh = _rows(
        conn,
        "select f.invocation_id from audit.dbt_source_freshness f "
        "join audit.dbt_invocations i using (invocation_id) order by i.started_at desc limit 1",
    )
    if fresh:
        history.latest_freshness = fresh[0][0]
        history.source_freshness = [
            SourceFreshness(*row)
            for row in _rows(
                conn,
                "select invocation_id, unique_id, source_name, table_name, status, max_loaded_at, age_seconds, "
                "warn_after_hours, error_after_hours from audit.dbt_source_freshness where invocation_id = %s "
                "order by source_name, table_name",
                (history.latest_freshness,),
            )
        ]


def sample_record_ids(
    conn: Conn, feed: str, entity: str, file_sha256: str, *, reason: str | None = None, limit: int = 5
) -> list[str]:
    """`_record_id`s of a file's quarantined rows (optionally with one reason), as `loader`.

    Only the lineage key is selected: the quarantined values themselves stay in the database."""
    relation = f"quarantine.{feed}__{entity}"
    if not _exists(conn, relation):
        return []
    query = sql.SQL("select _record_id from quarantine.{} where _file_sha256 = %s").format(
        sql.Identifier(f"{feed}__{entity}")
    )
    args: list[object] = [file_sha256]
    if reason:
        # _reasons is a comma-separated list of codes; match one whole code.
        query += sql.SQL(" and %s = any(string_to_array(_reasons, ','))")
        args.append(reason)
    query += sql.SQL(" order by _source_line limit %s")
    args.append(limit)
    return [row[0] for row in _rows(conn, query, tuple(args))]


# Columns of a failing-rows relation that may be shown: lineage and surrogate keys. Never tokens,
# values or free text: a test's failing rows are whole model rows.
# The same rule the database grants the auditor by (warehouse/db/roles.py).
KEY_COLUMN = re.compile(FAILURE_KEY_COLUMN)


def failing_row_keys(conn: Conn, relation: str, *, limit: int = 3) -> list[str]:
    """Keys of a failing dbt test's stored rows (dbt's store_failures table in `dq_failures`), as `auditor`.

    Only `_record_id` or `*_key` columns are read (the first one the relation has); a relation with
    neither gives nothing. The auditor is granted those columns alone (the database's DDL guard), so
    information_schema lists no other column to it, and a value column could not be read anyway."""
    parts = [part.strip('"') for part in relation.split(".")][-2:]
    if len(parts) != 2 or parts[0] != FAILURES_SCHEMA:
        return []
    columns = [
        row[0]
        for row in _rows(
            conn,
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
            "order by ordinal_position",
            tuple(parts),
        )
    ]
    keys = [c for c in columns if c == "_record_id"] or [c for c in columns if KEY_COLUMN.match(c)]
    if not keys:
        return []
    query = sql.SQL("select distinct {}::text from {}.{} where {} is not null order by 1 limit %s").format(
        sql.Identifier(keys[0]), sql.Identifier(parts[0]), sql.Identifier(parts[1]), sql.Identifier(keys[0])
    )
    return [row[0] for row in _rows(conn, query, (limit,))]


def latest_dbt_invocation(conn: Conn) -> str | None:
    """The newest dbt invocation id, for naming the run of a failed build; None before dbt ever ran."""
    if not _exists(conn, "audit.dbt_invocations"):
        return None
    found = _rows(conn, "select invocation_id from audit.dbt_invocations order by started_at desc limit 1")
    return found[0][0] if found else None


def readable(exc: psycopg2.Error) -> str:
    """A psycopg2 error as one line without DETAIL (which can quote a row)."""
    diag = getattr(exc, "diag", None)
    if diag is not None and diag.message_primary:
        return diag.message_primary.splitlines()[0][:200]
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__

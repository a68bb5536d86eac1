"""`warehouse reconcile`: prove that what the audit says each file loaded is in raw, or was replaced.

For the latest load of every file version (audit.file_loads, status loaded, held or superseded):
- its counts balance: read = loaded + quarantined + filtered + superseded;
- quarantine holds exactly the rows it says it quarantined (by `_file_sha256` lineage);
- raw holds at most the rows it says it loaded, and every loaded row missing from raw was replaced by
  a newer version from a named file: the promotions record, in their own transaction, how many rows
  of which file gave way to which (audit.row_replacements), and those counts must add up exactly.
  Files loaded before that record existed are held to a bound instead: raw keeps one row per
  (client, business key), so their missing rows can be no more than the rows newer files of the
  same client still hold there.

Rows are matched by lineage, never by value: nothing here reads a data column, so the check runs as
the loader (raw, quarantine and audit are readable to it) and prints no data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2.extensions
from psycopg2 import sql

from ingest.audit import ensure_tables
from ingest.config import load_feeds
from warehouse.db.connection import connect
from warehouse.db.target import Target


@dataclass
class FileCheck:
    feed: str
    entity: str
    client_id: str | None
    file_name: str
    file_sha256: str
    status: str
    file_date: object
    file_seq: int
    read: int
    loaded: int
    quarantined: int
    filtered: int
    superseded: int
    in_raw: int = 0
    in_quarantine: int = 0
    replaced_by: list[str] = field(default_factory=list)  # newer files whose rows replaced this one's
    recorded_replacements: dict[str, int] = field(default_factory=dict)  # by file name -> rows
    problems: list[str] = field(default_factory=list)

    @property
    def replaced(self) -> int:
        return self.loaded - self.in_raw

    def line(self) -> str:
        counts = (
            f"read {self.read} = loaded {self.loaded} + quarantined {self.quarantined} + filtered {self.filtered}"
            f" + superseded {self.superseded}; in raw {self.in_raw}, in quarantine {self.in_quarantine}"
        )
        if self.replaced > 0 and not self.problems:
            counts += f"; {self.replaced} replaced by newer file(s): {', '.join(self.replaced_by)}"
        verdict = "; ".join(self.problems) if self.problems else "ok"
        return f"{self.feed}/{self.entity}/{self.file_name} [{self.status}]: {counts}: {verdict}"


@dataclass
class Reconciliation:
    files: list[FileCheck]

    @property
    def failures(self) -> list[FileCheck]:
        return [f for f in self.files if f.problems]


_REPLACEMENTS = """
select file_sha256, by_file_name, rows from (
    select distinct on (feed, entity, file_sha256, by_file_sha256) file_sha256, by_file_name, rows
    from audit.row_replacements
    where feed = %(feed)s and entity = %(entity)s
    order by feed, entity, file_sha256, by_file_sha256, recorded_at desc
) latest
"""

_LATEST_LOADS = """
select distinct on (l.feed, l.entity, l.file_sha256)
    l.feed, l.entity, l.client_id, l.file_name, l.file_sha256, l.status,
    m.file_date, coalesce(m.file_seq, 0),
    l.rows_read, l.rows_loaded, l.rows_quarantined, l.rows_filtered, l.rows_superseded
from audit.file_loads l
left join audit.file_manifest m
    on m.feed = l.feed and m.entity = l.entity and m.file_sha256 = l.file_sha256
where l.status in ('loaded', 'held', 'superseded') and l.file_sha256 is not null
    and (%(feed)s::text is null or l.feed = %(feed)s)
order by l.feed, l.entity, l.file_sha256, l.id desc
"""


def _counts_by_file(cur, schema: str, table: str) -> dict[str, int]:
    cur.execute("select to_regclass(%s) is not null", (f'"{schema}"."{table}"',))
    if not cur.fetchone()[0]:
        return {}
    cur.execute(
        sql.SQL("select _file_sha256, count(*) from {}.{} group by _file_sha256").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
    )
    return dict(cur.fetchall())


def reconcile_connection(
    conn: psycopg2.extensions.connection, modes: dict[tuple[str, str], str], feed: str | None = None
) -> Reconciliation:
    """`modes`: each (feed, entity)'s incremental mode (merge when absent); `feed`: only that feed."""
    with conn.cursor() as cur:
        cur.execute(_LATEST_LOADS, {"feed": feed})
        files = [FileCheck(*row) for row in cur.fetchall()]
        by_table: dict[tuple[str, str], list[FileCheck]] = {}
        for check in files:
            by_table.setdefault((check.feed, check.entity), []).append(check)
        for (feed, entity), checks in by_table.items():
            table = f"{feed}__{entity}"
            raw = _counts_by_file(cur, "raw", table)
            quarantine = _counts_by_file(cur, "quarantine", table)
            cur.execute(_REPLACEMENTS, {"feed": feed, "entity": entity})
            replacements: dict[str, dict[str, int]] = {}
            for sha, by_name, rows in cur.fetchall():
                replacements.setdefault(sha, {})[by_name] = rows
            for check in checks:
                check.in_raw = raw.pop(check.file_sha256, 0)
                check.in_quarantine = quarantine.pop(check.file_sha256, 0)
                check.recorded_replacements = replacements.get(check.file_sha256, {})
            for check in checks:
                _judge(check, checks, modes.get((feed, entity), "merge"))
            for sha, rows in raw.items():
                files.append(_orphan(feed, entity, sha, rows, "raw"))
            for sha, rows in quarantine.items():
                files.append(_orphan(feed, entity, sha, rows, "quarantine"))
    return Reconciliation(files)


def _judge(check: FileCheck, same_table: list[FileCheck], mode: str) -> None:
    balance = check.loaded + check.quarantined + check.filtered + check.superseded
    if check.read != balance:
        check.problems.append(f"counts do not balance ({check.read} read, {balance} accounted for)")
    if check.in_quarantine != check.quarantined:
        check.problems.append(f"quarantine holds {check.in_quarantine} rows, the audit says {check.quarantined}")
    if check.in_raw > check.loaded:
        check.problems.append(f"raw holds {check.in_raw} rows, the audit says {check.loaded} were loaded")
    if check.replaced <= 0:
        return
    recorded = sum(check.recorded_replacements.values())
    if recorded:
        check.replaced_by = [f"{name} ({rows})" for name, rows in sorted(check.recorded_replacements.items())]
        if recorded != check.replaced:
            check.problems.append(
                f"{check.replaced} loaded rows are not in raw, but newer files are recorded replacing {recorded}"
            )
        return
    # A row of this file can only have given way to a newer file's row of the same key, and raw
    # keeps one row per key: the newer files' rows still in raw bound how many can be missing.
    # Watermark entities order versions by their watermark column first: any other file may be newer.
    newer = [
        other
        for other in same_table
        if other is not check
        and other.client_id == check.client_id
        and other.status == "loaded"
        and (mode == "watermark" or (other.file_date, other.file_seq) >= (check.file_date, check.file_seq))
        and other.in_raw > 0
    ]
    check.replaced_by = [f"{o.file_name} ({o.file_date})" for o in newer]
    room = sum(o.in_raw for o in newer)
    if mode == "reference" and newer:
        room = check.loaded  # a newer snapshot replaces the client's rows whole, dropped products too
    if check.replaced > room:
        check.problems.append(
            f"{check.replaced - room} loaded rows are neither in raw nor replaced by a newer file"
            f" ({check.replaced} missing, newer files hold {room})"
        )


def _orphan(feed: str, entity: str, sha: str, rows: int, schema: str) -> FileCheck:
    check = FileCheck(feed, entity, None, f"file {sha[:12]}", sha, "unknown", None, 0, 0, 0, 0, 0, 0)
    check.problems.append(f"{rows} rows in {schema} from a file the audit has no load of")
    return check


def entity_modes(feeds_dir: Path | None = None) -> dict[tuple[str, str], str]:
    return {
        (feed.feed, name): entity.incremental.mode
        for feed in load_feeds(feeds_dir).values()
        for name, entity in feed.entities.items()
    }


def reconcile(
    target: Target | None = None,
    log: Callable[[str], None] = print,
    *,
    feeds_dir: Path | None = None,
    feed: str | None = None,
    verbose: bool = False,
) -> int:
    """Check every file; print a line for each problem (each file with `verbose`). Exit code 1 on a problem."""
    found = target or Target.discover()
    modes = entity_modes(feeds_dir)
    conn = connect(found.role("loader"))
    try:
        ensure_tables(conn)  # one line naming `warehouse db init` on a database of an earlier version
        result = reconcile_connection(conn, modes, feed)
    finally:
        conn.close()
    for check in result.files:
        if verbose or check.problems:
            log(check.line())
    rows = sum(f.read for f in result.files)
    log(f"reconciled {len(result.files)} file(s), {rows} rows read: {len(result.failures)} with a problem")
    return 1 if result.failures else 0

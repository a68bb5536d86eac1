"""The loader's audit history in schema `audit`: runs, the file manifest, per-file loads and watermarks.

Append-only for the loader. The tables are created and owned by the admin (`warehouse db init` ->
`create_tables`); `loader` may only INSERT and SELECT, so it can neither rewrite nor erase its own
history, nor drop the balance constraint: per file, `rows_read = rows_loaded + rows_quarantined +
rows_filtered + rows_superseded`, and the database refuses an unbalanced entry. What used to be updated in place is
appended and read through a view: a run's state changes (`ingest_run_events` -> `ingest_runs`), the
manifest's entries per file version (`file_manifest_entries` -> `file_manifest`) and watermark
advances (`watermark_events` -> `watermarks`).

Every `create table` below is also applied column by column to an existing database (`create_tables`),
so a column added here reaches databases made by earlier versions; a table appended here is created,
owned and granted like the others.
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
import sys
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg2.extensions
from psycopg2 import sql

from ingest.pii.keys import PseudonymKey
from warehouse.errors import WarehouseError

DDL = """
create table if not exists audit.ingest_run_events (
    event_id bigserial primary key,
    run_row bigint,
    run_id text not null,
    os_user text not null,
    db_role text not null default current_user,
    command_line text not null,
    started_at timestamptz not null default now(),
    ended_at timestamptz,
    status text not null check (status in ('running', 'succeeded', 'failed')),
    files_seen integer,
    files_loaded integer,
    files_unchanged integer,
    files_held integer,
    files_rejected integer,
    error text,
    recorded_at timestamptz not null default now(),
    content_fingerprint text
);
comment on table audit.ingest_run_events is
    'Append-only: a row when a `warehouse ingest` starts, and one when it ends (or is found abandoned). '
    'run_row is the event_id of the run''s first row (null on that row). Read audit.ingest_runs.';
create index if not exists ingest_run_events_run on audit.ingest_run_events (coalesce(run_row, event_id), event_id);

create or replace view audit.ingest_runs as
select distinct on (coalesce(run_row, event_id))
    coalesce(run_row, event_id) as id, run_id, os_user, db_role, command_line, started_at, ended_at,
    status, files_seen, files_loaded, files_unchanged, files_held, files_rejected, error, content_fingerprint
from audit.ingest_run_events
order by coalesce(run_row, event_id), event_id desc;
comment on view audit.ingest_runs is
    'One row per `warehouse ingest` invocation, in its latest state. run_id is unique per invocation; '
    'content_fingerprint is derived from the feed and file hashes, so re-runs of the same input share it.';

create table if not exists audit.file_manifest_entries (
    entry_id bigserial primary key,
    feed text not null,
    entity text not null,
    file_sha256 text not null,
    file_name text not null,
    client_id text,
    file_date date,
    file_seq integer,
    size_bytes bigint,
    status text not null,
    reason text,
    config_sha256 text not null,
    run_id text not null,
    recorded_at timestamptz not null default now(),
    constraint file_manifest_entries_status_known check (status in ('loaded', 'held', 'superseded'))
);
comment on table audit.file_manifest_entries is
    'Append-only: a row each time the loader takes in (loaded), refuses as a whole (held) or finds '
    'older than what it holds (superseded) a file version. Read audit.file_manifest.';
create index if not exists file_manifest_entries_file
    on audit.file_manifest_entries (feed, entity, file_sha256, entry_id);

create or replace view audit.file_manifest as
select distinct on (feed, entity, file_sha256)
    feed, entity, file_sha256, file_name, client_id, file_date, file_seq, size_bytes, status, reason,
    config_sha256, run_id, recorded_at
from audit.file_manifest_entries
order by feed, entity, file_sha256, entry_id desc;
comment on view audit.file_manifest is
    'Every file version the loader has taken in (loaded) or refused as a whole (held), keyed by content '
    'hash, in its latest state: change detection.';

create table if not exists audit.file_loads (
    id bigserial primary key,
    run_id text not null,
    feed text not null,
    entity text,
    client_id text,
    file_name text not null,
    file_sha256 text,
    rows_read bigint not null default 0,
    rows_loaded bigint not null default 0,
    rows_quarantined bigint not null default 0,
    rows_filtered bigint not null default 0,
    rows_superseded bigint not null default 0,
    invalid_ratio double precision,
    status text not null,
    reason text,
    seconds double precision,
    recorded_at timestamptz not null default now(),
    constraint file_loads_status_known
        check (status in ('loaded', 'unchanged', 'held', 'rejected', 'failed', 'superseded')),
    constraint file_loads_balance_superseded
        check (rows_read = rows_loaded + rows_quarantined + rows_filtered + rows_superseded)
);
comment on table audit.file_loads is
    'One row per file per run: what happened to it and its row counts, which always balance. '
    'rows_superseded: rows replaced by a later identical row of the same key in the same file, or '
    'every valid row of a reference file older than the one loaded (status superseded).';

create table if not exists audit.row_replacements (
    run_id text not null,
    feed text not null,
    entity text not null,
    client_id text,
    file_sha256 text not null,
    by_file_sha256 text not null,
    by_file_name text not null,
    rows bigint not null,
    recorded_at timestamptz not null default now()
);
comment on table audit.row_replacements is
    'Rows of raw from file_sha256 that a promotion of by_file_sha256 replaced (same client and business key, '
    'newer version), or that it could not replace because raw held a newer version from file_sha256''s '
    'side: written in the promotion''s transaction, so `warehouse reconcile` can name where each loaded row went.';

create table if not exists audit.file_quarantine_reasons (
    run_id text not null,
    feed text not null,
    entity text not null,
    client_id text,
    file_name text not null,
    file_sha256 text not null,
    reason text not null,
    rows bigint not null,
    recorded_at timestamptz not null default now()
);
comment on table audit.file_quarantine_reasons is 'Quarantined rows per file and reason code (check:column).';

create table if not exists audit.schema_drift (
    run_id text not null,
    feed text not null,
    entity text not null,
    client_id text,
    file_name text not null,
    file_sha256 text not null,
    missing_columns text[] not null,
    extra_columns text[] not null,
    detected_at timestamptz not null default now()
);
comment on table audit.schema_drift is 'Files held because their columns differ from the feed config.';

create table if not exists audit.watermark_events (
    event_id bigserial primary key,
    feed text not null,
    entity text not null,
    client_id text not null,
    column_name text not null,
    high_water timestamp not null,
    recorded_at timestamptz not null default now()
);
comment on table audit.watermark_events is
    'Append-only: a row each time an incremental feed''s watermark rises. Read audit.watermarks.';
create index if not exists watermark_events_client on audit.watermark_events (feed, entity, client_id, high_water);

create or replace view audit.watermarks as
select distinct on (feed, entity, client_id)
    feed, entity, client_id, column_name, high_water, recorded_at as updated_at
from audit.watermark_events
order by feed, entity, client_id, high_water desc, event_id desc;
comment on view audit.watermarks is 'Highest watermark column value loaded per incremental feed and client.';

create table if not exists audit.name_tokens (
    token text primary key
);
comment on table audit.name_tokens is
    'Keyed HMAC tokens of every name word the loader dropped; free text is redacted of words whose token is here.';

create table if not exists audit.pseudonym_keys (
    id bigserial primary key,
    key_id text not null,
    previous_key_id text,
    activated_at timestamptz not null default now(),
    activated_by text not null,
    db_role text not null default current_user
);
comment on table audit.pseudonym_keys is
    'Append-only: the id (a fingerprint, never the key) of the pseudonymisation key this database''s tokens '
    'are made with, on first use (previous_key_id null) and on every `warehouse key rotate`. The newest row is '
    'the key the loader must use.';
"""

# Constraints of earlier versions that a named one of DDL replaces: the old balance left out
# rows_superseded, and the unnamed status checks did not allow 'superseded'.
_REPLACED_CONSTRAINTS = {
    "audit.file_loads": ("file_loads_balance", "file_loads_status_check"),
    "audit.file_manifest_entries": ("file_manifest_entries_status_check",),
}

_TABLE = re.compile(r"^create table if not exists (audit\.\w+) \((.*?)^\);", re.MULTILINE | re.DOTALL)
_VIEW = re.compile(r"^create or replace view (audit\.\w+)", re.MULTILINE)
_NOT_A_COLUMN = ("primary", "unique", "check", "foreign", "exclude", "like")

# Tables of earlier versions that became views over an append-only table: (table, how its rows move).
_LEGACY = {
    "ingest_runs": (
        "insert into audit.ingest_run_events (event_id, run_id, os_user, db_role, command_line, started_at, "
        "ended_at, status, files_seen, files_loaded, files_unchanged, files_held, files_rejected, error) "
        "select id, run_id, os_user, db_role, command_line, started_at, ended_at, status, files_seen, "
        "files_loaded, files_unchanged, files_held, files_rejected, error from {legacy} order by id"
    ),
    "file_manifest": (
        "insert into audit.file_manifest_entries (feed, entity, file_sha256, file_name, client_id, file_date, "
        "file_seq, size_bytes, status, reason, config_sha256, run_id, recorded_at) "
        "select feed, entity, file_sha256, file_name, client_id, file_date, file_seq, size_bytes, status, "
        "reason, config_sha256, run_id, recorded_at from {legacy} order by recorded_at"
    ),
    "watermarks": (
        "insert into audit.watermark_events (feed, entity, client_id, column_name, high_water, recorded_at) "
        "select feed, entity, client_id, column_name, high_water, updated_at from {legacy}"
    ),
}


def _tables(ddl: str) -> dict[str, list[str]]:
    """The tables `ddl` creates, each with its column and constraint definitions (top-level items)."""
    return {name: _items(body) for name, body in _TABLE.findall(ddl)}


def _views(ddl: str) -> list[str]:
    return _VIEW.findall(ddl)


def _items(body: str) -> list[str]:
    items, depth, current = [], 0, []
    for char in re.sub(r"--[^\n]*", "", body):
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        depth += (char == "(") - (char == ")")
        current.append(char)
    items.append("".join(current))
    return [" ".join(item.split()) for item in items if item.strip()]


def create_tables(conn: psycopg2.extensions.connection, *, writer: str, readers: Iterable[str], ddl: str = DDL) -> None:
    """As the admin: the audit tables and views of `ddl`, owned by the admin, in one transaction.

    Idempotent, and it brings a database of an earlier version up to date: tables the loader created
    and owned are taken over, the columns and constraints `ddl` names are added where missing, the
    old updatable tables become views over append-only ones (their rows moved), and privileges are
    set again: `writer` may INSERT and SELECT (and draw ids from the tables' sequences), never
    UPDATE, DELETE, TRUNCATE or change a table; `readers` may SELECT.
    """
    tables, views, readers = _tables(ddl), _views(ddl), tuple(readers)
    autocommit = conn.autocommit
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute("select current_user")
            (admin,) = cur.fetchone()
            # The loader owned the tables it created: an owner can rewrite anything and drop constraints.
            for name in [*tables, *(f"audit.{t}" for t in _LEGACY)]:
                if _kind(cur, name) == "r":
                    cur.execute(sql.SQL("alter table {} owner to {}").format(_ident(name), sql.Identifier(admin)))
            legacy = [t for t in _LEGACY if _kind(cur, f"audit.{t}") == "r"]
            for table in legacy:
                cur.execute(sql.SQL("alter table audit.{} rename to {}").format(
                    sql.Identifier(table), sql.Identifier(f"{table}_legacy")))  # fmt: skip
            # Columns before the DDL: its views and comments may name a column an existing table lacks.
            for name, items in tables.items():
                if _kind(cur, name) == "r":
                    _add_missing(cur, name, [i for i in items if not i.lower().startswith("constraint ")])
            cur.execute(ddl)
            for table in legacy:
                cur.execute(sql.SQL(_LEGACY[table]).format(legacy=sql.Identifier("audit", f"{table}_legacy")))
                cur.execute(sql.SQL("drop table audit.{}").format(sql.Identifier(f"{table}_legacy")))
            if "ingest_runs" in legacy:  # event ids were copied from the old run ids: continue after them
                cur.execute(
                    "select setval(pg_get_serial_sequence('audit.ingest_run_events', 'event_id'), "
                    "coalesce(max(event_id), 0) + 1, false) from audit.ingest_run_events"
                )
            for name, items in tables.items():
                for old in _REPLACED_CONSTRAINTS.get(name, ()):
                    cur.execute(sql.SQL("alter table {} drop constraint if exists {}").format(
                        _ident(name), sql.Identifier(old)))  # fmt: skip
                _add_missing(cur, name, items)
            for name in [*tables, *views]:
                _grant(cur, name, writer=writer, readers=readers, is_table=name in tables)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.autocommit = autocommit


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(*name.split("."))


def _kind(cur: psycopg2.extensions.cursor, name: str) -> str | None:
    cur.execute("select relkind from pg_class where oid = to_regclass(%s)", (name,))
    row = cur.fetchone()
    return row[0] if row else None


def _add_missing(cur: psycopg2.extensions.cursor, table: str, items: list[str]) -> None:
    """Columns and named constraints of a `create table` that an existing table lacks."""
    cur.execute(
        "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped",
        (table,),
    )
    columns = {row[0] for row in cur.fetchall()}
    cur.execute("select conname from pg_constraint where conrelid = %s::regclass", (table,))
    constraints = {row[0] for row in cur.fetchall()}
    for item in items:
        first, _, rest = item.partition(" ")
        if first.lower() == "constraint":
            if rest.split(" ", 1)[0] not in constraints:
                # `not valid`: enforced from now on without refusing the rows already recorded.
                suffix = " not valid" if " check " in f" {rest.lower()}" else ""
                cur.execute(sql.SQL("alter table {} add {}").format(_ident(table), sql.SQL(item + suffix)))
        elif first.lower() not in _NOT_A_COLUMN and first not in columns:
            cur.execute(sql.SQL("alter table {} add column if not exists {}").format(_ident(table), sql.SQL(item)))


def _grant(cur: psycopg2.extensions.cursor, name: str, *, writer: str, readers: Iterable[str], is_table: bool) -> None:
    target, role = _ident(name), sql.Identifier(writer)
    cur.execute(sql.SQL("revoke all on table {} from public, {}").format(target, role))
    cur.execute(sql.SQL("grant {} on table {} to {}").format(
        sql.SQL("select, insert" if is_table else "select"), target, role))  # fmt: skip
    for reader in readers:
        cur.execute(sql.SQL("grant select on table {} to {}").format(target, sql.Identifier(reader)))
    if not is_table:
        return
    cur.execute(
        "select pg_get_serial_sequence(%s, attname) from pg_attribute "
        "where attrelid = %s::regclass and attnum > 0 and not attisdropped",
        (name, name),
    )
    for (sequence,) in cur.fetchall():
        if sequence:
            seq = sql.SQL(sequence)  # already quoted by pg_get_serial_sequence
            cur.execute(sql.SQL("revoke all on sequence {} from public, {}").format(seq, role))
            cur.execute(sql.SQL("grant usage on sequence {} to {}").format(seq, role))


def ensure_tables(conn: psycopg2.extensions.connection) -> None:
    """The loader's check that `warehouse db init` made this database's audit tables (it may not make them)."""
    wanted = [*_tables(DDL), *_views(DDL)]
    with conn.cursor() as cur:
        cur.execute("select name from unnest(%s::text[]) as name where to_regclass(name) is null", (wanted,))
        missing = [row[0] for row in cur.fetchall()]
    if missing:
        raise WarehouseError(
            f"this database lacks the audit tables of this version ({', '.join(missing)}): run `warehouse db init`"
        )


@dataclass
class FileLoad:
    run_id: str
    feed: str
    file_name: str
    status: str
    entity: str | None = None
    client_id: str | None = None
    file_sha256: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_filtered: int = 0
    rows_superseded: int = 0
    reason: str | None = None
    seconds: float = 0.0

    @property
    def invalid_ratio(self) -> float | None:
        considered = self.rows_read - self.rows_filtered - self.rows_superseded
        return self.rows_quarantined / considered if considered else None


def record_file_load(cur: psycopg2.extensions.cursor, load: FileLoad) -> None:
    cur.execute(
        """
        insert into audit.file_loads (
            run_id, feed, entity, client_id, file_name, file_sha256, rows_read, rows_loaded,
            rows_quarantined, rows_filtered, rows_superseded, invalid_ratio, status, reason, seconds
        ) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        """,
        (
            load.run_id, load.feed, load.entity, load.client_id, load.file_name, load.file_sha256,
            load.rows_read, load.rows_loaded, load.rows_quarantined, load.rows_filtered, load.rows_superseded,
            load.invalid_ratio, load.status, load.reason, load.seconds,
        ),
    )  # fmt: skip


def load_name_tokens(conn: psycopg2.extensions.connection) -> set[str]:
    with conn.cursor() as cur:
        cur.execute("select token from audit.name_tokens")
        return {row[0] for row in cur.fetchall()}


def save_name_tokens(conn: psycopg2.extensions.connection, tokens: set[str]) -> None:
    if not tokens:
        return
    with conn.cursor() as cur:
        cur.execute(
            "insert into audit.name_tokens (token) select unnest(%s::text[]) on conflict do nothing", (sorted(tokens),)
        )


LOCK_ID = 0x57_4152_4548  # "WAREH": one loader at a time per database


def claim_loader_lock(conn: psycopg2.extensions.connection) -> bool:
    """Session lock held while a loader runs; it ends with the connection, however the process dies."""
    with conn.cursor() as cur:
        cur.execute("select pg_try_advisory_lock(%s)", (LOCK_ID,))
        return bool(cur.fetchone()[0])


def close_abandoned_runs(conn: psycopg2.extensions.connection) -> int:
    """Runs still 'running' while we hold the lock were killed or lost their database: say so."""
    with conn.cursor() as cur:
        cur.execute(
            f"insert into audit.ingest_run_events ({_RUN_COLUMNS}, run_row, ended_at, status, error) "
            f"select {_RUN_COLUMNS}, id, now(), 'failed', "
            "'abandoned: the loader stopped before finishing (killed, or lost its database)' "
            "from audit.ingest_runs where status = 'running'"
        )
        return cur.rowcount


def start_run(conn: psycopg2.extensions.connection, run_id: str, content_fingerprint: str | None = None) -> int:
    """The run's first event; its event_id is the run's id (`audit.ingest_runs.id`)."""
    with conn.cursor() as cur:
        cur.execute(
            "insert into audit.ingest_run_events (run_id, os_user, command_line, status, content_fingerprint) "
            "values (%s, %s, %s, 'running', %s)"
            " returning event_id",
            (run_id, _os_user(), shlex.join([os.path.basename(sys.argv[0]), *sys.argv[1:]]), content_fingerprint),
        )
        return cur.fetchone()[0]


def finish_run(
    conn: psycopg2.extensions.connection,
    run_row: int,
    *,
    status: str,
    counts: dict[str, int],
    error: str | None,
) -> None:
    """The run's last event: what the first said about it, and how it ended."""
    with conn.cursor() as cur:
        cur.execute(
            f"""
            insert into audit.ingest_run_events (
                {_RUN_COLUMNS}, run_row, ended_at, status, error, files_seen, files_loaded,
                files_unchanged, files_held, files_rejected
            )
            select {_RUN_COLUMNS}, id, now(), %s, %s, %s, %s, %s, %s, %s
            from audit.ingest_runs where id = %s
            """,
            (
                status, error, counts.get("seen", 0), counts.get("loaded", 0), counts.get("unchanged", 0),
                counts.get("held", 0), counts.get("rejected", 0), run_row,
            ),
        )  # fmt: skip


# What a run's later events repeat of its first, so each event reads whole.
_RUN_COLUMNS = "run_id, os_user, command_line, started_at, content_fingerprint"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def check_key(conn: psycopg2.extensions.connection, key: PseudonymKey) -> None:
    """Refuse a pseudonymisation key other than the one this database uses (ingest/key_registry.py)."""
    from ingest.key_registry import check_key as check

    check(conn, key)

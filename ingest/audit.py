"""The loader's audit tables in schema `audit`: runs, the file manifest, per-file loads and watermarks.

Created by the loader role on first use (idempotent DDL). Per file, `rows_read = rows_loaded +
rows_quarantined + rows_filtered` is a check constraint: the database refuses an unbalanced entry.
"""

from __future__ import annotations

import getpass
import os
import shlex
import sys
from dataclasses import dataclass

import psycopg2.extensions

from ingest.pii.keys import PseudonymKey

DDL = """
create table if not exists audit.ingest_runs (
    id bigserial primary key,
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
    error text
);
comment on table audit.ingest_runs is
    'One row per `warehouse ingest` invocation. run_id is derived from the feed and file hashes, '
    'so a re-run of the same input has the same run_id.';

create table if not exists audit.file_manifest (
    feed text not null,
    entity text not null,
    file_sha256 text not null,
    file_name text not null,
    client_id text,
    file_date date,
    file_seq integer,
    size_bytes bigint,
    status text not null check (status in ('loaded', 'held')),
    reason text,
    config_sha256 text not null,
    run_id text not null,
    recorded_at timestamptz not null default now(),
    primary key (feed, entity, file_sha256)
);
comment on table audit.file_manifest is
    'Every file version the loader has taken in (loaded) or refused as a whole (held), '
    'keyed by content hash: change detection.';

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
    invalid_ratio double precision,
    status text not null check (status in ('loaded', 'unchanged', 'held', 'rejected', 'failed')),
    reason text,
    seconds double precision,
    recorded_at timestamptz not null default now(),
    constraint file_loads_balance check (rows_read = rows_loaded + rows_quarantined + rows_filtered)
);
comment on table audit.file_loads is
    'One row per file per run: what happened to it and its row counts, which always balance.';

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

create table if not exists audit.watermarks (
    feed text not null,
    entity text not null,
    client_id text not null,
    column_name text not null,
    high_water timestamp not null,
    updated_at timestamptz not null default now(),
    primary key (feed, entity, client_id)
);
comment on table audit.watermarks is 'Highest watermark column value loaded per incremental feed and client.';

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


def ensure_tables(conn: psycopg2.extensions.connection) -> None:
    with conn.cursor() as cur:
        cur.execute("select to_regclass('audit.name_tokens') is not null")
        if cur.fetchone()[0]:
            return  # avoid DDL (and DDL log lines) on every run
        cur.execute(DDL)


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
    reason: str | None = None
    seconds: float = 0.0

    @property
    def invalid_ratio(self) -> float | None:
        considered = self.rows_read - self.rows_filtered
        return self.rows_quarantined / considered if considered else None


def record_file_load(cur: psycopg2.extensions.cursor, load: FileLoad) -> None:
    cur.execute(
        """
        insert into audit.file_loads (
            run_id, feed, entity, client_id, file_name, file_sha256, rows_read, rows_loaded,
            rows_quarantined, rows_filtered, invalid_ratio, status, reason, seconds
        ) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        """,
        (
            load.run_id, load.feed, load.entity, load.client_id, load.file_name, load.file_sha256,
            load.rows_read, load.rows_loaded, load.rows_quarantined, load.rows_filtered,
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
            "update audit.ingest_runs set status = 'failed', ended_at = coalesce(ended_at, now()), "
            "error = 'abandoned: the loader stopped before finishing (killed, or lost its database)' "
            "where status = 'running'"
        )
        return cur.rowcount


def start_run(conn: psycopg2.extensions.connection, run_id: str) -> int:
    with conn.cursor() as cur:
        cur.execute(
            "insert into audit.ingest_runs (run_id, os_user, command_line, status) "
            "values (%s, %s, %s, 'running')"
            " returning id",
            (run_id, _os_user(), shlex.join([os.path.basename(sys.argv[0]), *sys.argv[1:]])),
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
    with conn.cursor() as cur:
        cur.execute(
            """
            update audit.ingest_runs set
                ended_at = now(), status = %s, error = %s, files_seen = %s, files_loaded = %s,
                files_unchanged = %s, files_held = %s, files_rejected = %s
            where id = %s
            """,
            (
                status, error, counts.get("seen", 0), counts.get("loaded", 0), counts.get("unchanged", 0),
                counts.get("held", 0), counts.get("rejected", 0), run_row,
            ),
        )  # fmt: skip


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def check_key(conn: psycopg2.extensions.connection, key: PseudonymKey) -> None:
    """Refuse a pseudonymisation key other than the one this database uses (ingest/key_registry.py)."""
    from ingest.key_registry import check_key as check

    check(conn, key)

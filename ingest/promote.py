"""Promote one file from dlt's stage tables into raw and quarantine, in one transaction.

dlt lands pseudonymised Arrow batches into `raw.stage__<feed>__<entity>[_calculated|_quarantine]`
(fast bulk COPY, but one transaction per table). Atomicity per file is won here: the file's raw rows,
calculated rows, quarantine rows, manifest entry and audit rows commit together or not at all, so a
loader killed at any moment leaves either the whole file or nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from ingest.audit import FileLoad, record_file_load
from ingest.config import Entity, Feed
from ingest.pseudonymise import CALCULATED_COLUMNS, FILE_LINEAGE, STAGE_FILE, has_calculated, raw_columns

STAGE_ONLY = ("_load_nonce", STAGE_FILE)  # _load_nonce: stage tables of earlier versions
ORDER = ("_file_date", "_file_seq", "_source_line")
CALCULATED_LINEAGE = ("_record_id", "_source_line")  # staged lineage `<table>_calculated` keeps
# Types of the per-file lineage columns in raw tables: what dlt made of them when they were staged.
RAW_LINEAGE_TYPES = {
    "_source_file": "varchar",
    "_file_sha256": "varchar",
    "_client_id": "varchar",
    "_file_date": "date",
    "_file_seq": "integer",
    "_run_id": "varchar",
    "_ingested_at": "timestamp with time zone",
    "_pseudonym_key_id": "varchar",
}
assert set(RAW_LINEAGE_TYPES) == set(FILE_LINEAGE)


def stage_name(feed: Feed, entity: str, suffix: str = "") -> str:
    return f"stage__{feed.table(entity)}{suffix}"


# A stage table is filled by one COPY and read once by the promotion: autovacuum has nothing to do
# there, and an automatic analyze it starts after a big COPY holds a lock that the promotion's rename
# (or the next run's truncate) waits one `deadlock_timeout` (1 s) to cancel. Seen on 6 of ~25 bench
# runs: the promotion of a 5M-row file began with a 1.0 s wait.
_AUTOVACUUM_OPTIONS = ("autovacuum_enabled", "toast.autovacuum_enabled")


def exclude_from_autovacuum(cur, table: str) -> None:
    """Switch autovacuum off for raw.<table>, a stage table (a no-op when it already is)."""
    cur.execute("select coalesce(reloptions, '{}') from pg_class where oid = to_regclass(%s)", (f'raw."{table}"',))
    row = cur.fetchone()
    # Both options are set together; the TOAST one is listed on the TOAST table, not here.
    if row is None or "autovacuum_enabled=false" in row[0]:
        return
    cur.execute(
        sql.SQL("alter table raw.{} set ({})").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.SQL(f"{o} = false") for o in _AUTOVACUUM_OPTIONS)
        )
    )


@dataclass
class PromoteRequest:
    feed: Feed
    entity_name: str
    entity: Entity
    load: FileLoad
    file_date: object
    file_seq: int
    size_bytes: int
    config_sha256: str
    stage_file: int  # the file's rows in the stage tables
    held: bool
    reason_counts: dict[str, int]
    watermark_column: str | None = None
    drift: dict | None = None
    use_stage: bool = True
    unique_keys: bool | None = False  # the loader saw no key twice in this file; None: not tracked
    # Stage tables (by suffix) that this file alone filled in this run, with the rows it put there.
    sole_stage_rows: dict[str, int] = field(default_factory=dict)
    # Per-file lineage (ingest.pseudonymise.file_lineage): not staged, written here.
    lineage: dict[str, object] = field(default_factory=dict)
    # Keyed tokens of name words dropped from this file: saved with its rows, so no row whose free text
    # was redacted by a name outlives a crash that lost the name's token.
    name_tokens: set[str] = field(default_factory=set)


def _columns(cur, schema: str, table: str) -> list[tuple[str, str]]:
    cur.execute(
        """
        select column_name, format_type(a.atttypid, a.atttypmod)
        from information_schema.columns c
        join pg_attribute a
            on a.attrelid = format('%%I.%%I', c.table_schema, c.table_name)::regclass
            and a.attname = c.column_name
        where c.table_schema = %s and c.table_name = %s
        order by c.ordinal_position
        """,
        (schema, table),
    )
    return cur.fetchall()


def _stage_columns(cur, stage: str) -> list[tuple[str, str]]:
    """The columns a stage table contributes: not stage-only, not dlt's, and not the per-file lineage
    (written by promotion; a stage table of an earlier version still has those columns, empty)."""
    return [
        (c, t)
        for c, t in _columns(cur, "raw", stage)
        if c not in STAGE_ONLY and c not in FILE_LINEAGE and not c.startswith("_dlt")
    ]


def _lineage_values(req: PromoteRequest, types: dict[str, str]) -> list[sql.Composable]:
    """The file's lineage values as typed SQL literals, in the order of `types`."""
    return [sql.SQL("{}::{}").format(sql.Literal(req.lineage[name]), sql.SQL(types[name])) for name in types]


def _widen_target(cur, stage_cols: list[tuple[str, str]], table: str, key: list[str]) -> None:
    """Add to an existing raw table the staged columns (name, type) and per-file lineage columns it
    lacks, and the key index the upsert needs. A table that does not exist yet is made by
    _swap_in or _create_from."""
    existing = dict(_columns(cur, "raw", table))
    for column, column_type in stage_cols + list(RAW_LINEAGE_TYPES.items()):
        if column not in existing:
            cur.execute(
                sql.SQL("alter table raw.{} add column {} {}").format(
                    sql.Identifier(table), sql.Identifier(column), sql.SQL(column_type)
                )
            )
    # Tables from before the key index existed get it here (a no-op when present).
    _create_key_index(cur, "raw", table, key)


def _create_key_index(cur, schema: str, table: str, key: list[str]) -> None:
    """The unique index the upsert's `on conflict (_client_id, <business key>)` needs, `_client_id` last.

    `on conflict` matches an index's columns as a set, in any order. Put first, `_client_id` (the
    same in every row of a file, a load's bulk) made every comparison of the sort fall through to
    the token behind it and left the sort's abbreviated keys useless: 2.8 s against 1.1 s for 1M
    member tokens. Indexes built by earlier versions keep their order (same name, `if not exists`).
    """
    key = [c for c in key if c != "_client_id"] + [c for c in key if c == "_client_id"]
    # A business key changed in the feed's YAML (columns added so that distinct records stop
    # colliding): the index of the old key cannot serve the new `on conflict`, so it is rebuilt.
    cur.execute(
        "select array_agg(a.attname::text) from pg_index i join pg_attribute a "
        "on a.attrelid = i.indrelid and a.attnum = any(i.indkey) "
        "where i.indexrelid = to_regclass(%s)",
        (f'"{schema}"."{table[:50]}__key"',),
    )
    indexed = cur.fetchone()[0]
    if indexed is not None and set(indexed) != set(key):
        cur.execute(sql.SQL("drop index {}.{}").format(sql.Identifier(schema), sql.Identifier(f"{table[:50]}__key")))
    cur.execute(
        sql.SQL("create unique index if not exists {} on {}.{} ({})").format(
            sql.Identifier(f"{table[:50]}__key"),
            sql.Identifier(schema),
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, key)),
        )
    )


def _table_exists(cur, schema: str, table: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", (f'"{schema}"."{table}"',))
    return cur.fetchone()[0]


def has_staged_rows(cur, stage: str) -> bool:
    """Whether stage table `raw.<stage>` can hold rows of this version's runs: it exists and has the
    `_stage_file` column (a stage table of an earlier version gets it from dlt when rows arrive)."""
    cur.execute(
        "select exists (select 1 from pg_attribute where attrelid = to_regclass(%s) and attname = %s "
        "and not attisdropped)",
        (f'raw."{stage}"', STAGE_FILE),
    )
    return cur.fetchone()[0]


def _target_columns(cur, source: str, entity: Entity, suffix: str) -> list[tuple[str, str]]:
    """The staged columns (name, type) that go to raw (`suffix` "") or to `<table>_calculated`: the
    raw stage table holds both (see CALCULATED_COLUMNS)."""
    staged = _stage_columns(cur, source)
    if suffix == "":
        return [(c, t) for c, t in staged if c not in CALCULATED_COLUMNS]
    types = dict(staged)
    return [(c, types[c]) for c in [*entity.business_key, *CALCULATED_COLUMNS, *CALCULATED_LINEAGE] if c in types]


def _merge(cur, req: PromoteRequest, suffix: str, source: str | None = None) -> tuple[bool, bool | None]:
    """SCD type 1 on the business key: the newest version wins, whatever order files arrive in.

    Reads this file's rows of `source` (default: the raw stage table). Returns whether the stage
    table was taken over as the target instead (see _swap_in), and whether the file's keys are
    unique once that is known (None: not looked at), so the calculated table need not find out again."""
    feed, entity = req.feed, req.entity
    stage = source or stage_name(feed, req.entity_name)
    target = feed.table(req.entity_name) + suffix
    if not has_staged_rows(cur, stage):
        return False, req.unique_keys
    # Business keys are scoped by client: two clinics may both have an MRN 1001.
    key = ["_client_id", *entity.business_key]
    if suffix == "" and source is None:
        taken_over = _swap_in(cur, req, stage, target, key)
        if taken_over:
            return True, True  # its key index is built
        if taken_over is None:
            req = replace(req, unique_keys=False)  # its key index found a key twice: deduplicate at once
    target_columns = _target_columns(cur, stage, entity, suffix)
    ident = sql.Identifier
    lineage = list(RAW_LINEAGE_TYPES)
    columns = [c for c, _ in target_columns]
    cols = sql.SQL(", ").join(map(ident, columns + lineage))
    select_list = sql.SQL(", ").join(
        [
            *map(ident, columns),
            *(
                sql.SQL("{} as {}").format(value, ident(name))
                for name, value in zip(lineage, _lineage_values(req, RAW_LINEAGE_TYPES), strict=True)
            ),
        ]
    )
    key_list = sql.SQL(", ").join(map(ident, key))
    # Within one file the client, file date and sequence are the same for every row.
    in_file_key = sql.SQL(", ").join(map(ident, entity.business_key))
    in_file_order = ([req.watermark_column] if req.watermark_column and suffix == "" else []) + ["_source_line"]
    order_desc = sql.SQL(", ").join(sql.SQL("{} desc nulls last").format(ident(c)) for c in in_file_order)
    order = ([req.watermark_column] if req.watermark_column and suffix == "" else []) + list(ORDER)

    def rows(unique: bool, with_lineage: bool = True) -> sql.Composable:
        chosen = select_list if with_lineage else sql.SQL(", ").join(map(ident, columns))
        if unique:
            return sql.SQL("select {cols} from raw.{stage} where _stage_file = %s").format(
                cols=chosen, stage=ident(stage)
            )
        # Within the file the last version of a key wins (documented: duplicate keys, latest wins).
        return sql.SQL(
            "select distinct on ({key}) {cols} from raw.{stage} where _stage_file = %s order by {key}, {order}"
        ).format(key=in_file_key, cols=chosen, stage=ident(stage), order=order_desc)

    if not _table_exists(cur, "raw", target):
        return False, _create_from(cur, req, target, key, rows)
    _widen_target(cur, target_columns, target, key)
    unique = req.unique_keys
    if unique is None:
        cur.execute(
            sql.SQL(
                "select not exists (select 1 from raw.{stage} where _stage_file = %s "
                "group by {key} having count(*) > 1)"
            ).format(stage=ident(stage), key=in_file_key),
            (req.stage_file,),
        )
        unique = cur.fetchone()[0]
    incoming = rows(unique)
    params = (req.stage_file,)
    plain_insert = sql.SQL("insert into raw.{} ({}) ").format(ident(target), cols) + incoming
    if feed.entities[req.entity_name].incremental.mode == "reference":
        # Reference data: the newest file is the whole truth for its client.
        if suffix == "":
            _record_replacements(cur, req, target, stage, order=None)
        cur.execute(sql.SQL("delete from raw.{} where _client_id = %s").format(ident(target)), (req.load.client_id,))
        cur.execute(plain_insert, params)
        return False, unique
    cur.execute(sql.SQL("select exists (select 1 from raw.{})").format(ident(target)))
    if not cur.fetchone()[0]:
        # An empty table (a first load): bulk-load it, then build the key index once; inserting into
        # the index row by row costs several times more. Transactional DDL: a rollback restores it.
        cur.execute(sql.SQL("drop index raw.{}").format(ident(f"{target[:50]}__key")))
        cur.execute(plain_insert, params)
        _create_key_index(cur, "raw", target, key)
        return False, unique
    cur.execute(sql.SQL("select exists (select 1 from raw.{} where _client_id = %s)").format(ident(target)),
                (req.load.client_id,))  # fmt: skip
    if not cur.fetchone()[0]:
        # Nothing of this client yet (a new client): nothing to conflict with.
        cur.execute(plain_insert, params)
        return False, unique
    # One upsert on the unique business key; across files the newer version wins, so a backfilled
    # older file never overwrites what a newer file already loaded.
    if suffix == "":
        _record_replacements(cur, req, target, stage, order=order)
    updates = sql.SQL(", ").join(
        sql.SQL("{c} = excluded.{c}").format(c=ident(c)) for c in columns + lineage if c not in key
    )
    newer_or_same = sql.SQL("({}) <= ({})").format(
        sql.SQL(", ").join(sql.SQL("t.{}").format(ident(c)) for c in order),
        sql.SQL(", ").join(sql.SQL("excluded.{}").format(ident(c)) for c in order),
    )
    cur.execute(
        sql.SQL("insert into raw.{t} as t ({cols}) ").format(t=ident(target), cols=cols)
        + incoming
        + sql.SQL(" on conflict ({key}) do update set {updates} where {newer}").format(
            key=key_list, updates=updates, newer=newer_or_same
        ),
        params,
    )
    return False, unique


def _record_replacements(cur, req: PromoteRequest, target: str, stage: str, order: list[str] | None) -> None:
    """Where the rows that give way in this promotion went (audit.row_replacements), per older file.

    `order` None (reference data): every row of the client is replaced by this file. Otherwise the
    upsert's rule, by key: raw's row gives way when its (order) is not newer than the incoming one's,
    else the incoming row does (a backfilled older file), and that is recorded against this file."""
    ident = sql.Identifier
    load = req.load
    lineage = dict(zip(RAW_LINEAGE_TYPES, _lineage_values(req, RAW_LINEAGE_TYPES), strict=True))
    if order is None:
        cur.execute(
            sql.SQL(
                "select _file_sha256, true, count(*) from raw.{} where _client_id = %s and _file_sha256 <> %s "
                "group by 1"
            ).format(ident(target)),
            (load.client_id, load.file_sha256),
        )
    else:
        incoming = [lineage[c] if c in ("_file_date", "_file_seq") else sql.SQL("s.{}").format(ident(c)) for c in order]
        cur.execute(
            sql.SQL(
                "select t._file_sha256, ({existing}) <= ({incoming}), count(*) "
                "from raw.{stage} s join raw.{target} t on t._client_id = %s and {on} "
                "where s._stage_file = %s and t._file_sha256 <> %s group by 1, 2"
            ).format(
                existing=sql.SQL(", ").join(sql.SQL("t.{}").format(ident(c)) for c in order),
                incoming=sql.SQL(", ").join(incoming),
                stage=ident(stage),
                target=ident(target),
                on=sql.SQL(" and ").join(sql.SQL("t.{c} = s.{c}").format(c=ident(c)) for c in req.entity.business_key),
            ),
            (load.client_id, req.stage_file, load.file_sha256),
        )
    for other_sha, incoming_wins, rows in cur.fetchall():
        if incoming_wins:
            gave_way, by_sha, by_name = other_sha, load.file_sha256, load.file_name
        else:
            gave_way, by_sha = load.file_sha256, other_sha
            by_name = _file_name(cur, load, other_sha)
        cur.execute(
            "insert into audit.row_replacements "
            "(run_id, feed, entity, client_id, file_sha256, by_file_sha256, by_file_name, rows) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s)",
            (load.run_id, load.feed, load.entity, load.client_id, gave_way, by_sha, by_name, rows),
        )


def _file_name(cur, load: FileLoad, sha: str) -> str:
    cur.execute(
        "select file_name from audit.file_manifest where feed = %s and entity = %s and file_sha256 = %s",
        (load.feed, load.entity, sha),
    )
    row = cur.fetchone()
    return row[0] if row else sha[:12]


def _create_from(cur, req: PromoteRequest, target: str, key: list[str], rows) -> bool:
    """A first load into a table that does not exist yet: `create table as` the file's staged values
    (written in bulk, cheaper than `insert ... select` into an empty table), the per-file lineage as
    metadata only (_add_file_lineage: not written into every row), then the key index once.
    Unless the loader saw a key twice, the index is the duplicate check (a file too big to track,
    or a retried dlt job that loaded a part twice): a duplicate undoes the plain copy and the
    deduplicating one runs instead. Returns whether the file's keys were unique."""

    def create(unique: bool) -> None:
        cur.execute(
            sql.SQL("create table raw.{} as ").format(sql.Identifier(target)) + rows(unique, with_lineage=False),
            (req.stage_file,),
        )
        _add_file_lineage(cur, req, target)
        _create_key_index(cur, "raw", target, key)

    if req.unique_keys is not False:
        cur.execute("savepoint create_from")
        try:
            create(unique=True)
        except psycopg2.errors.UniqueViolation:
            cur.execute("rollback to savepoint create_from")
        else:
            cur.execute("release savepoint create_from")
            return True
    create(unique=False)
    return False


def _add_file_lineage(cur, req: PromoteRequest, target: str) -> None:
    """The per-file lineage columns for a table that holds this file's rows only, as metadata: a column
    added with a constant default keeps that value for the rows already there without rewriting them
    (PostgreSQL 11+); dropping the default afterwards leaves those rows their value and gives later
    inserts none."""
    ident = sql.Identifier
    names = list(RAW_LINEAGE_TYPES)
    cur.execute(
        sql.SQL("alter table raw.{} {}").format(
            ident(target),
            sql.SQL(", ").join(
                sql.SQL("add column {} {} default {}").format(ident(name), sql.SQL(RAW_LINEAGE_TYPES[name]), value)
                for name, value in zip(names, _lineage_values(req, RAW_LINEAGE_TYPES), strict=True)
            ),
        )
    )
    cur.execute(
        sql.SQL("alter table raw.{} {}").format(
            ident(target), sql.SQL(", ").join(sql.SQL("alter column {} drop default").format(ident(n)) for n in names)
        )
    )


def _swap_in(cur, req: PromoteRequest, stage: str, target: str, key: list[str]) -> bool | None:
    """A first load: the stage table becomes the target table, so the file is not written a second time.
    True when it did; False when it does not apply; None when the file repeats a key (undone).

    Only when the target does not exist yet and the stage table holds this file's rows and nothing
    else: the loader empties the stage tables before dlt appends to them, and no other file of this run
    staged rows there. The key index doubles as the duplicate check: if the file repeats a key (or a
    retried dlt job loaded a part twice), the savepoint undoes the swap and the caller deduplicates.
    Stage tables are logged for this (crash recovery empties an unlogged table); one left unlogged by
    an earlier version is made logged here.
    """
    if not req.sole_stage_rows.get("") or req.unique_keys is False or _table_exists(cur, "raw", target):
        return False
    ident = sql.Identifier
    cur.execute("select relpersistence from pg_class where oid = to_regclass(%s)", (f'raw."{stage}"',))
    unlogged = cur.fetchone()[0] == "u"
    cur.execute("savepoint swap_in")
    cur.execute(sql.SQL("drop index if exists raw.{}").format(ident(f"{stage}_file")))
    cur.execute(sql.SQL("alter table raw.{} rename to {}").format(ident(stage), ident(target)))
    # The next load appends to the stage table again: an empty twin takes its place. The storage
    # options went with the rename: the twin is kept from autovacuum, the raw table is given back to it.
    cur.execute(sql.SQL("create table raw.{} (like raw.{} including all)").format(ident(stage), ident(target)))
    exclude_from_autovacuum(cur, stage)
    cur.execute(
        sql.SQL("alter table raw.{} reset ({})").format(
            ident(target), sql.SQL(", ").join(map(sql.SQL, _AUTOVACUUM_OPTIONS))
        )
    )
    # Per-file lineage columns a stage table of an earlier version still has (empty in these rows) go.
    # `_stage_file` and the calculated columns go too, once `<table>_calculated` has been read from
    # them (promote).
    _drop_columns(cur, target, lambda c: c in FILE_LINEAGE or c.startswith("_dlt") or c == "_load_nonce")
    _add_file_lineage(cur, req, target)
    if unlogged:
        cur.execute(sql.SQL("alter table raw.{} set logged").format(ident(target)))
    try:
        _create_key_index(cur, "raw", target, key)
    except psycopg2.errors.UniqueViolation:
        cur.execute("rollback to savepoint swap_in")
        return None
    cur.execute("release savepoint swap_in")
    return True


LINEAGE_TYPES = {
    "_record_id": "text",
    "_source_file": "text",
    "_source_line": "bigint",
    "_file_sha256": "text",
    "_client_id": "text",
    "_file_date": "date",
    "_file_seq": "integer",
    "_run_id": "text",
    "_ingested_at": "timestamptz",
    "_pseudonym_key_id": "text",
}


def ensure_quarantine_table(cur, feed: Feed, entity_name: str) -> list[str]:
    """Quarantine tables are all text (an invalid value may not fit its type), defined by the config."""
    target = feed.table(entity_name)
    wanted = [(c, "text") for c in raw_columns(feed.entities[entity_name])]
    wanted += [("_reasons", "text"), *LINEAGE_TYPES.items()]
    existing = dict(_columns(cur, "quarantine", target))
    ident = sql.Identifier
    if not existing:
        cur.execute(
            sql.SQL("create table quarantine.{} ({})").format(
                ident(target),
                sql.SQL(", ").join(sql.SQL("{} {}").format(ident(c), sql.SQL(t)) for c, t in wanted),
            )
        )
        cur.execute(sql.SQL("create index on quarantine.{} (_file_sha256)").format(ident(target)))
    else:
        for column, column_type in wanted:
            if column not in existing:
                cur.execute(
                    sql.SQL("alter table quarantine.{} add column {} {}").format(
                        ident(target), ident(column), sql.SQL(column_type)
                    )
                )
    return [c for c, _ in wanted]


def _quarantine(cur, req: PromoteRequest, valid_too: bool = True) -> None:
    """The file's quarantine rows; with `valid_too`, a held file's valid rows join them."""
    feed = req.feed
    stage = stage_name(feed, req.entity_name, "_quarantine")
    target = feed.table(req.entity_name)
    ident = sql.Identifier
    quarantine_cols = ensure_quarantine_table(cur, feed, req.entity_name)
    cur.execute(
        sql.SQL("delete from quarantine.{} where _file_sha256 = %s").format(ident(target)),
        (req.load.file_sha256,),
    )
    lineage_types = {name: LINEAGE_TYPES[name] for name in quarantine_cols if name in FILE_LINEAGE}
    lineage_cols = [ident(name) for name in lineage_types]
    lineage_values = _lineage_values(req, lineage_types)
    if has_staged_rows(cur, stage):
        stage_cols = {c for c, _ in _stage_columns(cur, stage)}
        columns = [c for c in quarantine_cols if c in stage_cols]
        cur.execute(
            sql.SQL("insert into quarantine.{t} ({cols}) select {select} from raw.{s} where _stage_file = %s").format(
                t=ident(target),
                cols=sql.SQL(", ").join([*map(ident, columns), *lineage_cols]),
                select=sql.SQL(", ").join([*map(ident, columns), *lineage_values]),
                s=ident(stage),
            ),
            (req.stage_file,),
        )
    if req.held and valid_too:
        # A held file reaches raw not at all; its valid rows join its invalid ones in quarantine,
        # so nothing is lost and the file's rows still balance.
        raw_stage = stage_name(feed, req.entity_name)
        if not has_staged_rows(cur, raw_stage):
            return
        stage_cols = {c for c, _ in _stage_columns(cur, raw_stage)}
        shared = [c for c in quarantine_cols if c in stage_cols]
        select = [sql.SQL("{}::text").format(ident(c)) if not c.startswith("_") else ident(c) for c in shared]
        cur.execute(
            sql.SQL(
                "insert into quarantine.{t} ({cols}, _reasons) select {select}, %s from raw.{s} where _stage_file = %s"
            ).format(
                t=ident(target),
                cols=sql.SQL(", ").join([*map(ident, shared), *lineage_cols]),
                select=sql.SQL(", ").join([*select, *lineage_values]),
                s=ident(raw_stage),
            ),
            (f"file_held:{(req.load.reason or 'invalid_ratio').split(':', 1)[0]}", req.stage_file),
        )


def _drop_columns(cur, table: str, unwanted: Callable[[str], bool]) -> None:
    """Drop the columns of raw.<table> whose names `unwanted` accepts, in one statement (metadata only:
    the old values stay in the rows on disk, unreadable, until they are rewritten)."""
    dropped = [c for c, _ in _columns(cur, "raw", table) if unwanted(c)]
    if dropped:
        cur.execute(
            sql.SQL("alter table raw.{} {}").format(
                sql.Identifier(table),
                sql.SQL(", ").join(sql.SQL("drop column {}").format(sql.Identifier(c)) for c in dropped),
            )
        )


CONFLICTING_DUPLICATE = "conflicting_duplicate"


def _settle_duplicates(cur, req: PromoteRequest) -> PromoteRequest:
    """Rows of this file that share a business key with a later row of it, counted and taken out of
    the stage table before the merge, so that every row the audit says was loaded reaches raw.

    The last row of a key wins (watermark column, then line, as the merge orders them). A row equal
    to the winner in every staged value (only its line differs) is superseded: it says nothing the
    winner does not. A row that differs is a conflicting duplicate: it goes to quarantine with the
    key's columns in its reason, so no version the client sent is dropped without a trace. Counted
    here, in the promotion's transaction, because only the database sees every row of a big file."""
    if req.held or req.unique_keys is True:
        return req
    stage = stage_name(req.feed, req.entity_name)
    if not has_staged_rows(cur, stage):
        return req
    ident = sql.Identifier
    key = list(req.entity.business_key)
    compared = [c for c, _ in _stage_columns(cur, stage) if c not in ("_record_id", "_source_line")]
    in_file_order = ([req.watermark_column] if req.watermark_column else []) + ["_source_line"]
    cur.execute(
        sql.SQL(
            "select _source_line, identical from ("
            " select _source_line, row_number() over w as position,"
            " row({cmp})::text = first_value(row({cmp})::text) over w as identical"
            " from raw.{stage} where _stage_file = %s"
            " window w as (partition by {key} order by {order})"
            ") ranked where position > 1"
        ).format(
            cmp=sql.SQL(", ").join(map(ident, compared)),
            stage=ident(stage),
            key=sql.SQL(", ").join(map(ident, key)),
            order=sql.SQL(", ").join(sql.SQL("{} desc nulls last").format(ident(c)) for c in in_file_order),
        ),
        (req.stage_file,),
    )
    later = cur.fetchall()
    if not later:
        return replace(req, unique_keys=True)
    superseded = [line for line, identical in later if identical]
    conflicting = [line for line, identical in later if not identical]
    load = req.load
    reason_counts = dict(req.reason_counts)
    if conflicting:
        reason = f"{CONFLICTING_DUPLICATE}:{'+'.join(key)}"
        quarantine_cols = ensure_quarantine_table(cur, req.feed, req.entity_name)
        stage_cols = {c for c, _ in _stage_columns(cur, stage)}
        shared = [c for c in quarantine_cols if c in stage_cols]
        lineage_types = {name: LINEAGE_TYPES[name] for name in quarantine_cols if name in FILE_LINEAGE}
        select = [sql.SQL("{}::text").format(ident(c)) if not c.startswith("_") else ident(c) for c in shared]
        cur.execute(
            sql.SQL(
                "insert into quarantine.{t} ({cols}, _reasons) select {select}, %s from raw.{s} "
                "where _stage_file = %s and _source_line = any(%s)"
            ).format(
                t=ident(req.feed.table(req.entity_name)),
                cols=sql.SQL(", ").join([*map(ident, shared), *map(ident, lineage_types)]),
                select=sql.SQL(", ").join([*select, *_lineage_values(req, lineage_types)]),
                s=ident(stage),
            ),
            (reason, req.stage_file, conflicting),
        )
        reason_counts[reason] = reason_counts.get(reason, 0) + len(conflicting)
        load.rows_quarantined += len(conflicting)
    load.rows_superseded += len(superseded)
    load.rows_loaded -= len(later)
    cur.execute(
        sql.SQL("delete from raw.{} where _stage_file = %s and _source_line = any(%s)").format(ident(stage)),
        (req.stage_file, [line for line, _ in later]),
    )
    return replace(req, unique_keys=True, reason_counts=reason_counts)


def _newer_reference(cur, req: PromoteRequest) -> str | None:
    """For a reference entity, the loaded file of the same client that is newer than this one (file date,
    then sequence), if any: a snapshot older than the one in raw must not replace it."""
    if req.entity.incremental.mode != "reference" or req.held:
        return None
    load = req.load
    cur.execute(
        "select file_name, file_date from audit.file_manifest "
        "where feed = %s and entity = %s and client_id is not distinct from %s and status = 'loaded' "
        "and file_sha256 <> %s and (file_date, coalesce(file_seq, 0)) > (%s, %s) "
        "order by file_date desc, file_seq desc nulls last limit 1",
        (load.feed, load.entity, load.client_id, load.file_sha256, req.file_date, req.file_seq or 0),
    )
    row = cur.fetchone()
    return None if row is None else f"{row[0]} ({row[1]})"


def promote(conn: psycopg2.extensions.connection, req: PromoteRequest) -> None:
    """Everything for one file, in one transaction."""
    load = req.load
    # A retried promotion starts again from the loader's counts, not from a rolled-back attempt's.
    counted = (load.status, load.reason, load.rows_loaded, load.rows_quarantined, load.rows_superseded)
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute("set local lock_timeout = '30s'")
            cur.execute("set local work_mem = '256MB'")  # the in-file dedupe sorts; keep it off disk
            newer = _newer_reference(cur, req)
            if newer is not None:
                # Changes nothing in raw: its valid rows are all superseded; its invalid ones stay in
                # quarantine like any file's.
                load.status = "superseded"
                load.reason = f"superseded: older than {newer}, already loaded"
                load.rows_superseded += load.rows_loaded
                load.rows_loaded = 0
                req = replace(req, held=True)  # nothing of it is merged
            # Quarantine first: it empties the file's earlier quarantine rows, which a conflicting
            # duplicate (_settle_duplicates) is added to.
            if req.use_stage:
                _quarantine(cur, req, valid_too=newer is None)
            req = _settle_duplicates(cur, req)
            if not req.held:
                table = req.feed.table(req.entity_name)
                taken_over, unique = _merge(cur, req, "")
                if has_calculated(req.entity):
                    # From the stage table's calculated columns, or from the table that took it over.
                    calculated = replace(req, unique_keys=unique)
                    _merge(cur, calculated, "_calculated", source=table if taken_over else None)
                if taken_over:
                    # A table taken over from the stage keeps no stage-only or calculated column.
                    _drop_columns(cur, table, lambda c: c in STAGE_ONLY or c in CALCULATED_COLUMNS)
                if req.watermark_column:
                    _advance_watermark(cur, req)
            if req.drift and req.drift.get("extra"):
                cur.execute(
                    "insert into audit.schema_drift "
                    "(run_id, feed, entity, client_id, file_name, file_sha256, "
                    "missing_columns, extra_columns) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (load.run_id, load.feed, load.entity, load.client_id, load.file_name, load.file_sha256,
                     req.drift.get("missing", []), req.drift.get("extra", [])),
                )  # fmt: skip
            for reason, rows in sorted(req.reason_counts.items()):
                cur.execute(
                    "insert into audit.file_quarantine_reasons "
                    "(run_id, feed, entity, client_id, file_name, file_sha256, reason, rows) "
                    "values (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (load.run_id, load.feed, load.entity, load.client_id, load.file_name, load.file_sha256,
                     reason, rows),
                )  # fmt: skip
            cur.execute(
                """
                insert into audit.file_manifest_entries (
                    feed, entity, file_sha256, file_name, client_id, file_date, file_seq, size_bytes,
                    status, reason, config_sha256, run_id
                ) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                """,
                (
                    load.feed, load.entity, load.file_sha256, load.file_name, load.client_id, req.file_date,
                    req.file_seq, req.size_bytes, _manifest_status(load, req), load.reason,
                    req.config_sha256, load.run_id,
                ),
            )  # fmt: skip
            record_file_load(cur, load)
            if req.name_tokens:
                cur.execute(
                    "insert into audit.name_tokens (token) select unnest(%s::text[]) on conflict do nothing",
                    (sorted(req.name_tokens),),
                )
        conn.commit()
    except BaseException:
        conn.rollback()
        load.status, load.reason, load.rows_loaded, load.rows_quarantined, load.rows_superseded = counted
        raise
    finally:
        conn.autocommit = True


def _manifest_status(load: FileLoad, req: PromoteRequest) -> str:
    if load.status == "superseded":
        return "superseded"
    return "held" if req.held else "loaded"


def _advance_watermark(cur, req: PromoteRequest) -> None:
    """A new watermark event only when the client's high water rises (audit.watermarks reads the highest)."""
    table = req.feed.table(req.entity_name)
    cur.execute(
        sql.SQL(
            """
            insert into audit.watermark_events (feed, entity, client_id, column_name, high_water)
            select %s, %s, %s, %s, max({col}) from raw.{t} where _client_id = %s
            having max({col}) > coalesce(
                (select max(high_water) from audit.watermark_events where feed = %s and entity = %s and client_id = %s),
                '-infinity'
            )
            """
        ).format(col=sql.Identifier(req.watermark_column), t=sql.Identifier(table)),
        (
            req.feed.feed, req.entity_name, req.load.client_id, req.watermark_column, req.load.client_id,
            req.feed.feed, req.entity_name, req.load.client_id,
        ),
    )  # fmt: skip


def record_only(conn: psycopg2.extensions.connection, load: FileLoad) -> None:
    """Audit rows for files that load nothing (unchanged, rejected names, failures)."""
    with conn.cursor() as cur:
        record_file_load(cur, load)

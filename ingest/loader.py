"""`warehouse ingest`: landing zone -> validated, pseudonymised rows in raw and quarantine, audited.

Per feed and entity: list files, skip those already loaded (same SHA-256), read each new file in
batches, filter, validate, pseudonymise, hand the batches to dlt (stage tables), then promote each
file into raw and quarantine in a transaction of its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg2
import pyarrow as pa
import pyarrow.compute as pc

from ingest import audit
from ingest.ahead import run_ahead
from ingest.config import ColumnType, Feed, PiiClass, load_feeds
from ingest.describe import Describer, column_words, redact_message
from ingest.ignored import landing_missing, list_ignored
from ingest.land import PipelineStepFailed, close_adbc_databases, load_stage, stage_pipeline, use_jemalloc
from ingest.landing import LandedFile, default_landing_root, list_files, open_file, sha256_of
from ingest.name_prepass import FastPathFailed, name_batches
from ingest.parquet_output import ParquetTee, publish
from ingest.pii._arrow import string_offsets
from ingest.pii.keys import PseudonymKey, load_key
from ingest.pii.known_names import KnownNames
from ingest.pii.tokens import shutdown_worker
from ingest.promote import (
    PromoteRequest,
    exclude_from_autovacuum,
    has_staged_rows,
    promote,
    record_only,
    stage_name,
)
from ingest.pseudonymise import (
    FileContext,
    empty_quarantine,
    file_lineage,
    name_columns,
    pseudonymise,
    split_calculated,
    start_tokens,
    with_file_lineage,
)
from ingest.reader import FileProblem, FileReader
from ingest.validate import Validated, clean_text, validate
from warehouse.db.connection import ConnInfo, connect
from warehouse.db.target import Target
from warehouse.errors import WarehouseError


@dataclass
class IngestOptions:
    feeds_dir: Path | None = None
    landing_root: str = field(default_factory=default_landing_root)
    feed: str | None = None
    client: str | None = None
    force: bool = False
    dry_run: bool = False
    key_file: Path | None = None
    # dlt's working folder (load packages: pseudonymised data only); default .warehouse/dlt.
    work_dir: Path | None = field(
        default_factory=lambda: Path(os.environ["WAREHOUSE_DLT_DIR"]) if os.environ.get("WAREHOUSE_DLT_DIR") else None
    )
    # Parquet copy of the pseudonymised layer for feeds that do not set their own `parquet_output`.
    parquet_output: str | None = field(default_factory=lambda: os.environ.get("WAREHOUSE_PARQUET_OUTPUT") or None)
    retry_seconds: float = field(default_factory=lambda: float(os.environ.get("WAREHOUSE_INGEST_RETRY_SECONDS", "60")))


# Checked batches waiting for pseudonymisation (one 4 MB read block each, its text and typed values):
# enough to ride out a slow batch, few enough to keep memory flat.
CHECKED_AHEAD = 2
MAX_TRACKED_KEYS = 1_000_000  # 8 MB of key hashes per file at most
SAFE_FOLDER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")  # a database name usable as a folder as it is


@dataclass
class FileState:
    landed: LandedFile
    sha256: str | None = None
    load: audit.FileLoad | None = None
    held: bool = False
    drift: dict | None = None
    unreadable: bool = False  # held as a whole before or while reading: stage rows of it are void
    key_hashes: list[np.ndarray] | None = field(default_factory=list)  # whether any key repeats
    staged_rows: dict[str, int] = field(default_factory=dict)  # stage table suffix -> rows of this file
    stage_file: int = 0  # this file's rows in the stage tables (FileContext.stage_file)
    lineage: dict[str, object] = field(default_factory=dict)  # per-file lineage values, written at promotion
    reported_bad: int = 0  # the reader's unsplittable rows already sent to quarantine
    empty_rows: int = 0  # rows without any value (`,,,,`): filtered, and said so in the run output
    content_date: date | None = None  # `file_date_from`: the file's date read from its rows
    # Tokens of the names this file carries, committed by its own promotion: never saved before the
    # file is (a kill in between would lose them for good), never later (free text of later runs).
    name_tokens: set[str] = field(default_factory=set)

    @property
    def file_date(self) -> date | None:
        return self.content_date or self.landed.file_date

    def track_keys(self, hashes: np.ndarray) -> None:
        if self.key_hashes is None:
            return
        self.key_hashes.append(hashes)
        if sum(len(h) for h in self.key_hashes) > MAX_TRACKED_KEYS:
            self.key_hashes = None  # memory stays flat: the database answers for big files

    def keys_unique(self) -> bool | None:
        """True/False when known; None for files too big to track here."""
        if self.key_hashes is None:
            return None
        if not self.key_hashes:
            return True
        hashes = np.sort(np.concatenate(self.key_hashes))
        # A hash collision only sends the file down the deduplicating path: slower, still right.
        # Sorted neighbours, not np.unique: numpy 2.4's unique hashes (~1.1 s per 1M keys, on the
        # critical path between staging and promotion); the sort takes ~0.02 s.
        return not bool(np.any(hashes[1:] == hashes[:-1]))

    reason_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Checked:
    """A batch filtered and validated, its identifier tokens being computed (see `start_tokens`)."""

    validated: Validated
    lines: np.ndarray
    tokens: dict[str, Callable[[], pa.Array]]
    # Counted where the batch is read and filtered, added to the file's load where it is pseudonymised:
    # the two run in different threads, and the load's counters have one writer.
    read: int = 0
    empty: int = 0  # rows with no value at all, filtered (reason `empty_row`)
    content_date: date | None = None  # the batch's `file_date_from` date (max or min of its valid rows)
    filtered: int = 0


@dataclass
class IngestReport:
    run_id: str
    files: list[audit.FileLoad]
    content_fingerprint: str | None = None

    def counts(self) -> dict[str, int]:
        out = {"seen": len(self.files)}
        for load in self.files:
            out[load.status] = out.get(load.status, 0) + 1
        return out


def _config_sha(feed: Feed) -> str:
    return hashlib.sha256(feed.model_dump_json().encode()).hexdigest()


def _new_run_id() -> str:
    """Unique per invocation: a held run, the run after the fix and a `--force` run of the same files
    are three runs (their audit rows, quarantine rows and lineage must not merge)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def _run_id(feeds: list[Feed], states: list[FileState]) -> str:
    """The content fingerprint: the same feeds and files give the same value, kept beside the run id
    (`audit.ingest_runs.content_fingerprint`) to tell a re-run of the same input."""
    digest = hashlib.sha256()
    for feed in feeds:
        digest.update(feed.feed.encode() + b"\0")
    for sha in sorted(s.sha256 or "" for s in states):
        digest.update(sha.encode() + b"\0")
    return digest.hexdigest()[:16]


class Loader:
    def __init__(self, options: IngestOptions, target: Target, log: Callable[[str], None]) -> None:
        self.options = options
        self.target = target
        self.log = log
        self.key: PseudonymKey | None = None
        self.names: KnownNames | None = None
        self.describer: Describer | None = None
        self.progress = _progress() if sys.stderr.isatty() else None
        self.tee: ParquetTee | None = None
        self.conn = None
        self._loader_info: ConnInfo | None = None
        self.load_nonce = secrets.token_hex(8)
        # Stage rows of file i of this invocation carry stage_base + i (random: never an earlier run's).
        self.stage_base = secrets.randbits(40) << 20
        self.ingested_at = datetime.now(UTC).replace(tzinfo=UTC)

    def _file_stamp(self) -> datetime:
        """Each file's `_ingested_at`, strictly increasing in the order files are promoted.

        dbt's incremental models take the rows stamped after the newest they hold. That is exact
        because one loader runs at a time (the advisory lock), files are promoted in the order they
        were stamped, and each file commits whole: a build sees every file up to some stamp and none
        after it, even while a run is in progress. One stamp per run would let a build that ran
        between two files of a run miss the rest of the run."""
        stamp = max(datetime.now(UTC), self.ingested_at + timedelta(microseconds=1))
        self.ingested_at = stamp
        return stamp

    # ---- setup ---------------------------------------------------------------------------------------
    def loader_info(self) -> ConnInfo:
        # Resolved once: while the embedded server restarts it reports itself stopped, and a retry must
        # wait for it on the port it comes back on (connect's own backoff), not give up at once.
        if self._loader_info is None:
            self._loader_info = self.target.role("loader")
        return self._loader_info

    def feeds(self) -> list[Feed]:
        feeds = load_feeds(self.options.feeds_dir)
        if self.options.feed:
            if self.options.feed not in feeds:
                raise WarehouseError(f"unknown feed {self.options.feed!r}; known: {', '.join(sorted(feeds))}")
            return [feeds[self.options.feed]]
        return list(feeds.values())

    def _retry(self, what: str, action: Callable[[], object]) -> object:
        """Transient failures (server restart, network blip, object store timeout) retry with backoff."""
        deadline = time.monotonic() + self.options.retry_seconds
        delay = 0.5
        while True:
            try:
                return action()
            except (psycopg2.Error, PipelineStepFailed, OSError) as exc:
                if not _transient(exc) or time.monotonic() + delay > deadline:
                    raise WarehouseError(f"{what} failed: {_one_line(exc)}") from None
                self.log(f"{what}: transient failure ({type(exc).__name__}); retrying in {delay:g}s")
                time.sleep(delay)
                delay = min(delay * 2, 10)
                self._reconnect()

    def _reconnect(self) -> None:
        try:
            if self.conn is not None:
                self.conn.close()
        except psycopg2.Error:
            pass
        self.conn = connect(self.loader_info(), total_seconds=self.options.retry_seconds)
        # The lock went with the old session; another loader may have started in between.
        if not audit.claim_loader_lock(self.conn):
            raise WarehouseError("another `warehouse ingest` took over this database while we reconnected")

    # ---- the run ---------------------------------------------------------------------------------------
    def run(self) -> IngestReport:
        use_jemalloc()
        # pyarrow imports pandas on its first conversion of a Python value, which may happen in the
        # checking thread while dlt, in this one, looks pandas up in sys.modules: it then finds the
        # module half initialised ("partially initialized module 'pandas' has no attribute
        # 'DataFrame'") and the load fails. Imported here, before any thread starts, it is whole.
        importlib.import_module("pandas")
        feeds = self.feeds()
        self.key = load_key(self.options.key_file)
        missing = landing_missing(self.options.landing_root)
        if missing:
            raise WarehouseError(missing)
        if self.options.dry_run:
            return self.dry_run_states()[0]

        self.conn = connect(self.loader_info(), total_seconds=self.options.retry_seconds)
        audit.ensure_tables(self.conn)
        if not audit.claim_loader_lock(self.conn):
            raise WarehouseError("another `warehouse ingest` is running against this database; try again when it ends")
        audit.check_key(self.conn, self.key)
        abandoned = audit.close_abandoned_runs(self.conn)
        if abandoned:
            self.log(f"marked {abandoned} earlier run(s) that never finished as failed")
        self._drop_quarantine_stages(feeds)  # rows of a killed run: they never outlive their load
        for feed in feeds:
            for entity_name in feed.entities:
                self._empty_stage(feed, entity_name)
        # File names are checked against every name known so far: listed after the tokens are read.
        self._know_names(self.conn)
        states = self._list(feeds)
        fingerprint = _run_id(feeds, [s for group in states.values() for s in group])
        run_id = _new_run_id()
        run_row = audit.start_run(self.conn, run_id, fingerprint)
        report = IngestReport(run_id, [], fingerprint)
        if self.progress is not None:
            self.progress.start()
        try:
            for load in self._ignored(feeds, run_id):
                self._retry("recording a file", lambda load=load: record_only(self.conn, load))
                report.files.append(load)
            self._learn_names_first(feeds, states)
            for feed in feeds:
                for entity_name in feed.entities:
                    group = states.get((feed.feed, entity_name), [])
                    if group:
                        report.files += self._ingest_entity(feed, entity_name, group, run_id)
        except BaseException as exc:
            message = str(exc) if isinstance(exc, WarehouseError) else f"interrupted: {type(exc).__name__}"
            try:
                self._reconnect()
                audit.finish_run(self.conn, run_row, status="failed", counts=report.counts(), error=message)
            except (psycopg2.Error, WarehouseError):
                pass  # the database is what failed; the error still reaches the user
            with contextlib.suppress(psycopg2.Error):
                self.conn.close()  # and the loader lock with it, for a caller that goes on (tests, `run`)
            raise
        finally:
            if self.progress is not None:
                self.progress.stop()
            shutdown_worker()  # the HMAC worker, if a big batch started one: not kept idle after the run
            close_adbc_databases()
        audit.finish_run(self.conn, run_row, status="succeeded", counts=report.counts(), error=None)
        self.conn.close()
        return report

    def _ignored(self, feeds: list[Feed], run_id: str) -> list[audit.FileLoad]:
        """What the landing zone holds that no feed reads (`ingest.ignored`), as rejected entries."""
        if self.options.client:
            return []  # entries outside the entity folders belong to no client
        loads = []
        for entry in list_ignored(feeds, self.options.landing_root, self.describer, all_feeds=not self.options.feed):
            load = audit.FileLoad(
                run_id=run_id, feed=entry.feed, entity=entry.entity, file_name=entry.label, status="rejected",
                reason=entry.reason,
            )  # fmt: skip
            loads.append(load)
            where = f"{entry.feed}/{entry.entity}" if entry.entity else entry.feed
            self.log(f"{where}/{entry.label}: rejected ({entry.reason})")
        return loads

    def _know_names(self, conn) -> None:
        self.names = KnownNames(self.key, tokens=audit.load_name_tokens(conn))
        self.describer = Describer(self.key, self.names, column_words(self.feeds()))

    def _list(self, feeds: list[Feed]) -> dict[tuple[str, str], list[FileState]]:
        states: dict[tuple[str, str], list[FileState]] = {}
        for feed in feeds:
            for landed in list_files(feed, self.options.landing_root, self.describer):
                if self.options.client and landed.client_id != self.options.client:
                    continue
                state = FileState(landed)
                if landed.matched:
                    try:
                        state.sha256 = sha256_of(landed)
                    except OSError as exc:
                        # Unreadable (its mode, or removed since it was listed): rejected, the run goes on.
                        reason = f"cannot be read: {exc.strerror or type(exc).__name__}"
                        state = FileState(dataclasses.replace(landed, refused=reason))
                states.setdefault((feed.feed, landed.entity), []).append(state)
        return states

    def _learn_names_first(self, feeds: list[Feed], states: dict[tuple[str, str], list[FileState]]) -> None:
        """Learn, before any file is written, the names of every file this run is about to take in.

        Names are otherwise learnt in feed order, and free text of an earlier feed (or an earlier batch
        of the same file) would be stored before a later one brings the name it mentions. Skipped
        when no file of the run has free text to redact: the big single-feed loads read once."""
        todo = []
        for feed in feeds:
            for entity_name, entity in feed.entities.items():
                if not name_columns(entity):
                    continue
                for state in states.get((feed.feed, entity_name), []):
                    if state.landed.matched and self._status(self.conn, feed, state)[0] is None:
                        todo.append((feed, entity, state))
        has_free_text = any(
            c.pii is PiiClass.free_text
            for feed in feeds
            for entity_name, entity in feed.entities.items()
            if states.get((feed.feed, entity_name))
            for c in entity.columns
        )
        if not todo or not has_free_text:
            return
        for feed, entity, state in todo:
            self._learn_file_names(feed, entity, state)

    def _learn_batches(self, batches, columns: list[str], own: KnownNames) -> None:
        for batch in batches:
            for name in columns:
                values = clean_text(batch[name])
                self.names.learn(values)
                own.learn(values)

    def _learn_file_names(self, feed: Feed, entity, state: FileState) -> None:
        """The file's name columns, learnt into the run's known names and into the file's own tokens
        (all of them, not only the ones new to this run: whichever of two files naming one person
        commits first saves the token)."""
        columns = name_columns(entity)
        own = KnownNames(self.key)
        self.names.pending = state.name_tokens
        try:
            client = state.landed.client_id
            mapped = feed.entity_for(state.landed.entity, client)
            fmt = feed.format_for(client)
            with open_file(state.landed) as handle:
                batches = name_batches(handle, fmt, mapped, columns)
                try:
                    self._learn_batches(batches or (), columns, own)
                except FastPathFailed:
                    batches = None  # what it learnt stays learnt; the full reader learns the rest
            if batches is None:
                with open_file(state.landed) as handle:
                    reader = FileReader(handle, fmt, mapped, describer=self.describer)
                    self._learn_batches((batch.columns for batch in reader.batches()), columns, own)
        except FileProblem:
            return  # held when it is processed; nothing of it is stored
        except (OSError, pa.ArrowException):
            return  # read again when it is processed, which reports the failure
        finally:
            state.name_tokens |= own.pending

    def _drop_quarantine_stages(self, feeds: list[Feed], only_entity: str | None = None) -> None:
        """Quarantine stage rows are read once, by the promotion: the tables go after it (and at the
        start of a run, those a killed run left). dlt is made to create them again on its next load."""
        schemas = []
        with self.conn.cursor() as cur:
            for feed in feeds:
                for entity_name in feed.entities:
                    if only_entity is not None and entity_name != only_entity:
                        continue
                    name = stage_name(feed, entity_name, "_quarantine")
                    cur.execute("select to_regclass(%s) is not null", (f'raw."{name}"',))
                    if cur.fetchone()[0]:
                        cur.execute(f'drop table raw."{name}"')
                        schemas.append(_dlt_schema_name(feed, entity_name))
            cur.execute("select to_regclass('raw._dlt_version') is not null")
            if schemas and cur.fetchone()[0]:
                # dlt skips its schema migration when it finds its schema version stored: without
                # those rows it compares its schema with the tables there are and creates what is missing.
                cur.execute("delete from raw._dlt_version where schema_name = any(%s)", (schemas,))

    def dry_run_states(self) -> tuple[IngestReport, list[FileState]]:
        """The dry run's report, and the state of each file it read (reason counts, drift: `--explain`)."""
        use_jemalloc()
        feeds = self.feeds()
        self.key = self.key or load_key(self.options.key_file)
        missing = landing_missing(self.options.landing_root)
        if missing:
            raise WarehouseError(missing)
        self.conn = connect(self.loader_info(), total_seconds=self.options.retry_seconds)
        try:
            audit.ensure_tables(self.conn)
            self._know_names(self.conn)
            states = self._list(feeds)
            report = self._dry_run(feeds, states)
        finally:
            shutdown_worker()
            with contextlib.suppress(psycopg2.Error):
                self.conn.close()
        return report, [s for group in states.values() for s in group]

    def _dry_run(self, feeds: list[Feed], states: dict[tuple[str, str], list[FileState]]) -> IngestReport:
        """Every row read, filtered, validated, scanned for PII and pseudonymised as a real run would,
        then dropped: the counts and outcomes per file are the real run's, and nothing is written (no
        stage, raw, quarantine or audit row, no manifest entry, no dlt state, no Parquet)."""
        fingerprint = _run_id(feeds, [s for g in states.values() for s in g])
        run_id = _new_run_id()
        files = self._ignored(feeds, run_id)
        self._learn_names_first(feeds, states)
        for feed in feeds:
            for entity_name in feed.entities:
                for state in states.get((feed.feed, entity_name), []):
                    status, reason = self._status(self.conn, feed, state)
                    if status:
                        state.load = audit.FileLoad(
                            run_id=run_id, feed=feed.feed, entity=entity_name, file_name=state.landed.label,
                            status=status, reason=reason, client_id=state.landed.client_id,
                            file_sha256=state.sha256,
                        )  # fmt: skip
                    else:
                        for _ in self._process_file(feed, entity_name, state, run_id):
                            pass  # what load_stage would write
                        state.load.status = _WOULD.get(state.load.status, state.load.status)
                    files.append(state.load)
                    self.log(_describe(feed.feed, entity_name, state.load))
        return IngestReport(run_id, files, fingerprint)

    def _status(self, conn, feed: Feed, state: FileState) -> tuple[str | None, str | None]:
        """Why a file is not processed, or (None, None)."""
        if state.landed.refused:
            return "rejected", state.landed.refused
        if state.landed.name_pii:
            return "rejected", (
                "the file name matches the pattern but looks like it holds personal data (a name, a phone "
                "number): rename the file (the client id must not be a person's name) and land it again"
            )
        return self._precheck(conn, feed, state)

    def _precheck(self, conn, feed: Feed, state: FileState) -> tuple[str | None, str | None]:
        landed = state.landed
        if not landed.matched:
            return "rejected", f"file name does not match the pattern {feed.pattern().pattern}"
        if self.options.force:
            return None, None
        with conn.cursor() as cur:
            cur.execute(
                "select status, reason, config_sha256 from audit.file_manifest "
                "where feed = %s and entity = %s and file_sha256 = %s",
                (feed.feed, landed.entity, state.sha256),
            )
            row = cur.fetchone()
        if row is None:
            return None, None
        status, reason, config_sha = row
        if status == "loaded":
            return "unchanged", "already loaded (same SHA-256)"
        if status == "superseded":
            return "unchanged", f"older than a file already loaded ({reason}); unchanged file"
        if config_sha == _config_sha(feed):
            return "unchanged", f"held earlier ({reason}); unchanged file and config"
        return None, None

    def _ingest_entity(self, feed: Feed, entity_name: str, group: list[FileState], run_id: str):
        loads: list[audit.FileLoad] = []
        todo: list[FileState] = []
        for state in group:
            status, reason = self._status(self.conn, feed, state)
            if status:
                state.load = audit.FileLoad(
                    run_id=run_id, feed=feed.feed, entity=entity_name, file_name=state.landed.label,
                    status=status, reason=reason, client_id=state.landed.client_id, file_sha256=state.sha256,
                )  # fmt: skip
                self._retry("recording a file", lambda s=state: record_only(self.conn, s.load))
                loads.append(state.load)
                self.log(f"{feed.feed}/{entity_name}/{state.landed.label}: {status} ({reason})")
            else:
                todo.append(state)
        if not todo:
            return loads
        parquet_output = feed.parquet_output or self.options.parquet_output
        for position, state in enumerate(todo):
            state.stage_file = self.stage_base + position
        pipelines = []  # created once, by the first attempt, while its batches are already being read

        def pipeline():
            if not pipelines:
                pipelines.append(stage_pipeline(_pipeline_name(feed, entity_name), self.loader_info(), self._dlt_dir()))
            return pipelines[0]

        staged_at = time.monotonic()

        def stage() -> None:
            # A retry processes the files again: the Parquet tee starts from scratch with it.
            if self.tee is not None:
                self.tee.discard_all()
            self.tee = ParquetTee(self._dlt_dir() / "parquet_tee" / self.load_nonce) if parquet_output else None
            self._empty_stage(feed, entity_name)
            load_stage(pipeline, self._stage_tables(feed, entity_name, todo, run_id))

        self._retry(f"loading {feed.feed}/{entity_name} through dlt", stage)
        if len(todo) > 1:
            self._index_stage(feed, entity_name)
        promoted_at = time.monotonic()
        entity = feed.entities[entity_name]
        watermark = entity.incremental.column if entity.incremental.mode == "watermark" else None
        for state in todo:
            request = PromoteRequest(
                feed=feed, entity_name=entity_name, entity=entity, load=state.load,
                file_date=state.file_date, file_seq=state.landed.seq, size_bytes=state.landed.size,
                config_sha256=_config_sha(feed), stage_file=state.stage_file, lineage=state.lineage, held=state.held,
                reason_counts=state.reason_counts, watermark_column=watermark, drift=state.drift,
                use_stage=not state.unreadable, unique_keys=state.keys_unique(),
                sole_stage_rows=_sole_stage_rows(state, todo), name_tokens=set(state.name_tokens),
            )  # fmt: skip
            if self.tee is not None:
                self._publish_parquet(feed, state)
            self._retry(f"promoting {state.landed.label}", lambda r=request: promote(self.conn, r))
            loads.append(state.load)
            self.log(_describe(feed.feed, entity_name, state.load))
            if state.empty_rows:
                self.log(
                    f"warning: {feed.feed}/{entity_name}/{state.landed.label}: {state.empty_rows} empty rows "
                    "filtered (empty_row): check the client's export"
                )
        self.log(
            f"{feed.feed}/{entity_name}: {len(todo)} files; read, checked and staged through dlt in "
            f"{promoted_at - staged_at:.1f}s, promoted in {time.monotonic() - promoted_at:.1f}s"
        )
        self._retry("dropping the quarantine stage table", lambda: self._drop_quarantine_stages([feed], entity_name))
        # Rows of a held file are staged like any other; promotion moved them to quarantine, and the
        # copies must not wait in raw (readable by transformer) for the next run's truncate.
        self._retry("emptying the stage tables", lambda: self._empty_stage(feed, entity_name))
        return loads

    def _publish_parquet(self, feed: Feed, state: FileState) -> None:
        """The Parquet copy goes out before the promotion: if we die in between, the re-run replaces it."""
        if state.held:
            self.tee.discard(state.sha256)
            return
        parts = self.tee.close(state.sha256)
        if parts:
            bucket = feed.parquet_output or self.options.parquet_output
            if "://" not in bucket:
                bucket = str(Path(bucket).resolve())
            self._retry(
                f"writing the Parquet copy of {state.landed.label}",
                lambda: publish(
                    bucket_url=bucket, feed=feed.feed, file_sha=state.sha256, file_date=state.file_date,
                    parts=parts, pipelines_dir=self._dlt_dir(),
                ),
            )  # fmt: skip
        self.tee.discard(state.sha256)

    def _dlt_dir(self) -> Path:
        """dlt's working folder of this database: `<work dir>/<database>/`.

        dlt keeps each pipeline's schema and state there, named after the feed and entity only: dev
        and ci sharing one folder read each other's cached schema (a traceback on every retry), and
        two ingests into two databases at once wrote the same pipeline's files. One loader per
        database (the advisory lock) makes each folder single-writer."""
        base = self.options.work_dir or self.target.state.root / "dlt"
        return base / _folder_name(self.loader_info().dbname)

    def _stage_tables_present(self, cur, feed: Feed, entity_name: str) -> Iterator[str]:
        # "_calculated": the stage table earlier versions filled; emptied like the others, never filled.
        for suffix in ("", "_calculated", "_quarantine"):
            name = stage_name(feed, entity_name, suffix)
            cur.execute("select to_regclass(%s) is not null", (f'raw."{name}"',))
            if cur.fetchone()[0]:
                yield name

    def _empty_stage(self, feed: Feed, entity_name: str) -> None:
        """dlt appends in several runs per load, so the stage tables are emptied here, once, beforehand."""
        with self.conn.cursor() as cur:
            self._drop_stale_stage(cur, feed, entity_name)
            for name in list(self._stage_tables_present(cur, feed, entity_name)):
                exclude_from_autovacuum(cur, name)  # one dlt created in an earlier run is not yet
                cur.execute(f'truncate table raw."{name}"')
                # An index left by a run of several files would slow every COPY of this one.
                cur.execute(f'drop index if exists raw."{name}_file"')

    def _drop_stale_stage(self, cur, feed: Feed, entity_name: str) -> None:
        """Drop the raw stage table when its decimal columns are not the configured numeric(p, s).

        dlt made them double precision before decimals were exact (or the YAML's precision changed),
        and a binary COPY of decimals into such a column fails. dlt would not change a column it
        knows, so its schema goes too (stored version and local working folder): it creates the
        table again from the Arrow types."""
        expected = {
            c.name: f"numeric({c.decimal_precision},{c.decimal_scale})"
            for c in feed.entities[entity_name].columns
            if c.type is ColumnType.decimal and c.pii is PiiClass.none
        }
        if not expected:
            return
        name = stage_name(feed, entity_name)
        cur.execute(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute "
            "where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped",
            (f'raw."{name}"',),
        )
        found = dict(cur.fetchall())
        if all(found.get(column, wanted) == wanted for column, wanted in expected.items()):
            return
        cur.execute(f'drop table raw."{name}"')
        cur.execute("select to_regclass('raw._dlt_version') is not null")
        if cur.fetchone()[0]:
            cur.execute("delete from raw._dlt_version where schema_name = %s", (_dlt_schema_name(feed, entity_name),))
        shutil.rmtree(self._dlt_dir() / _pipeline_name(feed, entity_name), ignore_errors=True)

    def _index_stage(self, feed: Feed, entity_name: str) -> None:
        """Several files share the stage tables: each promotion picks its own rows by file hash."""
        with self.conn.cursor() as cur:
            for name in list(self._stage_tables_present(cur, feed, entity_name)):
                if has_staged_rows(cur, name):
                    cur.execute(f'create index if not exists "{name}_file" on raw."{name}" (_stage_file)')

    # ---- per file -----------------------------------------------------------------------------------------
    def _stage_tables(self, feed: Feed, entity_name: str, todo: list[FileState], run_id: str):
        for state in todo:
            yield from self._process_file(feed, entity_name, state, run_id)

    def _process_file(self, feed: Feed, entity_name: str, state: FileState, run_id: str) -> Iterator:
        landed = state.landed
        entity = feed.entities[entity_name]
        started = time.monotonic()
        load = audit.FileLoad(
            run_id=run_id, feed=feed.feed, entity=entity_name, file_name=landed.label, status="loaded",
            client_id=landed.client_id, file_sha256=state.sha256,
        )  # fmt: skip
        state.load = load
        state.reason_counts = {}
        state.key_hashes = []
        state.staged_rows = {}
        state.empty_rows = 0
        state.content_date = None
        ctx = FileContext(
            feed=feed.feed, entity=entity_name, client_id=landed.client_id, file_name=landed.label,
            file_sha256=state.sha256, file_date=landed.file_date, file_seq=landed.seq, run_id=run_id,
            stage_file=state.stage_file, ingested_at=self._file_stamp(), key=self.key, names=self.names,
        )  # fmt: skip
        state.lineage = file_lineage(ctx)
        stage_names = {suffix: stage_name(feed, entity_name, suffix) for suffix in ("", "_quarantine")}
        whitelist = feed.whitelist_for(entity_name, landed.client_id)
        threshold = feed.threshold_for(landed.client_id)
        floor = self._watermark_floor(feed, entity_name, landed.client_id)
        task = (
            self.progress.add_task(f"{feed.feed}/{entity_name}/{landed.label}", total=None) if self.progress else None
        )
        # Names this file teaches go with its promotion (FileState.name_tokens).
        self.names.pending = state.name_tokens
        try:
            with open_file(landed) as handle:
                # The client's own header names and positions (`clients.<c>.columns`) are the reader's concern.
                reader = FileReader(
                    handle,
                    feed.format_for(landed.client_id),
                    feed.entity_for(entity_name, landed.client_id),
                    describer=self.describer,
                )
                state.reported_bad = 0
                # The batches are read, filtered and validated in a thread of their own, a few ahead,
                # while this one scans, redacts and tokenises: both are mostly Arrow kernels, which
                # release the GIL, and one thread doing both kept the loader on one core. The next
                # batches' identifiers are being hashed meanwhile too (without that lookahead this
                # thread waited ~1.8 s per 1M member rows for the tokens it had just asked for).
                checked_batches = self._checked_batches(entity, reader, ctx, whitelist, floor, task)
                for checked in run_ahead(checked_batches, depth=CHECKED_AHEAD, name="ingest-checks"):
                    load.rows_read += checked.read
                    load.rows_filtered += checked.filtered
                    state.empty_rows += checked.empty
                    state.content_date = _combine_dates(entity, state.content_date, checked.content_date)
                    yield from self._outputs(entity, reader, checked, ctx, state, stage_names)
                if len(reader.bad_rows) > state.reported_bad:
                    bad = reader.bad_rows[state.reported_bad :]
                    yield stage_names["_quarantine"], self._bad_rows_table(entity, ctx, bad, load, state)
        except FileProblem as problem:
            # The file as a whole cannot be taken in: nothing of it is loaded; it stays in the landing zone.
            load.rows_read = load.rows_loaded = load.rows_quarantined = load.rows_filtered = 0
            state.reason_counts = {}
            load.status = "held"
            load.reason = f"{problem.code}: {problem}"
            state.held = True
            state.unreadable = True
            state.drift = problem.drift or None
        else:
            if state.content_date is not None:
                # Per-file lineage is written by the promotion, after every row is read.
                state.lineage["_file_date"] = state.content_date
            if state.empty_rows and load.reason is None:
                # Not an error, but 3,311 rows of nothing once hid a client's broken export: said, not silent.
                load.reason = f"empty_row: {state.empty_rows} rows without any value filtered"
            ratio = load.invalid_ratio
            if ratio is not None and ratio > threshold:
                state.held = True
                load.status = "held"
                load.reason = f"invalid_ratio: {ratio:.1%} of rows invalid, above the {threshold:.0%} threshold"
                # Every row goes to quarantine (promote moves the valid ones there too).
                state.reason_counts["file_held:invalid_ratio"] = load.rows_loaded
                load.rows_quarantined += load.rows_loaded
                load.rows_loaded = 0
        load.seconds = round(time.monotonic() - started, 3)
        if task is not None:
            self.progress.update(
                task,
                completed=load.rows_read,
                total=load.rows_read,
                description=_describe(feed.feed, entity_name, load),
            )

    def _checked_batches(self, entity, reader, ctx, whitelist, floor, task) -> Iterator[_Checked]:
        """The file's batches filtered and validated, their identifiers already being hashed. Runs in a
        thread of its own (`_process_file`): it counts into each batch, never into the file's load."""
        read = 0
        for batch in reader.batches():
            n = batch.num_rows
            read += n
            filtered = 0
            if task is not None:
                self.progress.update(task, completed=read)
            keep = np.ones(n, dtype=bool)
            for condition in whitelist:
                allowed = pc.is_in(clean_text(batch.columns[condition.column]), pa.array(condition.in_))
                keep &= np.asarray(allowed.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
            # A row with no value in any column carries nothing to load or quarantine (a spreadsheet's
            # formatted but unused rows): filtered as `empty_row`, and counted apart for the warning.
            empty = _empty_rows(batch.columns, n)
            keep &= ~empty
            columns, lines, bad_utf8 = batch.columns, batch.lines, batch.bad_utf8
            if not keep.all():
                filtered += int((~keep).sum())
                index = np.flatnonzero(keep)
                take = pa.array(index)
                columns = {k: v.take(take) for k, v in columns.items()}
                lines = lines[index]
                remap = {old: new for new, old in enumerate(index)}
                bad_utf8 = {remap[r]: c for r, c in bad_utf8.items() if r in remap}
            validated = validate(entity, columns, bad_utf8=bad_utf8, ingestion_date=ctx.ingested_at.date())
            if floor is not None:
                stale = _older_than(validated.typed[entity.incremental.column], floor)
                stale &= ~validated.invalid_mask(len(lines))
                if stale.any():
                    filtered += int(stale.sum())
                    index = np.flatnonzero(~stale)
                    take = pa.array(index)
                    validated.text = {k: v.take(take) for k, v in validated.text.items()}
                    validated.typed = {k: v.take(take) for k, v in validated.typed.items()}
                    validated.failures = [(r, m[index]) for r, m in validated.failures]
                    lines = lines[index]
            tokens = start_tokens(entity, validated, ctx)
            yield _Checked(
                validated, lines, tokens, read=n, filtered=filtered, empty=int(empty.sum()),
                content_date=_content_date(entity, validated, len(lines)),
            )  # fmt: skip

    def _outputs(self, entity, reader, checked: _Checked, ctx, state: FileState, stage_names) -> Iterator:
        """A checked batch pseudonymised, as (stage table, rows) pairs, with the rows the reader could
        not split into columns so far."""
        load = state.load
        outputs = pseudonymise(entity, checked.validated, checked.lines, ctx, checked.tokens)
        load.rows_loaded += outputs.loaded
        load.rows_quarantined += outputs.quarantined
        for reason, count in outputs.reason_counts.items():
            state.reason_counts[reason] = state.reason_counts.get(reason, 0) + count
        if outputs.raw is not None:
            state.track_keys(_key_hashes(outputs.raw, entity.business_key))
            state.staged_rows[""] = state.staged_rows.get("", 0) + outputs.raw.num_rows
            yield stage_names[""], outputs.raw
            if self.tee is not None:
                raw, calculated = split_calculated(outputs.raw, entity)
                self.tee.write(state.sha256, ctx.entity, "raw", with_file_lineage(raw, ctx))
                if calculated is not None:
                    self.tee.write(state.sha256, ctx.entity, "calculated", with_file_lineage(calculated, ctx))
        if outputs.quarantine is not None:
            yield stage_names["_quarantine"], outputs.quarantine
        # Rows pyarrow could not split into columns, reported while parsing up to here.
        if len(reader.bad_rows) > state.reported_bad:
            bad = reader.bad_rows[state.reported_bad :]
            state.reported_bad = len(reader.bad_rows)
            yield stage_names["_quarantine"], self._bad_rows_table(entity, ctx, bad, load, state)

    def _bad_rows_table(self, entity, ctx, bad, load, state) -> pa.Table:
        load.rows_read += len(bad)
        load.rows_quarantined += len(bad)
        reasons = [b.reason for b in bad]
        for reason in reasons:
            code = reason.split(":", 1)[0]
            state.reason_counts[code] = state.reason_counts.get(code, 0) + 1
        lines = np.asarray([b.line for b in bad], dtype=np.int64)
        return empty_quarantine(entity, ctx, lines, reasons)

    def _watermark_floor(self, feed: Feed, entity_name: str, client_id: str) -> datetime | None:
        entity = feed.entities[entity_name]
        if entity.incremental.mode != "watermark" or self.options.force:
            return None
        with self.conn.cursor() as cur:
            cur.execute(
                "select high_water from audit.watermarks where feed = %s and entity = %s and client_id = %s",
                (feed.feed, entity_name, client_id),
            )
            row = cur.fetchone()
        if row is None:
            return None
        return row[0] - timedelta(hours=entity.incremental.lookback_hours)


def _content_date(entity, validated: Validated, n: int) -> date | None:
    """The batch's `file_date_from` date: max or min of the column over its valid rows."""
    source = entity.file_date_from
    if source is None or n == 0:
        return None
    values = validated.typed[source.column].filter(pa.array(~validated.invalid_mask(n)))
    if pa.types.is_timestamp(values.type):
        values = values.cast(pa.date32())
    return (pc.max if source.take == "max" else pc.min)(values).as_py()


def _combine_dates(entity, current: date | None, new: date | None) -> date | None:
    if current is None or new is None:
        return current or new
    return max(current, new) if entity.file_date_from.take == "max" else min(current, new)


def _empty_rows(columns: dict[str, pa.Array], n: int) -> np.ndarray:
    """Rows whose every column is empty or blank, as a mask."""
    empty = np.ones(n, dtype=bool)
    for values in columns.values():
        if not empty.any():
            break  # the common case: the first column with values settles every row
        present = pc.is_valid(clean_text(values))
        empty &= ~np.asarray(present.to_numpy(zero_copy_only=False), dtype=bool)
    return empty


def _folder_name(database: str) -> str:
    """A database name as one folder name: itself when plainly safe, else a readable part and a hash."""
    if SAFE_FOLDER.match(database):
        return database
    readable = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_-") else "_" for ch in database)[:40]
    return f"{readable}-{hashlib.sha256(database.encode()).hexdigest()[:12]}"


def _pipeline_name(feed: Feed, entity_name: str) -> str:
    return f"ingest_{feed.feed}__{entity_name}"


def _dlt_schema_name(feed: Feed, entity_name: str) -> str:
    """The name dlt stores the stage pipeline's schema under (its snake case of the pipeline name)."""
    from dlt.common.schema.utils import normalize_schema_name  # dlt after ingest.land set it up

    return normalize_schema_name(_pipeline_name(feed, entity_name))


def _sole_stage_rows(state: FileState, todo: list[FileState]) -> dict[str, int]:
    """Stage tables this file alone filled in this run: promotion may take them over whole."""
    if state.unreadable:
        return {}
    return {
        suffix: rows
        for suffix, rows in state.staged_rows.items()
        if rows and not any(other.staged_rows.get(suffix) for other in todo if other is not state)
    }


def _key_hashes(table: pa.Table, key: list[str]) -> np.ndarray:
    """One 64-bit hash per row over the key columns, column by column in numpy.

    Hashing rows as Python tuples cost more than all validation on a narrow file with a composite key
    (a timestamp column becomes a datetime object per row).
    """
    hashes = np.zeros(table.num_rows, dtype=np.int64)
    for name in key:
        hashes = hashes * np.int64(1_000_003) ^ _column_hashes(table.column(name).combine_chunks())
    return hashes


def _column_hashes(values: pa.Array) -> np.ndarray:
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        as_int = values.cast(pa.int32() if pa.types.is_date32(kind) else pa.int64()).cast(pa.int64())
        return np.asarray(as_int.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    fixed = _fixed_width_hashes(values)
    if fixed is not None:
        return fixed
    return np.fromiter(map(hash, values.to_pylist()), dtype=np.int64, count=len(values))


_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5], dtype=np.uint64)


def _fixed_width_hashes(values: pa.Array) -> np.ndarray | None:
    """Hashes of a string column whose values all have the same length, a multiple of 8 bytes, and no
    nulls (keyed tokens: 64 hex characters), straight from the data buffer: every 8 bytes of a value
    multiplied by an odd constant and summed. `to_pylist` and `hash` cost ~0.25 s per 1M tokens on
    the producer's thread; this takes ~0.08 s."""
    if not pa.types.is_string(values.type) or values.null_count or len(values) == 0:
        return None
    offsets = string_offsets(values)
    width = int(offsets[1] - offsets[0])
    if width == 0 or width % 8 or int(offsets[-1] - offsets[0]) != width * len(values):
        return None
    if not np.all(np.diff(offsets) == width):
        return None
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    words = data.view(np.uint64).reshape(len(values), width // 8)
    hashes = np.zeros(len(values), dtype=np.uint64)
    for column in range(words.shape[1]):
        hashes += words[:, column] * _MIX[column % len(_MIX)]
    return hashes.view(np.int64)


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False
    )


def _older_than(values: pa.Array, floor: datetime) -> np.ndarray:
    if pa.types.is_date(values.type):
        values = values.cast(pa.timestamp("us"))
    older = pc.less(values, pa.scalar(floor.replace(tzinfo=None), pa.timestamp("us")))
    return np.asarray(older.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _transient(exc: BaseException) -> bool:
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (psycopg2.OperationalError, psycopg2.InterfaceError, ConnectionError, TimeoutError)):
            return True
        current = current.__cause__ or current.__context__
    return False


def _one_line(exc: BaseException) -> str:
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    diag = getattr(root, "diag", None)
    if diag is not None and diag.message_primary:
        # The primary message only: a DETAIL line can quote the offending row's values. The primary
        # one quotes a value too ('invalid input syntax for type integer: "..."'): cut there.
        primary = diag.message_primary.split(': "', 1)[0][:200]
        if redact_message(primary) is None:
            return f"{type(root).__name__} (message withheld: it may quote data)"
        return f"{type(root).__name__}: {primary}"
    if isinstance(root, (psycopg2.Error, OSError, ConnectionError, TimeoutError, WarehouseError)):
        # Connection, file-system and our own messages name hosts, paths and causes, never row values.
        text = str(root).strip().splitlines()
        if not text:
            return type(root).__name__
        first = text[0][:200]
        if isinstance(root, OSError):
            first = first.split(": '", 1)[0]  # the path it names ends in a landed file's name
        if redact_message(first) is None:
            return f"{type(root).__name__} (message withheld: it may quote data)"
        return f"{type(root).__name__}: {first}"
    # Anything else (a parser, a compute kernel) may quote the value it choked on.
    return f"{type(root).__name__} (message withheld: it may quote data)"


_WOULD = {"loaded": "would load", "held": "would hold"}


def _describe(feed: str, entity: str, load: audit.FileLoad) -> str:
    counts = (
        f"read {load.rows_read} = loaded {load.rows_loaded} + quarantined {load.rows_quarantined}"
        f" + filtered {load.rows_filtered} + superseded {load.rows_superseded}"
    )
    suffix = f" ({load.reason})" if load.reason else ""
    return f"{feed}/{entity}/{load.file_name}: {load.status}: {counts}{suffix}"


def run_ingest(options: IngestOptions, target: Target | None = None, log: Callable[[str], None] = print):
    return Loader(options, target or Target.discover(), log).run()

"""The generated landing zone end to end: the PII leak test, re-runs, and the kill test."""

from __future__ import annotations

import base64
import binascii
import csv
import gzip
import io
import json
import os
import pickletools
import queue
import random
import re
import signal
import subprocess
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pyarrow.parquet as pq
import pytest

from ingest.config import PiiClass, load_feeds
from ingest.generate.landing import generate_landing_zone
from ingest.landing import list_files
from python_tests.conftest import PROJECT_ROOT, WAREHOUSE_BIN, run_cli
from python_tests.integration.ingest_helpers import TEST_KEY
from warehouse.db.connection import connect
from warehouse.db.target import Target

pytestmark = pytest.mark.integration

WORD = re.compile(r"[A-Za-z0-9]+")
TOKEN = re.compile(r"[A-Za-z0-9.]+")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("generated")
    manifest = root / "pii.jsonl"
    generate_landing_zone(root / "landing", patients=300, seed=7, days=2, pii_manifest=manifest)
    values = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    return root, values


def ingest_cli(landing: Path, database: str, work_dir: Path, *extra: str, parquet: Path | None = None):
    env = {"WAREHOUSE_DB_NAME": database, "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY, "WAREHOUSE_DLT_DIR": str(work_dir)}
    if parquet is not None:
        env["WAREHOUSE_PARQUET_OUTPUT"] = str(parquet)
    return run_cli("ingest", "--landing", str(landing), *extra, env=env, timeout=600)


def dump_database(target: Target, database: str) -> str:
    """Every value of every table in every non-system schema, as text."""
    conn = connect(target.admin(database))
    parts = []
    with conn.cursor() as cur:
        cur.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema not in ('pg_catalog', 'information_schema') and table_type = 'BASE TABLE'"
        )
        for schema, table in cur.fetchall():
            cur.execute(f'select t::text from "{schema}"."{table}" t')
            parts.extend(r[0] for r in cur.fetchall())
    conn.close()
    return "\n".join(parts)


LOG_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[\d+\] role=\S* db=(?P<db>\S*) ")
LOG_MESSAGE = re.compile(r"\b(ERROR|FATAL|WARNING|DETAIL|HINT|CONTEXT|STATEMENT):\s+(.*)$")


def server_log_messages(path: Path, offset: int, database: str) -> str:
    """What the server logged during the test about `database` (or no database: background workers),
    minus the line prefix, keeping the messages where a data value could surface: errors, their
    details and statements, with the continuation lines of a multi-line statement.

    Other databases are left out: `make test` runs two workers, and the other worker's tests load
    generated landing zones of their own (often the same people) into databases of their own, which
    this test's loader never touched."""
    with path.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode("utf-8", errors="replace")
    kept, keeping = [], False
    for line in text.splitlines():
        entry = LOG_ENTRY.match(line)
        if entry is None:
            if keeping:
                kept.append(line)  # the next line of the entry before (a statement's SQL)
            continue
        message = LOG_MESSAGE.search(line)
        keeping = bool(message) and entry.group("db") in ("", database)
        if keeping:
            kept.append(message.group(2))
    return "\n".join(kept)


LOG_MARKER = "planted-log-scan-marker"


def _plant_a_logged_error(target: Target, database: str) -> str:
    """An error in `database` whose message quotes a value, the way a data value could reach the log
    (the server never logs statements, log_min_error_statement = panic, nor errors, log_min_messages =
    log). Returns its SQLSTATE: the client is where a failure is diagnosed."""
    import psycopg2.errors

    conn = connect(target.admin(database))
    try:
        with conn.cursor() as cur:
            cur.execute(f"select '{LOG_MARKER}'::integer")
    except psycopg2.errors.InvalidTextRepresentation as exc:
        assert LOG_MARKER in exc.diag.message_primary
        return exc.pgcode
    finally:
        conn.close()
    raise AssertionError("the planted error did not fail")


def dump_folder(folder: Path) -> str:
    parts = []
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix == ".parquet":
            # Compressed on disk: read, don't grep. Values as a reader of the file sees them: Python's
            # repr of a timestamp prints its microseconds as a bare number (..., 27, 15296, ...),
            # which about one run in 30 took for one of the ~340 generated ZIP codes (~100 file stamps).
            parts.append(json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False))
        elif path.is_file():
            data = path.read_bytes()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            text = pickle_text(data)
            parts.append(text if text is not None else data.decode("utf-8", errors="replace"))
    return "\n".join(parts)


def pickle_text(data: bytes) -> str | None:
    """The strings a pickle holds, one a line, or None when `data` is no pickle. dlt keeps its last
    run's trace as a pickle; read as text, its binary integers are letters by chance (a timestamp's
    `J` opcode and microseconds spelled " Joe", a generated first name). Walking the opcodes reads
    every string the pickle holds, and no bytes that are not one, without unpickling anything."""
    if data[:1] != b"\x80":  # protocol 2 and later open with PROTO
        return None
    strings = []
    try:
        for _opcode, arg, _pos in pickletools.genops(data):
            if isinstance(arg, str):
                strings.append(arg)
            elif isinstance(arg, bytes | bytearray):
                strings.append(bytes(arg).decode("utf-8", errors="replace"))
    except ValueError:
        return None
    return "\n".join(strings)


# A birth date, a name or a ZIP code can also be an innocent value of another column: an onset date
# equal to someone's birthday, a unit "stone" equal to a surname. Such a value proves nothing when
# the input holds it as a whole cell of a column not declared PII. Emails, phones and national ids
# are never excused.
EXCUSABLE_KINDS = ("birth", "dob", "date", "name", "zip")


def innocent_values(landing: Path) -> set[str]:
    """Whole cell values of non-PII columns in the landing zone, and (lowercased) the words in them."""
    feeds = load_feeds()
    values: set[str] = set()
    for feed in feeds.values():
        for landed in list_files(feed, str(landing)):
            entity = feed.entities[landed.entity]
            plain = {c.source for c in entity.columns if c.pii is PiiClass.none}
            text = Path(landed.url.removeprefix("file://")).read_bytes().decode(feed.format.encoding, "replace")
            if feed.format.type == "ndjson":
                for line in text.splitlines():
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    values.update(str(v) for k, v in record.items() if k in plain and v is not None)
                continue
            reader = csv.DictReader(io.StringIO(text), delimiter=feed.format.effective_delimiter)
            for record in reader:
                values.update(v.strip() for k, v in record.items() if k in plain and isinstance(v, str))
    # Dates are stored ISO whatever their input form (FDA writes 20030617, Synthea 2020-08-31T06:20:52Z).
    values |= {f"{v[:4]}-{v[4:6]}-{v[6:8]}" for v in values if re.fullmatch(r"\d{8}", v)}
    values |= {v[:10] for v in values if re.match(r"\d{4}-\d{2}-\d{2}T", v)}
    # "white" (race) or "Every day smoker" excuse the surnames White and Day.
    words = {w.lower() for value in values for w in WORD.findall(value)}
    return values | words


# dlt writes its pipeline state as zlib-compressed base64 and its version hashes as base64 (in the
# Parquet output's `_dlt_*` folders, in `raw._dlt_*` tables, in its working folder). Random base64 is
# full of short letter runs: scanned as they are, ~1 run in 80 "found" a name by chance.
ENCODED = re.compile(r"[A-Za-z0-9+/]{20,}={0,2}")


def decoded(text: str) -> str:
    """`text` with dlt's encoded blobs made readable: compressed state decompressed (so what it holds
    is still scanned), base64 SHA-256 hashes replaced by a marker. Anything else is left as it is."""

    def swap(match: re.Match) -> str:
        blob = match.group(0)
        try:
            raw = base64.b64decode(blob, validate=True)
        except (binascii.Error, ValueError):
            return blob
        if raw[:1] == b"\x78":  # a zlib stream
            try:
                return zlib.decompress(raw).decode("utf-8", "replace")
            except zlib.error:
                return blob
        if len(raw) == 32 and blob.endswith("="):
            return "<hash>"
        return blob

    return DLT_ID.sub(_row_id, ENCODED.sub(swap, text))


# dlt's `_dlt_id` (in its state rows and files) is 10 random bytes as 14 base64 characters, which
# '+' and '/' split into short letter runs ("vHV/NZ6UbK9/OA"): about one run in 60 spelled a
# three- or four-letter name. Ten bytes leave the last character's low four bits zero (A, Q, g, w).
DLT_ID = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{13}[AQgw](?![A-Za-z0-9+/=])")


def _row_id(match: re.Match) -> str:
    """A dlt row id becomes a marker; a 14-letter word (no digit, '+' or '/') stays text."""
    return "<id>" if re.search(r"[0-9+/]", match.group(0)) else match.group(0)


def leaks(text: str, values: list[dict], innocent: set[str] = frozenset()) -> list[str]:
    """PII values found in `text`. Single-word values must match a whole word (a ZIP code may be a
    substring of a hex token by chance); values with separators are matched as substrings."""
    text = decoded(text)
    # Tokens keep inner dots so ZIP 78253 does not match the amount 78253.10; a sentence's full stop is stripped.
    words = {w.strip(".").lower() for w in TOKEN.findall(text)}
    found = []
    for item in values:
        value = str(item["value"]).strip()
        if len(value) < 3:
            continue
        excused = value in innocent or (WORD.fullmatch(value) and value.lower() in innocent)
        if excused and any(k in item["kind"] for k in EXCUSABLE_KINDS):
            continue
        if WORD.fullmatch(value):
            if value.lower() in words:
                found.append(_where(item["kind"], text, re.search(rf"\b{re.escape(value)}\b", text, re.IGNORECASE)))
        elif value in text:
            found.append(_where(item["kind"], text, re.search(re.escape(value), text)))
    return found


def _where(kind: str, text: str, match: re.Match | None) -> str:
    """The kind of a leaked value and the text around it: a failure must say where to look (the
    values are synthetic; a leak seen once and not reproduced cannot be fixed from a kind alone)."""
    if match is None:
        return kind
    return f"{kind} in ...{text[max(0, match.start() - 160) : match.end() + 40]!r}..."


def test_the_leak_scan_reads_parquet_values_as_values(tmp_path):
    """A timestamp whose microseconds equal a ZIP code is no leak; the ZIP code in a text column is."""
    import datetime as dt

    import pyarrow as pa

    zip_code = [{"kind": "zip", "value": "15296"}]
    stamp = dt.datetime(2026, 12, 6, 2, 53, 27, 15296, tzinfo=dt.UTC)
    pq.write_table(pa.table({"_ingested_at": [stamp], "note": ["no address here"]}), tmp_path / "a.parquet")
    assert leaks(dump_folder(tmp_path), zip_code) == []
    pq.write_table(pa.table({"_ingested_at": [stamp], "note": ["lives in 15296"]}), tmp_path / "b.parquet")
    assert [hit.split(" ")[0] for hit in leaks(dump_folder(tmp_path), zip_code)] == ["zip"]


def test_the_leak_scan_reads_pickles_by_their_strings(tmp_path):
    """dlt's pickled trace: a binary integer spelling a name is no leak; a pickled string holding it is."""
    import pickle

    person = [{"kind": "first_name", "value": "Joe"}]
    # 615791 is b"oe\t\x00" little-endian: after the BININT opcode `J` the bytes read " Joe\t".
    numbers = pickle.dumps([32, 615791], protocol=4)
    assert b" Joe\t" in numbers
    assert leaks(numbers.decode("utf-8", errors="replace"), person), "the raw bytes must look like a hit"
    (tmp_path / "trace.pickle").write_bytes(numbers)
    assert leaks(dump_folder(tmp_path), person) == []
    (tmp_path / "trace.pickle").write_bytes(pickle.dumps({"error": "row of Joe failed"}, protocol=4))
    assert [hit.split(" ")[0] for hit in leaks(dump_folder(tmp_path), person)] == ["first_name"]


def test_the_leak_scan_reads_dlt_state_and_ignores_its_hashes():
    """The scan's decoding neither hides a value inside dlt's compressed state nor trips on a hash."""
    person = [{"kind": "last_name", "value": "Okafor"}]
    state = base64.b64encode(zlib.compress(b'{"note": "called Okafor back"}')).decode()
    assert leaks(f'{{"state":"{state}"}}', person) == [
        'last_name in ...\'{"state":"{"note": "called Okafor back"}"}\'...'
    ]
    # A base64 SHA-256 hash whose random letters happen to hold the name between separators: read as
    # plain text it is a hit, decoded it is a hash.
    digest = base64.b64encode(b"\xff" * 5 + b"\xfb" + b"\x00" * 26).decode()
    digest = digest[:8] + "/Okafor+" + digest[16:]
    assert "okafor" in {w.lower() for w in TOKEN.findall(digest)}
    assert len(base64.b64decode(digest)) == 32
    assert leaks(f'{{"version_hash":"{digest}"}}', person) == []
    # dlt's row ids are random base64 too: "Vhv/NZ6UbK9/OA" spells a name between its separators.
    vhv = [{"kind": "first_name", "value": "Vhv"}]
    assert leaks('{"_dlt_id":"Vhv/NZ6UbK9/OA"}', vhv) == []
    assert leaks('{"_dlt_id":"Vhv/NZ6UbK9/OA", "note": "Vhv called"}', vhv)
    assert decoded("Wordprocessing") == "Wordprocessing"  # 14 letters, no digit, "+" or "/": a word
    hex_token = "a" * 64  # keyed tokens are hex: left alone
    assert decoded(hex_token) == hex_token


def test_pii_leak(generated, target, scratch_database, tmp_path):
    root, values = generated
    database = scratch_database()
    work_dir = tmp_path / "dlt"
    log_path = target.state.pg_log
    log_offset = log_path.stat().st_size if log_path.exists() else 0
    parquet = tmp_path / "pseudonymised"
    planted = _plant_a_logged_error(target, database)
    result = ingest_cli(root / "landing", database, work_dir, parquet=parquet)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "loaded" in result.stdout
    # A clean run logs no warning (one printed on every run is noise an operator learns to skip).
    # dlt's log records also carry the process id, a number that may equal a generated ZIP code.
    assert "[WARNING]" not in result.stderr, result.stderr[-2000:]
    assert list(parquet.rglob("*.parquet")), "the Parquet copy was not written"
    places = {
        "Parquet output": dump_folder(parquet),
        "database": dump_database(target, database),
        "dlt working directory": dump_folder(work_dir),
        "loader output": result.stdout + result.stderr,
        "server log": server_log_messages(log_path, log_offset, database) if not target.external else "",
    }
    # The value the planted error quoted reached its client (SQLSTATE 22P02) but not the server log.
    assert planted == "22P02"
    assert LOG_MARKER not in places["server log"]
    kinds = {v["kind"] for v in values}
    assert {"first_name", "last_name"} <= kinds or "name" in " ".join(kinds), kinds
    innocent = innocent_values(root / "landing")
    for place, text in places.items():
        found = leaks(text, values, innocent)
        assert not found, f"PII found in {place}: {sorted(set(found))} ({len(found)} values)"


def test_second_ingest_of_the_same_landing_zone_loads_nothing(generated, scratch_database, tmp_path):
    root, _ = generated
    database = scratch_database()
    first = ingest_cli(root / "landing", database, tmp_path / "dlt")
    assert first.returncode == 0, first.stderr[-2000:]
    second = ingest_cli(root / "landing", database, tmp_path / "dlt")
    assert second.returncode == 0, second.stderr[-2000:]
    statuses = re.findall(r"^\S+: (loaded|held|unchanged|rejected)\b", second.stderr, flags=re.MULTILINE)
    assert statuses and set(statuses) == {"unchanged"}, statuses
    assert "unchanged" in second.stdout


def table_checksums(target: Target, database: str) -> dict[str, object]:
    """What a set of runs left behind: a checksum of every raw and quarantine table, and the audit
    history normalised (sets and multisets of rows without the volatile columns). Killed runs leave
    their own trace in the history (runs marked failed, `unchanged` entries of the files an earlier
    attempt committed); that trace is left out, and everything else must be as one clean run left it."""
    # Columns that say when or in which attempt something was recorded, not what: timestamps, ids drawn
    # from sequences, durations, who ran the command. run_id is derived from the input, but it is left
    # out too: what the runs left behind must not depend on how they were labelled.
    volatile = {"id", "event_id", "entry_id", "run_row", "run_id", "seconds", "os_user", "command_line", "db_role"}
    conn = connect(target.admin(database))
    out: dict[str, object] = {}
    with conn.cursor() as cur:

        def rows(statement: str) -> list[tuple]:
            cur.execute(statement)
            # Arrays (schema drift's columns) come back as lists: tuples, to be counted.
            return [tuple(tuple(v) if isinstance(v, list) else v for v in r) for r in cur.fetchall()]

        cur.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw', 'quarantine') and table_name not like 'stage\\_\\_%%' "
            "and table_name not like '\\_dlt%%'"
        )
        for schema, table in sorted(cur.fetchall()):
            # _ingested_at is the wall clock of the run that wrote the row, _run_id the label of that run
            # (each run its own); everything else must match.
            cur.execute(
                f"select count(*), coalesce(md5(string_agg(r, '|' order by r)), '') from ("
                "select (to_jsonb(t) - '_ingested_at' - '_run_id')::text as r "
                f'from "{schema}"."{table}" t) x'
            )
            out[f"{schema}.{table}"] = cur.fetchone()
        # A name token lost between a file's commit and the tokens' save is never learnt again: the
        # file is `unchanged` from then on, and free text naming that person is no longer redacted.
        out["audit.name_tokens"] = {r[0] for r in rows("select token from audit.name_tokens")}
        # The current entry per file version (a table, or a view over append-only entries).
        out["audit.file_manifest"] = set(
            rows(
                "select feed, entity, file_sha256, file_name, client_id, file_date, file_seq, size_bytes, status, "
                "reason, config_sha256 from audit.file_manifest"
            )
        )
        # Each file's outcome and counts, once: recorded with its commit; a file taken in twice (or
        # counted differently after a kill) shows up here. Later attempts only add `unchanged` rows,
        # and `rejected` names are recorded by every attempt.
        out["audit.file_loads"] = Counter(
            rows(
                "select feed, entity, client_id, file_name, file_sha256, status, rows_read, rows_loaded, "
                "rows_quarantined, rows_filtered, round(invalid_ratio::numeric, 9), reason from audit.file_loads "
                "where status in ('loaded', 'held')"
            )
        )
        out["audit.file_quarantine_reasons"] = Counter(
            rows(
                "select feed, entity, client_id, file_name, file_sha256, reason, rows "
                "from audit.file_quarantine_reasons"
            )
        )
        out["audit.schema_drift"] = Counter(
            rows(
                "select feed, entity, client_id, file_name, file_sha256, missing_columns, extra_columns "
                "from audit.schema_drift"
            )
        )
        out["audit.watermarks"] = set(
            rows("select feed, entity, client_id, column_name, high_water from audit.watermarks")
        )
        # Killed runs are marked failed by the run after them; the one that finished must have seen
        # the same files and rejected the same names, and loaded, held or found unchanged the rest.
        # A run left `running`, or two that succeeded, differ from the clean run's one.
        out["audit.ingest_runs"] = [
            r
            for r in rows(
                "select status, files_seen, files_rejected, files_loaded + files_held + files_unchanged, error "
                "from audit.ingest_runs order by started_at, id"
            )
            if r[0] not in ("failed", "abandoned")
        ]
        # Every other relation of the audit schema, as it is now or as it will be: the append-only
        # tables behind the views above, the key registry, tables added later.
        covered = {k.removeprefix("audit.") for k in out if k.startswith("audit.")} | {"ingest_run_events"}
        cur.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'audit' and c.relkind in ('r', 'v', 'm', 'p') order by 1"
        )
        for (name,) in cur.fetchall():
            if name in covered:
                continue
            cur.execute(f'select to_jsonb(t) from audit."{name}" t')
            out[f"audit.{name}"] = Counter(
                json.dumps(
                    {k: v for k, v in r[0].items() if k not in volatile and not k.endswith("_at")},
                    sort_keys=True,
                )
                for r in cur.fetchall()
            )
    conn.close()
    return out


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """A killed run's stderr, line by line, to the test waiting for its commits (never blocking it)."""
    for line in stream:
        lines.put(line)
    lines.put(None)


def test_kill_at_random_moments_then_rerun_equals_one_clean_run(
    target: Target, scratch_database: Callable[[], str], tmp_path: Path
) -> None:
    # Big enough that twenty-odd interrupted runs, each resuming the last, cannot finish the work.
    landing = tmp_path / "landing"
    generate_landing_zone(landing, patients=1500, seed=11, days=2)
    # A file held for schema drift and a file name refused, so that their audit rows are compared too.
    visits = landing / "patient_visits" / "visits"
    lines = (visits / "acme_2026-11-18_1.csv").read_text().splitlines()
    drifted = [lines[0] + ",courier"] + [line + ",x" for line in lines[1:]]
    (visits / "drift_2026-11-18_1.csv").write_text("\n".join(drifted) + "\n")
    (visits / "not-a-delivery.csv").write_text(lines[0] + "\n")
    clean_db = scratch_database()
    clean = ingest_cli(landing, clean_db, tmp_path / "dlt-clean")
    assert clean.returncode == 0, clean.stderr[-2000:]
    expected = table_checksums(target, clean_db)
    # The comparison is not vacuous: every part of the audit history it compares holds rows.
    for name in ("name_tokens", "file_manifest", "file_loads", "file_quarantine_reasons", "schema_drift",
                 "watermarks", "ingest_runs"):  # fmt: skip
        assert expected[f"audit.{name}"], f"the clean run left audit.{name} empty"
    assert any(s == "held" for *_, s, _r, _c in expected["audit.file_manifest"]), "no file was held"

    killed_db = scratch_database()
    rng = random.Random(20261122)
    env = {
        **os.environ,
        "WAREHOUSE_DB_NAME": killed_db,
        "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY,
        "WAREHOUSE_DLT_DIR": str(tmp_path / "dlt-killed"),
    }
    kills = after_a_commit = 0
    committed = re.compile(r"^[^:\s]+: (loaded|held)\b", re.MULTILINE)  # the line after a file's commit
    attempts = 22
    for _ in range(attempts):
        proc = subprocess.Popen(
            [WAREHOUSE_BIN, "ingest", "--landing", str(landing)],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(proc.stderr, lines), daemon=True).start()
        # Killed right after the n-th file this attempt committed: in the next file's promotion, the
        # name tokens' save after an entity, the next entity's staging. With n = 0, at a moment of
        # start-up, hashing or the first staging (or right after the first commit, if sooner). A
        # moment drawn from the clock alone lands in start-up nearly every time (a resumed run
        # spends its first second or two importing and hashing), and an attempt killed that way
        # may commit a whole entity's files at once. An attempt commits a few files at most, so the
        # attempts cannot finish the ~100 files between them, and every one of them is killed.
        n = rng.randint(0, 2)
        until = time.monotonic() + (rng.uniform(0.3, 2.5) if n == 0 else 60)
        seen = 0
        while time.monotonic() < until:
            try:
                line = lines.get(timeout=max(0.01, until - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            seen += bool(committed.match(line))
            if seen >= max(n, 1):
                break
        time.sleep(rng.uniform(0, 0.05))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
            after_a_commit += seen > 0
        proc.wait()
    assert kills == attempts >= 20, f"only {kills} of {attempts} runs were still going when killed"
    assert after_a_commit >= 10, f"only {after_a_commit} of {kills} kills came after a file's commit"
    final = subprocess.run(
        [WAREHOUSE_BIN, "ingest", "--landing", str(landing)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert final.returncode == 0, final.stderr[-2000:]
    # The attempts left work behind: the run after them resumed, it did not merely find it all done.
    resumed = len(committed.findall(final.stderr))
    assert resumed >= 10, f"the final run committed only {resumed} files: the attempts nearly finished the work"
    got = table_checksums(target, killed_db)
    # Per table, what the killed-and-resumed database lacks and holds extra (a few rows of each).
    differences = []
    for name in sorted(expected.keys() | got.keys()):
        want, have = expected.get(name), got.get(name)
        if want == have:
            continue
        if isinstance(want, set | Counter) and isinstance(have, set | Counter):
            missing, extra = sorted(map(repr, want - have)), sorted(map(repr, have - want))
            differences.append(f"{name}: missing {len(missing)} {missing[:5]}, extra {len(extra)} {extra[:5]}")
        else:
            differences.append(f"{name}: clean run {want!r}, killed and re-run {have!r}")
    assert not differences, f"{kills} kills, then a run: " + "\n".join(differences)

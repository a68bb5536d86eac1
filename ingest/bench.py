"""`warehouse bench ingest --rows N`: the full ingest path against two baselines, from one run on
the same generated file, side by side.

(a) the full path: validation, pseudonymisation, quarantine, dlt stage load, atomic promotion;
(b) a bare COPY of the same CSV into an unlogged table: the physical limit of this machine;
(c) pandas read_csv + to_sql: what a simple script would do.

Each path runs in a child process of its own, so its peak memory (max RSS) is its alone.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from warehouse.db.connection import connect
from warehouse.db.target import Target

FEED = "bench"
MEMBERS_YAML = """
feed: bench
description: Benchmark feed, a member roster with every PII class.
entities:
  members:
    business_key: [member_id]
    event_date: start_date
    columns:
      - {source: member_id, name: member_id, required: true, pii: identifier}
      - {source: first_name, name: first_name, pii: direct}
      - {source: last_name, name: last_name, pii: direct}
      - {source: date_of_birth, name: date_of_birth, type: date, pii: birth_date}
      - {source: zip, name: zip, pii: zip}
      - {source: phone, name: phone, pii: direct}
      - {source: email, name: email, pii: direct}
      - {source: national_id, name: national_id, pii: identifier}
      - {source: plan, name: plan, allowed: [bronze, silver, gold, platinum], pii: none}
      - {source: start_date, name: start_date, type: date, pii: none}
      - {source: premium, name: premium, type: decimal, min: 0, pii: none}
      - {source: note, name: note, pii: free_text}
"""
MEMBERS_HEADER = [
    "member_id", "first_name", "last_name", "date_of_birth", "zip", "phone", "email", "national_id",
    "plan", "start_date", "premium", "note",
]  # fmt: skip
# The warehouse's volume feed, shaped like `vitals` (per-minute monitor readings), as CSV so that the
# bare COPY baseline reads the same file: narrow rows, one identifier to tokenise, range checks.
VITALS_YAML = """
feed: bench
description: Benchmark feed, per-minute bedside-monitor readings like the vitals feed.
entities:
  readings:
    business_key: [patient_id, recorded_at]
    event_date: recorded_at
    columns:
      - {source: patient_id, name: patient_id, required: true, pii: identifier}
      - {source: recorded_at, name: recorded_at, type: timestamp, format: "%Y-%m-%dT%H:%M:%SZ", required: true,
         pii: none}
      - {source: heart_rate, name: heart_rate, type: integer, min: 20, max: 250, pii: none}
      - {source: spo2, name: spo2, type: integer, min: 50, max: 100, pii: none}
      - {source: respiratory_rate, name: respiratory_rate, type: integer, min: 4, max: 60, pii: none}
      - {source: device_id, name: device_id, pii: none}
"""
VITALS_HEADER = ["patient_id", "recorded_at", "heart_rate", "spo2", "respiratory_rate", "device_id"]
READINGS_PER_PATIENT = 60  # one monitored hour a day, as the vitals generator writes
FIRST = ["Anna", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Liam"]
LAST = ["Smith", "Garcia", "Nguyen", "Okafor", "Johansson", "Khan", "Rossi", "Dubois", "Tanaka", "Silva"]
NOTES = ["", "", "", "renewal", "moved plan", "paper statements", "called about claim"]


def write_bench_file(path: Path, rows: int, seed: int = 1) -> None:
    """A member file with every PII class; streamed, so any size fits in flat memory."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    start = date(2020, 1, 1)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MEMBERS_HEADER)
        for i in range(rows):
            born = date(1930, 1, 1) + timedelta(days=rng.randrange(33_000))
            first, last = rng.choice(FIRST), rng.choice(LAST)
            writer.writerow(
                [
                    f"M{i:09d}", first, last, born.isoformat(), f"{rng.randrange(1000, 99999):05d}",
                    f"555-{rng.randrange(200, 999)}-{rng.randrange(10000):04d}",
                    f"{first}.{last}{i}@example.org".lower(),
                    f"{rng.randrange(100, 665)}-{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}",
                    rng.choice(("bronze", "silver", "gold", "platinum")),
                    (start + timedelta(days=rng.randrange(2000))).isoformat(), f"{rng.uniform(50, 900):.2f}",
                    rng.choice(NOTES),
                ]
            )  # fmt: skip


def write_vitals_file(path: Path, rows: int, seed: int = 1) -> None:
    """Readings of one day, an hour a patient, ~1 in 2,000 out of range (quarantined); streamed."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(VITALS_HEADER)
        for i in range(rows):
            patient, minute = divmod(i, READINGS_PER_PATIENT)
            minute += patient % (24 * 60 - READINGS_PER_PATIENT)
            heart = rng.randrange(55, 110) if rng.random() > 0.0005 else 0
            writer.writerow(
                [
                    f"MRN{patient:08d}", f"2026-11-20T{minute // 60:02d}:{minute % 60:02d}:00Z", heart,
                    rng.randrange(92, 101), rng.randrange(10, 24), f"dev-{patient % 5000:05d}",
                ]
            )  # fmt: skip


@dataclass(frozen=True)
class BenchFeed:
    yaml: str
    entity: str
    header: list[str]
    write: Callable[[Path, int], None]


FEEDS = {
    "members": BenchFeed(MEMBERS_YAML, "members", MEMBERS_HEADER, write_bench_file),
    "vitals": BenchFeed(VITALS_YAML, "readings", VITALS_HEADER, write_vitals_file),
}


@dataclass
class Result:
    path: str
    seconds: float
    peak_mb: float
    rows: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _child(path: str, csv_path: Path, workdir: Path, database: str, header: list[str]) -> dict:
    """Run one path in this (child) process; report its time and peak RSS."""
    import resource

    target = Target.discover()
    started = time.perf_counter()
    if path == "full":
        from ingest.loader import IngestOptions, run_ingest

        os.environ.setdefault("WAREHOUSE_PSEUDONYM_KEY", "benchmark-key-not-a-secret-0123456789")
        options = IngestOptions(
            feeds_dir=workdir / "feeds", landing_root=str(workdir / "landing"), work_dir=workdir / "dlt"
        )
        report = run_ingest(options, target, log=lambda _m: None)
        loaded = sum(f.rows_loaded + f.rows_quarantined for f in report.files)
    elif path == "copy":
        conn = connect(target.role("loader", database))
        with conn.cursor() as cur:
            columns = ", ".join(f"{c} text" for c in header)
            cur.execute(f"drop table if exists raw.bench_copy; create unlogged table raw.bench_copy ({columns})")
            with csv_path.open("rb") as handle:
                cur.copy_expert("copy raw.bench_copy from stdin with (format csv, header true)", handle, size=1 << 20)
            cur.execute("select count(*) from raw.bench_copy")
            loaded = cur.fetchone()[0]
            cur.execute("drop table raw.bench_copy")
        conn.close()
    else:
        import pandas as pd
        import sqlalchemy

        info = target.role("loader", database)
        engine = sqlalchemy.create_engine(info.url().replace("postgresql://", "postgresql+psycopg2://", 1))
        frame = pd.read_csv(csv_path)
        frame.to_sql("bench_pandas", engine, schema="raw", if_exists="replace", index=False, chunksize=10_000,
                     method="multi")  # fmt: skip
        loaded = len(frame)
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("drop table raw.bench_pandas"))
        engine.dispose()
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"path": path, "seconds": seconds, "peak_mb": peak_kb / 1024, "rows": loaded}


def run_child_from_argv() -> None:
    path, csv_path, workdir, database, feed = sys.argv[1:6]
    os.environ["WAREHOUSE_DB_NAME"] = database
    print(json.dumps(_child(path, Path(csv_path), Path(workdir), database, FEEDS[feed].header)))


def bench_ingest(
    rows: int, *, feed: str = "members", keep_database: bool = False, pandas: bool = True, log=print
) -> list[Result]:
    bench_feed = FEEDS[feed]
    target = Target.discover()
    database = f"bench_{secrets.token_hex(3)}"
    target.init([database], log=lambda _m: None)
    results: list[Result] = []
    try:
        with tempfile.TemporaryDirectory(prefix="warehouse-bench-") as tmp:
            workdir = Path(tmp)
            (workdir / "feeds").mkdir()
            (workdir / "feeds" / f"{FEED}.yml").write_text(bench_feed.yaml)
            csv_path = workdir / "landing" / FEED / bench_feed.entity / "bench_2026-11-20.csv"
            log(f"generating {rows:,} {feed} rows ...")
            bench_feed.write(csv_path, rows)
            size_mb = csv_path.stat().st_size / 1e6
            for path in ("full", "copy", "pandas") if pandas else ("full", "copy"):
                log(f"running ({'abc'[('full', 'copy', 'pandas').index(path)]}) {path} ...")
                out = subprocess.run(
                    [sys.executable, "-c", "from ingest.bench import run_child_from_argv; run_child_from_argv()",
                     path, str(csv_path), str(workdir), database, feed],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                if out.returncode != 0:
                    tail = out.stderr.strip().splitlines()[-1:] or ["no output"]
                    raise RuntimeError(f"benchmark path {path} failed: {tail[0]}")
                data = json.loads(out.stdout.strip().splitlines()[-1])
                results.append(Result(data["path"], data["seconds"], data["peak_mb"], data["rows"]))
            log(f"file: {size_mb:.1f} MB, {rows:,} rows")
    finally:
        if not keep_database:
            target.drop(database)
    return results


def _cpu_model() -> str:
    """The CPU's name: this VM has come up on different hardware from one session to the next
    (Intel Xeon, AMD EPYC), and the loader's rate moved with it by a third."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _hashing() -> str:
    from ingest.pii import tokens

    return tokens.HASHING


def format_results(results: list[Result], rows: int, feed: str = "members") -> str:
    by = {r.path: r for r in results}
    lines = [
        f"machine: {_cpu_model()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, tokens hashed in {_hashing()}, feed={feed}, rows={rows:,}",
        f"{'path':<44}{'seconds':>10}{'rows/s':>12}{'peak MB':>10}",
    ]
    labels = {
        "full": "(a) full ingest (validate, pseudonymise, dlt)",
        "copy": "(b) bare COPY into an unlogged table",
        "pandas": "(c) pandas read_csv + to_sql",
    }
    for key in ("full", "copy", "pandas"):
        if key in by:
            r = by[key]
            lines.append(f"{labels[key]:<44}{r.seconds:>10.2f}{r.rate:>12,.0f}{r.peak_mb:>10.0f}")
        else:
            lines.append(f"{labels[key]:<44}{'skipped (--no-pandas)':>32}")
    a, b = by["full"], by["copy"]
    ratios = f"ratio (a)/(b) rows/s: {a.rate / b.rate:.2f}"
    if "pandas" in by:
        ratios += f"   ratio (a)/(c) rows/s: {a.rate / by['pandas'].rate:.2f}"
    lines.append(ratios)
    return "\n".join(lines)

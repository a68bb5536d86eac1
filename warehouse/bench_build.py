"""`warehouse bench build --patients N [--patients M ...]`: a full `dbt build` against an incremental
one after a small share of the patients changed, from one run, at several sizes side by side.

Per size, in a throwaway database that is dropped at the end (also on failure or Ctrl-C):

1. generate a landing zone of N patients, ingest it (a child process, like `bench ingest`: its time
   is reported apart, never counted in the build times), `dbt parse`, then a full `dbt build` (timed);
2. write one more day of files that changes about `change_percent` % of the patients (a new weight
   measured at a new encounter, a re-priced visit, a few bedside-monitor readings, a plan change),
   built from rows of the generated files so identifiers and formats are the real ones; ingest it;
3. `dbt build --vars '{test_scope: arrivals}'` again (timed): the incremental run, as a daily run
   builds it (row-level data tests check the rows that arrived since the last build; table-level
   and singular tests still read whole tables; macros/test_scope.sql).

The question the figures answer: does the incremental run cost grow with the change or with the
total? Rows affected by the incremental models and each run's slowest nodes come from dbt's own
`run_results.json`, so the reader sees where the time goes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from warehouse.db.connection import connect
from warehouse.db.target import Target
from warehouse.dbt_runner import dbt_env, dbt_executable, local_packages_installed
from warehouse.errors import WarehouseError
from warehouse.paths import project_root

Log = Callable[[str], None]

INCREMENTAL_MODELS: tuple[str, ...] = (
    "patient_crosswalk",
    "observation",
    "encounter",
    "visit",
    "member",
    "vital_sign_reading",
    "patient_attribute_candidate",
    "patient_attribute_resolution",
    "patient",
    "patient_bmi_latest",
    "daily_visit_metrics",
    "vitals_daily_features",
)
SLOWEST = 5
INCREMENTAL_VARS = "{test_scope: arrivals}"
KINDS = ("model", "snapshot", "seed", "test", "unit_test")
FILE_NAME = re.compile(r"^(?P<client>[a-z0-9]+)_(?P<date>\d{4}-\d{2}-\d{2})(?:_(?P<seq>\d+))?\.(?:csv|ndjson)$")
MRN = re.compile(r"^MRN\d{8}$")
SSN = re.compile(r"^\d{3}-\d{2}-\d{4}$")
STAMP = "%Y-%m-%dT%H:%M:%SZ"
WEIGHT_CODES = {"29463-7", "WT"}
# A weight change well above the one-decimal rounding of patient_bmi_latest, in the row's own unit.
WEIGHT_DELTA = {"kg": 1.5, "[lb_av]": 3.3}
NEXT_PLAN = {"bronze": "silver", "silver": "gold", "gold": "platinum", "platinum": "gold"}
VISIT_TYPES = {"checkup", "follow_up", "urgent", "specialist"}
NEW_READINGS = 10  # minutes of bedside-monitor readings per changed monitored patient


# ---- the change day: ~P % of patients change -------------------------------------------------------


def chosen(key: str, percent: float) -> bool:
    """Deterministic, uniform choice of ~percent % of keys, decided per key so files can be streamed."""
    bucket = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") % 1_000_000
    return bucket < percent * 10_000


@dataclass
class ChangeSummary:
    day: date
    patients: set[str] = field(default_factory=set)  # MRNs that received at least one change
    rows: dict[str, int] = field(default_factory=dict)  # "feed/entity" -> rows written

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _landed(landing: Path, feed: str, entity: str) -> Iterator[tuple[str, Path]]:
    """(client, path) of an entity's files in delivery order (date, then sequence number)."""
    folder = landing / feed / entity
    found = []
    for path in folder.iterdir() if folder.is_dir() else ():
        match = FILE_NAME.match(path.name)
        if match:
            found.append((match["date"], int(match["seq"] or 0), match["client"], path))
    for _day, _seq, client, path in sorted(found):
        yield client, path


def _csv_rows(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        yield from reader


def _header_and_line_end(path: Path) -> tuple[list[str], str]:
    """The header and line ending of a generated file, so the change files match it byte for byte."""
    with path.open("rb") as handle:
        first = handle.readline()
    text = first.decode("utf-8")
    return next(csv.reader([text])), "\r\n" if text.endswith("\r\n") else "\n"


def _is_stamp(value: str) -> bool:
    try:
        datetime.strptime(value, STAMP)
    except ValueError:
        return False
    return True


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def last_landed_day(landing: Path) -> date:
    days = [
        date.fromisoformat(match["date"])
        for path in landing.rglob("*")
        if path.is_file() and (match := FILE_NAME.match(path.name))
    ]
    if not days:
        raise WarehouseError(f"no landed files in {landing}")
    return max(days)


def _write_csv(path: Path, header: list[str], line_end: str, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator=line_end)
        writer.writerow(header)
        writer.writerows(rows)


def _by_client(rows: dict[tuple[str, str], list[str]]) -> dict[str, list[list[str]]]:
    grouped: dict[str, list[list[str]]] = {}
    for (client, _key), row in sorted(rows.items()):
        grouped.setdefault(client, []).append(row)
    return grouped


def _format(landing: Path, feed: str, entity: str) -> tuple[list[str], str]:
    """Header and line ending of the entity's first generated file."""
    return _header_and_line_end(next(_landed(landing, feed, entity))[1])


def _latest_per_patient(
    landing: Path, feed: str, entity: str, percent: float, valid: Callable[[list[str]], bool], stamp_column: int
) -> dict[tuple[str, str], list[str]]:
    """Per client and chosen patient (MRN in column 1), the valid row with the latest stamp_column.

    Bad rows of the generator (text in numbers, odd dates, empty keys ...) are skipped by `valid`: a
    change row built from one would be quarantined and change nobody."""
    latest: dict[tuple[str, str], list[str]] = {}
    for client, path in _landed(landing, feed, entity):
        for row in _csv_rows(path):
            if len(row) < 2 or not MRN.match(row[1]) or not chosen(row[1], percent) or not valid(row):
                continue
            kept = latest.get((client, row[1]))
            if kept is None or row[stamp_column] >= kept[stamp_column]:
                latest[(client, row[1])] = row
    return latest


def _valid_weight(row: list[str]) -> bool:
    # observation_id, patient_id, encounter_id, observed_at, code_system, code, value, unit
    value = _number(row[6]) if len(row) == 8 else None
    return (
        value is not None
        and 0 < value < 900
        and row[5] in WEIGHT_CODES
        and row[7] in WEIGHT_DELTA
        and row[4] in ("LOINC", "LOCAL")
        and _is_stamp(row[3])
    )


def _valid_visit(row: list[str]) -> bool:
    # visit_id, patient_id, visit_date, visit_type, visit_cost, last_updated
    cost = _number(row[4]) if len(row) == 6 else None
    return (
        bool(row[0])
        and cost is not None
        and cost >= 0
        and row[3] in VISIT_TYPES
        and _is_date(row[2])
        and (_is_stamp(row[5]))
    )


def _weights(landing: Path, percent: float, day: date, summary: ChangeSummary) -> None:
    """A new encounter per chosen patient with a weight, and a new weight observation at it.

    A new encounter rather than an old one, so the observation is not dated days after its encounter."""
    latest = _latest_per_patient(landing, "clinic_emr", "observations", percent, _valid_weight, stamp_column=3)
    if not latest:
        return
    encounters: dict[tuple[str, str], list[str]] = {}
    observations: dict[tuple[str, str], list[str]] = {}
    for n, ((client, mrn), row) in enumerate(sorted(latest.items()), start=1):
        # Ids far above the generator's counters, so they never collide with a generated row.
        encounter_id, observation_id = f"ENC9{n:09d}", f"OBS9{n:011d}"
        stamp = datetime.combine(day, datetime.min.time()) + timedelta(hours=8, minutes=n % 480)
        encounters[(client, mrn)] = [encounter_id, mrn, day.isoformat(), "ambulatory", "S01", "weight check"]
        weight = round(float(row[6]) + WEIGHT_DELTA[row[7]], 1)
        observations[(client, mrn)] = [
            observation_id, mrn, encounter_id, stamp.strftime(STAMP), row[4], row[5], f"{weight}", row[7],
        ]  # fmt: skip
    for entity, rows in (("encounters", encounters), ("observations", observations)):
        header, line_end = _format(landing, "clinic_emr", entity)
        for client, client_rows in _by_client(rows).items():
            _write_csv(landing / "clinic_emr" / entity / f"{client}_{day}.csv", header, line_end, client_rows)
        summary.rows[f"clinic_emr/{entity}"] = len(rows)
    summary.patients.update(mrn for _client, mrn in latest)


def _visits(landing: Path, percent: float, day: date, summary: ChangeSummary) -> None:
    """Each chosen patient's most recently updated visit, re-sent re-priced with a later last_updated."""
    latest = _latest_per_patient(landing, "patient_visits", "visits", percent, _valid_visit, stamp_column=5)
    if not latest:
        return
    header, line_end = _format(landing, "patient_visits", "visits")
    updated: dict[tuple[str, str], list[str]] = {}
    for n, (key, row) in enumerate(sorted(latest.items())):
        # Later than every generated last_updated, so the watermark feed loads it and dbt sees it as new.
        stamp = datetime.combine(day, datetime.min.time()) + timedelta(hours=9, seconds=n % 36_000)
        updated[key] = [*row[:4], f"{float(row[4]) * 1.1 + 5:.2f}", stamp.strftime(STAMP)]
    for client, rows in _by_client(updated).items():
        _write_csv(landing / "patient_visits" / "visits" / f"{client}_{day}_1.csv", header, line_end, rows)
    summary.rows["patient_visits/visits"] = len(updated)
    summary.patients.update(mrn for _client, mrn in latest)


def _vitals(landing: Path, percent: float, day: date, summary: ChangeSummary) -> None:
    """NEW_READINGS minutes of readings on the new day for each chosen patient who is monitored."""
    devices: dict[tuple[str, str], str] = {}
    for client, path in _landed(landing, "vitals", "readings"):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    reading = json.loads(line)
                except ValueError:
                    continue
                mrn = reading.get("patient_id") if isinstance(reading, dict) else None
                if isinstance(mrn, str) and MRN.match(mrn) and chosen(mrn, percent):
                    device = reading.get("device_id")
                    if isinstance(device, str) and device:
                        devices[(client, mrn)] = device
    by_client: dict[str, list[str]] = {}
    for n, ((client, mrn), device) in enumerate(sorted(devices.items())):
        start = datetime.combine(day, datetime.min.time()) + timedelta(hours=6)
        for minute in range(NEW_READINGS):
            reading = {
                "patient_id": mrn,
                "recorded_at": (start + timedelta(minutes=minute)).strftime(STAMP),
                "heart_rate": 70 + (n + minute) % 15,
                "spo2": 94 + minute % 5,
                "respiratory_rate": 12 + minute % 6,
                "device_id": device,
            }
            by_client.setdefault(client, []).append(json.dumps(reading, separators=(",", ":")))
    for client, lines in by_client.items():
        path = landing / "vitals" / "readings" / f"{client}_{day}.ndjson"
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    summary.rows["vitals/readings"] = sum(len(lines) for lines in by_client.values())
    summary.patients.update(mrn for _client, mrn in devices)


def _members(landing: Path, percent: float, day: date, summary: ChangeSummary) -> None:
    """The members of the chosen patients (linked by SSN, as the crosswalk does) change plan today."""
    ssn_to_mrn: dict[str, str] = {}
    for _client, path in _landed(landing, "clinic_emr", "patients"):
        for row in _csv_rows(path):
            # patient_id, first_name, last_name, birth_date, sex, ssn, ...
            if len(row) == 11 and MRN.match(row[0]) and chosen(row[0], percent) and SSN.match(row[5]):
                ssn_to_mrn[row[5]] = row[0]
    latest: dict[tuple[str, str], list[str]] = {}
    for client, path in _landed(landing, "member_roster", "members"):
        for row in _csv_rows(path):
            # member_id, first_name, last_name, date_of_birth, zip, phone, email, national_id, plan,
            # start_date, end_date; later files win, as in the loader's merge
            if len(row) != 11 or row[7].replace(" ", "") not in ssn_to_mrn:
                continue
            valid = (
                re.match(r"^M\d{9}$", row[0])
                and row[2]
                and _is_date(row[3])
                and date.fromisoformat(row[3]) < day
                and row[8] in NEXT_PLAN
                and _is_date(row[9])
                and (not row[10] or _is_date(row[10]))
            )
            if valid:
                latest[(client, row[0])] = row
    if not latest:
        return
    header, line_end = _format(landing, "member_roster", "members")
    changed = {key: [*row[:8], NEXT_PLAN[row[8]], day.isoformat(), row[10]] for key, row in latest.items()}
    for client, rows in _by_client(changed).items():
        _write_csv(landing / "member_roster" / "members" / f"{client}_{day}_1.csv", header, line_end, rows)
    summary.rows["member_roster/members"] = len(changed)
    summary.patients.update(ssn_to_mrn[row[7].replace(" ", "")] for row in latest.values())


EXPECTED_HEADERS = {
    ("clinic_emr", "observations"): "observation_id,patient_id,encounter_id,observed_at,code_system,code,value,unit",
    ("clinic_emr", "encounters"): "encounter_id,patient_id,encounter_date,encounter_type,site_id,reason",
    ("clinic_emr", "patients"): "patient_id,first_name,last_name,birth_date,sex,ssn,zip,phone,email,consent,updated_at",
    ("patient_visits", "visits"): "visit_id,patient_id,visit_date,visit_type,visit_cost,last_updated",
    ("member_roster", "members"): (
        "member_id,first_name,last_name,date_of_birth,zip,phone,email,national_id,plan,start_date,end_date"
    ),
}


def write_changes(landing: Path, percent: float) -> ChangeSummary:
    """Write the day after the last landed one, changing ~percent % of the patients (chosen by MRN).

    Rows are read by position, so a generator whose columns moved must fail here, not write nonsense."""
    for (feed, entity), expected in EXPECTED_HEADERS.items():
        for _client, path in _landed(landing, feed, entity):
            header = ",".join(_header_and_line_end(path)[0])
            if header != expected:
                raise WarehouseError(f"{path}: header {header!r}, expected {expected!r}; update bench_build")
            break
    day = last_landed_day(landing) + timedelta(days=1)
    summary = ChangeSummary(day)
    for step in (_weights, _visits, _vitals, _members):
        step(landing, percent, day, summary)
    return summary


# ---- one size: ingest, full build, change, incremental build --------------------------------------


@dataclass
class Ingested:
    seconds: float
    files: int
    rows_read: int
    rows_loaded: int


@dataclass
class BuildRun:
    seconds: float  # wall time of the `dbt build` process
    nodes: int
    failures: int
    slowest: list[tuple[str, float]]  # (resource type.name, seconds), slowest first
    rows_affected: dict[str, int | None]  # incremental model -> rows its statement affected
    # Node seconds summed per kind (model, test, unit_test, snapshot, seed): models are what an
    # incremental run can make cheaper; data tests check whole tables in every run by design.
    seconds_by_kind: dict[str, float] = field(default_factory=dict)


@dataclass
class SizeResult:
    patients: int
    ingest: Ingested
    full: BuildRun
    change: ChangeSummary
    change_ingest: Ingested
    incremental: BuildRun
    bmi_patients: int  # rows of patient_bmi_latest with a BMI after the full build
    database: str  # the throwaway database (dropped by the time the result is returned)

    @property
    def ratio(self) -> float:
        return self.incremental.seconds / self.full.seconds if self.full.seconds else 0.0


def ingest_child_from_argv() -> None:
    """Child process: ingest a landing zone into the database named by WAREHOUSE_DB_NAME."""
    from ingest.loader import IngestOptions, run_ingest

    landing, work_dir = sys.argv[1:3]
    started = time.perf_counter()
    options = IngestOptions(landing_root=landing, work_dir=Path(work_dir))
    report = run_ingest(options, Target.discover(), log=lambda _m: None)
    seconds = time.perf_counter() - started
    held = [f.file_name for f in report.files if f.status not in ("loaded", "unchanged")]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "files": len(report.files),
                "rows_read": sum(f.rows_read for f in report.files),
                "rows_loaded": sum(f.rows_loaded for f in report.files),
                "not_loaded": held,
            }
        )
    )


def _ingest(landing: Path, work_dir: Path, env: dict[str, str], log: Log) -> Ingested:
    # A child process, like `bench ingest`: the loader's imports and memory stay out of this process.
    command = [sys.executable, "-c", "from warehouse.bench_build import ingest_child_from_argv as m; m()"]
    out = subprocess.run([*command, str(landing), str(work_dir)], capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] or ["no output"]
        raise WarehouseError(f"ingest failed: {tail[0]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    if data["not_loaded"]:
        log(f"  note: files not loaded (held or rejected): {', '.join(data['not_loaded'][:5])}")
    return Ingested(data["seconds"], data["files"], data["rows_read"], data["rows_loaded"])


def _dbt(args: list[str], env: dict[str, str], log_file: Path) -> float:
    """Run dbt with its output in log_file (the table on stdout stays readable); return wall seconds."""
    started = time.perf_counter()
    with log_file.open("a") as handle:
        code = subprocess.run(
            [dbt_executable(), *args], cwd=project_root(), env=env, stdout=handle, stderr=subprocess.STDOUT, check=False
        ).returncode
    seconds = time.perf_counter() - started
    if code:
        # dbt's summary line counts ERROR=0 even when it failed outside a node, so quote the end of its
        # output and keep the whole of it (it is outside the temporary folder for that reason).
        tail = [line.strip() for line in log_file.read_text().splitlines() if line.strip()][-4:]
        detail = " | ".join(tail)
        raise WarehouseError(f"dbt {' '.join(args)} failed (exit {code}), output kept in {log_file}: {detail}")
    return seconds


def read_run_results(path: Path, seconds: float) -> BuildRun:
    data: dict[str, Any] = json.loads(path.read_text())
    results = data.get("results", [])
    timed = sorted(((r["unique_id"], float(r.get("execution_time") or 0.0)) for r in results), key=lambda x: -x[1])
    # unique_id is type.project.name[.hash]: keep type and name, which is what a reader looks for.
    slowest = [(_short(uid), t) for uid, t in timed[:SLOWEST]]
    affected: dict[str, int | None] = dict.fromkeys(INCREMENTAL_MODELS)
    for result in results:
        kind, _project, name = [*result["unique_id"].split("."), "", ""][:3]
        if kind == "model" and name in affected:
            affected[name] = (result.get("adapter_response") or {}).get("rows_affected")
    failures = sum(1 for r in results if r.get("status") in ("error", "fail"))
    by_kind: dict[str, float] = {}
    for uid, node_seconds in timed:
        kind = uid.split(".", 1)[0]
        by_kind[kind] = by_kind.get(kind, 0.0) + node_seconds
    return BuildRun(seconds, len(results), failures, slowest, affected, by_kind)


def _short(unique_id: str) -> str:
    parts = unique_id.split(".")
    return f"{parts[0]}.{parts[2]}" if len(parts) >= 3 else unique_id


def _bmi_patients(target: Target, database: str) -> int:
    conn = connect(target.admin(database))
    try:
        with conn.cursor() as cur:
            cur.execute("select count(*) from derived.patient_bmi_latest where bmi is not null")
            return int(cur.fetchone()[0])
    finally:
        conn.close()


def bench_size(
    target: Target,
    patients: int,
    *,
    change_percent: float,
    seed: int,
    key: str,
    log: Log,
    keep: bool = False,
    results_dir: Path | None = None,
) -> SizeResult:
    from ingest.generate.landing import generate_landing_zone

    database = f"bench_build_{secrets.token_hex(3)}"
    target.init([database], log=lambda _m: None)
    try:
        with tempfile.TemporaryDirectory(prefix="warehouse-bench-build-") as tmp:
            work = Path(tmp)
            landing, target_path = work / "landing", work / "target"
            loader_env = {**os.environ, "WAREHOUSE_DB_NAME": database, "WAREHOUSE_PSEUDONYM_KEY": key}
            env = dbt_env(target)
            # Our own database, target folder and log folder: never the warehouse's, nor another
            # engineer's dbt artefacts; `--target dev` so a WAREHOUSE_DBT_TARGET=ci in the shell
            # cannot point dbt at the ci database.
            env.update(
                WAREHOUSE_DB_NAME=database,
                WAREHOUSE_DBT_TARGET="dev",
                DBT_TARGET_PATH=str(target_path),
                DBT_LOG_PATH=str(work / "logs"),
            )
            dbt_log = Path(tempfile.gettempdir()) / f"{database}-dbt.log"

            log(f"[{patients:,} patients] generating the landing zone ...")
            generate_landing_zone(landing, patients=patients, seed=seed)
            log(f"[{patients:,} patients] ingesting (not counted in the build times) ...")
            ingested = _ingest(landing, work / "dlt", loader_env, log)
            # Parsing is not building: done once here so both timed runs start from the same
            # partial-parse state.
            _dbt(["parse", "--target", "dev"], env, dbt_log)
            log(f"[{patients:,} patients] full dbt build ...")
            full_seconds = _dbt(["build", "--target", "dev"], env, dbt_log)
            full = read_run_results(target_path / "run_results.json", full_seconds)
            _keep_results(target_path, results_dir, f"{patients}-full")
            bmi_patients = _bmi_patients(target, database)

            change = write_changes(landing, change_percent)
            log(
                f"[{patients:,} patients] {len(change.patients):,} patients changed on {change.day} "
                f"({change.total_rows:,} rows); ingesting ..."
            )
            change_ingest = _ingest(landing, work / "dlt", loader_env, log)
            log(f"[{patients:,} patients] incremental dbt build ...")
            # As a daily run builds: row-level tests check the rows that arrived since the last build.
            # New vars make dbt parse the project again: done untimed first, like the parse above.
            incremental_args = ["--target", "dev", "--vars", INCREMENTAL_VARS]
            _dbt(["parse", *incremental_args], env, dbt_log)
            incremental_seconds = _dbt(["build", *incremental_args], env, dbt_log)
            incremental = read_run_results(target_path / "run_results.json", incremental_seconds)
            _keep_results(target_path, results_dir, f"{patients}-incremental")
            dbt_log.unlink(missing_ok=True)
    finally:
        if not keep:
            target.drop(database)
    return SizeResult(patients, ingested, full, change, change_ingest, incremental, bmi_patients, database)


def _keep_results(target_path: Path, results_dir: Path | None, label: str) -> None:
    """A copy of a build's run_results.json, for reading every node's time after the run."""
    if results_dir is not None:
        results_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target_path / "run_results.json", results_dir / f"{label}-run_results.json")


def bench_build(
    sizes: list[int],
    *,
    change_percent: float = 1.0,
    seed: int = 42,
    log: Log = print,
    keep: bool = False,
    results_dir: Path | None = None,
) -> list[SizeResult]:
    """Every size in turn (never in parallel: they would share the two cores and skew each other)."""
    target = Target.discover()
    # A throwaway key: the benchmark's tokens are never compared with anything outside its database.
    key = secrets.token_hex(32)
    dbt_log = Path(tempfile.gettempdir()) / f"warehouse-bench-build-deps-{os.getpid()}.log"
    env = dbt_env(target)
    env.update(DBT_LOG_PATH=str(dbt_log.parent / f"{dbt_log.stem}-logs"))
    try:
        if not local_packages_installed():
            _dbt(["deps", "--quiet"], env, dbt_log)
    finally:
        dbt_log.unlink(missing_ok=True)
    results = []
    for n in sizes:
        result = bench_size(
            target, n, change_percent=change_percent, seed=seed, key=key, log=log, keep=keep, results_dir=results_dir
        )
        # Said at once, so a long run stopped at a bigger size still leaves the smaller sizes' figures.
        log(
            f"[{n:,} patients] full build {result.full.seconds:.1f} s, incremental {result.incremental.seconds:.1f} s"
            f" ({len(result.change.patients):,} patients changed)"
        )
        results.append(result)
    return results


# ---- the report -----------------------------------------------------------------------------------


def format_results(results: list[SizeResult], change_percent: float) -> str:
    import platform

    lines = [
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"change: ~{change_percent:g} % of patients; ingest time is not in the build times",
        f"full build: dbt build; incremental build: dbt build --vars '{INCREMENTAL_VARS}'",
        "",
        f"{'patients':>10}{'raw rows':>12}{'ingest s':>10}{'full build s':>14}{'changed pts':>13}"
        f"{'change rows':>13}{'incr ingest s':>15}{'incr build s':>14}{'incr/full':>11}",
    ]
    for r in results:
        lines.append(
            f"{r.patients:>10,}{r.ingest.rows_loaded:>12,}{r.ingest.seconds:>10.1f}{r.full.seconds:>14.1f}"
            f"{len(r.change.patients):>13,}{r.change_ingest.rows_loaded:>13,}{r.change_ingest.seconds:>15.1f}"
            f"{r.incremental.seconds:>14.1f}{r.ratio:>11.2f}"
        )
    lines += ["", "rows affected by the incremental models (full build -> incremental build):"]
    lines.append(f"{'model':<30}" + "".join(f"{f'{r.patients:,} patients':>28}" for r in results))
    for model in INCREMENTAL_MODELS:
        cells = "".join(
            f"{f'{_count(r.full.rows_affected[model])} -> {_count(r.incremental.rows_affected[model])}':>28}"
            for r in results
        )
        lines.append(f"{model:<30}{cells}")
    lines.append(f"{'(patients with a BMI)':<30}" + "".join(f"{r.bmi_patients:>28,}" for r in results))
    lines += ["", "node seconds by kind, summed over both threads (full build -> incremental build):"]
    lines.append(f"{'kind':<30}" + "".join(f"{f'{r.patients:,} patients':>28}" for r in results))
    for kind in KINDS:
        pairs = [(r.full.seconds_by_kind.get(kind, 0.0), r.incremental.seconds_by_kind.get(kind, 0.0)) for r in results]
        cells = "".join(f"{f'{full:.1f} -> {incremental:.1f}':>28}" for full, incremental in pairs)
        lines.append(f"{kind:<30}{cells}")
    for r in results:
        for label, run in (("full", r.full), ("incremental", r.incremental)):
            lines += ["", f"{r.patients:,} patients, {label} build: {run.nodes} nodes, 5 slowest:"]
            lines += [f"  {seconds:>8.1f} s  {name}" for name, seconds in run.slowest]
    return "\n".join(lines)


def _count(value: int | None) -> str:
    return "n/a" if value is None or value < 0 else f"{value:,}"

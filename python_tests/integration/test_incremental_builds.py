"""Incremental runs give the same warehouse as a rebuild from scratch.

A small generated landing zone is ingested and built; then a day of changes arrives (new weights,
re-priced visits, device readings, plan changes, as `warehouse bench build` writes them) together
with the two cases incremental linkage must get right: a new clinic record that makes an SSN
ambiguous (two people are unlinked from each other and from their other records) and an
observation of a patient the warehouse does not know yet (an orphan). The next day that patient
arrives. The incremental models must have processed the change, not the whole history, and after
the second incremental `dbt run` every refined and derived table must equal what
`dbt run --full-refresh` builds from the same raw data (a mistake of the first run would persist:
the second one only adds to it)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from ingest.generate.landing import generate_landing_zone
from python_tests.conftest import run_cli
from python_tests.integration.test_dbt_layers import Warehouse, _throwaway, token
from warehouse.bench_build import write_changes
from warehouse.db.target import Target

pytestmark = pytest.mark.integration

AMBIGUOUS_MRN = "MRN90000001"  # a new clinic record carrying an existing patient's SSN
LATE_MRN = "MRN90000002"  # observed a day before the clinic sends the patient
# Bookkeeping of incremental runs, different by design between an incremental and a fresh build:
# the crosswalk's change history, and when patient_bmi_latest last recomputed a row (it leaves a
# person whose height and weight did not change alone, with the stamps of that computation).
BOOKKEEPING = {"_changed_at", "previous_patient_key", "computed_at"}
BOOKKEEPING_OF = {"patient_bmi_latest": {"_ingested_at"}}


def _dbt(warehouse: Warehouse, *args: str) -> None:
    result = run_cli("dbt", *args, env=warehouse.env(), timeout=900)
    assert result.returncode == 0, result.stdout[-3000:]


def _ingest(warehouse: Warehouse) -> None:
    result = run_cli("ingest", env=warehouse.env(), timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.fixture(scope="module")
def warehouse(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    database = _throwaway(target, "test_incr")
    built = Warehouse(target, database, tmp_path_factory.mktemp("incremental"))
    generate_landing_zone(built.landing, patients=120, seed=11, days=2)
    try:
        _ingest(built)
        for args in (["deps", "--quiet"], ["seed"], ["run"]):
            _dbt(built, *args)
        yield built
    finally:
        target.drop(database)


def _csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _patient_row(header: list[str], like: dict[str, str], mrn: str, ssn: str, day: date) -> dict[str, str]:
    row = dict(like)
    row.update(patient_id=mrn, ssn=ssn, consent="Y", updated_at=f"{day.isoformat()}T06:00:00Z")
    return {column: row[column] for column in header}


def _rows_affected(warehouse: Warehouse) -> dict[str, int]:
    results = json.loads((warehouse.target_path / "run_results.json").read_text())["results"]
    return {
        r["unique_id"].split(".")[-1]: (r.get("adapter_response") or {}).get("rows_affected", -1)
        for r in results
        if r["unique_id"].startswith("model.")
    }


def _tables(warehouse: Warehouse) -> list[tuple[str, str]]:
    return warehouse.query(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('refined', 'derived') and table_type = 'BASE TABLE' order by 1, 2"
    )


def _assert_equals_full_refresh(warehouse: Warehouse) -> None:
    """Keep a copy of every table the incremental run left, rebuild from scratch, compare row for row."""
    tables = _tables(warehouse)
    warehouse.query("drop schema if exists incremental_copy cascade; create schema incremental_copy; select 1")
    for schema, table in tables:
        copy = f'create table incremental_copy."{schema}__{table}" as select * from "{schema}"."{table}"'
        warehouse.query(f"{copy}; select 1")
    _dbt(warehouse, "run", "--full-refresh")
    differences = {}
    for schema, table in tables:
        columns = [
            name
            for (name,) in warehouse.query(
                "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
                "order by ordinal_position",
                (schema, table),
            )
            if name not in BOOKKEEPING | BOOKKEEPING_OF.get(table, set())
        ]
        listed = ", ".join(f'"{c}"' for c in columns)
        rebuilt = f'select {listed} from "{schema}"."{table}"'
        kept = f'select {listed} from incremental_copy."{schema}__{table}"'
        only_rebuilt = warehouse.query(f"select count(*) from ({rebuilt} except all {kept}) as x")[0][0]
        only_kept = warehouse.query(f"select count(*) from ({kept} except all {rebuilt}) as x")[0][0]
        if only_rebuilt or only_kept:
            # a few rows of each side, to see which people and columns differ
            sample_kept = warehouse.query(f"({kept} except all {rebuilt}) limit 3")
            sample_rebuilt = warehouse.query(f"({rebuilt} except all {kept}) limit 3")
            differences[f"{schema}.{table}"] = (only_kept, only_rebuilt, columns, sample_kept, sample_rebuilt)
    assert not differences, f"incremental vs full refresh, rows only in (incremental, rebuilt): {differences}"
    assert len(tables) >= 15


def test_incremental_runs_equal_a_rebuild_through_changes_relinks_and_a_late_patient(warehouse: Warehouse):
    landing = warehouse.landing
    totals = {
        model: warehouse.query(f"select count(*) from refined.{model}")[0][0]
        for model in ("observation", "patient_attribute_candidate")
    }

    # Day 1: the bench's change day, plus a second clinic record with an existing patient's SSN and
    # an observation of a patient nobody has sent yet.
    change = write_changes(landing, 10.0)
    day = change.day
    patients_file = sorted((landing / "clinic_emr" / "patients").glob("acme_*.csv"))[0]
    header, rows = _csv(patients_file)
    shared = next(row for row in rows if row["consent"] == "Y" and row["ssn"])
    _write(
        landing / "clinic_emr" / "patients" / f"acme_{day.isoformat()}_7.csv",
        header,
        [_patient_row(header, shared, AMBIGUOUS_MRN, shared["ssn"], day)],
    )
    observations_file = sorted((landing / "clinic_emr" / "observations").glob("acme_*.csv"))[0]
    obs_header, _ = _csv(observations_file)
    _write(
        landing / "clinic_emr" / "observations" / f"acme_{day.isoformat()}_7.csv",
        obs_header,
        [
            {
                "observation_id": "OBS900000000001", "patient_id": LATE_MRN, "encounter_id": "ENC9000000001",
                "observed_at": f"{day.isoformat()}T08:00:00Z", "code_system": "LOINC", "code": "29463-7",
                "value": "70.5", "unit": "kg",
            }
        ],
    )  # fmt: skip
    _ingest(warehouse)
    _dbt(warehouse, "run")

    affected = _rows_affected(warehouse)
    # The change, not the history: a tenth of the patients changed, and a few of their rows.
    assert 0 < affected["observation"] < totals["observation"] / 5, affected
    assert 0 < affected["patient_attribute_candidate"] < totals["patient_attribute_candidate"] / 3, affected
    rules = dict(
        warehouse.query(
            "select source_key, match_rule from refined.patient_crosswalk "
            "where feed = 'clinic_emr' and source_key in (%s, %s)",
            (token(shared["patient_id"]), token(AMBIGUOUS_MRN)),
        )
    )
    assert rules == {token(shared["patient_id"]): "ambiguous_ssn", token(AMBIGUOUS_MRN): "ambiguous_ssn"}
    orphaned = warehouse.query(
        "select count(*) from refined.observation o join refined.patient_crosswalk c using (patient_key) "
        "where c.source_key = %s",
        (token(LATE_MRN),),
    )[0][0]
    assert orphaned == 0

    # Day 2: the late patient arrives; their observation, an orphan until now, joins them.
    late_day = day + timedelta(days=1)
    _write(
        landing / "clinic_emr" / "patients" / f"acme_{late_day.isoformat()}.csv",
        header,
        [_patient_row(header, shared, LATE_MRN, "123-45-6780", late_day)],
    )
    _ingest(warehouse)
    _dbt(warehouse, "run")
    linked = warehouse.query(
        "select o.value_numeric from refined.observation o join refined.patient_crosswalk c using (patient_key) "
        "where c.feed = 'clinic_emr' and c.source_key = %s",
        (token(LATE_MRN),),
    )
    assert [float(v) for (v,) in linked] == [70.5]
    weight = warehouse.query(
        "select p.weight_kg from refined.patient p join refined.patient_crosswalk c using (patient_key) "
        "where c.feed = 'clinic_emr' and c.source_key = %s",
        (token(LATE_MRN),),
    )
    assert [float(w) for (w,) in weight] == [70.5]
    _assert_equals_full_refresh(warehouse)

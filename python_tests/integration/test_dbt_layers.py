"""The dbt layers end to end, on a generated landing zone in a database of their own: `warehouse run`
(what `make run` runs) ingests and builds everything; analysts' README queries return rows; a changed
weight reaches patient_bmi_latest for that patient only, and the snapshot; a late visit update within
the lookback reaches daily_visit_metrics. Plus the real Synthea export: our BMI macro reproduces
Synthea's own BMI."""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.generate.landing import generate_landing_zone
from ingest.pii.keys import PseudonymKey
from ingest.pii.tokens import tokenise
from python_tests.conftest import PROJECT_ROOT, run_cli
from python_tests.integration.ingest_helpers import TEST_KEY
from python_tests.integration.test_ingest_real_data import SHARED, link
from warehouse.db.connection import connect
from warehouse.db.target import Target

pytestmark = pytest.mark.integration

NEW_DAY = "2026-11-21"  # the generator writes 2026-11-18 .. 2026-11-20
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def token(value: str) -> str:
    return tokenise(pa.array([value]), PseudonymKey.from_bytes(TEST_KEY.encode()))[0].as_py()


@dataclass
class Warehouse:
    target: Target
    database: str
    root: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def target_path(self) -> Path:
        return self.root / "target"

    def env(self) -> dict[str, str]:
        return {
            "WAREHOUSE_DB_NAME": self.database,
            "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY,
            "WAREHOUSE_DLT_DIR": str(self.root / "dlt"),
            "WAREHOUSE_LANDING": str(self.landing),
            "DBT_TARGET_PATH": str(self.target_path),
        }

    def run(self) -> str:
        """`warehouse run`: ingest the landing zone, then dbt deps and dbt build."""
        result = run_cli("run", env=self.env(), timeout=1200)
        assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
        return result.stdout

    def query(self, sql: str, params: tuple = (), role: str | None = None) -> list[tuple]:
        info = self.target.role(role, self.database) if role else self.target.admin(self.database)
        conn = connect(info)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            conn.close()

    def rows_affected(self, model: str) -> int:
        results = json.loads((self.target_path / "run_results.json").read_text())["results"]
        (found,) = [r for r in results if r["unique_id"].endswith(f".{model}")]
        return found["adapter_response"]["rows_affected"]


def _throwaway(target: Target, prefix: str) -> str:
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    target.init([name], log=lambda _msg: None)
    return name


@pytest.fixture(scope="module")
def warehouse(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    database = _throwaway(target, "test_dbt")
    built = Warehouse(target, database, tmp_path_factory.mktemp("dbt_layers"))
    generate_landing_zone(built.landing, patients=200, seed=7, days=3)
    try:
        built.run()
        yield built
    finally:
        target.drop(database)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def readme_analyst_queries() -> list[str]:
    """The SQL blocks of the README marked `<!-- analyst-query -->`: the test runs what users read."""
    text = (PROJECT_ROOT / "README.md").read_text()
    return re.findall(r"<!-- analyst-query -->\s*```sql\n(.*?)```", text, flags=re.DOTALL)


def test_warehouse_run_builds_every_layer(warehouse: Warehouse):
    results = json.loads((warehouse.target_path / "run_results.json").read_text())["results"]
    ok = {"success", "pass", "warn", "no-op"}  # exposures are no-ops
    assert [r["unique_id"] for r in results if r["status"] not in ok] == []
    built = {r["unique_id"].split(".")[-1] for r in results}
    for model in ("patient", "patient_crosswalk", "observation", "vital_sign_reading", "dim_patient",
                  "patient_bmi_latest", "daily_visit_metrics", "vitals_daily_features", "drug_utilisation",
                  "patient_demographics_history", "body_measurement_history", "member_history"):  # fmt: skip
        assert model in built
    # People are merged across feeds: clinic patients and payer members share patient keys.
    merged = warehouse.query("select count(*) from refined.patient where has_clinic_record and has_member_record")
    assert merged[0][0] > 0
    # Every refined event belongs to a patient (also a dbt relationships test, here on real rows).
    orphans = warehouse.query(
        "select count(*) from refined.observation o left join refined.patient p using (patient_key) "
        "where p.patient_key is null"
    )
    assert orphans == [(0,)]


def test_readme_analyst_queries_return_rows_as_analyst(warehouse: Warehouse):
    queries = readme_analyst_queries()
    assert len(queries) >= 3, "README.md must show three analyst queries marked <!-- analyst-query -->"
    for sql in queries:
        rows = warehouse.query(sql, role="analyst")
        assert rows, f"no rows for README query:\n{sql}"


def test_analyst_cannot_read_refined_identity(warehouse: Warehouse):
    with pytest.raises(Exception, match="permission denied"):
        warehouse.query("select count(*) from refined.patient_crosswalk", role="analyst")


def _a_weighed_clinic_patient(warehouse: Warehouse) -> tuple[dict[str, str], str, str]:
    """An observation row of a clinic patient who has a BMI, its file's client, and the patient_key."""
    landing = warehouse.landing / "clinic_emr" / "observations"
    keys = dict(
        warehouse.query(
            "select c.source_key, c.patient_key from refined.patient_crosswalk c "
            "join derived.patient_bmi_latest b using (patient_key) where c.feed = 'clinic_emr' and b.bmi is not null"
        )
    )
    for path in sorted(landing.glob("*.csv")):
        client = path.name.split("_")[0]
        for row in read_csv(path):
            if row["code"] in ("29463-7", "WT") and row["patient_id"].startswith("MRN"):
                key = keys.get(token(row["patient_id"]))
                if key:
                    return row, client, key
    raise AssertionError("no weighed clinic patient in the generated landing zone")


@dataclass
class WeightChange:
    patient_key: str
    new_weight: float
    bmi_before: dict[str, str]  # patient_key -> (weight_kg, bmi) as text
    versions_before: int


@dataclass
class LateVisit:
    metric: str
    params: tuple[str, str]  # visit_date, visit_type
    total_before: float


@dataclass
class ChangeDay:
    weight: WeightChange
    visit: LateVisit


def _write_weight_change(warehouse: Warehouse) -> WeightChange:
    """A new, heavier weight for one weighed clinic patient, an hour after the newest observation."""
    row, client, patient_key = _a_weighed_clinic_patient(warehouse)
    before = dict(warehouse.query("select patient_key, (weight_kg, bmi)::text from derived.patient_bmi_latest"))
    versions_before = warehouse.query(
        "select count(*) from snapshots.body_measurement_history where patient_key = %s", (patient_key,)
    )[0][0]
    newest = warehouse.query("select max(observed_at) from refined.observation")[0][0]
    new_weight = round(float(warehouse.query(
        "select weight_kg from refined.patient where patient_key = %s", (patient_key,)
    )[0][0]) + 7.5, 1)  # fmt: skip
    change = {
        **row,
        "observation_id": "OBS999999999999",
        "observed_at": (newest + timedelta(hours=1)).strftime(STAMP),
        "code_system": "LOINC",
        "code": "29463-7",
        "value": f"{new_weight}",
        "unit": "kg",
    }
    write_csv(warehouse.landing / "clinic_emr" / "observations" / f"{client}_{NEW_DAY}.csv", list(row), [change])
    return WeightChange(patient_key, new_weight, before, versions_before)


def _write_late_visit(warehouse: Warehouse) -> LateVisit:
    """An update of an old visit, re-priced, stamped older than the newest visit but inside the lookback."""
    newest = warehouse.query("select max(last_updated) from refined.visit")[0][0]
    late = newest - timedelta(hours=2)  # older than the newest visit: late, but inside the 24 h lookback
    linked = {
        r[0] for r in warehouse.query("select source_key from refined.patient_crosswalk where feed = 'patient_visits'")
    }
    landing = warehouse.landing / "patient_visits" / "visits"
    candidates = []
    for path in sorted(landing.glob("*.csv")):
        for row in read_csv(path):
            try:
                updated = datetime.strptime(row["last_updated"], STAMP)
                float(row["visit_cost"])
            except ValueError:
                continue  # a deliberately bad row of the generator
            if (
                row["patient_id"].startswith("MRN")
                and token(row["patient_id"]) in linked
                and updated < late.replace(tzinfo=None) - timedelta(hours=1)
            ):
                candidates.append((path.name.split("_")[0], row))
    client, row = candidates[0]
    current = warehouse.query(
        "select visit_cost from refined.visit where client_id = %s and source_visit_id = %s", (client, row["visit_id"])
    )[0][0]
    metric = "select total_cost from derived.daily_visit_metrics where visit_date = %s and visit_type = %s"
    params = (row["visit_date"], row["visit_type"])
    before = warehouse.query(metric, params)[0][0]
    update = {**row, "visit_cost": f"{float(current) + 1000:.2f}", "last_updated": late.strftime(STAMP)}
    write_csv(landing / f"{client}_{NEW_DAY}.csv", list(row), [update])
    return LateVisit(metric, params, float(before))


@pytest.fixture(scope="module")
def change_day(warehouse: Warehouse) -> ChangeDay:
    """One more day of files carrying both changes, then one `warehouse run`, as a daily run takes
    them: one run for the two (each run is a whole ingest and build, a minute of `make test`)."""
    day = ChangeDay(weight=_write_weight_change(warehouse), visit=_write_late_visit(warehouse))
    warehouse.run()
    return day


def test_a_changed_weight_reaches_bmi_latest_for_that_patient_only_and_the_snapshot(
    warehouse: Warehouse, change_day: ChangeDay
):
    change = change_day.weight
    after = dict(warehouse.query("select patient_key, (weight_kg, bmi)::text from derived.patient_bmi_latest"))
    changed = {key for key in after if after[key] != change.bmi_before.get(key)}
    assert changed == {change.patient_key}
    assert float(warehouse.query(
        "select weight_kg from derived.patient_bmi_latest where patient_key = %s", (change.patient_key,)
    )[0][0]) == change.new_weight  # fmt: skip
    # dbt's own account of the incremental run: it merged exactly the one changed row.
    assert warehouse.rows_affected("patient_bmi_latest") == 1
    history = warehouse.query(
        "select weight_kg, dbt_valid_to is null from snapshots.body_measurement_history "
        "where patient_key = %s order by dbt_valid_from",
        (change.patient_key,),
    )
    assert len(history) == change.versions_before + 1
    assert float(history[-1][0]) == change.new_weight and history[-1][1] is True
    assert history[-2][1] is False


def test_a_late_visit_update_within_the_lookback_reaches_daily_visit_metrics(
    warehouse: Warehouse, change_day: ChangeDay
):
    visit = change_day.visit
    after = warehouse.query(visit.metric, visit.params)[0][0]
    assert float(after) == pytest.approx(visit.total_before + 1000)


needs_synthea = pytest.mark.skipif(
    not (SHARED / "synthea-27").is_dir(),
    reason=f"the real Synthea export is not at {SHARED / 'synthea-27'} (set WAREHOUSE_SHARED_DATA); "
    "a fresh clone does not have it",
)


@needs_synthea
def test_bmi_macro_matches_synthea_own_bmi_on_the_real_export(target: Target, tmp_path: Path):
    database = _throwaway(target, "test_synthea_bmi")
    built = Warehouse(target, database, tmp_path)
    try:
        for entity in ("patients", "encounters", "observations", "medications", "conditions"):
            link(built.landing, "synthea", entity, "real_2019-02-17.csv", SHARED / "synthea-27" / f"{entity}.csv")
        result = run_cli("ingest", "--feed", "synthea", env=built.env(), timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        for args in (["deps", "--quiet"], ["build", "--select", "+assert_bmi_macro_matches_synthea_bmi"]):
            result = run_cli("dbt", *args, env=built.env(), timeout=600)
            assert result.returncode == 0, result.stdout[-3000:]
        # The comparison was not vacuous: Synthea's export has BMI observations with both inputs.
        pairs = built.query(
            """
            select count(*) from staging.stg_synthea__observations b
            join staging.stg_synthea__observations h using (synthea_patient_token, observed_at)
            join staging.stg_synthea__observations w using (synthea_patient_token, observed_at)
            where b.source_code = '39156-5' and h.source_code = '8302-2' and w.source_code = '29463-7'
            """
        )[0][0]
        assert pairs >= 20
        results = json.loads((built.target_path / "run_results.json").read_text())["results"]
        (check,) = [r for r in results if r["unique_id"].split(".")[-1] == "assert_bmi_macro_matches_synthea_bmi"]
        assert check["status"] == "pass" and check["failures"] == 0
    finally:
        target.drop(database)


def test_run_with_the_ci_target_ingests_into_the_ci_database(target: Target, tmp_path: Path):
    """`warehouse run --dbt-target ci` loads the database that dbt's ci target builds, not dev."""
    dev, ci = _throwaway(target, "test_run_dev"), _throwaway(target, "test_run_ci")
    try:
        (tmp_path / "landing").mkdir()
        env = {
            "WAREHOUSE_DB_NAME": dev,
            "WAREHOUSE_CI_DATABASE": ci,
            "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY,
            "WAREHOUSE_DLT_DIR": str(tmp_path / "dlt"),
            "WAREHOUSE_LANDING": str(tmp_path / "landing"),
            "DBT_TARGET_PATH": str(tmp_path / "target"),
        }
        # An empty landing zone: the build of an empty warehouse fails; where the ingest went is the point.
        run_cli("run", "--dbt-target", "ci", env=env, timeout=600)

        def ingest_runs(database: str) -> int:
            warehouse = Warehouse(target, database, tmp_path)
            if not warehouse.query("select to_regclass('audit.ingest_runs') is not null")[0][0]:
                return 0
            return warehouse.query("select count(*) from audit.ingest_runs")[0][0]

        assert (ingest_runs(ci), ingest_runs(dev)) == (1, 0)
    finally:
        target.drop(dev)
        target.drop(ci)

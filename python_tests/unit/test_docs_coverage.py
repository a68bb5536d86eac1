"""The documentation gate on small hand-written manifest.json and catalog.json files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from python_tests.conftest import run_cli
from warehouse.docs_coverage import check, check_target
from warehouse.errors import WarehouseError

PROJECT = "healthcare_warehouse"


def column(name: str, description: str = "A column.", **meta: Any) -> dict[str, Any]:
    return {"name": name, "description": description, "meta": meta, "config": {"meta": {}}}


def node(
    kind: str,
    name: str,
    columns: list[dict[str, Any]],
    *,
    meta: dict[str, Any] | None = None,
    description: str = "A table.",
    package: str = PROJECT,
    materialized: str = "table",
) -> dict[str, Any]:
    return {
        "unique_id": f"{kind}.{package}.{name}",
        "resource_type": kind,
        "package_name": package,
        "name": name,
        "description": description,
        "original_file_path": f"models/{name}.sql",
        "patch_path": f"{package}://models/_models.yml",
        "meta": {},
        "config": {"meta": meta or {}, "materialized": materialized},
        "columns": {c["name"]: c for c in columns},
    }


def source(name: str, columns: list[dict[str, Any]], description: str = "Raw rows.") -> dict[str, Any]:
    return {
        "unique_id": f"source.{PROJECT}.feed.{name}",
        "resource_type": "source",
        "package_name": PROJECT,
        "source_name": "feed",
        "name": name,
        "description": description,
        "original_file_path": "models/staging/_feed__sources.yml",
        "meta": {"owner": "data-engineering"},
        "config": {"meta": {}},
        "columns": {c["name"]: c for c in columns},
    }


def in_catalog(entry: dict[str, Any], names: list[str]) -> dict[str, Any]:
    columns = {n: {"name": n, "type": "text", "index": i, "comment": None} for i, n in enumerate(names, 1)}
    return {"unique_id": entry["unique_id"], "metadata": {"type": "BASE TABLE"}, "columns": columns}


def documented_project() -> tuple[dict[str, Any], dict[str, Any]]:
    """A project where everything is documented: the check must pass on it."""
    patient = node(
        "model",
        "patient",
        [column("patient_id", pii_class="identifier"), column("age_years", pii_class="none")],
        meta={"owner": "data-engineering", "layer": "refined"},
    )
    bracket = node(
        "model",
        "dim_age_bracket",
        [column("age_bracket"), column("min_age", pii_class="none")],  # inherits none from contains_pii: false
        meta={"owner": "data-engineering", "layer": "derived", "contains_pii": False},
    )
    staged = node(
        "model", "stg_feed__people", [column("person_id")], meta={"owner": "data-engineering", "layer": "staging"}
    )
    seed = node("seed", "age_brackets", [column("age_bracket")], meta={"layer": "refined"})
    snapshot = node("snapshot", "patient_history", [column("patient_id")], meta={"layer": "snapshots"})
    raw = source("feed__people", [column("person_id", pii_class="identifier")])
    # Another package's nodes are not this project's to document.
    foreign = node("model", "helper", [], description="", package="expectations")
    test = {**node("test", "not_null_patient_id", [], description=""), "resource_type": "test"}
    nodes = {n["unique_id"]: n for n in (patient, bracket, staged, seed, snapshot, foreign, test)}
    manifest = {"metadata": {"project_name": PROJECT}, "nodes": nodes, "sources": {raw["unique_id"]: raw}}
    catalog = {
        "nodes": {
            patient["unique_id"]: in_catalog(patient, ["patient_id", "age_years"]),
            # Postgres folds unquoted names to lower case; the yml may not.
            bracket["unique_id"]: in_catalog(bracket, ["age_bracket", "min_age"]),
            staged["unique_id"]: in_catalog(staged, ["person_id"]),
            seed["unique_id"]: in_catalog(seed, ["age_bracket"]),
            snapshot["unique_id"]: in_catalog(snapshot, ["patient_id"]),
        },
        "sources": {raw["unique_id"]: in_catalog(raw, ["person_id"])},
    }
    return manifest, catalog


def lines(manifest: dict[str, Any], catalog: dict[str, Any]) -> list[str]:
    return [str(p) for p in check(manifest, catalog).problems]


def test_a_fully_documented_project_passes():
    manifest, catalog = documented_project()
    report = check(manifest, catalog)
    assert report.problems == []
    assert report.resources == {"model": 3, "seed": 1, "snapshot": 1, "source": 1}
    assert report.columns == 8
    assert report.summary().startswith("docs check passed: 3 models, 1 seed, 1 snapshot, 1 source and 8 columns")


def test_a_model_without_description_fails_and_names_the_yml():
    manifest, catalog = documented_project()
    manifest["nodes"]["model.healthcare_warehouse.patient"]["description"] = "  \n"
    assert lines(manifest, catalog) == ["model patient (models/_models.yml): no description"]


@pytest.mark.parametrize("kind", ["seed", "snapshot"])
def test_seeds_and_snapshots_need_descriptions_too(kind):
    manifest, catalog = documented_project()
    uid = next(u for u, n in manifest["nodes"].items() if n["resource_type"] == kind)
    manifest["nodes"][uid]["description"] = ""
    assert lines(manifest, catalog) == [f"{kind} {manifest['nodes'][uid]['name']} (models/_models.yml): no description"]


def test_a_source_table_and_its_columns_need_descriptions():
    manifest, catalog = documented_project()
    raw = manifest["sources"]["source.healthcare_warehouse.feed.feed__people"]
    raw["description"] = ""
    raw["columns"]["person_id"]["description"] = ""
    assert lines(manifest, catalog) == [
        "source feed.feed__people (models/staging/_feed__sources.yml): no description",
        "source feed.feed__people (models/staging/_feed__sources.yml): column person_id: no description",
    ]


def test_a_column_without_description_fails():
    manifest, catalog = documented_project()
    manifest["nodes"]["model.healthcare_warehouse.patient"]["columns"]["age_years"]["description"] = ""
    assert lines(manifest, catalog) == ["model patient (models/_models.yml): column age_years: no description"]


def test_a_column_in_the_database_but_not_in_the_yml_is_undocumented():
    manifest, catalog = documented_project()
    catalog["nodes"]["model.healthcare_warehouse.patient"]["columns"]["zip3"] = {"name": "zip3", "type": "text"}
    assert lines(manifest, catalog) == [
        "model patient (models/_models.yml): column zip3: in the database but not documented in the yml"
    ]


def test_column_names_match_case_insensitively():
    manifest, catalog = documented_project()
    columns = manifest["nodes"]["model.healthcare_warehouse.patient"]["columns"]
    columns["Patient_ID"] = {**columns.pop("patient_id"), "name": "Patient_ID"}
    assert lines(manifest, catalog) == []


def test_a_documented_column_missing_from_the_database_is_reported():
    manifest, catalog = documented_project()
    del catalog["nodes"]["model.healthcare_warehouse.patient"]["columns"]["age_years"]
    assert lines(manifest, catalog) == [
        "model patient (models/_models.yml): column age_years: documented but not in the database"
    ]


def test_a_model_missing_from_the_catalog_is_reported_unless_ephemeral():
    manifest, catalog = documented_project()
    del catalog["nodes"]["model.healthcare_warehouse.stg_feed__people"]
    assert lines(manifest, catalog) == [
        "model stg_feed__people (models/_models.yml): not in catalog.json: not in the database "
        "`dbt docs generate` read (build it first)"
    ]
    manifest["nodes"]["model.healthcare_warehouse.stg_feed__people"]["config"]["materialized"] = "ephemeral"
    assert lines(manifest, catalog) == []


@pytest.mark.parametrize("key", ["owner", "layer"])
def test_a_model_needs_owner_and_layer_in_meta(key):
    manifest, catalog = documented_project()
    del manifest["nodes"]["model.healthcare_warehouse.stg_feed__people"]["config"]["meta"][key]
    assert lines(manifest, catalog) == [f"model stg_feed__people (models/_models.yml): meta has no {key}"]


def test_meta_is_read_from_the_top_level_key_as_well_as_config():
    manifest, catalog = documented_project()
    staged = manifest["nodes"]["model.healthcare_warehouse.stg_feed__people"]
    staged["meta"], staged["config"]["meta"] = staged["config"]["meta"], {}
    assert lines(manifest, catalog) == []


def test_a_refined_column_needs_a_pii_class():
    manifest, catalog = documented_project()
    manifest["nodes"]["model.healthcare_warehouse.patient"]["columns"]["age_years"]["meta"] = {}
    (line,) = lines(manifest, catalog)
    assert line.startswith("model patient (models/_models.yml): column age_years: meta has no pii_class (one of ")


def test_a_column_in_the_database_only_is_one_problem_not_two():
    manifest, catalog = documented_project()
    catalog["nodes"]["model.healthcare_warehouse.patient"]["columns"]["zip3"] = {"name": "zip3", "type": "text"}
    assert len(lines(manifest, catalog)) == 1


def test_an_unknown_pii_class_is_reported():
    manifest, catalog = documented_project()
    manifest["nodes"]["model.healthcare_warehouse.patient"]["columns"]["age_years"]["meta"] = {"pii_class": "nope"}
    (line,) = lines(manifest, catalog)
    assert "column age_years: pii_class 'nope' is not one of birth_date, direct, free_text, identifier" in line


def test_a_pii_column_in_a_model_without_pii_is_a_contradiction():
    manifest, catalog = documented_project()
    bracket = manifest["nodes"]["model.healthcare_warehouse.dim_age_bracket"]
    bracket["columns"]["age_bracket"]["config"]["meta"] = {"pii_class": "identifier"}
    assert lines(manifest, catalog) == [
        "model dim_age_bracket (models/_models.yml): column age_bracket: pii_class identifier in a model whose "
        "meta says contains_pii: false"
    ]


def test_staging_seed_and_source_columns_need_no_pii_class():
    manifest, catalog = documented_project()
    for entry in [*manifest["nodes"].values(), *manifest["sources"].values()]:
        if entry["name"] != "patient":
            for col in entry["columns"].values():
                col["meta"] = {}
    bracket = manifest["nodes"]["model.healthcare_warehouse.dim_age_bracket"]
    assert bracket["config"]["meta"]["contains_pii"] is False
    assert lines(manifest, catalog) == []


def test_every_problem_is_reported_with_a_summary():
    manifest, catalog = documented_project()
    broken = copy.deepcopy(manifest)
    for entry in [*broken["nodes"].values(), *broken["sources"].values()]:
        entry["description"] = ""
    report = check(broken, catalog)
    assert len(report.problems) == 6
    assert report.summary() == (
        "docs check failed: 6 problems in 6 resources (checked 3 models, 1 seed, 1 snapshot, 1 source and 8 columns)"
    )


def write_target(folder: Path, manifest: dict[str, Any] | None, catalog: dict[str, Any] | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (("manifest.json", manifest), ("catalog.json", catalog)):
        if data is not None:
            (folder / name).write_text(json.dumps(data))
    return folder


def test_missing_artifacts_name_the_command_to_run(tmp_path):
    manifest, catalog = documented_project()
    with pytest.raises(WarehouseError, match=r"manifest.json not found: run `warehouse dbt docs generate`"):
        check_target(write_target(tmp_path / "a", None, catalog))
    with pytest.raises(WarehouseError, match=r"catalog.json not found: run `warehouse dbt docs generate`"):
        check_target(write_target(tmp_path / "b", manifest, None))


def test_cli_passes_on_a_documented_project(tmp_path):
    folder = write_target(tmp_path / "target", *documented_project())
    result = run_cli("docs", "check", "--target-path", str(folder))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "docs check passed: 3 models, 1 seed, 1 snapshot, 1 source and 8 columns documented"
    ]


def test_cli_prints_one_line_per_problem_then_a_summary_and_exits_1(tmp_path):
    manifest, catalog = documented_project()
    manifest["nodes"]["model.healthcare_warehouse.patient"]["description"] = ""
    catalog["nodes"]["model.healthcare_warehouse.patient"]["columns"]["zip3"] = {"name": "zip3", "type": "text"}
    folder = write_target(tmp_path / "target", manifest, catalog)
    result = run_cli("docs", "check", "--target-path", str(folder))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "model patient (models/_models.yml): no description",
        "model patient (models/_models.yml): column zip3: in the database but not documented in the yml",
        "docs check failed: 2 problems in 1 resource (checked 3 models, 1 seed, 1 snapshot, 1 source and 9 columns)",
    ]


def test_cli_without_artifacts_is_one_line(tmp_path):
    result = run_cli("docs", "check", "--target-path", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nowhere' / 'manifest.json'} not found: run `warehouse dbt docs generate` "
        "(after `warehouse dbt build`)"
    ]

"""The `expectations` package (local_packages/expectations): its generic tests, named and taking the
arguments of dbt-expectations, run on real PostgreSQL. One `dbt build` of the fixture project
expectations_project/ (seeds of good and bad rows, a view of timestamps relative to now) in the
session's throwaway database; each case is a named test whose outcome is known: `*_pass` passes,
`*_fail` fails with an exact number of failing rows. Every test of the package has both, and is
documented with the arguments its macro takes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from python_tests.conftest import PROJECT_ROOT
from warehouse.db.connection import connect
from warehouse.db.target import Target
from warehouse.dbt_runner import dbt_env, dbt_executable

pytestmark = pytest.mark.integration

PACKAGE = PROJECT_ROOT / "local_packages" / "expectations"
FIXTURE = Path(__file__).with_name("expectations_project")

# Case name -> failing rows dbt must report (0: the test passes).
EXPECTED = {
    "between_pass": 0,
    "between_max_only_row_condition_pass": 0,
    "between_fail": 2,  # ages -1 and 121
    "between_max_only_fail": 1,  # 121
    "between_strictly_fail": 2,  # the bounds 0 and 120 themselves
    "in_set_pass": 0,
    "in_set_unquoted_pass": 0,
    "in_set_fail": 2,  # 'Male' and a null
    "in_set_row_condition_fail": 1,  # 'Male'; the null is filtered out
    "in_set_unquoted_fail": 2,  # -1 and 121
    "not_in_set_pass": 0,
    "not_in_set_fail": 1,  # 'Male'
    "match_regex_flags_pass": 0,  # 'Bob@Example.org' matches case-insensitively; a null passes
    "match_regex_case_fail": 1,  # ... but not without the i flag
    "match_regex_fail": 2,  # 'bob-at-example', 'not an email'
    "not_match_regex_pass": 0,
    "not_match_regex_fail": 1,  # 'not an email' has whitespace
    "not_null_row_condition_pass": 0,  # the null patient_id is on a deleted row
    "not_null_fail": 1,  # ... which counts without the row condition
    "not_null_row_condition_fail": 1,  # an active row without patient_id
    "compound_unique_pass": 0,
    "compound_unique_quoted_pass": 0,
    "compound_unique_fail": 1,  # (a, p1) twice; the all-null key is left out
    "compound_unique_row_condition_fail": 1,  # client a twice among active rows
    "row_count_pass": 0,
    "row_count_row_condition_pass": 0,
    "row_count_fail": 1,  # 5 rows, at most 4
    "row_count_strictly_fail": 1,  # 5 is not more than 5
    "row_count_group_by_fail": 2,  # clients a and b have 2 rows each
    "row_count_equal_other_pass": 0,
    "row_count_equal_other_factor_pass": 0,  # 5 = 5 x 1
    "row_count_equal_other_group_by_pass": 0,
    "row_count_equal_other_fail": 1,  # 5 against 3
    "row_count_equal_other_group_by_fail": 2,  # client c on one side, a null client on the other
    "recent_data_pass": 0,
    "recent_data_date_pass": 0,
    "recent_data_future_ignored_pass": 0,  # 3 days old is within a week; the future row is left out
    "recent_data_stale_fail": 1,  # 3 days old; a future row does not hide it
    "recent_data_hour_fail": 1,  # 2 hours old, 1 allowed
    "recent_data_no_rows_fail": 1,  # nothing meets the row condition
    "recent_data_date_fail": 1,  # a date 3 days back, 2 allowed
    "proportion_unique_pass": 0,  # 3 distinct of 5
    "proportion_unique_fail": 1,  # 2 distinct of 4 non-null
    "proportion_unique_strictly_fail": 1,  # 0.6 is not below 0.6
    "mean_pass": 0,  # 25
    "mean_fail": 1,  # 220
    "mean_strictly_fail": 1,  # 25 is not above 25
    "mean_group_by_fail": 1,  # client b averages 35; client c has no scores and passes
}
FIXTURE_NODES = {"expect_good_rows", "expect_bad_rows", "expect_events"}


@dataclass
class Build:
    returncode: int
    output: str
    results: dict[str, dict[str, Any]]  # by node name
    manifest: dict[str, Any]


@pytest.fixture(scope="module")
def build(target: Target, test_database: str, tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The fixture project, copied out of the tree (dbt writes beside its project) with the package
    linked in as `dbt deps` links a local package, built once."""
    work = tmp_path_factory.mktemp("expectations")
    project = work / "project"
    shutil.copytree(FIXTURE, project)
    (project / "packages.yml").write_text(f"packages:\n  - local: {PACKAGE}\n")
    (project / "dbt_packages").mkdir()
    (project / "dbt_packages" / "expectations").symlink_to(PACKAGE, target_is_directory=True)
    env = {**dbt_env(target), "WAREHOUSE_DB_NAME": test_database, "WAREHOUSE_DBT_TARGET": "dev"}
    command = [dbt_executable(), "build", "--project-dir", str(project), "--profiles-dir", str(PROJECT_ROOT)]
    command += ["--target-path", str(work / "target"), "--log-path", str(work / "logs"), "--threads", "4"]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    run_results = work / "target" / "run_results.json"
    assert run_results.exists(), output[-5000:]
    results = {r["unique_id"].split(".")[2]: r for r in json.loads(run_results.read_text())["results"]}
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    return Build(done.returncode, output, results, manifest)


def test_every_case_ran_with_its_expected_outcome(build: Build) -> None:
    assert set(build.results) == set(EXPECTED) | FIXTURE_NODES, build.output[-5000:]
    for name in FIXTURE_NODES:
        assert build.results[name]["status"] == "success", (name, build.results[name]["message"])
    outcomes = {name: (build.results[name]["status"], build.results[name]["failures"]) for name in EXPECTED}
    expected = {name: ("pass", 0) if failures == 0 else ("fail", failures) for name, failures in EXPECTED.items()}
    assert outcomes == expected
    # dbt build exits 1 because of the failing cases, and for nothing else (checked above).
    assert build.returncode == 1


def _test_macros() -> dict[str, list[str]]:
    """Each `{% test name(model, [column_name,] args...) %}` of the package: its own arguments."""
    found = {}
    for path in sorted((PACKAGE / "macros").glob("*.sql")):
        for name, signature in re.findall(r"{%-?\s*test\s+(\w+)\s*\((.*?)\)\s*-?%}", path.read_text(), re.S):
            arguments = [part.split("=")[0].strip() for part in signature.split(",") if part.strip()]
            found[name] = [a for a in arguments if a not in ("model", "column_name")]
    return found


def test_every_test_of_the_package_has_a_passing_and_a_failing_case(build: Build) -> None:
    macros = _test_macros()
    assert {
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_be_null",
        "expect_compound_columns_to_be_unique",
        "expect_table_row_count_to_be_between",
        "expect_row_values_to_have_recent_data",
        "expect_column_proportion_of_unique_values_to_be_between",
        "expect_column_mean_to_be_between",
    } <= set(macros)
    cases: dict[str, set[str]] = {name: set() for name in macros}
    for node in build.manifest["nodes"].values():
        if node["resource_type"] == "test" and node["name"] in EXPECTED:
            metadata = node["test_metadata"]
            assert metadata["namespace"] == "expectations", node["name"]
            cases[metadata["name"]].add("fail" if EXPECTED[node["name"]] else "pass")
    assert {name: kinds for name, kinds in cases.items() if kinds != {"pass", "fail"}} == {}


def test_every_test_is_documented_with_the_arguments_it_takes(build: Build) -> None:
    macros = build.manifest["macros"]
    for name, arguments in _test_macros().items():
        entry = macros[f"macro.expectations.test_{name}"]
        assert entry["description"].strip(), name
        documented = [argument["name"] for argument in entry["arguments"]]
        assert documented == arguments, name
        assert all(argument["description"].strip() for argument in entry["arguments"]), name


def test_the_failing_rows_are_the_offending_ones(build: Build, target: Target, test_database: str) -> None:
    """The compiled SQL of a failing case, run again: it returns the rows that break the expectation."""

    def rows(case: str) -> list[dict[str, Any]]:
        sql = build.results[case]["compiled_code"]
        conn = connect(target.admin(test_database))
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                names = [column.name for column in cur.description]
                return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            conn.close()

    assert sorted(row["age"] for row in rows("between_fail")) == [-1, 121]
    assert sorted(row["gender"] or "" for row in rows("in_set_fail")) == ["", "Male"]
    assert [row["email"] for row in rows("match_regex_case_fail")] == ["Bob@Example.org"]
    assert [(row["client_id"], row["patient_id"], row["n_records"]) for row in rows("compound_unique_fail")] == [
        ("a", "p1", 2)
    ]
    assert {
        (row["client_id"], row["row_count"], row["expected_row_count"])
        for row in rows("row_count_equal_other_group_by_fail")
    } == {("c", 1, 0), (None, 0, 1)}
    assert [float(row["expression_value"]) for row in rows("mean_fail")] == [220.0]

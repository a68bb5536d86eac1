"""dq/alerts.yml: defaults, the shipped file, and one-line errors naming the file and the field."""

from __future__ import annotations

import pytest

from dq.alerts.config import CONFIG_ENV_VAR, DEFAULT_CONFIG, DqConfig, load_config
from python_tests.conftest import run_cli
from warehouse.errors import WarehouseError


def write(tmp_path, text: str):
    path = tmp_path / "alerts.yml"
    path.write_text(text)
    return path


def test_the_shipped_config_is_valid_and_names_env_vars_only():
    config = load_config(DEFAULT_CONFIG)
    assert {c.type for c in config.alerts.channels} >= {"slack", "teams"}
    assert config.checks.freshness.interval_for("fda_ndc", "product") == 30
    assert config.checks.freshness.interval_for("clinic_emr", "patients") == 1


def test_an_empty_file_means_defaults(tmp_path):
    assert load_config(write(tmp_path, "")) == DqConfig()


def test_the_environment_variable_names_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, "checks:\n  freshness:\n    intervals: {clinic_emr.patients: 7, clinic_emr: 2}\n")
    monkeypatch.setenv(CONFIG_ENV_VAR, str(path))
    freshness = load_config().checks.freshness
    assert freshness.interval_for("clinic_emr", "patients") == 7
    assert freshness.interval_for("clinic_emr", "encounters") == 2
    assert freshness.interval_for("vitals", "readings") == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alerts: [unclosed\n", "not valid YAML at line 2"),
        ("- a list\n", "expected a mapping at the top level"),
        ("alerts:\n  suppres_hours: 3\n", "alerts.suppres_hours: unknown field (typo?)"),
        ("checks:\n  volume: {min_history: 9, history_files: 4}\n", "checks.volume: min_history must not exceed"),
        (
            "alerts:\n  channels:\n    - {type: slack, webhook_url_env: 'https://hooks.example/T000/B000/XXX'}\n",
            "alerts.channels.0.slack.webhook_url_env: must name an environment variable",
        ),
        ("alerts:\n  channels:\n    - {type: pager, to: x}\n", "alerts.channels.0: Input tag 'pager'"),
        (
            "alerts:\n  channels:\n    - {type: email, host: h, from: a@b, to: [c@d], password_env: PW}\n",
            "password_env needs a username",
        ),
        ("report:\n  docs_url: javascript:alert(1)\n", "report.docs_url: must be an http(s):// or file:// URL"),
    ],
)
def test_a_bad_config_is_one_line_naming_file_and_field(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(WarehouseError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"dq config {path}: ") and expected in message
    assert "\n" not in message
    assert "hooks.example" not in message, "the pasted secret must not be echoed"


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(CONFIG_ENV_VAR, str(tmp_path / "missing.yml"))
    with pytest.raises(WarehouseError, match="No such file"):
        load_config()


def test_the_cli_reports_a_bad_config_in_one_line_without_a_traceback(tmp_path):
    path = write(tmp_path, "alerts:\n  retry: {attempts: 0}\n")
    for command in ("report", "alert", "check"):
        result = run_cli("dq", command, "--config", str(path))
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f"error: dq config {path}: alerts.retry.attempts: Input should be greater than or equal to 1"
        ]


def test_an_unreachable_database_is_one_line(tmp_path):
    env = {"WAREHOUSE_DB_URL": "postgresql://nobody:x@127.0.0.1:1/nowhere", "WAREHOUSE_DB_CONNECT_ATTEMPTS": "1"}
    result = run_cli("dq", "report", "--out", str(tmp_path), env=env)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot read the audit history of nowhere: cannot reach PostgreSQL at 127.0.0.1:1")

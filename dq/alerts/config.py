"""The data-quality configuration: `dq/alerts.yml`, or the file named by WAREHOUSE_ALERTS_CONFIG.

One file holds the checks' settings (freshness intervals per feed, the volume window), the report's
(output folder, docs URL) and the alert channels'. Secrets never live in it: a channel names the
environment variable that holds its webhook URL or SMTP password. Every mistake is one line naming
the file and the field, as with the feed YAML.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ingest.config import _describe  # the feed configs' one-line error format
from warehouse.errors import WarehouseError

CONFIG_ENV_VAR = "WAREHOUSE_ALERTS_CONFIG"
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "alerts.yml"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Strict(BaseModel):
    # A misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _env_name(value: str | None) -> str | None:
    """A secret's field holds the NAME of an environment variable; a URL or password pasted in is refused."""
    if value is not None and not ENV_NAME.match(value):
        raise ValueError("must name an environment variable (e.g. WAREHOUSE_SLACK_WEBHOOK_URL), not hold the secret")
    return value


# ---- checks ------------------------------------------------------------------------------------------
class VolumeCheck(Strict):
    history_files: int = Field(default=7, ge=2, description="previous files of the same feed/entity/client to compare")
    min_history: int = Field(default=3, ge=2, description="fewer previous files than this: no verdict")
    z_threshold: float = Field(default=3.0, gt=0)
    # A steady feed has a tiny deviation; a change smaller than this share of the mean is never an anomaly.
    min_relative_change: float = Field(default=0.25, ge=0)

    @model_validator(mode="after")
    def _history(self) -> VolumeCheck:
        if self.min_history > self.history_files:
            raise ValueError("min_history must not exceed history_files")
        return self


class FreshnessCheck(Strict):
    default_interval_days: float = Field(default=1, gt=0)
    # Per feed (`clinic_emr`) or per feed and entity (`clinic_emr.patients`); the more specific wins.
    intervals: dict[str, Annotated[float, Field(gt=0)]] = {}

    def interval_for(self, feed: str, entity: str) -> float:
        return self.intervals.get(f"{feed}.{entity}", self.intervals.get(feed, self.default_interval_days))


class Checks(Strict):
    # File-level findings (held files, invalid ratios, drift, failed runs) older than this are history, not news.
    window_days: float = Field(default=7, gt=0)
    volume: VolumeCheck = VolumeCheck()
    freshness: FreshnessCheck = FreshnessCheck()


# ---- report ------------------------------------------------------------------------------------------
class Report(Strict):
    out_dir: str = "reports"  # relative paths: to the project root
    docs_url: str = "http://127.0.0.1:8080"  # `make docs`
    # Where readers of an alert open the report (a shared drive, an intranet page); default: the file itself.
    url: str | None = None
    keep_json_copies: bool = True  # reports/runs/dq_report_<time>.json, the machine-readable history

    @field_validator("docs_url")
    @classmethod
    def _docs_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://", "file://")):
            raise ValueError("must be an http(s):// or file:// URL")
        return value.rstrip("/")


# ---- alerts ------------------------------------------------------------------------------------------
class Retry(Strict):
    attempts: int = Field(default=4, ge=1, le=10)
    initial_delay_seconds: float = Field(default=1.0, ge=0)
    max_delay_seconds: float = Field(default=8.0, ge=0)
    # All channels together never take longer than this: alerting must not hold up the pipeline.
    max_total_seconds: float = Field(default=30.0, gt=0, le=600)
    timeout_seconds: float = Field(default=10.0, gt=0)


class Webhook(Strict):
    webhook_url_env: str

    @field_validator("webhook_url_env")
    @classmethod
    def _secret_is_a_name(cls, value: str) -> str:
        return _env_name(value)


class SlackChannel(Webhook):
    type: Literal["slack"]
    name: str = "slack"


class TeamsChannel(Webhook):
    type: Literal["teams"]
    name: str = "teams"
    # messagecard: the classic Office 365 connector; adaptive: a Power Automate / Workflows webhook.
    card: Literal["messagecard", "adaptive"] = "messagecard"


class EmailChannel(Strict):
    type: Literal["email"]
    name: str = "email"
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    subject_prefix: str = "[warehouse dq]"

    @field_validator("password_env")
    @classmethod
    def _secret_is_a_name(cls, value: str | None) -> str | None:
        return _env_name(value)

    @model_validator(mode="after")
    def _auth(self) -> EmailChannel:
        if self.password_env and not self.username:
            raise ValueError("password_env needs a username")
        return self


Channel = Annotated[SlackChannel | TeamsChannel | EmailChannel, Field(discriminator="type")]


class Alerts(Strict):
    # The same finding (check + table + client + file) is not sent again to a channel within this time.
    suppress_hours: float = Field(default=24, ge=0)
    min_severity: Literal["warning", "error"] = "warning"
    max_findings_per_message: int = Field(default=25, ge=1)
    retry: Retry = Retry()
    channels: list[Channel] = []

    @model_validator(mode="after")
    def _unique_names(self) -> Alerts:
        names = [c.name for c in self.channels]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"channel names must be unique; repeated: {', '.join(dupes)}")
        return self


class DqConfig(Strict):
    checks: Checks = Checks()
    report: Report = Report()
    alerts: Alerts = Alerts()


def config_path(path: Path | None = None) -> Path:
    if path is not None:
        return path
    env = os.environ.get(CONFIG_ENV_VAR)
    return Path(env).expanduser() if env else DEFAULT_CONFIG


def load_config(path: Path | None = None) -> DqConfig:
    """Parse and validate the config; any problem is one line naming the file and the field."""
    chosen = config_path(path)
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV_VAR))
    if not chosen.exists() and not explicit:
        return DqConfig()  # no file at all: defaults, no channels
    try:
        data = yaml.safe_load(chosen.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise WarehouseError(f"dq config {chosen}: not valid YAML{at}") from None
    except OSError as exc:
        raise WarehouseError(f"dq config {chosen}: {exc.strerror}") from None
    if data is None:
        return DqConfig()
    if not isinstance(data, dict):
        raise WarehouseError(f"dq config {chosen}: expected a mapping at the top level")
    try:
        return DqConfig.model_validate(data)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise WarehouseError(f"dq config {chosen}: {_describe(errors[0])}{more}") from None

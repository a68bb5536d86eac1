"""What `warehouse dq report`, `warehouse dq alert` and the end of `warehouse run` do, step by step:
read the audit history, run the checks, write the report, send the alerts.

Roles: history is read as `auditor` (audit only); quarantined `_record_id`s and the alert history
(`audit.dq_alerts_sent`) need `loader`, the role that owns quarantine and may create tables in audit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

from dq import history as hist
from dq.alerts.config import DqConfig
from dq.alerts.send import AlertOutcome, SentAlerts, send_alerts
from dq.checks import DEFAULT_THRESHOLD, Finding, Links, feed_thresholds, run_checks
from dq.report_html import render_html
from dq.report_json import HTML_NAME, build_report, write_json
from warehouse.db.connection import connect
from warehouse.db.target import Target
from warehouse.errors import WarehouseError
from warehouse.paths import project_root
from warehouse.private_files import write_text

SAMPLED_CHECKS = ("invalid_ratio", "file_held", "schema_drift")
MAX_SAMPLED_GROUPS = 40
CONNECT_SECONDS = 10.0  # a database that is down must not hold up the end of a failed pipeline for long


@dataclass
class Collected:
    database: str
    history: hist.History | None
    findings: list[Finding]
    samples: dict[tuple[str, str, str | None, str], list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def database_for(target: Target, dbt_target: str = "dev") -> str:
    """The database dbt builds for this target: where both the loader's and dbt's audit tables are."""
    if dbt_target == "ci":
        return target.ci_database
    if dbt_target != "dev":
        raise WarehouseError(f"unknown target {dbt_target!r}: use dev or ci")
    return target.database()


def _project_name() -> str:
    import yaml

    try:
        return str(yaml.safe_load((project_root() / "dbt_project.yml").read_text())["name"])
    except (OSError, KeyError, TypeError, yaml.YAMLError, WarehouseError):
        return "healthcare_warehouse"


def links_for(config: DqConfig) -> Links:
    return Links(config.report.docs_url, _project_name())


def _open(target: Target, role: str, database: str):
    return connect(target.role(role, database), total_seconds=CONNECT_SECONDS)


def collect(
    target: Target,
    database: str,
    config: DqConfig,
    *,
    feeds_dir: Path | None = None,
    extra: list[Finding] | None = None,
    strict: bool = True,
) -> Collected:
    """Run every check. With `strict` an unreadable database is an error (the `dq` commands); without
    it the report and alerts still go out with what is known (the end of a failed pipeline)."""
    notes: list[str] = []
    history = None
    try:
        conn = _open(target, "auditor", database)
        try:
            history = hist.load_history(conn, window_days=config.checks.window_days)
        finally:
            conn.close()
    except (WarehouseError, psycopg2.Error) as exc:
        message = str(exc) if isinstance(exc, WarehouseError) else hist.readable(exc)
        if strict:
            raise WarehouseError(f"cannot read the audit history of {database}: {message}") from None
        notes.append(f"audit history unavailable: {message}")
    try:
        threshold = feed_thresholds(feeds_dir)
    except WarehouseError as exc:
        notes.append(f"feed configs unreadable ({exc}); invalid-ratio threshold {DEFAULT_THRESHOLD:.0%} used")
        threshold = _default_threshold

    links = links_for(config)
    findings = [*(extra or []), *(run_checks(history, config.checks, links, threshold) if history else [])]
    collected = Collected(database, history, findings, notes=notes)
    if history is not None:
        _sample(target, collected)
        _sample_failing_tests(target, collected)
    return collected


def _default_threshold(_feed: str, _client: str | None) -> float:
    return DEFAULT_THRESHOLD


def _sample(target: Target, collected: Collected) -> None:
    """`_record_id`s of quarantined rows: for each file finding, and for the largest reason groups."""
    history = collected.history
    assert history is not None
    try:
        conn = _open(target, "loader", collected.database)
    except WarehouseError as exc:
        collected.notes.append(f"no sample keys: {exc}")
        return
    try:
        findings = []
        for f in collected.findings:
            if f.check in SAMPLED_CHECKS and f.feed and f.entity and f.file_sha256:
                ids = hist.sample_record_ids(conn, f.feed, f.entity, f.file_sha256)
                f = dataclasses.replace(f, sample_record_ids=tuple(ids))
            findings.append(f)
        collected.findings = findings
        for q in history.quarantine[:MAX_SAMPLED_GROUPS]:
            key = (q.feed, q.entity, q.client_id, q.reason)
            collected.samples[key] = hist.sample_record_ids(
                conn, q.feed, q.entity, q.latest_file_sha256, reason=q.reason, limit=3
            )
    except psycopg2.Error as exc:
        collected.notes.append(f"no sample keys: {hist.readable(exc)}")
    finally:
        conn.close()


def _sample_failing_tests(target: Target, collected: Collected) -> None:
    """Keys (`_record_id` or `*_key`) of the rows each failing dbt test stored in `audit`, as `auditor`."""
    wanted = [f for f in collected.findings if f.check == "dbt_test" and f.details.get("failures_relation")]
    if not wanted:
        return
    try:
        conn = _open(target, "auditor", collected.database)
    except WarehouseError as exc:
        collected.notes.append(f"no failing-test keys: {exc}")
        return
    try:
        sampled = {id(f): hist.failing_row_keys(conn, str(f.details["failures_relation"])) for f in wanted}
    except psycopg2.Error as exc:
        collected.notes.append(f"no failing-test keys: {hist.readable(exc)}")
        return
    finally:
        conn.close()
    collected.findings = [
        dataclasses.replace(f, sample_record_ids=tuple(sampled[id(f)])) if id(f) in sampled else f
        for f in collected.findings
    ]


def out_dir_for(config: DqConfig, out: Path | None) -> Path:
    chosen = out or Path(config.report.out_dir)
    return chosen if chosen.is_absolute() else project_root() / chosen


def report_url(config: DqConfig, out_dir: Path) -> str:
    return config.report.url or (out_dir / HTML_NAME).resolve().as_uri()


def write_report(collected: Collected, config: DqConfig, out_dir: Path) -> tuple[Path, Path]:
    report = build_report(
        history=collected.history,
        findings=collected.findings,
        config=config,
        database=collected.database,
        links=links_for(config),
        quarantine_samples=collected.samples,
        notes=collected.notes,
    )
    json_paths = write_json(report, out_dir, keep_copy=config.report.keep_json_copies)
    html_path = out_dir / HTML_NAME
    tmp = html_path.with_suffix(".html.tmp")
    write_text(tmp, render_html(report, z_threshold=config.checks.volume.z_threshold))
    tmp.replace(html_path)
    return html_path, json_paths[0]


def alert(target: Target, collected: Collected, config: DqConfig, url: str, log: Callable[[str], None]) -> AlertOutcome:
    """Send; never raises for an unreachable channel or database (those become warning lines)."""
    store = conn = None
    if config.alerts.channels:
        try:
            conn = _open(target, "loader", collected.database)
            store = SentAlerts(conn)
        except (WarehouseError, psycopg2.Error) as exc:
            message = str(exc) if isinstance(exc, WarehouseError) else hist.readable(exc)
            log(f"warning: alert history unavailable ({message}); sending without suppression")
    try:
        outcome = send_alerts(
            collected.findings, config.alerts, report_url=url, database=collected.database, store=store
        )
    finally:
        if conn is not None:
            conn.close()
    for note in outcome.notes:
        log(f"warning: {note}")
    for delivery in outcome.deliveries:
        if delivery.skipped:
            log(f"alert channel {delivery.channel!r} skipped: {delivery.skipped}")
        if delivery.error:
            log(
                f"warning: alert channel {delivery.channel!r} not delivered after {delivery.attempts} "
                f"attempt(s): {delivery.error}"
            )
    log(outcome.summary())
    return outcome

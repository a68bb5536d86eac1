"""Anomaly checks over the audit history, each returning typed findings.

Checks are pure functions of a `History` (what `dq.history` read) and the configuration, so they are
tested without a database. A finding names what an on-call engineer needs: check, table, client, file
and run. Its fingerprint (check + table + client + file + subject) is what alert suppression keys on.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from dq.alerts.config import Checks
from dq.history import FileLoad, History

DEFAULT_THRESHOLD = 0.05  # the loader's default invalid_row_threshold, for feeds without a config


class Severity(StrEnum):
    warning = "warning"
    error = "error"


class Check(StrEnum):
    volume = "volume_anomaly"
    freshness = "client_freshness"
    invalid_ratio = "invalid_ratio"
    file_held = "file_held"
    schema_drift = "schema_drift"
    file_rejected = "file_rejected"
    ingest_failed = "ingest_run_failed"
    dbt_test = "dbt_test"
    dbt_node = "dbt_node_error"
    source_stale = "source_freshness"
    pipeline_failed = "pipeline_failed"


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str
    message: str
    table: str | None = None
    client_id: str | None = None
    file_name: str | None = None
    run_id: str | None = None
    # What inside the table the finding is about when the table alone is ambiguous (a dbt test's id).
    subject: str | None = None
    feed: str | None = None
    entity: str | None = None
    file_sha256: str | None = None
    docs_url: str | None = None
    details: dict[str, object] = field(default_factory=dict)
    sample_record_ids: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        parts = (self.check, self.table or "", self.client_id or "", self.file_name or "", self.subject or "")
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]

    def headline(self) -> str:
        """One line naming check, table, client, file and run: what every alert channel shows."""
        parts = [self.check]
        for label, value in (
            ("table", self.table),
            ("client", self.client_id),
            ("file", self.file_name),
            ("run", self.run_id),
        ):
            if value:
                parts.append(f"{label} {value}")
        return " · ".join(parts) + f": {self.message}"

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["sample_record_ids"] = list(self.sample_record_ids)
        data["fingerprint"] = self.fingerprint
        return data


@dataclass(frozen=True)
class VolumePoint:
    file_name: str
    file_date: str | None
    rows_loaded: int
    mean: float | None
    std: float | None
    anomaly: bool


@dataclass(frozen=True)
class FreshnessRow:
    feed: str
    entity: str
    client_id: str
    newest_file_date: str
    newest_file_name: str
    feed_newest_file_date: str
    lag_days: int
    interval_days: float
    stale: bool
    run_id: str


class Links:
    """Where a model, test or source lives in the dbt docs site (its lineage graph is one click away)."""

    def __init__(self, docs_url: str, project: str = "healthcare_warehouse") -> None:
        self.base = docs_url.rstrip("/")
        self.project = project

    def node(self, unique_id: str | None) -> str | None:
        if not unique_id or "." not in unique_id:
            return None
        return f"{self.base}/#!/{unique_id.split('.', 1)[0]}/{unique_id}"

    def model(self, name: str) -> str:
        return f"{self.base}/#!/model/model.{self.project}.{name}"

    def source(self, feed: str, entity: str) -> str:
        # Each feed is a dbt source of that name whose tables are the raw tables <feed>__<entity>.
        return f"{self.base}/#!/source/source.{self.project}.{feed}.{feed}__{entity}"


Thresholds = Callable[[str, str | None], float]


# The loader stores an undeclared header cell as itself only when it is a plain column name, else as
# "column N (length, shape, id ...)" (ingest/describe.py). Rows written before it did may hold a
# header cell that was a person's name or a record's value: those are not repeated in reports.
_PLAIN_COLUMN = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9_ ]{1,64}$")
_DESCRIBED_COLUMN = re.compile(r"^column \d+ \(\d+ chars?, [a-z+]+, id [0-9a-f]+\)$")


def _drift_column(cell: str) -> str:
    if _PLAIN_COLUMN.match(cell) or _DESCRIBED_COLUMN.match(cell):
        return cell
    return f"a column not shown ({len(cell)} chars, recorded before header cells were described)"


def _about_file(
    links: Links, feed: str, entity: str, client_id: str | None, file_name: str, run_id: str, sha: str | None = None
) -> dict[str, object]:
    """The fields every file-level finding fills the same way."""
    return {
        "table": f"{feed}__{entity}", "client_id": client_id, "file_name": file_name, "run_id": run_id,
        "feed": feed, "entity": entity, "file_sha256": sha, "docs_url": links.source(feed, entity),
    }  # fmt: skip


def _ordered(loads: Iterable[FileLoad]) -> list[FileLoad]:
    return sorted(loads, key=lambda x: (x.file_date or x.recorded_at.date(), x.file_seq or 0, x.recorded_at))


def _recent(history: History, when: datetime, config: Checks) -> bool:
    return when >= history.now - timedelta(days=config.window_days)


def _volume(history: History, config: Checks) -> dict[tuple[str, str, str | None], list[tuple[FileLoad, VolumePoint]]]:
    groups: dict[tuple[str, str, str | None], list[FileLoad]] = defaultdict(list)
    for load in history.file_loads:
        if load.status == "loaded":
            groups[(load.feed, load.entity, load.client_id)].append(load)
    volume = config.volume
    series = {}
    for key, loads in sorted(groups.items(), key=lambda item: tuple(str(x) for x in item[0])):
        points = []
        ordered = _ordered(loads)
        for i, load in enumerate(ordered):
            previous = [p.rows_loaded for p in ordered[max(0, i - volume.history_files) : i]]
            mean = std = None
            anomaly = False
            if len(previous) >= volume.min_history:
                mean = sum(previous) / len(previous)
                std = math.sqrt(sum((p - mean) ** 2 for p in previous) / (len(previous) - 1))
                change = abs(load.rows_loaded - mean)
                beyond = change > volume.z_threshold * std if std > 0 else change > 0
                anomaly = beyond and change > volume.min_relative_change * max(mean, 1.0)
            file_date = load.file_date.isoformat() if load.file_date else None
            points.append((load, VolumePoint(load.file_name, file_date, load.rows_loaded, mean, std, anomaly)))
        series[key] = points
    return series


def volume_series(history: History, config: Checks) -> dict[tuple[str, str, str | None], list[VolumePoint]]:
    """Rows loaded per file of each feed/entity/client, each against the trailing mean and deviation
    of the previous `history_files` files. Held files are left out: they load nothing by design and
    have findings of their own."""
    return {key: [point for _, point in pairs] for key, pairs in _volume(history, config).items()}


def check_volume(history: History, config: Checks, links: Links) -> list[Finding]:
    """Only each group's newest file can raise a finding: older anomalies are history on the chart."""
    findings = []
    for (feed, entity, client), pairs in _volume(history, config).items():
        load, last = pairs[-1]
        if not last.anomaly or not _recent(history, load.recorded_at, config):
            continue
        direction = "more" if last.rows_loaded > (last.mean or 0) else "fewer"
        compared = min(len(pairs) - 1, config.volume.history_files)
        findings.append(
            Finding(
                check=Check.volume,
                severity=Severity.warning,
                message=(
                    f"{last.rows_loaded} rows loaded, {direction} than the mean {last.mean:.1f} "
                    f"(sd {last.std:.1f}) of the previous {compared} files"
                ),
                details={"rows_loaded": last.rows_loaded, "mean": last.mean, "std": last.std},
                **_about_file(links, feed, entity, client, load.file_name, load.run_id, load.file_sha256),
            )
        )
    return findings


def freshness_rows(history: History, config: Checks) -> list[FreshnessRow]:
    """Each client's newest file date per feed/entity against the newest any client delivered: a client
    that lags by its expected interval or more has missed a delivery the others made."""
    feed_newest: dict[tuple[str, str], object] = {}
    for d in history.deliveries:
        key = (d.feed, d.entity)
        feed_newest[key] = max(feed_newest.get(key, d.newest_file_date), d.newest_file_date)
    rows = []
    for d in history.deliveries:
        newest = feed_newest[(d.feed, d.entity)]
        lag = (newest - d.newest_file_date).days
        interval = config.freshness.interval_for(d.feed, d.entity)
        row = FreshnessRow(
            d.feed, d.entity, d.client_id, d.newest_file_date.isoformat(), d.newest_file_name,
            newest.isoformat(), lag, interval, lag >= interval, d.run_id,
        )  # fmt: skip
        rows.append(row)
    return rows


def check_freshness(history: History, config: Checks, links: Links) -> list[Finding]:
    return [
        Finding(
            check=Check.freshness,
            severity=Severity.warning,
            message=(
                f"no file since {row.newest_file_date}; other clients delivered up to {row.feed_newest_file_date} "
                f"({row.lag_days} day(s) behind, expected every {row.interval_days:g} day(s))"
            ),
            details={"lag_days": row.lag_days, "interval_days": row.interval_days},
            **_about_file(links, row.feed, row.entity, row.client_id, row.newest_file_name, row.run_id),
        )
        for row in freshness_rows(history, config)
        if row.stale
    ]


def check_files(history: History, config: Checks, links: Links, threshold: Thresholds) -> list[Finding]:
    """Recent files above their feed's invalid-row threshold, other held files, drift and rejections."""
    findings = []
    drifted = {(d.feed, d.entity, d.file_sha256) for d in history.drift}
    for load in _ordered(history.file_loads):
        if not _recent(history, load.recorded_at, config):
            continue
        common = _about_file(
            links, load.feed, load.entity, load.client_id, load.file_name, load.run_id, load.file_sha256
        )
        limit = threshold(load.feed, load.client_id)
        ratio = load.file_invalid_ratio
        if ratio is not None and ratio > limit:
            held = " (file held: none of it reached raw)" if load.status == "held" else ""
            findings.append(
                Finding(
                    check=Check.invalid_ratio,
                    severity=Severity.error,
                    message=(
                        f"{ratio:.1%} of rows invalid ({load.rows_invalid} of "
                        f"{load.rows_read - load.rows_filtered}), above the {limit:.0%} threshold{held}"
                    ),
                    details={"invalid_ratio": ratio, "threshold": limit, "status": load.status},
                    **common,
                )
            )
        elif load.status == "held" and (load.feed, load.entity, load.file_sha256) not in drifted:
            findings.append(
                Finding(
                    check=Check.file_held,
                    severity=Severity.error,
                    message=f"file held: {load.reason or 'no reason recorded'}",
                    details={"status": load.status},
                    **common,
                )
            )
    # A drift finding lasts as long as its cause: the file's latest outcome is still that version held.
    # Once it loads (the config was fixed, or --force), or a new version replaces it, the finding clears.
    still_held = {(f.feed, f.entity, f.file_sha256) for f in history.file_loads if f.status == "held"}
    for d in history.drift:
        if (d.feed, d.entity, d.file_sha256) not in still_held:
            continue
        extra = [_drift_column(c) for c in d.extra_columns]
        findings.append(
            Finding(
                check=Check.schema_drift,
                severity=Severity.error,
                message=(
                    "file held for schema drift: missing columns "
                    f"[{', '.join(d.missing_columns)}], extra columns [{', '.join(extra)}]"
                    " (`warehouse ingest --explain`)"
                ),
                details={"missing_columns": list(d.missing_columns), "extra_columns": extra},
                **_about_file(links, d.feed, d.entity, d.client_id, d.file_name, d.run_id, d.file_sha256),
            )
        )
    for load in history.other_loads:
        findings.append(
            Finding(
                check=Check.file_rejected,
                severity=Severity.error,
                message=f"file {load.status}: {load.reason or 'no reason recorded'}",
                table=load.table if load.entity else load.feed,
                client_id=load.client_id,
                file_name=load.file_name,
                run_id=load.run_id,
                feed=load.feed,
                entity=load.entity or None,
            )
        )
    return findings


def check_ingest_runs(history: History, config: Checks) -> list[Finding]:
    return [
        Finding(
            check=Check.ingest_failed,
            severity=Severity.error,
            message=f"ingest run failed: {run.error or 'no error recorded'}",
            run_id=run.run_id,
            # Re-runs of the same input share a run id; the start time tells the failures apart.
            subject=run.started_at.isoformat(),
            details={"started_at": run.started_at.isoformat(), "files_seen": run.files_seen},
        )
        for run in history.ingest_runs
        if run.status == "failed" and _recent(history, run.started_at, config)
    ]


def check_dbt(history: History, links: Links) -> list[Finding]:
    """Non-passing nodes of the latest `dbt build`, and stale sources of the latest freshness check."""
    findings = []
    for node in history.build_problems:
        if node.resource_type == "test":
            model = node.attached_node.rsplit(".", 1)[-1] if node.attached_node else None
            severity = Severity.warning if node.status == "warn" else Severity.error
            column = f" on column {node.column_name}" if node.column_name else ""
            findings.append(
                Finding(
                    check=Check.dbt_test,
                    severity=severity,
                    message=f"test {node.node_name}{column}: {node.status} ({node.failures or 0} failing rows)",
                    table=model,
                    run_id=node.invocation_id,
                    subject=node.unique_id,
                    docs_url=links.node(node.attached_node) or links.node(node.unique_id),
                    details={
                        "test": node.node_name,
                        "test_name": node.test_name,
                        "status": node.status,
                        "failures": node.failures,
                        "column": node.column_name,
                        "unique_id": node.unique_id,
                        "test_docs_url": links.node(node.unique_id),
                        "failures_relation": node.failures_relation,
                    },
                )
            )
        else:
            # Model errors carry no message here: a database error can quote the value it failed on.
            findings.append(
                Finding(
                    check=Check.dbt_node,
                    severity=Severity.error,
                    message=f"{node.resource_type} {node.node_name}: {node.status} (see logs/dbt.log)",
                    table=node.node_name,
                    run_id=node.invocation_id,
                    subject=node.unique_id,
                    docs_url=links.node(node.unique_id),
                    details={"status": node.status, "unique_id": node.unique_id},
                )
            )
    for source in history.source_freshness:
        if source.status in ("pass", "success"):
            continue
        age = f"{source.age_seconds / 3600:.1f} h" if source.age_seconds is not None else "unknown age"
        limit = source.error_after_hours if source.status != "warn" else source.warn_after_hours
        findings.append(
            Finding(
                check=Check.source_stale,
                severity=Severity.warning if source.status == "warn" else Severity.error,
                message=f"source {source.source_name}.{source.table_name}: {source.status}, newest row {age} old"
                + (f" (limit {limit:g} h)" if limit else ""),
                table=source.table_name,
                run_id=source.invocation_id,
                subject=source.unique_id,
                docs_url=links.node(source.unique_id),
                details={"status": source.status, "age_seconds": source.age_seconds},
            )
        )
    return findings


def run_checks(history: History, config: Checks, links: Links, threshold: Thresholds) -> list[Finding]:
    findings = [
        *check_files(history, config, links, threshold),
        *check_freshness(history, config, links),
        *check_volume(history, config, links),
        *check_ingest_runs(history, config),
        *check_dbt(history, links),
    ]
    order = {Severity.error: 0, Severity.warning: 1}
    return sorted(findings, key=lambda f: (order[Severity(f.severity)], f.check, f.table or "", f.client_id or ""))


def pipeline_failure(step: str, error: str, run_id: str | None) -> Finding:
    return Finding(
        check=Check.pipeline_failed,
        severity=Severity.error,
        message=f"`warehouse run` failed at {step}: {error}",
        table=step,
        run_id=run_id,
        subject=run_id,
        details={"step": step},
    )


def feed_thresholds(feeds_dir=None) -> Thresholds:
    """The loader's own invalid-row thresholds (feed level, client overrides); unknown feeds: the default."""
    from ingest.config import load_feeds

    feeds = load_feeds(feeds_dir)

    def threshold(feed: str, client_id: str | None) -> float:
        config = feeds.get(feed)
        if config is None:
            return DEFAULT_THRESHOLD
        return config.threshold_for(client_id) if client_id else config.invalid_row_threshold

    return threshold

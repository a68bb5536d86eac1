"""The machine-readable report (`dq_report.json`): the same content the HTML shows, as plain data.

The HTML is rendered from this dictionary, so the two never disagree. Only names, counts, dates,
reason codes, run ids and `_record_id`s go in: nothing read from a data column.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path

from dq.alerts.config import DqConfig
from dq.checks import Finding, Links, freshness_rows, volume_series
from dq.history import History
from warehouse.private_files import private_dir, write_text

SCHEMA_VERSION = 1
JSON_NAME = "dq_report.json"
HTML_NAME = "dq_report.html"
# What the report folder holds: reports, their history, and the temporary files they are written to.
REPORT_ENTRIES = {JSON_NAME, HTML_NAME, "runs", f"{JSON_NAME}.tmp", "dq_report.html.tmp"}
MAX_VOLUME_CHARTS = 60


def _iso(value: object) -> object:
    return value.isoformat() if isinstance(value, (datetime, date)) else value


def build_report(
    *,
    history: History | None,
    findings: list[Finding],
    config: DqConfig,
    database: str,
    links: Links,
    quarantine_samples: dict[tuple[str, str, str | None, str], list[str]] | None = None,
    notes: list[str] | None = None,
    generated_at: datetime | None = None,
) -> dict[str, object]:
    """`history` is None when the database could not be read (the pipeline's failure is still reported)."""
    generated = generated_at or datetime.now(UTC)
    by_check: dict[str, int] = {}
    for finding in findings:
        by_check[finding.check] = by_check.get(finding.check, 0) + 1
    report: dict[str, object] = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": generated.isoformat(),
        "database": database,
        "docs_url": config.report.docs_url,
        "window_days": config.checks.window_days,
        "summary": {
            "findings": len(findings),
            "errors": sum(f.severity == "error" for f in findings),
            "warnings": sum(f.severity == "warning" for f in findings),
            "by_check": dict(sorted(by_check.items())),
        },
        "notes": [*(notes or []), *(history.notes if history else [])],
        "findings": [f.to_dict() for f in findings],
        "tests_over_time": [],
        "failing_tests": [],
        "volume": [],
        "quarantine": [],
        "freshness": [],
        "source_freshness": [],
        "ingest_runs": [],
        "schema_drift": [],
    }
    if history is None:
        return report
    samples = quarantine_samples or {}
    report["tests_over_time"] = [
        {"invocation_id": run.invocation_id, "command": run.command, "started_at": _iso(run.started_at), **run.counts}
        for run in history.test_runs
    ]
    report["latest_build"] = {"invocation_id": history.latest_build, "started_at": _iso(history.latest_build_at)}
    report["failing_tests"] = [
        {
            "unique_id": f.details.get("unique_id"),
            "test": f.details.get("test"),
            "test_name": f.details.get("test_name"),
            "model": f.table,
            "column": f.details.get("column"),
            "status": f.details.get("status"),
            "failures": f.details.get("failures"),
            "invocation_id": f.run_id,
            "model_docs_url": f.docs_url,
            "test_docs_url": f.details.get("test_docs_url"),
            # keys of the failing rows dbt stored (store_failures tables in audit): _record_id or *_key only
            "sample_record_ids": list(f.sample_record_ids),
        }
        for f in findings
        if f.check == "dbt_test"
    ]
    volume = []
    for (feed, entity, client), points in volume_series(history, config.checks).items():
        volume.append(
            {
                "feed": feed,
                "entity": entity,
                "client_id": client,
                "table": f"{feed}__{entity}",
                "anomalies": sum(p.anomaly for p in points),
                "points": [asdict(p) for p in points],
            }
        )
    # Charts with an anomaly first, then the rest in name order, up to a page's worth.
    volume.sort(key=lambda v: (-int(v["anomalies"] > 0), v["table"], v["client_id"] or ""))
    report["volume"] = volume[:MAX_VOLUME_CHARTS]
    report["quarantine"] = [
        {
            "feed": q.feed,
            "entity": q.entity,
            "table": f"{q.feed}__{q.entity}",
            "client_id": q.client_id,
            "reason": q.reason,
            "rows": q.rows,
            "files": q.files,
            "latest_file_name": q.latest_file_name,
            "sample_record_ids": samples.get((q.feed, q.entity, q.client_id, q.reason), []),
            "docs_url": links.source(q.feed, q.entity),
        }
        for q in history.quarantine
    ]
    report["freshness"] = [asdict(row) for row in freshness_rows(history, config.checks)]
    report["source_freshness"] = [
        {
            "source": s.source_name,
            "table": s.table_name,
            "status": s.status,
            "max_loaded_at": _iso(s.max_loaded_at),
            "age_hours": round(s.age_seconds / 3600, 2) if s.age_seconds is not None else None,
            "warn_after_hours": s.warn_after_hours,
            "error_after_hours": s.error_after_hours,
            "invocation_id": s.invocation_id,
            "docs_url": links.node(s.unique_id),
        }
        for s in history.source_freshness
    ]
    report["ingest_runs"] = [{k: _iso(v) for k, v in asdict(run).items()} for run in history.ingest_runs]
    report["schema_drift"] = [
        {k: (list(v) if isinstance(v, tuple) else _iso(v)) for k, v in asdict(d).items()} for d in history.drift
    ]
    return report


def write_json(report: dict[str, object], out_dir: Path, *, keep_copy: bool) -> list[Path]:
    """`dq_report.json`, and a timestamped copy under runs/ so the history of reports stays queryable."""
    report_dir(out_dir)
    text = json.dumps(report, indent=2, default=str, ensure_ascii=False)
    written = [out_dir / JSON_NAME]
    if keep_copy:
        stamp = str(report["generated_at"]).replace(":", "").replace("-", "").split(".")[0].split("+")[0]
        written.append(out_dir / "runs" / f"dq_report_{stamp}Z.json")
        private_dir(written[-1].parent)
    for path in written:
        tmp = path.with_suffix(".json.tmp")
        write_text(tmp, text)
        tmp.replace(path)  # readers never see half a report
    return written


def report_dir(out_dir: Path) -> Path:
    """The report folder, its owner's only (the reports name quarantine reasons, feeds and keys).
    A folder that already holds anything but reports (`--out .`, a shared folder) keeps its mode:
    only the report files in it are private then."""
    if out_dir.exists() and any(entry.name not in REPORT_ENTRIES for entry in out_dir.iterdir()):
        return out_dir
    return private_dir(out_dir)

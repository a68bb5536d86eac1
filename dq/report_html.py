"""The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched).

Rendered from the JSON report's dictionary. Every value passes through `esc` on its way into the
page and every link through `_href`, so a strange feed, client or test name cannot inject markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dq.svg import Point, esc, hbars, line_chart, stacked_bars

TEST_STATUSES = ("pass", "warn", "fail", "error", "skipped")

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #212121; }
h1 { margin-bottom: 4px; } h2 { border-bottom: 2px solid #e0e0e0; padding-bottom: 4px; margin-top: 32px; }
.meta { color: #616161; } .note { background: #fff8e1; padding: 6px 10px; margin: 4px 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #e0e0e0; padding: 4px 8px; text-align: left; vertical-align: top; }
td { overflow-wrap: anywhere; max-width: 420px; }
th { background: #f5f5f5; } td.num { text-align: right; }
.badge { display: inline-block; padding: 2px 8px; border-radius: 10px; color: #fff; font-size: 12px; }
.error { background: #c62828; } .warning { background: #f9a825; color: #212121; } .ok { background: #2e7d32; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #e0e0e0; padding: 6px; border-radius: 4px; }
.card h3 { font-size: 12px; margin: 0 0 4px 0; font-weight: 600; }
.keys { font-family: ui-monospace, monospace; font-size: 12px; color: #424242; }
nav a { margin-right: 12px; }
"""

SECTIONS = (
    ("findings", "Findings"),
    ("tests-over-time", "dbt test results over time"),
    ("failing-tests", "Failing and warning tests"),
    ("anomalies", "Row volume anomalies"),
    ("quarantine", "Quarantine by feed, client and reason"),
    ("freshness", "Freshness per client"),
    ("source-freshness", "dbt source freshness"),
    ("schema-drift", "Schema drift"),
    ("ingest-runs", "Ingest runs"),
)


def _href(url: object) -> str | None:
    text = str(url) if url else ""
    return esc(text) if text.startswith(("http://", "https://", "file://")) else None


def _link(text: object, url: object) -> str:
    href = _href(url)
    return f'<a href="{href}">{esc(text)}</a>' if href else esc(text)


def _cell(value: object) -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, (int, float)):
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        return f'<td class="num">{esc(shown)}</td>'
    return f"<td>{esc(value)}</td>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[object | tuple[str]]]) -> str:
    """Rows of plain values (escaped here) or of ('raw', html) pairs already built by this module."""
    out = ["<table><thead><tr>", *(f"<th>{esc(h)}</th>" for h in headers), "</tr></thead><tbody>"]
    count = 0
    for row in rows:
        count += 1
        out.append("<tr>")
        for value in row:
            if isinstance(value, tuple) and len(value) == 2 and value[0] == "raw":
                out.append(f"<td>{value[1]}</td>")
            else:
                out.append(_cell(value))
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out) if count else "<p>None.</p>"


def _badge(severity: object) -> tuple[str, str]:
    kind = severity if severity in ("error", "warning") else "ok"
    return ("raw", f'<span class="badge {kind}">{esc(severity)}</span>')


def _keys(ids: object) -> tuple[str, str]:
    values = list(ids) if isinstance(ids, list) else []
    return ("raw", f'<span class="keys">{esc(", ".join(map(str, values)))}</span>')


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def _findings(report: dict) -> str:
    rows = [
        (
            _badge(f["severity"]),
            f["check"],
            ("raw", _link(f["table"] or "", f.get("docs_url"))),
            f["client_id"],
            f["file_name"],
            f["run_id"],
            f["message"],
            _keys(f.get("sample_record_ids")),
        )
        for f in report["findings"]
    ]
    headers = ("severity", "check", "table", "client", "file", "run", "what", "sample _record_ids")
    return _table(headers, rows)


def _tests_over_time(report: dict) -> str:
    runs = report["tests_over_time"]
    if not runs:
        return "<p>No dbt test results recorded yet.</p>"
    labels = [f"{r['command']} {str(r['started_at'])[:16]}" for r in runs]
    statuses = [s for s in TEST_STATUSES if any(r.get(s) for r in runs)]
    known = (*TEST_STATUSES, "invocation_id", "command", "started_at")
    statuses += sorted({k for r in runs for k in r if k not in known})
    chart = stacked_bars(labels, {s: [int(r.get(s) or 0) for r in runs] for s in statuses}, label="dbt test results")
    rows = [(r["started_at"], r["command"], r["invocation_id"], *(r.get(s) or 0 for s in statuses)) for r in runs[::-1]]
    return chart + _table(("started", "command", "invocation", *statuses), rows)


def _failing_tests(report: dict) -> str:
    latest = report.get("latest_build") or {}
    intro = (
        f"<p>Latest <code>dbt build</code>: {esc(latest.get('invocation_id'))} at {esc(latest.get('started_at'))}. "
        "Model links open the dbt docs page, with the lineage graph one click away.</p>"
        if latest.get("invocation_id")
        else ""
    )
    rows = [
        (
            _badge("warning" if t["status"] == "warn" else "error"),
            ("raw", _link(t["test"], t.get("test_docs_url"))),
            ("raw", _link(t["model"] or "", t.get("model_docs_url"))),
            t["column"],
            t["status"],
            t["failures"],
            t["invocation_id"],
        )
        for t in report["failing_tests"]
    ]
    return intro + _table(("severity", "test", "model (docs)", "column", "status", "failing rows", "invocation"), rows)


def _anomalies(report: dict, z: float) -> str:
    cards = []
    for series in report["volume"]:
        points = [
            Point(p["file_date"] or p["file_name"], p["rows_loaded"], p["mean"], p["std"], p["anomaly"])
            for p in series["points"]
        ]
        title = f"{series['table']} · {series['client_id']}"
        chart = line_chart(points, label=f"rows loaded per file: {title}", z=z)
        flag = ' <span class="badge error">anomaly</span>' if series["anomalies"] else ""
        cards.append(f'<div class="card"><h3>{esc(title)}{flag}</h3>{chart}</div>')
    if not cards:
        return "<p>No loaded files yet.</p>"
    intro = (
        "<p>Rows loaded per file, per feed/entity/client. The band is the trailing mean ± "
        f"{esc(f'{z:g}')} standard deviations of the previous files each point was judged against; "
        "red points are anomalies.</p>"
    )
    return intro + '<div class="cards">' + "".join(cards) + "</div>"


def _quarantine(report: dict) -> str:
    groups = report["quarantine"]
    if not groups:
        return "<p>No quarantined rows.</p>"
    top = [(f"{q['table']} · {q['client_id']} · {q['reason']}", q["rows"]) for q in groups[:25]]
    chart = hbars(top, label="quarantined rows by feed, client and reason")
    rows = [
        (
            ("raw", _link(q["table"], q.get("docs_url"))),
            q["client_id"],
            q["reason"],
            q["rows"],
            q["files"],
            q["latest_file_name"],
            _keys(q.get("sample_record_ids")),
        )
        for q in groups
    ]
    headers = ("table", "client", "reason", "rows", "files", "latest file", "sample _record_ids (latest file)")
    return chart + _table(headers, rows)


def _freshness(report: dict) -> str:
    rows = [
        (
            _badge("warning" if f["stale"] else "ok"),
            f"{f['feed']}__{f['entity']}",
            f["client_id"],
            f["newest_file_date"],
            f["newest_file_name"],
            f["feed_newest_file_date"],
            f["lag_days"],
            f["interval_days"],
        )
        for f in report["freshness"]
    ]
    intro = (
        "<p>Each client's newest file date against the newest date any client delivered for the same "
        "feed and entity; a lag of the expected interval or more is a missed delivery.</p>"
    )
    headers = ("status", "table", "client", "newest file date", "newest file", "feed newest", "lag (days)", "interval")
    return intro + _table(headers, rows)


def _source_freshness(report: dict) -> str:
    rows = [
        (
            _badge("ok" if s["status"] == "pass" else "warning" if s["status"] == "warn" else "error"),
            ("raw", _link(f"{s['source']}.{s['table']}", s.get("docs_url"))),
            s["status"],
            s["age_hours"],
            s["warn_after_hours"],
            s["error_after_hours"],
            s["max_loaded_at"],
        )
        for s in report["source_freshness"]
    ]
    return _table(("", "source", "status", "age (h)", "warn after (h)", "error after (h)", "newest row loaded"), rows)


def _drift(report: dict) -> str:
    rows = [
        (
            f"{d['feed']}__{d['entity']}",
            d["client_id"],
            d["file_name"],
            ", ".join(d["missing_columns"]),
            ", ".join(d["extra_columns"]),
            d["run_id"],
        )
        for d in report["schema_drift"]
    ]
    return _table(("table", "client", "file", "missing columns", "extra columns", "run"), rows)


def _runs(report: dict) -> str:
    rows = [
        (
            _badge("error" if r["status"] == "failed" else "ok"),
            r["run_id"],
            r["started_at"],
            r["ended_at"],
            r["status"],
            r["files_seen"],
            r["files_loaded"],
            r["files_held"],
            r["files_rejected"],
            r["error"],
        )
        for r in report["ingest_runs"]
    ]
    headers = ("", "run", "started", "ended", "status", "seen", "loaded", "held", "rejected", "error")
    return _table(headers, rows)


def render_html(report: dict, *, z_threshold: float = 3.0) -> str:
    summary = report["summary"]
    bodies = {
        "findings": _findings(report),
        "tests-over-time": _tests_over_time(report),
        "failing-tests": _failing_tests(report),
        "anomalies": _anomalies(report, z_threshold),
        "quarantine": _quarantine(report),
        "freshness": _freshness(report),
        "source-freshness": _source_freshness(report),
        "schema-drift": _drift(report),
        "ingest-runs": _runs(report),
    }
    nav = "<nav>" + "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in SECTIONS) + "</nav>"
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in report["notes"])
    head = (
        f'<h1>Data-quality report</h1><p class="meta">database {esc(report["database"])} · generated '
        f"{esc(report['generated_at'])} · dbt docs {_link(report['docs_url'], report['docs_url'])}</p>"
        f'<p id="summary"><span class="badge error">{esc(summary["errors"])} errors</span> '
        f'<span class="badge warning">{esc(summary["warnings"])} warnings</span></p>'
    )
    sections = "".join(_section(anchor, title, bodies[anchor]) for anchor, title in SECTIONS)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No script may run and nothing may load from elsewhere, whatever ends up in the page.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">'
        f"<title>Data-quality report · {esc(report['database'])}</title><style>{CSS}</style></head>"
        f"<body>{head}{nav}{notes}{sections}</body></html>\n"
    )

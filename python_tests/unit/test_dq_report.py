"""The report files: every value escaped, charts as valid inline SVG, nothing loaded from anywhere."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

from dq.alerts.config import DqConfig
from dq.checks import Links, run_checks
from dq.history import DbtTestRun, FileLoad, History, QuarantineCount
from dq.report_html import SECTIONS, render_html
from dq.report_json import build_report, write_json

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
EVIL = '<script>alert("x")</script>"\'&'


def hostile_report() -> dict:
    """A history whose every name tries to break out of the page."""
    loads = [
        FileLoad(
            f"run{d}",
            "feed",
            EVIL,
            EVIL,
            f"{EVIL}_{d}.csv",
            f"sha{d}",
            date(2026, 11, d),
            0,
            rows,
            rows,
            0,
            0,
            0.0,
            "loaded",
            None,
            NOW - timedelta(hours=d),
        )
        for d, rows in zip(range(1, 7), [100, 101, 99, 100, 102, 3], strict=True)
    ]
    history = History(
        NOW,
        file_loads=loads,
        quarantine=[QuarantineCount("feed", EVIL, EVIL, f"range:{EVIL}", 7, 1, "sha1", EVIL)],
        test_runs=[
            DbtTestRun("inv1", "build", NOW - timedelta(days=1), {"pass": 10, "warn": 1}),
            DbtTestRun("inv2", "build", NOW, {"pass": 9, "fail": 2, EVIL: 1}),
        ],
        notes=[EVIL],
    )
    config = DqConfig()
    links = Links(config.report.docs_url)
    findings = run_checks(history, config.checks, links, lambda _f, _c: 0.05)
    assert findings, "the last file is a volume anomaly"
    return build_report(
        history=history,
        findings=findings,
        config=config,
        database=EVIL,
        links=links,
        quarantine_samples={("feed", EVIL, EVIL, f"range:{EVIL}"): ["0123abcd-7"]},
    )


def test_every_value_is_escaped_and_nothing_runs_or_loads():
    page = render_html(hostile_report())
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page
    assert not re.search(r"""<(?:script|link|img|iframe|object|embed)\b""", page, flags=re.IGNORECASE)
    # The only URLs are links (the docs site) and SVG's namespace; nothing is fetched.
    assert not re.search(r"""\bsrc\s*=""", page)
    assert "url(" not in page and "@import" not in page


def test_sections_are_there_and_charts_are_valid_svg():
    page = render_html(hostile_report())
    for anchor, title in SECTIONS:
        assert f'<section id="{anchor}"><h2>{title}</h2>' in page
    charts = re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)
    assert len(charts) >= 3, "tests over time, a volume chart and the quarantine bars"
    for chart in charts:
        ET.fromstring(chart)  # raises on anything malformed, e.g. an unescaped name
    assert "0123abcd-7" in page, "the sample _record_id of the quarantine group"


def test_json_holds_the_same_content_and_a_timestamped_copy(tmp_path):
    report = hostile_report()
    written = write_json(report, tmp_path, keep_copy=True)
    assert written[0] == tmp_path / "dq_report.json"
    assert re.fullmatch(r"dq_report_\d{8}T\d{6}Z\.json", written[1].name) and written[1].parent.name == "runs"
    data = json.loads(written[0].read_text())
    assert data["summary"]["warnings"] == 1 and data["findings"][0]["check"] == "volume_anomaly"
    assert data["volume"][0]["anomalies"] == 1 and data["volume"][0]["points"][-1]["rows_loaded"] == 3
    assert data["tests_over_time"][1]["fail"] == 2
    assert data["quarantine"][0]["sample_record_ids"] == ["0123abcd-7"]


def test_a_report_without_history_still_renders():
    report = build_report(
        history=None,
        findings=[],
        config=DqConfig(),
        database="warehouse",
        links=Links("http://127.0.0.1:8080"),
        notes=["audit history unavailable: down"],
    )
    page = render_html(report)
    assert "audit history unavailable: down" in page and "No dbt test results recorded yet." in page

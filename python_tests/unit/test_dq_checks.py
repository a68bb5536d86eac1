"""The anomaly checks on a hand-made audit history: volume, freshness, invalid ratio, held files,
schema drift, failed runs, dbt tests and source freshness."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dq.alerts.config import Checks
from dq.checks import Links, check_volume, run_checks, volume_series
from dq.history import ClientDelivery, Drift, FileLoad, History, IngestRun, NodeResult, SourceFreshness, deliveries

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
LINKS = Links("http://127.0.0.1:8080")


def load(day: int, rows: int, *, client="acme", status="loaded", ratio=0.01, entity="visits", age_days=0.0, **kw):
    values = {
        "run_id": f"run{day}",
        "feed": "patient_visits",
        "entity": entity,
        "client_id": client,
        "file_name": f"{client}_2026-11-{day:02d}.csv",
        "file_sha256": f"sha{client}{day}",
        "file_date": date(2026, 11, day),
        "file_seq": 0,
        "rows_read": rows,
        "rows_loaded": rows,
        "rows_quarantined": 0,
        "rows_filtered": 0,
        "invalid_ratio": ratio,
        "status": status,
        "reason": None,
        "recorded_at": NOW - timedelta(days=age_days),
    }
    values.update(kw)
    return FileLoad(**values)


def threshold(feed: str, client: str | None) -> float:
    return 0.1 if client == "lenient" else 0.05


def checks(history: History, **config) -> list:
    return run_checks(history, Checks.model_validate(config), LINKS, threshold)


def test_volume_flags_the_newest_file_far_from_the_trailing_mean():
    steady = [load(d, r) for d, r in zip(range(1, 8), [100, 104, 98, 101, 99, 103, 100], strict=True)]
    history = History(NOW, file_loads=[*steady, load(8, 20)])
    (finding,) = check_volume(history, Checks(), LINKS)
    assert finding.check == "volume_anomaly" and finding.file_name == "acme_2026-11-08.csv"
    assert "20 rows loaded, fewer than the mean 100.7" in finding.message
    assert finding.docs_url == (
        "http://127.0.0.1:8080/#!/source/source.healthcare_warehouse.patient_visits.patient_visits__visits"
    )
    points = volume_series(history, Checks())[("patient_visits", "visits", "acme")]
    assert [p.anomaly for p in points] == [False] * 7 + [True]
    assert points[2].mean is None, "fewer than min_history previous files: no verdict"


def test_volume_tolerates_normal_variation_and_small_changes_of_a_flat_series():
    wobbly = [load(d, r) for d, r in zip(range(1, 9), [100, 130, 80, 120, 90, 110, 95, 125], strict=True)]
    assert check_volume(History(NOW, file_loads=wobbly), Checks(), LINKS) == []
    flat = [load(d, 100) for d in range(1, 6)] + [load(6, 110)]
    assert check_volume(History(NOW, file_loads=flat), Checks(), LINKS) == [], "10 % is under min_relative_change"


def test_volume_compares_each_client_with_its_own_history():
    big = [load(d, 1000, client="globex") for d in range(1, 6)]
    small = [load(d, 10) for d in range(1, 6)]
    assert checks(History(NOW, file_loads=big + small)) == []


def test_freshness_flags_a_client_one_interval_behind_the_others():
    rows = [
        ("clinic_emr", "encounters", "acme", "acme_2026-11-20.csv", None, "r3"),
        ("clinic_emr", "encounters", "acme", "acme_2026-11-19.csv", None, "r2"),
        ("clinic_emr", "encounters", "globex", "globex_2026-11-19.csv", None, "r2"),
        ("clinic_emr", "encounters", "initech", "initech_2026-11-20.csv", None, "r3"),
        ("fda_ndc", "product", "fda", "fda_2026-11-01.txt", None, "r1"),
    ]
    history = History(NOW, deliveries=deliveries(rows))
    (finding,) = checks(history)
    assert (finding.check, finding.client_id, finding.table) == ("client_freshness", "globex", "clinic_emr__encounters")
    assert finding.file_name == "globex_2026-11-19.csv" and finding.run_id == "r2"
    assert "no file since 2026-11-19; other clients delivered up to 2026-11-20" in finding.message
    assert checks(history, freshness={"intervals": {"clinic_emr": 2}}) == []


def test_freshness_takes_the_date_from_the_manifest_when_the_name_has_none():
    (delivery,) = deliveries([("f", "e", "acme", "acme_latest.csv", date(2026, 11, 3), "r1")])
    assert delivery == ClientDelivery("f", "e", "acme", date(2026, 11, 3), "acme_latest.csv", "r1")


def test_invalid_ratio_above_the_feed_threshold_is_an_error_and_names_the_file():
    history = History(
        NOW,
        file_loads=[
            load(1, 0, status="held", ratio=1.0, rows_read=50, rows_quarantined=50, rows_loaded=0, rows_held_valid=46),
            load(1, 46, client="lenient", ratio=0.08, rows_read=50, rows_quarantined=4),
            load(2, 50, ratio=0.04),
        ],
    )
    (finding,) = checks(history)
    assert (finding.check, finding.severity, finding.client_id) == ("invalid_ratio", "error", "acme")
    assert finding.file_name == "acme_2026-11-01.csv" and finding.run_id == "run1"
    assert "8.0% of rows invalid (4 of 50), above the 5% threshold (file held" in finding.message


def test_held_files_drift_rejections_and_failed_runs_inside_the_window():
    drift = Drift(
        "run3", "patient_visits", "visits", "acme", "acme_2026-11-03.csv", "shaacme3", ("visit_cost",), ("cost",), NOW
    )
    history = History(
        NOW,
        file_loads=[
            load(2, 0, status="held", ratio=None, reason="empty_file: the file is empty"),
            load(3, 0, status="held", ratio=None, reason="schema drift"),
            load(1, 0, status="held", ratio=None, reason="empty_file", age_days=30),
        ],
        other_loads=[load(4, 0, status="rejected", client=None, file_name="notes.txt", reason="name")],
        drift=[drift],
        ingest_runs=[
            IngestRun("abc", NOW - timedelta(hours=1), None, "failed", 3, 0, 0, 0, "abandoned: killed"),
            IngestRun("old", NOW - timedelta(days=9), None, "failed", 3, 0, 0, 0, "abandoned: killed"),
        ],
    )
    found = {(f.check, f.file_name or f.run_id) for f in checks(history)}
    assert found == {
        ("file_held", "acme_2026-11-02.csv"),
        ("schema_drift", "acme_2026-11-03.csv"),
        ("file_rejected", "notes.txt"),
        ("ingest_run_failed", "abc"),
    }


def test_dbt_tests_and_sources_of_the_latest_runs():
    def node(uid: str, status: str, kind: str = "test") -> NodeResult:
        return NodeResult(
            "inv1",
            uid,
            kind,
            uid.rsplit(".", 1)[-1],
            "model.healthcare_warehouse.patient",
            "birth_year",
            "not_null",
            "warn",
            status,
            3,
            NOW,
        )

    history = History(
        NOW,
        build_problems=[
            node("test.healthcare_warehouse.not_null_patient_birth_year", "warn"),
            node("test.healthcare_warehouse.unique_patient_key", "fail"),
            node("model.healthcare_warehouse.visit", "error", kind="model"),
        ],
        source_freshness=[
            SourceFreshness(
                "inv2",
                "source.healthcare_warehouse.vitals.vitals__readings",
                "vitals",
                "vitals__readings",
                "warn",
                NOW,
                50 * 3600,
                36,
                72,
            ),
            SourceFreshness(
                "inv2",
                "source.healthcare_warehouse.fda_ndc.fda_ndc__product",
                "fda_ndc",
                "fda_ndc__product",
                "pass",
                NOW,
                3600,
                36,
                72,
            ),
        ],
    )
    found = {f.subject: f for f in checks(history)}
    warn = found["test.healthcare_warehouse.not_null_patient_birth_year"]
    assert (warn.check, warn.severity, warn.table, warn.run_id) == ("dbt_test", "warning", "patient", "inv1")
    assert warn.docs_url == "http://127.0.0.1:8080/#!/model/model.healthcare_warehouse.patient"
    assert found["test.healthcare_warehouse.unique_patient_key"].severity == "error"
    assert found["model.healthcare_warehouse.visit"].check == "dbt_node_error"
    stale = found["source.healthcare_warehouse.vitals.vitals__readings"]
    assert stale.check == "source_freshness" and "50.0 h old (limit 36 h)" in stale.message
    assert len(found) == 4


def test_fingerprints_tell_findings_apart_and_stay_the_same_across_runs():
    history = History(NOW, file_loads=[load(1, 0, status="held", ratio=0.5, rows_read=10, rows_quarantined=10)])
    first, again = checks(history)[0], checks(history)[0]
    assert first.fingerprint == again.fingerprint and len(first.fingerprint) == 32
    other = checks(History(NOW, file_loads=[load(2, 0, status="held", ratio=0.5, rows_read=10, rows_quarantined=10)]))
    assert other[0].fingerprint != first.fingerprint

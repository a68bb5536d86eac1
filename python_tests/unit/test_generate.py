"""The demo / test data generator: deterministic, flat in memory, and exactly what the feed YAMLs say."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest.generate import bad_rows
from ingest.generate.clinic_emr import HEADERS as CLINIC_HEADERS
from ingest.generate.fda_ndc import PACKAGE_HEADER, PRODUCT_HEADER
from ingest.generate.geography import RESTRICTED_ZIP3
from ingest.generate.landing import FEEDS, GenerationSummary, generate_landing_zone
from ingest.generate.member_roster import HEADERS as ROSTER_HEADERS
from ingest.generate.patient_visits import HEADERS as VISIT_HEADERS
from ingest.generate.synthea import HEADERS as SYNTHEA_HEADERS
from ingest.generate.vitals import HEADERS as VITALS_HEADERS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FEEDS_DIR = PROJECT_ROOT / "ingest" / "feeds"
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
SYNTHEA_27 = SHARED_DATA / "synthea-27"
FDA_FINISHED = SHARED_DATA / "fda-ndc" / "finished"

GENERATED_HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "clinic_emr": CLINIC_HEADERS,
    "member_roster": ROSTER_HEADERS,
    "patient_visits": VISIT_HEADERS,
    "vitals": VITALS_HEADERS,
    "synthea": SYNTHEA_HEADERS,
    "fda_ndc": {"product": PRODUCT_HEADER, "package": PACKAGE_HEADER},
}


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, GenerationSummary]:
    """One default-sized run shared by the tests that only read it."""
    base = tmp_path_factory.mktemp("generated")
    out, manifest = base / "landing", base / "pii.jsonl"
    summary = generate_landing_zone(out, patients=2000, pii_manifest=manifest)
    return out, manifest, summary


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@cache
def _feed_yaml(feed: str) -> dict[str, Any]:
    return yaml.safe_load((FEEDS_DIR / f"{feed}.yml").read_text(encoding="utf-8"))


def _records(path: Path, fmt: dict[str, Any]) -> list[dict[str, Any]]:
    if fmt["type"] == "ndjson":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    delimiter = "\t" if fmt["type"] == "tsv" else fmt.get("delimiter", ",")
    with path.open(newline="", encoding=fmt.get("encoding", "utf-8")) as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader)
        return [dict(zip(header, row, strict=True)) for row in reader]


def _header(path: Path, fmt: dict[str, Any]) -> list[str]:
    delimiter = "\t" if fmt["type"] == "tsv" else fmt.get("delimiter", ",")
    with path.open(newline="", encoding=fmt.get("encoding", "utf-8")) as fh:
        return next(csv.reader(fh, delimiter=delimiter))


def _invalid(column: dict[str, Any], value: Any, file_date: date) -> bool:
    """The YAML column rules, as a loader applies them (plus: no birth dates after the file date)."""
    if value is None or value == "":
        return bool(column.get("required", False))
    kind = column.get("type", "string")
    try:
        if kind in ("date", "timestamp"):
            parsed = datetime.strptime(value, column["format"])
            if column.get("pii") == "birth_date" and parsed.date() > file_date:
                return True
        elif kind in ("integer", "decimal"):
            if isinstance(value, bool) or (kind == "integer" and isinstance(value, float)):
                return True
            number = int(value) if kind == "integer" else Decimal(str(value))
            if not Decimal(number).is_finite():
                return True
            if ("min" in column and number < column["min"]) or ("max" in column and number > column["max"]):
                return True
    except (ValueError, InvalidOperation, TypeError):
        return True
    return "allowed" in column and str(value) not in column["allowed"]


def _file_date(path: Path) -> date:
    return date.fromisoformat(re.search(r"\d{4}-\d{2}-\d{2}", path.name).group(0))


# ---- determinism and scale ---------------------------------------------------------------------------


def test_same_seed_and_arguments_give_identical_bytes(tmp_path: Path) -> None:
    first = generate_landing_zone(tmp_path / "a", patients=300, days=2, pii_manifest=tmp_path / "a.jsonl")
    second = generate_landing_zone(tmp_path / "b", patients=300, days=2, pii_manifest=tmp_path / "b.jsonl")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert first.files == second.files and first.bad_rows == second.bad_rows

    other = generate_landing_zone(tmp_path / "c", patients=300, days=2, seed=7)
    assert _digest(tmp_path / "c") != _digest(tmp_path / "a")
    assert other.files.keys() == first.files.keys()


def test_rerun_into_the_same_folder_replaces_its_own_files(tmp_path: Path) -> None:
    out = tmp_path / "landing"
    generate_landing_zone(out, patients=100, days=3)
    stranger = out / "clinic_emr" / "patients" / "notes.txt"
    stranger.write_text("not ours")
    summary = generate_landing_zone(out, patients=100, days=1)
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert written == set(summary.files) | {"clinic_emr/patients/notes.txt"}


def test_row_counts_scale_with_patients(landing: tuple[Path, Path, GenerationSummary], tmp_path: Path) -> None:
    big = landing[2]
    small = generate_landing_zone(tmp_path / "small", patients=500)
    for feed, entities in GENERATED_HEADERS.items():
        for entity in entities:
            if feed == "fda_ndc":
                assert small.rows(feed, entity) == big.rows(feed, entity)  # reference data, fixed size
                continue
            ratio = big.rows(feed, entity) / small.rows(feed, entity)
            assert 2.5 < ratio < 6, (feed, entity, ratio)


def test_summary_counts_the_rows_in_the_files(landing: tuple[Path, Path, GenerationSummary]) -> None:
    out, _, summary = landing
    for relative, rows in summary.files.items():
        feed = relative.split("/")[0]
        assert len(_records(out / relative, _feed_yaml(feed)["format"])) == rows, relative
    assert summary.rows() == summary.total_rows == sum(summary.files.values())
    assert summary.rows("clinic_emr") == sum(summary.rows("clinic_emr", e) for e in CLINIC_HEADERS)
    assert summary.patients == 2000 and summary.synthea_patients == 200
    assert summary.dates == (date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20))


def test_memory_stays_flat_as_patients_grow(tmp_path: Path) -> None:
    """Peak RSS of a fresh interpreter for 2k and 12k patients: streaming keeps them close."""
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from ingest.generate.landing import generate_landing_zone\n"
        "generate_landing_zone(Path(sys.argv[1]), patients=int(sys.argv[2]), days=1,\n"
        "                      pii_manifest=Path(sys.argv[1] + '.jsonl'))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"  # KiB on Linux
    )
    peaks = {}
    for patients in (2000, 12000):
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / str(patients)), str(patients)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        peaks[patients] = int(done.stdout.split()[-1])
    # Holding every row of 12k patients would take some 60 MB more; chunks keep the growth to a few.
    assert peaks[12000] - peaks[2000] < 15 * 1024, peaks


# ---- layout ------------------------------------------------------------------------------------------


def test_layout_clients_dates_and_file_names(landing: tuple[Path, Path, GenerationSummary]) -> None:
    out, _, summary = landing
    dates = [d.isoformat() for d in summary.dates]
    names: dict[str, set[str]] = defaultdict(set)
    for relative in summary.files:
        feed, entity, name = relative.split("/")
        names[f"{feed}/{entity}"].add(name)
        pattern = re.compile(_feed_yaml(feed)["file_pattern"])
        assert pattern.match(name), relative
    clients = ("acme", "globex", "initech")
    assert names["clinic_emr/patients"] == {f"{c}_{d}.csv" for c in clients for d in dates}
    assert names["member_roster/members"] == {f"{c}_{d}_{n}.csv" for c in clients for d in dates for n in (1, 2)}
    assert names["patient_visits/visits"] == {f"{c}_{d}_{n}.csv" for c in clients for d in dates for n in (1, 2, 3)}
    assert names["vitals/readings"] == {f"{c}_{d}.ndjson" for c in clients for d in dates}
    assert names["fda_ndc/product"] == {f"fda_{dates[0]}.txt"}
    assert {p.name for p in out.iterdir()} == set(FEEDS)
    fda = (out / "fda_ndc" / "product" / f"fda_{dates[0]}.txt").read_bytes()
    assert fda.count(b"\r\n") == summary.files[f"fda_ndc/product/fda_{dates[0]}.txt"] + 1
    clinic = (out / "clinic_emr" / "patients" / f"acme_{dates[0]}.csv").read_bytes()
    assert b"\r" not in clinic


def test_pii_manifest_must_stay_outside_the_landing_zone(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outside"):
        generate_landing_zone(tmp_path / "out", patients=10, pii_manifest=tmp_path / "out" / "pii.jsonl")


# ---- bad rows ----------------------------------------------------------------------------------------


def test_every_bad_row_kind_occurs(landing: tuple[Path, Path, GenerationSummary]) -> None:
    summary = landing[2]
    assert set(summary.bad_rows) == set(bad_rows.BAD_ROW_KINDS)
    assert all(n > 0 for n in summary.bad_rows.values()), summary.bad_rows
    csv_entities = [e for e in summary.bad_rows_by_entity if not e.startswith(("vitals", "fda_ndc"))]
    assert len(csv_entities) == 12  # every CSV entity but the FDA reference data has an injector
    assert summary.filtered_rows["consent_n"] > 0 and summary.filtered_rows["unlisted_site"] > 0
    total_rows = sum(n for name, n in summary.files.items() if not name.startswith(("fda_ndc", "vitals")))
    bad_csv = sum(sum(summary.bad_rows_by_entity[e].values()) for e in csv_entities)
    assert 0.008 < bad_csv / total_rows < 0.03


def test_rejected_rows_are_exactly_the_invalid_kinds(landing: tuple[Path, Path, GenerationSummary]) -> None:
    """Check every row against its YAML: the invalid ones are the injected invalid kinds, no more, no less.

    Also: duplicate business keys within a file are exactly the injected ones, and no file has more than
    the loader's default 5 % of invalid rows.
    """
    out, _, summary = landing
    for feed in GENERATED_HEADERS:
        spec = _feed_yaml(feed)
        for entity, config in spec["entities"].items():
            columns = config["columns"]
            source = {c["name"]: c["source"] for c in columns}
            invalid = duplicates = 0
            for path in sorted((out / feed / entity).iterdir()):
                records = _records(path, spec["format"])
                day = _file_date(path)
                bad_here = sum(any(_invalid(c, r.get(c["source"]), day) for c in columns) for r in records)
                assert bad_here <= 0.05 * len(records), path
                invalid += bad_here
                keys = Counter(tuple(r.get(source[k]) for k in config["business_key"]) for r in records)
                duplicates += sum(n - 1 for key, n in keys.items() if n > 1 and all(key))
            kinds = summary.bad_rows_by_entity.get(f"{feed}/{entity}", {})
            expected = sum(n for kind, n in kinds.items() if kind in bad_rows.LOADER_REJECTS)
            assert invalid == expected, (feed, entity, invalid, kinds)
            assert duplicates == kinds.get(bad_rows.DUPLICATE_BUSINESS_KEY, 0), (feed, entity)


def test_valid_trick_values_are_written_verbatim(landing: tuple[Path, Path, GenerationSummary]) -> None:
    out = landing[0]
    text = "\n".join(p.read_text(encoding="utf-8") for p in (out / "clinic_emr").rglob("*.csv"))
    assert any(formula in text for formula in bad_rows.FORMULAS)
    assert any(sql in text for sql in bad_rows.SQL_STRINGS)
    reasons = [r["reason"] for p in (out / "clinic_emr" / "encounters").iterdir() for r in _records(p, {"type": "csv"})]
    assert any(" reports " in r or "@" in r or "call back on" in r for r in reasons)


# ---- people, links and conflicts ---------------------------------------------------------------------


def _all(out: Path, feed: str, entity: str) -> list[dict[str, Any]]:
    fmt = _feed_yaml(feed)["format"]
    return [r for p in sorted((out / feed / entity).iterdir()) for r in _records(p, fmt)]


def test_ssn_and_mrn_link_the_feeds(landing: tuple[Path, Path, GenerationSummary]) -> None:
    out = landing[0]
    patients = _all(out, "clinic_emr", "patients")
    members = _all(out, "member_roster", "members")
    national_ids = {m["national_id"] for m in members}
    ssns = {p["ssn"] for p in patients if p["ssn"]}
    assert len(ssns & national_ids) / len(ssns) > 0.8
    ssn_format = re.compile(r"^(?!000|666|9)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")
    assert all(ssn_format.match(s) for s in ssns)

    mrns = {p["patient_id"] for p in patients}
    assert all(re.fullmatch(r"MRN\d{8}", m) for m in mrns if m)
    # A person whose only patients row lost its patient_id (a missing_required bad row) is unknown.
    lost = landing[2].bad_rows_by_entity["clinic_emr/patients"][bad_rows.MISSING_REQUIRED]
    assert all(re.fullmatch(r"M\d{9}", m["member_id"]) for m in members if m["member_id"])
    for feed, entity in (("patient_visits", "visits"), ("vitals", "readings"), ("clinic_emr", "encounters")):
        linked = {r.get("patient_id") for r in _all(out, feed, entity)} - {None, ""}
        assert len(linked - mrns) <= lost, (feed, entity, len(linked - mrns))

    ndcs = {r["PRODUCTNDC"] for r in _all(out, "fda_ndc", "product")}
    prescribed = {r["ndc_code"] for r in _all(out, "clinic_emr", "medications")} - {""}
    assert prescribed <= ndcs


def test_people_look_real_and_conflict_across_feeds(landing: tuple[Path, Path, GenerationSummary]) -> None:
    out = landing[0]
    patients = _all(out, "clinic_emr", "patients")
    members = _all(out, "member_roster", "members")
    zips = [p["zip"] for p in patients]
    assert any(z[:3] in RESTRICTED_ZIP3 for z in zips)
    assert any(z.startswith("0") for z in zips)
    births = [p["birth_date"] for p in patients if re.fullmatch(r"\d{4}-\d{2}-\d{2}", p["birth_date"])]
    assert min(births) < "1936-11-18" and max(births) >= "2024-01-01"  # over-90s and toddlers
    assert len({re.sub(r"\d", "9", p["phone"]) for p in patients if p["phone"]}) >= 4  # phone formats
    assert any(not p["first_name"].isascii() for p in patients)

    clinic_zip = {p["ssn"]: p["zip"] for p in patients if p["ssn"]}
    roster_zip = {m["national_id"]: m["zip"] for m in members if m["national_id"] in clinic_zip}
    differs = sum(clinic_zip[s] != z for s, z in roster_zip.items()) / len(roster_zip)
    assert 0.02 < differs < 0.2

    sexes = defaultdict(set)
    for p in patients:
        sexes[p["patient_id"]].add(p["sex"])
    assert any(len(s) > 1 for s in sexes.values())  # recoded sex between files
    units = defaultdict(set)
    for o in _all(out, "clinic_emr", "observations"):
        if o["code"] in ("29463-7", "WT"):
            units[o["patient_id"]].add(o["unit"])
    assert any({"kg", "[lb_av]"} <= u for u in units.values())


def test_heights_are_steady_and_synthea_bmi_is_consistent(landing: tuple[Path, Path, GenerationSummary]) -> None:
    out = landing[0]
    heights = defaultdict(list)
    for o in _all(out, "clinic_emr", "observations"):
        if o["code"] in ("8302-2", "HT"):
            try:
                value = float(o["value"])
            except ValueError:
                continue
            if value > 0:
                heights[o["patient_id"]].append(value * 2.54 if o["unit"] == "[in_i]" else value)
    spreads = [max(h) - min(h) for h in heights.values() if len(h) > 1]
    assert spreads and max(spreads) < 8  # same person, a few days apart
    assert all(40 < h < 215 for hs in heights.values() for h in hs)

    panels: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for o in _all(out, "synthea", "observations"):
        if o["CODE"] in ("8302-2", "29463-7", "39156-5"):
            try:
                panels[(o["PATIENT"], o["DATE"])][o["CODE"]] = float(o["VALUE"])
            except ValueError:
                continue
    complete = [p for p in panels.values() if len(p) == 3]
    assert len(complete) > 0.9 * len(panels)
    for panel in complete:
        computed = panel["29463-7"] / (panel["8302-2"] / 100) ** 2
        assert abs(computed - panel["39156-5"]) <= 0.051
        assert 10 < panel["39156-5"] < 70


def test_pii_manifest_lists_what_was_written(landing: tuple[Path, Path, GenerationSummary]) -> None:
    out, manifest, summary = landing
    entries = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]
    assert len(entries) == summary.pii_values > 0
    assert all(set(e) == {"kind", "value"} and e["value"] for e in entries)
    listed = {(e["kind"], e["value"]) for e in entries}
    values = {e["value"] for e in entries}
    attacks = bad_rows.ATTACK_STRINGS
    checks = (
        ("clinic_emr", "patients", {"first_name": "first_name", "last_name": "last_name", "ssn": "ssn",
                                    "patient_id": "mrn", "phone": "phone", "email": "email", "zip": "zip",
                                    "birth_date": "birth_date"}),
        ("member_roster", "members", {"first_name": "first_name", "last_name": "last_name",
                                      "member_id": "member_id", "national_id": "ssn",
                                      "date_of_birth": "birth_date"}),
        ("synthea", "patients", {"FIRST": "first_name", "LAST": "last_name", "SSN": "ssn", "Id": "synthea_id"}),
    )  # fmt: skip
    for feed, entity, columns in checks:
        for record in _all(out, feed, entity):
            for column, kind in columns.items():
                value = record[column]
                if value and value not in attacks:
                    assert (kind, value) in listed, (feed, entity, column, value)
    for visit in _all(out, "patient_visits", "visits"):
        assert not visit["patient_id"] or visit["patient_id"] in values
    assert not values & attacks


# ---- the feed YAMLs and the real formats -------------------------------------------------------------


@pytest.mark.parametrize("feed", FEEDS)
def test_feed_yaml_columns_match_what_is_written(feed: str, landing: tuple[Path, Path, GenerationSummary]) -> None:
    out = landing[0]
    spec = _feed_yaml(feed)
    assert spec["feed"] == feed
    assert set(spec["entities"]) == set(GENERATED_HEADERS[feed])
    for entity, config in spec["entities"].items():
        sources = [c["source"] for c in config["columns"]]
        assert sources == list(GENERATED_HEADERS[feed][entity]), (feed, entity)
        for path in sorted((out / feed / entity).iterdir()):
            if spec["format"]["type"] == "ndjson":
                for record in _records(path, spec["format"])[:50]:
                    assert set(record) <= set(sources)
            else:
                assert _header(path, spec["format"]) == sources, path


@pytest.mark.parametrize("feed", FEEDS)
def test_feed_yaml_passes_the_loader_model(feed: str) -> None:
    config = pytest.importorskip("ingest.config", reason="the feed config model is not importable")
    loaded = config.load_feed(FEEDS_DIR / f"{feed}.yml")
    assert loaded.feed == feed


@pytest.mark.skipif(not SYNTHEA_27.exists(), reason=f"reference Synthea export not present at {SYNTHEA_27}")
def test_synthea_headers_equal_the_real_export(landing: tuple[Path, Path, GenerationSummary]) -> None:
    out = landing[0]
    for entity, header in SYNTHEA_HEADERS.items():
        real = (SYNTHEA_27 / f"{entity}.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
        assert list(header) == real, entity
        written = next((out / "synthea" / entity).iterdir())
        assert _header(written, {"type": "csv"}) == real


@pytest.mark.skipif(not FDA_FINISHED.exists(), reason=f"reference FDA NDC files not present at {FDA_FINISHED}")
def test_fda_headers_equal_the_real_directory() -> None:
    for name, header in (("product", PRODUCT_HEADER), ("package", PACKAGE_HEADER)):
        first = (FDA_FINISHED / f"{name}.txt").read_bytes().split(b"\r\n", 1)[0].decode("latin-1")
        assert list(header) == first.split("\t"), name

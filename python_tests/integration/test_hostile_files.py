"""Nothing lost, nothing blocked: one landing zone holds good files and every kind of broken file and
path an attacker or a tired operator produces, and one `warehouse ingest` takes them all in.

Every good file loads; every broken one ends loaded with its damaged rows quarantined (its physical
lines reconcile) or held or rejected with a one-line reason; nothing prints a traceback or an
"unexpected" error; a second run behaves the same."""

from __future__ import annotations

import gzip
import io
import os
import random
import textwrap
import zipfile
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from python_tests.conftest import run_cli
from python_tests.integration.ingest_helpers import HEADER, PEOPLE_FEED, TEST_KEY, row

pytestmark = pytest.mark.integration

LOADED = ("loaded",)
HELD = ("held", "rejected")


@dataclass
class Case:
    feed: str
    name: str  # the file name (matched by the feed's pattern, so it is shown as it is)
    expect: tuple[str, ...]  # statuses it may end in on the first run
    reason: str = ""  # a word the reason holds
    lines: int | None = None  # physical lines (header included) that must reconcile


def good(ids: list[str], *, sep: str = "\n") -> bytes:
    return (sep.join([HEADER, *(row(i) for i in ids)]) + sep).encode()


def zipped(data: bytes, *members: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member in members or ("export.csv",):
            archive.writestr(member, data)
    return buffer.getvalue()


def ndjson(*lines: bytes) -> bytes:
    return b"\n".join(lines) + b"\n"


def person(pid: str, **extra: object) -> bytes:
    import orjson

    record = {"id": pid, "first": "Anna", "last": "Smith", "dob": "1980-05-01", "zip": "02139", "note": "fine",
              "city": "Boston", "height": "170", "visit": "2026-11-01", "plan": "gold", "consent": "Y"}  # fmt: skip
    record.update(extra)
    return orjson.dumps(record)


def feed_yaml(feed: str, fmt: str = "", path: str = "") -> str:
    text = textwrap.dedent(PEOPLE_FEED.format(feed=feed, threshold=0.5))
    if fmt:
        text = text.replace("invalid_row_threshold", f"format:\n  type: {fmt}\ninvalid_row_threshold")
    if path:
        text = text.replace("  people:\n", f"  people:\n    path: {path!r}\n", 1)
    return text


def land_everything(env) -> list[Case]:
    csv_feed, nd_feed, pq_feed, odd_feed = env.feed, f"{env.feed}_nd", f"{env.feed}_pq", f"{env.feed}_odd"
    env.write_feed()
    env.write_feed(feed_yaml(nd_feed, "ndjson"), name=nd_feed)
    env.write_feed(feed_yaml(pq_feed, "parquet"), name=pq_feed)
    env.write_feed(feed_yaml(odd_feed, path="pëople records"), name=odd_feed)
    cases: list[Case] = []
    seq = iter(range(1, 1000))

    def csv_case(content: bytes, expect: tuple[str, ...], reason: str = "", *, lines: int | None = None) -> None:
        name = f"acme_2026-11-01_{next(seq)}.csv"
        env.land(name, content)
        cases.append(Case(csv_feed, name, expect, reason, lines))

    # ---- good files beside them
    for client in ("goodone", "goodtwo"):
        env.land(f"{client}_2026-11-01.csv", good(["G1", "G2", "G3"]))
        cases.append(Case(csv_feed, f"{client}_2026-11-01.csv", LOADED, lines=4))
    csv_case(good(["C1", "C2"], sep="\r\n"), LOADED, lines=3)  # CRLF
    csv_case(good(["R1", "R2"], sep="\r"), LOADED, lines=3)  # CR only (old Mac exports)
    csv_case(b"\xef\xbb\xbf" + good(["B1"]), LOADED, lines=2)  # BOM + header

    # ---- nothing, or nearly nothing
    csv_case(b"", HELD, "empty")
    csv_case((HEADER + "\n").encode(), LOADED, lines=1)  # header only: zero rows
    csv_case(b"   \n\t\n  \r\n", HELD, "empty")
    csv_case(b"\xef\xbb\xbf", HELD, "empty")  # only a BOM
    csv_case(b"\n\n\n", HELD, "empty")
    csv_case("\n".join([row("H1"), row("H2")]).encode() + b"\n", HELD, "no_header")  # the header is missing

    # ---- not text, or text in another dress
    csv_case(random.Random(7).randbytes(20_000), HELD, "not_text")
    csv_case(gzip.compress(good(["Z1", "Z2"])), LOADED, lines=3)  # gzip named .csv
    csv_case(zipped(good(["Z3", "Z4"])), LOADED, lines=3)  # zip named .csv
    csv_case(gzip.compress(good([f"T{i}" for i in range(200)]))[:300], HELD, "gzip")  # truncated gzip
    csv_case(zipped(good(["Z5"]), "a.csv", "b.csv"), HELD, "zip")  # two files in one archive
    csv_case(good(["U1", "U2"]).decode().encode("utf-16"), LOADED, lines=3)  # UTF-16 LE with BOM
    csv_case(b"\xfe\xff" + good(["U3"]).decode().encode("utf-16-be"), LOADED, lines=2)  # UTF-16 BE with BOM
    csv_case(good(["U4"]).decode().encode("utf-32"), LOADED, lines=2)  # UTF-32 with BOM
    csv_case(good(["U5"]).decode().encode("utf-16-le"), HELD, "byte-order mark")  # UTF-16 without BOM
    table = pa.table({"id": ["P1"], "first": ["x"]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    csv_case(buffer.getvalue(), HELD, "not_text")  # Parquet named .csv

    # ---- damaged values and rows
    csv_case(good(["L1", "L2", "L3"]).replace(b"Boston", "Zürich".encode("latin-1"), 1), LOADED, lines=4)
    csv_case(good(["N1", "N2", "N3"]).replace(b"Boston", b"Bos\x00ton", 1), LOADED, lines=4)  # NUL in a value
    csv_case(good(["N4"]).replace(b"city", b"ci\x00ty", 1), HELD, "NUL")  # NUL in the header
    stray = [row(f"S{i}") for i in range(41)]
    stray[5] = row("S5", note='"an open quote')
    csv_case("\n".join([HEADER, *stray]).encode() + b"\n", LOADED, lines=42)  # stray quote mid-file
    stray_eof = [row(f"E{i}") for i in range(6)] + [row("E6", consent='"Y')]
    csv_case("\n".join([HEADER, *stray_eof]).encode() + b"\n", LOADED, lines=8)  # unterminated quote at EOF
    long_run = [row(f"Q{i}") for i in range(300)]
    long_run[1] = row("Q1", note='"runs on')
    csv_case("\n".join([HEADER, *long_run]).encode() + b"\n", LOADED, lines=301)  # past the 100-line bound
    csv_case(b"x" * 10_000_000, HELD, "line")  # a 10 MB single line
    big_row = "\n".join([HEADER, row("W1"), "y" * 10_000_000, row("W2"), row("W3")]) + "\n"
    csv_case(big_row.encode(), LOADED, lines=5)  # a 10 MB line among rows
    csv_case((",".join(f"col_{i}" for i in range(50_000)) + "\n" + ",".join("1" * 50_000) + "\n").encode(), HELD)
    csv_case("\n".join([HEADER, row("F1"), "F2,Anna,Smith", row("F3")]).encode() + b"\n", LOADED, lines=4)
    csv_case("\n".join([HEADER, row("M1"), row("M2") + ",extra,cells", row("M3")]).encode() + b"\n", LOADED, lines=4)
    csv_case("\n".join([HEADER.replace("city", "zip"), row("D1")]).encode() + b"\n", HELD, "duplicate")
    csv_case(("\n".join([HEADER + ",", row("T1") + ",", row("T2") + ","]) + "\n").encode(), LOADED + HELD)
    csv_case(('id,"first,last\n' + row("Q9") + "\n").encode(), HELD)  # the quote left open in the header
    csv_case(good(["V1"]) + b"\n\n\n" + row("V2").encode() + b"\n", LOADED, lines=3)  # blank lines between rows

    # ---- paths
    landing = env.landing / csv_feed / "people"
    (landing / "acme_2026-11-01_900.csv").mkdir()  # a folder named like a file
    os.mkfifo(landing / "acme_2026-11-01_901.csv")
    cases.append(Case(csv_feed, "acme_2026-11-01_901.csv", HELD, "regular"))
    outside = env.root / "outside.csv"
    outside.write_bytes(good(["X1"]))
    (landing / "acme_2026-11-01_902.csv").symlink_to(outside)
    cases.append(Case(csv_feed, "acme_2026-11-01_902.csv", HELD, "landing zone"))
    if os.geteuid() != 0:  # root reads a mode 000 file all the same
        unreadable = env.land("acme_2026-11-01_903.csv", good(["Y1"]))
        unreadable.chmod(0)
        cases.append(Case(csv_feed, "acme_2026-11-01_903.csv", HELD))
    env.land(".acme_2026-11-01_904.csv", good(["Y2"]))  # a dot file: reported, not read
    env.land("acme_2026-11-01_905.csv", good(["Y3"]), entity="allergies")  # an undeclared entity folder
    for name in ("members export (final).csv", "prüfung_2026-11-01.csv", 'it\'s "final".csv'):
        env.land(name, good(["Y4"]))
    odd = env.landing / odd_feed / "pëople records"
    odd.mkdir(parents=True)
    (odd / "acme_2026-11-01.csv").write_bytes(good(["O1", "O2"]))  # a folder with a space and a ë
    cases.append(Case(odd_feed, "acme_2026-11-01.csv", LOADED, lines=3))

    # ---- NDJSON
    def nd_case(content: bytes, expect: tuple[str, ...], reason: str = "", *, lines: int | None = None) -> None:
        name = f"acme_2026-11-01_{next(seq)}.ndjson"
        env.land(name, content, feed=nd_feed)
        cases.append(Case(nd_feed, name, expect, reason, lines))

    nd_case(ndjson(person("J1"), person("J2")), LOADED, lines=3)
    nd_case(ndjson(person("J3"), b'{"id": "J4", "first": ', person("J5")), LOADED, lines=4)  # a broken line
    nd_case(b"[" + person("J6") + b"," + person("J7") + b"]\n", HELD)  # a JSON array, not objects
    nd_case(ndjson(person("J8"), b'{"id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", person("J9")), LOADED)
    nd_case(ndjson(person("J10"), b'{"id": "J11", "height": 1' + b"0" * 5000 + b"}", person("J12")), LOADED)
    nd_case(gzip.compress(ndjson(person("J13"))), LOADED)
    nd_case(ndjson(person("J14"), person("J15", city="Bos\u0000ton"), person("J16")), LOADED)  # NUL in a value
    nd_case(b"", HELD, "empty")
    nd_case(random.Random(8).randbytes(5000), HELD, "not_text")
    nd_case(good(["J17"]).decode().encode("utf-16"), HELD)  # a CSV, in UTF-16, named .ndjson

    # ---- Parquet
    def pq_case(content: bytes, expect: tuple[str, ...], reason: str = "") -> None:
        name = f"acme_2026-11-01_{next(seq)}.parquet"
        env.land(name, content, feed=pq_feed)
        cases.append(Case(pq_feed, name, expect, reason))

    people = pa.table({k: [v] for k, v in __import__("orjson").loads(person("K1")).items()})
    buffer = io.BytesIO()
    pq.write_table(people, buffer)
    pq_case(buffer.getvalue(), LOADED)
    pq_case(buffer.getvalue()[:-40] + b"\x00" * 40, HELD, "Parquet")  # a damaged footer
    pq_case(buffer.getvalue()[:200], HELD, "Parquet")  # truncated
    pq_case(good(["K2"]), HELD, "Parquet")  # a CSV named .parquet
    pq_case(b"", HELD)
    return cases


def ingest_cli(env):
    result = run_cli(
        "ingest", "--feeds-dir", str(env.feeds_dir), "--landing", str(env.landing),
        env={"WAREHOUSE_DB_NAME": env.database, "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY,
             "WAREHOUSE_DLT_DIR": str(env.root / "dlt"), "WAREHOUSE_INGEST_RETRY_SECONDS": "5"},
        timeout=900,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    assert "unexpected" not in output.lower(), output[-3000:]
    assert result.returncode == 0, output[-3000:]
    return result


def last_run(env, feeds: list[str]) -> list[tuple]:
    [(run_id,)] = env.query("select run_id from audit.file_loads order by id desc limit 1")
    return env.query(
        "select feed, file_name, status, reason, rows_read, rows_loaded, rows_quarantined, rows_filtered "
        "from audit.file_loads where run_id = %s and (feed = any(%s) or feed is null) order by id",
        run_id,
        feeds,
    )


def test_one_run_takes_in_every_good_file_beside_every_broken_one(ingest_env):
    env = ingest_env
    cases = land_everything(env)
    assert len(cases) >= 50  # and the paths that are only reported: a dot file, a folder, odd names
    feeds = sorted({c.feed for c in cases})
    for attempt in ("first", "second"):
        ingest_cli(env)
        rows = last_run(env, feeds)
        by_name = {(feed, name): (status, reason, counts) for feed, name, status, reason, *counts in rows}
        for _feed, name, status, reason, *_ in rows:
            if status not in ("loaded", "unchanged"):
                assert reason and "\n" not in reason and "unexpected" not in reason.lower(), (name, reason)
        problems = []
        for case in cases:
            found = by_name.get((case.feed, case.name))
            if found is None:
                problems.append(f"{case.name}: not reported")
                continue
            status, reason, (read, loaded, quarantined, filtered) = found
            # A second run finds the same files unchanged, those held repeating why ("held earlier (...)").
            expected = case.expect + (("unchanged",) if attempt == "second" else ())
            if status not in expected:
                problems.append(f"{case.name}: {status} ({reason}), expected {' or '.join(expected)}")
            elif case.reason and status != "loaded" and case.reason.lower() not in (reason or "").lower():
                problems.append(f"{case.name}: reason {reason!r} does not say {case.reason!r}")
            if status == "loaded":
                assert read == loaded + quarantined + filtered, (case.name, found)
                if case.lines is not None and read + 1 != case.lines:
                    problems.append(f"{case.name}: {read} rows read for {case.lines - 1} lines after the header")
        assert not problems, f"{attempt} run:\n" + "\n".join(problems)
        # Paths that are only reported (a dot file, an undeclared folder, names off the pattern).
        rejected = [r for r in rows if r[2] == "rejected"]
        assert len(rejected) >= 5, rows
    # The good files, each of their rows, are in raw; the damaged regions in quarantine, with reasons.
    raw_ids = env.query(f'select count(*) from raw."{env.feed}__people"')[0][0]
    assert raw_ids > 300
    reasons = {r for (r,) in env.query(f'select distinct _reasons from quarantine."{env.feed}__people"')}
    assert any(r.startswith("unterminated_quote") for r in reasons), reasons
    assert any(r.startswith("invalid_utf8") for r in reasons), reasons
    assert any(r.startswith("record_too_long") for r in reasons), reasons


def test_a_file_the_loader_cannot_read_is_rejected_and_the_others_load(ingest_env, monkeypatch):
    """Mode 000 as another user than root (root reads it all the same), or removed once listed."""
    import ingest.loader

    env = ingest_env
    env.write_feed()
    env.land("acme_2026-11-01.csv", good(["P1"]))
    env.land("acme_2026-11-02.csv", good(["P2"]))
    hash_file = ingest.loader.sha256_of

    def unreadable(landed):
        if landed.name == "acme_2026-11-01.csv":
            raise PermissionError(13, "Permission denied")
        return hash_file(landed)

    monkeypatch.setattr(ingest.loader, "sha256_of", unreadable)
    report = env.ingest()
    outcomes = sorted((f.file_name, f.status, f.reason) for f in report.files)
    assert outcomes == [
        ("acme_2026-11-01.csv", "rejected", "cannot be read: Permission denied"),
        ("acme_2026-11-02.csv", "loaded", None),
    ]

"""The landing zone as found in the field: folders and client ids with spaces, quotes and non-ASCII
letters; symbolic links and feed `landing:` paths leading out of the zone; a pattern that backtracks;
dev and ci loading side by side from one dlt working folder."""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from ingest.config import load_feed
from python_tests.conftest import PROJECT_ROOT, WAREHOUSE_BIN
from python_tests.integration.ingest_helpers import HEADER, PEOPLE_FEED, TEST_KEY, IngestEnv, row
from warehouse.errors import WarehouseError

pytestmark = pytest.mark.integration

ROWS = "\n".join([HEADER, row("P1"), row("P2", first="Ben", last="Jones")]) + "\n"
# A client id of any characters but `_` and `/`: quotes and non-ASCII letters come in through it.
ANY_CLIENT = r"^(?P<client_id>[^_/]+)_(?P<file_date>\d{4}-\d{2}-\d{2})\.csv$"


def people_feed(name: str, **top: str) -> str:
    extra = "".join(f"{key}: {value}\n" for key, value in top.items())
    return textwrap.dedent(PEOPLE_FEED.format(feed=name, threshold=0.5)) + extra


def statuses(report) -> dict[str, tuple[str, str | None]]:
    return {f.file_name: (f.status, f.reason) for f in report.files}


def start_ingest(database: str, work_dir: Path, landing: Path, feeds: Path, *extra: str) -> subprocess.Popen:
    env = {
        **os.environ, "WAREHOUSE_DB_NAME": database, "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY,
        "WAREHOUSE_DLT_DIR": str(work_dir), "WAREHOUSE_INGEST_RETRY_SECONDS": "5",
    }  # fmt: skip
    return subprocess.Popen(
        [WAREHOUSE_BIN, "ingest", "--landing", str(landing), "--feeds-dir", str(feeds), *extra],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish(proc: subprocess.Popen) -> tuple[str, str]:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "Traceback" not in out + err, err
    return out, err


def test_two_databases_ingest_at_once_from_one_dlt_folder(tmp_path, scratch_database):
    """dev and ci share WAREHOUSE_DLT_DIR: each database gets a folder of its own under it, so two
    ingests run side by side and neither reads the other's cached dlt schema afterwards."""
    dev, ci = scratch_database(), scratch_database()
    feeds, landing, work = tmp_path / "feeds", tmp_path / "landing", tmp_path / "dlt"
    feeds.mkdir()
    for name in ("side_a", "side_b"):
        (feeds / f"{name}.yml").write_text(people_feed(name))
        for day in range(1, 4):
            folder = landing / name / "people"
            folder.mkdir(parents=True, exist_ok=True)
            rows = [row(f"P{day}{i}", first="Ann", last="Lee") for i in range(3000)]
            (folder / f"acme_2026-11-0{day}.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    both = [start_ingest(db, work, landing, feeds) for db in (dev, ci)]
    for proc in both:
        finish(proc)
    assert {p.name for p in work.iterdir()} >= {dev, ci}
    # Alternating, each time loading again (dlt's schema of the other database is not this one's).
    for database in (dev, ci, dev):
        out, _ = finish(start_ingest(database, work, landing, feeds, "--force"))
        assert out.rstrip().endswith("6 loaded")


def test_spaces_quotes_and_non_ascii_letters_in_folders_files_and_client_ids(ingest_env: IngestEnv):
    env = ingest_env
    landing = env.root / "landing dir" / "Zoë's files"
    env.write_feed(people_feed(env.feed, file_pattern=f"'{ANY_CLIENT}'"))
    folder = landing / env.feed / "people"
    folder.mkdir(parents=True)
    names = ["acme_2026-11-01.csv", "north'east_2026-11-02.csv", "zürich_2026-11-03.csv", 'say "hi"_2026-11-04.csv']
    for number, name in enumerate(names):
        (folder / name).write_text("\n".join([HEADER, row(f"P{number}")]) + "\n")
    report = env.ingest(landing_root=str(landing))
    assert {name: status for name, (status, _) in statuses(report).items()} == dict.fromkeys(names, "loaded")
    clients = {r[0] for r in env.query(f'select distinct _client_id from raw."{env.feed}__people"')}
    assert clients == {"acme", "north'east", "zürich", 'say "hi"'}
    # Again: recognised by SHA-256 under the same odd names.
    assert {f.status for f in env.ingest(landing_root=str(landing)).files} == {"unchanged"}
    # The same folder as a file:// URL (percent-encoded) lists and opens the same files.
    report = env.ingest(landing_root=landing.as_uri(), force=True)
    assert {f.status for f in report.files} == {"loaded"}


def test_links_out_of_the_landing_zone_are_rejected_and_the_rest_loads(ingest_env: IngestEnv):
    env = ingest_env
    env.write_feed()
    outside = env.root / "outside"
    (outside / "folder").mkdir(parents=True)
    secret = "\n".join([HEADER, row("P9", city="Outside")]) + "\n"
    (outside / "acme_2026-11-05.csv").write_text(secret)
    (outside / "folder" / "acme_2026-11-06.csv").write_text(secret)
    good = env.land("acme_2026-11-01.csv", ROWS)
    folder = good.parent
    (folder / "acme_2026-11-02.csv").symlink_to(outside / "acme_2026-11-05.csv")
    (folder / "acme_2026-11-03").symlink_to(outside / "folder", target_is_directory=True)
    (folder / "acme_2026-11-04.csv").symlink_to(good)  # inside the zone: read like the file itself
    os.mkfifo(folder / "acme_2026-11-07.csv")  # would block the loader forever
    report = statuses(env.ingest())
    assert report["acme_2026-11-01.csv"] == ("loaded", None)
    assert report["acme_2026-11-02.csv"] == (
        "rejected", "a symbolic link to a file out of the landing zone: land the file itself",
    )  # fmt: skip
    # A folder's name does not match the pattern: it is described, not named.
    [folder_link] = [name for name in report if name.startswith("file #")]
    assert report[folder_link] == (
        "rejected", "a symbolic link to a folder out of the landing zone: land the file itself",
    )  # fmt: skip
    assert report["acme_2026-11-04.csv"][0] == "loaded"
    assert report["acme_2026-11-07.csv"] == ("rejected", "not a regular file")
    rows = env.table("raw")
    assert len(rows) == 2 and "Outside" not in {r["city"] for r in rows}  # P1 and P2 of the files inside


def test_an_entity_folder_linked_out_of_the_zone_is_rejected(ingest_env: IngestEnv):
    env = ingest_env
    env.write_feed()
    outside = env.root / "elsewhere"
    outside.mkdir()
    (outside / "acme_2026-11-01.csv").write_text(ROWS)
    (env.landing / env.feed).mkdir(parents=True)
    (env.landing / env.feed / "people").symlink_to(outside, target_is_directory=True)
    [load] = env.ingest().files
    assert load.status == "rejected"
    assert load.reason.startswith("folder ") and "leads out of the landing zone" in load.reason
    assert "\n" not in load.reason


def test_feed_landing_leaving_the_zone_is_refused(ingest_env: IngestEnv, tmp_path):
    env = ingest_env
    path = tmp_path / "escape.yml"
    path.write_text(people_feed("escape", landing="../../.."))
    with pytest.raises(WarehouseError) as refused:
        load_feed(path)
    assert str(refused.value) == (
        f"feed config {path}: landing: '../../..' leaves the landing zone: "
        "give a folder inside it, relative to its root"
    )
    # An absolute folder elsewhere passes the config (it cannot know the root) and is refused when listed.
    env.write_feed(people_feed(env.feed, landing=str(Path("/etc"))))
    env.landing.mkdir()
    [load] = [f for f in env.ingest().files if f.entity == "people"]
    assert load.status == "rejected"
    assert load.reason == f"folder /etc/people leads out of the landing zone {env.landing.resolve()}"
    # Relative to the landing root, inside it: read.
    env.write_feed(people_feed(env.feed, landing="vendor/exports"))
    folder = env.landing / "vendor" / "exports" / "people"
    folder.mkdir(parents=True)
    (folder / "acme_2026-11-01.csv").write_text(ROWS)
    loads = [(f.file_name, f.status) for f in env.ingest().files if f.entity == "people"]
    assert loads == [("acme_2026-11-01.csv", "loaded")]


def test_a_backtracking_pattern_runs_in_linear_time(ingest_env: IngestEnv, tmp_path):
    env = ingest_env
    # Python's re takes exponential time for (a|aa)+ against a's that end in a mismatch.
    env.write_feed(
        people_feed(env.feed, file_pattern=r"'^(?P<client_id>(a|aa)+)_(?P<file_date>\d{4}-\d{2}-\d{2})\.csv$'")
    )
    env.land("a" * 200 + "!.csv", ROWS)
    env.land("aaa_2026-11-01.csv", ROWS)
    started = time.monotonic()
    report = statuses(env.ingest())
    assert time.monotonic() - started < 60
    assert report["aaa_2026-11-01.csv"] == ("loaded", None)
    [rejected] = [status for name, (status, _) in report.items() if name != "aaa_2026-11-01.csv"]
    assert rejected == "rejected"
    # What RE2 cannot do in linear time (a backreference) is one line naming the file and the field.
    path = tmp_path / "backref.yml"
    path.write_text(people_feed("backref", file_pattern=r"'^(?P<client_id>a+)\1\.csv$'"))
    with pytest.raises(WarehouseError) as refused:
        load_feed(path)
    message = str(refused.value)
    assert message.startswith(f"feed config {path}: file_pattern: file_pattern is not a valid regular expression: ")
    assert "\n" not in message

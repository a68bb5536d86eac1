"""Privacy by default, tried the forbidden way: a column without `pii:`, a short key, a second key.

Each key test has a database of its own: the session database is loaded with TEST_KEY by every
other test, and a database remembers the first key it saw.
"""

from __future__ import annotations

import os
import secrets
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from ingest import audit
from ingest.key_registry import rotate
from ingest.pii.keys import KEY_ENV_VAR, PseudonymKey, key_id
from python_tests.conftest import run_cli
from python_tests.integration.ingest_helpers import HEADER, PEOPLE_FEED, TEST_KEY, row
from warehouse.db.connection import connect
from warehouse.db.target import Target
from warehouse.errors import WarehouseError

pytestmark = pytest.mark.integration

OTHER_KEY = "another-test-key-not-secret-0123456789"
FEED = "privacy_feed"


@dataclass
class World:
    root: Path
    target: Target
    database: str

    @property
    def feeds_dir(self) -> Path:
        return self.root / "feeds"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    def land(self, name: str, *rows: str) -> None:
        folder = self.landing / FEED / "people"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("\n".join([HEADER, *rows]) + "\n")

    def cli(self, *args: str, key: str, extra: tuple[str, ...] = ()):
        env = {"WAREHOUSE_DB_NAME": self.database, KEY_ENV_VAR: key, "WAREHOUSE_DLT_DIR": str(self.root / "dlt")}
        if args[0] == "ingest":
            args = (*args, "--feeds-dir", str(self.feeds_dir), "--landing", str(self.landing), *extra)
        return run_cli(*args, env=env)

    def query(self, statement: str, *args: object) -> list[tuple]:
        conn = connect(self.target.admin(self.database))
        try:
            with conn.cursor() as cur:
                cur.execute(statement, args)
                return cur.fetchall()
        finally:
            conn.close()

    def keys(self) -> list[tuple[str, str | None]]:
        return self.query("select key_id, previous_key_id from audit.pseudonym_keys order by id")

    def people(self) -> list[tuple[str, str, str]]:
        """(key id, token, source file) per raw row: the token is never the source value."""
        return self.query(
            f'select _pseudonym_key_id, person_id, _source_file from raw."{FEED}__people" '
            "order by _source_file, _pseudonym_key_id"
        )


@pytest.fixture
def world(tmp_path: Path, target: Target) -> Iterator[World]:
    database = f"test_keys_{os.getpid()}_{secrets.token_hex(3)}"
    for attempt in range(3):
        try:
            target.init([database], log=lambda _msg: None)
            break
        except psycopg2.Error:
            # Other sessions' test databases come and go while init walks every database.
            if attempt == 2:
                raise
            time.sleep(1)
    found = World(tmp_path, target, database)
    found.feeds_dir.mkdir()
    (found.feeds_dir / f"{FEED}.yml").write_text(PEOPLE_FEED.format(feed=FEED, threshold=0.5))
    yield found
    target.drop(database)


def only_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_a_feed_column_without_pii_is_refused(tmp_path: Path, test_database: str) -> None:
    # The field failure: an MRN column onboarded without `pii:` landed in raw in clear.
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    path = feeds / "onboarded.yml"
    path.write_text(
        "feed: onboarded\nentities:\n  members:\n    business_key: [member_id]\n    columns:\n"
        "      - {source: member_id, name: member_id, pii: identifier}\n"
        "      - {source: plan, name: plan, pii: none}\n"
        "      - {source: start, name: start_date, type: date, pii: none}\n"
        "      - {source: mrn, name: mrn}\n"
    )
    landing = tmp_path / "landing" / "onboarded" / "members"
    landing.mkdir(parents=True)
    (landing / "acme_2026-11-01.csv").write_text("member_id,plan,start,mrn\nM1,gold,2026-01-01,MRN00000001\n")
    result = run_cli(
        "ingest", "--feeds-dir", str(feeds), "--landing", str(tmp_path / "landing"),
        env={"WAREHOUSE_DB_NAME": test_database, KEY_ENV_VAR: TEST_KEY},
    )  # fmt: skip
    assert result.returncode == 1
    assert only_line(result.stderr) == (
        f"error: feed config {path}: entities.members.columns[3] (mrn): pii is required: "
        "declare identifier, direct, birth_date, zip, free_text or none"
    )
    conn = connect(Target.discover().admin(test_database))
    try:
        with conn.cursor() as cur:
            cur.execute("select to_regclass('raw.onboarded__members')")
            assert cur.fetchone() == (None,)
    finally:
        conn.close()


@pytest.mark.parametrize("length", [5, 31])
def test_a_short_key_is_refused_and_never_shown(world: World, length: int) -> None:
    short = secrets.token_hex(16)[:length]
    world.land("acme_2026-11-01.csv", row("P1"))
    result = world.cli("ingest", key=short)
    assert result.returncode == 1
    line = only_line(result.stderr)
    assert f"is {length} bytes; it must be at least 32 bytes" in line
    assert short not in result.stderr + result.stdout
    assert world.keys() == []  # refused before the database was touched


def test_a_second_key_is_refused_until_rotated_and_the_rotation_is_recorded(world: World) -> None:
    first, second = key_id(TEST_KEY.encode()), key_id(OTHER_KEY.encode())
    world.land("acme_2026-11-01.csv", row("P1"), row("P2"))
    assert world.cli("ingest", key=TEST_KEY).returncode == 0
    assert world.keys() == [(first, None)]  # the first key a database sees is its key

    world.land("acme_2026-11-02.csv", row("P1", city="Salem"))
    refused = world.cli("ingest", key=OTHER_KEY)
    assert refused.returncode == 1
    assert only_line(refused.stderr) == (
        f"error: the pseudonymisation key (id {second}) differs from the one this database uses (id {first}); "
        "tokens would not join. If you mean to change keys run `warehouse key rotate` (see docs/key-rotation.md)"
    )
    assert OTHER_KEY not in refused.stderr + refused.stdout
    assert [r[0] for r in world.people()] == [first, first]  # nothing written under the second key
    runs = world.query("select count(*) from audit.ingest_runs")
    assert runs == [(1,)]

    unconfirmed = world.cli("key", "rotate", key=OTHER_KEY)
    assert unconfirmed.returncode == 1 and "--yes" in only_line(unconfirmed.stderr)
    assert world.keys() == [(first, None)]

    rotated = world.cli("key", "rotate", "--yes", key=OTHER_KEY)
    assert rotated.returncode == 0, rotated.stderr
    assert f"rotated from key id {first} to {second}" in rotated.stdout
    assert OTHER_KEY not in rotated.stderr + rotated.stdout
    assert world.keys() == [(first, None), (second, first)]  # appended, the first row kept
    who = world.query("select activated_by, db_role from audit.pseudonym_keys order by id desc limit 1")
    assert who[0][0] and who[0][1] == "loader"

    loader = connect(world.target.role("loader", world.database))
    try:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), loader.cursor() as cur:
            cur.execute("delete from audit.pseudonym_keys")  # the history cannot be rewritten
    finally:
        loader.close()

    again = world.cli("key", "rotate", "--yes", key=OTHER_KEY)
    assert again.returncode == 0 and "nothing to record" in again.stdout
    assert len(world.keys()) == 2

    assert world.cli("ingest", key=OTHER_KEY).returncode == 0
    # Going back is a rotation too, never silent.
    assert world.cli("ingest", "--force", key=TEST_KEY).returncode == 1

    # What docs/key-rotation.md promises: tokens are one-way, so the old rows are not re-keyed; the
    # same person has a token per key, and rows of different key ids never join.
    rows = world.people()
    by_file = {(r[2].rsplit("/", 1)[-1], r[0]) for r in rows}
    assert by_file == {("acme_2026-11-01.csv", first), ("acme_2026-11-02.csv", second)}
    p1_first = next(r[1] for r in rows if r[0] == first and r[2].endswith("11-01.csv"))
    p1_second = next(r[1] for r in rows if r[0] == second)
    tokens_first = {r[1] for r in rows if r[0] == first}
    assert p1_second not in tokens_first and p1_first in tokens_first

    # Re-ingesting the retained landing file under the new key adds new-key rows beside the old ones;
    # it does not replace them (their business key is the old token).
    assert world.cli("ingest", extra=("--force",), key=OTHER_KEY).returncode == 0
    after = world.people()
    old = [r for r in after if r[0] == first]
    new = [r for r in after if r[0] == second]
    assert len(old) == 2 and {r[1] for r in old} == tokens_first
    assert len(new) == 2 and p1_second in {r[1] for r in new}


def test_rotate_installs_a_waiting_key_file_and_keeps_the_old_one(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir(mode=0o700)
    key_file = secrets_dir / "pseudonym.key"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (TEST_KEY + "\n").encode())
    os.close(fd)
    old = PseudonymKey.from_bytes(TEST_KEY.encode())

    conn = connect(world.target.role("loader", world.database))
    try:
        audit.check_key(conn, old)
        # Unconfirmed: nothing recorded, and the key file stays the one the loader uses.
        with pytest.raises(WarehouseError, match="--yes"):
            rotate(conn, key_file, generate=True, confirmed=False, claim_lock=audit.claim_loader_lock, log=print)
        waiting = secrets_dir / "pseudonym.key.new"
        assert stat.S_IMODE(waiting.stat().st_mode) == 0o600
        assert key_file.read_text().strip() == TEST_KEY
        new_text = waiting.read_text().strip()
        done = rotate(conn, key_file, generate=False, confirmed=True, claim_lock=audit.claim_loader_lock, log=print)
    finally:
        conn.close()
    assert done.recorded and done.previous_key_id == old.key_id == world.keys()[0][0]
    assert world.keys() == [(old.key_id, None), (key_id(new_text.encode()), old.key_id)]
    assert key_file.read_text().strip() == new_text and not waiting.exists()
    assert done.retired_file == secrets_dir / f"pseudonym.key.retired-{old.key_id}"
    assert done.retired_file.read_text().strip() == TEST_KEY
    assert stat.S_IMODE(key_file.stat().st_mode) == stat.S_IMODE(done.retired_file.stat().st_mode) == 0o600

    # The new key gets in; the old one is refused.
    world.land("acme_2026-11-01.csv", row("P1"))
    assert world.cli("ingest", key=new_text).returncode == 0
    assert world.cli("ingest", "--force", key=TEST_KEY).returncode == 1

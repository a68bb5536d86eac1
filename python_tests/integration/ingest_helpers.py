"""Write a feed YAML and landing files into a temporary folder, ingest them into the test database."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.loader import IngestOptions, IngestReport, run_ingest
from warehouse.db.connection import connect
from warehouse.db.target import Target

TEST_KEY = "test-key-not-secret-0123456789abcdef"

PEOPLE_FEED = """
feed: {feed}
description: A small feed used by the loader's tests.
invalid_row_threshold: {threshold}
entities:
  people:
    description: People with a visit.
    business_key: [person_id]
    event_date: visit_date
    whitelist:
      - column: consent
        in: ["Y"]
    columns:
      - {{source: id, name: person_id, type: string, required: true, pii: identifier}}
      - {{source: first, name: first_name, pii: direct}}
      - {{source: last, name: last_name, pii: direct}}
      - {{source: dob, name: birth_date, type: date, pii: birth_date}}
      - {{source: zip, name: zip, pii: zip}}
      - {{source: note, name: note, pii: free_text}}
      - {{source: city, name: city, pii: none}}
      - {{source: height, name: height_cm, type: decimal, min: 0, max: 300, pii: none}}
      - {{source: visit, name: visit_date, type: date, pii: none}}
      - {{source: plan, name: plan, allowed: [gold, silver], pii: none}}
      - {{source: consent, name: consent, pii: none}}
"""

HEADER = "id,first,last,dob,zip,note,city,height,visit,plan,consent"


def row(pid: str = "P1", first: str = "Anna", last: str = "Smith", dob: str = "1980-05-01", zip_code: str = "02139",
        note: str = "fine", city: str = "Boston", height: str = "170", visit: str = "2026-11-01", plan: str = "gold",
        consent: str = "Y") -> str:  # fmt: skip
    return ",".join([pid, first, last, dob, zip_code, note, city, height, visit, plan, consent])


@dataclass
class IngestEnv:
    root: Path
    target: Target
    database: str
    feed: str = "people_feed"

    @property
    def feeds_dir(self) -> Path:
        return self.root / "feeds"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    def write_feed(self, yaml_text: str | None = None, *, threshold: float = 0.5, name: str | None = None) -> None:
        self.feeds_dir.mkdir(parents=True, exist_ok=True)
        name = name or self.feed
        text = yaml_text if yaml_text is not None else PEOPLE_FEED.format(feed=name, threshold=threshold)
        (self.feeds_dir / f"{name}.yml").write_text(textwrap.dedent(text))

    def land(self, name: str, content: bytes | str, *, entity: str = "people", feed: str | None = None) -> Path:
        folder = self.landing / (feed or self.feed) / entity
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def ingest(self, **kwargs) -> IngestReport:
        settings = {
            "feeds_dir": self.feeds_dir,
            "landing_root": str(self.landing),
            "work_dir": self.root / "dlt",
            "retry_seconds": 5,
        }
        options = IngestOptions(**{**settings, **kwargs})
        return run_ingest(options, self.target, log=lambda _msg: None)

    def query(self, statement: str, *args) -> list[tuple]:
        conn = connect(self.target.admin(self.database))
        try:
            with conn.cursor() as cur:
                cur.execute(statement, args)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def table(self, schema: str, entity: str = "people", *, order: str = "_source_line") -> list[dict]:
        conn = connect(self.target.admin(self.database))
        try:
            with conn.cursor() as cur:
                cur.execute(f'select * from {schema}."{self.feed}__{entity}" order by {order}')
                names = [d.name for d in cur.description]
                return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        finally:
            conn.close()


@pytest.fixture
def ingest_env(tmp_path, monkeypatch, target, test_database, request) -> IngestEnv:
    monkeypatch.setenv("WAREHOUSE_DB_NAME", test_database)
    monkeypatch.setenv("WAREHOUSE_PSEUDONYM_KEY", TEST_KEY)
    # Every test gets feed names of its own: the database is shared by the whole session.
    feed = "f_" + "".join(ch for ch in request.node.name.lower() if ch.isalnum())[-28:]
    env = IngestEnv(tmp_path, target, test_database, feed=feed)
    return env

"""The benchmark's generated files: valid for their feed config, with unique business keys."""

from __future__ import annotations

import csv

import pytest

from ingest.bench import FEEDS
from ingest.config import load_feeds


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_bench_file_matches_its_feed_and_keys_are_unique(tmp_path, name):
    bench_feed = FEEDS[name]
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "bench.yml").write_text(bench_feed.yaml)
    entity = load_feeds(tmp_path / "feeds")["bench"].entities[bench_feed.entity]
    path = tmp_path / "bench.csv"
    bench_feed.write(path, 5_000)
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == bench_feed.header == [c.source for c in entity.columns]
    assert len(rows) == 5_001
    positions = [rows[0].index(c.source) for c in entity.columns if c.name in entity.business_key]
    keys = {tuple(row[p] for p in positions) for row in rows[1:]}
    assert len(keys) == 5_000

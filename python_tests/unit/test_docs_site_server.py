"""The docs server hands out the site's three files and nothing else of the target folder."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from warehouse.docs_site import SITE_FILES, make_server
from warehouse.errors import WarehouseError


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    for name in SITE_FILES:
        (tmp_path / name).write_text(f"this is {name}")
    (tmp_path / "run_results.json").write_text("private")
    (tmp_path / "compiled").mkdir()
    server = make_server(tmp_path, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_serves_the_site_files_with_the_cache_buster_the_site_adds(site):
    assert fetch(site) == (200, "this is index.html")
    assert fetch(site + "manifest.json?cb=1732250000") == (200, "this is manifest.json")
    assert fetch(site + "catalog.json") == (200, "this is catalog.json")


@pytest.mark.parametrize("path", ["run_results.json", "compiled/", "..%2f..%2fetc%2fpasswd", "index.html/../x"])
def test_nothing_else_of_the_target_folder(site, path):
    assert fetch(site + path)[0] == 404


def test_a_folder_without_the_site_says_what_to_run(tmp_path):
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(WarehouseError, match=r"has no index.html, catalog.json: run `warehouse dbt docs generate`"):
        make_server(tmp_path, "127.0.0.1", 0)


def test_a_taken_port_is_one_line(tmp_path):
    for name in SITE_FILES:
        (tmp_path / name).write_text("x")
    first = make_server(tmp_path, "127.0.0.1", 0)
    try:
        with pytest.raises(WarehouseError, match=r"cannot listen on 127.0.0.1:\d+"):
            make_server(tmp_path, "127.0.0.1", first.server_address[1])
    finally:
        first.server_close()

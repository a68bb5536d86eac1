"""The dbt docs site renders: docs generated from a real database, served by `warehouse docs serve`,
opened in headless Chromium (offline: the site carries its own JavaScript), and a refined model's
page shows its name, description and columns. A screenshot lands in test-artifacts/."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from ingest.generate.landing import generate_landing_zone
from python_tests.conftest import PROJECT_ROOT, WAREHOUSE_BIN, run_cli
from python_tests.integration.ingest_helpers import TEST_KEY
from warehouse.db.connection import connect
from warehouse.db.target import Target
from warehouse.dbt_runner import run_dbt

pytestmark = pytest.mark.integration

# The page the test opens; built with everything upstream of it (a small landing zone is ingested
# first when that includes a source).
MODEL = "patient"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# As root on a closed network: no sandbox, and nothing that phones home (it would hang).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1400,1000",
)


def chromium() -> str:
    """The browser, or a failure that says how to install it: this test must not be skipped."""
    names = [os.environ["WAREHOUSE_CHROMIUM"]] if os.environ.get("WAREHOUSE_CHROMIUM") else CHROMIUM_NAMES
    found = next((path for name in names if (path := shutil.which(name))), None)
    if not found:
        pytest.fail(
            f"Chromium ({' or '.join(names)}) is not installed, so the docs site cannot be tested: "
            "`apt-get install -y chromium chromium-driver` (.ci/run does this), or set WAREHOUSE_CHROMIUM",
            pytrace=False,
        )
    return found


def run_chromium(url: str, *extra: str, budget_ms: int) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="docs-chromium-") as profile:
        command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}"]
        return subprocess.run([*command, *extra, url], capture_output=True, text=True, timeout=180, check=False)


def dbt_ok(*args: str) -> None:
    assert run_dbt(list(args)) == 0, f"dbt {' '.join(args)} failed; see logs/dbt.log"


def upstream_sources(manifest: dict[str, Any], unique_id: str) -> set[str]:
    seen, todo = set(), [unique_id]
    while todo:
        for parent in manifest["parent_map"].get(todo.pop(), []):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return {uid for uid in seen if uid.startswith("source.")}


def ingest_small_landing_zone(root: Path, database: str) -> None:
    generate_landing_zone(root / "landing", patients=30, seed=11, days=1)
    env = {"WAREHOUSE_DB_NAME": database, "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY, "WAREHOUSE_DLT_DIR": str(root / "dlt")}
    result = run_cli("ingest", "--landing", str(root / "landing"), env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]


@dataclass(frozen=True)
class Docs:
    target_path: Path
    manifest: dict[str, Any]
    catalog: dict[str, Any]

    @property
    def unique_id(self) -> str:
        return f"model.{self.manifest['metadata']['project_name']}.{MODEL}"


@pytest.fixture(scope="module")
def docs(target: Target, test_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Docs]:
    """`dbt docs generate` into a temporary target path, from the session's throwaway database with
    MODEL and everything upstream of it built."""
    work = tmp_path_factory.mktemp("docs")
    target_path = work / "target"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WAREHOUSE_DB_NAME", test_database)
        patch.setenv("DBT_TARGET_PATH", str(target_path))
        dbt_ok("deps", "--quiet")
        dbt_ok("parse", "--quiet")
        parsed = json.loads((target_path / "manifest.json").read_text())
        unique_id = f"model.{parsed['metadata']['project_name']}.{MODEL}"
        assert unique_id in parsed["nodes"], f"no model {MODEL} in the project: change MODEL in {__file__}"
        if upstream_sources(parsed, unique_id):
            ingest_small_landing_zone(work, test_database)
        # cautious: not the tests of other models that point at MODEL (their models are not built).
        dbt_ok("build", "--quiet", "--select", f"+{MODEL}", "--indirect-selection", "cautious")
        dbt_ok("docs", "generate", "--quiet")
    yield Docs(
        target_path,
        json.loads((target_path / "manifest.json").read_text()),
        json.loads((target_path / "catalog.json").read_text()),
    )


@pytest.fixture(scope="module")
def site(docs: Docs) -> Iterator[str]:
    """`warehouse docs serve` on a free port of 127.0.0.1 (port 0: the server says which one it got)."""
    command = [WAREHOUSE_BIN, "docs", "serve", "--no-generate", "--target-path", str(docs.target_path), "--port", "0"]
    server = subprocess.Popen(command, cwd=PROJECT_ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        ready, _, _ = select.select([server.stderr], [], [], 60)
        line = server.stderr.readline() if ready and server.stderr else ""
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, f"docs server did not start: {line!r} (exit {server.poll()})"
        url = found.group(0)
        with urllib.request.urlopen(url + "manifest.json?cb=1", timeout=10) as response:
            assert response.status == 200
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


class PageText(HTMLParser):
    """The text of the page's <h1> headings and of its rendered markdown blocks, and all visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.markdown: list[str] = []
        self.text: list[str] = []
        self._stack: list[tuple[str, str | None]] = []  # (tag, what it collects)
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        collect = "heading" if tag == "h1" else "markdown" if "model-markdown" in classes else None
        if tag in ("script", "style"):
            self._skip += 1
        if tag not in ("br", "img", "input", "meta", "link", "hr", "use"):
            self._stack.append((tag, collect))
            if collect == "heading":
                self.headings.append("")
            elif collect == "markdown":
                self.markdown.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        collecting = {what for _, what in self._stack if what}
        if "heading" in collecting:
            self.headings[-1] += data
        if "markdown" in collecting:
            self.markdown[-1] += data


def squash(text: str) -> str:
    return " ".join(text.split())


def test_index_html_loads_nothing_from_the_network(docs: Docs):
    index = (docs.target_path / "index.html").read_text(encoding="utf-8")
    assert "angular" in index.lower(), "index.html does not carry the site's JavaScript"
    external = re.findall(r"<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//[^\"'\s>]+", index)
    assert external == [], f"index.html fetches from the network: {external[:3]}"


def test_model_page_renders_in_headless_chromium(docs: Docs, site: str):
    node = docs.manifest["nodes"][docs.unique_id]
    description = squash(node["description"])
    assert description, f"{MODEL} has no description to look for"
    columns = sorted(docs.catalog["nodes"][docs.unique_id]["columns"])
    assert columns, f"{MODEL} is not in the database the docs were generated from"
    url = f"{site}#!/model/{docs.unique_id}"
    ARTIFACTS.mkdir(exist_ok=True)

    dom = ""
    page = PageText()
    for budget_ms in (15_000, 45_000):  # virtual time: the site's own scripts, then its two JSON fetches
        result = run_chromium(url, "--dump-dom", budget_ms=budget_ms)
        assert result.returncode == 0, f"chromium exited {result.returncode}: {result.stderr[-2000:]}"
        dom = result.stdout
        page = PageText()
        page.feed(dom)
        if any(MODEL in heading for heading in page.headings):
            break
    (ARTIFACTS / f"docs-site-{MODEL}.html").write_text(dom, encoding="utf-8")

    assert any(MODEL in squash(heading) for heading in page.headings), f"no <h1> names {MODEL}: {page.headings}"
    # The description rendered as markdown: compare its first plain-text run (before any markup).
    plain = re.split(r"[`*_\[\]<>#|]", description)[0].strip()
    assert len(plain) >= 10, f"the description of {MODEL} starts with markup; compare a longer text: {description!r}"
    rendered = [squash(block) for block in page.markdown]
    assert any(plain in block for block in rendered), f"description {plain!r} not among rendered {rendered}"
    text = squash(" ".join(page.text))
    missing = [name for name in columns if name not in text]
    assert missing == [], f"columns not on the page: {missing}"

    screenshot = ARTIFACTS / f"docs-site-{MODEL}.png"
    screenshot.unlink(missing_ok=True)
    result = run_chromium(url, f"--screenshot={screenshot}", budget_ms=15_000)
    assert result.returncode == 0, f"chromium exited {result.returncode}: {result.stderr[-2000:]}"
    data = screenshot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000, "the screenshot is not a rendered page"


def test_docs_check_passes_for_the_model_against_the_real_catalog(docs: Docs):
    result = run_cli("docs", "check", "--target-path", str(docs.target_path))
    assert result.stdout.strip(), result.stderr
    about_model = [line for line in result.stdout.splitlines() if line.startswith(f"model {MODEL} ")]
    assert about_model == []


def test_docs_check_finds_a_column_that_exists_only_in_the_database(docs: Docs, target: Target, test_database: str):
    relation = docs.catalog["nodes"][docs.unique_id]["metadata"]
    table = f'"{relation["schema"]}"."{relation["name"]}"'
    admin = connect(target.admin(test_database))
    try:
        with admin.cursor() as cur:
            cur.execute(f"alter table {table} add column undocumented_probe int")
        # Only the catalog is new: reuse the parse (--no-compile does not write manifest.json).
        target_path = docs.target_path.parent / "target-probe"
        target_path.mkdir()
        for name in ("manifest.json", "partial_parse.msgpack"):
            shutil.copy(docs.target_path / name, target_path / name)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WAREHOUSE_DB_NAME", test_database)
            dbt_ok("docs", "generate", "--quiet", "--no-compile", "--target-path", str(target_path))
    finally:
        with admin.cursor() as cur:
            cur.execute(f"alter table {table} drop column if exists undocumented_probe")
        admin.close()
    result = run_cli("docs", "check", "--target-path", str(target_path))
    assert result.returncode == 1
    assert f"model {MODEL} " in result.stdout
    assert "column undocumented_probe: in the database but not documented in the yml" in result.stdout

"""What `warehouse ingest` prints: the per-file summary table and the schema-drift explanation."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ingest.config import load_feeds
from ingest.landing import default_landing_root, list_files, open_file
from ingest.loader import IngestOptions, IngestReport
from ingest.reader import FileProblem, FileReader
from warehouse.paths import StatePaths

KEY_FILE_NAME = "pseudonym.key"


def default_key_file() -> Path:
    return StatePaths.discover().secrets / KEY_FILE_NAME


def ingest_options(
    *,
    feed: str | None,
    client: str | None,
    force: bool,
    dry_run: bool,
    landing: str | None,
    feeds_dir: Path | None,
) -> IngestOptions:
    return IngestOptions(
        feeds_dir=feeds_dir,
        landing_root=landing or default_landing_root(),
        feed=feed,
        client=client,
        force=force,
        dry_run=dry_run,
        key_file=default_key_file(),
    )


def print_summary(report: IngestReport, *, dry_run: bool) -> None:
    console = Console(file=sys.stdout, width=160 if not sys.stdout.isatty() else None)
    table = Table(title=f"ingest run {report.run_id}" + (" (dry run: nothing written)" if dry_run else ""))
    for header in ("feed", "entity", "file", "status", "read", "loaded", "quarantined", "filtered", "reason"):
        justify = "right" if header in ("read", "loaded", "quarantined", "filtered") else "left"
        table.add_column(header, justify=justify, overflow="fold")
    totals = [0, 0, 0, 0]
    for load in report.files:
        counts = [load.rows_read, load.rows_loaded, load.rows_quarantined, load.rows_filtered]
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        table.add_row(
            load.feed,
            load.entity or "",
            load.file_name,
            load.status,
            *(str(c) for c in counts),
            load.reason or "",
        )
    table.add_section()
    table.add_row("total", "", f"{len(report.files)} files", "", *(str(t) for t in totals), "")
    console.print(table)
    by_status = report.counts()
    by_status.pop("seen", None)
    console.print(", ".join(f"{v} {k}" for k, v in sorted(by_status.items())) or "no files")


def explain_drift(options: IngestOptions, log: Callable[[str], None]) -> None:
    """For every landed file whose columns differ from its feed config: the diff and the YAML to add."""
    feeds = load_feeds(options.feeds_dir)
    found = False
    for feed in feeds.values():
        if options.feed and feed.feed != options.feed:
            continue
        for landed in list_files(feed, options.landing_root):
            if not landed.matched:
                continue
            fmt = feed.format_for(landed.client_id)
            try:
                with open_file(landed) as handle:
                    reader = FileReader(handle, fmt, feed.entities[landed.entity])
                    next(iter(reader.batches()), None)
            except FileProblem as problem:
                if not problem.drift:
                    continue
                found = True
                log(f"{feed.feed}/{landed.entity}/{landed.name}: {problem}")
                for column in problem.drift.get("missing", []):
                    log(f"  - missing (declared, not in the file): {column}")
                for column in problem.drift.get("extra", []):
                    log(f"  + undeclared (in the file, not declared): {column}")
                if problem.drift.get("extra"):
                    log(f"  add to ingest/feeds/{feed.feed}.yml under entities.{landed.entity}.columns:")
                    for column in problem.drift["extra"]:
                        log(f"      - source: {column}")
                        log(f"        name: {_snake(column)}")
                        log("        type: string")
                        log("        pii: none  # decide: identifier | direct | birth_date | zip | free_text | none")
    if not found:
        log("no schema drift: every landed file matches its feed config")


def _snake(name: str) -> str:
    out = "".join(ch.lower() if ch.isalnum() else "_" for ch in name).strip("_")
    while "__" in out:
        out = out.replace("__", "_")
    if not out or not out[0].isalpha():
        out = f"col_{out}"
    return out[:63]

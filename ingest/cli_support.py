"""What `warehouse ingest` prints: the per-file summary table and the schema-drift explanation."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import psycopg2
from rich.console import Console
from rich.table import Table

from ingest import audit
from ingest.config import load_feeds
from ingest.describe import Describer, HeaderCell, column_words
from ingest.landing import default_landing_root, list_files, open_file
from ingest.loader import IngestOptions, IngestReport
from ingest.pii.keys import load_key
from ingest.pii.known_names import KnownNames
from ingest.reader import FileProblem, FileReader
from warehouse.db.connection import connect
from warehouse.db.target import Target
from warehouse.errors import WarehouseError
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


def _explain_describer(options: IngestOptions) -> Describer:
    """The loader's describer: the same keyed ids as the audit tables, and the names known so far
    (best effort: without the database, header cells are judged by the detectors alone)."""
    key = load_key(options.key_file)
    names = KnownNames(key)
    try:
        conn = connect(Target.discover().role("loader"), total_seconds=5)
    except WarehouseError:
        return Describer(key, names, column_words(load_feeds(options.feeds_dir).values()))
    try:
        names.tokens |= audit.load_name_tokens(conn)
    except psycopg2.Error:
        pass  # an older database without the table: nothing known yet
    finally:
        conn.close()
    return Describer(key, names, column_words(load_feeds(options.feeds_dir).values()))


def explain_drift(options: IngestOptions, log: Callable[[str], None]) -> None:
    """For every landed file whose columns differ from its feed config: the diff and the YAML to add.

    Header cells and file names are shown only when they are safe to show (`ingest.describe`);
    others by position, length, shape and keyed id, with what to do about them."""
    feeds = load_feeds(options.feeds_dir)
    describer = _explain_describer(options)
    found = False
    for feed in feeds.values():
        if options.feed and feed.feed != options.feed:
            continue
        for landed in list_files(feed, options.landing_root, describer):
            if not landed.matched:
                continue
            fmt = feed.format_for(landed.client_id)
            try:
                with open_file(landed) as handle:
                    reader = FileReader(handle, fmt, feed.entities[landed.entity], describer=describer)
                    next(iter(reader.batches()), None)
            except FileProblem as problem:
                if problem.code == "no_header":
                    found = True
                    log(f"{feed.feed}/{landed.entity}/{landed.label}: {problem.code}: {problem}")
                    continue
                if not problem.drift:
                    continue
                found = True
                log(f"{feed.feed}/{landed.entity}/{landed.label}: {problem}")
                _explain_columns(feed.feed, landed.entity, problem.drift, log)
    if not found:
        log("no schema drift: every landed file matches its feed config")


def _explain_columns(feed: str, entity: str, drift: dict, log: Callable[[str], None]) -> None:
    for column in drift.get("missing", []):
        log(f"  - missing (declared, not in the file): {column}")
    cells: list[HeaderCell] = drift.get("extra_cells", [])
    for cell in cells:
        log(f"  + undeclared (in the file, not declared): {cell.label}")
    if not cells:
        return
    log(f"  add to ingest/feeds/{feed}.yml under entities.{entity}.columns:")
    for cell in cells:
        if cell.text is not None:
            log(f"      - source: {cell.text}")
            log(f"        name: {_snake(cell.text)}")
        else:
            log(f"      # {cell.description}: not shown, it may be personal data (a name, an e-mail, a value).")
            log(f"      # Open the file, look at header cell {cell.position}; if it is a real column name, declare it")
            log("      # with its exact text (and a canonical name); if it is data, the client's header is broken.")
            log(f"      - source: <header cell {cell.position}, as written in the file>")
            log(f"        name: column_{cell.position}")
        log("        type: string")
        log("        pii: none  # decide: identifier | direct | birth_date | zip | free_text | none")


def _snake(name: str) -> str:
    out = "".join(ch.lower() if ch.isalnum() else "_" for ch in name).strip("_")
    while "__" in out:
        out = out.replace("__", "_")
    if not out or not out[0].isalpha():
        out = f"col_{out}"
    return out[:63]

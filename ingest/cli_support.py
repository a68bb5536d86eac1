"""What `warehouse ingest` prints: the per-file summary table and the schema-drift explanation."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ingest.describe import HeaderCell
from ingest.landing import default_landing_root
from ingest.loader import IngestOptions, IngestReport
from warehouse.db.target import Target
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
    title = f"ingest run {report.run_id}"
    if report.content_fingerprint:
        title += f" (content {report.content_fingerprint})"
    table = Table(title=title + (" (dry run: nothing written)" if dry_run else ""))
    numbers = ("read", "loaded", "quarantined", "filtered", "superseded")
    for header in ("feed", "entity", "file", "status", *numbers, "reason"):
        justify = "right" if header in numbers else "left"
        table.add_column(header, justify=justify, overflow="fold")
    totals = [0] * len(numbers)
    for load in report.files:
        counts = [load.rows_read, load.rows_loaded, load.rows_quarantined, load.rows_filtered, load.rows_superseded]
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


TOP_REASONS = 5


def explain_held(options: IngestOptions, log: Callable[[str], None]) -> None:
    """Every landed file that would be held, why, the top reasons among its rows, and the YAML that
    would let it in.

    The files are put through the loader's own dry run (every row read and checked, nothing written),
    already-recorded ones too (`force`): a file held earlier explains itself the same way as a new one,
    and the reasons are the loader's, not a second opinion. Header cells and file names are shown only
    when safe to show (`ingest.describe`); others by position, length, shape and keyed id."""
    from dataclasses import replace

    from ingest.loader import Loader

    loader = Loader(replace(options, dry_run=True, force=True), Target.discover(), log=lambda _line: None)
    report, states = loader.dry_run_states()
    found = 0
    feeds = {feed.feed: feed for feed in loader.feeds()}
    for load in report.files:
        if load.status != "rejected" or load.entity in (None, ""):
            continue
        # Not held but not read either: a name that does not match, a link out of the landing zone.
        log(f"{load.feed}/{load.entity}/{load.file_name}: rejected: {load.reason}")
        found += 1
    for state in states:
        load = state.load
        if load is None or load.status != "would hold":
            continue
        found += 1
        feed = feeds[load.feed]
        code = (load.reason or "").split(":", 1)[0]
        log(f"{load.feed}/{load.entity}/{load.file_name}: held: {load.reason}")
        _explain_reasons(state.reason_counts, load.rows_read - load.rows_filtered, log)
        if state.drift:
            _explain_columns(load.feed, load.entity, state.drift, log)
        elif code == "no_header":
            log(f"  no header row. If the client never sends one, say so in ingest/feeds/{feed.feed}.yml:")
            _client_format(feed.feed, load.client_id, {"header": "false"}, log)
            log("  (columns are then read by position: `position:` on a column, default its place in `columns`)")
        elif code == "invalid_ratio":
            _explain_threshold(feed, load, state.reason_counts, log)
        else:
            log(f"  {code}: fix the file (or ask the client to send it again), then land it again")
    if not found:
        log("nothing held: every landed file would load (no schema drift, no file above its threshold)")


def _explain_reasons(reason_counts: dict[str, int], considered: int, log: Callable[[str], None]) -> None:
    reasons = sorted(
        ((r, n) for r, n in reason_counts.items() if not r.startswith("file_held:")),
        key=lambda item: (-item[1], item[0]),
    )
    if not reasons:
        return
    log(f"  top reasons ({considered} rows considered):")
    for reason, rows in reasons[:TOP_REASONS]:
        log(f"    {rows:>8}  {reason}")
    if len(reasons) > TOP_REASONS:
        log(f"    ... and {len(reasons) - TOP_REASONS} more reason(s)")


def _explain_threshold(feed, load, reason_counts: dict[str, int], log: Callable[[str], None]) -> None:
    bad = {r.split(":", 1)[0] for r in reason_counts if not r.startswith("file_held:")}
    if bad and bad <= {"invalid_utf8"}:
        log(f"  the invalid rows hold bytes that are not UTF-8: another encoding. In ingest/feeds/{feed.feed}.yml:")
        _client_format(
            feed.feed, load.client_id, {"encoding": "iso-8859-1  # or cp1252: the client's real encoding"}, log
        )
        return
    if bad and bad <= {"column_count_mismatch"}:
        log("  the rows do not split into the declared columns: check the delimiter and quoting. In "
            f"ingest/feeds/{feed.feed}.yml:")  # fmt: skip
        _client_format(feed.feed, load.client_id, {"delimiter": "';'  # the client's real delimiter"}, log)
        return
    limit = feed.threshold_for(load.client_id)
    # A held file's valid rows are counted as quarantined too (file_held:invalid_ratio): not invalid.
    invalid = load.rows_quarantined - reason_counts.get("file_held:invalid_ratio", 0)
    considered = load.rows_read - load.rows_filtered
    ratio = invalid / considered if considered else 0.0
    log("  fix the rules or the data behind the top reasons; if the rows are right and the rule is wrong, change the")
    log(f"  column's check in ingest/feeds/{feed.feed}.yml. To accept this client's share of invalid rows instead")
    log(f"  ({ratio:.1%} against {limit:.0%}; the invalid rows still go to quarantine):")
    log("      clients:")
    log(f"        {load.client_id}:")
    log(f"          invalid_row_threshold: {min(1.0, _ceil_percent(ratio)):.2f}")


def _ceil_percent(ratio: float) -> float:
    return (int(ratio * 100) + 1) / 100


def _client_format(feed: str, client_id: str | None, fields: dict[str, str], log: Callable[[str], None]) -> None:
    if client_id:
        log("      clients:")
        log(f"        {client_id}:")
        log("          format:")
        for name, value in fields.items():
            log(f"            {name}: {value}")
    else:
        log("      format:")
        for name, value in fields.items():
            log(f"        {name}: {value}")


# The name cli.py has always called: the explanation covers every held file, drift among them.
explain_drift = explain_held


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

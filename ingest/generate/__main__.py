"""`python -m ingest.generate OUT`: write the demo landing zone and print what was written."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from ingest.generate.landing import generate_landing_zone

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def main(
    out: Annotated[Path, typer.Argument(help="Landing-zone folder to write into.")],
    patients: Annotated[int, typer.Option(min=1, help="Synthetic people (clinic patients and members).")] = 2000,
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = 42,
    days: Annotated[int, typer.Option(min=1, help="Consecutive file dates.")] = 3,
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First file date.")] = datetime(2026, 11, 18),
    pii_manifest: Annotated[
        Path | None, typer.Option(help="JSON Lines of every PII value written (outside OUT).")
    ] = None,
    files: Annotated[bool, typer.Option(help="List every file with its row count.")] = False,
) -> None:
    began = time.perf_counter()
    summary = generate_landing_zone(
        out, patients=patients, seed=seed, days=days, start=date(start.year, start.month, start.day),
        pii_manifest=pii_manifest,
    )  # fmt: skip
    elapsed = time.perf_counter() - began
    if files:
        for name, rows in summary.files.items():
            typer.echo(f"{rows:>10}  {name}")
    feeds: dict[str, int] = {}
    for name, rows in summary.files.items():
        feed_entity = "/".join(name.split("/")[:2])
        feeds[feed_entity] = feeds.get(feed_entity, 0) + rows
    for feed_entity, rows in feeds.items():
        typer.echo(f"{rows:>10}  {feed_entity}")
    typer.echo(f"{summary.total_rows:>10}  rows in {len(summary.files)} files, {elapsed:.1f} s")
    typer.echo("bad rows: " + ", ".join(f"{kind}={n}" for kind, n in summary.bad_rows.items()))
    typer.echo("filtered: " + ", ".join(f"{kind}={n}" for kind, n in summary.filtered_rows.items()))
    if pii_manifest is not None:
        typer.echo(f"PII manifest: {summary.pii_values} values in {pii_manifest}")


if __name__ == "__main__":
    app()

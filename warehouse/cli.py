"""The `warehouse` command. Every expected failure ends as one line on stderr and a non-zero exit."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import typer

from warehouse.db.server import bin_dir
from warehouse.db.target import ROLE_CHOICES, Target
from warehouse.errors import WarehouseError

app = typer.Typer(
    help="Healthcare ELT warehouse: embedded PostgreSQL, ingest, dbt.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Manage the warehouse database (embedded by default).", no_args_is_help=True)
app.add_typer(db_app, name="db")
key_app = typer.Typer(help="The pseudonymisation key.", no_args_is_help=True)
app.add_typer(key_app, name="key")
bench_app = typer.Typer(help="Benchmarks that print figures beside a baseline from the same run.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _external_note(target: Target, action: str) -> bool:
    """With an external PostgreSQL configured nothing embedded starts or stops."""
    if target.external:
        typer.echo(f"external PostgreSQL configured (WAREHOUSE_DB_URL or PGHOST): nothing to {action}")
    return target.external


@db_app.command()
def start() -> None:
    """Start the embedded server (initialising it on first use)."""
    target = Target.discover()
    if _external_note(target, "start"):
        return
    status = target.server.start(log=_say)
    typer.echo(status.describe())


@db_app.command()
def stop() -> None:
    """Stop the embedded server; data stays in .warehouse/pgdata."""
    target = Target.discover()
    if _external_note(target, "stop"):
        return
    was_running = target.server.stop()
    typer.echo("stopped" if was_running else "was not running")


@db_app.command()
def status() -> None:
    """Say whether the database is up. Exit 0 when it answers, 3 when it does not."""
    target = Target.discover()
    if target.external:
        from warehouse.db.connection import connect

        info = target.admin()
        conn = connect(info, total_seconds=5, attempts=2)
        version = conn.server_version
        conn.close()
        typer.echo(f"external PostgreSQL {version // 10000} answering at {info.where}, database {info.dbname}")
        return
    current = target.server.status()
    typer.echo(current.describe())
    if not current.running:
        raise typer.Exit(3)


@db_app.command()
def init() -> None:
    """Create databases, schemas and roles (idempotent); role passwords go to .warehouse/secrets/."""
    target = Target.discover()
    target.init(log=_say)
    typer.echo(f"schemas and roles ready in databases {target.dev_database} and {target.ci_database}")


@db_app.command()
def url(
    role: str = typer.Option("admin", "--role", help=f"One of: {', '.join(ROLE_CHOICES)}."),
    database: str | None = typer.Option(None, "--database", help="Defaults to the dev database."),
) -> None:
    """Print a connection URL (with the role's password) for psql or a BI tool."""
    typer.echo(Target.discover().role(role, database).url())


@db_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def psql(
    ctx: typer.Context,
    role: str = typer.Option("admin", "--role", help=f"One of: {', '.join(ROLE_CHOICES)}."),
    database: str | None = typer.Option(None, "--database"),
) -> None:
    """Open the bundled psql; extra arguments go to psql."""
    info = Target.discover().role(role, database)
    executable = str(bin_dir() / "psql")
    os.execv(executable, [executable, info.url(), *ctx.args])


@key_app.command("init")
def key_init() -> None:
    """Create a local pseudonymisation key (mode 0600) unless one exists or WAREHOUSE_PSEUDONYM_KEY is set."""
    from ingest.cli_support import default_key_file
    from ingest.pii.keys import KEY_ENV_VAR, create_key_file, load_key

    path = default_key_file()
    if os.environ.get(KEY_ENV_VAR):
        typer.echo(f"using the key from {KEY_ENV_VAR} (id {load_key(None).key_id})")
        return
    key = load_key(path) if path.exists() else create_key_file(path)
    typer.echo(f"pseudonymisation key {path} (id {key.key_id})")


@bench_app.command("ingest")
def bench_ingest_command(
    rows: int = typer.Option(1_000_000, "--rows", min=1000, help="Rows in the generated file."),
    pandas: bool = typer.Option(True, "--pandas/--no-pandas", help="Run the (slow) pandas baseline."),
    feed: str = typer.Option(
        "members",
        "--feed",
        help="members: 12 columns, every PII class; vitals: narrow per-minute readings, the volume feed.",
    ),
) -> None:
    """Full ingest path vs a bare COPY vs pandas read_csv + to_sql, on the same generated file."""
    from ingest.bench import FEEDS, bench_ingest, format_results

    if feed not in FEEDS:
        raise WarehouseError(f"unknown benchmark feed {feed!r}; choose one of: {', '.join(FEEDS)}")
    results = bench_ingest(rows, feed=feed, pandas=pandas, log=_say)
    typer.echo(format_results(results, rows, feed))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def dbt(
    ctx: typer.Context,
    target: str = typer.Option("dev", "--dbt-target", help="dbt target: dev or ci."),
) -> None:
    """Run dbt as the transformer role, e.g. `warehouse dbt build --select staging`."""
    from warehouse.dbt_runner import run_dbt

    code = run_dbt(list(ctx.args), dbt_target=target)
    raise typer.Exit(code)


@app.command()
def ingest(
    feed: str | None = typer.Option(None, "--feed", help="Only this feed."),
    client: str | None = typer.Option(None, "--client", help="Only this client's files."),
    force: bool = typer.Option(False, "--force", help="Reprocess files already loaded."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would happen; write nothing."),
    explain: bool = typer.Option(False, "--explain", help="Show schema drift of held files and the YAML to add."),
    landing: str | None = typer.Option(None, "--landing", help="Landing zone root (path or fsspec URL)."),
    feeds_dir: Path | None = typer.Option(None, "--feeds-dir", help="Folder of feed YAML files."),
) -> None:
    """Ingest the landing zone: validate, pseudonymise, quarantine, audit; land in `raw` through dlt."""
    from ingest.cli_support import explain_drift, ingest_options, print_summary
    from ingest.loader import run_ingest

    options = ingest_options(
        feed=feed, client=client, force=force, dry_run=dry_run, landing=landing, feeds_dir=feeds_dir
    )
    if explain:
        explain_drift(options, log=typer.echo)
        return
    report = run_ingest(options, log=_say)
    print_summary(report, dry_run=dry_run)


@app.command()
def generate(
    patients: int = typer.Option(2000, "--patients", min=1, help="How many people."),
    seed: int = typer.Option(42, "--seed", help="Same seed, same files."),
    out: Path = typer.Option(Path("landing"), "--out", help="Landing zone to write."),
    days: int = typer.Option(3, "--days", min=1, help="How many daily deliveries."),
    pii_manifest: Path | None = typer.Option(None, "--pii-manifest", help="Write every PII value here (tests)."),
) -> None:
    """Write a deterministic, realistic demo landing zone (with ~2 % bad rows of every kind)."""
    from ingest.generate.landing import generate_landing_zone

    summary = generate_landing_zone(out, patients=patients, seed=seed, days=days, pii_manifest=pii_manifest)
    typer.echo(f"wrote {len(summary.files)} files, {summary.rows()} rows to {out}")


@app.command()
def run(
    dbt_target: str = typer.Option("dev", "--dbt-target", help="dbt target: dev or ci."),
) -> None:
    """The main job: ingest the landing zone, then `dbt build`."""
    from warehouse.pipeline import run_pipeline

    raise typer.Exit(run_pipeline(dbt_target=dbt_target, log=_say))


def main(argv: list[str] | None = None) -> None:
    """Entry point: exceptions become one line, never a traceback (WAREHOUSE_DEBUG=1 shows them)."""
    try:
        code = app(args=argv, standalone_mode=False)
    except WarehouseError as exc:
        _say(f"error: {exc}")
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        _say("aborted")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("WAREHOUSE_DEBUG"):
            raise
        # Only the exception type: its text could echo a data value.
        _say(f"error: unexpected {type(exc).__name__}; rerun with WAREHOUSE_DEBUG=1 for details")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)

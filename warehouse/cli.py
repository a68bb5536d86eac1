"""The `warehouse` command. Every expected failure ends as one line on stderr and a non-zero exit."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click
import typer
from typer import exceptions as typer_exceptions

from warehouse.db.server import bin_dir
from warehouse.db.target import ROLE_CHOICES, Target
from warehouse.errors import WarehouseError

# Click's own help (rich_markup_mode=None): a switch shows as `--force`, not as an option taking `<bool>`.
PLAIN_HELP = {"rich_markup_mode": None}
app = typer.Typer(
    help="Healthcare ELT warehouse: embedded PostgreSQL, ingest, dbt.",
    **PLAIN_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Manage the warehouse database (embedded by default).", no_args_is_help=True, **PLAIN_HELP)
app.add_typer(db_app, name="db")
key_app = typer.Typer(help="The pseudonymisation key.", no_args_is_help=True, **PLAIN_HELP)
app.add_typer(key_app, name="key")
bench_app = typer.Typer(
    help="Benchmarks that print figures beside a baseline from the same run.", no_args_is_help=True, **PLAIN_HELP
)
app.add_typer(bench_app, name="bench")
docs_app = typer.Typer(help="The dbt docs site: data dictionary and lineage graph.", no_args_is_help=True, **PLAIN_HELP)
app.add_typer(docs_app, name="docs")
dq_app = typer.Typer(
    help="Data quality: checks over the audit history, the report and alerts.", no_args_is_help=True, **PLAIN_HELP
)
app.add_typer(dq_app, name="dq")


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
    from warehouse.db.connection import conninfo_without_password, write_passfile

    target = Target.discover()
    info = target.role(role, database)
    executable = str(bin_dir() / "psql")
    # The password reaches psql through a 0600 password file, never its argv (world-readable in
    # `ps`); nor does the environment handed over carry one.
    env = {k: v for k, v in os.environ.items() if k not in ("PGPASSWORD", "WAREHOUSE_DB_URL")}
    env["PGPASSFILE"] = str(write_passfile(info, target.state.secrets))
    os.execve(executable, [executable, conninfo_without_password(info), *ctx.args], env)


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


@key_app.command("rotate")
def key_rotate(
    generate: bool = typer.Option(
        False, "--generate", help="First write a random key to .warehouse/secrets/pseudonym.key.new (mode 0600)."
    ),
    yes: bool = typer.Option(False, "--yes", help="Confirm: tokens made before and after the rotation never join."),
    target: str = typer.Option("dev", "--target", help="Database: dev, or ci (the one `make test` builds)."),
) -> None:
    """Change the pseudonymisation key on purpose, recorded in audit.pseudonym_keys (docs/key-rotation.md).

    The new key comes from $WAREHOUSE_PSEUDONYM_KEY, else .warehouse/secrets/pseudonym.key.new, else
    the key file (a second database catching up); never from the command line."""
    from ingest.audit import claim_loader_lock
    from ingest.cli_support import default_key_file
    from ingest.key_registry import rotate
    from warehouse.db.connection import connect

    _select_database(target)
    conn = connect(Target.discover().role("loader"))
    try:
        done = rotate(
            conn, default_key_file(), generate=generate, confirmed=yes, claim_lock=claim_loader_lock, log=_say
        )
    finally:
        conn.close()
    if not done.recorded:
        typer.echo(f"this database already uses key id {done.key_id} (from {done.source}): nothing to record")
    elif done.previous_key_id is None:
        typer.echo(f"recorded key id {done.key_id} (from {done.source}) as this database's first key")
    else:
        typer.echo(f"rotated from key id {done.previous_key_id} to {done.key_id} (from {done.source}); recorded")
    if done.retired_file is not None:
        typer.echo(f"the loader now uses {default_key_file()}; the old key is kept as {done.retired_file}")


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


@bench_app.command("pii")
def bench_pii_command(
    repeat: int = typer.Option(10, "--repeat", min=1, help="Times the corpus is repeated for the rows/s figure."),
) -> None:
    """PII detectors on the labelled corpus: recall and precision per class, rows/s, beside the old detector."""
    from ingest.bench_pii import bench_pii, format_results, load_corpus

    corpus = load_corpus()
    results = bench_pii(repeat=repeat, corpus=corpus)
    typer.echo(format_results(results, corpus))
    if not results[0].score.meets_targets():
        raise typer.Exit(1)


@bench_app.command("build")
def bench_build_command(
    patients: list[int] = typer.Option(
        [1000, 10_000], "--patients", min=10, help="Patients of one size; repeat for several sizes."
    ),
    change_percent: float = typer.Option(1.0, "--change-percent", min=0.01, max=100, help="Share of patients changed."),
    seed: int = typer.Option(42, "--seed", help="Seed of the generated landing zone."),
    results_dir: Path | None = typer.Option(
        None, "--results-dir", help="Keep each build's run_results.json here, to read every node's time."
    ),
) -> None:
    """Full vs incremental `dbt build` after ~1 % of patients changed, per size, side by side."""
    from warehouse.bench_build import bench_build, format_results

    results = bench_build(patients, change_percent=change_percent, seed=seed, log=_say, results_dir=results_dir)
    typer.echo(format_results(results, change_percent))


TARGET_PATH_HELP = "dbt target folder; default $DBT_TARGET_PATH or target (relative paths: to the project, as in dbt)."


@docs_app.command("check")
def docs_check(
    target_path: Path | None = typer.Option(None, "--target-path", help=TARGET_PATH_HELP),
) -> None:
    """Fail (exit 1, one line per problem) where the docs site would have a gap.

    A model, seed, snapshot or source table, or a column of one (in the yml or in the database), without a
    description; a model whose meta lacks owner or layer; a column of a refined or derived model without a
    pii_class. Reads manifest.json and catalog.json written by `warehouse dbt docs generate`."""
    from warehouse.docs_coverage import check_target
    from warehouse.docs_site import resolve_target_path

    report = check_target(resolve_target_path(target_path))
    for problem in report.problems:
        typer.echo(str(problem))
    typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(1)


@docs_app.command("serve")
def docs_serve(
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port (0: any free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    dbt_target: str = typer.Option("dev", "--dbt-target", help="dbt target to document: dev or ci."),
    target_path: Path | None = typer.Option(None, "--target-path", help=TARGET_PATH_HELP),
    generate: bool = typer.Option(True, "--generate/--no-generate", help="Run `dbt docs generate` first."),
) -> None:
    """Generate the dbt docs site (data dictionary and lineage graph) and serve it until Ctrl-C."""
    from warehouse.dbt_runner import run_dbt
    from warehouse.docs_site import resolve_target_path, serve

    directory = resolve_target_path(target_path)
    if generate:
        code = run_dbt(["docs", "generate", "--target-path", str(directory)], dbt_target=dbt_target)
        if code:
            raise WarehouseError(f"dbt docs generate failed (exit {code})", exit_code=code)
    serve(directory, host, port, log=_say)


DQ_CONFIG_HELP = "Config file; default $WAREHOUSE_ALERTS_CONFIG or dq/alerts.yml."
DQ_TARGET_HELP = "Database: dev, or ci (the one `make test` builds)."


def _dq_collect(target: str, config_path: Path | None, feeds_dir: Path | None):
    from dq.alerts.config import load_config
    from dq.runner import collect, database_for

    config = load_config(config_path)
    found = Target.discover()
    return found, config, collect(found, database_for(found, target), config, feeds_dir=feeds_dir)


@dq_app.command("check")
def dq_check(
    target: str = typer.Option("dev", "--target", help=DQ_TARGET_HELP),
    config: Path | None = typer.Option(None, "--config", help=DQ_CONFIG_HELP),
    feeds_dir: Path | None = typer.Option(None, "--feeds-dir", help="Folder of feed YAML files (thresholds)."),
) -> None:
    """Run the checks and print one line per finding; exit 1 when any is an error."""
    _, _, collected = _dq_collect(target, config, feeds_dir)
    for finding in collected.findings:
        typer.echo(f"[{finding.severity}] {finding.headline()}")
    for note in collected.notes:
        _say(note)
    errors = sum(f.severity == "error" for f in collected.findings)
    typer.echo(f"{len(collected.findings)} finding(s), {errors} error(s)")
    if errors:
        raise typer.Exit(1)


@dq_app.command("report")
def dq_report(
    out: Path | None = typer.Option(None, "--out", help="Output folder; default report.out_dir (reports/)."),
    target: str = typer.Option("dev", "--target", help=DQ_TARGET_HELP),
    config: Path | None = typer.Option(None, "--config", help=DQ_CONFIG_HELP),
    feeds_dir: Path | None = typer.Option(None, "--feeds-dir", help="Folder of feed YAML files (thresholds)."),
) -> None:
    """Write dq_report.html (self-contained, inline SVG charts) and dq_report.json."""
    from dq.runner import out_dir_for, write_report

    _, settings, collected = _dq_collect(target, config, feeds_dir)
    html_path, json_path = write_report(collected, settings, out_dir_for(settings, out))
    errors = sum(f.severity == "error" for f in collected.findings)
    typer.echo(f"{html_path}\n{json_path}\n{len(collected.findings)} finding(s), {errors} error(s)")


@dq_app.command("alert")
def dq_alert(
    target: str = typer.Option("dev", "--target", help=DQ_TARGET_HELP),
    config: Path | None = typer.Option(None, "--config", help=DQ_CONFIG_HELP),
    feeds_dir: Path | None = typer.Option(None, "--feeds-dir", help="Folder of feed YAML files (thresholds)."),
    report_dir: Path | None = typer.Option(None, "--report-dir", help="Where the linked report is; default reports/."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when a channel could not be reached."),
) -> None:
    """Send new findings to Slack, Teams and e-mail (dq/alerts.yml); repeats within suppress_hours are not sent."""
    from dq.runner import alert, out_dir_for, report_url

    found, settings, collected = _dq_collect(target, config, feeds_dir)
    outcome = alert(found, collected, settings, report_url(settings, out_dir_for(settings, report_dir)), _say)
    if strict and outcome.failed:
        raise typer.Exit(1)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def dbt(
    ctx: typer.Context,
    target: str = typer.Option("dev", "--dbt-target", help="dbt target: dev or ci."),
) -> None:
    """Run dbt as the transformer role, e.g. `warehouse dbt build --select staging`."""
    from warehouse.dbt_runner import run_dbt

    code = run_dbt(list(ctx.args), dbt_target=target)
    raise typer.Exit(code)


def _select_database(target: str) -> None:
    # The loader and dbt find their database through WAREHOUSE_DB_NAME; `ci` is the database that
    # `dbt --dbt-target ci` builds.
    if target == "ci":
        os.environ["WAREHOUSE_DB_NAME"] = Target.discover().ci_database
    elif target != "dev":
        raise WarehouseError(f"unknown target {target!r}: use dev or ci")


@app.command()
def ingest(
    feed: str | None = typer.Option(None, "--feed", help="Only this feed."),
    client: str | None = typer.Option(None, "--client", help="Only this client's files."),
    force: bool = typer.Option(False, "--force", help="Reprocess files already loaded."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Read and check every row, report what would happen; write nothing."
    ),
    explain: bool = typer.Option(
        False, "--explain", help="Why each landed file would be held (top reasons) and the YAML that would fix it."
    ),
    landing: str | None = typer.Option(None, "--landing", help="Landing zone root (path or fsspec URL)."),
    feeds_dir: Path | None = typer.Option(None, "--feeds-dir", help="Folder of feed YAML files."),
    target: str = typer.Option("dev", "--target", help="Database: dev, or ci (the one `make test` builds)."),
) -> None:
    """Ingest the landing zone: validate, pseudonymise, quarantine, audit; land in `raw` through dlt.

    Exit 0 when the run finished (held and rejected files are listed with their reason; they never
    stop the others), 1 when it failed (configuration, key, database), 2 on a usage error."""
    from ingest.cli_support import explain_drift, ingest_options, print_summary
    from ingest.loader import run_ingest

    _select_database(target)

    options = ingest_options(
        feed=feed, client=client, force=force, dry_run=dry_run, landing=landing, feeds_dir=feeds_dir
    )
    if explain:
        explain_drift(options, log=typer.echo)
        return
    report = run_ingest(options, log=_say)
    print_summary(report, dry_run=dry_run)


@app.command()
def reconcile(
    target: str = typer.Option("dev", "--target", help="Database: dev, or ci (the one `make test` builds)."),
    feed: str | None = typer.Option(None, "--feed", help="Only this feed."),
    feeds_dir: Path | None = typer.Option(None, "--feeds-dir", help="Folder of feed YAML files."),
    verbose: bool = typer.Option(False, "--verbose", help="A line for every file, not only those with a problem."),
) -> None:
    """Prove per file that the rows the audit says it loaded are in raw or were replaced by a newer file."""
    from ingest.reconcile import reconcile as run_reconcile

    _select_database(target)
    raise typer.Exit(run_reconcile(log=typer.echo, feeds_dir=feeds_dir, feed=feed, verbose=verbose))


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
    test_scope: str = typer.Option(
        "all",
        "--test-scope",
        help="all: data tests check every row; arrivals: row-level tests check only rows that arrived since the "
        "last build (a daily run; keep a weekly run with all).",
    ),
) -> None:
    """The main job: ingest the landing zone, then `dbt build`."""
    from warehouse.pipeline import run_pipeline

    # The loader writes where dbt then reads: the ci database for --dbt-target ci, not dev.
    _select_database(dbt_target)
    raise typer.Exit(run_pipeline(dbt_target=dbt_target, test_scope=test_scope, log=_say))


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("healthcare-elt-warehouse")
        except PackageNotFoundError:
            found = "unknown (not installed)"
        typer.echo(f"warehouse {found}")
        raise typer.Exit(0)


@app.callback()
def _root(
    _show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Healthcare ELT warehouse: embedded PostgreSQL, ingest, dbt."""


def _terminated(signum: int, _frame: object) -> None:
    # An exception, not the default sudden death: `finally` blocks run, so dbt and other children
    # are stopped (warehouse.dbt_runner.run_child) and the loader records its run as failed.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    """Entry point: exceptions become one line, never a traceback (WAREHOUSE_DEBUG=1 shows them)."""
    os.umask(0o077)  # everything the warehouse writes (reports, dlt packages, Parquet) is its owner's only
    signal.signal(signal.SIGTERM, _terminated)
    try:
        code = app(args=argv, standalone_mode=False)
    except WarehouseError as exc:
        _say(f"error: {exc}")
        sys.exit(exc.exit_code)
    except (click.exceptions.Exit, typer_exceptions.Exit) as exc:
        sys.exit(exc.exit_code)
    except (click.ClickException, typer.TyperException) as exc:
        # Click's own message ("No such command 'ingset'. Did you mean 'ingest'?") and exit code 2.
        # typer >= 0.20 carries its own copy of click, whose exceptions derive from the public
        # TyperException, not from `click`'s.
        show = getattr(exc, "show", None)
        if show is None:
            _say(f"error: {type(exc).__name__}")
            sys.exit(1)
        show()
        sys.exit(getattr(exc, "exit_code", 2))
    except (click.exceptions.Abort, typer_exceptions.Abort, KeyboardInterrupt):
        _say("aborted")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("WAREHOUSE_DEBUG"):
            raise
        # Only the exception type: its text could echo a data value.
        _say(f"error: unexpected {type(exc).__name__}; rerun with WAREHOUSE_DEBUG=1 for details")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)

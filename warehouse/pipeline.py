"""`warehouse run`: the main job, in order: ingest the landing zone, build every dbt layer, then write
the data-quality report and send alerts (also, and above all, when an earlier step failed)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from warehouse.db.target import Target
from warehouse.dbt_runner import run_dbt
from warehouse.errors import WarehouseError


@dataclass
class _Progress:
    step: str = "start"
    run_id: str | None = None  # the ingest run's id once the loader has reported
    failure: str | None = None


TEST_SCOPES = ("all", "arrivals")


def _build(
    target: Target, dbt_target: str, progress: _Progress, log: Callable[[str], None], test_scope: str = "all"
) -> int:
    from ingest.cli_support import ingest_options, print_summary
    from ingest.loader import run_ingest

    progress.step = "ingest"
    log("==> ingest")
    options = ingest_options(feed=None, client=None, force=False, dry_run=False, landing=None, feeds_dir=None)
    report = run_ingest(options, target, log=log)
    progress.run_id = report.run_id
    print_summary(report, dry_run=False)
    progress.step = "dbt deps"
    log("==> dbt deps")
    code = run_dbt(["deps", "--quiet"], dbt_target=dbt_target, target=target)
    if code != 0:
        progress.failure = f"dbt deps failed with exit code {code}"
        log(progress.failure)
        return code
    # Stale sources are reported (and recorded in audit.dbt_source_freshness by the on-run-end hook),
    # not a reason to stop: the build still runs on what is there.
    progress.step = "dbt source freshness"
    log("==> dbt source freshness")
    if run_dbt(["source", "freshness"], dbt_target=dbt_target, target=target) != 0:
        log("source freshness: some sources are older than their error threshold (see above)")
    progress.step = "dbt build"
    log("==> dbt build")
    # arrivals: row-level tests check only the rows that arrived since the last build
    # (macros/test_scope.sql); all: every row, as the first build and a weekly run should.
    code = run_dbt(["build", "--vars", f"{{test_scope: {test_scope}}}"], dbt_target=dbt_target, target=target)
    if code != 0:
        progress.failure = f"dbt build failed with exit code {code}"
        log(progress.failure)
        return code
    return 0


def run_pipeline(*, dbt_target: str = "dev", test_scope: str = "all", log: Callable[[str], None] = print) -> int:
    if test_scope not in TEST_SCOPES:
        raise WarehouseError(f"unknown test scope {test_scope!r}; choose one of {', '.join(TEST_SCOPES)}")
    target = Target.discover()
    with _one_run_at_a_time(target):
        return _run_locked(target, dbt_target, test_scope, log)


@contextlib.contextmanager
def _one_run_at_a_time(target: Target) -> Iterator[None]:
    """A second `warehouse run` on the same database beside a first would race its dbt build (the
    loader has its own database lock, dbt has none). flock ends with the process however it dies;
    children do not inherit the descriptor (close_fds), so a dead run never holds it."""
    target.state.root.mkdir(parents=True, exist_ok=True)
    path = target.state.root / f"run-{target.database()}.lock"
    handle = open(path, "a+")  # noqa: SIM115 - held open for the whole run
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise WarehouseError(f"another `warehouse run` is running (pid {holder}); try again when it ends") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


def _run_locked(target: Target, dbt_target: str, test_scope: str, log: Callable[[str], None]) -> int:
    progress = _Progress()
    try:
        code = _build(target, dbt_target, progress, log, test_scope)
    except WarehouseError as exc:
        progress.failure = str(exc)
        _data_quality(target, dbt_target, progress, log)
        raise  # still one line on stderr and the error's exit code, after the alert went out
    except Exception as exc:
        # Only the type: the text of an unexpected error could quote a data value.
        progress.failure = f"unexpected {type(exc).__name__}"
        _data_quality(target, dbt_target, progress, log)
        raise
    _data_quality(target, dbt_target, progress, log)
    return code


def _data_quality(target: Target, dbt_target: str, progress: _Progress, log: Callable[[str], None]) -> None:
    """Report and alerts. Never raises and never changes the exit code: a dead webhook or an unreadable
    audit history is a warning line, not a failed pipeline."""
    log("==> data-quality report and alerts")
    try:
        from dq.alerts.config import load_config
        from dq.checks import pipeline_failure
        from dq.history import latest_dbt_invocation
        from dq.runner import alert, collect, database_for, out_dir_for, report_url, write_report

        config = load_config()
        database = database_for(target, dbt_target)
        extra = []
        if progress.failure:
            run_id = progress.run_id
            if progress.step.startswith("dbt"):
                run_id = _dbt_invocation(target, database, latest_dbt_invocation) or run_id
            run_id = run_id or datetime.now(UTC).strftime("run-%Y%m%dT%H%M%SZ")
            extra.append(pipeline_failure(progress.step, progress.failure, run_id))
        collected = collect(target, database, config, extra=extra, strict=False)
        out_dir = out_dir_for(config, None)
        html_path, json_path = write_report(collected, config, out_dir)
        log(f"data-quality report: {html_path} ({len(collected.findings)} finding(s)), {json_path}")
        alert(target, collected, config, report_url(config, out_dir), log)
    except Exception as exc:  # the report and alerts must never fail the pipeline
        message = str(exc) if isinstance(exc, WarehouseError) else type(exc).__name__
        log(f"warning: data-quality report and alerts failed: {message}")


def _dbt_invocation(target: Target, database: str, latest: Callable) -> str | None:
    """The failed build's invocation id, when the on-run-end hook got to record it."""
    from warehouse.db.connection import connect

    try:
        conn = connect(target.role("auditor", database), total_seconds=5)
    except WarehouseError:
        return None
    try:
        return latest(conn)
    except Exception:  # only a nicer run id is lost
        return None
    finally:
        conn.close()

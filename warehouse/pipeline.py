"""`warehouse run`: the main job, in order: ingest the landing zone, then build every dbt layer."""

from __future__ import annotations

from collections.abc import Callable

from warehouse.db.target import Target
from warehouse.dbt_runner import run_dbt


def run_pipeline(*, dbt_target: str = "dev", log: Callable[[str], None] = print) -> int:
    from ingest.cli_support import ingest_options, print_summary
    from ingest.loader import run_ingest

    target = Target.discover()
    log("==> ingest")
    options = ingest_options(feed=None, client=None, force=False, dry_run=False, landing=None, feeds_dir=None)
    report = run_ingest(options, target, log=log)
    print_summary(report, dry_run=False)
    log("==> dbt deps")
    code = run_dbt(["deps", "--quiet"], dbt_target=dbt_target, target=target)
    if code != 0:
        log(f"dbt deps failed with exit code {code}")
        return code
    # Stale sources are reported (and recorded in audit.dbt_source_freshness by the on-run-end hook),
    # not a reason to stop: the build still runs on what is there.
    log("==> dbt source freshness")
    if run_dbt(["source", "freshness"], dbt_target=dbt_target, target=target) != 0:
        log("source freshness: some sources are older than their error threshold (see above)")
    log("==> dbt build")
    code = run_dbt(["build"], dbt_target=dbt_target, target=target)
    if code != 0:
        log(f"dbt build failed with exit code {code}")
        return code
    return 0

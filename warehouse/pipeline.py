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
    for step, args in (("dbt deps", ["deps", "--quiet"]), ("dbt build", ["build"])):
        log(f"==> {step}")
        code = run_dbt(args, dbt_target=dbt_target, target=target)
        if code != 0:
            log(f"{step} failed with exit code {code}")
            return code
    return 0

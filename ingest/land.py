"""dlt: bulk-load pseudonymised Arrow tables into the stage tables of schema `raw`.

Arrow tables, not Python dicts (several times faster), written with dlt's `csv` loader format, which
the postgres destination loads with COPY. Stage tables are replaced on every dlt run; rows carry the
invocation's `_load_nonce`, so promotion never picks up rows of an earlier, interrupted run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa

from warehouse.db.connection import ConnInfo

# dlt reads its settings from the environment; set them before it is imported anywhere.
os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("SCHEMA__NAMING", "direct")  # keep our table and column names exactly
# Load packages are transient files on local disk; gzip would cost more CPU than it saves I/O.
os.environ.setdefault("DATA_WRITER__DISABLE_COMPRESSION", "true")
# Rotate extracted files every 200k rows so normalize and load work on bounded pieces (flat memory
# as files grow), and normalize them on both cores.
os.environ.setdefault("DATA_WRITER__FILE_MAX_ITEMS", "200000")
os.environ.setdefault("NORMALIZE__WORKERS", "2")

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed


def stage_pipeline(name: str, info: ConnInfo, pipelines_dir: Path):
    pipelines_dir.mkdir(parents=True, exist_ok=True)
    pipelines_dir.chmod(0o700)  # holds load packages: pseudonymised, still not for everyone
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.postgres(credentials=info.url()),
        dataset_name="raw",
        pipelines_dir=str(pipelines_dir),
        progress=None,
    )


def load_stage(pipeline, tables: Iterable[tuple[str, pa.Table]]) -> None:
    """Replace the stage tables with what `tables` yields, (name, arrow table) pairs."""
    pipeline.abort_packages()  # a killed earlier run may have left a package behind

    def items() -> Iterator:
        for name, table in tables:
            yield dlt.mark.with_table_name(table, name)

    pipeline.run(items(), write_disposition="replace", loader_file_format="csv")


__all__ = ["PipelineStepFailed", "load_stage", "stage_pipeline"]

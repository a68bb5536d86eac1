"""dlt: bulk-load pseudonymised Arrow tables into the stage tables of schema `raw`.

Arrow tables, not Python dicts (several times faster), written with dlt's `csv` loader format, which
the postgres destination loads with COPY. Stage tables are replaced on every dlt run; rows carry the
invocation's `_load_nonce`, so promotion never picks up rows of an earlier, interrupted run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

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


@dataclass
class StagedFile:
    table: str
    path: Path
    rows: int
    schema: pa.Schema


@dataclass
class StageFiles:
    """CSV files, one per stage table, written straight from Arrow (C++), for dlt to import as they are.

    dlt would otherwise write Arrow to Parquet when extracting and convert Parquet to CSV when
    normalizing (about 8 s per million rows here); importing ready files skips both.
    """

    folder: Path
    _writers: dict[str, pacsv.CSVWriter] = field(default_factory=dict)
    _files: dict[str, StagedFile] = field(default_factory=dict)

    def write(self, table_name: str, table: pa.Table) -> None:
        staged = self._files.get(table_name)
        if staged is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{table_name}.csv"
            staged = self._files[table_name] = StagedFile(table_name, path, 0, table.schema)
            self._writers[table_name] = pacsv.CSVWriter(path, table.schema)
        self._writers[table_name].write_table(table.cast(staged.schema))
        staged.rows += table.num_rows

    def close(self) -> list[StagedFile]:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        return list(self._files.values())

    def discard(self) -> None:
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _imported(staged: StagedFile):
    # A closure, not a default argument: dlt would read a resource function's defaults as config.
    def rows() -> Iterator:
        # The empty table carries the column types; dlt takes the file as it is.
        yield dlt.mark.with_file_import(str(staged.path), "csv", staged.rows, hints=staged.schema.empty_table())

    return rows


def load_stage(pipeline, files: Iterable[StagedFile]) -> None:
    """Replace each stage table with the rows of its CSV file."""
    pipeline.abort_packages()  # a killed earlier run may have left a package behind
    resources = [dlt.resource(_imported(staged), name=staged.table, write_disposition="replace") for staged in files]
    if resources:
        pipeline.run(resources, loader_file_format="csv")


__all__ = ["PipelineStepFailed", "StageFiles", "StagedFile", "load_stage", "stage_pipeline"]

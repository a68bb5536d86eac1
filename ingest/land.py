"""dlt: bulk-load pseudonymised Arrow tables into the stage tables of schema `raw`.

Arrow tables, not Python dicts (several times faster), written with dlt's `parquet` loader format:
extract writes the Arrow batches to Parquet once, normalize only moves the files, and the postgres
destination loads them with binary COPY through ADBC (adbc-driver-postgresql). The `csv` format cost a
Parquet -> CSV conversion in normalize and a text COPY that parses every value again. Stage tables
are emptied by the loader before every load; rows carry `_stage_file` (random per invocation, plus the
file's position in it), so promotion picks each file's own rows and never rows of an earlier,
interrupted run. Lineage that is the same for every row of a file is not staged: promotion writes it.

The batches are produced in two threads of their own (read and validated in one, pseudonymised in the
other: `ingest.ahead`), a bounded queue ahead of dlt's extract (Parquet writing, mostly outside the
GIL), and dlt runs once per load: its load step then copies the Parquet files (rotated every 100k
rows) with two workers side by side, one server backend each. Runs per segment, which let a COPY
overlap the production of the next segment, measured no faster on two cores, twice: each dlt run
resolves its configuration, connects and writes its state again, and the production it would overlap
already keeps both cores busy (BENCHMARKS.md, sessions 5 and 6).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa

from ingest.ahead import RunAhead
from warehouse.db.connection import ConnInfo
from warehouse.private_files import private_dir, restrict_tree

# dlt reads its settings from the environment; set them before it is imported anywhere.
os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("SCHEMA__NAMING", "direct")  # keep our table and column names exactly
# Load packages are transient files on local disk; gzip would cost more CPU than it saves I/O.
os.environ.setdefault("DATA_WRITER__DISABLE_COMPRESSION", "true")
# Rotate extracted files every 100k rows so normalize and load work on bounded pieces (flat memory
# as files grow): each load job holds much of its file in memory. With uncompressed stage files,
# 200k-row files took the loader's peak in dlt's load step from ~450 MB to ~580 MB on 5M vitals
# rows; 100k-row files peaked at ~490 MB in the same time. Normalize only moves Parquet files: one
# worker, in process (a pool of two forked processes for every run cost ~0.4 s a run, ~2 s per 1M rows).
os.environ.setdefault("DATA_WRITER__FILE_MAX_ITEMS", "100000")
os.environ.setdefault("NORMALIZE__WORKERS", "1")
# Each load job holds a Parquet file's row group in memory and a server backend busy: two match two
# cores, while dlt's default of 20 only adds memory.
os.environ.setdefault("LOAD__WORKERS", "2")
# A load package's job files are the staged rows (pseudonymised, still row data): dlt deletes them as
# soon as their package is loaded, rather than keeping every load's rows on disk. What a failed or
# aborted package keeps is removed by `discard_packages`.
os.environ.setdefault("LOAD__DELETE_COMPLETED_JOBS", "true")

import dlt
import pyarrow.parquet as pq
from dlt.common.data_writers import writers as _dlt_writers
from dlt.destinations import _adbc_jobs
from dlt.destinations.impl.postgres import postgres as _postgres_dlt
from dlt.pipeline.exceptions import PipelineStepFailed

# dlt asks whether the ADBC driver is installed for every table of every run, each time loading the
# driver and resolving its configuration (~0.1 s a call, seconds per load); the answer cannot change
# while we run.
_adbc_jobs.has_adbc_driver = functools.lru_cache(maxsize=None)(_adbc_jobs.has_adbc_driver)


_staging = threading.local()  # set while load_stage runs dlt: only stage files are written plain
_dlt_parquet_writer = _dlt_writers.ParquetDataWriter._create_writer


def _plain_parquet_writer(self, schema):
    """Stage files without compression, dictionary pages or column statistics.

    A stage file is written once, read once by the COPY and deleted. Dictionary encoding of 64-hex
    tokens and per-page min/max statistics only cost time there: writing 1M member rows (raw and
    calculated) took 1.8 s with them, 0.6 s without, and the COPY reads the plain file faster too.
    dlt's Parquet default is snappy (its DISABLE_COMPRESSION setting covers text formats only):
    sampled on the loader's main thread, compressing was the biggest single cost after imports, and
    keyed tokens, the bulk of a row, are random hex that compresses little.
    Other dlt Parquet (the published pseudonymised copy, read by people) keeps dlt's settings.
    """
    if not getattr(_staging, "active", False):
        return _dlt_parquet_writer(self, schema)
    fmt = self.parquet_format
    return pq.ParquetWriter(
        self._f, schema, flavor=fmt.flavor, version=fmt.version, compression="none",
        data_page_size=fmt.data_page_size, coerce_timestamps=fmt.coerce_timestamps,
        allow_truncated_timestamps=fmt.allow_truncated_timestamps,
        use_compliant_nested_type=fmt.use_compliant_nested_type, use_dictionary=False, write_statistics=False,
    )  # fmt: skip


_dlt_writers.ParquetDataWriter._create_writer = _plain_parquet_writer


_adbc_lock = threading.Lock()
_adbc_databases: dict[str, object] = {}  # URI -> adbc_driver_manager.dbapi._SharedDatabase


def _shared_adbc_connect(self):
    """dlt's Parquet COPY job, connecting through one ADBC database object per URI, not one per job.

    Initialising an ADBC PostgreSQL database opens a connection of its own to read the server's
    type catalogue: ~0.25 s, paid by each of a load's jobs (10 for 1M member rows) on the load
    step's critical path. A connection from an initialised database takes ~0.02 s. The type
    catalogue does not change under us: the stage tables use built-in types only.
    """
    from adbc_driver_manager import _lib, dbapi

    self._config = self._job_client.config
    uri = self._config.credentials.to_native_representation()
    with _adbc_lock:
        database = _adbc_databases.get(uri)
        if database is None:
            database = _adbc_databases[uri] = dbapi._SharedDatabase(
                _lib.AdbcDatabase(driver=_postgres_dlt.get_adbc_driver_location(), uri=uri)
            )
        connection = _lib.AdbcConnection(database._db)
    return dbapi.Connection(database, connection)  # holds a reference of its own; closing drops it


_postgres_dlt.PostgresParquetCopyJob._connect = _shared_adbc_connect


def close_adbc_databases() -> None:
    """At the end of a run: the cached databases hold no server connection, only driver state."""
    with _adbc_lock:
        for database in _adbc_databases.values():
            database.close()
        _adbc_databases.clear()


def use_jemalloc() -> None:
    """Arrow allocations of the loader from jemalloc, not pyarrow's default mimalloc.

    The pipeline's live Arrow memory is small (~40-80 MB: the batches in the queue, the row groups
    two COPY jobs read), but mimalloc kept far more resident: peak RSS for 1M member rows 576 MB
    against 485 MB with jemalloc, 5M vitals rows 554 MB against 493 MB, and 1M vitals rows took
    ~1 CPU-second more. `ingest/__init__.py` asks for jemalloc through the environment before
    pyarrow starts; this switches a process that imported pyarrow before that (a no-op otherwise).
    Buffers allocated before the switch are still freed to the pool they came from.
    """
    with contextlib.suppress(NotImplementedError):  # a pyarrow built without jemalloc keeps its default
        pa.set_memory_pool(pa.jemalloc_memory_pool())


def stage_pipeline(name: str, info: ConnInfo, pipelines_dir: Path):
    private_dir(pipelines_dir)  # holds load packages while they load: pseudonymised, still not for everyone
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.postgres(credentials=info.url()),
        dataset_name="raw",
        pipelines_dir=str(pipelines_dir),
        progress=None,
    )


QUEUE_BATCHES = 8  # batches produced ahead of dlt: bounds memory (a batch is one 4 MB read block)


def load_stage(pipeline: Callable[[], dlt.Pipeline], tables: Iterator[tuple[str, pa.Table]]) -> None:
    """Append what `tables` yields, (stage table name, arrow table) pairs, to the (emptied) stage tables.

    The batches start before `pipeline()` is asked for the dlt pipeline: making one resolves dlt's
    configuration and state (~0.4 s), time in which the first batches are read and checked."""
    producer = RunAhead(tables, depth=QUEUE_BATCHES, name="ingest-batches")
    producer.start()
    _staging.active = True
    stage = None
    try:
        stage = pipeline()
        discard_packages(stage)  # a killed earlier run may have left a package behind
        stage.run(_marked(producer), write_disposition="append", loader_file_format="parquet")
    except BaseException:
        # The loader retries from scratch or gives up: either way this attempt's rows leave the disk.
        if stage is not None:
            with contextlib.suppress(Exception):
                discard_packages(stage)
        raise
    finally:
        _staging.active = False
        producer.stop()
    discard_packages(stage)
    restrict_tree(Path(stage.pipelines_dir))


def discard_packages(pipeline: dlt.Pipeline) -> None:
    """No load package outlives its load: pending ones (a failed or interrupted load) are aborted,
    which moves them among the loaded ones, and loaded ones are deleted whole. dlt's
    `delete_completed_jobs` has already removed the job files of a package that loaded, but it keeps
    the failed jobs of an aborted one (row data too) and every package's folder."""
    pipeline.abort_packages()
    loaded = Path(pipeline.working_dir) / "load" / "loaded"
    for load_id in pipeline.list_completed_load_packages():
        if (loaded / load_id).exists():
            shutil.rmtree(loaded / load_id)


def _marked(items: RunAhead) -> Iterator:
    """Everything produced, marked with its stage table, for one dlt run."""
    for name, table in items:
        yield dlt.mark.with_table_name(table, name)


__all__ = [
    "PipelineStepFailed",
    "close_adbc_databases",
    "discard_packages",
    "load_stage",
    "stage_pipeline",
    "use_jemalloc",
]

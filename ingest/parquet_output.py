"""Optional Parquet copy of the pseudonymised layer, through dlt's filesystem destination.

Enabled per feed with `parquet_output: <folder or fsspec URL>`. Layout:
`<parquet_output>/<feed>/YYYY/MM/DD/{raw,calculated}/<entity>/<file sha256>.<n>.parquet`, dated by
the landed file's date. While a file is read its pseudonymised batches are teed into local Parquet
files (flat memory); before the file is promoted they are published, replacing any earlier copy of
the same file, so re-runs and interrupted runs leave exactly one copy per file.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.land import discard_packages, dlt
from warehouse.private_files import private_dir, restrict, restrict_tree

LAYOUT = "{table_name}/{file_sha}.{file_id}.{ext}"


@dataclass
class ParquetTee:
    folder: Path
    _writers: dict[tuple[str, str, str], pq.ParquetWriter] = field(default_factory=dict)

    def write(self, file_sha: str, entity: str, kind: str, table: pa.Table) -> None:
        stage_only = [c for c in ("_load_nonce", "_stage_file") if c in table.column_names]
        if stage_only:
            table = table.drop_columns(stage_only)  # artefacts of staging, not data
        key = (file_sha, entity, kind)
        writer = self._writers.get(key)
        if writer is None:
            path = self.folder / file_sha / f"{entity}__{kind}.parquet"
            private_dir(path.parent)
            writer = self._writers[key] = pq.ParquetWriter(path, table.schema)
            restrict(path)  # before any row is written into it
        writer.write_table(table)

    def close(self, file_sha: str) -> list[Path]:
        paths = []
        for key in [k for k in self._writers if k[0] == file_sha]:
            self._writers.pop(key).close()
            paths.append(self.folder / file_sha / f"{key[1]}__{key[2]}.parquet")
        return paths

    def discard(self, file_sha: str) -> None:
        self.close(file_sha)
        shutil.rmtree(self.folder / file_sha, ignore_errors=True)

    def discard_all(self) -> None:
        for key in list(self._writers):
            self._writers.pop(key).close()
        shutil.rmtree(self.folder, ignore_errors=True)


def publish(
    *, bucket_url: str, feed: str, file_sha: str, file_date: date, parts: list[Path], pipelines_dir: Path
) -> None:
    """Replace the Parquet copy of one landed file with `parts` (local tee files)."""
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    day = file_date or date.today()
    # dlt allows nothing but the schema before {table_name} in a layout, so the date and the kind
    # live in the bucket URL and the dataset name: <bucket>/<feed>/YYYY/MM/DD/<kind>/<table>/...
    day_url = f"{bucket_url.rstrip('/')}/{feed}/{day:%Y}/{day:%m}/{day:%d}"
    fs, day_root = fsspec.core.url_to_fs(day_url)
    for old in fs.glob(f"{day_root}/*/*/{file_sha}.*"):
        fs.rm(old)
    for kind in ("raw", "calculated"):
        mine = [p for p in parts if p.stem.endswith(f"__{kind}")]
        if not mine:
            continue
        pipeline = dlt.pipeline(
            pipeline_name=f"parquet_{feed}_{kind}",
            destination=dlt.destinations.filesystem(
                bucket_url=day_url,
                layout=LAYOUT,
                extra_placeholders={"file_sha": file_sha},
                # dlt warns on every run that `direct` naming would allow '/' inside a table name, so
                # one table's prefix could select another's files. Ours are entity names, which the
                # feed config restricts to [a-z][a-z0-9_]* without '__' (ingest.config.IDENTIFIER).
                warn_unsafe_layout_separators=False,
            ),
            dataset_name=kind,
            pipelines_dir=str(pipelines_dir),
        )

        def items(mine=mine):
            for part in mine:
                entity = part.stem.split("__", 1)[0]
                for batch in pq.ParquetFile(part).iter_batches(batch_size=100_000):
                    yield dlt.mark.with_table_name(pa.Table.from_batches([batch]), entity)

        discard_packages(pipeline)
        try:
            pipeline.run(items(), loader_file_format="parquet", write_disposition="append")
        except BaseException:
            with contextlib.suppress(Exception):
                discard_packages(pipeline)
            raise
        discard_packages(pipeline)  # its packages hold the copy's rows a second time
    if isinstance(fs, LocalFileSystem):
        _restrict_local_copy(Path(fsspec.core.url_to_fs(bucket_url)[1]), Path(day_root))
    restrict_tree(pipelines_dir)


def _restrict_local_copy(bucket: Path, day: Path) -> None:
    """A local Parquet copy is its owner's only, like every file the warehouse writes: the folders
    from the bucket down to the day, and everything in the day's folder. (Object stores have no
    file modes; their access is the bucket's policy.)"""
    restrict_tree(day)
    folder = day.parent
    while folder != bucket and bucket in folder.parents:
        restrict(folder)
        folder = folder.parent
    restrict(bucket)

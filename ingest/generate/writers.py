"""Landing-zone files and the PII manifest, written a chunk of people at a time.

Every file is created with its header before any row is generated, so a client with nothing to say
on a day still sends a file. Rows are buffered per file only for the current chunk of people and
appended when the chunk is done: memory is bounded by the chunk size, and no more than one file is
open at a time however many clients and days there are.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from json.encoder import encode_basestring
from pathlib import Path

from ingest.generate.bad_rows import ATTACK_STRINGS

# What this generator writes, so a rerun can clear its own earlier output and nothing else.
_OWN_FILE = re.compile(r"^[a-z0-9]+_\d{4}-\d{2}-\d{2}(?:_\d+)?\.(?:csv|ndjson|txt)$")


@dataclass(frozen=True)
class FileKind:
    """One entity of one feed: header and dialect shared by all its files."""

    feed: str
    entity: str
    header: tuple[str, ...]
    extension: str = "csv"
    delimiter: str = ","
    line_end: str = "\n"
    # (column index, manifest kind): the PII columns whose values the manifest must list.
    pii: tuple[tuple[int, str], ...] = ()

    @classmethod
    def csv(cls, feed: str, entity: str, header: Sequence[str], pii: dict[str, str] | None = None) -> FileKind:
        """A comma-separated entity; `pii` maps column names to the manifest kind of their values."""
        columns = tuple((header.index(column), kind) for column, kind in (pii or {}).items())
        return cls(feed, entity, tuple(header), pii=columns)

    def file_name(self, client: str, day: date, seq: int | None = None) -> str:
        suffix = f"_{seq}" if seq is not None else ""
        return f"{client}_{day.isoformat()}{suffix}.{self.extension}"


class PiiManifest:
    """JSON Lines of {"kind", "value"}: every personal value written, deduplicated per chunk.

    Deduplicating across the whole run would need every value in memory; within a chunk it already
    removes most repeats (a person's MRN is on all their rows). Insertion-ordered dicts, not sets,
    keep the output byte-identical between runs.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.lines = 0
        self._pending: dict[tuple[str, str], None] = {}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("", encoding="utf-8")

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def add(self, kind: str, value: str) -> None:
        if value and value not in ATTACK_STRINGS:
            self._pending[(kind, value)] = None

    def flush(self) -> None:
        if self.path is None or not self._pending:
            self._pending.clear()
            return
        # The C string encoder instead of json.dumps per line: same JSON, several times faster.
        text = "".join(f'{{"kind": "{kind}", "value": {encode_basestring(value)}}}\n' for kind, value in self._pending)
        with self.path.open("a", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        self.lines += len(self._pending)
        self._pending.clear()


@dataclass(eq=False)
class CsvFile:
    kind: FileKind
    path: Path
    relative: str
    manifest: PiiManifest
    rows: int = 0  # flushed to disk
    seen: int = 0  # written, flushed or not
    corrupted: int = 0  # of `seen`, rows the bad-row injector changed
    _pending: list[list[str]] = field(default_factory=list)
    _later: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._track = self.manifest.enabled and bool(self.kind.pii)

    def create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, delimiter=self.kind.delimiter, lineterminator=self.kind.line_end).writerow(self.kind.header)

    def write(self, row: list[str]) -> None:
        self._pending.append(row)
        self.seen += 1
        if self._track:
            self._register(row)

    def write_later(self, row: list[str]) -> None:
        """After the rest of this chunk's rows: the later duplicate of a business key."""
        self._later.append(row)
        self.seen += 1
        if self._track:
            self._register(row)

    def _register(self, row: list[str]) -> None:
        add = self.manifest.add
        for index, kind in self.kind.pii:
            add(kind, row[index])

    def flush(self) -> None:
        if not self._pending and not self._later:
            return
        with self.path.open("a", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, delimiter=self.kind.delimiter, lineterminator=self.kind.line_end)
            writer.writerows(self._pending)
            writer.writerows(self._later)
        self.rows += len(self._pending) + len(self._later)
        self._pending.clear()
        self._later.clear()


@dataclass(eq=False)
class NdjsonFile:
    path: Path
    relative: str
    rows: int = 0
    seen: int = 0
    corrupted: int = 0
    _pending: list[str] = field(default_factory=list)

    def create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(b"")

    def write(self, line: str) -> None:
        self._pending.append(line)
        self.seen += 1

    def flush(self) -> None:
        if not self._pending:
            return
        with self.path.open("a", encoding="utf-8", newline="") as fh:
            fh.write("\n".join(self._pending))
            fh.write("\n")
        self.rows += len(self._pending)
        self._pending.clear()


class Landing:
    """The output folder: creates files up front, buffers rows per chunk, counts rows per file."""

    def __init__(self, out: Path, manifest: PiiManifest) -> None:
        self.out = out
        self.manifest = manifest
        self.files: dict[str, CsvFile | NdjsonFile] = {}

    def clear_previous(self, feed: str) -> None:
        """Remove this generator's own files of an earlier run, so fewer days leave nothing stale."""
        folder = self.out / feed
        if not folder.is_dir():
            return
        for entity_dir in folder.iterdir():
            if entity_dir.is_dir():
                for path in entity_dir.iterdir():
                    if path.is_file() and _OWN_FILE.match(path.name):
                        path.unlink()

    def csv_file(self, kind: FileKind, client: str, day: date, seq: int | None = None) -> CsvFile:
        relative = f"{kind.feed}/{kind.entity}/{kind.file_name(client, day, seq)}"
        file = CsvFile(kind, self.out / relative, relative, self.manifest)
        file.create()
        self.files[relative] = file
        return file

    def daily_csv_files(
        self, kind: FileKind, clients: Sequence[str], dates: Sequence[date], per_day: int
    ) -> dict[tuple[str, int, int], CsvFile]:
        """Files numbered _1.._per_day for every client and day, keyed (client, day index, seq)."""
        return {
            (client, d, seq): self.csv_file(kind, client, day, seq)
            for client in clients
            for d, day in enumerate(dates)
            for seq in range(1, per_day + 1)
        }

    def ndjson_file(self, feed: str, entity: str, client: str, day: date) -> NdjsonFile:
        relative = f"{feed}/{entity}/{client}_{day.isoformat()}.ndjson"
        file = NdjsonFile(self.out / relative, relative)
        file.create()
        self.files[relative] = file
        return file

    def flush(self) -> None:
        for file in self.files.values():
            file.flush()
        self.manifest.flush()

    def row_counts(self) -> dict[str, int]:
        return {relative: file.rows for relative, file in self.files.items()}

"""Read a landed file into Arrow batches of text columns, one batch at a time (flat memory).

Everything is read as text: deciding what is a valid number or date is validation's job, and a row
must never be lost because a parser gave up on it. Problems that make a whole file unreadable
(empty, header mismatch, schema drift) raise `FileProblem`; problems with one row are reported as
`BadRow` (line and reason, never the row's content: it may hold PII).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ingest.config import Entity, FileFormat
from ingest.describe import Describer, HeaderCell, redact_message
from ingest.streams import (
    MAX_QUOTED_BYTES,
    MAX_QUOTED_LINES,
    SNIFF_BYTES,
    Opened,
    Prepend,
    StreamProblem,
    check_text,
    open_bytes,
    records,
)

# What a damaged or odd Parquet file raises, from its footer to its last page.
_PARQUET_ERRORS = (pa.ArrowException, OSError, ValueError, IndexError, EOFError, MemoryError)
BLOCK_SIZE = 4 << 20  # a row must fit one block (pyarrow); larger blocks cost memory per batch
NDJSON_BATCH = 50_000


class FileProblem(Exception):
    """The file as a whole cannot be loaded. `code` is machine-readable, the message one line."""

    def __init__(self, code: str, message: str, *, drift: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.drift = drift or {}


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str  # e.g. "column_count_mismatch:expected=5,actual=4"


@dataclass
class Batch:
    columns: dict[str, pa.Array]  # canonical name -> string array
    lines: np.ndarray  # record number of each row; the header is line 1
    bad_utf8: dict[int, list[str]] = field(default_factory=dict)  # row index -> columns with invalid bytes

    @property
    def num_rows(self) -> int:
        return len(self.lines)


@dataclass
class FileReader:
    """Iterate `batches()`; afterwards `bad_rows` holds rows that could not be split into columns."""

    handle: io.BufferedIOBase
    fmt: FileFormat
    entity: Entity
    # Decides what of the header may be shown; without one (no key at hand) nothing gets an id.
    describer: Describer = field(default_factory=lambda: Describer(key=None))
    bad_rows: list[BadRow] = field(default_factory=list)
    # A quoted field longer than this is taken for a quote left open (`streams.records`).
    max_quoted_bytes: int = MAX_QUOTED_BYTES
    max_quoted_lines: int = MAX_QUOTED_LINES

    def batches(self) -> Iterator[Batch]:
        try:
            if self.fmt.type in ("csv", "tsv"):
                yield from self._csv()
            elif self.fmt.type == "ndjson":
                yield from self._ndjson()
            else:
                yield from self._parquet()
        except StreamProblem as problem:
            raise FileProblem(problem.code, str(problem)) from None

    # ---- header checks shared by every format ------------------------------------------------------
    def _cells(self, header: list[str], names: list[str]) -> list[HeaderCell]:
        """The given header cells as they may be shown (the first occurrence's position)."""
        return [self.describer.cell(name, header.index(name) + 1) for name in names]

    def _map_header(self, header: list[str]) -> dict[str, int]:
        """Column name -> position in the row, after checking the header against the feed contract.

        A column takes the cell at its `position` (which must carry one of its names), else the one
        cell carrying one of its names (`source`, then `sources`). A name on several cells is only
        readable by position: guessing which `Celle 5:` is which would swap two sensors' readings.

        Header cells are data until proven otherwise: messages and drift carry their labels
        (`Describer.cell`), never the cells themselves."""
        taken: dict[int, str] = {}  # position -> column name
        mapped: dict[str, int] = {}
        for column in self.entity.columns:
            if column.position is None:
                continue
            index = column.position - 1
            if index < len(header) and header[index] in column.accepted_sources:
                mapped[column.name] = index
                taken[index] = column.name
            elif index < len(header):
                cell = self.describer.cell(header[index], index + 1)
                raise FileProblem(
                    "header_mismatch",
                    f"column {column.name}: position {column.position} holds {_labels([cell])}, "
                    f"not {column.source!r}; check `position:` of the column",
                )
        free = [h for i, h in enumerate(header) if i not in taken]
        counts = Counter(free)
        duplicated = sorted({h for h in free if counts[h] > 1}, key=header.index)
        if duplicated:
            labels = ", ".join(c.label for c in self._cells(header, duplicated))
            raise FileProblem(
                "duplicate_header",
                f"duplicate column names in header: {labels}; declare each with `position:` to read them",
            )
        for column in self.entity.columns:
            if column.name in mapped or column.position is not None:
                continue
            for name in column.accepted_sources:
                index = next((i for i, h in enumerate(header) if h == name and i not in taken), None)
                if index is not None:
                    mapped[column.name] = index
                    taken[index] = column.name
                    break
        missing = [c.source for c in self.entity.columns if c.name not in mapped]
        missing_required = [
            c.source
            for c in self.entity.columns
            if c.name not in mapped and (c.required or c.name in self.entity.business_key)
        ]
        extra_indexes = [i for i in range(len(header)) if i not in taken]
        extra_cells = [self.describer.cell(header[i], i + 1) for i in extra_indexes]
        drift = {"missing": missing, "extra": [c.label for c in extra_cells], "extra_cells": extra_cells}
        if missing_required:
            hint = ""
            if len(header) == 1 and self.fmt.type in ("csv", "tsv"):
                hint = f"; the header has one column: is the delimiter {self.fmt.effective_delimiter!r} right?"
            raise FileProblem(
                "missing_required_column", f"missing required columns: {', '.join(missing_required)}{hint}", drift=drift
            )
        if extra_indexes:
            raise FileProblem(
                "schema_drift",
                f"undeclared columns (schema drift): {_labels(extra_cells)}; see `warehouse ingest --explain`",
                drift=drift,
            )
        return mapped

    def _map_positions(self, width: int) -> dict[str, int]:
        """A file without a header: column name -> position, by `position:` or the order of `columns`."""
        mapped = {c.name: (c.position or number) - 1 for number, c in enumerate(self.entity.columns, start=1)}
        inside = {name: i for name, i in mapped.items() if i < width}
        missing_required = [
            c.name
            for c in self.entity.columns
            if c.name not in inside and (c.required or c.name in self.entity.business_key)
        ]
        if missing_required:
            raise FileProblem(
                "missing_required_column",
                f"missing required columns: {', '.join(missing_required)} (the rows have {width} fields)",
                drift={"missing": missing_required, "extra": [], "extra_cells": []},
            )
        extra = sorted(set(range(width)) - set(inside.values()))
        if extra:
            where = ", ".join(str(i + 1) for i in extra)
            raise FileProblem(
                "schema_drift",
                f"undeclared columns (schema drift) at positions {where}; declare them (by `position:`) "
                "or check the delimiter",
                drift={"missing": [], "extra": [f"position {i + 1}" for i in extra], "extra_cells": []},
            )
        return inside

    def _check_header_is_not_data(self, header: list[str]) -> None:
        """A file without its header row: the first record would be taken for one (and its values
        reported as undeclared columns). Held instead, with nothing of that record in the reason."""
        declared = {name for c in self.entity.columns for name in c.accepted_sources}
        named = sum(h in declared for h in header)
        if named * 2 >= len(header):
            return
        data_like = sum(self.describer.looks_like_data(h) for h in header)
        same_width = len(header) == len(self.entity.columns)
        if data_like * 2 > len(header) or (named == 0 and data_like and same_width):
            raise FileProblem(
                "no_header",
                f"the first row looks like data, not a header: {data_like} of its {len(header)} cells read like "
                f"values (numbers, dates, e-mails, identifiers, names) and {named} match a declared column; "
                "add the header row to the file (or check the client sends one) and land it again",
            )

    # ---- csv / tsv ---------------------------------------------------------------------------------------
    def _csv(self) -> Iterator[Batch]:
        opened = open_bytes(self.handle, self.fmt)
        head = opened.stream.read(BLOCK_SIZE)
        if not head:
            raise FileProblem("empty_file", "the file is empty (no header)")
        if opened.utf8 and head.startswith(codecs.BOM_UTF8):
            head = head[3:]  # BOM: not part of the first column's name
        if not head.strip():
            raise FileProblem("empty_file", "the file holds nothing but blank space or a byte-order mark (no header)")
        check_text(head[:SNIFF_BYTES], opened.encoding)
        if len(head) == BLOCK_SIZE and b"\n" not in head and b"\r" not in head:
            raise FileProblem(
                "line_too_long",
                f"no line end in the first {BLOCK_SIZE >> 20} MiB: not a CSV file, or its lines end oddly",
            )
        text = head.decode(opened.encoding, errors="replace")
        try:
            first_record = next(
                csv.reader(
                    io.StringIO(text, newline=""),
                    delimiter=self.fmt.effective_delimiter,
                    quotechar=self.fmt.quote,
                ),
                None,
            )
        except csv.Error:
            raise FileProblem("unparseable", "the first row cannot be split into fields") from None
        if not first_record:
            raise FileProblem("empty_file", "the file has no header row")
        if any("\x00" in cell for cell in first_record):
            raise FileProblem("not_text", "the first row holds NUL bytes: a binary file or a damaged export")
        width = len(first_record)
        if self.fmt.header:
            header = [h.strip() for h in first_record]
            self._check_header_is_not_data(header)
            positions = self._map_header(header)
        else:
            positions = self._map_positions(width)
        first_line = 2 if self.fmt.header else 1
        stream = io.BufferedReader(Prepend(head, opened.stream), buffer_size=BLOCK_SIZE)
        yield from self._csv_rows(stream, opened, width, positions, first_line)

    def _csv_rows(
        self, stream: io.BufferedReader, opened: Opened, width: int, positions: dict[str, int], first_line: int
    ) -> Iterator[Batch]:
        """pyarrow's fast parse, until a record that may hide a quote left open: one over several lines
        with the wrong number of fields, a quoted value over the bounds, a record larger than a block.
        From there on the careful line reader takes over (`_csv_salvage`)."""
        names = [f"c{i}" for i in range(width)]
        pending: list[BadRow] = []  # this batch's: kept back until it is known where damage starts
        spanning: set[int] = set()

        def on_invalid(row: pacsv.InvalidRow) -> str:
            # Only the position and the shape are kept: the text may hold PII.
            number = int(row.number or 0)
            reason = f"column_count_mismatch:expected_{row.expected_columns}_got_{row.actual_columns}"
            pending.append(BadRow(number, reason))
            if row.text and ("\n" in row.text or "\r" in row.text):
                spanning.add(number)
            return "skip"

        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(
                    column_names=names,
                    skip_rows=1 if self.fmt.header else 0,
                    block_size=BLOCK_SIZE,
                    use_threads=False,  # needed for pyarrow to report line numbers of bad rows
                    encoding="utf8" if opened.utf8 else opened.encoding,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.fmt.effective_delimiter,
                    quote_char=self.fmt.quote,
                    newlines_in_values=True,
                    invalid_row_handler=on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.binary() for n in names},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                return  # a header and nothing else: zero rows
            yield from self._csv_salvage(first_line, width, positions)  # the first block did not parse
            return
        emitted = 0
        watch = opened.watch
        # One batch is held back: pyarrow takes a quote still open at the end of the file for a value
        # running to the end, and only the last batch's last record can be that.
        held: tuple[pa.RecordBatch, np.ndarray] | None = None

        def release(upto: int | None = None) -> Iterator[Batch]:
            if held is None:
                return
            record_batch, lines = held
            if upto is not None:
                keep = np.flatnonzero(lines < upto)
                record_batch, lines = record_batch.take(pa.array(keep)), lines[keep]
            if len(lines):
                yield self._batch(record_batch, lines, positions, watch.saw_nul)

        while True:
            # No clearing here: pyarrow parses the first block, and reports its bad rows, in open_csv.
            try:
                record_batch = reader.read_next_batch()
            except StopIteration:
                # The last block's bad rows are reported while pyarrow finds there is no next batch.
                cut = min([*spanning, *([] if held is None else self._open_at_end(*held, opened))], default=None)
                yield from release(cut)
                self.bad_rows.extend(b for b in pending if cut is None or b.line < cut)
                if cut is not None:
                    yield from self._csv_salvage(cut, width, positions)
                return
            except pa.ArrowInvalid:
                # A record larger than a block: a quote left open, or a line that never ends.
                yield from release()
                yield from self._csv_salvage(first_line + emitted + len(self.bad_rows), width, positions)
                return
            n = record_batch.num_rows
            lines = _good_row_lines(emitted, n, [*self.bad_rows, *pending], first_line)
            cut = self._first_damaged(record_batch, lines, spanning, opened)
            if cut is not None:
                yield from release()
                held = (record_batch, lines)
                yield from release(cut)
                self.bad_rows.extend(b for b in pending if b.line < cut)
                yield from self._csv_salvage(cut, width, positions)
                return
            self.bad_rows.extend(pending)
            pending.clear()
            spanning.clear()
            emitted += n
            if n:
                yield from release()
                held = (record_batch, lines)

    def _open_at_end(self, record_batch: pa.RecordBatch, lines: np.ndarray, opened: Opened) -> list[int]:
        """The last record, when it may end in a quote left open: a value of it spans lines."""
        if not opened.watch.saw_quote or not record_batch.num_rows:
            return []
        last = record_batch.slice(record_batch.num_rows - 1)
        for column in last.columns:
            value = column[0].as_py() or b""
            if b"\n" in value or b"\r" in value:
                return [int(lines[-1])]
        return []

    def _first_damaged(
        self, record_batch: pa.RecordBatch, lines: np.ndarray, spanning: set[int], opened: Opened
    ) -> int | None:
        """The record number of the first record that may hide a quote left open, if any."""
        candidates = sorted(spanning)
        if opened.watch.saw_quote and record_batch.num_rows:
            for column in record_batch.columns:
                lengths = pc.binary_length(column).to_numpy(zero_copy_only=False)
                # Counting line ends scans every byte: only values long enough to hold too many.
                big = np.flatnonzero(lengths > min(self.max_quoted_lines, self.max_quoted_bytes))
                if not len(big):
                    continue
                values = column.take(pa.array(big))
                ends = np.maximum(
                    pc.count_substring(values, "\n").to_numpy(zero_copy_only=False),
                    pc.count_substring(values, "\r").to_numpy(zero_copy_only=False),
                )
                over = (ends >= self.max_quoted_lines) | ((lengths[big] > self.max_quoted_bytes) & (ends > 0))
                if over.any():
                    candidates.append(int(lines[big[np.argmax(over)]]))
        return min(candidates) if candidates else None

    def _batch(self, record_batch: pa.RecordBatch, lines: np.ndarray, positions: dict[str, int], nul: bool) -> Batch:
        n = record_batch.num_rows
        batch = Batch(columns={}, lines=lines)
        for column in self.entity.columns:
            position = positions.get(column.name)
            if position is None:
                batch.columns[column.name] = pa.nulls(n, pa.string())
                continue
            values = record_batch.column(position)
            if nul:
                values = _drop_nul(values, column.name, batch.bad_utf8)
            batch.columns[column.name] = _to_text(values, column.name, batch.bad_utf8)
        return batch

    def _csv_salvage(self, start: int, width: int, positions: dict[str, int]) -> Iterator[Batch]:
        """Record `start` and the rest, read again line by line with bounded quoted fields
        (`streams.records`); the records before it were taken by pyarrow already."""
        try:
            self.handle.seek(0)
        except (OSError, ValueError) as exc:
            raise FileProblem(
                "unparseable",
                f"a damaged region needs a second read and the file cannot be read again ({type(exc).__name__})",
            ) from None
        opened = open_bytes(self.handle, self.fmt)
        text = io.TextIOWrapper(
            opened.stream,
            encoding="utf-8-sig" if opened.utf8 else opened.encoding,
            errors="surrogateescape",
            newline="",
        )
        columns: list[list[bytes]] = [[] for _ in range(width)]
        lines: list[int] = []
        found = records(
            text, quote=self.fmt.quote, delimiter=self.fmt.effective_delimiter, width=width,
            max_bytes=self.max_quoted_bytes, max_lines=self.max_quoted_lines, max_record=BLOCK_SIZE,
        )  # fmt: skip
        for record in found:
            if record.number < start:
                continue
            if record.fields is None:
                self.bad_rows.append(BadRow(record.number, record.reason))
                continue
            for values, value in zip(columns, record.fields, strict=True):
                values.append(value.encode("utf-8", "surrogateescape"))
            lines.append(record.number)
            if len(lines) >= NDJSON_BATCH:
                yield self._salvaged(columns, lines, positions)
                columns, lines = [[] for _ in range(width)], []
        if lines:
            yield self._salvaged(columns, lines, positions)

    def _salvaged(self, columns: list[list[bytes]], lines: list[int], positions: dict[str, int]) -> Batch:
        arrays = [pa.array(values, pa.binary()) for values in columns]
        record_batch = pa.RecordBatch.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))])
        return self._batch(record_batch, np.asarray(lines, dtype=np.int64), positions, nul=True)

    # ---- ndjson --------------------------------------------------------------------------------------------
    def _ndjson(self) -> Iterator[Batch]:
        declared = {name for c in self.entity.columns for name in c.accepted_sources}
        self._keys: dict[str, str] = {}
        header_checked = False
        rows: list[dict] = []
        lines: list[int] = []
        line_no = 0
        any_line = False
        opened = open_bytes(self.handle, self.fmt)
        head = opened.stream.read(SNIFF_BYTES)
        check_text(head, opened.encoding)
        for raw in io.BufferedReader(Prepend(head, opened.stream)):
            line_no += 1
            if not raw.strip():
                continue
            any_line = True
            try:
                obj = orjson.loads(raw)
                if not isinstance(obj, dict):
                    raise ValueError
            except (orjson.JSONDecodeError, ValueError):
                self.bad_rows.append(BadRow(line_no, "malformed_json"))
                continue
            if not header_checked:
                keys = list(obj.keys())
                self._keys = {name: keys[i] for name, i in self._map_header(keys).items()}
                header_checked = True
            elif set(obj) - declared:
                keys = list(obj)
                cells = self._cells(keys, [k for k in keys if k not in declared])
                raise FileProblem(
                    "schema_drift",
                    f"undeclared keys (schema drift) from line {line_no}: {_labels(cells)}",
                    drift={"missing": [], "extra": [c.label for c in cells], "extra_cells": cells},
                )
            rows.append(obj)
            lines.append(line_no)
            if len(rows) >= NDJSON_BATCH:
                yield self._ndjson_batch(rows, lines)
                rows, lines = [], []
        if not any_line:
            raise FileProblem("empty_file", "the file is empty")
        if rows:
            yield self._ndjson_batch(rows, lines)

    def _ndjson_batch(self, rows: list[dict], lines: list[int]) -> Batch:
        columns = {}
        for column in self.entity.columns:
            key = self._keys.get(column.name, column.source)
            values = [_json_text(r.get(key)) for r in rows]
            columns[column.name] = pa.array(values, pa.string())
        batch = Batch(columns=columns, lines=np.asarray(lines, dtype=np.int64))
        for name, values in columns.items():
            batch.columns[name] = _drop_nul(values, name, batch.bad_utf8)
        return batch

    # ---- parquet -------------------------------------------------------------------------------------------
    def _parquet(self) -> Iterator[Batch]:
        try:
            parquet = pq.ParquetFile(self.handle)
            names = parquet.schema_arrow.names
        except _PARQUET_ERRORS as exc:
            raise FileProblem("unparseable", f"not a readable Parquet file: {_arrow_message(exc)}") from None
        positions = self._map_header(names)
        line = 1
        batches = parquet.iter_batches(batch_size=100_000)
        while True:
            # A corrupt page, or a nested column that has no text form, ends this file only.
            try:
                record_batch = next(batches, None)
                if record_batch is None:
                    return
                n = record_batch.num_rows
                batch = Batch(columns={}, lines=np.arange(line + 1, line + 1 + n, dtype=np.int64))
                for column in self.entity.columns:
                    position = positions.get(column.name)
                    if position is None:
                        batch.columns[column.name] = pa.nulls(n, pa.string())
                    else:
                        values = record_batch.column(position).cast(pa.string())
                        batch.columns[column.name] = _drop_nul(values, column.name, batch.bad_utf8)
            except _PARQUET_ERRORS as exc:
                raise FileProblem("unparseable", f"not a readable Parquet file: {_arrow_message(exc)}") from None
            line += n
            yield batch


def _good_row_lines(emitted: int, n: int, bad_rows: list[BadRow], first: int = 2) -> np.ndarray:
    """Record numbers of the next `n` parsed rows, given the rows pyarrow skipped so far.

    Good row i (0-based over the file) sits at record i + `first` (2 after a header, 1 without one)
    plus the number of skipped rows before it.
    """
    base = np.arange(emitted, emitted + n, dtype=np.int64) + first
    if not bad_rows:
        return base
    skipped = np.sort(np.fromiter((b.line for b in bad_rows), dtype=np.int64))
    lines = base
    while True:
        shifted = base + np.searchsorted(skipped, lines, side="right")
        if np.array_equal(shifted, lines):
            return lines
        lines = shifted


def _drop_nul(values: pa.Array, column: str, bad_utf8: dict[int, list[str]]) -> pa.Array:
    """Values holding a NUL byte become null and their rows invalid: PostgreSQL text cannot hold one,
    and one such value used to fail the whole run."""
    has_nul = pc.match_substring(values, "\x00").fill_null(False)
    rows = np.flatnonzero(has_nul.to_numpy(zero_copy_only=False))
    if not len(rows):
        return values
    for row in rows:
        bad_utf8.setdefault(int(row), []).append(column)
    return pc.if_else(has_nul, pa.scalar(None, values.type), values)


def _to_text(values: pa.Array, column: str, bad_utf8: dict[int, list[str]]) -> pa.Array:
    """Binary -> UTF-8 text; rows with invalid bytes become null and are remembered per row."""
    try:
        return values.cast(pa.string())
    except pa.ArrowInvalid:
        pass
    cleaned = []
    for index, value in enumerate(values.to_pylist()):
        try:
            cleaned.append(value.decode("utf-8") if value is not None else None)
        except UnicodeDecodeError:
            bad_utf8.setdefault(index, []).append(column)
            cleaned.append(None)
    return pa.array(cleaned, pa.string())


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return orjson.dumps(value).decode()


def _labels(cells: list[HeaderCell]) -> str:
    return ", ".join(repr(c.text) if c.text is not None else c.description for c in cells)


def _arrow_message(exc: Exception) -> str:
    """pyarrow's message without anything it quotes from the file.

    Its messages end in the offending row or value ("Expected 11 columns, got 4: P3,Cara,..."), with
    or without quotes: only the leading words up to the first such tail are kept, and nothing
    at all when even those look like PII."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    for marker in (": '", ' "', " got '", "'", '"'):
        if marker in text:
            text = text.split(marker, 1)[0]
    parts = text.split(": ")
    text = ": ".join(parts[:2])  # "CSV parse error: Expected 11 columns, got 4"
    if not re.fullmatch(r"[A-Za-z0-9 ,.:_()/-]{0,160}", text) or redact_message(text) is None:
        return f"{type(exc).__name__} (message withheld: it may quote data)"
    return text

"""Read a landed file into Arrow batches of text columns, one batch at a time (flat memory).

Everything is read as text: deciding what is a valid number or date is validation's job, and a row
must never be lost because a parser gave up on it. Problems that make a whole file unreadable
(empty, header mismatch, schema drift) raise `FileProblem`; problems with one row are reported as
`BadRow` (line and reason, never the row's content: it may hold PII).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ingest.config import Entity, FileFormat
from ingest.describe import Describer, HeaderCell, redact_message

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

    def batches(self) -> Iterator[Batch]:
        if self.fmt.type in ("csv", "tsv"):
            yield from self._csv()
        elif self.fmt.type == "ndjson":
            yield from self._ndjson()
        else:
            yield from self._parquet()

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
        head = self.handle.read(BLOCK_SIZE)
        if not head:
            raise FileProblem("empty_file", "the file is empty (no header)")
        encoding = self.fmt.encoding.lower().replace("_", "-")
        if encoding in ("utf-8", "utf8") and head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]  # BOM: not part of the first column's name
        text = head.decode(self.fmt.encoding, errors="replace")
        first_record = next(
            csv.reader(
                io.StringIO(text, newline=""),
                delimiter=self.fmt.effective_delimiter,
                quotechar=self.fmt.quote,
            ),
            None,
        )
        if not first_record:
            raise FileProblem("empty_file", "the file has no header row")
        width = len(first_record)
        if self.fmt.header:
            header = [h.strip() for h in first_record]
            self._check_header_is_not_data(header)
            positions = self._map_header(header)
        else:
            positions = self._map_positions(width)
        first_line = 2 if self.fmt.header else 1
        names = [f"c{i}" for i in range(width)]

        def on_invalid(row: pacsv.InvalidRow) -> str:
            # Only the position and the shape are kept: the text may hold PII.
            self.bad_rows.append(
                BadRow(
                    int(row.number or 0),
                    f"column_count_mismatch:expected_{row.expected_columns}_got_{row.actual_columns}",
                )
            )
            return "skip"

        stream = io.BufferedReader(_Prepend(head, self.handle), buffer_size=BLOCK_SIZE)
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(
                    column_names=names,
                    skip_rows=1 if self.fmt.header else 0,
                    block_size=BLOCK_SIZE,
                    use_threads=False,  # needed for pyarrow to report line numbers of bad rows
                    encoding=self.fmt.encoding if encoding not in ("utf-8", "utf8") else "utf8",
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
            raise FileProblem("unparseable", f"cannot parse the file: {_arrow_message(exc)}") from None
        emitted = 0
        while True:
            try:
                record_batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise FileProblem("unparseable", f"cannot parse the file: {_arrow_message(exc)}") from None
            n = record_batch.num_rows
            if n == 0:
                continue
            lines = _good_row_lines(emitted, n, self.bad_rows, first_line)
            emitted += n
            batch = Batch(columns={}, lines=lines)
            for column in self.entity.columns:
                position = positions.get(column.name)
                if position is None:
                    batch.columns[column.name] = pa.nulls(n, pa.string())
                    continue
                batch.columns[column.name] = _to_text(record_batch.column(position), column.name, batch.bad_utf8)
            yield batch

    # ---- ndjson --------------------------------------------------------------------------------------------
    def _ndjson(self) -> Iterator[Batch]:
        declared = {name for c in self.entity.columns for name in c.accepted_sources}
        self._keys: dict[str, str] = {}
        header_checked = False
        rows: list[dict] = []
        lines: list[int] = []
        line_no = 0
        any_line = False
        for raw in self.handle:
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
        return Batch(columns=columns, lines=np.asarray(lines, dtype=np.int64))

    # ---- parquet -------------------------------------------------------------------------------------------
    def _parquet(self) -> Iterator[Batch]:
        try:
            parquet = pq.ParquetFile(self.handle)
        except (pa.ArrowInvalid, OSError) as exc:
            raise FileProblem("unparseable", f"not a readable Parquet file: {_arrow_message(exc)}") from None
        positions = self._map_header(parquet.schema_arrow.names)
        line = 1
        for record_batch in parquet.iter_batches(batch_size=100_000):
            n = record_batch.num_rows
            lines = np.arange(line + 1, line + 1 + n, dtype=np.int64)
            line += n
            columns = {}
            for column in self.entity.columns:
                position = positions.get(column.name)
                if position is None:
                    columns[column.name] = pa.nulls(n, pa.string())
                else:
                    columns[column.name] = record_batch.column(position).cast(pa.string())
            yield Batch(columns=columns, lines=lines)


class _Prepend(io.RawIOBase):
    """A readable stream: bytes already read for the header sniff, then the rest of the file."""

    def __init__(self, head: bytes, rest: io.BufferedIOBase) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


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

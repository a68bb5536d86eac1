"""The run's name pre-pass, fast: only a file's name columns, read by pyarrow.

Before any file is written the loader learns the names of every file it is about to take in (see
`Loader._learn_names_first`). Through the full reader that read every file twice: ~9 % of a 1M-row
member load. Here pyarrow still splits every record but converts only the name columns (~3x less
work). Anything but a plain UTF-8 delimited file with a header, its name columns found by their
header names, returns None, and the caller reads the file with the full reader instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.csv as pacsv

from ingest.config import Entity, FileFormat
from ingest.reader import BLOCK_SIZE

# Compressed or UTF-16/32 content: the full reader's streams unpack and recode it.
_NOT_PLAIN = (b"\x1f\x8b", b"PK", b"\xff\xfe", b"\xfe\xff", b"\x00\x00")


def name_batches(handle, fmt: FileFormat, entity: Entity, columns: list[str]) -> Iterator[dict[str, pa.Array]] | None:
    """Batches of the `columns` (canonical names) as text, one block at a time (memory stays flat), or
    None when this file needs the full reader. Iterating may raise `FastPathFailed` (a column
    missing, invalid UTF-8, a damaged record): the caller then reads the file with the full reader."""
    if fmt.type not in ("csv", "tsv") or not fmt.header or fmt.compression not in ("auto", "none"):
        return None
    if fmt.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        return None
    chosen = [entity.column(name) for name in columns]
    if any(c.position is not None or c.sources for c in chosen):
        return None
    if handle.read(2) in _NOT_PLAIN:
        return None
    handle.seek(0)
    return _read(handle, fmt, {c.source: c.name for c in chosen})


class FastPathFailed(Exception):
    """The fast pre-pass cannot read this file; the full reader can (or reports why not)."""


def _read(handle, fmt: FileFormat, names: dict[str, str]) -> Iterator[dict[str, pa.Array]]:
    try:
        yield from _batches(handle, fmt, names)
    except (pa.ArrowInvalid, KeyError, OSError, UnicodeError) as exc:
        raise FastPathFailed(type(exc).__name__) from None


def _batches(handle, fmt: FileFormat, names: dict[str, str]) -> Iterator[dict[str, pa.Array]]:
    reader = pacsv.open_csv(
        handle,
        read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE, use_threads=False),
        parse_options=pacsv.ParseOptions(
            delimiter=fmt.effective_delimiter,
            quote_char=fmt.quote,
            newlines_in_values=True,
            invalid_row_handler=lambda _row: "skip",  # the full pass quarantines it; no name to learn there
        ),
        convert_options=pacsv.ConvertOptions(
            include_columns=list(names), column_types=dict.fromkeys(names, pa.string())
        ),
    )
    for batch in reader:
        yield {names[source]: batch.column(source) for source in names}

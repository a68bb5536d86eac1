"""The bytes of a landed file as the parsers are to read them: unpacked, recoded, checked for text.

A landing zone gets whatever a client's export or a tired operator puts there: a gzip or zip file
named `.csv`, UTF-16 from a spreadsheet, random bytes, a quote left open. None of it may end the
run or block the other files, and none of its content may be echoed: every problem here is a
`StreamProblem` with a machine-readable code and a one-line message about the file's shape only.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import zipfile
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ingest.config import FileFormat

SNIFF_BYTES = 64 << 10
# A quoted field is cut after this many bytes or lines (the rest of the file is read again from the
# line after the one that opened it): one stray quote must not swallow the records that follow.
# Real multi-line notes are a few lines long; WAREHOUSE_MAX_QUOTED_{BYTES,LINES} raise the bounds.
MAX_QUOTED_BYTES = int(os.environ.get("WAREHOUSE_MAX_QUOTED_BYTES", 64 << 10))
MAX_QUOTED_LINES = int(os.environ.get("WAREHOUSE_MAX_QUOTED_LINES", 100))
RECODE_CHUNK = 1 << 20

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# UTF-32 first: its little-endian BOM starts with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_WIDE = ("utf-16", "utf-32", "utf16", "utf32")
# Bytes no text file holds (tab, line feed, vertical tab, form feed and carriage return aside).
_CONTROL = bytes([*range(0, 9), *range(14, 32), 127])
# What reading a damaged archive raises (gzip: EOFError when truncated, BadGzipFile, zlib.error).
UNPACK_ERRORS = (EOFError, zlib.error, zipfile.BadZipFile, gzip.BadGzipFile, OSError, NotImplementedError)


class StreamProblem(Exception):
    """The file cannot be read as text at all. `code` is machine-readable, the message one line."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Opened:
    stream: io.BufferedReader
    encoding: str  # what the bytes of `stream` are in (UTF-8 after a UTF-16/32 BOM)
    watch: _Watch
    compression: str  # "none", "gzip" or "zip": named in messages
    recoded: str | None = None  # the encoding a BOM named

    @property
    def utf8(self) -> bool:
        return self.encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")


def open_bytes(handle, fmt: FileFormat, *, text: bool = True) -> Opened:
    """`handle` unpacked (gzip or zip, as the feed says or, with `auto`, as the first bytes show)
    and, for text formats, recoded to UTF-8 when a BOM says UTF-16 or UTF-32."""
    magic = _read(handle, 4)
    compression = fmt.compression
    is_gzip, is_zip = magic.startswith(_GZIP_MAGIC), magic.startswith(_ZIP_MAGIC)
    if compression == "auto":
        compression = "gzip" if is_gzip else "zip" if is_zip else "none"
    elif compression == "gzip" and not is_gzip:
        raise StreamProblem("not_compressed", "the feed says gzip, but the file does not start like a gzip file")
    elif compression == "zip" and not is_zip:
        raise StreamProblem("not_compressed", "the feed says zip, but the file does not start like a zip archive")
    source: io.RawIOBase | io.BufferedIOBase = Prepend(magic, handle)
    if compression == "gzip":
        source = gzip.GzipFile(fileobj=io.BufferedReader(source), mode="rb")
    elif compression == "zip":
        source = _zip_member(handle)
    watch = _Watch(source, compression)
    watch.quote = (fmt.quote or '"').encode()
    encoding, recoded = fmt.encoding, None
    if text:
        first = _read(watch, 4)
        bom = next(((b, name) for b, name in _BOMS if first.startswith(b)), None)
        if bom is not None:
            # A BOM says what the text is in, whatever the feed declares: read as UTF-8 from here on.
            recoded = bom[1]
            rest = Prepend(first[len(bom[0]) :], watch)
            watch = _Watch(_Recode(rest, recoded), compression)
            encoding = "utf-8"
        else:
            watch = _Watch(Prepend(first, watch), compression)
        watch.quote = (fmt.quote or '"').encode()
    return Opened(io.BufferedReader(watch, buffer_size=RECODE_CHUNK), encoding, watch, compression, recoded)


def check_text(sample: bytes, encoding: str) -> None:
    """Refuse what is not text, before a parser turns it into nonsense columns or rows."""
    if not sample or encoding.lower().replace("_", "-").startswith(_WIDE):
        return  # declared UTF-16/32 without a BOM: NUL bytes are half its content
    nul = sample.count(0)
    if nul * 8 > len(sample):
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if max(even, odd) * 3 > len(sample) // 2 * 2:
            raise StreamProblem(
                "not_text",
                f"{nul} of the first {len(sample)} bytes are NUL, every other byte: UTF-16 or UTF-32 without a "
                "byte-order mark? Declare `encoding:` (e.g. utf-16-le) for this feed or client",
            )
        raise StreamProblem("not_text", f"binary content: {nul} of the first {len(sample)} bytes are NUL")
    control = len(sample) - len(sample.translate(None, _CONTROL))
    if control * 50 > len(sample):
        raise StreamProblem(
            "not_text",
            f"binary content: {control} of the first {len(sample)} bytes are control characters "
            "(an image, an archive of another kind, a spreadsheet?)",
        )


def unpack_problem(exc: BaseException, compression: str) -> StreamProblem:
    """A read error of the file as one line, without its text."""
    if isinstance(exc, StreamProblem):
        return exc
    what = f"the {compression} data is damaged or truncated" if compression != "none" else "the file cannot be read"
    return StreamProblem("unreadable", f"{what} ({type(exc).__name__})")


def _read(stream, n: int) -> bytes:
    try:
        return stream.read(n) or b""
    except UNPACK_ERRORS as exc:
        raise unpack_problem(exc, "none") from None


def _zip_member(handle) -> io.BufferedIOBase:
    try:
        handle.seek(0)
        archive = zipfile.ZipFile(handle)
        members = [
            m
            for m in archive.infolist()
            # macOS adds resource forks (`__MACOSX/`, `._name`) to the archives it makes.
            if not m.is_dir()
            and not m.filename.startswith("__MACOSX/")
            and not m.filename.rsplit("/", 1)[-1].startswith(".")
        ]
        if len(members) != 1:
            raise StreamProblem("zip_members", f"the zip archive holds {len(members)} files; one is expected")
        if members[0].flag_bits & 0x1:
            raise StreamProblem("zip_encrypted", "the zip archive is encrypted")
        return archive.open(members[0])
    except StreamProblem:
        raise
    except (*UNPACK_ERRORS, ValueError, RuntimeError) as exc:
        raise StreamProblem("unreadable", f"not a readable zip archive ({type(exc).__name__})") from None


class Prepend(io.RawIOBase):
    """A readable stream: bytes already read for a sniff (of the format, the header), then the rest."""

    def __init__(self, head: bytes, rest) -> None:
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
        if not data:
            return 0
        buffer[: len(data)] = data
        return len(data)


class _Watch(io.RawIOBase):
    """Passes bytes through, noting what needs a closer look later (NUL bytes, quote characters),
    and turns a damaged archive's read errors into a `StreamProblem` (pyarrow re-raises it)."""

    def __init__(self, source, compression: str) -> None:
        self._source = source
        self._compression = compression
        self.saw_nul = False
        self.saw_quote = False
        self.quote = b'"'

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._source.read(len(buffer))
        except UNPACK_ERRORS as exc:
            raise unpack_problem(exc, self._compression) from None
        if not data:
            return 0
        # memchr-fast: the columns are only searched for NUL bytes and long quoted values when the
        # file holds any.
        self.saw_nul = self.saw_nul or b"\x00" in data
        self.saw_quote = self.saw_quote or self.quote in data
        buffer[: len(data)] = data
        return len(data)


class _Recode(io.RawIOBase):
    """UTF-16/32 bytes in, UTF-8 bytes out: pyarrow and the line readers then see one encoding."""

    def __init__(self, source, encoding: str) -> None:
        self._source = source
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._out = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._out and not self._done:
            chunk = self._source.read(RECODE_CHUNK)
            self._done = not chunk
            self._out = self._decoder.decode(chunk or b"", final=self._done).encode("utf-8")
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n


# ---- the careful line-by-line reading of a damaged CSV ---------------------------------------------------


def quote_open_after(line: str, inside: bool, quote: str, delimiter: str) -> bool:
    """Whether a quoted field is still open at the end of `line`, with the parsers' rules: a quote
    opens a field only at its start, `""` inside is a quote, any other quote closes it."""
    pos, n = 0, len(line)
    while True:
        at = line.find(quote, pos)
        if at < 0:
            return inside
        if inside:
            if at + 1 < n and line[at + 1] == quote:
                pos = at + 2
                continue
            inside = False
        elif at == 0 or line[at - 1] == delimiter:
            inside = True
        pos = at + 1


@dataclass(frozen=True)
class Record:
    number: int  # the header (when there is one) is record 1; blank lines are not records
    fields: list[str] | None  # None: not split (see `reason`)
    reason: str = ""
    lines: int = 1  # physical lines


def records(
    lines: Iterable[str],
    *,
    quote: str,
    delimiter: str,
    width: int,
    max_bytes: int = MAX_QUOTED_BYTES,
    max_lines: int = MAX_QUOTED_LINES,
    max_record: int = 4 << 20,
) -> Iterator[Record]:
    """The records of a CSV text with bounded quoted fields. A quote still open after `max_lines`
    lines or `max_bytes` (or at the end of the file) makes the line that opened it a bad record
    (`unterminated_quote`), and reading resumes on the line after it: nothing behind a stray quote
    is lost, and every physical line is in exactly one record."""
    source = iter(lines)
    pushed: deque[str] = deque()
    number = 0
    while True:
        line = pushed.popleft() if pushed else next(source, None)
        if line is None:
            return
        if not line.strip("\r\n"):
            continue  # pyarrow skips blank lines without numbering them: so do we
        number += 1
        parts = [line]
        size = len(line)
        inside = quote_open_after(line, False, quote, delimiter) if quote else False
        while inside and len(parts) < max_lines and size <= max_bytes:
            following = pushed.popleft() if pushed else next(source, None)
            if following is None:
                break
            parts.append(following)
            size += len(following)
            inside = quote_open_after(following, True, quote, delimiter)
        if inside:
            pushed.extendleft(reversed(parts[1:]))
            at_end = len(parts) < max_lines and size <= max_bytes
            where = "open_at_end_of_file" if at_end else f"open_after_{max_lines}_lines_or_{max_bytes}_bytes"
            yield Record(number, None, f"unterminated_quote:{where}")
            continue
        if size > max_record:
            yield Record(number, None, f"record_too_long:over_{max_record}_chars", len(parts))
            continue
        try:
            fields = next(csv.reader(parts, delimiter=delimiter, quotechar=quote or None), [])
        except csv.Error:
            yield Record(number, None, "unparseable_record", len(parts))
            continue
        if len(fields) != width:
            yield Record(number, None, f"column_count_mismatch:expected_{width}_got_{len(fields)}", len(parts))
            continue
        yield Record(number, fields, "", len(parts))


# The header and the careful reader split fields with Python's csv module, whose default limit
# (128 KiB) is below what a record may hold (a read block); raising it changes nothing else.
csv.field_size_limit(max(csv.field_size_limit(), 8 << 20))

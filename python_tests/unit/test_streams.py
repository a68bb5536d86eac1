"""The careful CSV reader and the byte-level opening of landed files (`ingest.streams`)."""

from __future__ import annotations

import gzip
import io
import random

import pytest

from ingest.config import FileFormat
from ingest.streams import StreamProblem, check_text, open_bytes, quote_open_after, records


def physical(text: str) -> int:
    return sum(1 for line in io.StringIO(text, newline="") if line.strip("\r\n"))


def test_quotes_open_only_at_a_field_start():
    assert quote_open_after('a,"b', False, '"', ",")
    assert not quote_open_after('a,b"c', False, '"', ",")  # a quote inside a field is a character
    assert not quote_open_after('a,"b""c",d', False, '"', ",")
    assert quote_open_after('x""y', True, '"', ",")  # still inside: "" is a quote
    assert not quote_open_after('end",x', True, '"', ",")


def test_a_stray_quote_costs_one_line_and_every_line_is_accounted_for():
    lines = [f"{i},name {i},note {i}\n" for i in range(300)]
    lines[3] = '3,"open,note\n'
    found = list(records(lines, quote='"', delimiter=",", width=3, max_lines=100))
    assert [r.reason for r in found if r.fields is None] == ["unterminated_quote:open_after_100_lines_or_65536_bytes"]
    assert sum(r.lines for r in found) == 300
    assert [r.number for r in found] == list(range(1, 301))


@pytest.mark.parametrize("seed", range(20))
def test_random_damage_never_loses_a_line(seed):
    rng = random.Random(seed)
    lines = []
    for _ in range(rng.randint(1, 200)):
        cells = [rng.choice(["a", "b c", '"q,uoted"', '"multi\nline"', 'x"y', '"', '""', ""]) for _cell in range(3)]
        lines.append(",".join(cells) + rng.choice(["\n", "\r\n", "\r"]))
    text = "".join(lines)
    found = list(records(io.StringIO(text, newline=""), quote='"', delimiter=",", width=3, max_lines=5))
    assert sum(r.lines for r in found) == physical(text)


def test_gzip_zip_and_boms_are_opened_and_binary_is_refused():
    data = "id,name\n1,Zoë\n".encode()
    for packed in (gzip.compress(data), data.decode().encode("utf-16"), data.decode().encode("utf-32")):
        assert open_bytes(io.BytesIO(packed), FileFormat()).stream.read() == data
    with pytest.raises(StreamProblem, match="damaged or truncated"):
        open_bytes(io.BytesIO(gzip.compress(data * 1000)[:50]), FileFormat()).stream.read()
    with pytest.raises(StreamProblem, match="does not start like a gzip"):
        open_bytes(io.BytesIO(data), FileFormat(compression="gzip"))
    with pytest.raises(StreamProblem, match="byte-order mark"):
        check_text(data.decode().encode("utf-16-le"), "utf-8")
    with pytest.raises(StreamProblem, match="binary"):
        check_text(random.Random(1).randbytes(4096), "utf-8")
    check_text("Zürich".encode("latin-1") * 100, "utf-8")  # not UTF-8, but text: rows decide

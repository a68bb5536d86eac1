"""The run's name pre-pass reads only the name columns, and hands every file it cannot read plainly
to the full reader (None before reading, FastPathFailed while reading)."""

from __future__ import annotations

import gzip
import io

import pytest

from ingest.config import Entity, FileFormat
from ingest.name_prepass import FastPathFailed, name_batches

ENTITY = Entity.model_validate(
    {
        "business_key": ["member_id"],
        "columns": [
            {"source": "member_id", "name": "member_id", "pii": "identifier"},
            {"source": "Given", "name": "first_name", "pii": "direct"},
            {"source": "note", "name": "note", "pii": "free_text"},
        ],
    }
)
CSV = b'member_id,Given,note\nM1,Zo\xc3\xab,"two\nlines"\nM2,Ann,x\n'


PLAIN = FileFormat()


def _names(data: bytes, fmt: FileFormat = PLAIN) -> list[str] | None:
    batches = name_batches(io.BytesIO(data), fmt, ENTITY, ["first_name"])
    if batches is None:
        return None
    return [name for batch in batches for name in batch["first_name"].to_pylist()]


def test_a_plain_file_gives_its_name_column_by_header_name():
    assert _names(CSV) == ["Zoë", "Ann"]


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (gzip.compress(CSV), FileFormat()),
        ("member_id,Given,note\nM1,Zoë,x\n".encode("utf-16"), FileFormat()),
        (CSV, FileFormat(encoding="iso-8859-1")),
        (CSV, FileFormat(header=False)),
        (CSV, FileFormat(type="ndjson")),
    ],
)
def test_compressed_recoded_headerless_or_other_formats_go_to_the_full_reader(data, fmt):
    assert _names(data, fmt) is None


@pytest.mark.parametrize("data", [b"member_id,note\nM1,x\n", b"member_id,Given,note\nM1,\xff\xfe,x\n"])
def test_a_missing_column_or_invalid_utf8_fails_over_while_reading(data):
    with pytest.raises(FastPathFailed):
        _names(data)

"""Name redaction of free text, and record numbers around rows the CSV parser skipped."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ingest.pii.keys import PseudonymKey
from ingest.pii.known_names import REDACTED_NAME, KnownNames
from ingest.reader import BadRow, _good_row_lines


def known(*names: str, key: bytes = b"k") -> KnownNames:
    index = KnownNames(PseudonymKey.from_bytes(key))
    index.learn(pa.array(list(names)))
    return index


def test_names_seen_anywhere_are_redacted_as_whole_words_only():
    index = known("Owen", "Ann Lee")
    out = index.redact(pa.array(["Owen reports fever", "annual check-up with ann", "OWEN/lee", None, "no names"]))
    assert out.to_pylist() == [
        f"{REDACTED_NAME} reports fever",
        f"annual check-up with {REDACTED_NAME}",
        f"{REDACTED_NAME}/{REDACTED_NAME}",
        None,
        "no names",
    ]


def test_only_tokens_are_kept_and_they_depend_on_the_key():
    first, second = known("Owen", key=b"one"), known("Owen", key=b"two")
    assert first.tokens and not any("owen" in t.lower() for t in first.tokens)
    assert first.tokens.isdisjoint(second.tokens)
    assert first.pending == first.tokens  # learnt this run, to be saved


def test_nothing_known_changes_nothing():
    values = pa.array(["Owen reports fever"])
    assert KnownNames(PseudonymKey.from_bytes(b"k")).redact(values).to_pylist() == ["Owen reports fever"]


def test_short_words_are_not_names():
    index = known("Al")
    assert index.redact(pa.array(["Al said hi"])).to_pylist() == ["Al said hi"]


def test_record_numbers_skip_the_rows_the_parser_dropped():
    # header = 1; records 3 and 6 were malformed and skipped, so good rows are 2, 4, 5, 7, 8
    bad = [BadRow(3, "x"), BadRow(6, "x")]
    assert _good_row_lines(0, 3, bad).tolist() == [2, 4, 5]
    assert _good_row_lines(3, 2, bad).tolist() == [7, 8]
    assert np.array_equal(_good_row_lines(0, 3, []), np.array([2, 3, 4]))


def test_error_lines_never_quote_data_from_unknown_exceptions():
    from ingest.loader import _one_line

    try:
        try:
            raise ValueError("could not convert 'Anna Smith' to float")
        except ValueError as inner:
            raise RuntimeError("pipeline step failed") from inner
    except RuntimeError as outer:
        line = _one_line(outer)
    assert "Anna" not in line and line.startswith("ValueError")
    assert "refused" in _one_line(ConnectionRefusedError("connection refused"))

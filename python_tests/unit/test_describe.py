"""What of a file's own text (header cells, file names, parser messages) may be shown."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from ingest.describe import Describer, shape
from ingest.pii.keys import PseudonymKey
from ingest.pii.known_names import KnownNames
from ingest.reader import _arrow_message

PATTERN = re.compile(r"^(?P<client_id>[a-z0-9]+)_(?P<file_date>\d{4}-\d{2}-\d{2})(?:_(?P<seq>\d+))?\.csv$")


@pytest.fixture
def describer() -> Describer:
    key = PseudonymKey(key=b"unit-test-key-0123456789abcdef", key_id="test")
    names = KnownNames(key)
    names.learn(pa.array(["Marchbanks"]))
    return Describer(key, names)


def test_plain_column_names_are_shown(describer):
    for text in ("favourite_colour", "First Name", "icd10_code"):
        assert describer.cell(text, 1).label == text


@pytest.mark.parametrize(
    "text", ["Marchbanks", "ysolde.m@example.net", "617-555-0199", "1961-02-03", "219-09-9999", "x" * 65, "02139"]
)
def test_names_values_and_long_cells_are_described(describer, text):
    cell = describer.cell(text, 3)
    assert cell.text is None
    assert cell.label.startswith(f"column 3 ({len(text)} chars, {shape(text)}, id ")
    assert text.lower() not in cell.label.lower()
    assert describer.cell(text, 7).description.endswith(cell.description.rsplit(",", 1)[1])  # same id anywhere


def test_file_names(describer):
    assert describer.file_name("acme_2026-11-20.csv", PATTERN) == "acme_2026-11-20.csv"
    described = describer.file_name("john_smith_555-867-5309.csv", PATTERN)
    assert re.fullmatch(r"file #[0-9a-f]{8} \(\.csv, 27 chars\)", described)
    assert describer.file_name("marchbanks_2026-11-20.csv", PATTERN).startswith("file #")


def test_ids_are_keyed(describer):
    other = Describer(PseudonymKey(key=b"another-key-0123456789abcdef", key_id="other"))
    assert describer.text_id("Marchbanks") != other.text_id("Marchbanks")


def test_parser_messages_lose_the_row_they_quote():
    message = _arrow_message(ValueError("CSV parse error: Expected 11 columns, got 4: P3,Cara,Jones,1990-01"))
    assert message == "CSV parse error: Expected 11 columns, got 4"
    assert "withheld" in _arrow_message(ValueError("row 3: jane@example.com"))


def test_a_failing_value_is_stored_as_its_shape_rows_aligned():
    from ingest.pseudonymise import value_shape

    shapes = value_shape(pa.array(["219-09-9999", None, "Wendeline Thackeray", "x"])).to_pylist()
    assert shapes == [
        "[REDACTED:invalid value, 11 chars, digits+punct]",
        None,
        "[REDACTED:invalid value, 19 chars, letters+space]",
        "[REDACTED:invalid value, 1 chars, letters]",
    ]


@pytest.mark.parametrize("text", ["Quelquelbru Ithlunulm", "QUELQUELBRU ITHLUNULM", "Wu", "Zed Hollis"])
def test_a_name_nobody_has_seen_yet_is_described_not_shown(describer, text):
    """It passes every detector, so it is shown only if it is written like a column: snake case, or
    words that are column words (common ones, or those of a declared column)."""
    assert describer.cell(text, 4).text is None


def test_declaring_a_column_makes_its_header_words_showable():
    from ingest.config import load_feeds
    from ingest.describe import column_words

    words = column_words(load_feeds().values())
    plain = Describer(None, None)
    declared = Describer(None, None, words)
    assert plain.cell("BASE_ENCOUNTER_COST", 1).text == "BASE_ENCOUNTER_COST"  # snake case
    assert plain.cell("REASONCODE", 1).text is None and declared.cell("REASONCODE", 1).text == "REASONCODE"
    assert declared.cell("Start Date", 2).text == "Start Date" and declared.cell("BP", 3).text == "BP"

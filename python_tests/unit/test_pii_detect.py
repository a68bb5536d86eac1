"""PII detection and redaction in columns not declared as PII."""

from __future__ import annotations

import random
import re
from datetime import date

import pyarrow as pa
import pytest

from ingest.pii import detect
from ingest.pii.checksums import luhn_valid, luhn_valid_array, nhs_number_valid, nhs_number_valid_array
from ingest.pii.detect import DETECTOR_NAMES, redact, scan, scan_row_names

_MANY = 4


def _scan1(value: str | None, **kwargs: bool) -> str | None:
    return scan(pa.array([value], pa.string()), **kwargs)[0].as_py()


# --- check digits -----------------------------------------------------------------------------


def test_nhs_check_digit() -> None:
    assert nhs_number_valid("9434765919")
    others = [d for d in "0123456789" if d != "9"]
    assert not any(nhs_number_valid("943476591" + d) for d in others)
    assert not nhs_number_valid("943476591")  # too short
    # 1234567890 would need check digit 10: no valid number has that stem.
    assert not any(nhs_number_valid("123456789" + d) for d in "0123456789")
    # Repdigits pass the arithmetic but are placeholders.
    assert not any(nhs_number_valid(d * 10) for d in "0123456789")


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("378282246310005")  # Amex test number
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("") and not luhn_valid("4111-1111")


def test_vectorised_checks_agree_with_the_scalar_ones() -> None:
    rng = random.Random(20240229)
    tens = [f"{rng.randrange(10**10):010d}" for _ in range(20_000)] + ["9434765919", "0000000000", "4444444444"]
    assert nhs_number_valid_array(pa.array(tens)).to_pylist() == [nhs_number_valid(v) for v in tens]
    cards = [str(rng.randrange(10 ** (n - 1), 10**n)) for n in (rng.randint(13, 19) for _ in range(20_000))]
    cards += ["4111111111111111", "9999999999999999999"]
    assert luhn_valid_array(pa.array(cards)).to_pylist() == [luhn_valid(v) for v in cards]


# --- scan -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "detector"),
    [
        ("write to jane.doe+care@example.co.uk please", "email"),
        ("A.B@EXAMPLE.ORG", "email"),
        ("ssn 123-45-6789", "ssn"),
        ("123 45 6789", "ssn"),
        ("nhs no. 943 476 5919", "nhs_number"),
        ("943-476-5919", "nhs_number"),
        ("NHS:9434765919.", "nhs_number"),
        ("paid with 4111 1111 1111 1111 yesterday", "card_number"),
        ("4111-1111-1111-1111", "card_number"),
        ("4111111111111111", "card_number"),
        ("(555) 123-4567", "phone"),
        ("555-123-4567", "phone"),
        ("555.123.4567", "phone"),
        ("+1 555 123 4567", "phone"),
        ("1-555-123-4567", "phone"),
        ("+15551234567", "phone"),
        ("07700 900123", "phone"),
        ("07700900123", "phone"),
        ("tel: 07700 900 123", "phone"),
        ("+44 7700 900123", "phone"),
        ("+447700900123", "phone"),
        ("+44 (0)20 7946 0958", "phone"),
        ("020 7946 0958", "phone"),
        ("0161 496 0000", "phone"),
        ("born 1980-02-29", "date_of_birth"),
        ("dob 29/02/1980", "date_of_birth"),
        ("12/31/1999", "date_of_birth"),
        ("1/2/1900", "date_of_birth"),
    ],
)
def test_detector_hits(value: str, detector: str) -> None:
    assert _scan1(value) == detector


@pytest.mark.parametrize(
    "value",
    [
        "plain text, nothing here",
        "5551234567",  # ten plain digits: an id as often as a phone (documented choice)
        "123456789",  # unseparated nine digits are not treated as an SSN
        "000-12-3456",  # SSN area 000
        "666-12-3456",  # SSN area 666
        "912-34-5678",  # SSN area 9xx
        "123-00-4567",  # SSN group 00
        "123-45-0000",  # SSN serial 0000
        "9434765918",  # NHS shape, wrong check digit
        "0000000000",  # NHS placeholder
        "4111111111111112",  # card shape, Luhn fails
        "4111 1111 1111 1112",
        "19434765919",  # a valid NHS number inside a longer number is not one
        "ENC9434765919",  # nor is a record id whose digits happen to pass the mod-11 check
        "OBS9434765919A",
        "tel07700900123",  # the price of alphanumeric boundaries (documented in detect.py)
        "12345678901234567890",
        "1899-12-31",  # year before 1900
        "2024-13-01",  # no month 13
        "31/31/1999",
        "ICD E11.9, dose 2.5 mg",
        "",
    ],
)
def test_near_misses_are_not_flagged(value: str) -> None:
    assert _scan1(value) is None


def test_ssn_like_invalid_numbers_with_phone_shape_are_not_ssn() -> None:
    # The brief's own examples: wrong check digit in a 3-3-4 shape is still a phone, never an NHS no.
    assert _scan1("943 476 5918") == "phone"


def test_year_bound_follows_the_calendar() -> None:
    this_year, next_year = date.today().year, date.today().year + 1
    assert _scan1(f"{this_year}-01-01") == "date_of_birth"
    assert _scan1(f"{next_year}-01-01") is None
    assert _scan1(f"01/01/{next_year}") is None


def test_dates_can_be_left_to_genuine_date_columns() -> None:
    assert _scan1("1980-02-29", include_dates=False) is None
    assert _scan1("ssn 123-45-6789 on 1980-02-29", include_dates=False) == "ssn"


def test_first_detector_in_order_wins() -> None:
    assert DETECTOR_NAMES == ("email", "ssn", "nhs_number", "card_number", "phone", "date_of_birth")
    assert _scan1("1980-02-29 555-123-4567 123-45-6789 a@b.io") == "email"
    assert _scan1("1980-02-29 555-123-4567 123-45-6789") == "ssn"
    assert _scan1("call 555-123-4567 on 1980-02-29") == "phone"


def test_a_valid_candidate_after_invalid_ones_is_found() -> None:
    assert _scan1("ref 1234567890 then 9434765919") == "nhs_number"
    assert _scan1("4111111111111112 4111111111111111") == "card_number"
    # More candidates than the vectorised rounds: the rest is checked in Python.
    many = " ".join(["1234567890"] * (_MANY + 3) + ["9434765919"])
    assert _scan1(many) == "nhs_number"
    assert _scan1(" ".join(["1234567890"] * (_MANY + 3))) is None


def test_scan_shape_nulls_and_input_types() -> None:
    values = ["a@b.io", None, "nothing", "123-45-6789"]
    result = scan(pa.array(values))
    assert result.type == pa.string()
    assert result.to_pylist() == ["email", None, None, "ssn"]
    chunked = pa.chunked_array([pa.array(values[:1]), pa.array(values[1:])])
    assert scan(chunked).to_pylist() == result.to_pylist()
    assert scan(pa.array([4111111111111111, 42])).to_pylist() == ["card_number", None]
    assert scan(pa.array([], pa.string())).to_pylist() == []
    assert scan(pa.array(["a@b.io"], pa.large_string())).to_pylist() == ["email"]


# --- redact -----------------------------------------------------------------------------------

CORPUS = [
    "Pt jane.doe@example.com, ssn 123-45-6789, NHS 943 476 5919, card 4111-1111-1111-1111.",
    "Call (555) 123-4567 or +44 7700 900123 / 07700900123; DOB 02/03/1961.",
    "ids 123-45-6789 123-45-6789 123-45-6789 done",  # hits separated by one character
    "9434765919 9434765919,9434765919",
    "born 1961-03-02 and seen 2020-01-05",
    "a@b.io;c@d.co.uk",
    " ".join(["1234567890"] * (_MANY + 2) + ["9434765919"]),
]
ORIGINALS = [
    "jane.doe@example.com", "123-45-6789", "943 476 5919", "4111-1111-1111-1111", "(555) 123-4567",
    "7700 900123", "07700900123", "02/03/1961", "9434765919", "1961-03-02", "2020-01-05", "a@b.io",
    "c@d.co.uk",
]  # fmt: skip


def test_redaction_leaves_no_original_identifier() -> None:
    redacted = redact(pa.array(CORPUS)).to_pylist()
    for text in redacted:
        assert not any(original in text for original in ORIGINALS), text
        assert "@" not in text
    assert redacted[0] == (
        "Pt [REDACTED:email], ssn [REDACTED:ssn], NHS [REDACTED:nhs_number], card [REDACTED:card_number]."
    )
    assert redacted[2] == "ids [REDACTED:ssn] [REDACTED:ssn] [REDACTED:ssn] done"
    assert redacted[3] == "[REDACTED:nhs_number] [REDACTED:nhs_number],[REDACTED:nhs_number]"


def test_nothing_left_for_scan_after_redaction() -> None:
    assert scan(redact(pa.array(CORPUS))).null_count == len(CORPUS)


def test_only_checked_candidates_are_redacted() -> None:
    # Invalid check digits are not hits, so they are kept (no over-redaction).
    text = "order 1234567890 nhs 9434765919 card 4111111111111112"
    assert redact(pa.array([text])).to_pylist() == ["order 1234567890 nhs [REDACTED:nhs_number] card 4111111111111112"]
    many = " ".join(["1234567890"] * (_MANY + 2) + ["9434765919"])
    expected = " ".join(["1234567890"] * (_MANY + 2) + ["[REDACTED:nhs_number]"])
    assert redact(pa.array([many])).to_pylist() == [expected]


def test_redaction_keeps_clean_rows_and_nulls() -> None:
    values = pa.array(["nothing here", None, "", "  9434765919  ", "dated 1980-02-29"])
    assert redact(values).to_pylist() == [
        "nothing here",
        None,
        "",
        "  [REDACTED:nhs_number]  ",
        "dated [REDACTED:date_of_birth]",
    ]
    assert redact(values, include_dates=False).to_pylist()[4] == "dated 1980-02-29"


def test_redaction_tokens_name_a_detector() -> None:
    tokens = set(re.findall(r"\[REDACTED:([a-z_]+)\]", " ".join(redact(pa.array(CORPUS)).to_pylist())))
    assert tokens == set(DETECTOR_NAMES)


# --- the row's own name -----------------------------------------------------------------------


def test_row_names_whole_word_case_insensitive_same_row() -> None:
    values = pa.array(
        [
            "Seen JOHN today",  # first name, other case
            "Johnson called",  # not a whole word
            "note for smith,",  # last name with punctuation
            "Mary Ann rang",  # name with a space
            "from O'Brien",  # punctuation inside the name
            "Al is here",  # names shorter than 3 are ignored
            None,
            "seen john",  # "john" is another row's name, not this row's
            "Zoë Ångström visited",
        ]
    )
    first = pa.array(["John", "John", "Ann", "Mary Ann", "Pat", "Al", "John", "Peter", "zoë"])
    last = pa.array(["Smith", "Smith", "Smith", None, "O'Brien", "Li", "Smith", "Smith", None])
    result = scan_row_names(values, [first, last])
    assert result.type == pa.bool_() and result.null_count == 0
    assert result.to_pylist() == [True, False, True, True, True, False, False, False, True]
    assert scan_row_names(values, []).to_pylist() == [False] * len(values)


def test_row_names_any_word_of_a_multi_word_name_counts_but_particles_alone_do_not() -> None:
    values = pa.array(
        ["called Ann today", "Brien, O. phoned", "Dr O Brien phoned", "maría de la cruz", "la cruz", "de la"]
    )
    names = pa.array(["Mary Ann", "O'Brien", "O'Brien", "María de la Cruz", "María de la Cruz", "María de la Cruz"])
    assert scan_row_names(values, [names]).to_pylist() == [True, True, True, True, True, False]


def test_row_names_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="rows"):
        scan_row_names(pa.array(["a", "b"]), [pa.array(["a"])])


@pytest.mark.parametrize("last", [2000, 2009, 2010, 2026, 2030, 2099])
def test_year_pattern_bounds(last: int) -> None:
    pattern = re.compile(detect._year_pattern(last))
    assert [y for y in range(1850, 2150) if pattern.fullmatch(str(y))] == list(range(1900, last + 1))


# --- the vectorised machinery against a plain-Python reference ---------------------------------


def _fuzz_corpus(seed: int, size: int) -> list[str]:
    rng = random.Random(seed)
    pieces = [
        "9434765919", "943 476 5919", "943-476-5919", "4111 1111 1111 1111", "4111111111111111",
        "123-45-6789", "555-123-4567", "(555) 123-4567", "+1 555 123 4567", "07700 900123",
        "+44 7700 900123", "1980-02-29", "29/02/1980", "a@b.io", "x", " ", "-", ".", "(", "+", "1",
        "12", "123", "0", "/", ",", "4", "9", "\n",
    ]  # fmt: skip
    return [
        "".join(
            rng.choice(pieces) if rng.random() < 0.5 else str(rng.randrange(10 ** rng.randint(1, 12)))
            for _ in range(rng.randint(1, 8))
        )
        for _ in range(size)
    ]


def test_the_prefilter_loses_nothing_the_checks_would_find() -> None:
    # scan looks only at rows the RE2 prefilter passes; find_pii looks at every value.
    corpus = _fuzz_corpus(seed=7, size=3000)
    got = scan(pa.array(corpus)).to_pylist()
    expected = []
    for value in corpus:
        found = {label for _, _, label in detect.find_pii(value)}
        expected.append(next((name for name in DETECTOR_NAMES if name in found), None))
    assert [(v, g, e) for v, g, e in zip(corpus, got, expected, strict=True) if g != e] == []
    assert sum(g is not None for g in got) > 500  # the corpus does exercise the detectors


def test_redaction_leaves_nothing_scan_would_flag_on_glued_candidates() -> None:
    corpus = _fuzz_corpus(seed=11, size=3000)
    assert scan(redact(pa.array(corpus))).null_count == len(corpus)

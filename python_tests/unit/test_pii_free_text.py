"""Free-text PII detection on the forms seen in the field, both ways (found / left alone), and the
labelled corpus held to its targets (ingest/bench_pii.py; `warehouse bench pii` prints the same)."""

from __future__ import annotations

import unicodedata

import pyarrow as pa
import pytest

from ingest.bench_pii import TARGET_CLASS_RECALL, TARGET_PRECISION, TARGET_RECALL, bench_pii, load_corpus, score
from ingest.pii import detect
from ingest.pii.keys import PseudonymKey
from ingest.pii.known_names import KnownNames
from ingest.pii.names import fold, name_forms


def _labels(text: str) -> set[str]:
    return {label for _, _, label in detect.find_pii(text)}


def _redacted(text: str, given: str | None = None, surname: str | None = None, known: KnownNames | None = None) -> str:
    own = [pa.array([given], pa.string()), pa.array([surname], pa.string())] if given or surname else None
    return detect.redact_free_text(pa.array([text]), own, known).to_pylist()[0]


def _known(*names: str) -> KnownNames:
    index = KnownNames(PseudonymKey.from_bytes(b"test-key"))
    index.learn(pa.array(list(names)))
    return index


# --- numbers, e-mails, dates ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label", "value"),
    [
        ("call +33 1 42 68 53 00 today", "phone", "+33 1 42 68 53 00"),
        ("Tokyo office +81 3-3224-5000.", "phone", "+81 3-3224-5000"),
        ("mobile +91 98765 43210", "phone", "+91 98765 43210"),
        ("tel (212) 555-0147", "phone", "(212) 555-0147"),
        ("+44 (0)161 945 8276 (home)", "phone", "+44 (0)161 945 8276"),
        ("write to zoë@exämple.se please", "email", "zoë@exämple.se"),
        ("a.b@寿司.example.jp", "email", "a.b@寿司.example.jp"),
        ("SSN 123.45.6789 on file", "ssn", "123.45.6789"),
        ("SSN 123 45 6789", "ssn", "123 45 6789"),
        ("born 1987-04-03T00:00", "date_of_birth", "1987-04-03T00:00"),
        ("born 3 Apr 1987", "date_of_birth", "3 Apr 1987"),
        ("born 3rd April 1987", "date_of_birth", "3rd April 1987"),
        ("born April 3, 1987", "date_of_birth", "April 3, 1987"),
        ("born 03.04.1987", "date_of_birth", "03.04.1987"),
        ("born 03-APR-1987", "date_of_birth", "03-APR-1987"),
        ("born 1987/04/03", "date_of_birth", "1987/04/03"),
        ("seen 4/3/87", "date_of_birth", "4/3/87"),
        ("NHS 943 476 5919", "nhs_number", "943 476 5919"),
        ("card 4111 1111 1111 1111", "card_number", "4111 1111 1111 1111"),
        ("amex 3782 822463 10005", "card_number", "3782 822463 10005"),
    ],
)
def test_field_forms_are_found_and_redacted_whole(text: str, label: str, value: str) -> None:
    assert label in _labels(text)
    redacted = _redacted(text)
    assert value not in redacted and f"[REDACTED:{label}]" in redacted
    # Nothing of the value is left around the marker.
    assert not any(ch.isdigit() for ch in redacted.replace(text.replace(value, ""), ""))


@pytest.mark.parametrize(
    "text",
    [
        # FDA product id: labeler-product, then a UUID whose digit groups pass Luhn.
        "Product 0002-1433_b9a81234-5678-4012-8888-888888888888 dispensed",
        "SPL set 0069-0152_12345678-1234-4234-9234-123456789012",
        "uuid b4111111111111111aaaa",  # Luhn-valid card digits glued to letters (a hex run)
        'xmlns="http://hl7.org/fhir"',
        '<Patient xmlns="http://hl7.org/fhir"><id value="ENC0000000632"/></Patient>',
        'system="urn:oid:2.16.840.1.113883.6.1"',
        "NDC 50090-3431-0 x 5 boxes",  # 5-4-1 drug code, not a US phone
        "NDC 68180-513-01",
        "ENC0000000632 and OBS9434765919",
        "1234567890123456",  # Luhn-valid? no issuer prefix 1: not a card
        "8888 8888 8888 8888",  # no issuer prefix 8
        "Hb 13.2 g/dL, BP 132/84, eGFR 68 mL/min/1.73m2, INR 2.4",
        "ICD-10 E11.9, LOINC 2345-7, SNOMED 44054006, CPT 99213",
        "morphine 2.5-5 mg PO q4h PRN; basal 0.8 u/h 00:00-06:00",
        "2024-13-01 and 31/31/1999",  # not calendar dates
        "April 1987",  # a month and year is not a date of birth
        "5551234567",  # ten bare digits: an id as often as a phone
        "123-45-678",
    ],
)
def test_clinical_codes_and_ids_are_left_alone(text: str) -> None:
    assert _labels(text) == set()
    assert _redacted(text) == text


def test_a_card_needs_shape_issuer_and_luhn() -> None:
    assert detect._card("4111111111111111")
    assert not detect._card("4111111111111112")  # Luhn fails
    assert not detect._card("1111111111111117")  # Luhn passes, no issuer
    assert _labels("4111-1111-1111-1111") == {"card_number"}
    assert _labels("41-11111111-111111") == set()  # not a card's grouping


# --- names ------------------------------------------------------------------------------------


def test_folding_is_case_accent_and_normal_form_insensitive() -> None:
    nfd = unicodedata.normalize("NFD", "Zoë Ångström")
    assert fold("Zoë") == fold("ZOE") == fold(nfd.split()[0]) == "zoe"
    assert fold("Ångström") == "angstrom" and fold("Øverby") == "overby"
    assert name_forms("O'Brien-Smith") >= {"obrien", "brien", "smith", "obriensmith"}
    assert "de" not in name_forms("María de la Cruz")


@pytest.mark.parametrize(
    ("text", "given", "surname", "gone"),
    [
        ("Seen Mrs Cruz today", "Maria", "Cruz", ["Cruz"]),
        ("Zoe Angstrom attended", "Zoë", "Ångström", ["Zoe", "Angstrom"]),
        (unicodedata.normalize("NFD", "Zoë Ångström attended"), "Zoë", "Ångström", ["Zo", "ngstr"]),
        ("ZOË ÅNGSTRÖM attended", "Zoë", "Ångström", ["ZO", "NGSTR"]),
        ("Mr Wu called", "Wei", "Wu", ["Wu"]),
        ("Cruz, Maria phoned", "Maria", "Cruz", ["Cruz", "Maria"]),
        ("letter for OBRIEN-SMITH", "Anna", "O'Brien-Smith", ["OBRIEN", "SMITH"]),
        ("letter for Obrien", "Anna", "O'Brien", ["Obrien"]),
        ("letter for O'Brien", "Anna", "O'Brien", ["Brien"]),
        ("Dr O Brien phoned", "Anna", "O'Brien", ["Brien"]),
        ("maría de la cruz", "María", "de la Cruz", ["cruz", "de la"]),
    ],
)
def test_the_rows_own_name_in_any_form(text: str, given: str, surname: str, gone: list[str]) -> None:
    redacted = _redacted(text, given, surname)
    assert "[REDACTED:name]" in redacted
    assert not any(piece in redacted for piece in gone), redacted
    assert detect.scan_row_names(pa.array([text]), [pa.array([given]), pa.array([surname])]).to_pylist() == [True]


def test_known_names_from_earlier_runs_in_any_form() -> None:
    index = _known("Zoë Ångström", "Wei Wu", "Anna O'Brien-Smith")
    assert not any("zo" in t or "angstrom" in t for t in index.tokens)  # tokens only
    assert index.token_for("ZOË") == index.token_for("zoe") == index.token_for(unicodedata.normalize("NFD", "Zoë"))
    out = index.redact(pa.array(["zoe angstrom rang", "Wu, Wei seen", "OBRIEN-SMITH", "Brien alone", "Seen by Wu"]))
    assert out.to_pylist() == [
        "[REDACTED:name] [REDACTED:name] rang",
        "[REDACTED:name], [REDACTED:name] seen",
        "[REDACTED:name]",
        "[REDACTED:name] alone",
        "Seen by [REDACTED:name]",
    ]


def test_two_letter_known_names_only_when_written_as_names() -> None:
    index = _known("Wei Wu", "Anna Ng")
    out = index.redact(pa.array(["Mr Wu", "WU, WEI", "wu", "NG tube inserted", "ED attendance, IV fluids", "MR WU"]))
    assert out.to_pylist() == [
        "Mr [REDACTED:name]",
        "[REDACTED:name], [REDACTED:name]",
        "wu",  # lower case: a word, not a name
        "NG tube inserted",  # nasogastric: upper case and beside no name
        "ED attendance, IV fluids",
        "MR [REDACTED:name]",
    ]


def test_honorifics_mark_names_nobody_declared() -> None:
    assert _redacted("seen by Dr Okonkwo and Prof. Lindgren") == "seen by Dr [REDACTED:name] and Prof. [REDACTED:name]"
    assert _redacted("DR. HARGREAVES reviewed") == "DR. [REDACTED:name] reviewed"
    # Abbreviations that look like honorifics: mitral regurgitation, multiple sclerosis, a drive.
    for text in ("mild MR. WBC 11.4", "Hx of MS RR 18", "Hx of MS and asthma", "12 Oak Dr, Springfield"):
        assert _redacted(text) == text


def test_names_not_known_and_without_honorific_are_kept() -> None:
    assert _redacted("Owen reports fever", "Maria", "Cruz", _known("Anna Lee")) == "Owen reports fever"
    assert _redacted("annual review", "Ann", "Lee", _known("Ann Lee")) == "annual review"  # whole words only


def test_redact_free_text_keeps_the_rest_of_the_text() -> None:
    text = "Mrs Cruz (DOB 3 Apr 1987) called from +33 1 42 68 53 00 about metformin 500 mg"
    assert _redacted(text, "Maria", "Cruz") == (
        "Mrs [REDACTED:name] (DOB [REDACTED:date_of_birth]) called from [REDACTED:phone] about metformin 500 mg"
    )


def test_contains_pii_for_header_cells_and_file_names() -> None:
    index = _known("Zoë Ångström")
    assert detect.contains_pii("zoe@example.se") == "email"
    assert detect.contains_pii("patient_notes") is None
    assert detect.contains_pii("date_of_birth") is None
    assert detect.contains_pii("Angstrom", index) == "name"
    assert detect.contains_pii("Angstrom") is None
    assert detect.contains_pii("export 1987-04-03.csv") == "date_of_birth"
    assert detect.contains_pii("export 1987-04-03.csv", include_dates=False) is None
    assert detect.contains_pii("Mrs Cruz") == "name"


# --- the corpus -------------------------------------------------------------------------------


def test_the_corpus_is_big_and_covers_every_class() -> None:
    corpus = load_corpus()
    spans = [cls for gold in corpus.gold for _, _, cls in gold]
    assert corpus.kinds.count("pii") >= 500 and corpus.kinds.count("clean") >= 500
    assert len(spans) >= 1000
    assert set(spans) == {*detect.DETECTOR_NAMES, "name"}
    for text, gold in zip(corpus.texts, corpus.gold, strict=True):
        assert all(0 <= s < e <= len(text) and text[s:e].strip() == text[s:e] for s, e, _ in gold)


def test_the_corpus_meets_the_targets() -> None:
    corpus = load_corpus()
    (current, _baseline) = bench_pii(repeat=1, corpus=corpus)
    result = current.score
    assert result.recall() >= TARGET_RECALL
    assert {c: round(result.recall(c), 3) for c in result.gold if result.recall(c) < TARGET_CLASS_RECALL} == {}
    assert result.precision() >= TARGET_PRECISION
    assert result.clean_rows_touched <= result.clean_rows // 50


def test_scoring_counts_partial_cover_as_a_miss() -> None:
    corpus = load_corpus()
    first = corpus.__class__(
        [corpus.texts[0]], [corpus.gold[0]], [None], [None], ["pii"], corpus.known
    )  # fmt: skip
    start, end, _ = first.gold[0][0]
    text = first.texts[0]
    half = text[:start] + "[REDACTED:name]" + text[end - 1 :]  # all but the last character
    assert score(first, [half]).found == {}
    assert score(first, [text]).recall() < 1.0 and score(first, [text]).predicted == {}


def test_a_full_name_in_a_code_column_is_found_but_a_single_known_word_is_not() -> None:
    """`none` columns: two neighbouring known names, or an honorific and a known name, are a person; a lone
    known word is as often a code or a place ("White" as a race, "Hamilton" as a scale)."""
    known = _known("Quelquelbru", "Ithlunulm", "White", "Hamilton")
    values = pa.array(
        [
            "5 mg, ask Quelquelbru Ithlunulm",
            "Ithlunulm, Quelquelbru",
            "call Mrs Ithlunulm",
            "Dr. Reddy's Laboratories",
            "White",
            "Hamilton scale",
            None,
        ]
    )
    assert detect.known_full_names(values, known).to_pylist() == [True, True, True, False, False, False, False]

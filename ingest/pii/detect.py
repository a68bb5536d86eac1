"""PII found where it was not declared: in free text, codes, comments and mislabelled columns.

Two stages, so that a column without PII costs one RE2 pass:

1. **Prefilter** (`_CANDIDATE`, RE2 run by pyarrow over the whole column): a cheap, loose test for
   anything that could be PII: an "@", a "+" before a digit, seven digits in a row, digit groups
   joined by separators, a month name beside a number. Most rows of most columns fail it.
2. **Checks**, in Python, on the candidate rows only (each distinct value once), with the
   well-kept libraries rather than home-made rules:

   * email: RE2, Unicode letters allowed in both parts (IDN: "zoë@exämple.se");
   * ssn: 3-2-4 digits with one separator (dash, space or dot) validated by `stdnum.us.ssn`
     (area, group, serial and the numbers known to be advertising samples);
   * nhs_number: 3-3-4 or ten digits, `stdnum.gb.nhs` mod-11 check, repeated-digit placeholders refused;
   * card_number: a card's *shape* (4-4-4-4[-1..3], Amex 4-6-5, or 13-19 digits in one run) AND an
     issuer prefix (IIN ranges of Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro)
     AND `stdnum.luhn`: digits passing Luhn alone are one number in ten, e.g. the digits of a UUID;
   * phone: libphonenumber's `PhoneNumberMatcher` at `Leniency.STRICT_GROUPING` (a valid number
     grouped the way its country groups it) for each of `PHONE_REGIONS`
     (numbers with "+" are any country's; national formats are read as those regions'), plus the
     strictly shaped US/UK forms of fictional ranges (555, Ofcom drama numbers) libphonenumber
     calls invalid, because test and training data are full of them;
   * date_of_birth: any written date (ISO with or without a time, D/M/Y and M/D/Y with "/", "." or
     "-", "3 Apr 1987", "3rd April 1987", "April 3, 1987", "03-APR-1987") that is a real calendar
     date between 1900 and this year.

Numbers are matched on alphanumeric boundaries (not preceded or followed by a letter or digit), so
"NHS:9434765919" is found while record ids such as "ENC0000000632" are not taken for NHS numbers,
and a UUID's digit groups are never a card. The price: digits glued to letters ("tel07700900123")
are not found.

Spans of different detectors that overlap are merged and redacted as one (the union, so nothing is
left half visible); the marker names the detector of the longest of them.

Names (`redact_free_text`, `scan_row_names`, `KnownNames.redact`) are found word by word on folded
text (see `ingest.pii.names`), again only in rows a vectorised word lookup marks as candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import re2
from stdnum import luhn
from stdnum.gb import nhs
from stdnum.us import ssn

from ingest.pii._arrow import ArrayLike, as_utf8
from ingest.pii.names import COMPOUND, HONORIFICS, compound_forms, find_names, fold, name_forms, names_forms

if TYPE_CHECKING:
    from ingest.pii.known_names import KnownNames

# The order is the precedence in `scan` (the first class found in a row labels it).
DETECTOR_NAMES: tuple[str, ...] = ("email", "ssn", "nhs_number", "card_number", "phone", "date_of_birth")
NAME = "name"

# National numbers without "+" are read as numbers of these regions (the feeds' countries).
PHONE_REGIONS: tuple[str, ...] = ("US", "GB")

_MONTH_WORD = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_MONTHS = {name: number for number, names in enumerate(
    (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")), start=1) for name in names}  # fmt: skip

# --- stage 1: the prefilter ----------------------------------------------------------------------

_CANDIDATE = "|".join(
    (
        r"@",
        r"\+ ?[0-9]",
        r"[0-9]{7}",
        r"[0-9][ ./\-()]{1,3}[0-9]+[ ./\-)]{1,3}[0-9]{2}",
        r"[0-9]{3}[ .\-][0-9]{3}",
        rf"(?i){_MONTH_WORD}\.?,? [0-9]",
        rf"(?i)[0-9](?:st|nd|rd|th)?[ \-](?:of )?{_MONTH_WORD}",
    )
)

# --- stage 2: the checks -------------------------------------------------------------------------

_B = r"(?:^|[^0-9A-Za-z])"  # a boundary, consumed: RE2 has no look-behind
_EMAIL = re2.compile(
    r"[\p{L}\p{N}_%+\-](?:[\p{L}\p{N}._%+\-]*[\p{L}\p{N}_%+\-])?"
    r"@(?:[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?\.)+\p{L}{2,}"
)
_SSN = re2.compile(_B + "(" + "|".join(rf"[0-9]{{3}}{s}[0-9]{{2}}{s}[0-9]{{4}}" for s in ("-", " ", r"\.")) + ")")
_NHS = re2.compile(_B + "(" + "|".join(rf"[0-9]{{3}}{s}[0-9]{{3}}{s}[0-9]{{4}}" for s in ("-", " ", "")) + ")")
_CARD = re2.compile(
    _B
    + "("
    + "|".join(
        [rf"[0-9]{{4}}{s}[0-9]{{4}}{s}[0-9]{{4}}{s}[0-9]{{4}}(?:{s}[0-9]{{1,3}})?" for s in ("-", " ")]
        + [rf"[0-9]{{4}}{s}[0-9]{{6}}{s}[0-9]{{4,5}}" for s in ("-", " ")]
        + [r"[0-9]{13,19}"]
    )
    + ")"
)
# Shapes of fictional-range numbers libphonenumber rejects as invalid (kept from the first detector).
_PHONE_SHAPES = re2.compile(
    _B
    + "("
    + "|".join(
        (
            r"(?:\+1[ .\-]?|1[ .\-])?(?:\([2-9][0-9]{2}\)[ .\-]?|[2-9][0-9]{2}[ .\-])[0-9]{3}[ .\-][0-9]{4}",
            r"\+1[ .\-]?[2-9][0-9]{9}",
            r"\+44[ \-]?(?:\(0\)[ \-]?)?[1-9][0-9]{1,3}[ \-]?[0-9]{3,4}[ \-]?[0-9]{3,4}",
            r"0[1-9][0-9][ \-][0-9]{4}[ \-]?[0-9]{4}",
            r"0[1-9][0-9]{2}[ \-][0-9]{3}[ \-]?[0-9]{4}",
            r"0[1-9][0-9]{3}[ \-][0-9]{3}[ \-]?[0-9]{3}",
            r"07[0-9]{9}",
        )
    )
    + ")"
)
# A run that could hold a phone: digits, separators, "(" and "+", at least seven characters.
_PHONE_RUN = re2.compile(r"\+?\(?[0-9][0-9 ().\-]{5,}[0-9]")
_ISO = re2.compile(
    _B
    + r"(([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    + r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+\-][0-9]{2}:?[0-9]{2})?)?)"
)
_ISO_SLASH = re2.compile(_B + r"(([0-9]{4})/([0-9]{1,2})/([0-9]{1,2}))")
_NUMERIC = re2.compile(
    _B + "(" + "|".join(rf"([0-9]{{1,2}}){s}([0-9]{{1,2}}){s}([0-9]{{4}}|[0-9]{{2}})" for s in ("/", r"\.", "-")) + ")"
)
_DAY_MONTH = re2.compile(
    rf"(?i){_B}(([0-9]{{1,2}})(?:st|nd|rd|th)?(?: of)?[ \-]({_MONTH_WORD})\.?,?[ \-]([0-9]{{4}}|'?[0-9]{{2}}))"
)
_MONTH_DAY = re2.compile(rf"(?i){_B}(({_MONTH_WORD})\.? ([0-9]{{1,2}})(?:st|nd|rd|th)?,? ([0-9]{{4}}))")

# Issuer identification number ranges: (first digits low, high, allowed lengths).
_ISSUERS: tuple[tuple[int, int, tuple[int, ...]], ...] = (
    (4, 4, (13, 16, 19)),  # Visa
    (51, 55, (16,)),  # Mastercard
    (2221, 2720, (16,)),  # Mastercard 2-series
    (34, 34, (15,)),  # American Express
    (37, 37, (15,)),
    (6011, 6011, (16, 17, 18, 19)),  # Discover
    (644, 649, (16, 17, 18, 19)),
    (65, 65, (16, 17, 18, 19)),
    (300, 305, (14, 15, 16, 17, 18, 19)),  # Diners Club
    (36, 36, (14, 15, 16, 17, 18, 19)),
    (38, 39, (16, 17, 18, 19)),
    (3528, 3589, (16, 17, 18, 19)),  # JCB
    (62, 62, (16, 17, 18, 19)),  # UnionPay
    (5018, 5018, (12, 13, 14, 15, 16, 17, 18, 19)),  # Maestro
    (5020, 5020, (12, 13, 14, 15, 16, 17, 18, 19)),
    (5038, 5038, (12, 13, 14, 15, 16, 17, 18, 19)),
    (5893, 5893, (12, 13, 14, 15, 16, 17, 18, 19)),
    (6304, 6304, (12, 13, 14, 15, 16, 17, 18, 19)),
    (6759, 6759, (12, 13, 14, 15, 16, 17, 18, 19)),
    (6761, 6763, (12, 13, 14, 15, 16, 17, 18, 19)),
)

Span = tuple[int, int, str]


def _bounded(pattern: re2._Regexp, text: str) -> list[tuple[int, int, re2._Match]]:
    """Matches of `_B(candidate)` whose candidate (group 1) is also followed by a boundary.

    The search restarts right after each candidate (not after the consumed boundary), so two
    candidates separated by one character are both seen.
    """
    out = []
    pos = 0
    while pos <= len(text):
        match = pattern.search(text, pos)
        if match is None:
            break
        start, end = match.start(1), match.end(1)
        if end < len(text) and text[end].isascii() and text[end].isalnum():
            pos = start + 1  # glued to a digit or letter: not this one, maybe a shorter one later
            continue
        out.append((start, end, match))
        pos = end
    return out


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _card_issuer(digits: str) -> bool:
    for low, high, lengths in _ISSUERS:
        width = len(str(low))
        if len(digits) in lengths and low <= int(digits[:width]) <= high:
            return True
    return False


def _card(digits: str) -> bool:
    return _card_issuer(digits) and luhn.is_valid(digits)


def _nhs(digits: str) -> bool:
    # Every repdigit passes mod 11; systems use them as "unknown" placeholders, not someone's number.
    return digits != digits[0] * 10 and nhs.is_valid(digits)


def _ssn(candidate: str) -> bool:
    return ssn.is_valid(candidate.replace(".", "-").replace(" ", "-"))


def _real_date(year: int, month: int, day: int, last_year: int) -> bool:
    if not 1900 <= year <= last_year:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _two_digit_year(text: str, this_year: int) -> int:
    value = int(text.lstrip("'"))
    # A two-digit year that would be in the future is last century's ("03/04/87" is 1987).
    return 2000 + value if 2000 + value <= this_year else 1900 + value


def _date_spans(text: str, this_year: int) -> list[Span]:
    spans: list[Span] = []
    for start, end, m in _bounded(_ISO, text):
        if _real_date(int(m.group(2)), int(m.group(3)), int(m.group(4)), this_year):
            spans.append((start, end, "date_of_birth"))
    for start, end, m in _bounded(_ISO_SLASH, text):
        if _real_date(int(m.group(2)), int(m.group(3)), int(m.group(4)), this_year):
            spans.append((start, end, "date_of_birth"))
    for start, end, m in _bounded(_NUMERIC, text):
        groups = [g for g in m.groups()[1:] if g is not None]
        first, second, year_text = int(groups[0]), int(groups[1]), groups[2]
        year = int(year_text) if len(year_text) == 4 else _two_digit_year(year_text, this_year)
        if len(year_text) == 2 and "-" in m.group(1):
            continue  # "12-10-20" is as often a range or a code as a date
        # DD/MM and MM/DD cannot be told apart in general; either order counts.
        if _real_date(year, second, first, this_year) or _real_date(year, first, second, this_year):
            spans.append((start, end, "date_of_birth"))
    for start, end, m in _bounded(_DAY_MONTH, text):
        year_text = m.group(4)
        year = int(year_text) if len(year_text) == 4 else _two_digit_year(year_text, this_year)
        if _real_date(year, _MONTHS[m.group(3).lower()], int(m.group(2)), this_year):
            spans.append((start, end, "date_of_birth"))
    for start, end, m in _bounded(_MONTH_DAY, text):
        if _real_date(int(m.group(4)), _MONTHS[m.group(2).lower()], int(m.group(3)), this_year):
            spans.append((start, end, "date_of_birth"))
    return spans


def _phone_spans(text: str, taken: list[Span]) -> list[Span]:
    """Phones in `text`; `taken` are the other detectors' spans.

    libphonenumber is the slow part, so it reads only windows around phone-like runs that are not
    wholly another detector's (a date, an NHS number), and the second region only where a
    national number could start ("0"). A window is the run itself, whole: "+44 (0)161 945 8276"
    is one phone even though "161 945 8276" passes the NHS check.
    """
    spans: list[Span] = [(s, e, "phone") for s, e, _ in _bounded(_PHONE_SHAPES, text)]
    for match in _PHONE_RUN.finditer(text):
        start, end = match.start(), match.end()
        if any(s <= start and end <= e for s, e, _ in taken):
            continue
        window = text[max(0, start - 1) : end + 1]  # one character each side for the matcher's own boundary checks
        offset = max(0, start - 1)
        regions = (
            PHONE_REGIONS
            if "+" in window
            else PHONE_REGIONS[:1] + tuple(r for r in PHONE_REGIONS[1:] if "0" in window[:3])
        )
        for region in regions or PHONE_REGIONS[:1]:
            # STRICT_GROUPING: a valid number whose digit groups are the country's own grouping, so a
            # drug code grouped 5-4-1 ("NDC 50090-3431-0") is not a US number with a valid area code.
            for found in phonenumbers.PhoneNumberMatcher(
                window, region, leniency=phonenumbers.Leniency.STRICT_GROUPING
            ):
                # A bare run of digits is an account number, an NPI or an NHS number as often as a
                # phone: only written phones (grouped, or with "+") count.
                if not found.raw_string.isdigit():
                    spans.append((offset + found.start, offset + found.end, "phone"))
            if "+" in window:
                break  # an international number reads the same from any region
    return spans


def find_pii(text: str, include_dates: bool = True, this_year: int | None = None) -> list[Span]:
    """(start, end, detector) of every PII value in one text, overlaps merged; see the module doc."""
    spans: list[Span] = []
    if "@" in text:
        spans += [(m.start(), m.end(), "email") for m in _EMAIL.finditer(text)]
    spans += [(s, e, "ssn") for s, e, _ in _bounded(_SSN, text) if _ssn(text[s:e])]
    spans += [(s, e, "nhs_number") for s, e, _ in _bounded(_NHS, text) if _nhs(_digits(text[s:e]))]
    spans += [(s, e, "card_number") for s, e, _ in _bounded(_CARD, text) if _card(_digits(text[s:e]))]
    if include_dates:
        spans += _date_spans(text, this_year or date.today().year)
    spans += _phone_spans(text, spans)
    return merge_spans(spans)


_RANK = {name: rank for rank, name in enumerate((*DETECTOR_NAMES, NAME))}


def merge_spans(spans: list[Span]) -> list[Span]:
    """Overlapping spans as one (their union), labelled by the longest, ties by detector order."""
    merged: list[Span] = []
    best: list[tuple[int, int]] = []  # (-length, rank) of the label of each merged span
    for start, end, label in sorted(spans):
        key = (start - end, _RANK.get(label, len(_RANK)))
        if merged and start < merged[-1][1]:
            m_start, m_end, m_label = merged[-1]
            if key < best[-1]:
                m_label, best[-1] = label, key
            merged[-1] = (m_start, max(m_end, end), m_label)
        else:
            merged.append((start, end, label))
            best.append(key)
    return merged


def apply_spans(text: str, spans: list[Span]) -> str:
    pieces = []
    at = 0
    for start, end, label in spans:
        pieces.append(text[at:start])
        pieces.append(f"[REDACTED:{label}]")
        at = end
    pieces.append(text[at:])
    return "".join(pieces)


# --- vectorised driving ----------------------------------------------------------------------------


def _matches(values: pa.Array, pattern: str) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(values, pattern), False)


def _candidates(text: pa.Array) -> pa.Array:
    return _matches(text, _CANDIDATE)


def _per_row(text: pa.Array, mask: pa.Array, work: Callable[[str, int], str | None], out_type: pa.DataType) -> pa.Array:
    """`work(value, row)` on the rows of `mask`; None keeps the row's own value (for str outputs)."""
    rows = pc.indices_nonzero(mask).to_pylist()
    values = text.filter(mask).to_pylist()
    results = [work(value, row) for value, row in zip(values, rows, strict=True)]
    return pa.array(results, out_type)


def scan(values: ArrayLike, *, include_dates: bool = True) -> pa.Array:
    """Per row, the first detector (in `DETECTOR_NAMES` order) that finds something, else null.

    `include_dates=False` drops `date_of_birth`, for columns that are genuinely dates: any date
    in free text is treated as possibly a birth date, but a date column is not PII by itself.
    """
    text = as_utf8(values)
    maybe = _candidates(text)
    if not pc.any(maybe).as_py():
        return pa.nulls(len(text), pa.string())
    this_year = date.today().year
    cache: dict[str, str | None] = {}

    def label(value: str, _row: int) -> str | None:
        if value not in cache:
            found = {lab for _, _, lab in find_pii(value, include_dates, this_year)}
            cache[value] = next((name for name in DETECTOR_NAMES if name in found), None)
        return cache[value]

    labels = _per_row(text, maybe, label, pa.string())
    return pc.replace_with_mask(pa.nulls(len(text), pa.string()), maybe, labels)


def redact(values: ArrayLike, *, include_dates: bool = True) -> pa.Array:
    """Free text with every detector hit replaced by "[REDACTED:<detector>]"; nulls stay null."""
    return redact_free_text(values, include_dates=include_dates, names=False)


_MAX_REDACT_PASSES = 4


def redact_free_text(
    values: ArrayLike,
    own_names: Sequence[ArrayLike] | RowNameKeys | None = None,
    known_names: KnownNames | None = None,
    *,
    include_dates: bool = True,
    names: bool = True,
) -> pa.Array:
    """Free text as it may be stored: every detector hit, the row's own name (`own_names`: the
    row's name columns or their `row_name_keys`), names `known_names` knows and honorific + name,
    each replaced by its marker, span by span (the rest of the text is kept)."""
    text = as_utf8(values)
    if len(text) == 0:
        return text
    keys = None
    if own_names is not None and names:
        keys = own_names if isinstance(own_names, RowNameKeys) else RowNameKeys.build(own_names, len(text))
        if keys.length != len(text) and keys.keys:
            raise ValueError(f"name column has {keys.length} rows, values have {len(text)}")
    this_year = date.today().year
    is_known = known_names.is_name if known_names is not None else None
    pending = _candidates(text)
    name_rows = _name_candidates(text, keys, known_names) if names else None
    for _ in range(_MAX_REDACT_PASSES):
        todo = pc.or_(pending, name_rows) if name_rows is not None else pending
        if not pc.any(todo).as_py():
            break
        pii_rows = set(pc.indices_nonzero(pending).to_pylist())

        def one(value: str, row: int, pii_rows: set[int] = pii_rows) -> str:
            spans = find_pii(value, include_dates, this_year) if row in pii_rows else []
            if names:
                own = keys.forms(row) if keys is not None else frozenset()
                spans += [(s, e, NAME) for s, e in find_names(value, own, is_known)]
            return apply_spans(value, merge_spans(spans)) if spans else value

        before = text.filter(todo)
        after = _per_row(text, todo, one, text.type)
        text = pc.replace_with_mask(text, todo, after)
        changed = pc.fill_null(pc.not_equal(after, before), False)
        # Redacting can expose a hit a glued-on digit hid ("1980-02-29+44 7700 900123"), so changed
        # rows are looked at again (numbers only: a name found once is gone).
        changed_rows = pc.replace_with_mask(_constant(False, len(text)), todo, changed)
        pending = pc.and_(changed_rows, _candidates(text))
        name_rows = None
    return text


def redact_names(
    values: ArrayLike, own_names: Sequence[ArrayLike] | RowNameKeys | None = None, known_names: KnownNames | None = None
) -> pa.Array:
    """Names only (own, known, honorific), as `KnownNames.redact` does."""
    text = as_utf8(values)
    keys = None
    if own_names is not None:
        keys = own_names if isinstance(own_names, RowNameKeys) else RowNameKeys.build(own_names, len(text))
    rows = _name_candidates(text, keys, known_names)
    if not pc.any(rows).as_py():
        return text
    is_known = known_names.is_name if known_names is not None else None

    def one(value: str, row: int) -> str:
        own = keys.forms(row) if keys is not None else frozenset()
        spans = [(s, e, NAME) for s, e in find_names(value, own, is_known)]
        return apply_spans(value, spans) if spans else value

    return pc.replace_with_mask(text, rows, _per_row(text, rows, one, text.type))


# Two letter-words side by side ("ask Jane Doe"): the only shape in which a code-like column can hold
# a full name. One RE2 pass keeps identifiers, numbers and one-word codes away from the name check.
_WORD_PAIR = r"\p{L}{2,}[ ,]+\p{L}{2,}"


def known_full_names(values: ArrayLike, known_names: KnownNames | None) -> pa.Array:
    """True where a value holds a full name of someone the warehouse knows: two neighbouring words
    that are names it has dropped (`known_names`), or an honorific and such a name ("Mrs Cruz").

    For columns that are not free text: a single known word there is as often a code or a place as a
    surname (a city "Hamilton", a race "White"), and an honorific before an unknown word is as often a
    brand ("Dr. Reddy's Laboratories" in the FDA's labeler names), so neither alone proves a person.
    """
    text = as_utf8(values)
    found = _constant(False, len(text))
    if len(text) == 0 or known_names is None or not known_names.tokens:
        return found
    pairs = _matches(text, _WORD_PAIR)
    if not pc.any(pairs).as_py():
        return found
    rows = pc.and_(pairs, _rows_with_words(text, known_names.is_name))
    if not pc.any(rows).as_py():
        return found

    def full_name(value: str, _row: int) -> bool:
        words = [(m.start(), m.end(), m.group()) for m in COMPOUND.finditer(value)]
        known = [any(known_names.is_name(f) for f in compound_forms(w)) for _, _, w in words]
        for i in range(1, len(words)):
            if not known[i] or value[words[i - 1][1] : words[i][0]].strip(" ,.") != "":
                continue
            if known[i - 1] or fold(words[i - 1][2]) in HONORIFICS:
                return True
        return False

    return pc.replace_with_mask(found, rows, _per_row(text, rows, full_name, pa.bool_()))


def contains_pii(text: str, known_names: KnownNames | None = None, *, include_dates: bool = True) -> str | None:
    """The class of the first PII found in a short string (a CSV header cell, a file name), or None.

    Besides the detectors, a known name (as a word, `KnownNames`) or an honorific + name is "name".
    `include_dates=False` for strings where a date is expected and not personal (a file name's
    delivery date).
    """
    found = {label for _, _, label in find_pii(text, include_dates)}
    for name in DETECTOR_NAMES:
        if name in found:
            return name
    if find_names(text, frozenset(), known_names.is_name if known_names is not None else None):
        return NAME
    return None


def _constant(value: bool, length: int) -> pa.Array:
    return pc.fill_null(pa.nulls(length, pa.bool_()), value)


def _year_pattern(last: int) -> str:
    """1900..`last` as a regex (kept for callers that filter years in Arrow)."""
    last = min(max(last, 2000), 2099)
    tens, units = divmod(last - 2000, 10)
    parts = ["19[0-9]{2}", f"20{tens}[0-{units}]"]
    if tens:
        parts.append(f"20[0-{tens - 1}][0-9]")
    return "(?:" + "|".join(parts) + ")"


# --- names ------------------------------------------------------------------------------------------

# Words are split on anything but letters and combining marks (NFD text keeps its marks in the word).
_NON_WORD = r"[^\p{L}\p{M}]+"
_HONORIFIC = r"(?i)(?:^|[^\p{L}])(?:" + "|".join(sorted(HONORIFICS)) + r")\.? +\p{Lu}"


def _row_words(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Every lower-case word of every value, and the row it came from.

    Splitting on plain spaces and regex-splitting only the words with anything but letters left in
    them is several times faster than a regex over all the text.
    """
    lists = pc.split_pattern(pc.utf8_lower(text), " ")
    word = pc.list_flatten(lists)
    owner = pc.list_parent_indices(lists)
    plain = pc.fill_null(pc.utf8_is_alpha(word), False)
    if pc.all(plain).as_py():
        return word, owner
    messy = pc.invert(plain)
    pieces = pc.split_pattern_regex(word.filter(messy), _NON_WORD)
    return (
        pa.concat_arrays([word.filter(plain), pc.list_flatten(pieces)]),
        pa.concat_arrays([owner.filter(plain), pc.take(owner.filter(messy), pc.list_parent_indices(pieces))]),
    )


def _rows_with_words(text: pa.Array, wanted: Callable[[str], bool]) -> pa.Array:
    """Rows holding a word (split on non-letters, folded) for which `wanted` is true.

    Each distinct word is folded and judged once; the rows are then found by a vectorised lookup.
    """
    word, owner = _row_words(text)
    if len(word) == 0:
        return _constant(False, len(text))
    distinct = pc.unique(word)
    hits = [w for w in distinct.to_pylist() if w and len(w) >= 2 and wanted(fold(w))]
    if not hits:
        return _constant(False, len(text))
    rows = pc.unique(owner.filter(pc.is_in(word, value_set=pa.array(hits, word.type))))
    return (
        pc.fill_null(pc.scatter(_constant(True, len(rows)), rows, max_index=len(text) - 1), False)
        if len(text)
        else _constant(False, 0)
    )


def _name_candidates(text: pa.Array, keys: RowNameKeys | None, known_names: KnownNames | None) -> pa.Array:
    rows = _matches(text, _HONORIFIC)
    wanted: list[Callable[[str], bool]] = []
    if keys is not None and keys.all_forms:
        wanted.append(keys.all_forms.__contains__)
    if known_names is not None and known_names.tokens:
        wanted.append(known_names.is_name)
    if wanted:
        rows = pc.or_(rows, _rows_with_words(text, lambda w: any(f(w) for f in wanted)))
    return rows


@dataclass(frozen=True)
class RowNameKeys:
    """The row's own name columns, prepared once per batch for every column scanned for them.

    `all_forms` (every folded form of every name of the batch) finds candidate rows in one
    vectorised lookup; a candidate row's own forms are computed when it is looked at.
    """

    length: int
    keys: tuple[pa.Array, ...]  # the name columns
    all_forms: frozenset[str]

    @classmethod
    def build(cls, names: Sequence[ArrayLike], length: int | None = None) -> RowNameKeys:
        columns = []
        for column in names:
            values = as_utf8(column)
            if length is not None and len(values) != length:
                raise ValueError(f"name column has {len(values)} rows, values have {length}")
            length = len(values)
            columns.append(values)
        distinct = [pc.unique(column).to_pylist() for column in columns]
        all_forms = names_forms(v for values in distinct for v in values)
        return cls(length or 0, tuple(columns), all_forms)

    def forms(self, row: int) -> frozenset[str]:
        out: frozenset[str] = frozenset()
        for column in self.keys:
            value = column[row].as_py()
            if value:
                out |= name_forms(value)
        return out


def row_name_keys(names: Sequence[ArrayLike]) -> RowNameKeys:
    return RowNameKeys.build(names)


def scan_row_names(values: ArrayLike, names: Sequence[ArrayLike] | RowNameKeys) -> pa.BooleanArray:
    """True where a value contains, as a word (case- and accent-insensitive), any form of the same
    row's value of any of `names` (e.g. first and last name): the row's own person leaking into
    another column. Name particles ("de", "la", "van") alone do not count. Null values give False.
    """
    text = as_utf8(values)
    length = len(text)
    if isinstance(names, RowNameKeys):
        prepared = names
        if prepared.keys and prepared.length != length:
            raise ValueError(f"name column has {prepared.length} rows, values have {length}")
    else:
        prepared = RowNameKeys.build(names, length)
    if not prepared.keys or length == 0 or not prepared.all_forms:
        return _constant(False, length)
    rows = _rows_with_words(text, prepared.all_forms.__contains__)
    if not pc.any(rows).as_py():
        return rows

    def own(value: str, row: int) -> bool:
        forms = prepared.forms(row)
        return any(f in forms for m in COMPOUND.finditer(value) for f in compound_forms(m.group()))

    found = _per_row(text, rows, own, pa.bool_())
    return pc.replace_with_mask(rows, rows, found)


__all__ = [
    "DETECTOR_NAMES",
    "NAME",
    "PHONE_REGIONS",
    "RowNameKeys",
    "contains_pii",
    "find_pii",
    "name_forms",
    "redact",
    "redact_free_text",
    "redact_names",
    "row_name_keys",
    "scan",
    "scan_row_names",
]

"""The detector as it was before the library-based one (commit 420845d), kept as the baseline of
`warehouse bench pii` only: RE2 patterns checked in Arrow kernels, own names whole-word in
lower case, known names as lower-case tokens. Nothing in the loader imports it.
"""

# ruff: noqa
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from ingest.pii._arrow import ArrayLike, as_utf8
from ingest.pii.checksums import luhn_valid, luhn_valid_array, nhs_number_valid, nhs_number_valid_array
from ingest.pii.keys import PseudonymKey

# The order is the precedence in `scan` (first hit wins) and the order `redact` applies them in:
# emails first because they may contain digits, checksum detectors before phone because their
# shapes overlap and the checksum is the stronger evidence.
DETECTOR_NAMES: tuple[str, ...] = ("email", "ssn", "nhs_number", "card_number", "phone", "date_of_birth")

# Bodies are shared by RE2 and Python's re, so: ASCII classes only, non-capturing groups only
# (extract_regex refuses unnamed groups), no look-around, no backreferences.
_EMAIL = r"[A-Za-z0-9._%+\-]+@(?:[A-Za-z0-9\-]+\.)+[A-Za-z]{2,}"

# Area 001-899 except 666, group 01-99, serial 0001-9999: never-issued numbers are test data.
_SSN_AREA = r"(?:00[1-9]|0[1-9][0-9]|[1-5][0-9]{2}|6[0-57-9][0-9]|66[0-57-9]|[78][0-9]{2})"
_SSN_GROUP = r"(?:0[1-9]|[1-9][0-9])"
_SSN_SERIAL = r"(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
# Unseparated nine digits are not matched: far too many other identifiers have that shape.
_SSN = "|".join(f"{_SSN_AREA}{sep}{_SSN_GROUP}{sep}{_SSN_SERIAL}" for sep in ("-", " "))

_NHS = r"[0-9]{3}[ \-]?[0-9]{3}[ \-]?[0-9]{4}"
# Issuer prefixes 2-6 cover Mastercard 2-series, Amex/Diners/JCB, Visa, Mastercard, Discover/
# Maestro/UnionPay; other leading digits are not payment cards and would only add false hits.
_CARD = r"[2-6](?:[ \-]?[0-9]){12,18}"

_PHONE = "|".join(
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

_DAY = r"(?:0?[1-9]|[12][0-9]|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"


def _year_pattern(last: int) -> str:
    """1900..`last` as a regex, so "born 2087" or "in 1066" is not a date of birth."""
    last = min(max(last, 2000), 2099)
    tens, units = divmod(last - 2000, 10)
    parts = ["19[0-9]{2}", f"20{tens}[0-{units}]"]
    if tens:
        parts.append(f"20[0-{tens - 1}][0-9]")
    return "(?:" + "|".join(parts) + ")"


def _date_pattern(last_year: int) -> str:
    year = _year_pattern(last_year)
    iso = rf"{year}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    # DD/MM and MM/DD cannot be told apart in general; either order counts.
    slashed = rf"(?:{_DAY}/{_MONTH}|{_MONTH}/{_DAY})/{year}"
    return f"{iso}|{slashed}"


@dataclass(frozen=True)
class _Detector:
    name: str
    body: str
    digit_bounded: bool = True
    # Check digits: over an array of bare digit strings (bulk) and over one string (fallback).
    check_array: Callable[[pa.Array], pa.Array] | None = None
    check_one: Callable[[str], bool] | None = None

    @property
    def token(self) -> str:
        return f"[REDACTED:{self.name}]"

    @cached_property
    def search(self) -> str:
        """RE2: the value contains a candidate (consuming boundaries is harmless for a yes/no)."""
        return f"(?:^|[^0-9A-Za-z])(?:{self.body})(?:[^0-9A-Za-z]|$)" if self.digit_bounded else self.body

    @cached_property
    def replace(self) -> str:
        """RE2 for replace_substring_regex: boundary characters captured so they can be put back."""
        return f"(^|[^0-9A-Za-z])(?:{self.body})([^0-9A-Za-z]|$)" if self.digit_bounded else self.body

    @cached_property
    def whole(self) -> str:
        """RE2: the value is one candidate, give or take surrounding whitespace."""
        return rf"^\s*(?:{self.body})\s*$"

    @cached_property
    def whole_replace(self) -> str:
        return rf"^(\s*)(?:{self.body})(\s*)$"

    @cached_property
    def split(self) -> str:
        """RE2 for extract_regex: the value cut around its leftmost candidate.

        `pre` is lazy twice over (`??` and `.*?`): with a greedy `?` RE2 would prefer a non-empty
        `pre` and skip a candidate at the very start of the value.
        """
        return rf"(?s)^(?P<pre>(?:.*?[^0-9A-Za-z])??)(?P<candidate>{self.body})(?P<post>(?:[^0-9A-Za-z].*)?)$"

    @cached_property
    def python(self) -> re.Pattern[str]:
        return re.compile(f"(?<![0-9A-Za-z])(?:{self.body})(?![0-9A-Za-z])")


def _detectors(include_dates: bool) -> tuple[_Detector, ...]:
    # The year bound moves with the calendar, so it is read per call rather than at import.
    return _detectors_for(include_dates, date.today().year)


@lru_cache(maxsize=8)
def _detectors_for(include_dates: bool, year: int) -> tuple[_Detector, ...]:
    detectors = (
        _Detector("email", _EMAIL, digit_bounded=False),
        _Detector("ssn", _SSN),
        _Detector("nhs_number", _NHS, check_array=nhs_number_valid_array, check_one=nhs_number_valid),
        _Detector("card_number", _CARD, check_array=luhn_valid_array, check_one=luhn_valid),
        _Detector("phone", _PHONE),
        _Detector("date_of_birth", _date_pattern(year)),
    )
    assert tuple(d.name for d in detectors) == DETECTOR_NAMES
    return detectors if include_dates else detectors[:-1]


def _any_pattern(detectors: Sequence[_Detector]) -> str:
    # One RE2 pass decides which rows need any further look; in most columns that is almost none.
    return "|".join(f"(?:{d.search})" for d in detectors)


def _matches(values: pa.Array, pattern: str) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(values, pattern), False)


def _constant(value: bool, length: int) -> pa.Array:
    return pc.fill_null(pa.nulls(length, pa.bool_()), value)


def scan(values: ArrayLike, *, include_dates: bool = True) -> pa.Array:
    """Per row, the name of the first detector (in `DETECTOR_NAMES` order) that fires, else null.

    `include_dates=False` drops `date_of_birth`, for columns that are genuinely dates: any date
    in free text is treated as possibly a birth date, but a date column is not PII by itself.
    """
    text = as_utf8(values)
    detectors = _detectors(include_dates)
    maybe = _matches(text, _any_pattern(detectors))
    rows = text.filter(maybe)
    none = pa.scalar(None, pa.string())
    labels = [pc.if_else(_hits(rows, d), pa.scalar(d.name, pa.string()), none) for d in detectors]
    first = pc.coalesce(*labels) if labels else pa.nulls(len(rows), pa.string())
    return pc.replace_with_mask(pa.nulls(len(text), pa.string()), maybe, first)


def redact(values: ArrayLike, *, include_dates: bool = True) -> pa.Array:
    """Free text with every detector hit replaced by "[REDACTED:<detector>]"; nulls stay null.

    Hits are what `scan` reports, including the check digits: a 10-digit number that is not a
    valid NHS number (and not a phone) is left alone rather than over-redacted. Redacting can
    expose a hit that a glued-on digit hid, so rows are redacted until nothing changes: the result
    holds nothing `scan` would flag.
    """
    text = as_utf8(values)
    detectors = _detectors(include_dates)
    pending = _matches(text, _any_pattern(detectors))
    for _ in range(_MAX_REDACT_PASSES):
        rows = text.filter(pending)
        for detector in detectors:
            if detector.check_array is not None:
                _, rows = _walk(rows, detector, redact=True)
            else:
                rows = _replace_hits(rows, detector)
        changed = pc.fill_null(pc.not_equal(rows, text.filter(pending)), False)
        text = pc.replace_with_mask(text, pending, rows)
        # A hit glued to a digit is not a hit ("1980-02-29+44 7700 900123" holds no phone) until
        # its neighbour is redacted and the digit goes away, so changed rows are looked at again.
        pending = pc.replace_with_mask(_constant(False, len(text)), pending, changed)
        if not pc.any(pending).as_py():
            break
    return text


_MAX_REDACT_PASSES = 4


def _replace_hits(values: pa.Array, detector: _Detector) -> pa.Array:
    # A match pass is cheaper than a replace pass, and most rows hold no hit of a given detector.
    hit = _matches(values, detector.search)
    if not pc.any(hit).as_py():
        return values
    rows = values.filter(hit)
    if detector.digit_bounded:
        # The trailing boundary character is consumed, so of two hits separated by a single
        # character the second is skipped; a second pass catches exactly those.
        for _ in range(2):
            rows = pc.replace_substring_regex(rows, detector.replace, rf"\1{detector.token}\2")
    else:
        rows = pc.replace_substring_regex(rows, detector.body, detector.token)
    return pc.replace_with_mask(values, hit, rows)


def _hits(values: pa.Array, detector: _Detector) -> pa.Array:
    if detector.check_array is None:
        return _matches(values, detector.search)
    found, _ = _walk(values, detector, redact=False)
    return found


# Candidates are checked leftmost first, one per round, all rows at once; a round costs a few
# kernels over the rows still holding candidates. Rows with more than this many go to Python.
_MAX_ROUNDS = 4


def _digits(candidates: pa.Array) -> pa.Array:
    # Candidate bodies hold only digits, spaces and dashes; literal replaces are ~3x cheaper than
    # a regex over a column of candidates.
    return pc.replace_substring(pc.replace_substring(candidates, " ", ""), "-", "")


def _walk(values: pa.Array, detector: _Detector, *, redact: bool) -> tuple[pa.Array, pa.Array]:
    """For a checksum detector: (row has a valid candidate, text with valid ones redacted if asked).

    A value that is one candidate and nothing else (an identifier column: the case with the most
    candidates) is checked directly; other values are walked candidate by candidate.
    """
    check = detector.check_array
    assert check is not None
    found = _constant(False, len(values))
    whole = _matches(values, detector.whole)
    if pc.any(whole).as_py():
        subset = values.filter(whole)
        valid = check(_digits(pc.utf8_trim_whitespace(subset)))
        found = pc.replace_with_mask(found, whole, valid)
        if redact:
            redacted = pc.replace_substring_regex(subset, detector.whole_replace, rf"\1{detector.token}\2")
            values = pc.replace_with_mask(values, whole, pc.if_else(valid, redacted, subset))
    # Whole values are done, valid or not; an invalid one must not be walked again.
    partial = pc.and_(_matches(values, detector.search), pc.invert(whole))
    if not pc.any(partial).as_py():
        return found, values
    found_partial, walked = _walk_candidates(values.filter(partial), detector, redact=redact)
    found = pc.replace_with_mask(found, partial, found_partial)
    return found, pc.replace_with_mask(values, partial, walked) if redact else values


def _walk_candidates(values: pa.Array, detector: _Detector, *, redact: bool) -> tuple[pa.Array, pa.Array]:
    """`_walk` for values that all hold at least one candidate somewhere in longer text.

    Each row is split into done | rest. A round cuts rest around its leftmost candidate, checks it,
    appends pre + (token or candidate) to done and continues on post, so an invalid candidate is
    kept verbatim and never looked at again.
    """
    check = detector.check_array
    assert check is not None
    rest = values
    done = pc.utf8_slice_codeunits(rest, 0, 0)  # "" per row, same string type as rest
    found = _constant(False, len(rest))
    live = _constant(True, len(rest))
    for _ in range(_MAX_ROUNDS):
        if not pc.any(live).as_py():
            break
        parts = pc.extract_regex(rest.filter(live), detector.split)
        pre, candidate, post = (pc.struct_field(parts, name) for name in ("pre", "candidate", "post"))
        valid = check(_digits(candidate))
        found = pc.replace_with_mask(found, live, pc.or_(found.filter(live), valid))
        if redact:
            piece = pc.if_else(valid, pa.scalar(detector.token, candidate.type), candidate)
            done = pc.replace_with_mask(done, live, pc.binary_join_element_wise(done.filter(live), pre, piece, ""))
        rest = pc.replace_with_mask(rest, live, post)
        more = _matches(post, detector.search)
        # Scanning only needs one valid candidate per row; redacting needs all of them.
        live = pc.replace_with_mask(live, live, more if redact else pc.and_(more, pc.invert(valid)))
    if pc.any(live).as_py():
        found, rest = _walk_in_python(rest, found, live, detector, redact=redact)
    return found, pc.binary_join_element_wise(done, rest, "") if redact else values


def _walk_in_python(
    rest: pa.Array, found: pa.Array, live: pa.Array, detector: _Detector, *, redact: bool
) -> tuple[pa.Array, pa.Array]:
    check = detector.check_one
    assert check is not None
    hits: list[bool] = []
    texts: list[str] = []

    def keep_or_redact(match: re.Match[str]) -> str:
        if not check(re.sub("[^0-9]", "", match.group())):
            return match.group()
        hits[-1] = True
        return detector.token if redact else match.group()

    for value in rest.filter(live).to_pylist():
        hits.append(False)
        texts.append(detector.python.sub(keep_or_redact, value))
    found = pc.replace_with_mask(found, live, pc.or_(found.filter(live), pa.array(hits, pa.bool_())))
    return found, pc.replace_with_mask(rest, live, pa.array(texts, rest.type))


# Letters (with their combining marks) and digits in any script make up words; anything else
# separates them, so "Smith," and "Smith-Jones" both contain the word "smith".
_NON_WORD = r"[^\p{L}\p{M}\p{N}]+"
_MIN_NAME_LENGTH = 3


def _word_form(values: pa.Array) -> pa.Array:
    """Lowercase words joined by single spaces: whole-word containment becomes " w " in " text "."""
    lowered = pc.utf8_lower(values)
    # Most values (a first or last name) are one word already: only the others need the rewrite.
    messy = pc.invert(pc.fill_null(pc.utf8_is_alnum(lowered), True))
    if not pc.any(messy).as_py():
        return lowered
    rewritten = pc.utf8_trim(pc.replace_substring_regex(lowered.filter(messy), _NON_WORD, " "), " ")
    return pc.replace_with_mask(lowered, messy, rewritten)


def _words(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Every lowercase word of every value, and the row each came from.

    Splitting on plain spaces and regex-splitting only the words with anything but letters and
    digits left in them (punctuation, tabs, the "" between double spaces) is several times faster
    than a regex over all the text: RE2 rewrites are slow when every value has many matches.
    """
    lists = pc.split_pattern(pc.utf8_lower(values), " ")
    word = pc.list_flatten(lists)
    owner = pc.list_parent_indices(lists)
    plain = pc.utf8_is_alnum(word)
    if pc.all(plain).as_py():
        return word, owner
    messy = pc.invert(plain)
    pieces = pc.split_pattern_regex(word.filter(messy), _NON_WORD)
    return (
        pa.concat_arrays([word.filter(plain), pc.list_flatten(pieces)]),
        pa.concat_arrays([owner.filter(plain), pc.take(owner.filter(messy), pc.list_parent_indices(pieces))]),
    )


@dataclass(frozen=True)
class RowNameKeys:
    """Per name column: the word each row's text must contain, whether that is only the last word of
    a multi-word name ("de la cruz", "o brien" from O'Brien), and the whole name in word form.

    Built once per batch by `row_name_keys` and shared by every column scanned for the row's own name.
    """

    length: int
    keys: tuple[tuple[pa.Array, pa.Array, pa.Array], ...]
    all_keys: pa.Array | None  # the distinct keys of every name column

    @classmethod
    def build(cls, names: Sequence[ArrayLike], length: int | None = None) -> RowNameKeys:
        keys = []
        for column in names:
            name = _word_form(as_utf8(column))
            if length is not None and len(name) != length:
                raise ValueError(f"name column has {len(name)} rows, values have {length}")
            length = len(name)
            usable = pc.fill_null(pc.greater_equal(pc.utf8_length(name), _MIN_NAME_LENGTH), False)
            phrase = pc.fill_null(pc.and_(usable, pc.match_substring(name, " ")), False)
            key = pc.if_else(usable, name, pa.scalar(None, name.type))
            if pc.any(phrase).as_py():
                last_word = pc.struct_field(pc.extract_regex(name.filter(phrase), r"(?P<last>[^ ]+)$"), "last")
                key = pc.replace_with_mask(key, phrase, last_word)
            keys.append((key, phrase, name))
        all_keys = pc.unique(pa.concat_arrays([key.cast(pa.string()) for key, _, _ in keys])) if keys else None
        return cls(length or 0, tuple(keys), all_keys)


def row_name_keys(names: Sequence[ArrayLike]) -> RowNameKeys:
    return RowNameKeys.build(names)


def scan_row_names(values: ArrayLike, names: Sequence[ArrayLike] | RowNameKeys) -> pa.BooleanArray:
    """True where a value contains, as whole words and ignoring case, the same row's value of any
    of `names` (e.g. first and last name): the row's own person leaking into another column.

    `names` are the name columns, or their `row_name_keys` when several columns are scanned. Names
    shorter than three characters are ignored ("Al", "Li" match too much text). Null values give False.
    """
    text = as_utf8(values)
    length = len(text)
    hit = _constant(False, length)
    if isinstance(names, RowNameKeys):
        prepared = names
        if prepared.keys and prepared.length != length:
            raise ValueError(f"name column has {prepared.length} rows, values have {length}")
    else:
        prepared = RowNameKeys.build(names, length)
    if not prepared.keys or length == 0:
        return hit

    word, owner = _words(text)
    # Most words are no one's name: keep only words equal to some key before the per-row test.
    candidate = pc.is_in(word, value_set=prepared.all_keys.cast(word.type))
    word, owner = word.filter(candidate), owner.filter(candidate)
    if len(word) == 0:
        return hit
    for key, phrase, name in prepared.keys:
        # Compare each remaining word with its own row's key, all rows at once.
        same = pc.fill_null(pc.equal(word, pc.take(key.cast(word.type), owner)), False)
        rows = pc.unique(owner.filter(same))
        has_key = pc.fill_null(pc.scatter(_constant(True, len(rows)), rows, max_index=length - 1), False)
        hit = pc.or_(hit, pc.and_(has_key, pc.invert(phrase)))
        # A multi-word name whose last word is present still needs the phrase in order; rare.
        todo = pc.and_(pc.and_(has_key, phrase), pc.invert(hit))
        if pc.any(todo).as_py():
            pairs = zip(_word_form(text.filter(todo)).to_pylist(), name.filter(todo).to_pylist(), strict=True)
            found = [value is not None and f" {who} " in f" {value} " for value, who in pairs]
            hit = pc.replace_with_mask(hit, todo, pa.array(found, pa.bool_()))
    return hit


WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)  # letters only, three or more
REDACTED_NAME = "[REDACTED:name]"


@dataclass
class KnownNamesV1:
    key: PseudonymKey
    tokens: set[str] = field(default_factory=set)
    pending: set[str] = field(default_factory=set)  # learnt this run, not yet saved
    _verdicts: dict[str, bool] = field(default_factory=dict)

    def _token(self, word: str) -> str:
        return hmac.new(self.key.key, b"name:" + word.lower().encode(), hashlib.sha256).hexdigest()

    def learn(self, names: pa.Array) -> None:
        for value in pc.unique(pc.drop_null(names)).to_pylist():
            for word in WORD.findall(value):
                token = self._token(word)
                if token not in self.tokens:
                    self.tokens.add(token)
                    self.pending.add(token)
                    self._verdicts[word.lower()] = True

    def _is_name(self, word: str) -> bool:
        lowered = word.lower()
        verdict = self._verdicts.get(lowered)
        if verdict is None:
            verdict = self._token(lowered) in self.tokens
            self._verdicts[lowered] = verdict
        return verdict

    def redact(self, values: pa.Array) -> pa.Array:
        """Vectorised: each distinct word is judged once, then one RE2 pass replaces the names."""
        if not self.tokens or len(values) == 0:
            return values
        words = pc.unique(pc.list_flatten(pc.split_pattern_regex(pc.drop_null(values), r"[^\p{L}]+"))).to_pylist()
        names = sorted({w for w in words if len(w) >= 3 and self._is_name(w)}, key=len, reverse=True)
        if not names:
            return values
        alternation = "|".join(re.escape(n) for n in names)
        # Letters on neither side, so "Ann" does not eat into "Annual"; RE2 has no look-around, so the
        # neighbouring characters are captured and written back.
        pattern = rf"(^|[^\p{{L}}])(?i:{alternation})([^\p{{L}}]|$)"
        redacted = values
        for _ in range(2):  # adjacent names share a separator; a second pass catches the other one
            redacted = pc.replace_substring_regex(redacted, pattern, rf"\1{REDACTED_NAME}\2")
        return redacted

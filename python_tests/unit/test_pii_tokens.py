"""Keyed tokens: equal to HMAC-SHA256, deterministic, normalised, key-sensitive, null-preserving.

Every test of the tokens runs twice: through the compiled hasher (`ingest.pii._hmac_sha256`) and
through the pure-Python path that replaces it where it was not built. Tests of one path's own
machinery (the extension's checks, the worker process) run on that path only.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pytest

from ingest.pii.keys import PseudonymKey
from ingest.pii.tokens import normalise, tokenise

KEY = PseudonymKey.from_bytes(b"unit-test-key-0123456789abcdef")
OTHER_KEY = PseudonymKey.from_bytes(b"unit-test-key-0123456789abcdeg")


@pytest.fixture(autouse=True, params=["compiled", "python"])
def hashing_path(request, monkeypatch) -> str:
    from ingest.pii import tokens as module

    if request.param == "python":
        monkeypatch.setattr(module, "_compiled", None)
    return request.param


# A test about one path runs on that path only (the fixture's parameter, overridden).
compiled_only = pytest.mark.parametrize("hashing_path", ["compiled"], indirect=True)
python_only = pytest.mark.parametrize("hashing_path", ["python"], indirect=True)


@compiled_only
def test_the_compiled_hasher_was_built() -> None:
    """`make` builds it (gcc and OpenSSL's headers: see the README); without it ingest of an
    identifier-heavy file is 10-15 % slower, silently. This test is what makes that loud."""
    from ingest.pii import tokens as module

    assert module._compiled is not None, "ingest.pii._hmac_sha256 was not built: install gcc and libssl-dev"


@compiled_only
def test_the_compiled_hasher_refuses_offsets_outside_its_data() -> None:
    import numpy as np

    from ingest.pii import _hmac_sha256

    for offsets in ([0, 5, 3], [0, 6], [-1, 0], []):
        with pytest.raises(ValueError, match="offsets"):
            _hmac_sha256.hex_digests(b"k", b"abcde", np.array(offsets, dtype=np.int64))
    assert _hmac_sha256.hex_digests(b"k", b"", np.array([0], dtype=np.int64)) == b""
    with pytest.raises(ValueError, match="offsets"):
        _hmac_sha256.hex_digests(b"k", b"abcde", b"\0" * 12)  # not whole int64s


def _hmac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def test_token_is_hmac_sha256_of_the_normalised_value() -> None:
    tokens = tokenise(pa.array(["abc-123", "Zoë 7"]), KEY).to_pylist()
    assert tokens == [_hmac(KEY.key, "ABC123"), _hmac(KEY.key, "ZOË7")]


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"y" * 65, bytes(range(256))])
def test_hand_rolled_hmac_matches_the_standard_library_for_any_key_length(key: bytes) -> None:
    values = ["", "A", "M0001234", "9" * 200]
    expected = [_hmac(key, v) if v else None for v in values]
    assert tokenise(pa.array(values), PseudonymKey.from_bytes(key)).to_pylist() == expected


def test_spellings_of_the_same_identifier_share_a_token() -> None:
    spellings = ["123-45-6789", "123 45 6789", " 123.45.6789 ", "123456789", "123\u201345\u20136789", "123\xa045 6789"]
    tokens = tokenise(pa.array(spellings), KEY).to_pylist()
    assert len(set(tokens)) == 1
    assert tokenise(pa.array(["ab12cd"]), KEY)[0] == tokenise(pa.array(["AB-12-CD"]), KEY)[0]


def test_tokens_are_deterministic_and_distinct_per_value() -> None:
    values = pa.array([f"M{i:06d}" for i in range(1000)])
    first = tokenise(values, KEY)
    assert first.equals(tokenise(values, KEY))
    assert len(set(first.to_pylist())) == 1000
    assert all(len(t) == 64 and int(t, 16) >= 0 for t in first.to_pylist()[:10])


def test_a_different_key_gives_different_tokens() -> None:
    values = pa.array(["123-45-6789", "M000001"])
    mine, theirs = tokenise(values, KEY).to_pylist(), tokenise(values, OTHER_KEY).to_pylist()
    assert all(a != b for a, b in zip(mine, theirs, strict=True))


def test_nulls_and_blanks_stay_null() -> None:
    tokens = tokenise(pa.array([None, "", "  ", " - . ", "x"]), KEY)
    assert tokens.type == pa.string()
    assert tokens.null_count == 4 and tokens[4].is_valid


def test_repeated_values_and_other_input_types() -> None:
    values = ["M1", "M2", "M1", None, "m1"]
    expected = tokenise(pa.array(values), KEY).to_pylist()
    assert expected[0] == expected[2] == expected[4] != expected[1]
    chunked = pa.chunked_array([pa.array(values[:2]), pa.array(values[2:])])
    assert tokenise(chunked, KEY).to_pylist() == expected
    assert tokenise(pa.array(values).dictionary_encode(), KEY).to_pylist() == expected
    assert tokenise(pa.array([42, None]), KEY).to_pylist() == [_hmac(KEY.key, "42"), None]
    assert tokenise(pa.array([], pa.string()), KEY).to_pylist() == []


def test_normalise_is_what_gets_hashed() -> None:
    assert normalise(pa.array([" ab-c.d e ", "", None])).to_pylist() == ["ABCDE", None, None]


@python_only  # the worker serves the pure-Python path
def test_big_batches_hashed_in_the_worker_process_give_the_same_tokens(monkeypatch) -> None:
    from ingest.pii import tokens as module

    monkeypatch.setattr(module, "WORKER_MIN_VALUES", 1)
    values = ["abc-123", None, "Zoë 7", "abc 123", ""]
    expected = [_hmac(KEY.key, "ABC123"), None, _hmac(KEY.key, "ZOË7"), _hmac(KEY.key, "ABC123"), None]
    later = [module.tokenise_later(pa.array(values), KEY) for _ in range(3)]  # queued side by side
    assert all(tokens().to_pylist() == expected for tokens in reversed(later))
    assert module._worker is not None and module._worker.process.poll() is None
    # A worker that died is replaced, and a batch it was hashing is hashed in the caller instead.
    pending = module.tokenise_later(pa.array(values), KEY)
    module._worker.process.kill()
    assert pending().to_pylist() == expected
    assert module.tokenise(pa.array(values), OTHER_KEY).to_pylist() == tokenise(pa.array(values), OTHER_KEY).to_pylist()
    module.shutdown_worker()
    assert module._worker is None


def test_the_ascii_fast_path_normalises_exactly_like_the_regex() -> None:
    """ASCII batches skip the regex; random values (every noise character, \\v which RE2's \\s does
    not match, non-ASCII spaces and dashes, nulls, sliced and chunked arrays) must agree with it."""
    import random

    import pyarrow.compute as pc

    from ingest.pii import tokens

    def by_regex(values) -> pa.Array:
        text = pc.replace_substring_regex(pc.utf8_upper(tokens.as_utf8(values)), tokens._NOISE, "")
        return pc.if_else(pc.equal(pc.binary_length(text), 0), pa.scalar(None, text.type), text)

    rng = random.Random(7)
    ascii_only, mixed = "abcXYZ019 -.\t\n\r\x0b\x0c_/", "abcXYZ019 -.\t\n\r\x0b\x0c_/é\u00a0\u2013"
    for trial in range(2000):
        alphabet = mixed if trial % 2 else ascii_only
        n = rng.randrange(0, 12)
        values = pa.array(
            [None if rng.random() < 0.1 else "".join(rng.choices(alphabet, k=rng.randrange(0, 8))) for _ in range(n)],
            pa.string(),
        )
        for array in (values, values.slice(1), values.slice(0, max(0, n - 2)), pa.chunked_array([values, values])):
            assert normalise(array).equals(by_regex(array)), values


def test_random_values_of_every_length_match_the_standard_library() -> None:
    """Lengths around SHA-256's block boundaries (55, 56, 64 bytes after normalising), non-ASCII
    text, and sliced input whose offsets do not start at zero."""
    import random

    rng = random.Random(11)
    alphabet = "ABCXYZ0129ÉÜ中"  # already normalised: what is hashed is the value itself
    values = ["".join(rng.choices(alphabet, k=rng.randrange(1, 140))) for _ in range(600)]
    values += ["A" * n for n in (54, 55, 56, 57, 63, 64, 65, 119, 120)]
    array = pa.array(["padding", *values]).slice(1)
    assert tokenise(array, KEY).to_pylist() == [_hmac(KEY.key, v) for v in values]

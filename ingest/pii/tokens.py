"""Deterministic keyed tokens (HMAC-SHA256) that replace direct identifiers.

The same identifier must give the same token in every feed, so people link across sources
without the identifier ever reaching the warehouse. Values are normalised first because feeds
spell the same SSN or member id differently ("123-45-6789", "123 45 6789", "123.45.6789").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingest.pii._arrow import ArrayLike, as_utf8
from ingest.pii.keys import PseudonymKey

# Whitespace (including Unicode spaces such as the no-break space spreadsheets emit), any dash
# punctuation (hyphen, en dash, ...) and dots carry formatting, not identity.
_NOISE = r"[\s\p{Z}\p{Pd}.]+"

_BLOCK = 64  # SHA-256 block size, which is what RFC 2104 pads the key to.


def _fastest_sha256() -> Callable[[bytes], Any]:
    # For short messages the cost is per call, not per byte, and CPython's built-in SHA-256 object
    # copies ~1.4x faster than OpenSSL's EVP context. The module is private (renamed in 3.12), so
    # fall back to hashlib; both compute the same function, which the unit tests pin.
    for module in ("_sha2", "_sha256"):
        try:
            return __import__(module).sha256
        except (ImportError, AttributeError):
            continue
    return hashlib.sha256


_sha256 = _fastest_sha256()


def normalise(values: ArrayLike) -> pa.Array:
    """The form that is hashed: uppercase, with whitespace, dashes and dots removed; "" becomes null.

    An empty identifier would otherwise get one shared token and falsely link unrelated people.
    """
    text = pc.replace_substring_regex(pc.utf8_upper(as_utf8(values)), _NOISE, "")
    return pc.if_else(pc.equal(pc.binary_length(text), 0), pa.scalar(None, text.type), text)


def tokenise(values: ArrayLike, key: PseudonymKey) -> pa.Array:
    """HMAC-SHA256(key, normalised value) as 64 lowercase hex characters; nulls stay null."""
    normal = normalise(values)
    # Identifiers repeat (a member appears on every claim): hash each distinct value once. On an
    # all-distinct column the hash table costs ~10% extra; sampling to skip it misjudges columns
    # whose distinct count is large but still far below the row count, so always encode.
    encoded = normal.dictionary_encode()
    distinct = pc.cast(encoded.dictionary, pa.binary()).to_pylist()
    digests = pa.array(_hmac_hex(distinct, key.key), type=pa.string())
    return pc.take(digests, encoded.indices)


def _hmac_hex(messages: list[bytes | None], key: bytes) -> list[str | None]:
    # RFC 2104 by hand: precompute the inner and outer states once, then copy them per value. This
    # is the same function as hmac.new(key, msg, sha256) (a unit test checks) but 2-3x faster than
    # copying an hmac object, which adds a Python wrapper layer; this loop is the loader's
    # bottleneck.
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner_copy = _sha256(bytes(b ^ 0x36 for b in key)).copy
    outer_copy = _sha256(bytes(b ^ 0x5C for b in key)).copy
    out: list[str | None] = []
    append = out.append
    for message in messages:
        if message is None:
            append(None)
            continue
        inner = inner_copy()
        inner.update(message)
        outer = outer_copy()
        outer.update(inner.digest())
        append(outer.hexdigest())
    return out

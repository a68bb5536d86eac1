"""The loader's in-file duplicate-key check: equal keys must hash equal, whichever path hashes them."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

from ingest.landing import LandedFile
from ingest.loader import FileState, _column_hashes, _fixed_width_hashes, _key_hashes


def _tokens(n: int) -> list[str]:
    return [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]


def test_fixed_width_tokens_hash_like_values_compare() -> None:
    tokens = _tokens(5_000)
    values = pa.array(tokens + tokens[:10])  # the first ten repeat at the end
    hashes = _fixed_width_hashes(values)
    assert hashes is not None
    assert len(np.unique(hashes[:5_000])) == 5_000
    assert (hashes[5_000:] == hashes[:10]).all()
    # A slice (an offset into the buffers) hashes its values the same way.
    assert (_fixed_width_hashes(values.slice(3, 7)) == hashes[3:10]).all()


def test_other_string_columns_take_the_general_path() -> None:
    for values in (pa.array(["abcdefgh", None]), pa.array(["abcdefgh", "abc"]), pa.array(["abc", "abc"])):
        assert _fixed_width_hashes(values) is None
        hashes = _column_hashes(values)
        assert len(hashes) == len(values)
    same = _column_hashes(pa.array(["x1", "x1", "x2"]))
    assert same[0] == same[1] != same[2]


def test_a_repeated_key_is_seen_on_either_path() -> None:
    tokens = _tokens(1_000)
    for column in (pa.array([*tokens, tokens[500]]), pa.array([*map(str, range(1_000)), "500"])):
        state = FileState(LandedFile.__new__(LandedFile))
        table = pa.table({"member_id": column})
        state.track_keys(_key_hashes(table.slice(0, 600), ["member_id"]))
        assert state.keys_unique() is True
        state.track_keys(_key_hashes(table.slice(600), ["member_id"]))
        assert state.keys_unique() is False

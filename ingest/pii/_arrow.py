"""Input coercion shared by the PII modules: every kernel here wants one contiguous UTF-8 array."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ArrayLike = pa.Array | pa.ChunkedArray


def as_utf8(values: ArrayLike) -> pa.Array:
    """One contiguous string array, whatever came in (chunked, dictionary-encoded, numbers, nulls).

    Numbers are cast rather than refused: a numeric column can still hold an identifier (a card
    number, an NHS number) and must be scanned or tokenised like text.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    # string_view and friends are not accepted by every regex kernel, so normalise to plain string.
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.string())
    return values


def string_offsets(values: pa.Array) -> np.ndarray:
    """The n + 1 value offsets of a (large) string array into its data buffer, for its own slice:
    byte-level work on every value at once, without a Python object per value."""
    kind = np.int64 if pa.types.is_large_string(values.type) else np.int32
    return np.frombuffer(values.buffers()[1], dtype=kind)[values.offset : values.offset + len(values) + 1]

"""Check digits that separate a real NHS or card number from any run of digits of the same shape.

Each check exists twice: over a pyarrow array of digit strings (the bulk path, integer arithmetic
in Arrow kernels) and over one Python string (the fallback for the rare text with many candidates,
and the reference the unit tests compare the vectorised form against).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

_NHS_WEIGHTS = range(10, 1, -1)  # applied to the first nine digits, left to right
# Luhn doubles every second digit from the right and adds the digits of the product.
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
_REPDIGIT_10 = 1_111_111_111


def _u64(value: int) -> pa.Scalar:
    # Python ints become int64 scalars, which Arrow refuses to combine with uint64 values >= 2**63.
    return pa.scalar(value, pa.uint64())


_TEN = _u64(10)
_ELEVEN = _u64(11)


def nhs_number_valid(digits: str) -> bool:
    """Modulus-11 check digit of a 10-digit NHS number; repeated-digit placeholders are not valid."""
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    # Every repdigit (0000000000, 9999999999, ...) happens to satisfy the check; they are the
    # placeholders systems use for "unknown", not someone's number.
    if digits == digits[0] * 10:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], _NHS_WEIGHTS, strict=True))
    check = (11 - total % 11) % 11
    return check != 10 and check == int(digits[9])


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check used by payment card numbers."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = int(char)
        total += _LUHN_DOUBLED[d] if position % 2 else d
    return total % 10 == 0


def nhs_number_valid_array(digits: pa.Array) -> pa.Array:
    """`nhs_number_valid` over an array of exactly-10-digit strings (no separators)."""
    number = pc.cast(digits, pa.uint64())
    check = pc.modulo(number, _TEN)
    rest = pc.divide(number, _TEN)
    total = None
    # Peel digits off the right: the ninth digit has weight 2, the first weight 10.
    for weight in range(2, 11):
        term = pc.multiply(pc.modulo(rest, _TEN), _u64(weight))
        total = term if total is None else pc.add(total, term)
        rest = pc.divide(rest, _TEN)
    expected = pc.modulo(pc.subtract(_ELEVEN, pc.modulo(total, _ELEVEN)), _ELEVEN)  # 10 matches no digit
    repdigit = pc.equal(pc.modulo(number, _u64(_REPDIGIT_10)), _u64(0))
    return pc.and_(pc.equal(expected, check), pc.invert(repdigit))


def luhn_valid_array(digits: pa.Array, max_digits: int = 19) -> pa.Array:
    """`luhn_valid` over an array of digit strings of at most `max_digits` (<= 19, fits uint64)."""
    if not 1 <= max_digits <= 19:
        raise ValueError("luhn_valid_array works on uint64, so on 1 to 19 digits")
    number = pc.cast(digits, pa.uint64())
    doubled = pa.array(_LUHN_DOUBLED, pa.uint64())
    total = None
    # Leading zeros add nothing, so every value can be walked to the same length from the right.
    for position in range(max_digits):
        digit = pc.modulo(number, _TEN)
        term = pc.take(doubled, digit) if position % 2 else digit
        total = term if total is None else pc.add(total, term)
        number = pc.divide(number, _TEN)
    return pc.equal(pc.modulo(total, _TEN), _u64(0))

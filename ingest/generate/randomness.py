"""Seeded randomness that is fast enough for millions of rows, and never the global generator.

`Rng` is a `random.Random` whose choice / randrange / randint scale one uniform float instead of
drawing rejection-sampled bits in pure Python: about four times faster on the generator's hot paths.
For the small ranges used here the bias is below 2**-40, and the results depend only on the seed.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import TypeVar

T = TypeVar("T")


class Rng(random.Random):
    def choice(self, seq: Sequence[T]) -> T:
        return seq[int(self.random() * len(seq))]

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:  # type: ignore[override]
        if stop is None:
            return int(self.random() * start)
        return start + step * int(self.random() * ((stop - start + step - 1) // step))

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


class Weighted:
    """A weighted choice from one uniform draw: several times cheaper than Random.choices."""

    def __init__(self, items: Sequence[str], weights: Sequence[float]) -> None:
        self.items = tuple(items)
        total = sum(weights)
        self.cumulative = tuple(w / total for w in accumulate(weights))

    def pick(self, rng: random.Random) -> str:
        return self.items[min(bisect_right(self.cumulative, rng.random()), len(self.items) - 1)]


def normal(uniform: Callable[[], float]) -> float:
    """Roughly standard normal from four uniforms (Irwin-Hall), bounded at +-3.46.

    Random.gauss is pure Python and several times slower; at millions of measurements that matters,
    and the bounded tails keep measurements physiological anyway.
    """
    return (uniform() + uniform() + uniform() + uniform() - 2.0) * 1.7320508075688772

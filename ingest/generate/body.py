"""Plausible body height and weight for a person at a given age.

Each person carries two persistent z-scores (height and BMI) so that every measurement of them, in
every feed and on every day, tells the same story: the height stays put, the weight drifts a little,
and the BMI derived from them is realistic for the age and sex.
"""

from __future__ import annotations

import math
from bisect import bisect_right

# Approximate CDC median stature (cm) by age in years, 0..20, for boys and girls.
_AGES = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20)
_HEIGHT_M = (50, 76, 87, 96, 103, 110, 116, 122, 128, 133, 138, 143, 149, 156, 164, 170, 173, 175, 176, 177)
_HEIGHT_F = (49, 74, 86, 95, 102, 109, 115, 121, 127, 132, 138, 144, 151, 157, 160, 162, 163, 163, 163, 163)
# Approximate median BMI (kg/m2) by age; adults are handled separately.
_BMI = (13.4, 17.2, 16.5, 16.0, 15.7, 15.5, 15.5, 15.7, 16.0, 16.6, 17.2, 17.8, 18.5, 19.1, 19.8, 20.4, 21.0,
        21.5, 22.0, 23.0)  # fmt: skip


def _interpolate(table: tuple[float, ...], age: float) -> float:
    if age <= _AGES[0]:
        return table[0]
    if age >= _AGES[-1]:
        return table[-1]
    i = bisect_right(_AGES, age) - 1
    span = _AGES[i + 1] - _AGES[i]
    return table[i] + (table[i + 1] - table[i]) * (age - _AGES[i]) / span


def height_cm(age: float, sex: str, z: float) -> float:
    """Stature for an age in years; z is the person's lifelong height z-score."""
    median = _interpolate(_HEIGHT_M if sex == "M" else _HEIGHT_F, age)
    # Spread grows with size: roughly 4 % of the median, about 7 cm in adults.
    height = median * (1 + 0.04 * z)
    if age > 60:
        # Older adults lose about a centimetre a decade, which the oldest people in the feed show.
        height -= (age - 60) * 0.1
    return height


def bmi(age: float, z: float) -> float:
    """Body-mass index for an age; z is the person's persistent BMI z-score."""
    if age < 20:
        return _interpolate(_BMI, age) * math.exp(0.11 * z)
    # US adults: median about 27.5 with a long right tail, rising a little into late middle age.
    middle_age_bump = 1.5 * math.exp(-(((age - 55) / 20) ** 2))
    return min(max((26.0 + middle_age_bump) * math.exp(0.18 * z), 15.5), 60.0)


def weight_kg(age: float, sex: str, height_z: float, bmi_z: float) -> float:
    h = height_cm(age, sex, height_z) / 100
    return bmi(age, bmi_z) * h * h


CM_PER_INCH = 2.54
LB_PER_KG = 2.2046226218

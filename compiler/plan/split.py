"""Splitting a logical quota across clusters, exactly.

The parts always sum to the total. Each resource is split in whole units of a granularity
(1 for counts, a whole core or 1m for cpu, the largest binary unit that divides the total
for bytes), by largest remainder, ties going to the earlier cluster in the platform file. A
total that is not a whole number of its smallest unit cannot be split exactly: that is an
error, never a rounding.
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from compiler.quantity import EXACT, exact_sum

BYTE_UNITS = [Decimal(1024) ** k for k in (4, 3, 2, 1, 0)]
MILLI = Decimal("0.001")


class SplitError(ValueError):
    """A total that cannot be divided exactly into whole units."""


def granularity(resource: str, total: Decimal) -> Decimal:
    """The unit a resource is split in (see module docstring)."""
    if resource in ("cpu",):
        if total == total.to_integral_value():
            return Decimal(1)
        if _divides(MILLI, total):
            return MILLI
        raise SplitError(f"{total} is not a whole number of millicores (1m is the smallest cpu unit)")
    if resource in ("memory", "storage"):
        if total != total.to_integral_value():
            raise SplitError(f"{total} bytes is not a whole number of bytes")
        return next(unit for unit in BYTE_UNITS if _divides(unit, total))
    if total != total.to_integral_value():
        raise SplitError(f"must be a whole number, got {total}")
    return Decimal(1)


def split(total: Decimal, weights: list[Decimal], unit: Decimal) -> list[Decimal]:
    """Largest-remainder split of `total` (a whole number of `unit`s) by `weights`."""
    if not weights:
        raise SplitError("no cluster to split across")
    if any(w < 0 for w in weights):
        raise SplitError("weights must not be negative")
    weight_sum = exact_sum(weights)
    if weight_sum == 0:
        if total == 0:
            return [Decimal(0)] * len(weights)
        raise SplitError("every weight is zero, nothing can take a share")
    if not _divides(unit, total):
        raise SplitError(f"{total} is not a whole number of {unit}")
    units_int = int(EXACT.divide_int(total, unit))
    int_weights = _as_integers(weights)
    weight_total = sum(int_weights)
    floors = [units_int * w // weight_total for w in int_weights]
    remainders = [units_int * w % weight_total for w in int_weights]
    leftover = units_int - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        floors[i] += 1
    return [EXACT.multiply(Decimal(n), unit) for n in floors]


def split_resource(resource: str, total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split one resource; memoized, since a platform's tenants repeat the same few totals and
    placements (a thousand tenants are thousands of splits per compile)."""
    return list(_split_resource(resource, total, tuple(weights)))


@lru_cache(maxsize=4096)
def _split_resource(resource: str, total: Decimal, weights: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
    return tuple(split(total, list(weights), granularity(resource, total)))


def _as_integers(weights: list[Decimal]) -> list[int]:
    """Scale decimal weights to integers with the same ratios, so the split is exact arithmetic."""
    scale = max((-e for e in map(_exponent, weights) if e < 0), default=0)
    return [int(w.scaleb(scale, context=EXACT)) for w in weights]


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):  # 'n', 'N', 'F': NaN and infinity have no digits to scale
        raise SplitError(f"{value} is not a finite number")
    return exponent


def _divides(unit: Decimal, total: Decimal) -> bool:
    """Whether `total` is a whole number of `unit`s, exactly (the default context would round
    or give up on totals with more than 28 digits)."""
    return EXACT.remainder(total, unit) == 0

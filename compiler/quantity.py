"""Kubernetes resource quantities, parsed and summed exactly (Decimal, never float).

Canonical output follows the API server's own rules (apimachinery resource.Quantity), so a
rendered quota reads back from the server unchanged and diffs stay quiet:
binary suffixes stay binary when the value is a whole number of bytes >= 1024, otherwise the
value is written with the largest decimal SI suffix that keeps the mantissa whole.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_CEILING,
    Context,
    Decimal,
    InvalidOperation,
)

BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_SUFFIX_BY_EXP = {v: k for k, v in DECIMAL.items()}
_BINARY_BY_POW = {v: k for k, v in BINARY.items()}

_QUANTITY_RE = re.compile(
    r"^(?P<num>[+-]?(?:\d+\.?\d*|\.\d+))(?:(?P<bin>Ki|Mi|Gi|Ti|Pi|Ei)|(?P<exp>[eE][+-]?\d+)|(?P<dec>[numkMGTPE]))?$"
)

# Exact arithmetic: the default context keeps 28 digits and would round a large sum (or the
# canonical form of a long number) without a word. Addition, subtraction and multiplication
# are always finite, so unbounded precision only ever uses the digits the result needs.
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
# Beyond this a number is no resource amount (1E is 1e18, 1Ei about 1.15e18); bounding it keeps
# a typo such as 1e999999999 from becoming a billion-digit string.
MAX_ADJUSTED_EXPONENT = 30

FORMAT_BINARY = "BinarySI"
FORMAT_DECIMAL = "DecimalSI"
FORMAT_EXPONENT = "DecimalExponent"


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


@dataclass(frozen=True)
class Quantity:
    """An exact quantity and the format family it was written in (kept when summing)."""

    value: Decimal
    fmt: str = FORMAT_DECIMAL

    @classmethod
    def parse(cls, text: str | int | Decimal) -> Quantity:
        if isinstance(text, bool):
            raise QuantityError(f"expected a quantity, got {text!r}")
        if isinstance(text, int):
            if abs(text) >= 10 ** (MAX_ADJUSTED_EXPONENT + 1):
                raise QuantityError(f"{text} is too large to be a resource amount")
            return cls(Decimal(text))
        if isinstance(text, Decimal):
            return cls(text)
        if isinstance(text, float):
            # YAML gives floats for "0.5": go through repr, which is the shortest exact form.
            text = repr(text)
        if not isinstance(text, str):
            raise QuantityError(f"expected a quantity such as 4, 500m or 16Gi, got {text!r}")
        return _parse_short(text) if len(text) <= MEMO_TEXT else _parse_text(text)

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(EXACT.add(self.value, other.value), self.fmt)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(EXACT.subtract(self.value, other.value), self.fmt)

    def __mul__(self, factor: Decimal | int) -> Quantity:
        return Quantity(EXACT.multiply(self.value, Decimal(factor)), self.fmt)

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __le__(self, other: Quantity) -> bool:
        return self.value <= other.value

    def is_whole(self) -> bool:
        return self.value == self.value.to_integral_value()

    def canonical(self) -> str:
        return canonical(self.value, self.fmt)

    def __str__(self) -> str:
        return self.canonical()


def _parse_text(text: str) -> Quantity:
    match = _QUANTITY_RE.match(text.strip())
    if not match:
        raise QuantityError(f"'{text}' is not a quantity (examples: 4, 500m, 16Gi, 1.5T)")
    number = Decimal(match["num"])
    if match["bin"]:
        value, fmt = EXACT.multiply(number, 1024 ** BINARY[match["bin"]]), FORMAT_BINARY
    else:
        exponent = int(match["exp"][1:]) if match["exp"] else DECIMAL[match["dec"] or ""]
        if number and number.adjusted() + exponent > MAX_ADJUSTED_EXPONENT:
            raise QuantityError(f"'{text}' is too large to be a resource amount")
        fmt = FORMAT_EXPONENT if match["exp"] else FORMAT_DECIMAL
        try:
            value = number.scaleb(exponent, context=EXACT)
        except InvalidOperation:  # an exponent beyond what Decimal can hold at all
            raise QuantityError(f"'{text}' is not a usable quantity: exponent out of range") from None
    if value and value.adjusted() > MAX_ADJUSTED_EXPONENT:
        raise QuantityError(f"'{text}' is too large to be a resource amount")
    return Quantity(value, fmt)


# A repository spells the same few amounts thousands of times, and a Quantity is immutable:
# short strings are parsed once (a failure is not remembered: it raises again). Longer ones,
# which only hostile input has, are not kept.
MEMO_TEXT = 40
_parse_short = functools.lru_cache(maxsize=4096)(_parse_text)


def exact_sum(values) -> Decimal:
    """Sum of Decimals with no rounding, whatever the number of digits."""
    total = Decimal(0)
    for value in values:
        total = EXACT.add(total, value)
    return total


def _round_up_to_nano(value: Decimal) -> Decimal:
    """The API server keeps 9 decimal places, rounding up (as resource.Quantity does)."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= -9:  # 'n'/'N'/'F': NaN and infinities
        return value
    return value.quantize(Decimal("1e-9"), rounding=ROUND_CEILING, context=EXACT)


def canonical(value: Decimal, fmt: str = FORMAT_DECIMAL) -> str:
    """Canonical string of an exact value, the way the API server would print it.

    Rendering prints the same few amounts tens of thousands of times (26,672 calls for 29
    values in a cold compile of 1,000 tenants, 50 ms), so finite values are remembered: the
    string depends on the value only, not on how its Decimal is written (1E+3 and 1000.0 are
    both '1k'), which is what a cache keyed by equal Decimals needs."""
    if isinstance(value, Decimal) and value.is_finite():
        return _canonical_remembered(value, fmt)
    return _canonical(value, fmt)


def _canonical(value: Decimal, fmt: str) -> str:
    value = _round_up_to_nano(Decimal(value))
    if value == 0:
        return "0"
    if fmt == FORMAT_BINARY and (abs(value) < 1024 or value != value.to_integral_value()):
        fmt = FORMAT_DECIMAL
    if fmt == FORMAT_BINARY:
        n, power = int(value), 0
        while power < 6 and n % 1024 == 0:
            n //= 1024
            power += 1
        return f"{n}{_BINARY_BY_POW.get(power, '')}"
    # decimal: the largest exponent (multiple of 3) for which the mantissa is whole.
    # (Decimal.normalize would round to the context's 28 digits; strip the zeros by hand.)
    sign, digits, exp = value.as_tuple()
    if not isinstance(exp, int):
        raise ValueError(f"not a finite quantity: {value}")
    mantissa = int("".join(map(str, digits)))
    while mantissa and mantissa % 10 == 0:
        mantissa //= 10
        exp += 1
    mantissa *= -1 if sign else 1
    # value == mantissa * 10**exp; bring exp to a multiple of 3 at or below it
    while exp % 3:
        mantissa *= 10
        exp -= 1
    if fmt == FORMAT_EXPONENT:
        return f"{mantissa}e{exp}" if exp else str(mantissa)
    if exp > 18:
        mantissa *= 10 ** (exp - 18)
        exp = 18
    return f"{mantissa}{_SUFFIX_BY_EXP[exp]}"


_canonical_remembered = functools.lru_cache(maxsize=4096)(_canonical)


def parse(text: str | int) -> Quantity:
    return Quantity.parse(text)


def normalize(text: str | int) -> str:
    """Canonical form of a quantity string, e.g. '1.5Gi' -> '1536Mi', '2000m' -> '2'."""
    return Quantity.parse(text).canonical()

"""Quantities: parsing, exact sums and the API server's canonical form.

The expected strings follow apimachinery's resource.Quantity rules (CanonicalizeBytes):
BinarySI stays binary only for whole values of at least 1024, using the largest power of
1024 that divides the value; DecimalSI uses the largest exponent (a multiple of 3) that keeps
the mantissa whole; DecimalExponent keeps 'e' notation; precision is 1n, rounding up.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.quantity import (
    FORMAT_BINARY,
    FORMAT_DECIMAL,
    FORMAT_EXPONENT,
    Quantity,
    QuantityError,
    canonical,
    exact_sum,
    normalize,
)

CANONICAL = [
    ("1.5Gi", "1536Mi"),
    ("2000m", "2"),
    ("0.5", "500m"),
    ("1e3", "1e3"),
    ("1024", "1024"),
    ("1Ki", "1Ki"),
    ("512Mi", "512Mi"),
    ("1024Mi", "1Gi"),
    ("0.5Ki", "512"),          # below 1024: binary turns decimal
    ("1.5Ki", "1536"),         # whole, but no power of 1024 divides it
    ("1.1Gi", "1181116006400m"),  # not a whole number of bytes: decimal
    ("1000000", "1M"),
    ("1500m", "1500m"),
    ("1.5e3", "1500"),         # exponent 3 with mantissa 15 -> 1500e0
    ("100e-3", "100e-3"),
    ("12e6", "12e6"),
    (".5", "500m"),
    ("+1", "1"),
    ("0.1n", "1n"),            # rounds up to the nano
    ("1.0000000001", "1000000001n"),
    ("0Gi", "0"),
    ("1E", "1E"),
    ("7Ei", "7Ei"),
    (3, "3"),
]


@pytest.mark.parametrize(("text", "expected"), CANONICAL)
def test_canonical_form_matches_kubernetes(text, expected):
    """A rendered quantity must read back from the API server unchanged, or diffs never settle."""
    assert normalize(text) == expected


@pytest.mark.parametrize("text", ["4TB", "1.5.3", "Gi", "", "1 Gi", "1e", "0x10", "--1", "1ki"])
def test_malformed_quantities_are_rejected(text):
    """Typos must fail loudly instead of becoming some other amount."""
    with pytest.raises(QuantityError):
        Quantity.parse(text)


@pytest.mark.parametrize("value", [True, None, [1], {"a": 1}])
def test_non_quantity_types_are_rejected(value):
    """YAML booleans and structures are not quantities (a bool is an int to Python)."""
    with pytest.raises(QuantityError):
        Quantity.parse(value)


def test_yaml_float_goes_through_its_shortest_decimal_form():
    """`cpu: 0.1` arrives as a float; it must mean exactly 100m, not 0.1000000000000000055."""
    assert Quantity.parse(0.1).value == Decimal("0.1")
    assert Quantity.parse(0.1).canonical() == "100m"


def test_sums_are_exact_where_floats_are_not():
    """0.1 + 0.2 is 300m exactly; a float sum would not be."""
    total = Quantity.parse("0.1") + Quantity.parse("0.2")
    assert total.value == Decimal("0.3")
    assert total.canonical() == "300m"


def test_sums_beyond_28_digits_stay_exact():
    """The default Decimal context rounds at 28 digits; quota sums must not lose the nano part."""
    big, tiny = Quantity.parse("1E"), Quantity.parse("1n")
    assert (big + tiny).value - big.value == tiny.value
    assert (big + tiny).canonical() == "1000000000000000000000000001n"
    assert normalize("1234567890123456789012345678.5") == "1234567890123456789012345678500m"
    assert exact_sum([Decimal("1E+18")] * 3 + [Decimal("1E-9")]) == Decimal("3000000000000000000.000000001")


@pytest.mark.parametrize("text", ["1e31", "1e999999999", "9" * 40, 10**40])
def test_absurd_magnitudes_are_errors_not_hangs(text):
    """A typo like 1e999999999 must be a user error, not a billion-digit string or a crash."""
    with pytest.raises(QuantityError, match="too large"):
        Quantity.parse(text)


def test_binary_sum_keeps_binary_format():
    """Summing binary amounts keeps the binary suffix the user wrote."""
    total = Quantity.parse("512Mi") + Quantity.parse("512Mi") + Quantity.parse("1Gi")
    assert total.canonical() == "2Gi"


@given(st.integers(min_value=0, max_value=10**15), st.sampled_from(["", "m", "k", "M", "Ki", "Mi", "Gi"]))
def test_canonical_form_reads_back_to_the_same_value(number, suffix):
    """Canonicalising is lossless: parse(canonical(q)) == q for any whole-mantissa quantity."""
    quantity = Quantity.parse(f"{number}{suffix}")
    again = Quantity.parse(quantity.canonical())
    assert again.value == quantity.value
    assert again.canonical() == quantity.canonical()


@pytest.mark.parametrize("written", ["1000", "1E+3", "1000.000", "0.001E+6"])
def test_canonical_form_depends_on_the_value_not_its_spelling(written):
    """Canonical strings are remembered by value: Decimals equal in value, whatever their
    exponent, must print alike (else the first spelling seen would decide for all)."""
    value = Decimal(written)
    assert canonical(value) == "1k"
    assert canonical(value, FORMAT_EXPONENT) == "1e3"
    assert canonical(value, FORMAT_BINARY) == "1k"  # not a multiple of 1024: decimal


def test_canonical_form_keeps_formats_apart():
    """The same value in two formats is two answers (the format is part of what is remembered)."""
    assert canonical(Decimal(2048), FORMAT_BINARY) == "2Ki"
    assert canonical(Decimal(2048), FORMAT_DECIMAL) == "2048"
    assert canonical(Decimal("2048.0"), FORMAT_BINARY) == "2Ki"

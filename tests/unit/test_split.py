"""Properties of the quota split (largest remainder): exact, whole, fair and deterministic."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.plan.split import MILLI, SplitError, granularity, split, split_resource

UNITS = st.sampled_from([Decimal(1), MILLI, Decimal(1024), Decimal(1024) ** 3])
WEIGHTS = st.lists(st.integers(min_value=0, max_value=1000).map(Decimal), min_size=1, max_size=8).filter(any)


@st.composite
def splits(draw):
    """(total, weights, unit) with the total a whole number of units."""
    unit = draw(UNITS)
    count = draw(st.integers(min_value=0, max_value=10**12))
    return count * unit, draw(WEIGHTS), unit


@given(splits())
def test_parts_sum_exactly_to_the_total(case):
    """Quota must not appear or vanish when a tenant spans clusters."""
    total, weights, unit = case
    assert sum(split(total, weights, unit)) == total


@given(splits())
def test_parts_are_whole_units(case):
    """Each cluster gets whole cores / millicores / binary units / objects, never a fraction."""
    total, weights, unit = case
    for part in split(total, weights, unit):
        assert (part / unit) == (part / unit).to_integral_value()
        assert part >= 0


@given(splits())
def test_each_part_is_within_one_unit_of_its_exact_share(case):
    """Largest remainder never moves a part a whole unit away from its proportional share."""
    total, weights, unit = case
    weight_sum = sum(weights)
    for part, weight in zip(split(total, weights, unit), weights, strict=True):
        exact_units = Decimal(int(total / unit) * int(weight)) / Decimal(int(weight_sum))
        assert abs(part / unit - exact_units) < 1


@given(splits())
def test_split_is_deterministic(case):
    """The same input always renders the same bytes."""
    total, weights, unit = case
    assert split(total, weights, unit) == split(total, list(weights), unit)


@given(splits())
def test_zero_weight_clusters_get_nothing(case):
    """A cluster with no share of the weights (e.g. no quota for a guaranteed resource) gets 0."""
    total, weights, unit = case
    for part, weight in zip(split(total, weights, unit), weights, strict=True):
        if weight == 0:
            assert part == 0


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from([Decimal(1), MILLI]), WEIGHTS)
def test_total_not_whole_in_units_raises(count, unit, weights):
    """A remainder smaller than the unit cannot be placed: an error, never a silent rounding."""
    total = count * unit + unit / 2
    with pytest.raises(SplitError):
        split(total, weights, unit)


@pytest.mark.parametrize(("resource", "total"), [("pods", Decimal("2.5")), ("gpu", Decimal("0.5")),
                                                  ("cpu", Decimal("0.0005")), ("memory", Decimal("1.5"))])
def test_resource_totals_that_are_not_whole_raise(resource, total):
    """Counts need whole numbers, cpu whole millicores, bytes whole bytes."""
    with pytest.raises(SplitError):
        split_resource(resource, total, [Decimal(1), Decimal(1)])


@given(st.integers(min_value=1, max_value=4096), st.sampled_from([1, 1024, 1024**2, 1024**3, 1024**4]))
def test_byte_granularity_is_the_largest_binary_unit_dividing_the_total(count, unit):
    """Memory splits in Gi when the total is whole Gi, so rendered quotas stay readable."""
    total = Decimal(count * unit)
    chosen = granularity("memory", total)
    assert total % chosen == 0
    assert chosen >= unit or total % (chosen * 1024) != 0


def test_ties_go_to_the_earlier_cluster():
    """With equal remainders the earlier cluster in the platform file takes the extra unit."""
    assert split(Decimal(3), [Decimal(1), Decimal(1)], Decimal(1)) == [Decimal(2), Decimal(1)]


def test_all_zero_weights_with_a_positive_total_raise():
    """Nothing can take a share, so the total cannot be placed."""
    with pytest.raises(SplitError):
        split(Decimal(4), [Decimal(0), Decimal(0)], Decimal(1))


def test_huge_totals_split_exactly():
    """Totals beyond the default 28 Decimal digits still split exactly (no rounding)."""
    total = Decimal(10) ** 29 + 1
    parts = split(total, [Decimal(1), Decimal(2)], Decimal(1))
    assert sum(parts) == total

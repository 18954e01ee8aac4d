"""core.model: the vocabulary holds together (the database's agreement: tests/integration/test_model.py)."""
from __future__ import annotations

import pytest

from core import model


def test_every_cadence_says_what_it_requires_and_has_a_label():
    assert list(model.REQUIRED_BY_CADENCE) == list(model.CADENCES)
    assert list(model.CADENCE_LABELS) == list(model.CADENCES)


def test_run_statuses_are_unfinished_or_final_never_both():
    assert not set(model.UNFINISHED) & set(model.FINAL)
    assert model.RUN_STATUSES == model.UNFINISHED + model.FINAL
    assert set(model.IN_FLIGHT) < set(model.UNFINISHED) and set(model.FAILURES) < set(model.FINAL)


def test_defaults_are_inside_their_own_bounds():
    for name, default in (("send_hour", model.DEFAULT_SEND_HOUR), ("send_minute", model.DEFAULT_SEND_MINUTE)):
        assert model.BOUNDS[name].low <= default <= model.BOUNDS[name].high
    assert model.DEFAULT_OVERLAP_POLICY in model.OVERLAP_POLICIES
    assert model.DEFAULT_CATCHUP in model.CATCHUP_POLICIES


@pytest.mark.parametrize("interval, within", [(60, 180), (30, 90), (5, 20), (1, 12), (0.05, 10.1)])
def test_a_ticker_is_alive_for_three_intervals_but_never_under_two_and_ten_seconds(interval, within):
    assert model.ticker_alive_within(interval) == pytest.approx(within)

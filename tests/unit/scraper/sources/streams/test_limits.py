"""The exchanges' connection limits: a window of attempts (pure, the clock passed in), and each
adapter's documented limit."""

from __future__ import annotations

import pytest

from cryptoviz.scraper.sources.streams import adapter
from cryptoviz.scraper.sources.streams.limits import ConnectLimit, ConnectWindow


def test_attempts_under_the_limit_go_at_once():
    window = ConnectWindow(ConnectLimit(3, 10.0))
    for t in (0.0, 1.0, 2.0):
        assert window.wait_s(t) == 0.0
        window.note(t)


def test_the_attempt_over_the_limit_waits_until_the_oldest_leaves_the_window():
    window = ConnectWindow(ConnectLimit(3, 10.0))
    for t in (0.0, 1.0, 2.0):
        window.note(t)
    assert window.wait_s(2.5) == pytest.approx(7.5)
    assert window.wait_s(9.999) == pytest.approx(0.001)
    assert window.wait_s(10.0) == 0.0  # the attempt at 0 is 10 s old: out of the window
    window.note(10.0)
    assert window.wait_s(10.5) == pytest.approx(0.5)  # the one at 1.0 leaves at 11.0


def test_a_window_of_one_spaces_every_attempt_by_the_window():
    window = ConnectWindow(ConnectLimit(1, 5.0))
    window.note(100.0)
    assert window.wait_s(100.0) == 5.0
    assert window.wait_s(104.0) == pytest.approx(1.0)
    assert window.wait_s(105.0) == 0.0


def test_a_limit_that_allows_nothing_is_refused():
    with pytest.raises(ValueError, match="attempts >= 1"):
        ConnectLimit(0, 10.0)
    with pytest.raises(ValueError, match="window_s > 0"):
        ConnectLimit(1, 0.0)


@pytest.mark.parametrize(
    ("name", "attempts", "window_s"),
    [("binance", 300, 300.0), ("coinbase", 8, 1.0), ("kraken", 150, 600.0)],
)
def test_each_exchange_names_its_documented_connection_limit(name, attempts, window_s):
    assert adapter(name).connects == ConnectLimit(attempts, window_s)

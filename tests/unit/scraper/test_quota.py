"""The API plans the scraper keeps to: the interval that fits, the loud line, the month's pace."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from cryptoviz.scraper import quota
from cryptoviz.scraper.sources.base import SourceError
from cryptoviz.settings import ScraperSettings, SettingsError, load
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.doubles import FakeClock

SEVEN = 7


def settings(**kw) -> ScraperSettings:
    return ScraperSettings(**kw)


def test_auto_interval_fits_each_plan_month_and_minute():
    public = quota.coingecko_plan(settings())
    demo = quota.coingecko_plan(settings(coingecko_api_key=SecretStr("k")))
    pro = quota.coingecko_plan(
        settings(coingecko_api_key=SecretStr("k"), coingecko_api_plan="pro", coingecko_monthly_calls=500_000)
    )
    assert (public.name, public.monthly_calls) == ("public", None)
    assert (demo.name, demo.monthly_calls, demo.per_minute) == ("demo", 10_000, 30)
    assert quota.auto_interval_s(public, SEVEN) == 60.0  # the public API refreshes every 60 s
    # demo: 31 days x 86,400 s / (10,000 - the reserve of 1,000) = 297.6 s -> 300 s
    assert quota.auto_interval_s(demo, SEVEN) == 300.0
    assert quota.projected_month(demo, SEVEN, 300.0) <= 10_000
    assert quota.projected_month(demo, SEVEN, 290.0) > 10_000
    assert quota.auto_interval_s(pro, SEVEN) == 30.0
    cmc = quota.coinmarketcap_plan(settings(coinmarketcap_api_key=SecretStr("k")))
    assert quota.auto_interval_s(cmc, SEVEN) == 300.0
    assert cmc.calls_per_cycle(250) == 3  # a credit per 100 coins


def test_an_explicit_interval_over_the_plan_gets_one_loud_line_saying_by_how_much():
    demo = quota.coingecko_plan(settings(coingecko_api_key=SecretStr("k")))
    line = quota.over_budget_line(demo, SEVEN, 60.0)
    assert line is not None
    # 44,640 polls a month + the 1,000 reserve = 45,640 calls, 4.6x the plan, dry in about a week
    assert "45,640" in line and "10,000" in line and "4.6x" in line and "dry after 7 days" in line
    assert quota.over_budget_line(demo, SEVEN, 300.0) is None
    assert quota.over_budget_line(quota.coingecko_plan(settings()), SEVEN, 10.0) is None  # no monthly cap


def test_scrape_interval_is_auto_by_default_a_positive_number_otherwise(monkeypatch):
    assert ScraperSettings().scrape_interval_s == "auto"
    monkeypatch.setenv("SCRAPE_INTERVAL_S", "90")
    assert load(ScraperSettings).scrape_interval_s == 90.0
    monkeypatch.setenv("SCRAPE_INTERVAL_S", "0")
    with pytest.raises(SettingsError, match="SCRAPE_INTERVAL_S"):
        load(ScraperSettings)
    monkeypatch.setenv("SCRAPE_INTERVAL_S", "often")
    with pytest.raises(SettingsError, match="SCRAPE_INTERVAL_S"):
        load(ScraperSettings)


def test_month_bounds_roll_over_the_year():
    december = datetime(2026, 12, 31, 23, 59, tzinfo=UTC).timestamp()
    month, start, end = quota.month_bounds(december)
    assert month == "2026-12"
    assert datetime.fromtimestamp(start, UTC) == datetime(2026, 12, 1, tzinfo=UTC)
    assert datetime.fromtimestamp(end, UTC) == datetime(2027, 1, 1, tzinfo=UTC)


def test_the_meter_paces_calls_to_the_month_and_stops_at_the_budget():
    plan = quota.Plan("coingecko", "tiny", monthly_calls=310, per_minute=1000, min_interval_s=60)
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    clock = FakeClock(start)
    telemetry = Telemetry("scraper", None)
    meter = quota.Meter(plan, coins=1, client=None, telemetry=telemetry, interval_s=3600.0, clock=clock)
    reserve = plan.reserve(1)
    assert reserve == 31
    for _ in range(reserve):  # the reserve is there at once: a warm start spends it on day one
        meter.spend()
    with pytest.raises(SourceError) as paced:
        meter.spend()
    assert paced.value.kind == "quota_paced"
    # 310 calls over 31 days: the next is due after a tenth of a day
    assert paced.value.retry_after == pytest.approx(86400 / 10, rel=1e-6)
    assert telemetry.counters["quota_paced.coingecko"] == 1
    clock.now = start + 15.5 * 86400  # half the month: half the budget plus the reserve
    spent = 0
    while meter.allowed_in() == 0:
        meter.spend()
        spent += 1
    assert meter.calls_month == 155 + reserve
    clock.now = start + 31 * 86400 - 1  # the month's last second: the budget, never more
    while meter.allowed_in() == 0:
        meter.spend()
    assert meter.calls_month == 310
    assert meter.allowed_in() == pytest.approx(1.0)
    assert telemetry.gauges["quota.coingecko.calls_month"] == 310
    assert telemetry.gauges["quota.coingecko.budget_month"] == 310
    clock.now = start + 31 * 86400  # February: a new count
    assert meter.allowed_in() == 0 and meter.calls_month == 0


def test_the_meter_keeps_to_the_per_minute_limit():
    plan = quota.Plan("coingecko", "public", monthly_calls=None, per_minute=5, min_interval_s=60)
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    meter = quota.Meter(plan, coins=7, client=None, clock=clock)
    for _ in range(5):
        meter.spend()
        clock.now += 1
    assert meter.allowed_in() == pytest.approx(55.0)
    with pytest.raises(SourceError) as limited:
        meter.spend()
    assert limited.value.kind == "minute_limit" and limited.value.retry_after == pytest.approx(55.0)
    clock.now += 55
    meter.spend()


def test_the_projection_counts_what_is_spent_and_the_polls_to_come():
    plan = quota.coingecko_plan(settings(coingecko_api_key=SecretStr("k")))
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    clock = FakeClock(start + 30 * 86400)  # one day left
    meter = quota.Meter(plan, coins=SEVEN, client=None, interval_s=300.0, clock=clock)
    meter.spend()
    assert meter.projected() == 1 + 86400 // 300

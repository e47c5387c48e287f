"""The backtest feeds the live engine: a hand-computed case, no look-ahead, the CLI's JSON line."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys

import pytest

from cryptoviz.backtest.runner import GAP_S, run_symbol, to_json
from cryptoviz.models import HOUR
from cryptoviz.models.engine import ModelConfig, SymbolModel
from cryptoviz.scoring import BASELINES, MODELS
from cryptoviz.scraper.sources.replay import read_history
from cryptoviz.servers import free_port
from cryptoviz.settings import HISTORY_2024_2026


def test_hand_computed_persistence_drift_and_holding():
    series = [(0.0, 100.0), (HOUR, 102.0), (2 * HOUR, 104.0), (3 * HOUR, 103.0)]
    r = run_symbol("BTC", series, ModelConfig())
    one = r.summary["1h"]
    assert one["persistence"]["n"] == 3
    assert one["persistence"]["mae"] == pytest.approx(5 / 3)
    assert one["persistence"]["mape"] == pytest.approx((2 / 102 + 2 / 104 + 1 / 103) / 3 * 100)
    drift_preds = [100.0, 102 * 1.02, 104 * math.sqrt(1.04)]
    drift_err = [abs(p - a) for p, a in zip(drift_preds, (102, 104, 103), strict=True)]
    assert one["drift"]["mae"] == pytest.approx(sum(drift_err) / 3)
    assert one["drift"]["hit_rate"] == pytest.approx(
        1 / 2
    )  # t=1h right (up), t=2h wrong; t=0 had no direction
    assert r.hold_return == pytest.approx(0.03) and r.segments == 1
    assert one["signals"]["n"] == 0, "no volatility yet: no forecast, HOLD throughout"
    assert "6h" in to_json([r])["symbols"]["BTC"]


def test_a_gap_splits_the_series_and_nothing_is_scored_across_it():
    hours = [(i * HOUR, 100.0 + i) for i in range(10)]
    after = [(9 * HOUR + GAP_S + HOUR * (1 + i), 120.0 + i) for i in range(10)]
    r = run_symbol("BTC", hours + after, ModelConfig())
    assert r.segments == 2
    assert r.summary["1h"]["persistence"]["n"] == 9 + 9  # within each stretch only
    assert r.summary["1h"]["expired"] == 1  # the prediction made at the last hour before the gap


def test_no_look_ahead_shuffling_the_future_changes_nothing_before_it():
    rows = read_history([HISTORY_2024_2026], ["ETH"])[:1500]
    series = [(r.ts.timestamp(), r.price) for r in rows]
    cut = 1000
    prices_after = [p for _, p in series[cut:]]
    random.Random(3).shuffle(prices_after)
    shuffled = series[:cut] + [(t, p) for (t, _), p in zip(series[cut:], prices_after, strict=True)]
    a, b = SymbolModel(ModelConfig()), SymbolModel(ModelConfig())
    for (t, p), (t2, p2) in zip(series[:cut], shuffled[:cut], strict=True):
        out_a, out_b = a.update(t, p), b.update(t2, p2)
        assert out_a.predictions == out_b.predictions and out_a.signal == out_b.signal
        assert out_a.forecasts == out_b.forecasts and out_a.expected_moves == out_b.expected_moves
    assert shuffled[cut:] != series[cut:]


def test_cli_prints_the_table_and_ends_with_one_json_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "CRYPTOVIZ_DATA_DIR": str(tmp_path), "REDIS_PORT": str(free_port())}
    cmd = [
        sys.executable,
        "-m",
        "cryptoviz.cli",
        "backtest",
        "--symbols",
        "BTC",
        "SOL",
        "--from",
        "2025-01-01",
        "--to",
        "2025-03-01",
        "--json",
        "--plot",
        str(tmp_path / "btc.png"),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    btc = summary["symbols"]["BTC"]
    for h in ("1h", "6h"):
        for model in (*BASELINES, *MODELS):
            assert set(btc[h][model]) == {"n", "mae", "mape", "hit_rate", "hit_rate_ci"}
            if model != "persistence":
                assert set(btc[h]["skill"][model]) == {"skill", "t_stat", "n"}
        assert btc[h]["consensus"]["n"] > 1300  # ~59 days of hours, all scored after the first hour or six
        for level in ("80", "90"):
            interval = btc[h]["intervals"][level]
            assert {"coverage", "n", "mean_width_pct", "interval_score"} <= set(interval)
            assert set(interval["by_regime"]) == {"low", "mid", "high"}
            assert 0 < interval["coverage"] < 1 and interval["n"] > 1000
        assert {"brier", "brier_base_rate", "n"} <= set(btc[h]["p_up"])
    assert set(btc["volatility"]) == {"1h", "6h", "24h"}
    assert "Walk-forward backtest" in proc.stdout
    assert (tmp_path / "btc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "backtest.json").read_text())["symbols"].keys() == {"BTC", "SOL"}


def test_the_readme_tables_are_rendered_from_a_summary():
    from cryptoviz.backtest.markdown import render

    rows = read_history([HISTORY_2024_2026], ["BTC"])[:600]
    result = run_symbol("BTC", [(r.ts.timestamp(), r.price) for r in rows], ModelConfig())
    summary = to_json([result]) | {"summary": "verdict"}
    text = render(summary)
    forecast_1h = summary["symbols"]["BTC"]["1h"]["forecast"]
    assert "`verdict`" in text
    assert f"| BTC | 1h | {forecast_1h['n']:,} |" in text
    assert f"{forecast_1h['mape']:.4f}" in text
    coverage = summary["symbols"]["BTC"]["6h"]["intervals"]["90"]["coverage"]
    assert f"| {coverage:.3f} |" in text

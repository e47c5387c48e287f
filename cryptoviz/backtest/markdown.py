"""The tables of docs/models/ ("what the models are worth"), rendered from a backtest summary (the
--json object), so they are regenerated from a run, never typed: `cryptoviz backtest --markdown F`."""

from __future__ import annotations

from typing import TypedDict

from cryptoviz.contracts import HORIZON_NAMES
from cryptoviz.contracts.backtest import BacktestHorizon, BacktestSummary

SEED_MODELS = ("moving_average", "linear_trend", "momentum", "consensus")


class _Rated(TypedDict):
    """What a hit rate is shown from (a BacktestMetric, the signals, "always up")."""

    hit_rate: float | None
    hit_rate_ci: list[float] | None


def _pct(v: float | None, digits: int = 3, sign: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"


def _skill_of(per_h: BacktestHorizon, model: str) -> float | None:
    s = per_h["skill"].get(model)
    return s["skill"] if s else None


def _skill(per_h: BacktestHorizon, model: str) -> str:
    s = per_h["skill"].get(model)
    if s is None or s["skill"] is None:
        return "-"
    t = s["t_stat"]
    return f"{s['skill'] * 100:+.2f} ({'-' if t is None else f'{t:+.1f}'})"


def render(summary: BacktestSummary) -> str:
    symbols = summary["symbols"]
    out = [f"`{summary.get('summary', '')}`", ""]
    out += [
        "Point forecasts (MAPE in %; skill = 1 - MAPE / persistence's MAPE, in %, with its Newey-West t):",
        "",
        "| symbol | horizon | n | persistence MAPE | forecast MAPE | forecast skill (t) "
        "| consensus skill (t) | best seed model, skill (t) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for sym, per in symbols.items():
        for h in HORIZON_NAMES:
            x = per[h]
            best = max(SEED_MODELS, key=lambda m: _skill_of(x, m) or float("-inf"))
            out.append(
                f"| {sym} | {h} | {x['forecast']['n']:,} | {_pct(x['persistence']['mape'], 4)} "
                f"| {_pct(x['forecast']['mape'], 4)} | {_skill(x, 'forecast')} | {_skill(x, 'consensus')} "
                f"| {best} {_skill(x, best)} |"
            )
    out += [
        "",
        "Intervals (share of outcomes inside; by volatility regime low / mid / high, the walk-forward "
        "terciles of the forecast volatility), mean width of the 80 % interval in % of price, and P(up)'s "
        "Brier score against the base rate's:",
        "",
        "| symbol | horizon | 80 % | 80 % by regime | 90 % | 90 % by regime | 80 % width "
        "| Brier | base rate |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for sym, per in symbols.items():
        for h in HORIZON_NAMES:
            iv, p = per[h]["intervals"], per[h]["p_up"]
            cells = []
            for level in ("80", "90"):
                regimes = " / ".join(_pct(r["coverage"]) for r in iv[level]["by_regime"].values())
                cells += [_pct(iv[level]["coverage"]), regimes]
            out.append(
                f"| {sym} | {h} | {' | '.join(cells)} | {_pct(iv['80']['mean_width_pct'], 2)} "
                f"| {_pct(p['brier'], 5)} | {_pct(p['brier_base_rate'], 5)} |"
            )
    out += [
        "",
        "1 h signals as positions (a run of identical signals is one, held until an hour after its "
        "last signal), each scored once net of the fee (a hit when that is a gain); the directional "
        "baselines' hit rates (95 % Wilson intervals over the independent outcomes: those whose "
        "horizons overlap count once per horizon); the volatility forecast's out-of-sample R^2 "
        "(1 h / 6 h / 24 h):",
        "",
        "| symbol | positions | hit rate | net % per position | reversal hit rate | always-up hit rate "
        "| R^2 of the expected move |",
        "|---|---|---|---|---|---|---|",
    ]
    for sym, per in symbols.items():
        x = per["1h"]
        sig = x["signals"]
        r2 = " / ".join(_pct(v["r2"], 2) for v in per["volatility"].values())
        out.append(
            f"| {sym} | {sig['n']:,} | {_rate(sig)} | {_pct(sig['mean_net_return_pct'], 3, sign=True)} "
            f"| {_rate(x['reversal'])} | {_rate(x['always_up'])} | {r2} |"
        )
    return "\n".join(out) + "\n"


def _rate(m: _Rated) -> str:
    rate, ci = m["hit_rate"], m["hit_rate_ci"]
    if rate is None:
        return "-"
    return f"{rate:.3f}" + (f" ({ci[0]:.3f}-{ci[1]:.3f})" if ci else "")

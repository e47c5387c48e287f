"""Scoring, shared by the live processor and the backtest: the scoreboard (`board`), its running
tallies (`tallies`) and the plain statistics they report (`stats`)."""

from cryptoviz.scoring.board import BASELINES, MODELS, SCORED, Metrics, Scoreboard, metrics

__all__ = ["BASELINES", "MODELS", "SCORED", "Metrics", "Scoreboard", "metrics"]

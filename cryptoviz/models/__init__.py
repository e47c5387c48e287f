"""Pure model code: no I/O. Times are epoch seconds (event time), horizons in seconds."""

HOUR = 3600.0
HORIZONS: dict[str, float] = {"1h": HOUR, "6h": 6 * HOUR}
MODELS = ("moving_average", "linear_trend", "momentum", "consensus")
BASELINES = ("persistence", "drift")

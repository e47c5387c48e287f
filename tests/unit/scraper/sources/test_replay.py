"""Reading history files for the replay: a row that is not a finite price and volume is counted
and skipped, never let into the 24 h sums."""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from datetime import UTC, datetime, timedelta

from cryptoviz.scraper.sources.replay import history_to_quotes, read_history

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_a_row_of_nan_or_inf_is_counted_and_the_day_after_it_keeps_its_quotes(tmp_path):
    rows = [[(T0 + timedelta(hours=h)).isoformat(), "BTC", 100.0 + h, 1000.0] for h in range(60)]
    rows[10][2] = "nan"
    rows[30][3] = "inf"
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["timestamp", "symbol", "price", "quote_volume"])
    writer.writerows(rows)
    path = tmp_path / "history.csv.gz"
    path.write_bytes(gzip.compress(buf.getvalue().encode()))
    rejects: Counter[str] = Counter()
    history = read_history([path], ["BTC"], rejects)
    assert rejects == {"bad_row": 2} and len(history) == 58
    quotes = [q for batch in history_to_quotes(history) for q in batch]
    assert len(quotes) == 58, "every hour read gives its quote"
    last = quotes[-1]
    assert last.volume_24h_usd == 24 * 1000.0 and last.change_24h_pct is not None

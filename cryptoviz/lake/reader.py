"""The lake reader the dashboard and the backtest use: symbols over a time range, partition-pruned."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from cryptoviz import names
from cryptoviz.lake.storage import filesystem

COLUMNS = ["symbol", "source_ts", "price_usd", "volume_24h_usd", "market_cap_usd", "change_24h_pct", "source"]


class LakeReader:
    def __init__(self, lake_url: str, fs: pafs.FileSystem | None = None) -> None:
        if fs is None:
            fs, base = filesystem(lake_url)
        else:
            base = lake_url
        self.fs = fs
        self.path = f"{base}/{names.LAKE_QUOTES}"

    def dataset(self) -> ds.Dataset | None:
        try:
            info = self.fs.get_file_info(self.path)
            if info.type == pafs.FileType.NotFound:
                return None
            data = ds.dataset(self.path, filesystem=self.fs, format="parquet", partitioning="hive")
        except (FileNotFoundError, OSError):
            return None
        # a folder whose first batch is still being written holds no Parquet file yet: no columns
        return data if "symbol" in data.schema.names else None

    def history(
        self, symbols: list[str], start: datetime | None = None, end: datetime | None = None
    ) -> pd.DataFrame:
        """Rows of `symbols` with start <= source_ts < end, sorted, duplicates of (symbol, ts) removed."""
        data = self.dataset()
        if data is None:
            return pd.DataFrame(columns=COLUMNS)
        expr = ds.field("symbol").isin(symbols)
        if start is not None:  # prune by the date partition first, then filter rows
            expr &= ds.field("date") >= start.strftime("%Y-%m-%d")
            expr &= ds.field("source_ts") >= pd.Timestamp(start)
        if end is not None:
            expr &= ds.field("date") <= end.strftime("%Y-%m-%d")
            expr &= ds.field("source_ts") < pd.Timestamp(end)
        table = data.to_table(columns=COLUMNS, filter=expr)
        frame = table.to_pandas()
        if frame.empty:
            return pd.DataFrame(columns=COLUMNS)
        frame["symbol"] = frame["symbol"].astype(str)
        frame = frame.drop_duplicates(["symbol", "source_ts"]).sort_values(["symbol", "source_ts"])
        return frame.reset_index(drop=True)

    def latest_ts(self, symbols: list[str]) -> datetime | None:
        data = self.dataset()
        if data is None:
            return None
        table = data.to_table(columns=["source_ts"], filter=ds.field("symbol").isin(symbols))
        if not table.num_rows:
            return None
        return pc.max(table.column("source_ts")).as_py()

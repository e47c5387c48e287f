"""Spark lake entry point: crypto-raw-data -> Parquet by symbol and date. `--once`: what is there, then exit.

Also runs under spark-submit: `spark-submit --master local[2] spark-streaming/main.py`.
"""

from cryptoviz.lake import app as lake_app
from cryptoviz.service import run

if __name__ == "__main__":
    run("spark-streaming", lake_app.main)

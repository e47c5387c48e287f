"""Scraper service entry point: polls CoinGecko/CoinMarketCap (or replays history) into Kafka."""

from cryptoviz.scraper import app as scraper_app
from cryptoviz.service import run

if __name__ == "__main__":
    run("scraper", scraper_app.main)

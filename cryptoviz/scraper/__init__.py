"""The scraper service: sources (CoinGecko, CoinMarketCap, replay), the polling loop, the publisher."""

"""Monitor entry point: alerts to a webhook, and the broker's topics for the dashboard."""

from cryptoviz.monitor import app as monitor_app
from cryptoviz.service import run

if __name__ == "__main__":
    run("monitor", monitor_app.main)

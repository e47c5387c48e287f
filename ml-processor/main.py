"""ML processor entry point: a consumer group on crypto-streaming writing predictions to Redis."""

from cryptoviz.ml import app as ml_app
from cryptoviz.service import run

if __name__ == "__main__":
    run("ml-processor", ml_app.main)

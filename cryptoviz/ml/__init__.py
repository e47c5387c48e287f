"""The ML processor service: the consumer loop around cryptoviz.models (which do no I/O)."""

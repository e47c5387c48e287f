"""Quote sources: each yields validated quotes; none publishes."""

"""The monitor service: alert rules evaluated on the latest quotes and signals and delivered to a
webhook; the broker's topics, groups and newest messages written to Redis for the topics page
(the dashboard reads Redis, never Kafka)."""

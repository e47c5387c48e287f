"""The Parquet lake: the Spark Kafka source, the job, the writer, the reader and compaction."""

import subprocess
import sys

PROBE = """
import sys
import cryptoviz.lake.spark_daemon as daemon
WORKER = ("pandas", "pyarrow", "confluent_kafka", "pyspark.worker", "cryptoviz.lake.rows")
print(daemon.threads(), *(m in sys.modules for m in WORKER))
"""


def test_the_daemon_has_the_workers_imports_and_one_thread_to_fork_with():
    # a fresh interpreter: a thread started by an import in this one would not count there
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "True", "True", "True", "True", "True"], out.stdout + out.stderr

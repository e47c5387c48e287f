"""MinIO stand-in on SeaweedFS.

    minio-standin server DIR [--console-address ...]  S3 on 9000, credentials MINIO_ROOT_USER/PASSWORD
    minio-standin ready                                healthcheck: the S3 API answers to those credentials
    minio-standin make-bucket                          the init job: create LAKE_BUCKET on S3_ENDPOINT

`server` takes MinIO's own arguments, so the compose file's command runs unchanged. STANDIN_BUCKETS
(comma-separated) are created at start, for the broker stand-in's storage.
"""

import json
import os
import sys
import time

import boto3
from botocore.config import Config


def client(endpoint: str, user: str, password: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=user,
        aws_secret_access_key=password,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 2}, connect_timeout=2, read_timeout=5),
    )


def server(data_dir: str) -> None:
    user, password = os.environ["MINIO_ROOT_USER"], os.environ["MINIO_ROOT_PASSWORD"]
    identity = {"name": "root", "credentials": [{"accessKey": user, "secretKey": password}]}
    identity["actions"] = ["Admin", "Read", "List", "Tagging", "Write"]
    config = "/tmp/s3.json"
    with open(os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        json.dump({"identities": [identity]}, out)
    cmd = ["weed", "mini", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=0.0.0.0", "-s3.port=9000"]
    cmd += ["-master.telemetry=false", "-admin.ui=false", "-webdav=false", f"-s3.config={config}"]
    buckets = os.environ.get("STANDIN_BUCKETS", "")
    if buckets:
        cmd.append(f"-bucket={buckets}")
    os.makedirs(data_dir, exist_ok=True)
    os.chdir(data_dir)
    os.execvp(cmd[0], cmd)


def ready() -> int:
    s3 = client("http://127.0.0.1:9000", os.environ["MINIO_ROOT_USER"], os.environ["MINIO_ROOT_PASSWORD"])
    have = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    wanted = {b for b in os.environ.get("STANDIN_BUCKETS", "").split(",") if b}
    return 0 if wanted <= have else 1


def make_bucket() -> int:
    s3 = client(os.environ["S3_ENDPOINT"], os.environ["S3_ACCESS_KEY"], os.environ["S3_SECRET_KEY"])
    bucket = os.environ["LAKE_BUCKET"]
    for attempt in range(30):
        try:
            if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
                s3.create_bucket(Bucket=bucket)
            print(f"bucket {bucket} ready")
            return 0
        except Exception as exc:
            print(f"attempt {attempt + 1}: {exc}", file=sys.stderr)
            time.sleep(1)
    return 1


if __name__ == "__main__":
    verb = sys.argv[1] if len(sys.argv) > 1 else ""
    if verb == "server" and len(sys.argv) > 2:
        server(sys.argv[2])
    elif verb == "ready":
        sys.exit(ready())
    elif verb == "make-bucket":
        sys.exit(make_bucket())
    else:
        sys.exit(__doc__)

"""LAKE_URL (s3://bucket/prefix or a local folder) as a pyarrow filesystem and a base path."""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs

from cryptoviz.settings import S3Settings, load


def canonical_url(lake_url: str) -> str:
    """One spelling of a lake's place, whichever folder the process runs in: a local path made
    absolute, an S3 URL without its trailing slash."""
    if lake_url.startswith("s3://"):
        return lake_url.rstrip("/")
    return str(Path(lake_url).expanduser().resolve())


def filesystem(lake_url: str, s3: S3Settings | None = None) -> tuple[pafs.FileSystem, str]:
    if lake_url.startswith("s3://"):
        s = s3 or load(S3Settings)
        kwargs: dict = {"region": s.s3_region}
        if s.s3_access_key and s.s3_secret_key:
            kwargs |= {
                "access_key": s.s3_access_key.get_secret_value(),
                "secret_key": s.s3_secret_key.get_secret_value(),
            }
        if s.s3_endpoint_url:
            scheme, _, host = s.s3_endpoint_url.partition("://")
            kwargs |= {"endpoint_override": host, "scheme": scheme}
        return pafs.S3FileSystem(**kwargs), lake_url[len("s3://") :].rstrip("/")
    path = Path(lake_url).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return pafs.LocalFileSystem(), str(path)

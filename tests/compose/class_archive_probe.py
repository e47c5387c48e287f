"""Run inside the spark-streaming container (`python -`): the class archive its image was built
with, for the runtime it runs, and the processes that have it mapped; prints one JSON line."""

import json
from pathlib import Path

from cryptoviz.lake import class_archive

archive = class_archive.archive_path()
mapped = []
if archive is not None:
    for proc in Path("/proc").iterdir():
        try:
            if str(archive) in (proc / "maps").read_text():
                mapped.append((proc / "cmdline").read_bytes().split(b"\0")[0].decode())
        except (OSError, UnicodeDecodeError):
            continue
exists = archive is not None and archive.exists()
print(json.dumps({"archive": str(archive), "exists": exists, "mapped_by": mapped}))

"""The benchmarks page is generated from machine-written results against the targets file."""

from __future__ import annotations

import json

from cryptoviz import provenance
from cryptoviz.testing import benchdoc


def write(path, lines):
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_each_target_shows_the_newest_commits_runs_their_spread_and_whether_they_met_it(tmp_path):
    targets = tmp_path / "targets.json"
    targets.write_text(
        json.dumps(
            {
                "fast": {"per_s": {"target": 100, "better": "higher", "what": "speed"}},
                "slow": {"ms": {"target": 5, "better": "lower", "what": "latency"}},
                "never": {"x": {"target": 1, "better": "lower", "what": "not run"}},
            }
        )
    )
    m = {"cpu": "Test CPU", "cores": 2, "memory_gb": 24, "python": "3.11.7"}
    write(
        tmp_path / "fast.jsonl",
        [
            {"bench": "fast", "per_s": 10, "commit": "aaaaaaa", "machine": m, "ts": 1_700_000_000},
            {"bench": "fast", "per_s": 120, "commit": "bbbbbbb", "machine": m, "ts": 1_800_000_000},
            {"bench": "fast", "per_s": 90, "commit": "bbbbbbb", "machine": m, "ts": 1_800_000_100},
        ],
    )
    write(tmp_path / "slow.jsonl", [{"bench": "slow", "ms": 7.5, "commit": "ccccccc", "machine": m, "ts": 0}])
    fast, slow, never = benchdoc.rows(tmp_path, targets)
    assert fast["value"] == "90-120 (2 runs)" and fast["status"] == "met in 1 of 2"  # the old commit left out
    assert "bbbbbbb" in fast["when"] and "Test CPU, 2 cores, 24 GB" in fast["when"]
    assert slow["value"] == "7.5 (1 run)" and slow["status"] == "**not met**" and slow["target"] == "ms <= 5"
    assert never["value"] == "not measured yet"


def test_a_spread_from_below_zero_reads_as_a_range(tmp_path):
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps({"lat": {"over_ms": {"target": 3, "better": "lower", "what": "overhead"}}}))
    m = {"cpu": "Test CPU", "cores": 2, "memory_gb": 24, "python": "3.11.7"}
    write(
        tmp_path / "lat.jsonl",
        [{"bench": "lat", "over_ms": v, "commit": "ddddddd", "machine": m, "ts": 0} for v in (6.0, -0.2)],
    )
    (row,) = benchdoc.rows(tmp_path, targets)
    assert row["value"] == "-0.2 to 6 (2 runs)" and row["status"] == "met in 1 of 2"


def test_the_provenance_names_the_commit_and_the_machine():
    m = provenance.machine()
    assert m["cores"] and m["cpu"] and m["python"]
    assert provenance.commit() != ""

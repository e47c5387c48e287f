"""The lake job's choice of Spark master: the cluster profile's master when it is there, else local."""

from __future__ import annotations

from cryptoviz.lake.master import choose_master

CLUSTER = "spark://spark-master:7077"


def no_wait(seconds: float) -> bool:
    return False


def test_no_cluster_configured_runs_local():
    assert choose_master("local[2]", "", 60, no_wait) == "local[2]"


def test_a_cluster_name_that_does_not_resolve_runs_local():
    asked = []
    got = choose_master("local[2]", CLUSTER, 60, no_wait, resolves=lambda h: asked.append(h) or False)
    assert got == "local[2]"
    assert asked == ["spark-master"]


def test_a_resolving_master_is_waited_for_until_it_accepts():
    answers = iter([False, False, True])
    calls = []

    def accepts(host: str, port: int) -> bool:
        calls.append((host, port))
        return next(answers)

    assert choose_master("local[2]", CLUSTER, 60, no_wait, lambda h: True, accepts) == CLUSTER
    assert calls == [("spark-master", 7077)] * 3


def test_a_master_that_never_accepts_falls_back_to_local_after_the_wait():
    assert choose_master("local[2]", CLUSTER, 0, no_wait, lambda h: True, lambda h, p: False) == "local[2]"


def test_a_stop_while_waiting_returns_at_once():
    waits = []

    def stopping(seconds: float) -> bool:
        waits.append(seconds)
        return True

    assert choose_master("local[2]", CLUSTER, 60, stopping, lambda h: True, lambda h, p: False) == "local[2]"
    assert waits == [1.0]

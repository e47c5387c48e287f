"""The data folder keeps `stack.json` as its contract says: read, edited under the lock, refused
with its path when it is not a stack state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cryptoviz.contracts.stack_state import ServerEntry, ServiceEntry, StackState
from cryptoviz.servers import ServerError
from cryptoviz.stack.folder import StackFolder


def test_an_edit_is_written_back_and_read_as_the_typed_state(tmp_path):
    folder = StackFolder(tmp_path)
    assert folder.read_state() == StackState(), "no stack started here"
    with folder.edit() as state:
        state.servers["redis"] = ServerEntry("redis", os.getpid(), "127.0.0.1", 1, "redis.log", "127.0.0.1:1")
        state.services["scraper"] = ServiceEntry(2**22 + 1, str(tmp_path / "scraper.log"))
    with folder.edit() as state:
        state.services["scraper"].held = True
    back = folder.read_state()
    assert back.services["scraper"].held and back.servers["redis"].address == "127.0.0.1:1"
    assert set(folder.running()) == {"redis"}, "the scraper's pid is not a live process"
    assert folder.log_paths() == {"redis": Path("redis.log"), "scraper": tmp_path / "scraper.log"}


def test_an_edit_that_leaves_nothing_writes_no_file(tmp_path):
    folder = StackFolder(tmp_path)
    with folder.edit():
        pass
    assert not folder.state_file.exists()


def test_a_malformed_file_is_refused_with_its_path(tmp_path):
    folder = StackFolder(tmp_path)
    folder.state_file.write_text('{"services": {"scraper": {"pid": "twelve", "log_path": "s.log"}}}')
    with pytest.raises(ServerError, match=r"stack\.json is unreadable \(stack state: Expected `int`"):
        folder.read_state()

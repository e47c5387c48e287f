"""The data folder keeps `stack.json` as its contract says: read, edited under the lock, refused
with its path when it is not a stack state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cryptoviz import servers
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


def test_a_stack_started_before_the_machine_restarted_has_no_process_left(tmp_path):
    """Its pids may name other processes now: none is taken for the stack's (`down` signals none)."""
    folder = StackFolder(tmp_path)
    server = ServerEntry("redis", os.getpid(), "127.0.0.1", 1, "redis.log", "127.0.0.1:1")
    with folder.edit() as state:
        state.servers["redis"] = server
        state.boot = servers.boot_id()
    assert set(folder.running()) == {"redis"}
    with folder.edit() as state:
        state.boot = "a boot that is over"
    assert folder.running() == {} and folder.read_state() == StackState()


def test_an_up_or_down_while_another_is_at_work_is_refused_at_once(tmp_path):
    from cryptoviz.stack import Stack

    stack = Stack(tmp_path)
    with stack.exclusive():  # another `cryptoviz up`, starting its servers
        with pytest.raises(ServerError, match="another `cryptoviz up` or `down` is at work"):
            stack.up()
        with pytest.raises(ServerError, match="another `cryptoviz up` or `down` is at work"):
            stack.down()
    assert stack.down() == [], "once it is done: nothing recorded, nothing to stop"


def test_a_restart_cut_short_leaves_the_service_to_the_supervisor(tmp_path, monkeypatch):
    """A Ctrl-C during `cryptoviz restart --down-for`, or a start that fails: the service is no
    longer held, so the supervisor starts it again (held, it would be left down until `down`)."""
    from cryptoviz.stack import Stack

    stack = Stack(tmp_path)
    with stack.edit() as state:
        state.services["scraper"] = ServiceEntry(2**22 + 1, str(tmp_path / "scraper.log"))

    def cut_short(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("cryptoviz.stack.time.sleep", cut_short)
    with pytest.raises(KeyboardInterrupt):
        stack.restart("scraper", down_for_s=30)
    assert stack.read_state().services["scraper"].held is False


def test_the_credentials_are_private_from_their_first_byte(tmp_path, monkeypatch):
    """secrets.env is never readable by others, not even between its creation and a chmod after."""
    monkeypatch.setattr(Path, "chmod", lambda self, mode: None)  # no second chance to make it so
    old = os.umask(0)
    try:
        creds = StackFolder(tmp_path).secrets()
    finally:
        os.umask(old)
    assert (tmp_path / "secrets.env").stat().st_mode & 0o777 == 0o600
    assert StackFolder(tmp_path).secrets() == creds, "made once, read back"


def test_the_logs_command_fails_when_a_log_cannot_be_read(tmp_path):
    from cryptoviz.stack import Stack

    stack = Stack(tmp_path)
    with stack.edit() as state:
        state.services["scraper"] = ServiceEntry(2**22 + 1, str(tmp_path / "gone.log"))
    assert stack.tail("scraper", 5, follow=False) != 0
    (tmp_path / "gone.log").write_text("started\n")
    assert stack.tail("scraper", 5, follow=False) == 0

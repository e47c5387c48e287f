"""The driver's class archive (cryptoviz.lake.class_archive, made by cryptoviz.lake.cds): named for
the Java runtime and the jars, used only when there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cryptoviz.lake import cds, class_archive


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(class_archive, "FOLDER", tmp_path)
    return tmp_path


def test_no_archive_for_this_runtime_no_option(folder):
    (folder / f"{class_archive.PREFIX}0123456789abcdef.jsa").write_bytes(b"another runtime's")
    assert class_archive.java_options() == ""


def test_the_archive_for_this_runtime_is_mapped(folder):
    path = class_archive.archive_path()
    assert path is not None and path.parent == folder
    path.write_bytes(b"")
    assert class_archive.java_options() == f"-XX:SharedArchiveFile={path}"


def test_another_java_runtime_or_training_has_another_archive(folder, tmp_path, monkeypatch):
    first = class_archive.fingerprint()
    monkeypatch.setattr(class_archive, "TRAINING_VERSION", class_archive.TRAINING_VERSION + "+")
    assert class_archive.fingerprint() not in (first, None)
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_bytes(b"#!/bin/sh\n")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    assert class_archive.fingerprint() not in (first, None)


def test_without_java_nothing_is_archived_and_the_install_goes_on(folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    assert class_archive.fingerprint() is None and class_archive.java_options() == ""
    assert cds.main() == 0
    assert "no Java runtime" in capsys.readouterr().err
    assert not os.listdir(folder)


def test_a_folder_that_cannot_be_made_leaves_the_install_going(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(class_archive, "FOLDER", tmp_path / "file" / "share")
    assert cds.main() == 0
    assert "not archived" in capsys.readouterr().err

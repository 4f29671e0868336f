"""Atomic writes (sr_studio.core.atomic): hidden temp files beside the target, refusals, a killed writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sr_studio.core import atomic
from sr_studio.core.atomic import atomic_write, write_bytes_atomic, write_text_atomic
from tests.image_helpers import files_in

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ atomic writes


def test_atomic_write_uses_a_hidden_temp_beside_the_target(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    with atomic_write(target) as temp:
        assert temp.parent == tmp_path
        assert temp.name.startswith(".model.bin.") and temp.name.endswith(".tmp")
        assert not target.exists()
        temp.write_bytes(b"data")
    assert target.read_bytes() == b"data"
    assert files_in(tmp_path) == {"model.bin"}


def test_write_helpers(tmp_path: Path) -> None:
    write_bytes_atomic(tmp_path / "a.bin", b"\x00\x01")
    write_text_atomic(tmp_path / "a.json", '{"name": "café"}')
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "a.json").read_text(encoding="utf-8") == '{"name": "café"}'
    write_text_atomic(tmp_path / "a.json", "{}")
    assert (tmp_path / "a.json").read_text(encoding="utf-8") == "{}"


@pytest.mark.parametrize("existing", [False, True])
def test_atomic_write_error_keeps_the_old_state(tmp_path: Path, existing: bool) -> None:
    target = tmp_path / "a.json"
    if existing:
        target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as temp:
        temp.write_text("half")
        raise RuntimeError("boom")
    assert files_in(tmp_path) == ({"a.json"} if existing else set())
    if existing:
        assert target.read_text() == "old"


def test_atomic_write_without_overwrite_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(FileExistsError):
        write_text_atomic(target, "new", overwrite=False)
    assert target.read_text() == "old"
    assert files_in(tmp_path) == {"a.json"}


@pytest.mark.parametrize("hard_links", [True, False])
def test_atomic_write_without_overwrite_does_not_clobber_a_file_that_appears(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hard_links: bool
) -> None:
    if not hard_links:

        def no_link(source: object, target: object) -> None:
            raise OSError(1, "Operation not permitted")

        monkeypatch.setattr(atomic.os, "link", no_link)
    write_text_atomic(tmp_path / "fresh.txt", "mine", overwrite=False)
    assert (tmp_path / "fresh.txt").read_text() == "mine"
    target = tmp_path / "a.txt"
    with pytest.raises(FileExistsError), atomic_write(target, overwrite=False) as temp:
        temp.write_text("mine")
        target.write_text("someone else's")
    assert target.read_text() == "someone else's"
    assert files_in(tmp_path) == {"a.txt", "fresh.txt"}


def test_atomic_write_gives_ordinary_permissions(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"")
    write_bytes_atomic(tmp_path / "atomic", b"")
    assert (tmp_path / "atomic").stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_killed_writer_leaves_no_file_at_the_target(tmp_path: Path) -> None:
    target = tmp_path / "model.safetensors"
    script = (
        "import sys, time\n"
        "from sr_studio.core.atomic import atomic_write\n"
        "with atomic_write(sys.argv[1]) as temp:\n"
        "    with open(temp, 'wb') as out:\n"
        "        out.write(b'x' * 4096)\n"
        "        out.flush()\n"
        "        print('half written', flush=True)\n"
        "        time.sleep(60)\n"
        "        out.write(b'y' * 4096)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(
        [sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE, env=env
    ) as writer:
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline() == b"half written\n"
        finally:
            writer.send_signal(signal.SIGKILL)
    assert writer.returncode == -signal.SIGKILL
    assert not target.exists()
    leftovers = files_in(tmp_path)
    assert all(name.startswith(".model.safetensors.") and name.endswith(".tmp") for name in leftovers)

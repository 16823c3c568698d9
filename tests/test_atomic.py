import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest
import torch

from liegnn import io
from liegnn._atomic import atomic_path, atomic_write_json
from liegnn.discovery import DiscoveryResult


def test_written_file_has_the_mode_of_a_plain_open(tmp_path):
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    atomic_write_json({"a": 1}, tmp_path / "sub" / "atomic.json")
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)
    assert mode(tmp_path / "sub" / "atomic.json") == mode(plain)  # not mkstemp's private 0600
    assert json.loads((tmp_path / "sub" / "atomic.json").read_text()) == {"a": 1}


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "results.json"
    atomic_write_json({"old": True}, target)
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"new": tr')
        raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


KILLED_SAVE = """
import os, signal, sys, torch
from liegnn.discovery import DiscoveryResult
save = torch.save
def save_then_die(obj, f, *args, **kwargs):  # killed after writing, before the move
    save(obj, f, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
torch.save = save_then_die
DiscoveryResult(torch.randn(64, 128, 128)).save(sys.argv[1])
"""


def test_the_temporary_of_a_save_killed_midway_is_removed_by_the_next_write(tmp_path, monkeypatch):
    target = tmp_path / "basis.pt"
    killed = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(target)], timeout=120)
    assert killed.returncode == -signal.SIGKILL
    (left,) = tmp_path.glob(".basis.pt.*.tmp")
    assert left.stat().st_size > 4_000_000 and not target.exists()
    monkeypatch.setattr(io, "_PROCESS_START", time.time() + 1, raising=False)  # a later process
    DiscoveryResult(torch.eye(2)[None]).save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["basis.pt"]
    assert torch.equal(DiscoveryResult.load(target).generators, torch.eye(2)[None])


def test_temporaries_being_written_or_of_other_files_are_kept(tmp_path):
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead, live = int(gone.stdout), os.getpid()  # a finished process, and this one
    old = 1_000_000_000  # 2001: before this process started
    names = [
        f".a.json.{dead}.abcd1234.tmp",  # stale: its writer is gone, removed
        f".a.json.{live}.inuse_12.tmp",  # a live writer's: kept
        f".a.json.{dead}.b.json.tmp",  # not our pattern for a.json: kept
        f".b.json.{dead}.abcd1234.tmp",  # another target's: kept
        f"a.json.{dead}.abcd1234.tmp",  # no leading dot: kept
    ]
    for name in names:
        (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, (old, old))
    atomic_write_json({"a": 1}, tmp_path / "a.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:] + ["a.json"])


def test_a_temporary_can_be_written_by_a_library_that_locks_its_files(tmp_path):
    h5py = pytest.importorskip("h5py")
    with atomic_path(tmp_path / "jets.h5") as tmp, h5py.File(tmp, "w") as f:
        f["x"] = [1.0, 2.0]  # HDF5 takes its own flock on the file it writes
    with h5py.File(tmp_path / "jets.h5", "r") as f:
        assert list(f["x"][:]) == [1.0, 2.0]


def test_the_umask_is_read_without_setting_it(tmp_path, monkeypatch):
    def refuse(mask):
        raise AssertionError("os.umask changes the umask of every thread while it is set")

    monkeypatch.setattr(os, "umask", refuse)
    atomic_write_json({"a": 1}, tmp_path / "a.json")
    assert json.loads((tmp_path / "a.json").read_text()) == {"a": 1}

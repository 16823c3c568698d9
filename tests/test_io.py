import json
import math
import os
import subprocess
import sys
import time

import pytest
import torch

from liegnn import _atomic
from liegnn.discovery import _io as discovery_io
from liegnn.io import (
    LOCK_NAME,
    FolderInUseError,
    atomic_write_json,
    check_resume_config,
    output_lock,
    safe_torch_load,
    strict_json,
)
from liegnn.training import checkpoint


class Point:
    def __init__(self, x=1.0):
        self.x = x


def _strict(text: str):
    def refuse(constant):
        raise AssertionError(f"non-strict JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_floats_are_written_as_null(tmp_path):
    data = {"a": math.inf, "b": [math.nan, -math.inf, 1.5], "c": (2.0, {"d": math.inf})}
    atomic_write_json(data, tmp_path / "x.json")
    assert _strict((tmp_path / "x.json").read_text()) == {
        "a": None,
        "b": [None, None, 1.5],
        "c": [2.0, {"d": None}],
    }
    assert strict_json(data)["b"][2] == 1.5


def test_discovery_and_training_share_one_writer_and_loader():
    assert checkpoint.write_json is atomic_write_json is _atomic.atomic_write_json
    assert discovery_io.safe_torch_load is safe_torch_load
    assert checkpoint.save_checkpoint is discovery_io.atomic_torch_save


def test_pickle_is_refused_unless_the_class_is_allowed_for_that_call(tmp_path):
    path = tmp_path / "p.pt"
    torch.save({"p": Point(3.0)}, path)
    with pytest.raises(ValueError, match="not a safe torch file.*weights_only"):
        safe_torch_load(path)
    assert safe_torch_load(path, safe_globals=[Point])["p"].x == 3.0
    with pytest.raises(ValueError, match="Point"):  # the allowance ends with the call
        safe_torch_load(path)
    with pytest.raises(FileNotFoundError):
        safe_torch_load(tmp_path / "absent.pt")


def test_resume_check_names_changed_settings_only(tmp_path):
    saved = {"lr": 1e-3, "epochs": 2, "betas": [0.9, 0.99]}
    check_resume_config(tmp_path, saved, {"lr": 1e-3, "epochs": 2, "betas": (0.9, 0.99)})
    check_resume_config(tmp_path, saved, {**saved, "epochs": 5}, ignore=["epochs"])
    with pytest.raises(ValueError, match=r"different settings \(lr, seed\)"):
        check_resume_config(tmp_path, saved, {**saved, "lr": 1e-2, "seed": 1})


def test_an_output_folder_is_held_by_one_run_at_a_time(tmp_path):
    with output_lock(tmp_path / "run"):
        with pytest.raises(FolderInUseError, match=rf"in use .*process {os.getpid()} "):
            with output_lock(tmp_path / "run"):
                pass
    assert list((tmp_path / "run").iterdir()) == []  # the lock file goes with the run
    with output_lock(tmp_path / "run") as lock:
        assert lock.name == LOCK_NAME


HOLDER = """
import pathlib, sys, time
from liegnn.io import output_lock
with output_lock(sys.argv[1]):
    pathlib.Path(sys.argv[2]).write_text("held")
    time.sleep(300)
"""


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    pytest.importorskip("fcntl")
    run, flag = tmp_path / "run", tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run), str(flag)])
    try:
        deadline = time.monotonic() + 120
        while not flag.exists() and holder.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flag.exists(), "the holder process did not take the lock"
        with pytest.raises(FolderInUseError, match=rf"process {holder.pid} on .*-c"):
            with output_lock(run):
                pass
    finally:
        holder.kill()
        holder.wait()
    assert (run / LOCK_NAME).exists()  # left behind by the kill, but not held
    with output_lock(run):
        pass

import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from liegnn.discovery import LieGAN, fit_seeds


def _ring(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    theta = torch.rand(n, generator=g) * 2 * math.pi
    return torch.stack([theta.cos(), theta.sin()], 1) * (1 + 0.1 * torch.randn(n, 1, generator=g))


OPTIONS = dict(n=2, hidden=16, batch_size=32)


def test_each_seed_gives_the_result_of_its_own_run():
    runs = fit_seeds(_ring(), seeds=[0, 3], options=OPTIONS, epochs=2, progress=False)
    alone = LieGAN(**OPTIONS, seed=3).fit(_ring(), epochs=2, progress=False)
    assert torch.equal(runs[1].generators, alone.generators)
    assert not torch.equal(runs[0].generators, runs[1].generators)


def test_worker_processes_reproduce_the_sequential_runs():
    seq = fit_seeds(_ring(), seeds=[0, 1], options=OPTIONS, epochs=2, progress=False)
    par = fit_seeds(_ring(), seeds=[0, 1], options=OPTIONS, epochs=2, progress=False, workers=2)
    for a, b in zip(seq, par, strict=True):
        assert torch.equal(a.generators, b.generators)


def test_checkpoints_are_kept_per_seed_and_resume(tmp_path):
    ckpt = tmp_path / "run.pt"
    fit_seeds(_ring(), seeds=[0, 1], options=OPTIONS, epochs=1, checkpoint=ckpt, progress=False)
    assert (tmp_path / "run-seed0.pt").exists() and (tmp_path / "run-seed1.pt").exists()
    resumed = fit_seeds(
        _ring(), seeds=[0, 1], options=OPTIONS, epochs=2, resume=ckpt, progress=False
    )
    full = fit_seeds(_ring(), seeds=[0, 1], options=OPTIONS, epochs=2, progress=False)
    for a, b in zip(resumed, full, strict=True):
        assert torch.equal(a.generators, b.generators)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(seeds=[]), "at least one seed"),
        (dict(workers=0), "workers must be a positive integer"),
        (dict(options={**OPTIONS, "seed": 1}), "seeds=..."),
        (dict(options={**OPTIONS, "batch_size": 0}), "batch_size"),
    ],
)
def test_bad_arguments_are_rejected_before_any_run(kwargs, match):
    kwargs.setdefault("options", OPTIONS)
    with pytest.raises(ValueError, match=match):
        fit_seeds(_ring(), epochs=1, progress=False, **kwargs)


ORPHAN_PARENT = """
import math, os, sys, torch
from liegnn.discovery import LieGAN, fit_seeds
class Recorded(LieGAN):
    def fit(self, *args, **kwargs):  # runs in a worker: announce it
        with open(sys.argv[1], "a") as f:
            f.write(f"{os.getpid()}\\n")
        return super().fit(*args, **kwargs)
theta = torch.rand(64) * 2 * math.pi
x = torch.stack([theta.cos(), theta.sin()], 1)
fit_seeds(x, seeds=[0, 1], options=dict(n=2, hidden=8, batch_size=32), method=Recorded,
          epochs=100_000, workers=2, progress=False)
"""


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_killed_parent(tmp_path):
    pids = tmp_path / "workers.txt"
    parent = subprocess.Popen([sys.executable, "-c", ORPHAN_PARENT, str(pids)])
    try:
        deadline = time.monotonic() + 60
        while len(_pids(pids)) < 2 and parent.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = _pids(pids)
        assert len(workers) == 2 and all(map(_alive, workers))
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 5
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:  # leave nothing running, then fail
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {left} outlived their killed parent"


def _pids(path) -> list[int]:
    return [int(p) for p in path.read_text().split()] if path.exists() else []

"""Data-parallel training on CPU: 2 processes, gloo, launched by torchrun.

The model has neither dropout nor BatchNorm: dropout masks are drawn per rank and BatchNorm
normalises each rank's half batch, so with them DDP is a different (equally valid) computation
rather than the same one; without them the gradient averaged over two half batches is the
gradient of the whole batch and the weights agree to rounding.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from liegnn.training import distributed as ddp
from liegnn.training.trainer import Trainer

SCRIPT = """
import os, sys, torch
from liegnn.training import distributed as ddp
from liegnn.training.trainer import Trainer
sys.path.insert(0, {here!r})
from test_distributed import CFG, data, model
ctx = ddp.init_distributed("cpu")
assert ctx.world_size == 2 and ctx.backend == "gloo"
train, val = data()
stop = int(os.environ.get("STOP_AFTER", 0))
def hook(epoch, record):
    if epoch == stop:
        raise SystemExit(3)
trainer = Trainer(model(), train, val, CFG, test_data=val, out_dir=sys.argv[1], on_epoch_end=hook)
trainer.fit()
if ctx.is_main:
    torch.save(trainer.model.state_dict(), sys.argv[1] + "/final.pt")
ddp.shutdown()
"""

CFG = dict(epochs=3, batch_size=16, lr=1e-2, warmup_epochs=1, progress=False, seed=3)


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 6, generator=g)
    y = (x[:, 0] - x[:, 1] > 0).long()
    xv = torch.randn(21, 6, generator=g)  # odd: the ranks hold 11 and 10 examples
    return TensorDataset(x, y), TensorDataset(xv, (xv[:, 0] - xv[:, 1] > 0).long())


def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2))


def torchrun(script, out, env=None, check=True):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(script),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_single_process_context_is_a_no_op():
    ctx = ddp.init_distributed("cpu")
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.is_distributed) == (0, 1, True, False)
    t = torch.arange(3.0)
    assert torch.equal(ddp.all_reduce_sum(t), t)
    assert torch.equal(ddp.all_gather_concat(t), t)
    assert ddp.all_gather_objects("a") == ["a"]


def test_two_gloo_processes_match_one_process(tmp_path):
    train, val = data()
    single = Trainer(model(), train, val, CFG, test_data=val, out_dir=tmp_path / "one")
    expected = single.fit()

    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(SCRIPT.format(here=str(Path(__file__).parent))))
    out = tmp_path / "two"
    torchrun(script, out)
    weights = torch.load(out / "final.pt", weights_only=True)
    for name, value in single.model.state_dict().items():
        torch.testing.assert_close(weights[name], value, atol=1e-5, rtol=0)
    got = json.loads((out / "metrics.json").read_text())
    assert got["world_size"] == 2
    assert [r["epoch"] for r in got["history"]] == [1, 2, 3]
    for a, b in zip(got["history"], expected["history"], strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-5)
        assert a["val"]["accuracy"] == b["val"]["accuracy"]  # all 21 examples, once each
        assert a["val"]["auc"] == pytest.approx(b["val"]["auc"], abs=1e-6)
    assert got["test"]["accuracy"] == expected["test"]["accuracy"]
    assert sorted(p.name for p in out.iterdir()) == [
        "best.pt",
        "final.pt",
        "last.pt",
        "metrics.json",
    ]
    assert len(torch.load(out / "last.pt", weights_only=True)["rng"]) == 2  # one per rank


@pytest.mark.slow
def test_two_process_run_resumes_to_the_uninterrupted_result(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(SCRIPT.format(here=str(Path(__file__).parent))))
    torchrun(script, tmp_path / "ref")
    stopped = torchrun(script, tmp_path / "run", env={"STOP_AFTER": "2"}, check=False)
    assert stopped.returncode != 0
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["epoch"] == 2
    torchrun(script, tmp_path / "run")
    a = torch.load(tmp_path / "ref" / "final.pt", weights_only=True)
    b = torch.load(tmp_path / "run" / "final.pt", weights_only=True)
    for name in a:
        assert torch.equal(a[name], b[name]), name


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("rank", ["0", "1"])
def test_stale_torchrun_variables_fail_fast_with_a_message_naming_them(monkeypatch, rank):
    port = str(_free_port())
    for key, value in dict(WORLD_SIZE="2", RANK=rank, MASTER_ADDR="127.0.0.1").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MASTER_PORT", port)
    monkeypatch.setenv(ddp.INIT_TIMEOUT_ENV, "1")
    start = time.monotonic()
    with pytest.raises(RuntimeError) as err:
        ddp.init_distributed("cpu")
    assert time.monotonic() - start < 15
    message = str(err.value)
    for shown in ("WORLD_SIZE='2'", f"RANK='{rank}'", "MASTER_ADDR='127.0.0.1'", port):
        assert shown in message
    assert "unset WORLD_SIZE RANK" in message and "single-process run" in message
    assert not torch.distributed.is_initialized()

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torch_geometric.data import Data

from liegnn.io import FolderInUseError
from liegnn.nn.liegnn import LieGNN
from liegnn.training.checkpoint import load_checkpoint
from liegnn.training.config import TrainConfig
from liegnn.training.trainer import Trainer


def graphs(n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        k = 3 + i % 4
        label = i % 2
        pos = torch.randn(k, 4, generator=g)
        pos[:, 0] = pos[:, 1:].norm(dim=1) + 0.5 + label  # timelike, class-dependent mass
        out.append(Data(x=torch.rand(k, 2, generator=g), pos=pos, y=torch.tensor([label])))
    return out


def graph_model(seed=0):
    torch.manual_seed(seed)
    return LieGNN("minkowski", 2, hidden=8, n_layers=2, dropout=0.3)


def tensors(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g)
    return TensorDataset(x, (x[:, 0] + 0.3 * x[:, 1] > 0).long())


def mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(16, 2)
    )


CFG = dict(epochs=4, batch_size=8, warmup_epochs=1, lr=3e-3, progress=False, seed=5)


class Kill(Exception):
    pass


def _kill_after(k):
    def hook(epoch, record):
        if epoch == k:
            raise Kill

    return hook


def _strip_times(summary):
    s = json.loads(json.dumps(summary))
    for record in s["history"]:
        record.pop("time_s")
    return s


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_after_kill_at_epoch_boundary_is_identical_for_graphs(tmp_path):
    train, val, test = graphs(24, 0), graphs(10, 1), graphs(10, 2)
    ref = Trainer(graph_model(), train, val, CFG, test_data=test, out_dir=tmp_path / "ref")
    expected = ref.fit()

    run = Trainer(
        graph_model(),
        train,
        val,
        CFG,
        test_data=test,
        out_dir=tmp_path / "run",
        on_epoch_end=_kill_after(2),
    )
    with pytest.raises(Kill):
        run.fit()
    assert load_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 2
    resumed = Trainer(
        graph_model(seed=123), train, val, CFG, test_data=test, out_dir=tmp_path / "run"
    )
    got = resumed.fit()
    _assert_same_state(resumed.model.state_dict(), ref.model.state_dict())
    assert _strip_times(got) == _strip_times(expected)


class Exploding(Dataset):
    """Tensors whose access number ``fail_at`` raises, as a crash in the middle of an epoch."""

    def __init__(self, base, fail_at=None):
        self.base, self.fail_at, self.count = base, fail_at, 0

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        self.count += 1
        if self.count == self.fail_at:
            raise Kill
        return self.base[i]


def test_resume_after_crash_mid_epoch_is_identical(tmp_path):
    train, val = tensors(48, 0), tensors(16, 1)
    ref = Trainer(mlp(), train, val, CFG, out_dir=tmp_path / "ref")
    expected = ref.fit()
    crash = Exploding(train, fail_at=2 * 48 + 20)  # inside the third epoch
    with pytest.raises(Kill):
        Trainer(mlp(), crash, val, CFG, out_dir=tmp_path / "run").fit()
    assert load_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 2
    resumed = Trainer(mlp(seed=9), train, val, CFG, out_dir=tmp_path / "run")
    got = resumed.fit()
    _assert_same_state(resumed.model.state_dict(), ref.model.state_dict())
    assert _strip_times(got) == _strip_times(expected)


SCRIPT = """
import os, signal, sys, torch
from torch.utils.data import TensorDataset
from liegnn.training.trainer import Trainer
g = torch.Generator().manual_seed(0)
x = torch.randn(64, 5, generator=g)
data = TensorDataset(x, (x[:, 0] > 0).long())
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                            torch.nn.Linear(16, 2))
kill_at = int(sys.argv[2])
def hook(epoch, record):
    if epoch == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
cfg = dict(epochs=4, batch_size=8, lr=3e-3, warmup_epochs=1, progress=False)
Trainer(model, data, data, cfg, out_dir=sys.argv[1], on_epoch_end=hook).fit()
torch.save(model.state_dict(), os.path.join(sys.argv[1], "final.pt"))
"""


def test_resume_after_sigkill_of_the_process_is_identical(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    run = lambda out, kill: subprocess.run(
        [sys.executable, str(script), str(out), str(kill)], capture_output=True, text=True
    )
    killed = run(tmp_path / "a", 3)
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "a" / "final.pt").exists()
    assert run(tmp_path / "a", 0).returncode == 0
    assert run(tmp_path / "b", 0).returncode == 0
    a = torch.load(tmp_path / "a" / "final.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "final.pt", weights_only=True)
    _assert_same_state(a, b)
    ma = json.loads((tmp_path / "a" / "metrics.json").read_text())
    mb = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert _strip_times(ma) == _strip_times(mb)


def test_checkpoints_load_with_weights_only_and_best_is_the_best_validation_epoch(tmp_path):
    trainer = Trainer(mlp(), tensors(48, 0), tensors(16, 1), {**CFG, "epochs": 5}, out_dir=tmp_path)
    summary = trainer.fit()
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    accs = [r["val"]["accuracy"] for r in summary["history"]]
    assert best["epoch"] == 1 + accs.index(max(accs)) == summary["best"]["epoch"]
    assert best["metrics"]["accuracy"] == max(accs)
    assert last["epoch"] == 5 and len(last["history"]) == 5
    _assert_same_state(last["model"], trainer.model.state_dict())
    fresh = mlp(seed=1)
    fresh.load_state_dict(best["model"])
    trainer.model.load_state_dict(best["model"])
    assert trainer.evaluate(tensors(16, 1))["accuracy"] == max(accs)


def test_metrics_json_is_strict_json_with_history_best_and_test(tmp_path):
    data = tensors(8, 0)  # tiny: the rejection at ε_S = 0.3 is infinite
    Trainer(mlp(), data, data, {**CFG, "epochs": 2}, test_data=data, out_dir=tmp_path).fit()

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    m = json.loads((tmp_path / "metrics.json").read_text(), parse_constant=no_constants)
    assert m["epochs_completed"] == 2 and len(m["history"]) == 2
    assert {"accuracy", "auc", "rejection_30", "rejection_50", "loss"} <= set(m["test"])
    assert m["config"]["batch_size"] == 8 and m["world_size"] == 1


def test_rerunning_a_finished_run_does_not_train_again(tmp_path):
    t = Trainer(mlp(), tensors(), tensors(16, 1), CFG, test_data=tensors(16, 2), out_dir=tmp_path)
    first = t.fit()
    again = Trainer(
        mlp(seed=4), tensors(), tensors(16, 1), CFG, test_data=tensors(16, 2), out_dir=tmp_path
    )
    second = again.fit()
    assert second["test"] == first["test"] and len(second["history"]) == 4


def test_resume_with_changed_settings_raises(tmp_path):
    Trainer(mlp(), tensors(), None, {**CFG, "epochs": 1}, out_dir=tmp_path).fit()
    with pytest.raises(ValueError, match="lr"):
        Trainer(mlp(), tensors(), None, {**CFG, "epochs": 1, "lr": 0.5}, out_dir=tmp_path).fit()


def test_regression_with_l1_fits_a_linear_map_and_reports_units():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    torch.manual_seed(0)
    cfg = TrainConfig(
        epochs=30,
        batch_size=32,
        lr=3e-2,
        task="regression",
        unit="meV",
        unit_scale=1000.0,
        progress=False,
    )
    trainer = Trainer(torch.nn.Linear(3, 1), TensorDataset(x, y), TensorDataset(x, y), cfg)
    before = trainer.evaluate(TensorDataset(x, y))["mae"]
    summary = trainer.fit()
    after = summary["history"][-1]["val"]
    assert after["mae"] < 0.05 * before
    assert after["mae_meV"] == pytest.approx(1000 * after["mae"])
    assert summary["best"]["monitor"] == "mae"


def test_eval_train_scores_the_best_weights_on_the_training_data_without_dropout():
    data = tensors(n=64)
    cfg = TrainConfig(epochs=3, batch_size=16, lr=1e-2, progress=False)
    summary = Trainer(mlp(), data, data, cfg, eval_train=True).fit()
    # train data == val data: the train metrics are the best epoch's validation metrics, which
    # are computed in eval mode (dropout 0.3 in training would change them)
    assert summary["train"]["loss"] == pytest.approx(summary["best"]["val"]["loss"], rel=1e-6)
    assert summary["train"]["accuracy"] == summary["best"]["val"]["accuracy"]
    assert "train" not in Trainer(mlp(), data, data, cfg).fit()


def test_a_plain_dataloader_is_used_as_given():
    data = tensors()
    loader = DataLoader(data, batch_size=6, shuffle=False)
    trainer = Trainer(mlp(), loader, None, {**CFG, "epochs": 1})
    assert trainer.train_loader is loader
    summary = trainer.fit()
    assert len(summary["history"]) == 1 and summary["best"]["epoch"] == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(task="ranking"),
        dict(loss="l1"),
        dict(task="regression", loss="cross_entropy"),
        dict(epochs=0),
        dict(batch_size=0),
        dict(grad_clip=0.0),
        dict(warmup_epochs=11),
    ],
)
def test_bad_config_raises(kwargs):
    with pytest.raises(ValueError):
        TrainConfig(**kwargs)


def test_non_finite_loss_stops_training():
    x = torch.randn(8, 5)
    x[0, 0] = float("inf")
    data = TensorDataset(x, torch.zeros(8, dtype=torch.long))
    with pytest.raises(FloatingPointError):
        Trainer(mlp(), data, None, {**CFG, "epochs": 1}).fit()


def test_cuda_is_refused_where_absent():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ValueError, match="CUDA"):
        Trainer(mlp(), tensors(), None, {**CFG, "device": "cuda"})


def test_a_truncated_best_checkpoint_is_rebuilt_when_the_finished_run_is_rerun(tmp_path):
    Trainer(mlp(), tensors(), tensors(16, 1), CFG, out_dir=tmp_path).fit()
    good = torch.load(tmp_path / "best.pt", weights_only=True)
    raw = (tmp_path / "best.pt").read_bytes()
    (tmp_path / "best.pt").write_bytes(raw[: len(raw) // 2])
    Trainer(mlp(seed=4), tensors(), tensors(16, 1), CFG, out_dir=tmp_path).fit()
    rebuilt = load_checkpoint(tmp_path / "best.pt")
    assert rebuilt["epoch"] == good["epoch"] and rebuilt["metrics"] == good["metrics"]
    assert rebuilt["config"] == good["config"]
    _assert_same_state(rebuilt["model"], good["model"])


def test_a_damaged_last_checkpoint_is_refused_naming_it(tmp_path):
    Trainer(mlp(), tensors(), None, {**CFG, "epochs": 1}, out_dir=tmp_path).fit()
    raw = (tmp_path / "last.pt").read_bytes()
    (tmp_path / "last.pt").write_bytes(raw[:100])
    with pytest.raises(ValueError, match=r"cannot resume: .*last\.pt is damaged.*--no-resume"):
        Trainer(mlp(), tensors(), None, {**CFG, "epochs": 1}, out_dir=tmp_path).fit()


def test_a_second_run_on_the_same_folder_is_refused_and_the_first_keeps_its_files(tmp_path):
    refusals = []

    def start_another(epoch, record):
        other = Trainer(mlp(), tensors(), None, {**CFG, "lr": 0.5}, out_dir=tmp_path)
        with pytest.raises(
            FolderInUseError, match=rf"in use by another training run.*{os.getpid()}"
        ):
            other.fit()
        refusals.append(epoch)

    Trainer(mlp(), tensors(), None, CFG, out_dir=tmp_path, on_epoch_end=start_another).fit()
    assert refusals == [1, 2, 3, 4]
    assert load_checkpoint(tmp_path / "last.pt")["config"]["lr"] == CFG["lr"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt", "metrics.json"]


def test_resume_and_epoch_messages_go_to_the_liegnn_logger_not_to_stderr(tmp_path, caplog, capsys):
    cfg = {**CFG, "epochs": 2}
    with pytest.raises(Kill):
        Trainer(mlp(), tensors(), None, cfg, out_dir=tmp_path, on_epoch_end=_kill_after(1)).fit()
    with caplog.at_level(logging.INFO, logger="liegnn"):
        Trainer(mlp(), tensors(), None, {**cfg, "progress": True}, out_dir=tmp_path).fit()
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("liegnn")]
    assert any(m.startswith("resuming") and "after epoch 1" in m for m in messages)
    assert any(m.startswith("epoch 2 ") for m in messages)
    assert "resuming" not in capsys.readouterr().err

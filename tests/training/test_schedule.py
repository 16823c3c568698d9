import math

import pytest
import torch

from liegnn.training.schedule import WarmupCosine, adamw, warmup_cosine


def test_warmup_rises_linearly_to_the_peak():
    f = WarmupCosine(total_steps=100, warmup_steps=10)
    assert [f(t) for t in range(10)] == pytest.approx([(t + 1) / 10 for t in range(10)])
    assert f(10) == pytest.approx(1.0)


def test_cosine_decays_monotonically_to_the_floor():
    f = WarmupCosine(total_steps=110, warmup_steps=10, min_lr_ratio=0.1)
    values = [f(t) for t in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    assert f(60) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way through the decay
    assert f(110) == pytest.approx(0.1)


def test_restarts_jump_back_to_the_peak_with_growing_cycles():
    f = WarmupCosine(total_steps=100, warmup_steps=2, restart_steps=4, restart_mult=2)
    # cycles after warm-up: steps [2, 6), [6, 14), [14, 30)
    for start in (2, 6, 14, 30):
        assert f(start) == pytest.approx(1.0)
        assert f(start - 1) < 1.0 or start == 2
    assert f(4) == pytest.approx(0.5)  # middle of the first 4-step cycle
    assert f(10) == pytest.approx(0.5)  # middle of the second, 8 steps long


def test_lambda_lr_applies_the_factor_at_every_optimizer_step():
    w = torch.nn.Parameter(torch.zeros(3))
    opt = adamw([w], lr=0.2, weight_decay=0.0)
    sched = warmup_cosine(opt, total_steps=20, warmup_steps=5, min_lr_ratio=0.05)
    f = WarmupCosine(20, 5, 0.05)
    seen = []
    for _ in range(20):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.2 * f(t) for t in range(20)])


def test_scheduler_state_round_trips_through_weights_only_load(tmp_path):
    w = torch.nn.Parameter(torch.zeros(3))
    opt = adamw([w], lr=1.0)
    sched = warmup_cosine(opt, total_steps=50, warmup_steps=3, restart_steps=7, restart_mult=2)
    for _ in range(11):
        opt.step()
        sched.step()
    torch.save(sched.state_dict(), tmp_path / "s.pt")
    opt2 = adamw([torch.nn.Parameter(torch.zeros(3))], lr=1.0)
    sched2 = warmup_cosine(opt2, total_steps=50, warmup_steps=3, restart_steps=7, restart_mult=2)
    sched2.load_state_dict(torch.load(tmp_path / "s.pt", weights_only=True))
    assert sched2.last_epoch == 11
    assert math.isclose(sched2.get_last_lr()[0], sched.get_last_lr()[0])


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(total_steps=0),
        dict(total_steps=10, warmup_steps=11),
        dict(total_steps=10, min_lr_ratio=1.5),
        dict(total_steps=10, restart_steps=0),
        dict(total_steps=10, restart_steps=3, restart_mult=0.5),
    ],
)
def test_bad_schedule_settings_raise(kwargs):
    with pytest.raises(ValueError):
        WarmupCosine(**kwargs)


def test_adamw_rejects_a_model_without_trainable_parameters():
    frozen = torch.nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable"):
        adamw(frozen)

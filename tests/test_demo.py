import json

import pytest
import torch

from liegnn.demo import run_demo


def test_quick_demo_discovers_rotation_and_trains_an_invariant_liegnn(tmp_path, monkeypatch):
    monkeypatch.setenv("LIEGNN_CACHE", str(tmp_path / "cache"))
    summary = run_demo(tmp_path / "demo", quick=True, progress=False)
    assert summary["discovery"]["cosine"] > 0.99
    assert summary["metric"]["similarity_euclidean"] > 0.99
    # 16 = 4 squared norms + 6 dot products + 6 cross products of the four 2-vectors
    assert summary["metric"]["invariant_forms_8d"] == 16
    assert summary["model"]["invariance_drift"] < 1e-4
    assert summary["model"]["test_mae"] < summary["model"]["mean_predictor_mae"]
    on_disk = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert on_disk["discovery"]["cosine"] == summary["discovery"]["cosine"]
    assert (tmp_path / "demo" / "basis.pt").exists()
    assert (tmp_path / "demo" / "generators.png").stat().st_size > 0


def test_demo_on_cuda_without_cuda_is_a_value_error_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device='cuda' was requested but CUDA is not available"):
        run_demo(tmp_path / "demo", device="cuda", quick=True, progress=False)
    assert not (tmp_path / "demo").exists()

import pytest
import torch

from liegnn.algebra import so, su2
from liegnn.discovery import DiscoveryResult, load_generators


def _rotated_so3(seed=0):
    """so(3) in a mixed basis, scaled and with small noise: the span is so(3)."""
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(3, 3, generator=g, dtype=torch.float64)
    L = torch.einsum("ij,jkl->ikl", A, so(3, dtype=torch.float64))
    return L + 1e-4 * torch.randn(3, 3, 3, generator=g, dtype=torch.float64)


def test_compare_recognises_a_basis_change_of_the_truth():
    res = DiscoveryResult(_rotated_so3())
    out = res.compare(so(3))
    assert out["subspace_similarity"] > 0.9999
    assert len(out["channel_cosine"]) == 3
    assert "mae" in out


def test_compare_scores_a_wrong_algebra_low():
    res = DiscoveryResult(torch.diag(torch.tensor([1.0, -1.0, 0.0]))[None])
    assert res.compare(so(3))["subspace_similarity"] < 0.01


def test_compare_c7_generator_mae_is_up_to_sign():
    import math

    truth = torch.zeros(1, 3, 3)
    truth[0, 1, 0], truth[0, 0, 1] = 2 * math.pi / 7, -2 * math.pi / 7
    assert DiscoveryResult(-truth).compare(truth)["mae"] == pytest.approx(0.0)
    assert DiscoveryResult(-truth).compare(truth)["channel_cosine"] == [pytest.approx(1.0)]


def test_canonical_view_recovers_sparse_so3_basis():
    res = DiscoveryResult(_rotated_so3())
    C = res.canonical(sparsify=True, atol=1e-2)
    assert C.shape == (3, 3, 3)
    # every canonical element is (close to) a signed plane rotation E_ij - E_ji
    assert torch.allclose(C + C.mT, torch.zeros_like(C), atol=1e-3)
    assert torch.allclose(
        C.abs().flatten(1).sum(1), torch.full((3,), 2.0, dtype=C.dtype), atol=1e-2
    )


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_save_and_load_round_trip_real_and_complex(tmp_path, suffix):
    for L in (_rotated_so3().float(), su2().to(torch.complex64)):
        res = DiscoveryResult(
            L,
            history={"loss_d": [0.7, 0.69], "time": [1.0, 2.0]},
            config={"method": "LieGAN", "n": L.shape[-1]},
            coefficients={"mu": torch.zeros(3)},
        )
        path = tmp_path / f"result{suffix}"
        res.save(path)
        back = DiscoveryResult.load(path)
        assert torch.equal(back.generators, res.generators)
        assert back.history == res.history and back.config == res.config
        assert torch.equal(back.coefficients["mu"], torch.zeros(3))
        assert torch.equal(load_generators(path), res.generators)


def test_torch_file_is_readable_without_pickle(tmp_path):
    path = tmp_path / "r.pt"
    DiscoveryResult(so(3)).save(path)
    obj = torch.load(path, weights_only=True)
    assert torch.equal(obj["tensors"]["generators"], so(3))


def test_load_generators_reads_plain_arrays(tmp_path):
    import numpy as np

    np.save(tmp_path / "g.npy", so(3).numpy())
    np.savez(tmp_path / "g.npz", generators=so(3).numpy(), other=np.zeros(2))
    assert torch.equal(load_generators(tmp_path / "g.npy"), so(3))
    assert torch.equal(load_generators(tmp_path / "g.npz"), so(3))
    with pytest.raises(FileNotFoundError):
        load_generators(tmp_path / "missing.pt")


def test_load_rejects_a_file_that_is_not_a_result(tmp_path):
    path = tmp_path / "t.pt"
    torch.save({"tensors": {"generators": so(3)}, "meta": "{}"}, path)
    with pytest.raises(ValueError, match="not a saved DiscoveryResult"):
        DiscoveryResult.load(path)


def test_plot_writes_heatmaps_one_axis_per_channel(tmp_path):
    pytest.importorskip("matplotlib")
    fig = DiscoveryResult(so(3)).plot(tmp_path / "new" / "so3.png")  # folders are made
    assert (tmp_path / "new" / "so3.png").stat().st_size > 1000
    assert len([ax for ax in fig.axes if ax.images]) == 3
    fig_c = DiscoveryResult(su2()).plot()
    assert len([ax for ax in fig_c.axes if ax.images]) == 6  # Re and Im rows


def test_result_rejects_malformed_generators():
    with pytest.raises(ValueError, match="square"):
        DiscoveryResult(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="NaN"):
        DiscoveryResult(torch.full((1, 2, 2), float("nan")))


def test_plot_leaves_the_matplotlib_backend_and_pyplot_state_alone(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    figures = plt.get_fignums()
    fig = DiscoveryResult(so(3)).plot(tmp_path / "so3.png")
    assert matplotlib.get_backend() == before  # no matplotlib.use: inline Jupyter keeps working
    assert plt.get_fignums() == figures  # a plain Figure, not registered with pyplot
    assert type(fig).__name__ == "Figure"

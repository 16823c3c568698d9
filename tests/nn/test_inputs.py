import pytest
import torch
from torch import nn
from torch_geometric.data import Batch, Data

from liegnn.nn.conv import LieGNNConv
from liegnn.nn.graphs import LorentzNetInputs
from liegnn.nn.liegnn import LieGNN


def jets(n_jets=4, dtype=torch.float32, seed=0):
    """Jets along z whose hardest constituents carry 150–300 GeV: E² > 65504, float16's max."""
    g = torch.Generator().manual_seed(seed)
    data = []
    for _ in range(n_jets):
        k = int(torch.randint(8, 16, (1,), generator=g))
        p = torch.randn(k, 3, generator=g) * 3
        p[:, 2] = torch.linspace(10.0, 150.0 + 150.0 * torch.rand(1, generator=g).item(), k)
        e = (p.pow(2).sum(-1) + 0.1).sqrt()
        pos = torch.cat([e[:, None], p], -1).to(dtype)
        data.append(LorentzNetInputs()(Data(pos=pos, y=torch.tensor([0]))))
    return Batch.from_data_list(data)


def make_model(**kwargs):
    torch.manual_seed(0)
    return LieGNN("minkowski", hidden=16, n_layers=3, **kwargs).eval()


def with_pos(batch, node, value):
    pos = batch.pos.clone()
    pos[node, 1] = value
    return pos


def rel(a, b):
    return float((a - b).detach().norm() / b.detach().norm())


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_or_inf_in_pos_raises_naming_the_node(value):
    model, batch = make_model(), jets()
    with pytest.raises(ValueError, match="pos contains NaN or Inf at node 17"):
        model(batch.x, with_pos(batch, 17, value), batch.edge_index, batch.batch)


def test_nan_in_node_scalars_raises_naming_the_node():
    model, batch = make_model(), jets()
    x = batch.x.clone()
    x[5, 0] = float("nan")
    with pytest.raises(ValueError, match="x contains NaN or Inf at node 5"):
        model(x, batch.pos, batch.edge_index, batch.batch)


def test_pos_so_large_that_products_overflow_float32_raises():
    model, batch = make_model(), jets()
    with pytest.raises(
        ValueError, match=r"magnitude 1e\+30 at node 17; ⟨x, x⟩_J overflows float32"
    ):
        model(batch.x, with_pos(batch, 17, 1e30), batch.edge_index, batch.batch)


def test_same_large_pos_is_accepted_and_finite_in_float64():
    model, batch = make_model().double(), jets(dtype=torch.float64)
    out = model(batch.x, with_pos(batch, 17, 1e30), batch.edge_index, batch.batch)
    assert torch.isfinite(out).all()


def test_complex_pos_raises_instead_of_dropping_the_imaginary_part():
    model, batch = make_model(), jets()
    with pytest.raises(ValueError, match="pos is complex; LieGNN needs real coordinates"):
        model(batch.x, batch.pos.to(torch.complex64), batch.edge_index, batch.batch)


def test_bfloat16_autocast_gives_finite_outputs_close_to_float32_on_300_gev_jets():
    model, batch = make_model(), jets()
    ref = model(batch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch)
    assert torch.isfinite(out).all()
    assert rel(out.float(), ref) < 0.05


def test_half_precision_model_gives_finite_outputs_close_to_float32_on_300_gev_jets():
    model, half = make_model(), jets(dtype=torch.float16)  # LorentzNetInputs on float16 momenta
    assert half.pos[:, 0].max() > 256  # E² overflows float16
    rounded = [LorentzNetInputs()(Data(pos=d.pos[2:].float())) for d in half.to_data_list()]
    ref = model(Batch.from_data_list(rounded))  # float32 on the same float16-rounded momenta
    out = model.half()(half)
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    assert rel(out.float(), ref) < 0.05


def test_half_precision_model_rejects_pos_beyond_the_float16_range():
    model, batch = make_model().half(), jets()
    with pytest.raises(ValueError, match="magnitude 1e\\+05 at node 17, beyond half the range"):
        model(batch.x.half(), with_pos(batch, 17, 1e5), batch.edge_index, batch.batch)


def test_rejected_nan_batch_in_train_mode_leaves_batchnorm_statistics_unchanged():
    model, batch = make_model(), jets()
    clean = model(batch)
    stats = {
        k: v.clone() for k, v in model.state_dict().items() if "running" in k or "tracked" in k
    }
    assert stats
    model.train()
    with pytest.raises(ValueError, match="NaN or Inf"):
        model(batch.x, with_pos(batch, 3, float("nan")), batch.edge_index, batch.batch)
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in stats.items())
    out = model.eval()(batch)
    assert torch.isfinite(out).all() and torch.equal(out, clean)


def test_check_inputs_false_skips_the_checks():
    model, batch = make_model(check_inputs=False), jets()
    assert not any(conv.check_inputs for conv in model.convs)
    out = model(batch.x, with_pos(batch, 17, float("nan")), batch.edge_index, batch.batch)
    assert torch.isnan(out).any()


def test_checks_are_skipped_while_compiling(monkeypatch):
    model, batch = make_model(), jets()
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    out = model(batch.x, with_pos(batch, 17, float("nan")), batch.edge_index, batch.batch)
    assert torch.isnan(out).any()


def test_model_checks_once_and_its_blocks_do_not_check_again():
    model = make_model()
    assert model.check_inputs and not any(conv.check_inputs for conv in model.convs)


def conv_inputs(batch, channels=8):
    torch.manual_seed(1)
    return torch.randn(batch.num_nodes, channels), batch.pos, batch.edge_index, batch.x


@pytest.mark.parametrize("name", ["h", "pos", "scalars"])
def test_conv_rejects_nan_in_any_node_input_naming_it(name):
    conv = LieGNNConv("minkowski", 8, 2).train()
    inputs = dict(zip(["h", "pos", "edge_index", "scalars"], conv_inputs(jets()), strict=True))
    inputs[name] = inputs[name].clone()
    inputs[name][4, 1] = float("nan")
    before = conv.phi_e[1].running_mean.clone()
    with pytest.raises(ValueError, match=f"{name} contains NaN or Inf at node 4"):
        conv(**inputs)
    assert torch.equal(conv.phi_e[1].running_mean, before)


def test_conv_rejects_complex_and_huge_pos():
    conv = LieGNNConv("minkowski", 8, 2)
    h, pos, ei, s = conv_inputs(jets())
    with pytest.raises(ValueError, match="pos is complex"):
        conv(h, pos.to(torch.complex64), ei, s)
    with pytest.raises(ValueError, match="overflows float32"):
        conv(h, pos * 1e20, ei, s)


def test_conv_with_check_inputs_false_propagates_nan():
    conv = LieGNNConv("minkowski", 8, 2, check_inputs=False).eval()
    h, pos, ei, s = conv_inputs(jets())
    pos = pos.clone()
    pos[4, 1] = float("nan")
    out_h, _ = conv(h, pos, ei, s)
    assert torch.isnan(out_h).any()


def test_conv_computes_invariants_in_float32_for_half_inputs():
    torch.manual_seed(0)
    conv = LieGNNConv("minkowski", 8, 2).eval()
    with torch.no_grad():  # non-trivial coordinate update
        nn.init.normal_(conv.phi_x[2].weight, std=0.1)
    h, pos, ei, s = (t.half() if t.is_floating_point() else t for t in conv_inputs(jets()))
    ref_h, ref_x = conv(h.float(), pos.float(), ei, s.float())
    out_h, out_x = conv.half()(h, pos, ei, s)
    assert out_h.dtype == out_x.dtype == torch.float16
    assert torch.isfinite(out_h).all() and torch.isfinite(out_x).all()
    assert rel(out_h.float(), ref_h) < 0.01 and rel(out_x.float(), ref_x) < 0.01

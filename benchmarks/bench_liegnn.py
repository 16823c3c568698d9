"""Speed of LieGNN (LorentzNet configuration, 6 × 72) against the public LorentzNet way.

The baseline below is written the way the public LorentzNet release computes its block: jets
zero-padded to the longest in the batch, edges among the real particles of the padded layout,
the first edge layer applied to the per-edge concatenation [h_i, h_j, ‖x_i − x_j‖², ⟨x_i, x_j⟩],
aggregation by ``index_add_``, node updates on every padded slot. It differs from the release
in one place only: its readout divides by each jet's true multiplicity (the release divides by
the padded length), so that both models compute the same function.

LieGNN runs twice: ``liegnn-plain`` (message passing over E × F edge tensors, the reference)
and ``liegnn-fused`` (the fused edge block of :mod:`liegnn.nn.edge_block`: chunks of
receiver-sorted edges, recomputed in backward). All three are first checked to give the same
outputs and gradients with the same weights (float64), then timed on synthetic jets of varied
multiplicity: training (forward + backward + AdamW step) and inference, in jets/s; the first
training step (warm-up); peak memory per step; matmul FLOPs per step (``FlopCounterMode``) and
an estimate of the bytes moved to and from memory (every operator's inputs and outputs of at
least ``--cache-mb``, which would not stay in cache), each as a fraction of this device's
measured float32 matmul throughput and copy bandwidth. Each (model, batch size) measures its
memory in its own subprocess so that peak memory is its own. ``--lorentznet-path`` adds the
public release's own model class (``models.py`` of sdogsq/LorentzNet-release, fetched by the
user outside this repository) on the same padded batches.

    python benchmarks/bench_liegnn.py                      # CPU, batch 32 64
    python benchmarks/bench_liegnn.py --batch-sizes 32 --lorentznet-path /tmp/lorentznet
    python benchmarks/bench_liegnn.py --device cuda --batch-sizes 32 64 128 256
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch_geometric.data import Batch, Data

from liegnn._atomic import atomic_write_json
from liegnn.nn.graphs import LorentzNetInputs
from liegnn.nn.liegnn import LieGNN
from liegnn.nn.psi import psi

# ----------------------------------------------------------------------------- synthetic jets


def synthetic_jets(num: int, seed: int, multiplicity: str = "lognormal") -> list[torch.Tensor]:
    """Jets of massive-pion-like constituents around a random axis, pT_jet ≈ 600 GeV.

    Multiplicity: ``"lognormal"`` (median 50, σ_log 0.45: mean ≈ 55, like top-tagging jets) or
    ``"uniform"``, both within [20, 200].
    """
    g = torch.Generator().manual_seed(seed)
    if multiplicity == "lognormal":
        n = torch.exp(math.log(50) + 0.45 * torch.randn(num, generator=g)).round()
    else:
        n = torch.randint(20, 201, (num,), generator=g).double()
    n = n.clamp(20, 200).long()
    jets = []
    for k in n.tolist():
        frac = -torch.rand(k, generator=g).log()  # exponential momentum fractions
        frac = frac / frac.sum()
        pt = 600.0 * frac.sort(descending=True).values
        eta0 = 4 * torch.rand(1, generator=g) - 2
        phi0 = 2 * math.pi * torch.rand(1, generator=g)
        eta = eta0 + 0.2 * torch.randn(k, generator=g)
        phi = phi0 + 0.2 * torch.randn(k, generator=g)
        p = torch.stack([pt * phi.cos(), pt * phi.sin(), pt * eta.sinh()], -1)
        e = (p.pow(2).sum(-1) + 0.1396**2).sqrt()
        jets.append(torch.cat([e[:, None], p], -1).float())
    return jets


def pyg_batch(jets: list[torch.Tensor], labels: torch.Tensor) -> Batch:
    t = LorentzNetInputs()
    return Batch.from_data_list(
        [t(Data(pos=p, y=y.view(1))) for p, y in zip(jets, labels, strict=True)]
    )


def padded_batch(batch: Batch) -> dict[str, torch.Tensor]:
    """The release's collated layout: (B, N_max, ·) zero-padded, edges among real particles."""
    sizes = torch.bincount(batch.batch)
    B, N = len(sizes), int(sizes.max())
    slot = torch.arange(batch.num_nodes) - batch.ptr[batch.batch]
    flat = batch.batch * N + slot
    pos = batch.pos.new_zeros(B * N, 4).index_copy_(0, flat, batch.pos)
    scalars = batch.x.new_zeros(B * N, batch.x.size(1)).index_copy_(0, flat, batch.x)
    mask = torch.zeros(B * N, dtype=torch.bool).index_fill_(0, flat, True).view(B, N)
    edge_mask = (mask[:, :, None] & mask[:, None, :]) & ~torch.eye(N, dtype=torch.bool)
    b, i, j = edge_mask.nonzero(as_tuple=True)
    return dict(
        scalars=scalars,
        pos=pos,
        edges=torch.stack([b * N + i, b * N + j]),
        node_mask=mask.view(-1, 1).to(pos.dtype),
        n_nodes=N,
        counts=sizes.to(pos.dtype),
        y=batch.y,
    )


# ----------------------------------------------------------------------------- baseline


def _segment_sum(data, index, n):
    return data.new_zeros(n, data.size(1)).index_add_(0, index, data)


def _segment_mean(data, index, n):
    total = data.new_zeros(n, data.size(1)).index_add_(0, index, data)
    count = data.new_zeros(n, data.size(1)).index_add_(0, index, torch.ones_like(data))
    return total / count.clamp(min=1)


def _minkowski(p, q):
    return 2 * p[..., 0] * q[..., 0] - (p * q).sum(-1)


class BaselineBlock(nn.Module):
    """LorentzNet's block as the public code computes it."""

    def __init__(self, hidden: int, n_scalars: int, c_weight: float, last: bool):
        super().__init__()
        self.c_weight, self.last = c_weight, last
        self.phi_e = nn.Sequential(
            nn.Linear(2 * hidden + 2, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
        )
        self.phi_h = nn.Sequential(
            nn.Linear(2 * hidden + n_scalars, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
        )
        self.phi_m = nn.Sequential(nn.Linear(hidden, 1), nn.Sigmoid())
        if not last:
            self.phi_x = nn.Sequential(
                nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1, bias=False)
            )

    def forward(self, h, x, edges, scalars):
        i, j = edges
        x_diff = x[i] - x[j]
        norms = psi(_minkowski(x_diff, x_diff)).unsqueeze(1)
        dots = psi(_minkowski(x[i], x[j])).unsqueeze(1)
        m = self.phi_e(torch.cat([h[i], h[j], norms, dots], dim=1))
        m = m * self.phi_m(m)
        if not self.last:
            trans = (x_diff * self.phi_x(m)).clamp(-100, 100)
            x = x + self.c_weight * _segment_mean(trans, i, x.size(0))
        agg = _segment_sum(m, i, h.size(0))
        h = h + self.phi_h(torch.cat([h, agg, scalars], dim=1))
        return h, x


class BaselineLorentzNet(nn.Module):
    def __init__(self, n_scalars=2, hidden=72, n_classes=2, n_layers=6, c_weight=5e-3, dropout=0.2):
        super().__init__()
        self.hidden = hidden
        self.embedding = nn.Linear(n_scalars, hidden)
        self.LGEBs = nn.ModuleList(
            BaselineBlock(hidden, n_scalars, c_weight, last=k == n_layers - 1)
            for k in range(n_layers)
        )
        self.graph_dec = nn.Sequential(
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes)
        )

    def forward(self, scalars, pos, edges, node_mask, n_nodes, counts):
        h = self.embedding(scalars)
        for block in self.LGEBs:
            h, pos = block(h, pos, edges, scalars)
        h = (h * node_mask).view(-1, n_nodes, self.hidden).sum(1) / counts[:, None]
        return self.graph_dec(h)


def copy_weights(liegnn: LieGNN, baseline: BaselineLorentzNet) -> None:
    state = {
        k.replace("convs.", "LGEBs.").replace("decoder.", "graph_dec."): v
        for k, v in liegnn.state_dict().items()
        if not k.endswith("metric.J")
    }
    baseline.load_state_dict(state)


# ----------------------------------------------------------------------------- runners


LORENTZNET_PATH = None  # folder holding the release's models.py (--lorentznet-path)


def input_kind(impl: str) -> str:
    """``"padded"`` for the baseline and the release, ``"pyg"`` for LieGNN."""
    return "padded" if impl in ("baseline", "lorentznet") else "pyg"


def make_model(impl: str, dropout: float = 0.2):
    if impl == "baseline":
        return BaselineLorentzNet(dropout=dropout)
    if impl == "lorentznet":
        if LORENTZNET_PATH not in sys.path:
            sys.path.insert(0, LORENTZNET_PATH)
        from models import LorentzNet  # the release's class, from outside this repository

        return LorentzNet(n_scalar=2, n_hidden=72, n_class=2, n_layers=6, c_weight=5e-3,
                          dropout=dropout)  # fmt: skip
    fused = impl.startswith("liegnn-fused")
    return LieGNN("minkowski", in_scalars=2, dropout=dropout, fused=fused)


def run_model(impl, model, inputs):
    if impl == "baseline":
        return model(
            inputs["scalars"],
            inputs["pos"],
            inputs["edges"],
            inputs["node_mask"],
            inputs["n_nodes"],
            inputs["counts"],
        )
    if impl == "lorentznet":
        return model(
            scalars=inputs["scalars"],
            x=inputs["pos"],
            edges=list(inputs["edges"]),
            node_mask=inputs["node_mask"],
            edge_mask=None,
            n_nodes=inputs["n_nodes"],
        )
    return model(inputs)


def to_device(impl, inputs, device, dtype=torch.float32):
    if input_kind(impl) == "padded":
        return {
            k: v.to(device, dtype if v.is_floating_point() else None)
            if isinstance(v, torch.Tensor)
            else v
            for k, v in inputs.items()
        }
    out = inputs.clone().to(device)
    out.x, out.pos = out.x.to(dtype), out.pos.to(dtype)
    return out


def check_same_function(seed: int = 0) -> dict[str, float]:
    """Relative difference of outputs and gradients (float64) of each LieGNN path against the
    baseline, eval and train mode."""
    result = {}
    impls = ("liegnn-plain", "liegnn-fused")
    for mode, sizes in (("eval", None), ("train", 40)):
        torch.manual_seed(seed)
        jets = synthetic_jets(6, seed)
        if sizes is not None:  # equal sizes: no padding, so BatchNorm sees the same rows
            jets = [j[:sizes] for j in jets if len(j) >= sizes]
        labels = torch.randint(0, 2, (len(jets),))
        batch = pyg_batch(jets, labels)
        models = {impl: make_model(impl, dropout=0.0).double() for impl in impls}
        ours = models["liegnn-plain"]
        with torch.no_grad():  # non-trivial BatchNorm statistics
            for module in ours.modules():
                if isinstance(module, nn.BatchNorm1d):
                    module.running_mean.normal_(0, 0.5)
                    module.running_var.uniform_(0.5, 2.0)
                    module.weight.uniform_(0.5, 1.5)
                    module.bias.normal_(0, 0.1)
        models["liegnn-fused"].load_state_dict(ours.state_dict())
        models["baseline"] = make_model("baseline", dropout=0.0).double()
        copy_weights(ours, models["baseline"])
        outs, grads = {}, {}
        for impl, model in models.items():
            model.train(mode == "train")
            data = batch if input_kind(impl) == "pyg" else padded_batch(batch)
            out = run_model(impl, model, to_device(impl, data, "cpu", torch.float64))
            nn.functional.cross_entropy(out, labels).backward()
            outs[impl] = out.detach()
            named = {
                k.replace("convs.", "LGEBs.").replace("decoder.", "graph_dec."): v
                for k, v in model.named_parameters()
            }
            grads[impl] = torch.cat([named[k].grad.flatten() for k in sorted(named)])
        rel = lambda a, b: float((a - b).norm() / b.norm())
        for impl in impls:
            result[f"{mode}_{impl}_output_rel_diff"] = rel(outs[impl], outs["baseline"])
            result[f"{mode}_{impl}_grad_rel_diff"] = rel(grads[impl], grads["baseline"])
    return result


def matmul_peak(device: str, size: int = 2048, repeats: int = 10) -> float:
    """Measured float32 matmul throughput (FLOP/s) on this device, best of ``repeats``."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    best = math.inf
    for _ in range(repeats + 2):
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best


def copy_bandwidth(device: str, megabytes: int = 256, repeats: int = 5) -> float:
    """Measured memory bandwidth (bytes/s) of a ``copy_`` of ``megabytes`` (read + write),
    best of ``repeats``."""
    src = torch.empty(megabytes * 2**18, device=device).fill_(1.0)
    dst = torch.empty_like(src).fill_(0.0)
    best = math.inf
    for _ in range(repeats + 1):
        _sync(device)
        t = time.perf_counter()
        dst.copy_(src)
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * src.numel() * src.element_size() / best


class BytesMoved(TorchDispatchMode):
    """Bytes of every operator's tensor inputs and outputs, counting only tensors of at least
    ``threshold`` bytes: an estimate of the traffic to memory, assuming smaller tensors stay
    in cache (a chunk of the fused block) and larger ones do not (an E × F edge tensor)."""

    def __init__(self, threshold: int):
        super().__init__()
        self.threshold, self.total = threshold, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten((args, kwargs, out))[0]:
            if isinstance(t, torch.Tensor):
                size = t.numel() * t.element_size()
                if size >= self.threshold:
                    self.total += size
        return out


def _addmm_flops(self_shape, a_shape, b_shape, out_shape=None, **kwargs) -> int:
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_bytes() -> int:
    """VmHWM: this process's peak RSS (ru_maxrss would include the parent's, inherited at fork)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _reset_peak_rss() -> None:
    try:  # Linux >= 4.0: writing 5 resets VmHWM to the current RSS
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


class Setup:
    """One implementation at one batch size: model, optimiser, a pool of device batches."""

    def __init__(self, impl, batches, device, seed, compile=False):
        self.impl, self.device = impl, device
        self.kind = impl.removesuffix("+compile")
        pyg = input_kind(impl) == "pyg"
        self.inputs = [to_device(impl, b if pyg else padded_batch(b), device) for b in batches]
        self.targets = [b.y.to(device) for b in batches]
        torch.manual_seed(seed)
        ours = make_model("liegnn-plain")
        if pyg:
            self.model = make_model(self.kind)
            self.model.load_state_dict(ours.state_dict())
        else:
            self.model = make_model(self.kind)
            copy_weights(ours, self.model)
        self.model.to(device)
        self.run = torch.compile(self.model, dynamic=True) if compile else self.model
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-3, weight_decay=0.01)

    def forward(self, k):
        return run_model(self.kind, self.run, self.inputs[k % len(self.inputs)])

    def train_step(self, k):
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(self.forward(k), self.targets[k % len(self.targets)])
        loss.backward()
        self.opt.step()

    def infer_step(self, k):
        self.model.eval()
        with torch.inference_mode():
            self.forward(k)

    def timed(self, phase, k) -> float:
        step = self.train_step if phase == "train" else self.infer_step
        _sync(self.device)
        t = time.perf_counter()
        step(k)
        _sync(self.device)
        return time.perf_counter() - t

    def peak_memory(self) -> dict[str, float]:
        """Peak memory (MB) of an inference step, then a training step, above the state before."""
        cuda = str(self.device).startswith("cuda")
        _sync(self.device)
        base = torch.cuda.memory_allocated() if cuda else _rss_bytes()
        res = {}
        for phase in ("infer", "train"):
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            else:
                _reset_peak_rss()
            getattr(self, f"{phase}_step")(0)
            _sync(self.device)
            peak = torch.cuda.max_memory_allocated() if cuda else _peak_rss_bytes()
            res[f"{phase}_peak_mem_mb"] = (peak - base) / 2**20
        return res

    def train_cost(self, cache_bytes: int) -> tuple[float, float]:
        """Matmul FLOPs and bytes moved (see :class:`BytesMoved`) of a forward + backward,
        averaged over the pool."""
        from torch.utils.flop_counter import FlopCounterMode

        # the fused block accumulates its gradients with the in-place addmm_, uncounted by default
        in_place = {torch.ops.aten.addmm_: _addmm_flops}
        self.model.train()
        flops = moved = 0
        for k in range(len(self.inputs)):
            with (
                FlopCounterMode(display=False, custom_mapping=in_place) as counter,
                BytesMoved(cache_bytes) as traffic,
            ):
                out = run_model(self.kind, self.model, self.inputs[k])
                nn.functional.cross_entropy(out, self.targets[k]).backward()
            flops += counter.get_total_flops()
            moved += traffic.total
        self.model.zero_grad(set_to_none=True)
        return flops / len(self.inputs), moved / len(self.inputs)


def make_batches(batch_size, pool, seed, multiplicity):
    jets = synthetic_jets(batch_size * pool, seed, multiplicity)
    labels = torch.randint(0, 2, (len(jets),), generator=torch.Generator().manual_seed(seed + 1))
    return [
        pyg_batch(
            jets[k * batch_size : (k + 1) * batch_size],
            labels[k * batch_size : (k + 1) * batch_size],
        )
        for k in range(pool)
    ]


def memory_worker(cfg: dict) -> dict:
    """CPU peak memory in a fresh process, so that no other setup's memory is counted."""
    global LORENTZNET_PATH
    LORENTZNET_PATH = cfg.get("lorentznet_path")
    torch.set_num_threads(cfg["threads"])
    batches = make_batches(cfg["batch_size"], cfg["pool"], cfg["seed"], cfg["multiplicity"])[:1]
    setup = Setup(cfg["impl"], batches, "cpu", cfg["seed"], compile=cfg["compile"])
    if cfg["compile"]:  # compilation's own memory is not the model's
        setup.train_step(0)
        setup.infer_step(0)
    return setup.peak_memory()


def measure_memory(cfg: dict) -> dict:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")  # freed blocks leave the RSS at once
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--memory-worker", json.dumps(cfg)],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        raise SystemExit(f"memory worker failed for {cfg}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    global LORENTZNET_PATH
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=None, help="timed training steps per model")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--pool", type=int, default=3, help="distinct batches cycled through")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--multiplicity", default="lognormal", choices=["lognormal", "uniform"])
    parser.add_argument("--compile", action="store_true", help="also time torch.compile(LieGNN)")
    parser.add_argument(
        "--lorentznet-path",
        help="folder with the public release's models.py: also time its LorentzNet class",
    )
    parser.add_argument(
        "--cache-mb", type=float, default=4.0, help="tensors below this stay in cache (bytes moved)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/bench_liegnn.json")
    parser.add_argument("--memory-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.memory_worker:
        print(json.dumps(memory_worker(json.loads(args.memory_worker))))
        return

    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    if args.lorentznet_path:
        LORENTZNET_PATH = os.path.abspath(args.lorentznet_path)
        if not os.path.isfile(os.path.join(LORENTZNET_PATH, "models.py")):
            raise SystemExit(f"--lorentznet-path: no models.py in {LORENTZNET_PATH}")
    batch_sizes = args.batch_sizes or ([32, 64, 128, 256] if cuda else [32, 64])
    steps = args.steps or (20 if cuda else 3)
    torch.set_num_threads(args.threads)

    check = check_same_function(args.seed)
    print(
        "same function as the baseline (float64, same weights): "
        + ", ".join(f"{k} {v:.1e}" for k, v in check.items())
    )
    if max(check.values()) > 1e-9:
        raise SystemExit("LieGNN and the baseline disagree; timings would be meaningless")
    peak = matmul_peak(args.device, size=8192 if cuda else 2048)
    bandwidth = copy_bandwidth(args.device, megabytes=1024 if cuda else 256)
    device_name = torch.cuda.get_device_name() if cuda else f"CPU, {args.threads} threads"
    print(
        f"device: {device_name}; measured float32 matmul peak {peak / 1e12:.3f} TFLOP/s, "
        f"copy bandwidth {bandwidth / 1e9:.1f} GB/s"
    )
    print(
        f"jets: {args.multiplicity} multiplicity in [20, 200]; "
        f"{steps} timed training steps per model, interleaved"
    )

    impls = ["baseline", "liegnn-plain", "liegnn-fused"]
    impls += ["liegnn-plain+compile"] if args.compile else []
    impls += ["lorentznet"] if args.lorentznet_path else []
    rows = []
    for bs in batch_sizes:
        batches = make_batches(bs, args.pool, args.seed, args.multiplicity)
        setups = {
            impl: Setup(impl, batches, args.device, args.seed, compile=impl.endswith("compile"))
            for impl in impls
        }
        warmup = {impl: setup.timed("train", 0) for impl, setup in setups.items()}
        cost = {impl: setups[impl].train_cost(int(args.cache_mb * 2**20)) for impl in impls}
        times = {(impl, phase): [] for impl in impls for phase in ("train", "infer")}
        for phase, n in (("train", steps), ("infer", 2 * steps)):
            for k in range(args.warmup + (2 if args.compile else 0)):
                for setup in setups.values():
                    setup.timed(phase, k)
            for k in range(n):  # interleaved, so that a drifting load hits every model alike
                for impl, setup in setups.items():
                    times[impl, phase].append(setup.timed(phase, k))
        for impl in impls:
            if cuda:  # the CUDA allocator's peak counter is exact, also in this process
                mem = setups[impl].peak_memory()
            else:
                cfg = dict(impl=impl, compile=impl.endswith("compile"), batch_size=bs)
                cfg.update(pool=args.pool, threads=args.threads, seed=args.seed)
                cfg.update(lorentznet_path=LORENTZNET_PATH)
                mem = measure_memory(dict(cfg, multiplicity=args.multiplicity))
            row = dict(impl=impl, batch_size=bs, **mem)
            row["edges_per_batch"] = sum(b.edge_index.size(1) for b in batches) / len(batches)
            row["warmup_s"] = warmup[impl]
            for phase in ("train", "infer"):
                t = times[impl, phase]
                row[f"{phase}_s_per_step"] = sorted(t)[len(t) // 2]
                row[f"{phase}_jets_per_s"] = bs * len(t) / sum(t)
                paired = [b / o for b, o in zip(times["baseline", phase], t, strict=True)]
                row[f"{phase}_speedup"] = sorted(paired)[len(paired) // 2]
            flops, moved = cost[impl]
            row["train_gflop_per_step"] = flops / 1e9
            row["train_gb_moved_per_step"] = moved / 1e9
            row["train_tflops"] = flops / row["train_s_per_step"] / 1e12
            row["matmul_fraction"] = row["train_tflops"] * 1e12 / peak
            row["bandwidth_fraction"] = moved / row["train_s_per_step"] / bandwidth
            rows.append(row)
        print(f"  done: batch {bs}", flush=True)
        del setups

    header = (
        f"{'model':<21}{'batch':>6}{'edges':>8}{'train jets/s':>13}{'infer jets/s':>13}"
        f"{'train MB':>9}{'infer MB':>9}{'GFLOP':>7}{'GB':>6}{'of mm':>7}{'of BW':>7}"
        f"{'warm-up s':>10}{'train ×':>8}{'infer ×':>8}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['impl']:<21}{r['batch_size']:>6}{r['edges_per_batch']:>8.0f}"
            f"{r['train_jets_per_s']:>13.1f}{r['infer_jets_per_s']:>13.1f}"
            f"{r['train_peak_mem_mb']:>9.0f}{r['infer_peak_mem_mb']:>9.0f}"
            f"{r['train_gflop_per_step']:>7.1f}{r['train_gb_moved_per_step']:>6.1f}"
            f"{100 * r['matmul_fraction']:>6.1f}%{100 * r['bandwidth_fraction']:>6.1f}%"
            f"{r['warmup_s']:>10.2f}{r['train_speedup']:>8.2f}{r['infer_speedup']:>8.2f}"
        )
    print(
        "GFLOP: matmul FLOPs of a training step; GB: bytes moved by tensors of at least "
        f"{args.cache_mb:g} MB; of mm / of BW: their rates over the measured peaks; "
        "× = median over steps of (baseline step time / this step time), same batch and load"
    )

    result = dict(
        command=" ".join([os.path.basename(sys.executable), *sys.argv]),
        device=device_name,
        torch=torch.__version__,
        threads=args.threads,
        matmul_peak_tflops=peak / 1e12,
        copy_bandwidth_gb_s=bandwidth / 1e9,
        cache_mb=args.cache_mb,
        multiplicity=args.multiplicity,
        steps=steps,
        same_function=check,
        rows=rows,
    )
    atomic_write_json(result, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

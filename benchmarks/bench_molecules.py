"""Speed on molecules: LieGNN (J = I, EGNN's layer; fused and plain) against the e3nn gate
network and PyG's SchNet, on QM9-like complete graphs.

Synthetic molecules of 10–27 atoms (mean 18.5, QM9's range) with QM9's species (H, C, N, O, F)
at Gaussian positions (σ = 1.5 Å), through :class:`liegnn.nn.graphs.MoleculeGraph` (one-hot
species, centred positions, complete graph); one regression target. Training = forward +
backward + AdamW step on the MSE; inference under ``torch.inference_mode``. The models alternate
step by step on the same batches (a changing machine load hits all alike); molecules/s from the
median step time. SchNet gets the same complete graphs (PyG's radius graph needs
``torch_cluster``, and a 10 Å cutoff holds every pair of these molecules anyway).

    python benchmarks/bench_molecules.py                       # batch 128, this machine's threads
    python benchmarks/bench_molecules.py --threads 1 --steps 5
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch
from torch import nn
from torch_geometric.data import Batch, Data

from liegnn._atomic import atomic_write_json
from liegnn.nn.graphs import MoleculeGraph, complete_graph_from_batch
from liegnn.nn.liegnn import LieGNN

SPECIES = torch.tensor([1, 6, 7, 8, 9])
FREQUENCY = torch.tensor([0.51, 0.35, 0.06, 0.08, 0.002])  # QM9's atoms by species, roughly


def molecules(num: int, seed: int) -> list[Data]:
    g = torch.Generator().manual_seed(seed)
    to_graph = MoleculeGraph()
    data = []
    for n in torch.randint(10, 28, (num,), generator=g).tolist():
        z = SPECIES[torch.multinomial(FREQUENCY, n, replacement=True, generator=g)]
        pos = 1.5 * torch.randn(n, 3, generator=g)
        data.append(to_graph(Data(z=z, pos=pos, y=torch.randn(1, 1, generator=g))))
    return data


def complete_interaction_graph(pos: torch.Tensor, batch: torch.Tensor):
    """SchNet's interaction graph: every ordered pair of a molecule, with its distance."""
    edge_index = complete_graph_from_batch(batch)
    return edge_index, (pos[edge_index[0]] - pos[edge_index[1]]).norm(dim=-1)


def make_model(name: str, hidden: int, n_layers: int) -> nn.Module:
    if name.startswith("liegnn"):
        fused = name == "liegnn-fused"
        return LieGNN.egnn(5, hidden=hidden, n_layers=n_layers, out_dim=1, readout="sum",
                           fused=fused)  # fmt: skip
    if name == "e3nn":
        from liegnn.nn.e3nn_gate import E3nnGateNetwork

        return E3nnGateNetwork(5, 1, mul=hidden // 2, n_layers=max(1, n_layers // 2))
    if name == "schnet":
        from torch_geometric.nn.models import SchNet

        return SchNet(hidden_channels=hidden, num_filters=hidden, num_interactions=n_layers,
                      cutoff=10.0, interaction_graph=complete_interaction_graph)  # fmt: skip
    raise ValueError(f"unknown model {name!r}")


def run(name: str, model: nn.Module, batch: Batch) -> torch.Tensor:
    if name == "schnet":
        return model(batch.z, batch.pos, batch.batch)
    return model(batch)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--hidden", type=int, default=128, help="channels (e3nn: half)")
    parser.add_argument("--layers", type=int, default=7, help="blocks (e3nn: half)")
    parser.add_argument(
        "--models", nargs="+", default=["liegnn-fused", "liegnn-plain", "e3nn", "schnet"]
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/bench_molecules.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    batches = [Batch.from_data_list(molecules(args.batch_size, args.seed + k)) for k in range(2)]
    setups = {}
    for name in args.models:
        torch.manual_seed(args.seed)
        model = make_model(name, args.hidden, args.layers)
        setups[name] = (model, torch.optim.AdamW(model.parameters(), lr=1e-3))

    def step(name: str, k: int, train: bool) -> float:
        model, opt = setups[name]
        batch = batches[k % len(batches)]
        t = time.perf_counter()
        if train:
            model.train()
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.mse_loss(run(name, model, batch).view(-1), batch.y.view(-1))
            loss.backward()
            opt.step()
        else:
            model.eval()
            with torch.inference_mode():
                run(name, model, batch)
        return time.perf_counter() - t

    warmup = {name: step(name, 0, True) for name in setups}
    times = {(name, train): [] for name in setups for train in (True, False)}
    for train in (True, False):
        for k in range(args.steps):  # interleaved
            for name in setups:
                times[name, train].append(step(name, k + 1, train))
    rows = []
    edges = sum(b.edge_index.size(1) for b in batches) / len(batches)
    for name, (model, _) in setups.items():
        med = {t: sorted(times[name, t])[len(times[name, t]) // 2] for t in (True, False)}
        rows.append(
            dict(
                model=name,
                parameters=sum(p.numel() for p in model.parameters()),
                train_molecules_per_s=args.batch_size / med[True],
                infer_molecules_per_s=args.batch_size / med[False],
                warmup_s=warmup[name],
            )
        )
    print(
        f"CPU, {args.threads} threads; batch {args.batch_size} molecules, "
        f"{edges:.0f} edges; median of {args.steps} interleaved steps"
    )
    print(f"{'model':<14}{'parameters':>11}{'train mol/s':>13}{'infer mol/s':>13}{'warm-up s':>11}")
    for r in rows:
        print(
            f"{r['model']:<14}{r['parameters']:>11,}{r['train_molecules_per_s']:>13.1f}"
            f"{r['infer_molecules_per_s']:>13.1f}{r['warmup_s']:>11.2f}"
        )
    result = dict(
        command=" ".join([os.path.basename(sys.executable), *sys.argv]),
        device=f"CPU, {args.threads} threads",
        torch=torch.__version__,
        batch_size=args.batch_size,
        edges_per_batch=edges,
        steps=args.steps,
        rows=rows,
    )
    atomic_write_json(result, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

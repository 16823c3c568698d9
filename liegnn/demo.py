"""The README's main job: discovery → metric → model on the 2-body problem, in about a minute.

1. **Discover** (LieGAN, Sec. 6.2): one 8×8 generator acting on (q1, p1, q2, p2) of every step of
   2-body orbit windows, searched within the paper's block mask; compared with the true rotation.
2. **Metric** (Prop. 1): ``result.symmetry.block([0, 1]).metric()``, the metric of the found
   symmetry's action on q1 (a 2×2 block of its generator), gives the invariant
   inner product of the plane (the Euclidean one, up to noise).
3. **Model** (LieGNN, Sec. 5.3): a LieGNN with that metric learns the orbit's energy
   H = Σ|p_i|²/2 − 1/|q1 − q2| from graphs of the four vectors (q1, q2, p1, p2), trained in a plain
   PyG loop and tested on the out-of-distribution (polar-angle) split; its output is checked to be
   invariant under the discovered group.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

__all__ = ["run_demo"]


def _energy_graphs(states: torch.Tensor, energies: torch.Tensor) -> list:
    """One PyG graph per state (q1, p1, q2, p2): nodes q1, q2, p1, p2 in R², one-hot q / p."""
    from torch_geometric.data import Data

    from .nn.graphs import complete_graph

    s = states.reshape(-1, 2, 2, 2)  # (N, body, q|p, xy)
    pos = torch.stack([s[:, 0, 0], s[:, 1, 0], s[:, 0, 1], s[:, 1, 1]], dim=1)  # (N, 4, 2)
    kind = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    edge_index = complete_graph([4])
    return [
        Data(x=kind, pos=p, edge_index=edge_index, y=e.reshape(1, 1))
        for p, e in zip(pos, energies, strict=True)
    ]


def _rotate_states(states: torch.Tensor, generator: torch.Tensor, angle: float) -> torch.Tensor:
    """Apply exp(angle · L) (8×8) to states (N, 8)."""
    g = torch.linalg.matrix_exp(angle * generator.to(states.dtype))
    return states @ g.T


def run_demo(
    out: str | Path = "results/demo",
    *,
    seed: int = 0,
    device: str = "cpu",
    quick: bool = False,
    progress: bool = True,
) -> dict:
    """Run discovery → metric → LieGNN and write ``basis.pt``, ``generators.png`` and
    ``summary.json`` to ``out``. Returns the summary.

    Raises ValueError, before any data is made or written, when ``device`` is CUDA and CUDA is
    not available."""
    from torch_geometric.loader import DataLoader

    from .algebra import channel_cosine
    from .datasets.nbody import energy, load_nbody, rotation_generator
    from .discovery import LieGAN
    from .discovery._training import as_device
    from .discovery.tasks.nbody import recipe as nbody_recipe
    from .metric import metric_similarity
    from .nn import LieGNN

    as_device(device)  # the check LieGAN makes, before the orbits are simulated
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    summary: dict = {"seed": seed, "device": device}

    # 1. discovery ------------------------------------------------------------------------------
    n_traj = 200 if quick else 1000
    data = load_nbody(n_bodies=2, split="polar", seed=seed, n_trajectories=n_traj)
    truth = rotation_generator(2)
    print(f"[1/3] LieGAN on {len(data.x_train)} windows of 2-body orbits (5 + 5 steps, 8-dim)")
    gan = LieGAN(**nbody_recipe(2), seed=seed, device=device)
    # the settings of benchmarks/bench_discovery.py: 25 batches an epoch, 40 epochs
    epochs = 15 if quick else 40
    result = gan.fit(
        data.x_train,
        data.y_train,
        epochs=epochs,
        steps_per_epoch=25,
        truth=truth,
        progress=progress,
    )
    result.save(out / "basis.pt")
    L = result.generators[0].to(torch.float64)
    L = L / L[:2, :2].norm() * math.sqrt(2)
    cosine = float(channel_cosine(L[None], truth)[0])
    print("      found generator (scaled; true: [[0, -1], [1, 0]] on every 2-vector):")
    for row in L.tolist():
        print("      " + " ".join(f"{v:+.3f}" for v in row))
    print(f"      |cosine| with the true rotation generator: {cosine:.5f}")
    summary["discovery"] = {
        "cosine": cosine,
        "generator": L.tolist(),
        "seconds": time.perf_counter() - t0,
    }
    try:
        result.plot(out / "generators.png")
        summary["figure"] = str(out / "generators.png")
    except ImportError as err:  # matplotlib is the [plot] extra
        print(f"      (no figure: {err})")

    # 2. metric ---------------------------------------------------------------------------------
    # the found symmetry acts alike on every 2-vector (q1, p1, q2, p2): its action on q1
    symmetry = result.symmetry.to(torch.float64)
    on_q1 = symmetry.block([0, 1])
    info = on_q1.metric(return_info=True)
    J = info.J
    full = symmetry.metric(return_info=True)
    sim = metric_similarity(J, "euclidean")
    print("[2/3] solve_metric on the q1 block: J =", [[round(v, 4) for v in r] for r in J.tolist()])
    print(f"      residual {info.residual:.2e}, |cosine| with the Euclidean metric {sim:.5f}")
    print(f"      on all of (q1, p1, q2, p2): {full.nullity} invariant symmetric forms")
    summary["metric"] = {
        "J": J.tolist(),
        "residual": info.residual,
        "similarity_euclidean": sim,
        "invariant_forms_8d": full.nullity,
    }

    # 3. LieGNN with the discovered metric ------------------------------------------------------
    def graphs(windows: torch.Tensor, limit: int) -> list:
        states = windows[:, 0].to(torch.float64)[:limit]
        return _energy_graphs(states.float(), torch.as_tensor(energy(states), dtype=torch.float32))

    n_train = 2000 if quick else 8000
    train, test = graphs(data.x_train, n_train), graphs(data.x_test, 2000)
    y_train = torch.cat([g.y for g in train])
    mean, std = y_train.mean(), y_train.std()
    model = LieGNN(on_q1, in_scalars=2, hidden=32, n_layers=3, out_dim=1, dropout=0.0)
    model = model.to(device)
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    loader = DataLoader(train, batch_size=128, shuffle=True)
    n_epochs = 3 if quick else 12
    print(f"[3/3] LieGNN(J) learns the energy of {len(train)} states ({n_epochs} epochs)")
    for epoch in range(n_epochs):
        model.train()
        for batch in loader:
            batch = batch.to(device)
            loss = torch.nn.functional.mse_loss(model(batch), (batch.y - mean) / std)
            optim.zero_grad()
            loss.backward()
            optim.step()
        if progress:
            print(f"      epoch {epoch + 1}: train mse {loss.item():.4f}")
    model.eval()

    def predict(items: list) -> torch.Tensor:
        with torch.no_grad():
            return (
                torch.cat([model(b.to(device)).cpu() for b in DataLoader(items, batch_size=512)])
                * std
                + mean
            )

    y_test = torch.cat([g.y for g in test])
    pred = predict(test)
    mae = float((pred - y_test).abs().mean())
    baseline = float((y_test - mean).abs().mean())
    # invariance under the discovered group, as the model sees it: the J-skew part of the found
    # block, L_J = (B − J⁻¹BᵀJ)/2, generates the isometries of J; act with it on every 2-vector
    L_J = on_q1.isometric(J).generators[0]
    G = torch.kron(torch.eye(4, dtype=L_J.dtype), L_J)
    states = data.x_test[:, 0][: len(test)]
    turned = _rotate_states(states.to(torch.float64), G, 1.3).float()
    pred_turned = predict(_energy_graphs(turned, y_test))
    drift = float((pred_turned - pred).abs().max() / pred.abs().max())
    print(f"      test MAE {mae:.4f} (predicting the mean: {baseline:.4f})")
    print(f"      max relative change of the prediction under exp(1.3 L_J): {drift:.2e}")
    summary["model"] = {
        "test_mae": mae,
        "mean_predictor_mae": baseline,
        "invariance_drift": drift,
        "n_train": len(train),
        "epochs": n_epochs,
    }
    summary["seconds"] = time.perf_counter() - t0

    from .io import atomic_write_json

    atomic_write_json(summary, out / "summary.json", indent=2)
    print(f"done in {summary['seconds']:.0f} s; wrote {out}/summary.json, basis.pt, generators.png")
    return summary

"""Gravitational N-body orbits in the plane, as in Hamiltonian Neural Networks (Greydanus 2019).

Equal unit masses, G = 1, H = Σ_i |p_i|²/2 − Σ_{i<j} 1/|q_i − q_j|. Bodies start on a regular
polygon of radius r ~ U[r_min, r_max] around the origin at a uniform random phase, with the
circular-orbit speed v = sqrt(r |F|) tangent to the circle (counter-clockwise), each speed scaled
by (1 + σ ε), ε ~ N(0, 1) (σ = ``orbit_noise``), and the mean velocity removed so the centre of
mass stays at the origin. The data distribution is therefore invariant under rotations of the
plane acting on every q_i and p_i.

Features per time step: (q1x, q1y, p1x, p1y, q2x, q2y, p2x, p2y, ...), i.e. (q1, p1, q2, p2, ...).
"""

from __future__ import annotations

import hashlib
import os
from typing import NamedTuple

import numpy as np
import torch

from ._cache import cache_dir, cached_arrays

_CHUNK = 64  # trajectories integrated together as one vectorised ODE


def _accelerations(q: np.ndarray) -> np.ndarray:
    """a_i = Σ_{j≠i} (q_j − q_i) / |q_j − q_i|³ for q of shape (B, n, 2)."""
    d = q[:, None, :, :] - q[:, :, None, :]  # d[b, i, j] = q_j − q_i
    r2 = (d**2).sum(-1)
    n = q.shape[1]
    r2[:, np.arange(n), np.arange(n)] = np.inf
    return (d * r2[..., None] ** -1.5).sum(axis=2)


def _initial_states(rng: np.random.Generator, n_bodies, n_trajectories, r_min, r_max, noise):
    """Near-circular initial (q, p) of shape (B, n, 2) each."""
    radius = rng.uniform(r_min, r_max, size=(n_trajectories, 1, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(n_trajectories, 1))
    angle = phase + 2 * np.pi * np.arange(n_bodies) / n_bodies
    direction = np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    q = radius * direction
    force = np.linalg.norm(_accelerations(q)[:, :1], axis=-1, keepdims=True)
    speed = np.sqrt(radius * force)
    tangent = np.stack([-direction[..., 1], direction[..., 0]], axis=-1)
    p = speed * tangent * (1.0 + noise * rng.standard_normal((n_trajectories, n_bodies, 1)))
    p = p - p.mean(axis=1, keepdims=True)
    return q, p


def _integrate(q0: np.ndarray, p0: np.ndarray, times: np.ndarray, rtol: float) -> np.ndarray:
    """Integrate Hamilton's equations (DOP853); returns (B, T, n, 4) with (qx, qy, px, py)."""
    from scipy.integrate import solve_ivp

    B, n, _ = q0.shape

    def rhs(_t, y):
        q, p = y[: 2 * B * n].reshape(B, n, 2), y[2 * B * n :]
        return np.concatenate([p, _accelerations(q).ravel()])

    y0 = np.concatenate([q0.ravel(), p0.ravel()])
    sol = solve_ivp(
        rhs, (times[0], times[-1]), y0, method="DOP853", t_eval=times, rtol=rtol, atol=rtol * 1e-2
    )
    if not sol.success:
        raise RuntimeError(f"N-body integration failed: {sol.message}")
    y = sol.y.T  # (T, 4 B n)
    q = y[:, : 2 * B * n].reshape(-1, B, n, 2)
    p = y[:, 2 * B * n :].reshape(-1, B, n, 2)
    return np.concatenate([q, p], axis=-1).transpose(1, 0, 2, 3)


def generate_trajectories(
    n_bodies: int = 2,
    n_trajectories: int = 1000,
    n_steps: int = 50,
    t_end: float = 20.0,
    seed: int = 0,
    *,
    min_radius: float = 0.5,
    max_radius: float = 1.5,
    orbit_noise: float = 0.05,
    rtol: float = 1e-10,
    root: str | os.PathLike | None = None,
    cache: bool = True,
) -> np.ndarray:
    """Orbits sampled at ``n_steps`` equally spaced times in [0, t_end].

    Returns:
        float64 array (n_trajectories, n_steps, 4 * n_bodies), features (q1, p1, q2, p2, ...).
        Deterministic given the arguments; cached under ``root`` (see :func:`cache_dir`).
    """
    if int(n_bodies) < 2:
        raise ValueError(f"n_bodies must be at least 2, got {n_bodies}")
    if int(n_trajectories) < 1 or int(n_steps) < 2:
        raise ValueError(
            f"need n_trajectories >= 1 and n_steps >= 2, got {n_trajectories}, {n_steps}"
        )
    if not (t_end > 0 and 0 < min_radius <= max_radius and orbit_noise >= 0):
        raise ValueError("need t_end > 0, 0 < min_radius <= max_radius and orbit_noise >= 0")
    args = (
        n_bodies,
        n_trajectories,
        n_steps,
        t_end,
        seed,
        min_radius,
        max_radius,
        orbit_noise,
        rtol,
    )

    def make() -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        q0, p0 = _initial_states(rng, n_bodies, n_trajectories, min_radius, max_radius, orbit_noise)
        times = np.linspace(0.0, t_end, n_steps)
        parts = [
            _integrate(q0[i : i + _CHUNK], p0[i : i + _CHUNK], times, rtol)
            for i in range(0, n_trajectories, _CHUNK)
        ]
        return {"trajectories": np.concatenate(parts).reshape(n_trajectories, n_steps, -1)}

    if not cache:
        return make()["trajectories"]
    key = hashlib.sha1(repr(args).encode()).hexdigest()[:12]
    path = cache_dir(root, "nbody") / f"nbody{n_bodies}_{n_trajectories}x{n_steps}_{key}.npz"
    return cached_arrays(path, make)["trajectories"]


def energy(states: torch.Tensor | np.ndarray) -> np.ndarray:
    """H = Σ |p_i|²/2 − Σ_{i<j} 1/|q_i − q_j| of states (..., 4 n); returns shape (...)."""
    s = np.asarray(states, dtype=np.float64)
    s = s.reshape(*s.shape[:-1], -1, 4)
    q, p = s[..., :2], s[..., 2:]
    kinetic = 0.5 * (p**2).sum((-1, -2))
    d = np.linalg.norm(q[..., :, None, :] - q[..., None, :, :], axis=-1)
    iu = np.triu_indices(s.shape[-2], k=1)
    return kinetic - (1.0 / d[..., iu[0], iu[1]]).sum(-1)


def angular_momentum(states: torch.Tensor | np.ndarray) -> np.ndarray:
    """L = Σ_i q_i × p_i (z component) of states (..., 4 n); returns shape (...)."""
    s = np.asarray(states, dtype=np.float64)
    s = s.reshape(*s.shape[:-1], -1, 4)
    return (s[..., 0] * s[..., 3] - s[..., 1] * s[..., 2]).sum(-1)


def rotation_generator(n_bodies: int = 2) -> torch.Tensor:
    """The so(2) generator acting on (q1, p1, q2, p2, ...): J = [[0, −1], [1, 0]] on every 2-vector.

    Returns a float64 (1, 4 n, 4 n) tensor; exp(θ L) rotates every q_i and p_i by θ.
    """
    L = torch.zeros(4 * n_bodies, 4 * n_bodies, dtype=torch.float64)
    for k in range(2 * n_bodies):
        L[2 * k + 1, 2 * k], L[2 * k, 2 * k + 1] = 1.0, -1.0
    return L.unsqueeze(0)


class NBodySplit(NamedTuple):
    """Windows of ``past`` input and ``future`` target steps: float32 (N, steps, 4 n) tensors."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def _windows(trajectories: np.ndarray, past: int, future: int, stride: int):
    T = trajectories.shape[1]
    starts = np.arange(0, T - past - future + 1, stride)
    idx = starts[:, None] + np.arange(past + future)
    w = trajectories[:, idx].reshape(-1, past + future, trajectories.shape[-1])
    w = torch.as_tensor(w, dtype=torch.float32)
    return w[:, :past].contiguous(), w[:, past:].contiguous()


def load_nbody(
    n_bodies: int = 2,
    split: str = "polar",
    past: int = 5,
    future: int = 5,
    test_fraction: float = 0.2,
    seed: int = 0,
    *,
    n_trajectories: int = 1000,
    n_steps: int = 50,
    t_end: float = 20.0,
    stride: int = 1,
    root: str | os.PathLike | None = None,
    **options,
) -> NBodySplit:
    """Train / test windows of N-body orbits.

    Each trajectory gives every window of ``past + future`` consecutive steps (one starting every
    ``stride`` steps). ``split="polar"``: trajectories are sorted by the polar angle
    atan2(q1y, q1x) of body 1 at the first step and the last ``test_fraction`` of them form the
    (out-of-distribution) test set; ``split="random"``: a seeded random permutation instead.
    Windows of one trajectory never straddle the two sets. ``options`` go to
    :func:`generate_trajectories`.
    """
    if split not in ("polar", "random"):
        raise ValueError(f"split must be 'polar' or 'random', got {split!r}")
    if past < 1 or future < 1 or past + future > n_steps:
        raise ValueError(f"need past, future >= 1 and past + future <= n_steps ({n_steps})")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    traj = generate_trajectories(
        n_bodies, n_trajectories, n_steps, t_end, seed, root=root, **options
    )
    if split == "polar":
        order = np.argsort(np.arctan2(traj[:, 0, 1], traj[:, 0, 0]), kind="stable")
    else:
        order = np.random.default_rng(seed + 1).permutation(n_trajectories)
    n_test = max(1, int(round(test_fraction * n_trajectories)))
    if n_test >= n_trajectories:
        raise ValueError(f"test_fraction={test_fraction} leaves no training trajectory")
    train, test = order[: n_trajectories - n_test], order[n_trajectories - n_test :]
    return NBodySplit(
        *_windows(traj[train], past, future, stride), *_windows(traj[test], past, future, stride)
    )

import numpy as np
import pytest
import torch

from liegnn.datasets import nbody
from liegnn.datasets.nbody import (
    angular_momentum,
    energy,
    generate_trajectories,
    load_nbody,
    rotation_generator,
)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("nbody_cache")


@pytest.fixture(scope="module")
def two_body(root):
    return generate_trajectories(2, n_trajectories=96, seed=3, root=root)


def test_shape_and_feature_layout(two_body):
    assert two_body.shape == (96, 50, 8)
    # body 2 mirrors body 1 through the fixed centre of mass: q2 = -q1, p2 = -p1
    np.testing.assert_allclose(two_body[..., 4:], -two_body[..., :4], atol=1e-8)


def test_initial_radius_in_range(two_body):
    r = np.linalg.norm(two_body[:, 0, 0:2], axis=-1)
    assert r.min() >= 0.5 - 1e-12 and r.max() <= 1.5 + 1e-12


@pytest.mark.parametrize("n_bodies", [2, 3])
def test_energy_conserved(root, n_bodies):
    traj = generate_trajectories(n_bodies, n_trajectories=32, seed=1, root=root)
    E = energy(traj)
    drift = np.abs(E - E[:, :1]) / np.abs(E[:, :1])
    assert drift.max() < 1e-6
    # bound orbits: negative total energy
    assert (E < 0).all()


@pytest.mark.parametrize("n_bodies", [2, 3])
def test_angular_momentum_conserved(root, n_bodies):
    traj = generate_trajectories(n_bodies, n_trajectories=32, seed=1, root=root)
    L = angular_momentum(traj)
    assert np.abs(L - L[:, :1]).max() < 1e-6
    assert (L[:, 0] > 0).all()  # every orbit runs counter-clockwise


def test_orbits_are_not_trivially_circular(two_body):
    r = np.linalg.norm(two_body[..., 0:2], axis=-1)
    spread = (r.max(1) - r.min(1)) / r.mean(1)
    assert spread.max() > 0.02  # orbit noise makes them eccentric


def test_deterministic_and_cached(root, monkeypatch):
    a = generate_trajectories(2, n_trajectories=16, seed=7, root=root)

    def fail(*args, **kwargs):
        raise AssertionError("the cached trajectories should have been reused")

    monkeypatch.setattr(nbody, "_integrate", fail)
    b = generate_trajectories(2, n_trajectories=16, seed=7, root=root)
    np.testing.assert_array_equal(a, b)
    monkeypatch.undo()
    c = generate_trajectories(2, n_trajectories=16, seed=8, root=root, cache=False)
    assert not np.allclose(a, c)


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LIEGNN_CACHE", str(tmp_path))
    generate_trajectories(2, n_trajectories=2, n_steps=5, t_end=1.0)
    assert len(list((tmp_path / "nbody").glob("*.npz"))) == 1


def _second_moments(states: np.ndarray) -> np.ndarray:
    s = states.reshape(-1, states.shape[-1])
    return s.T @ s / len(s)


def test_rotation_maps_distribution_to_itself(root):
    traj = generate_trajectories(2, n_trajectories=256, seed=5, root=root)
    C = _second_moments(traj)
    L = rotation_generator(2)[0].numpy()
    scale = np.linalg.norm(C)
    for theta in (0.4, 1.3, 2.9):
        R = torch.linalg.matrix_exp(torch.as_tensor(theta * L)).numpy()
        assert np.linalg.norm(C - R @ C @ R.T) / scale < 0.03
        rotated = traj @ R.T
        # energy and angular momentum are rotation invariant, sample by sample
        np.testing.assert_allclose(energy(rotated), energy(traj), rtol=1e-9)
        np.testing.assert_allclose(angular_momentum(rotated), angular_momentum(traj), rtol=1e-9)
    # a reflection y -> -y is not a symmetry: it reverses the orbits' sense
    P = np.diag([1.0, -1.0] * 4)
    assert np.linalg.norm(C - P @ C @ P.T) / scale > 0.3


def test_rotation_generator_is_so2_on_every_vector():
    L = rotation_generator(3)[0]
    assert L.shape == (12, 12)
    torch.testing.assert_close(L.T, -L)
    R = torch.linalg.matrix_exp(torch.pi / 2 * L)
    v = torch.tensor([1.0, 0.0] * 6, dtype=torch.float64)
    torch.testing.assert_close(R @ v, torch.tensor([0.0, 1.0] * 6, dtype=torch.float64))


def test_polar_split_is_out_of_distribution(root):
    split = load_nbody(2, "polar", n_trajectories=40, seed=2, root=root)
    angle = lambda x: torch.atan2(x[:, 0, 1], x[:, 0, 0])
    # windows starting at step 0 are every 41st; their first step is the trajectory's first
    a_train = angle(split.x_train[::41].double())
    a_test = angle(split.x_test[::41].double())
    assert a_train.max() <= a_test.min()
    assert split.x_train.shape == (32 * 41, 5, 8) and split.y_train.shape == (32 * 41, 5, 8)
    assert split.x_test.shape == (8 * 41, 5, 8)
    assert split.x_train.dtype == torch.float32


def test_windows_are_consecutive_steps(root):
    traj = generate_trajectories(2, n_trajectories=40, seed=2, root=root)
    split = load_nbody(2, "random", past=3, future=2, n_trajectories=40, seed=2, root=root)
    window = torch.cat([split.x_train[0], split.y_train[0]]).double().numpy()
    matches = [np.allclose(window, t[:5], atol=1e-6) for t in traj]
    assert sum(matches) == 1


def test_random_split_differs_from_polar(root):
    polar = load_nbody(2, "polar", n_trajectories=40, seed=2, root=root)
    rand = load_nbody(2, "random", n_trajectories=40, seed=2, root=root)
    assert polar.x_test.shape == rand.x_test.shape
    assert not torch.equal(polar.x_test, rand.x_test)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"split": "angle"}, "split"),
        ({"past": 30, "future": 30}, "past"),
        ({"test_fraction": 1.5}, "test_fraction"),
        ({"n_bodies": 1}, "n_bodies"),
    ],
)
def test_bad_arguments_raise(root, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_nbody(n_trajectories=4, root=root, **kwargs)

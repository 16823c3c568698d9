import numpy as np
import pytest

from liegnn.datasets.toptag_files import Jets


def random_jets(n: int = 12, seed: int = 0) -> Jets:
    """Random massless constituents, sorted by pT, zero padded: a stand-in for real jets."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 40, size=n)
    momenta = np.zeros((n, 200, 4), np.float32)
    for i, c in enumerate(counts):
        p = rng.normal(size=(c, 3)) * [5, 5, 20]
        p = p[np.argsort(-np.hypot(p[:, 0], p[:, 1]))]
        momenta[i, :c, 1:] = p
        momenta[i, :c, 0] = np.linalg.norm(p, axis=1)
    labels = rng.integers(0, 2, size=n)
    truth = np.where(labels[:, None] == 1, rng.normal(size=(n, 4)) * 100, 0).astype(np.float32)
    return Jets(momenta, counts.astype(np.int64), labels.astype(np.int64), truth)


@pytest.fixture
def make_jets():
    return random_jets

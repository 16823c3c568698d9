"""Known Lie algebra bases as (c, n, n) tensors.

Every function returns the matrices ``L_i`` of a basis of the algebra in its defining
representation, stacked along the first axis, so that ``exp(sum_i w_i L_i)`` is a group element.
"""

from __future__ import annotations

import itertools

import torch

from .._validation import as_generators


def _dtype(dtype: torch.dtype | None) -> torch.dtype:
    return torch.get_default_dtype() if dtype is None else dtype


def _check_dim(n: int, name: str, minimum: int = 1) -> None:
    if not isinstance(n, int) or n < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {n!r}")


def minkowski_metric(p: int = 1, q: int = 3, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """η = diag(+1 (p times), −1 (q times)); the default is Minkowski diag(1, −1, −1, −1)."""
    _check_dim(p, "p", 0)
    _check_dim(q, "q", 0)
    if p + q < 1:
        raise ValueError("p + q must be at least 1")
    return torch.diag(torch.tensor([1.0] * p + [-1.0] * q, dtype=_dtype(dtype)))


def so_pq(p: int, q: int, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Basis of so(p, q): L = η (E_ij − E_ji) for i < j, so that Lᵀη + ηL = 0.

    Shape (n(n−1)/2, n, n) with n = p + q. With q = 0 this is so(n); for (1, 3) in the
    (E, px, py, pz) convention the pairs (0, j) are the boosts (symmetric matrices) and the
    pairs (i, j) with i, j ≥ 1 the rotations.
    """
    eta = minkowski_metric(p, q, dtype=dtype)
    n = p + q
    if n < 2:
        raise ValueError(f"so(p, q) needs p + q >= 2, got {n}")
    basis = []
    for i, j in itertools.combinations(range(n), 2):
        A = torch.zeros(n, n, dtype=eta.dtype)
        A[i, j], A[j, i] = 1.0, -1.0
        basis.append(eta @ A)
    return torch.stack(basis)


def so(n: int, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Basis of so(n): the plane rotations E_ij − E_ji (i < j), shape (n(n−1)/2, n, n)."""
    _check_dim(n, "n", 2)
    return so_pq(n, 0, dtype=dtype)


def lorentz(*, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Basis of the Lorentz algebra so(1, 3) on (E, px, py, pz), shape (6, 4, 4).

    Order: rotations J_x, J_y, J_z (about the x, y, z axes), then boosts K_x, K_y, K_z.
    Each satisfies Lᵀη + ηL = 0 with η = diag(1, −1, −1, −1).
    """
    L = torch.zeros(6, 4, 4, dtype=_dtype(dtype))
    for k, (i, j) in enumerate([(2, 3), (3, 1), (1, 2)]):  # J_k rotates e_i towards e_j
        L[k, j, i], L[k, i, j] = 1.0, -1.0
    for k in range(3):  # K_k mixes E and p_k
        L[3 + k, 0, k + 1] = L[3 + k, k + 1, 0] = 1.0
    return L


def sp(n: int, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Basis of the symplectic algebra sp(2n): L = Ω S with S symmetric, Ω = [[0, I], [−I, 0]].

    Then LᵀΩ + ΩL = 0. Shape (n(2n+1), 2n, 2n); coordinates ordered (q_1..q_n, p_1..p_n).
    """
    _check_dim(n, "n", 1)
    m = 2 * n
    omega = symplectic_form(n, dtype=dtype)
    basis = []
    for i in range(m):
        for j in range(i, m):
            S = torch.zeros(m, m, dtype=omega.dtype)
            S[i, j] = S[j, i] = 1.0
            basis.append(omega @ S)
    return torch.stack(basis)


def symplectic_form(n: int, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Ω = [[0, I_n], [−I_n, 0]], shape (2n, 2n)."""
    _check_dim(n, "n", 1)
    eye = torch.eye(n, dtype=_dtype(dtype))
    zero = torch.zeros(n, n, dtype=eye.dtype)
    return torch.cat([torch.cat([zero, eye], 1), torch.cat([-eye, zero], 1)], 0)


def gl(n: int, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Basis of gl(n): the matrix units E_ij, shape (n², n, n) (the general search space)."""
    _check_dim(n, "n", 1)
    return torch.eye(n * n, dtype=_dtype(dtype)).reshape(n * n, n, n)


def scaling(n: int, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """The dilation generator I_n, shape (1, n, n); it preserves no metric."""
    _check_dim(n, "n", 1)
    return torch.eye(n, dtype=_dtype(dtype)).unsqueeze(0)


def translations(n: int, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Translations of R^n in homogeneous coordinates (x, 1): E_{i, n}, shape (n, n+1, n+1).

    exp(Σ t_i E_{i,n}) (x, 1) = (x + t, 1).
    """
    _check_dim(n, "n", 1)
    T = torch.zeros(n, n + 1, n + 1, dtype=_dtype(dtype))
    T[torch.arange(n), torch.arange(n), n] = 1.0
    return T


def affine(generators, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Embed a linear algebra (c, n, n) into homogeneous coordinates: (c, n+1, n+1)."""
    L = as_generators(generators, dtype=dtype)
    c, n, _ = L.shape
    out = torch.zeros(c, n + 1, n + 1, dtype=L.dtype)
    out[:, :n, :n] = L
    return out


def se(n: int, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """se(n) = so(n) ⋉ R^n on homogeneous coordinates: rotations then translations.

    Shape (n(n−1)/2 + n, n+1, n+1).
    """
    _check_dim(n, "n", 2)
    return torch.cat([affine(so(n, dtype=dtype)), translations(n, dtype=dtype)])


def su2(*, dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """Basis of su(2): L_k = −(i/2) σ_k (anti-Hermitian, traceless), shape (3, 2, 2), complex.

    [L_1, L_2] = L_3 (cyclic).
    """
    if not dtype.is_complex:
        raise ValueError(f"su(2) is a complex matrix algebra; dtype must be complex, got {dtype}")
    sigma = torch.tensor(
        [[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=torch.complex128
    )
    return (-0.5j * sigma).to(dtype)


def replicate(generators, copies: int) -> torch.Tensor:
    """The same algebra acting simultaneously on ``copies`` blocks: L ↦ I_copies ⊗ L.

    Shape (c, copies·n, copies·n). For x of shape (copies, n) flattened row-major, the action is
    the same n × n matrix on every block: several bodies, or every time step of a trajectory.
    """
    L = as_generators(generators)
    _check_dim(copies, "copies", 1)
    eye = torch.eye(copies, dtype=L.dtype)
    return torch.stack([torch.kron(eye, Li) for Li in L])


def direct_sum(*algebras) -> torch.Tensor:
    """Independent algebras on orthogonal blocks: (Σ c_k, Σ n_k, Σ n_k), block-diagonal."""
    if not algebras:
        raise ValueError("direct_sum needs at least one algebra")
    blocks = [as_generators(a, name=f"algebras[{k}]") for k, a in enumerate(algebras)]
    dtype = blocks[0].dtype
    for b in blocks:
        dtype = torch.promote_types(dtype, b.dtype)
    sizes = [b.shape[-1] for b in blocks]
    N = sum(sizes)
    out = []
    offset = 0
    for b, n in zip(blocks, sizes, strict=True):
        for Li in b:
            M = torch.zeros(N, N, dtype=dtype)
            M[offset : offset + n, offset : offset + n] = Li
            out.append(M)
        offset += n
    return torch.stack(out)


def by_name(name: str, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A known basis from its name: ``"so(3)"``, ``"so(1,3)"``, ``"lorentz"``, ``"sp(4)"``,
    ``"gl(2)"``, ``"se(3)"``, ``"su(2)"``, ``"scaling(4)"``, ``"translations(3)"``.

    ``sp(m)`` takes the matrix size m = 2n. Spaces and case are ignored; ``so3`` works too.
    """
    import re

    key = re.sub(r"\s+", "", str(name)).lower()
    if key == "lorentz":
        return lorentz(dtype=dtype)
    if key in ("su(2)", "su2"):
        return su2() if dtype is None else su2(dtype=dtype)
    m = re.fullmatch(r"([a-z]+)\(?(\d+)(?:,(\d+))?\)?", key)
    one_arg = {"so": so, "gl": gl, "se": se, "scaling": scaling, "translations": translations}
    if m:
        head, a, b = m.group(1), int(m.group(2)), m.group(3)
        if head == "so" and b is not None:
            return so_pq(a, int(b), dtype=dtype)
        if head == "sp" and b is None:
            if a % 2:
                raise ValueError(f"the algebra sp(m) needs an even matrix size m, got {a}")
            return sp(a // 2, dtype=dtype)
        if head in one_arg and b is None:
            return one_arg[head](a, dtype=dtype)
    raise ValueError(
        f"unknown algebra name {name!r}; known: so(n), so(p,q), lorentz, sp(2n), gl(n), se(n), "
        "su(2), scaling(n), translations(n)"
    )

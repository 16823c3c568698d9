"""Top-quark tagging jets as a PyTorch Geometric dataset, and LieGAN's input from them.

Each jet becomes ``Data(pos=(n, 4) constituent 4-momenta (E, px, py, pz) in GeV, y=(1,) label)``
(1 = top, 0 = QCD). A ``transform=`` such as :class:`liegnn.nn.graphs.LorentzNetInputs` adds the
beams, the scalars ``x`` and the edges on access.

Sources: a reference-layout or converted-layout file a user downloaded (see
:mod:`~liegnn.datasets.toptag_files`), or jets made here with the reference recipe
(:func:`generated_toptag`). The parsed jets are cached (atomically) under ``root``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data, InMemoryDataset

from ._cache import cache_dir, cached_in_memory
from .toptag_files import MAX_CONSTITUENTS, Jets, count_jets, iter_jets

_VERSION = 1


def _collate(
    path: Path, n_jets: int | None, max_constituents: int, chunk_size: int, split: str | None
):
    """All jets of ``path`` (of its split ``split``) as one concatenated Data plus PyG slices."""
    total = count_jets(path, split=split)
    n_jets = total if n_jets is None else n_jets
    if not 1 <= n_jets <= total:
        raise ValueError(f"n_jets must lie in [1, {total}] for {path}, got {n_jets}")
    pos, counts, labels, seen = [], [], [], 0
    for jets in iter_jets(path, min(chunk_size, n_jets), max_constituents, split=split):
        jets = jets[: n_jets - seen]
        mask = np.arange(max_constituents) < jets.n_constituents[:, None]
        if (jets.n_constituents < 1).any():
            row = seen + int(np.flatnonzero(jets.n_constituents < 1)[0])
            raise ValueError(f"{path}: jet {row} has no constituents")
        pos.append(torch.from_numpy(jets.momenta[mask]))
        counts.append(torch.from_numpy(jets.n_constituents))
        labels.append(torch.from_numpy(jets.labels))
        seen += len(jets)
        if seen == n_jets:
            break
    counts = torch.cat(counts)
    zero = torch.zeros(1, dtype=torch.long)
    slices = {
        "pos": torch.cat([zero, counts.cumsum(0)]),
        "y": torch.arange(n_jets + 1),
    }
    return Data(pos=torch.cat(pos), y=torch.cat(labels)), slices


class TopTagging(InMemoryDataset):
    r"""Jets of a top-tagging file (reference or converted layout) as PyG graphs.

    Args:
        path: the jet file: ``train.h5`` / ``val.h5`` / ``test.h5`` of the reference dataset, a
            converted file, an npz-layout file (with ``split``), or one written by
            :func:`~liegnn.datasets.toptag_generate.generate_toptag`.
        split: ``"train"``, ``"val"`` or ``"test"``: the split of an npz-layout file (which
            holds all three); None for the HDF5 layouts.
        root: cache folder (default: ``$LIEGNN_CACHE``, ``$XDG_CACHE_HOME/liegnn`` or
            ``~/.cache/liegnn``).
        n_jets: keep only the first ``n_jets`` jets (CPU-sized runs).
        max_constituents: keep the leading ``max_constituents`` constituents (≤ 200).
        transform: applied to each ``Data`` on access (e.g. ``LorentzNetInputs()``).
        force_reload: re-parse the file even if a cache exists.

    Each item: ``pos`` float32 (n, 4) = (E, px, py, pz) GeV sorted by pT, ``y`` int64 (1,).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        split: str | None = None,
        root: str | os.PathLike | None = None,
        n_jets: int | None = None,
        max_constituents: int = MAX_CONSTITUENTS,
        transform: Callable | None = None,
        force_reload: bool = False,
        chunk_size: int = 100_000,
    ):
        super().__init__(None, transform)
        self.path = Path(path)
        if not self.path.is_file():
            raise ValueError(f"no jet file at {self.path}")
        stat = self.path.stat()
        key = repr(
            (
                str(self.path.resolve()),
                stat.st_size,
                stat.st_mtime_ns,
                n_jets,
                max_constituents,
                _VERSION,
                *(() if split is None else (split,)),
            )
        )
        digest = hashlib.sha1(key.encode()).hexdigest()[:12]
        stem = self.path.stem if split is None else f"{self.path.stem}_{split}"
        self.split = split
        self.cache_path = cache_dir(root, "toptag") / f"{stem}_{digest}.pt"
        cached_in_memory(
            self,
            self.cache_path,
            lambda: _collate(self.path, n_jets, max_constituents, chunk_size, split),
            force_reload,
        )

    @property
    def labels(self) -> torch.Tensor:
        """int64 (N,) labels of all jets."""
        return self._data.y

    def leading_momenta(self, k: int = 2) -> torch.Tensor:
        """float32 (N, k, 4): each jet's k leading constituents (zero padded)."""
        start, stop = self.slices["pos"][:-1], self.slices["pos"][1:]
        out = torch.zeros(len(start), k, 4)
        for i in range(k):
            has = start + i < stop
            out[has, i] = self._data.pos[start[has] + i]
        return out


def liegan_inputs(source: TopTagging | str | os.PathLike, **kwargs):
    """LieGAN's top-tagging input: the two leading constituents' 4-momenta and the labels.

    Args:
        source: a :class:`TopTagging` dataset, or a jet file (then ``kwargs`` go to it).
    Returns:
        x float32 (N, 8) = (E, px, py, pz) of the leading then the second constituent; y int64 (N,).
    """
    data = source if isinstance(source, TopTagging) else TopTagging(source, **kwargs)
    return data.leading_momenta(2).reshape(-1, 8), data.labels.clone()


def generated_toptag(
    n_jets: int,
    seed: int = 0,
    *,
    root: str | os.PathLike | None = None,
    transform: Callable | None = None,
    **generate_options,
) -> TopTagging:
    """Jets from the reference recipe (Pythia 8 + FastJet), generated once into the cache.

    The file is ``root/toptag/generated_<n_jets>_seed<seed>[...].h5``; an interrupted generation
    resumes on the next call. ``generate_options`` go to
    :func:`~liegnn.datasets.toptag_generate.generate_toptag` (``n_workers``, ``smearing``, ...).
    """
    from .toptag_generate import generate_toptag

    tag = "_smeared" if generate_options.get("smearing") else ""
    out = cache_dir(root, "toptag") / f"generated_{n_jets}_seed{seed}{tag}.h5"
    generate_toptag(out, n_jets, seed, **generate_options)
    return TopTagging(out, root=root, transform=transform)


__all__ = ["Jets", "TopTagging", "generated_toptag", "liegan_inputs"]

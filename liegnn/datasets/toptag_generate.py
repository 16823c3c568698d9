"""Generate top-tagging jets with the reference recipe: Pythia 8 + FastJet (the ``[toptag]`` extra).

Recipe (Kasieczka et al. 2019, without Delphes): √s = 14 TeV pp; signal hadronic tt̄ (W → q q̄′),
background QCD dijets (HardQCD:all), both in a p̂T window around the jet window; visible
final-state particles (|η| < 5, optionally smeared) clustered with anti-kT, R = 0.8; jets with
pT ∈ [550, 650] GeV and |η| < 2; a signal jet must contain its top quark and the top's three
decay quarks within ΔR < 0.8 of the jet axis; up to 200 constituents (E, px, py, pz) sorted by pT.

Generation runs in chunks of balanced classes, in parallel over processes. Each chunk is written
atomically to ``<out>.parts/`` in the reference HDF5 layout as soon as it is done, so an interrupted
run resumes where it stopped; the parts are then merged into ``<out>`` (atomically). Chunk ``c``
uses Pythia seeds derived from (seed, c, class): the result depends on ``seed`` and
``chunk_size`` only, not on the number of workers. The parts' manifest records the versions of
``pythia8mc`` and ``fastjet`` next to the settings, and a resume with other versions is refused:
one file never mixes jets of two generator versions.

Progress and resume messages go to the ``liegnn.datasets.toptag_generate`` logger.

Command line: ``python -m liegnn.datasets.toptag_generate OUT.h5 --n-jets 10000 --seed 1``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import logging
import multiprocessing
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .._atomic import atomic_path
from .._optional import require
from .toptag_files import KEY, MAX_CONSTITUENTS, Jets, count_jets, read_jets, write_reference

_log = logging.getLogger(__name__)
_GENERATORS = ("pythia8mc", "fastjet")


@dataclass(frozen=True)
class Recipe:
    """Settings of the generation; the defaults are the reference recipe."""

    ecm: float = 14000.0
    pt_min: float = 550.0
    pt_max: float = 650.0
    eta_max: float = 2.0
    pthat_min: float = 500.0
    pthat_max: float = 700.0
    radius: float = 0.8
    match_radius: float = 0.8
    particle_eta_max: float = 5.0
    max_constituents: int = MAX_CONSTITUENTS
    jets_per_event: int = 2
    smearing: bool = False
    max_events_per_jet: int = 50

    def __post_init__(self):
        if not (0 < self.pt_min < self.pt_max and 0 < self.pthat_min < self.pthat_max):
            raise ValueError("need 0 < pt_min < pt_max and 0 < pthat_min < pthat_max")
        if not (self.radius > 0 and self.match_radius > 0 and self.eta_max > 0):
            raise ValueError("radius, match_radius and eta_max must be positive")
        if not 1 <= self.max_constituents <= MAX_CONSTITUENTS:
            raise ValueError(f"max_constituents must lie in [1, {MAX_CONSTITUENTS}]")


def _pythia(signal: bool, seed: int, recipe: Recipe):
    pythia8 = require("pythia8mc", "toptag")
    pythia = pythia8.Pythia("", False)
    settings = [
        f"Beams:eCM = {recipe.ecm}",
        f"PhaseSpace:pTHatMin = {recipe.pthat_min}",
        f"PhaseSpace:pTHatMax = {recipe.pthat_max}",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        "Print:quiet = on",
        "Next:numberCount = 0",
    ]
    if signal:
        settings += ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on"]
        settings += ["24:onMode = off", "24:onIfAny = 1 2 3 4 5"]  # W -> q q'
    else:
        settings += ["HardQCD:all = on"]
    for line in settings:
        if not pythia.readString(line):
            raise RuntimeError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise RuntimeError("Pythia failed to initialise")
    return pythia


def _delta_r(eta1, phi1, eta2, phi2):
    dphi = np.mod(np.asarray(phi1) - phi2 + np.pi, 2 * np.pi) - np.pi
    return np.hypot(np.asarray(eta1) - eta2, dphi)


def _hadronic_tops(event) -> list[tuple[float, float, np.ndarray, np.ndarray]]:
    """(η, φ, 4-momentum, (3, 2) quark η-φ) of each top decaying to b W, W → q q̄′."""
    tops = []
    for p in event:
        if p.idAbs() != 6:
            continue
        daughters = [event[i] for i in p.daughterList()]
        ws = [d for d in daughters if d.idAbs() == 24]
        quarks = [d for d in daughters if 1 <= d.idAbs() <= 5]
        if len(ws) != 1 or len(quarks) != 1:
            continue  # not the decaying copy of the top
        w = event[ws[0].iBotCopyId()]
        quarks += [event[i] for i in w.daughterList() if 1 <= event[i].idAbs() <= 5]
        if len(quarks) != 3:
            continue
        four = np.array([p.e(), p.px(), p.py(), p.pz()])
        tops.append((p.eta(), p.phi(), four, np.array([[q.eta(), q.phi()] for q in quarks])))
    return tops


def _smear(momenta: np.ndarray, charged: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scale each 4-momentum by 1 + σ ε: tracks σ = 0.5% ⊕ 2e-4·pT, photons 5%/√E ⊕ 1%,
    neutral hadrons 50%/√E ⊕ 5% (a Delphes-like, much simplified resolution)."""
    E = momenta[:, 0]
    pt = np.hypot(momenta[:, 1], momenta[:, 2])
    sigma = np.where(charged, np.hypot(0.005, 2e-4 * pt), 0.0)
    photon = ~charged & (momenta[:, 4] == 22)
    hadron = ~charged & ~photon
    sigma = np.where(photon, np.hypot(0.05 / np.sqrt(E), 0.01), sigma)
    sigma = np.where(hadron, np.hypot(0.5 / np.sqrt(E), 0.05), sigma)
    factor = np.clip(1.0 + sigma * rng.standard_normal(len(E)), 0.05, None)
    return momenta[:, :4] * factor[:, None]


def _event_jets(event, signal: bool, recipe: Recipe, rng: np.random.Generator):
    """Jets of one event passing the selection: list of ((m, 4) constituents, truth (4,))."""
    fastjet = require("fastjet", "toptag")
    rows = [
        (p.e(), p.px(), p.py(), p.pz(), p.idAbs(), p.isCharged())
        for p in event
        if p.isFinal() and p.isVisible() and abs(p.eta()) < recipe.particle_eta_max
    ]
    particles = np.array(rows, dtype=np.float64)
    momenta = particles[:, :4]
    if recipe.smearing:
        momenta = _smear(particles[:, :5], particles[:, 5].astype(bool), rng)
    inputs = []
    for i, (e, px, py, pz) in enumerate(momenta):
        pj = fastjet.PseudoJet(px, py, pz, e)
        pj.set_user_index(i)
        inputs.append(pj)
    sequence = fastjet.ClusterSequence(
        inputs, fastjet.JetDefinition(fastjet.antikt_algorithm, recipe.radius)
    )
    tops = _hadronic_tops(event) if signal else []
    selected = []
    for jet in fastjet.sorted_by_pt(sequence.inclusive_jets(recipe.pt_min)):
        if not (jet.pt() <= recipe.pt_max and abs(jet.eta()) < recipe.eta_max):
            continue
        truth = np.zeros(4)
        if signal:
            eta, phi = jet.eta(), jet.phi_std()
            matched = [
                t
                for t in tops
                if _delta_r(t[0], t[1], eta, phi) < recipe.match_radius
                and (_delta_r(t[3][:, 0], t[3][:, 1], eta, phi) < recipe.match_radius).all()
            ]
            if not matched:
                continue
            truth = matched[0][2]
        index = [c.user_index() for c in jet.constituents()]
        constituents = momenta[index]
        order = np.argsort(-np.hypot(constituents[:, 1], constituents[:, 2]), kind="stable")
        selected.append((constituents[order][: recipe.max_constituents], truth))
        if len(selected) == recipe.jets_per_event:
            break
    return selected


def _seed(seed: int, chunk: int, stream: int) -> int:
    """A Pythia seed in [1, 900 000 000] for (seed, chunk, stream)."""
    state = np.random.SeedSequence([seed, chunk, stream]).generate_state(1, np.uint64)[0]
    return int(state % 900_000_000) + 1


def generate_jets(n_per_class: int, seed: int, chunk: int = 0, recipe: Recipe = Recipe()) -> Jets:
    """Generate ``n_per_class`` top jets and as many QCD jets (shuffled, deterministic)."""
    parts = []
    for label in (1, 0):
        pythia = _pythia(bool(label), _seed(seed, chunk, label), recipe)
        rng = np.random.default_rng([seed, chunk, label, 1])
        jets, n_events = [], 0
        while len(jets) < n_per_class:
            n_events += 1
            if n_events > recipe.max_events_per_jet * n_per_class + 100:
                raise RuntimeError(f"too few jets pass the selection ({len(jets)} in {n_events})")
            if pythia.next():
                jets += _event_jets(pythia.event, bool(label), recipe, rng)
        jets = jets[:n_per_class]
        momenta = np.zeros((n_per_class, recipe.max_constituents, 4), np.float32)
        for i, (c, _) in enumerate(jets):
            momenta[i, : len(c)] = c
        n = np.array([len(c) for c, _ in jets], np.int64)
        truth = np.array([t for _, t in jets], np.float32).reshape(n_per_class, 4)
        parts.append(Jets(momenta, n, np.full(n_per_class, label, np.int64), truth))
    jets = Jets.concatenate(parts)
    return jets[np.random.default_rng([seed, chunk, 2]).permutation(len(jets))]


def _run_chunk(args) -> int:
    chunk, n_jets, seed, recipe, ttv, part = args
    jets = generate_jets(n_jets // 2, seed, chunk, recipe)
    jets.ttv = np.full(len(jets), ttv, np.int64)
    with atomic_path(part) as tmp:
        write_reference(tmp, jets)
    return len(jets)


def generator_versions() -> dict[str, str]:
    """The installed versions of the generators, ``{"pythia8mc": ..., "fastjet": ...}``.

    Raises an ImportError naming the ``[toptag]`` extra when either is missing; a package without
    distribution metadata (built in place) reports its ``__version__``, else ``"unknown"``.
    """
    versions = {}
    for name in _GENERATORS:
        module = require(name, "toptag")
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = str(getattr(module, "__version__", "unknown"))
    return versions


def _settings(n_jets, seed, chunk_size, recipe, ttv) -> dict:
    return {
        "n_jets": n_jets,
        "seed": seed,
        "chunk_size": chunk_size,
        "ttv": ttv,
        "recipe": dataclasses.asdict(recipe),
    }


def _manifest(settings: dict, versions: dict[str, str]) -> str:
    """The settings and the generator versions as stored in the parts' manifest and the file."""
    return json.dumps({**settings, "versions": versions}, sort_keys=True)


def _parse_manifest(text: str | None) -> tuple[dict | None, dict | None]:
    """(settings, versions) of a stored manifest; versions is None when it has none (written
    before liegnn recorded them), settings is None when the text is not a manifest."""
    try:
        stored = json.loads(text) if text is not None else None
    except ValueError:
        return None, None
    if not isinstance(stored, dict):
        return None, None
    versions = stored.pop("versions", None)
    return stored, versions if isinstance(versions, dict) else None


def _describe(versions: dict | None) -> str:
    if versions is None:
        return "unrecorded versions of " + " and ".join(_GENERATORS)
    return ", ".join(f"{name} {versions.get(name, 'unknown')}" for name in _GENERATORS)


def _stored_settings(path: Path) -> str | None:
    """The generator manifest stored with a finished file, read with h5py (pandas would unpickle
    the store's other attributes); None when there is none."""
    h5py = require("h5py", "toptag")
    try:
        with h5py.File(path, "r") as f:
            group = f.get(KEY)
            value = None if group is None else group.attrs.get("liegnn_generator")
    except OSError:
        return None
    if isinstance(value, bytes):
        return value.decode()
    return value if isinstance(value, str) else None


def generate_toptag(
    path: str | os.PathLike,
    n_jets: int,
    seed: int = 0,
    *,
    n_workers: int | None = None,
    chunk_size: int = 1000,
    smearing: bool = False,
    ttv: int = 0,
    progress: bool = True,
    overwrite: bool = False,
    recipe: Recipe | None = None,
) -> Path:
    """Generate ``n_jets`` jets (half top, half QCD) into ``path`` in the reference layout.

    Resumes an interrupted run with the same arguments and the same versions of ``pythia8mc`` and
    ``fastjet`` (a resume with other versions raises a ValueError naming both, unless
    ``overwrite=True`` starts over); a finished file with the same settings is returned as is,
    whatever versions made it. ``n_workers`` processes (default: all cores); ``chunk_size`` jets
    per chunk; ``ttv`` fills the reference's ``ttv`` column (0 train, 1 test, 2 validation).
    The settings and the versions are stored in the file (attribute ``liegnn_generator``).
    """
    versions = generator_versions()
    require("tables", "toptag")
    if n_jets < 2 or n_jets % 2 or chunk_size < 2 or chunk_size % 2:
        raise ValueError(f"n_jets and chunk_size must be even and >= 2, got {n_jets}, {chunk_size}")
    recipe = recipe or Recipe()
    if smearing:
        recipe = dataclasses.replace(recipe, smearing=True)
    path = Path(path)
    settings = _settings(n_jets, seed, chunk_size, recipe, ttv)
    manifest_text = _manifest(settings, versions)
    if path.exists() and not overwrite:
        stored, stored_versions = _parse_manifest(_stored_settings(path))
        if stored == settings and count_jets(path) == n_jets:
            _log.info("%s is already generated (%s)", path, _describe(stored_versions))
            return path
        raise ValueError(f"{path} exists with other content or settings; pass overwrite=True")
    parts_dir = path.with_name(path.name + ".parts")
    parts_dir.mkdir(parents=True, exist_ok=True)
    manifest = parts_dir / "settings.json"
    if manifest.exists() and manifest.read_text() != manifest_text:
        stored, stored_versions = _parse_manifest(manifest.read_text())
        if overwrite:
            _log.info("removing the parts of an earlier run in %s (overwrite=True)", parts_dir)
            shutil.rmtree(parts_dir)
            parts_dir.mkdir()
        elif stored != settings:
            raise ValueError(
                f"{parts_dir} holds parts of a run with other settings; "
                "pass the same arguments to resume it, or overwrite=True"
            )
        else:
            raise ValueError(
                f"{parts_dir} holds parts generated with {_describe(stored_versions)}, but this "
                f"is {_describe(versions)}; a resumed file must not mix generator versions: "
                "install the recorded versions to resume, or pass overwrite=True to start over"
            )
    with atomic_path(manifest) as tmp:
        tmp.write_text(manifest_text)

    sizes = [min(chunk_size, n_jets - s) for s in range(0, n_jets, chunk_size)]
    parts = [parts_dir / f"chunk_{c:06d}.h5" for c in range(len(sizes))]
    todo = [
        (c, sizes[c], seed, recipe, ttv, parts[c])
        for c in range(len(sizes))
        if not parts[c].exists()
    ]
    done = n_jets - sum(t[1] for t in todo)
    if done:
        _log.info("resuming %s: %d of %d jets already generated", path, done, n_jets)
    _log.info("generating %d jets into %s with %s", n_jets - done, path, _describe(versions))
    with tqdm(total=n_jets, initial=done, unit="jet", disable=not progress) as bar:
        n_workers = min(n_workers or os.cpu_count() or 1, max(len(todo), 1))
        if n_workers <= 1:
            for task in todo:
                bar.update(_run_chunk(task))
        else:
            # fork, where available, needs no `if __name__ == "__main__"` guard in user scripts;
            # the workers only run Pythia and FastJet, never torch
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            with context.Pool(n_workers) as pool:
                for n in pool.imap_unordered(_run_chunk, todo):
                    bar.update(n)

    pd = require("pandas", "toptag")
    with atomic_path(path) as tmp:
        for part in parts:
            write_reference(tmp, read_jets(part), append=tmp.stat().st_size > 0)
        with pd.HDFStore(tmp, "a") as store:
            store.get_storer(KEY).attrs.liegnn_generator = manifest_text
    shutil.rmtree(parts_dir)
    return path


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: generate a top-tagging file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output HDF5 file (reference layout)")
    parser.add_argument("--n-jets", type=int, required=True, help="total jets (even)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--smearing", action="store_true", help="simple detector smearing")
    parser.add_argument("--ttv", type=int, default=0, help="0 train, 1 test, 2 validation")
    parser.add_argument("--overwrite", action="store_true")
    a = parser.parse_args(argv)
    # the library's messages (versions, resume) are part of the command's output, on stderr
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("liegnn")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        out = generate_toptag(
            a.out,
            a.n_jets,
            a.seed,
            n_workers=a.workers,
            chunk_size=a.chunk_size,
            smearing=a.smearing,
            ttv=a.ttv,
            overwrite=a.overwrite,
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    print(f"wrote {count_jets(out)} jets to {out}")


if __name__ == "__main__":
    main()

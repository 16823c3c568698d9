"""Physical sanity of the Pythia 8 + FastJet recipe, and the resumable parallel generation.

Most tests need the [toptag] extra (pythia8mc, fastjet, tables; the ``generator`` fixture skips
them without it); CI installs it, so they run there. The version-recording tests replace the
generator and its version lookup, so they need only h5py, pandas and tables.
"""

import json
import logging
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from liegnn.datasets import toptag_generate
from liegnn.datasets.toptag_files import count_jets, read_jets
from liegnn.datasets.toptag_generate import Recipe, generate_jets, generate_toptag, main

TOP_MASS = 172.5


@pytest.fixture(scope="module")
def generator():
    """Skips a test that runs Pythia and FastJet where the [toptag] extra is missing."""
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    pytest.importorskip("tables")


def jet_kinematics(momenta: np.ndarray):
    """pT, η, φ, mass of the jets whose constituents are ``momenta`` (N, m, 4)."""
    p = momenta.astype(np.float64).sum(1)
    pt = np.hypot(p[:, 1], p[:, 2])
    eta = np.arcsinh(p[:, 3] / pt)
    phi = np.arctan2(p[:, 2], p[:, 1])
    mass = np.sqrt(np.maximum(p[:, 0] ** 2 - (p[:, 1:] ** 2).sum(1), 0.0))
    return pt, eta, phi, mass


def constituent_mass2(momenta: np.ndarray) -> np.ndarray:
    m = momenta.astype(np.float64)
    return m[..., 0] ** 2 - (m[..., 1:] ** 2).sum(-1)


@pytest.fixture(scope="module")
def jets(generator):
    # 50 top + 50 QCD jets: a few seconds of Pythia on one core
    return generate_jets(50, seed=11)


def test_classes_are_balanced(jets):
    assert len(jets) == 100 and jets.labels.sum() == 50


def test_jet_pt_and_eta_windows_hold(jets):
    pt, eta, _, _ = jet_kinematics(jets.momenta)
    assert pt.min() >= 550.0 - 1e-2 and pt.max() <= 650.0 + 1e-2
    assert np.abs(eta).max() < 2.0


def test_constituents_are_on_shell(jets):
    mask = np.arange(200) < jets.n_constituents[:, None]
    E = jets.momenta[..., 0].astype(np.float64)
    m2 = constituent_mass2(jets.momenta)[mask]
    # float32 storage: E² − p² is exact only to ~1e-6 E²; hadron masses stay below 2 GeV
    assert (m2 >= -1e-5 * E[mask] ** 2 - 1e-3).all()
    assert m2.max() < 2.0**2
    assert (E[mask] > 0).all()


def test_constituents_sorted_by_pt_and_zero_padded(jets):
    pt = np.hypot(jets.momenta[..., 1], jets.momenta[..., 2])
    assert (np.diff(pt, axis=1) <= 1e-4).all()
    pad = np.arange(200) >= jets.n_constituents[:, None]
    assert (jets.momenta[pad] == 0).all()
    assert jets.n_constituents.min() >= 2 and jets.n_constituents.max() <= 200


def test_signal_mass_peaks_near_top_mass_and_qcd_is_lower(jets):
    _, _, _, mass = jet_kinematics(jets.momenta)
    top, qcd = mass[jets.labels == 1], mass[jets.labels == 0]
    assert 150.0 < np.median(top) < 200.0
    assert np.mean((top > 140) & (top < 210)) > 0.6
    assert np.median(qcd) < 130.0
    assert np.mean((qcd > 140) & (qcd < 210)) < 0.35


def test_signal_jets_contain_their_top_quark(jets):
    _, eta, phi, _ = jet_kinematics(jets.momenta)
    truth = jets.truth.astype(np.float64)
    sig = jets.labels == 1
    t = truth[sig]
    t_eta = np.arcsinh(t[:, 3] / np.hypot(t[:, 1], t[:, 2]))
    t_phi = np.arctan2(t[:, 2], t[:, 1])
    dphi = np.mod(t_phi - phi[sig] + np.pi, 2 * np.pi) - np.pi
    assert (np.hypot(t_eta - eta[sig], dphi) < 0.8).all()
    t_mass = np.sqrt(t[:, 0] ** 2 - (t[:, 1:] ** 2).sum(1))
    assert np.abs(np.median(t_mass) - TOP_MASS) < 3.0  # a Breit-Wigner of width ~1.4 GeV
    assert np.abs(t_mass - TOP_MASS).max() < 40.0
    assert (truth[~sig] == 0).all()


def test_smeared_jets_keep_windows_and_stay_physical(generator):
    jets = generate_jets(4, seed=2, recipe=Recipe(smearing=True))
    pt, eta, _, _ = jet_kinematics(jets.momenta)
    assert pt.min() >= 550.0 - 1e-2 and pt.max() <= 650.0 + 1e-2 and np.abs(eta).max() < 2.0
    mask = np.arange(200) < jets.n_constituents[:, None]
    E = jets.momenta[..., 0].astype(np.float64)[mask]
    assert (constituent_mass2(jets.momenta)[mask] >= -1e-5 * E**2 - 1e-3).all()
    plain = generate_jets(4, seed=2)
    assert not np.array_equal(plain.momenta, jets.momenta)


def test_same_seed_same_jets_other_seed_other_jets(generator):
    a, b = generate_jets(2, seed=5), generate_jets(2, seed=5)
    np.testing.assert_array_equal(a.momenta, b.momenta)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.momenta, generate_jets(2, seed=6).momenta)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, generator):
    path = tmp_path_factory.mktemp("gen") / "full.h5"
    generate_toptag(path, 8, seed=4, chunk_size=4, n_workers=1, progress=False)
    return read_jets(path)


def test_interrupted_generation_resumes_without_losing_jets(tmp_path, monkeypatch, uninterrupted):
    path = tmp_path / "jets.h5"
    calls = []
    real = toptag_generate.generate_jets

    def interrupt_second_chunk(n, seed, chunk, recipe):
        calls.append(chunk)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(n, seed, chunk, recipe)

    monkeypatch.setattr(toptag_generate, "generate_jets", interrupt_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        generate_toptag(path, 8, seed=4, chunk_size=4, n_workers=1, progress=False)
    parts = tmp_path / "jets.h5.parts"
    assert not path.exists()
    assert sorted(p.name for p in parts.glob("chunk_*")) == ["chunk_000000.h5"]
    assert not list(tmp_path.rglob("*.tmp"))  # no half-written file survives

    calls.clear()
    monkeypatch.setattr(
        toptag_generate, "generate_jets", lambda *a: (calls.append(a[2]), real(*a))[1]
    )
    generate_toptag(path, 8, seed=4, chunk_size=4, n_workers=1, progress=False)
    assert calls == [1]  # only the missing chunk was generated
    assert not parts.exists()
    jets = read_jets(path)
    np.testing.assert_array_equal(jets.momenta, uninterrupted.momenta)
    np.testing.assert_array_equal(jets.labels, uninterrupted.labels)
    # a finished file with the same settings is returned without new work
    calls.clear()
    generate_toptag(path, 8, seed=4, chunk_size=4, n_workers=1, progress=False)
    assert calls == []


def test_parallel_workers_give_the_same_file(tmp_path, uninterrupted):
    path = generate_toptag(
        tmp_path / "par.h5", 8, seed=4, chunk_size=4, n_workers=2, progress=False
    )
    jets = read_jets(path)
    np.testing.assert_array_equal(jets.momenta, uninterrupted.momenta)
    assert count_jets(path) == 8 and jets.labels.sum() == 4


def test_existing_file_with_other_settings_is_not_overwritten(tmp_path, generator):
    path = tmp_path / "jets.h5"
    generate_toptag(path, 4, seed=1, chunk_size=4, n_workers=1, progress=False)
    with pytest.raises(ValueError, match="overwrite=True"):
        generate_toptag(path, 4, seed=2, chunk_size=4, n_workers=1, progress=False)


def test_resume_with_other_settings_raises(tmp_path, generator):
    parts = tmp_path / "jets.h5.parts"
    parts.mkdir()
    (parts / "settings.json").write_text('{"seed": 99}')
    with pytest.raises(ValueError, match="other settings"):
        generate_toptag(tmp_path / "jets.h5", 4, seed=1, chunk_size=4, progress=False)


@pytest.mark.parametrize("n_jets, chunk_size", [(7, 4), (8, 3), (0, 4)])
def test_odd_sizes_raise(tmp_path, n_jets, chunk_size, generator):
    with pytest.raises(ValueError, match="even"):
        generate_toptag(tmp_path / "x.h5", n_jets, chunk_size=chunk_size)


def test_bad_recipe_raises():
    with pytest.raises(ValueError, match="pt_min"):
        Recipe(pt_min=700.0, pt_max=600.0)


def test_command_line_writes_a_file_and_reports_the_versions(tmp_path, capsys, generator):
    main([str(tmp_path / "cli.h5"), "--n-jets", "4", "--chunk-size", "4", "--workers", "1"])
    out = capsys.readouterr()
    assert "wrote 4 jets" in out.out
    assert "pythia8mc" in out.err and "fastjet" in out.err  # the library's log, on stderr
    assert not logging.getLogger("liegnn").handlers  # the command's handler is removed


def test_missing_pythia_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pythia8mc", None)
    with pytest.raises(ImportError, match=r"liegnn\[toptag\]"):
        generate_toptag(tmp_path / "x.h5", 4)


# Recorded generator versions. The generator and its version lookup are replaced (random jets,
# fake versions), so these run without Pythia or FastJet installed.

VERSIONS = {"pythia8mc": "8.317.2", "fastjet": "3.5.2.0"}


@pytest.fixture
def fake_generator(monkeypatch, make_jets):
    """Random jets instead of Pythia, settable versions; ``fail_at`` interrupts that chunk."""
    pytest.importorskip("tables")
    pytest.importorskip("h5py")
    fake = SimpleNamespace(versions=dict(VERSIONS), chunks=[], fail_at=None)

    def fake_jets(n_per_class, seed, chunk, recipe):
        if chunk == fake.fail_at:
            raise KeyboardInterrupt
        fake.chunks.append(chunk)
        return make_jets(2 * n_per_class, seed=100 * seed + chunk)

    monkeypatch.setattr(toptag_generate, "generator_versions", lambda: dict(fake.versions))
    monkeypatch.setattr(toptag_generate, "generate_jets", fake_jets)
    return fake


def run(path, **kwargs):
    return generate_toptag(path, 8, seed=4, chunk_size=4, n_workers=1, progress=False, **kwargs)


def interrupted_run(path, fake):
    """Leave ``path``'s parts folder with chunk 0 of 2 done."""
    fake.fail_at = 1
    with pytest.raises(KeyboardInterrupt):
        run(path)
    fake.fail_at, fake.chunks[:] = None, []
    return path.with_name(path.name + ".parts")


def stored_manifest(path) -> dict:
    import h5py

    with h5py.File(path, "r") as f:
        return json.loads(f["table"].attrs["liegnn_generator"])


def test_manifest_and_finished_file_record_the_generator_versions(tmp_path, fake_generator):
    path = tmp_path / "jets.h5"
    parts = interrupted_run(path, fake_generator)
    assert json.loads((parts / "settings.json").read_text())["versions"] == VERSIONS
    run(path)
    assert fake_generator.chunks == [1]
    stored = stored_manifest(path)
    assert stored["versions"] == VERSIONS and stored["seed"] == 4 and stored["n_jets"] == 8


@pytest.mark.parametrize("package, other", [("pythia8mc", "8.318.0"), ("fastjet", "3.5.1")])
def test_resume_with_another_generator_version_raises_naming_both(
    tmp_path, fake_generator, package, other
):
    path = tmp_path / "jets.h5"
    parts = interrupted_run(path, fake_generator)
    fake_generator.versions[package] = other
    with pytest.raises(ValueError, match="mix generator versions") as err:
        run(path)
    assert f"{package} {VERSIONS[package]}" in str(err.value)
    assert f"{package} {other}" in str(err.value)
    assert fake_generator.chunks == [] and not path.exists()
    assert (parts / "chunk_000000.h5").exists()  # the earlier parts are kept for a resume
    assert json.loads((parts / "settings.json").read_text())["versions"] == VERSIONS


def test_overwrite_restarts_a_run_of_another_version(tmp_path, fake_generator):
    path = tmp_path / "jets.h5"
    interrupted_run(path, fake_generator)
    fake_generator.versions["pythia8mc"] = "8.318.0"
    run(path, overwrite=True)
    assert fake_generator.chunks == [0, 1]  # no part of the 8.317.2 run is reused
    assert stored_manifest(path)["versions"]["pythia8mc"] == "8.318.0"
    assert count_jets(path) == 8


def test_resume_of_parts_without_recorded_versions_raises(tmp_path, fake_generator):
    path = tmp_path / "jets.h5"
    parts = interrupted_run(path, fake_generator)
    manifest = json.loads((parts / "settings.json").read_text())
    del manifest["versions"]  # a manifest written before versions were recorded
    (parts / "settings.json").write_text(json.dumps(manifest, sort_keys=True))
    with pytest.raises(ValueError, match="unrecorded versions of pythia8mc and fastjet"):
        run(path)
    assert fake_generator.chunks == []


def test_finished_file_of_another_version_is_returned_as_is(tmp_path, fake_generator, caplog):
    path = run(tmp_path / "jets.h5")
    before = read_jets(path).momenta
    fake_generator.versions["pythia8mc"] = "8.318.0"
    fake_generator.chunks.clear()
    with caplog.at_level(logging.INFO, logger="liegnn"):
        assert run(path) == path
    assert fake_generator.chunks == []
    np.testing.assert_array_equal(read_jets(path).momenta, before)
    assert stored_manifest(path)["versions"] == VERSIONS
    assert any("pythia8mc 8.317.2" in r.getMessage() for r in caplog.records)


def test_resume_is_logged_not_printed(tmp_path, fake_generator, caplog, capsys):
    path = tmp_path / "jets.h5"
    interrupted_run(path, fake_generator)
    capsys.readouterr()
    with caplog.at_level(logging.INFO, logger="liegnn"):
        run(path)
    assert capsys.readouterr().out == ""
    resumed = [r for r in caplog.records if "resuming" in r.getMessage()]
    assert [r.name for r in resumed] == ["liegnn.datasets.toptag_generate"]
    assert "4 of 8 jets" in resumed[0].getMessage()


def test_generator_versions_are_the_installed_distributions(monkeypatch):
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    import importlib.metadata

    versions = toptag_generate.generator_versions()
    assert versions == {name: importlib.metadata.version(name) for name in VERSIONS}
    monkeypatch.setitem(sys.modules, "fastjet", None)
    with pytest.raises(ImportError, match=r"liegnn\[toptag\]"):
        toptag_generate.generator_versions()

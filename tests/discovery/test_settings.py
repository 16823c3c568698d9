import dataclasses
import json

import pytest
import torch

from liegnn.algebra import so
from liegnn.discovery import LieGAN
from liegnn.discovery.settings import (
    FIELDS,
    LossSettings,
    ModelSettings,
    OptimSettings,
    RunSettings,
)

#: LieGAN's defaults before the settings groups (the paper code's settings), as config() wrote
OLD_DEFAULTS = dict(
    coefficients="normal",
    coefficient_options={},
    discriminator="auto",
    hidden=512,
    fourier_features=0,
    fourier_scale=1.0,
    identity_weight=1e-2,
    identity_decay=1.0,
    channel_weight=1.0,
    channel_similarity="cosine",
    sparsity_weight=0.0,
    sparsity_norm=1.0,
    sparsity_start=0,
    init="random",
    init_scale=0.1,
    learn_generators=True,
    lr_g=1e-3,
    lr_d=2e-4,
    betas=[0.5, 0.999],
    betas_d=[0.9, 0.999],
    lr_decay=1.0,
    batch_size=64,
    d_steps=1,
    ema=0.0,
)


@pytest.mark.parametrize(
    "group, field, value",
    [
        (ModelSettings, "hidden", 0),
        (ModelSettings, "fourier_features", -1),
        (ModelSettings, "discriminator", "transformer"),
        (ModelSettings, "expm", "pade"),
        (LossSettings, "identity_weight", -0.1),
        (LossSettings, "identity_decay", 0.0),
        (LossSettings, "channel_similarity", "trace"),
        (LossSettings, "sparsity_start", 1.5),
        (OptimSettings, "lr_g", 0.0),
        (OptimSettings, "betas_d", (0.5,)),
        (OptimSettings, "lr_decay", 1.5),
        (OptimSettings, "batch_size", True),
        (OptimSettings, "ema", 1.0),
        (RunSettings, "epochs", -1),
        (RunSettings, "stop_tol", 0.0),
        (RunSettings, "stop_patience", 0),
        (RunSettings, "restarts", 0),
    ],
)
def test_bad_field_is_rejected_with_its_name(group, field, value):
    with pytest.raises(ValueError, match=field):
        group(**{field: value})
    with pytest.raises(ValueError, match=field):  # the flat keyword is checked the same way
        LieGAN(2, **{field: value})


def test_flat_overrides_reach_their_group_and_nothing_else():
    gan = LieGAN(2, hidden=32, identity_weight=0.3, lr_g=5e-3, stop_tol=None)
    assert gan.model == dataclasses.replace(ModelSettings(), hidden=32)
    assert gan.losses == dataclasses.replace(LossSettings(), identity_weight=0.3)
    assert gan.optim == dataclasses.replace(OptimSettings(), lr_g=5e-3)
    assert gan.run == dataclasses.replace(RunSettings(), stop_tol=None)


def test_flat_override_equals_the_same_group_given_whole():
    flat = LieGAN(2, lr_g=5e-3, batch_size=32).config()
    grouped = LieGAN(2, optim=OptimSettings(lr_g=5e-3, batch_size=32)).config()
    assert flat == grouped


def test_flat_override_applies_on_top_of_a_given_group():
    gan = LieGAN(2, optim=OptimSettings(lr_g=1e-4, lr_d=3e-4), lr_d=5e-4)
    assert (gan.optim.lr_g, gan.optim.lr_d) == (1e-4, 5e-4)


def test_unknown_keyword_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="learning_rate"):
        LieGAN(2, learning_rate=1e-3)


def test_a_group_of_the_wrong_type_is_refused():
    with pytest.raises(TypeError, match="optim must be a OptimSettings"):
        LieGAN(2, optim=LossSettings())


def test_paper_preset_equals_the_old_defaults():
    config = LieGAN.paper(3, 2).config()
    assert {k: config[k] for k in OLD_DEFAULTS} == OLD_DEFAULTS
    assert config["epochs"] == 100 and config["stop_tol"] is None
    assert config["steps_per_epoch"] is None  # whole passes, as the paper
    assert config == LieGAN(3, 2, preset="paper").config()


def test_paper_preset_takes_overrides():
    gan = LieGAN.paper(2, hidden=64)
    assert gan.model.hidden == 64 and gan.optim.lr_g == 1e-3


def test_config_holds_every_field_of_every_group_as_json():
    gan = LieGAN(2, init=so(2), discriminator=torch.nn.Linear(2, 1), learn_generators=False)
    config = gan.config()
    assert set(FIELDS) <= set(config)
    assert config["init"] == "tensor" and config["discriminator"] == "Linear"
    assert json.loads(json.dumps(config)) == config


def test_field_names_are_unique_across_groups():
    groups = (ModelSettings, LossSettings, OptimSettings, RunSettings)
    names = [f.name for g in groups for f in dataclasses.fields(g)]
    assert len(names) == len(set(names)) == len(FIELDS)


def test_settings_are_frozen_values():
    s = OptimSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.lr_g = 1.0
    assert s == OptimSettings() and s.betas == (0.5, 0.999)

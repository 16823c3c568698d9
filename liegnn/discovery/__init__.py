"""Symmetry discovery: LieGAN, its generator / discriminator / regularisers, and baselines.

Example: ``LieGAN(2).fit(x).generators`` for samples x (N, 2) of a rotation-invariant density
is (1, 2, 2), close to a multiple of [[0, −1], [1, 0]]; ``DiscreteSearch().fit(x, y)`` finds
the finite group (permutations, reflections, rotations by 2π/k) as exact elements. See
docs/discovery.md.
"""

from . import actions, coefficients, masks
from .actions import Action, as_action
from .baselines import AugerinoPlus, SymmetryGAN
from .coefficients import (
    CoefficientDistribution,
    GaussianMixture,
    IntegerGrid,
    Normal,
    Uniform,
)
from .discrete import DiscreteResult, DiscreteSearch, select_discrete
from .discriminators import (
    DeepSetsDiscriminator,
    EmbeddingDiscriminator,
    MLPDiscriminator,
    PairwiseDiscriminator,
)
from .evaluation import select_best
from .generator import LieGenerator
from .lie_gan import LieGAN
from .regularizers import channel_regularizer, identity_regularizer
from .result import DiscoveryResult, load_generators
from .seeds import fit_seeds
from .settings import LossSettings, ModelSettings, OptimSettings, RunSettings

__all__ = [
    "Action",
    "AugerinoPlus",
    "CoefficientDistribution",
    "DeepSetsDiscriminator",
    "DiscreteResult",
    "DiscreteSearch",
    "DiscoveryResult",
    "EmbeddingDiscriminator",
    "GaussianMixture",
    "IntegerGrid",
    "LieGAN",
    "LieGenerator",
    "LossSettings",
    "MLPDiscriminator",
    "ModelSettings",
    "Normal",
    "OptimSettings",
    "PairwiseDiscriminator",
    "RunSettings",
    "SymmetryGAN",
    "Uniform",
    "actions",
    "as_action",
    "channel_regularizer",
    "coefficients",
    "fit_seeds",
    "identity_regularizer",
    "load_generators",
    "masks",
    "select_best",
    "select_discrete",
]

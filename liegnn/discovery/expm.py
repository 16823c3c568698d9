"""The batched matrix exponentials of the generator, kept importable here: they live in
:mod:`liegnn.algebra.expm` (one exponential map for discovery, augmentation and sampling)."""

from ..algebra.expm import expm2, expm_blocks, expm_combination, expm_one_channel

__all__ = ["expm2", "expm_blocks", "expm_combination", "expm_one_channel"]

"""liegnn: discover the symmetries of data (LieGAN) and use them in equivariant graph networks."""

__version__ = "0.1.0"

"""Safe, atomic files: torch files loaded with ``weights_only=True`` and safetensors + JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .._atomic import atomic_path
from .._optional import require


def atomic_torch_save(obj, path: str | os.PathLike) -> None:
    """torch.save to a temporary file in the same folder, then rename over ``path``."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def safe_torch_load(path: str | os.PathLike, map_location="cpu"):
    """torch.load with ``weights_only=True``; a file that needs pickle is refused clearly."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # the unpickler's errors vary between versions
        raise ValueError(
            f"{path} is not a safe torch file (weights_only load failed: {err})"
        ) from err


def load_tensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and JSON metadata from a ``.safetensors`` file or a safe torch file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no file at {path}")
    if path.suffix == ".safetensors":
        st = require("safetensors", "io")
        with st.safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("liegnn", "{}"))
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        for k in meta.get("complex", []):
            tensors[k] = torch.view_as_complex(tensors[k].contiguous())
        return tensors, meta
    obj = safe_torch_load(path)
    if isinstance(obj, torch.Tensor):
        return {"generators": obj}, {}
    if isinstance(obj, dict) and "tensors" in obj:
        meta = obj.get("meta", "{}")
        return dict(obj["tensors"]), json.loads(meta) if isinstance(meta, str) else dict(meta)
    if isinstance(obj, dict):
        return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}, {}
    raise ValueError(f"{path} holds a {type(obj).__name__}, not tensors")

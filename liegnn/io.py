"""Files written atomically and read without running code: the one IO module of liegnn.

- :func:`atomic_path`: a reader sees the old file or the whole new one, never a partial one
  (write to a temporary file in the same folder, then :func:`os.replace`).
- :func:`atomic_torch_save` / :func:`safe_torch_load`: torch files of tensors, dicts, lists,
  strings and numbers, loaded with ``weights_only=True``; a file that needs arbitrary pickle is
  refused with a ValueError, so loading a file never runs code from it.
- :func:`atomic_write_json` / :func:`strict_json`: strict JSON (RFC 8259). JSON has no infinity
  or NaN, so **every non-finite float (±inf, NaN) is written as** ``null``: for example
  1/ε_B when no background jet passes the cut. Readers treat ``null`` as "no finite value".
- :func:`save_tensors` / :func:`load_tensors`: named tensors with JSON metadata, as
  ``.safetensors`` or as a torch file of tensors and a JSON string (what a
  :class:`~liegnn.Symmetry` and a discovery result are saved as).
- :func:`check_resume_config`: resuming a run needs the settings it was started with.

Discovery (:mod:`liegnn.discovery`) and training (:mod:`liegnn.training`) checkpoints, results
and summaries all go through these functions.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch

__all__ = [
    "atomic_path",
    "atomic_torch_save",
    "atomic_write_json",
    "check_resume_config",
    "load_tensors",
    "safe_torch_load",
    "save_tensors",
    "strict_json",
]


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path``, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the mode a plain open() would
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_torch_save(obj, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file next to ``path``, then move it onto ``path``."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def safe_torch_load(
    path: str | os.PathLike,
    map_location="cpu",
    *,
    safe_globals: Iterable = (),
    what: str = "torch file",
):
    """``torch.load(path, weights_only=True)``: no code in the file runs.

    Args:
        path: a torch file.
        map_location: as for :func:`torch.load`.
        safe_globals: classes allowed besides torch's defaults (e.g. PyG's ``Data``), only for
            this call.
        what: what the file is, for the error messages (``"checkpoint"``, ...).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file needs pickle beyond the allowed types, or is not a torch file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {path}")
    allowed = list(safe_globals)
    context = torch.serialization.safe_globals(allowed) if allowed else nullcontext()
    try:
        with context:
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # the unpickler's error types vary between torch versions
        reason = str(err).strip().splitlines()
        detail = next((line.strip() for line in reason if "Unsupported" in line), None)
        raise ValueError(
            f"{path} is not a safe {what}: it is unreadable or needs pickle to load "
            f"(weights_only load failed: {detail or (reason[0] if reason else type(err).__name__)})"
        ) from err


def strict_json(obj):
    """``obj`` with every non-finite float (±inf, NaN) replaced by ``None`` (JSON ``null``);
    dicts, lists and tuples are walked."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    return obj


def atomic_write_json(obj, path: str | os.PathLike, **dump_options) -> None:
    """Write ``obj`` as strict JSON (non-finite floats → ``null``) atomically, indent 2 unless
    given, ending with a newline."""
    dump_options.setdefault("indent", 2)
    dump_options["allow_nan"] = False
    text = json.dumps(strict_json(obj), **dump_options)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")


def check_resume_config(
    path: str | os.PathLike, saved: dict, now: dict, ignore: Iterable[str] = ()
) -> None:
    """Raise ValueError naming every setting (outside ``ignore``) in which ``now`` differs from
    the ``saved`` settings of the checkpoint at ``path``. Both are compared as JSON values, so
    a tuple equals the list it was stored as."""
    skip = set(ignore)
    saved, now = (
        {k: v for k, v in json.loads(json.dumps(c, sort_keys=True)).items() if k not in skip}
        for c in (saved, now)
    )
    changed = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
    if changed:
        raise ValueError(
            f"checkpoint {path} was written with different settings ({', '.join(changed)}); "
            "resume with the same settings or start a new run in another folder"
        )


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Tensors and JSON metadata, atomically: ``.safetensors`` (complex tensors stored as their
    real view and listed in the metadata) or a torch file that loads with ``weights_only=True``."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from ._optional import require

        st = require("safetensors.torch", "io")
        complex_keys = [k for k, v in tensors.items() if v.is_complex()]
        flat = {
            k: (torch.view_as_real(v) if v.is_complex() else v).contiguous()
            for k, v in tensors.items()
        }
        meta = {**meta, "complex": complex_keys}
        with atomic_path(path) as tmp:
            st.save_file(flat, str(tmp), metadata={"liegnn": json.dumps(meta)})
    else:
        atomic_torch_save({"tensors": tensors, "meta": json.dumps(meta)}, path)


def load_tensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and JSON metadata from a ``.safetensors`` file or a safe torch file (a plain
    tensor is returned as ``{"generators": tensor}``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no file at {path}")
    if path.suffix == ".safetensors":
        from ._optional import require

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

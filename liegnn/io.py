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
- :func:`output_lock`: one run at a time writes to an output folder.

Discovery (:mod:`liegnn.discovery`) and training (:mod:`liegnn.training`) checkpoints, results
and summaries all go through these functions.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

__all__ = [
    "LOCK_NAME",
    "FolderInUseError",
    "atomic_path",
    "atomic_torch_save",
    "atomic_write_json",
    "check_resume_config",
    "load_tensors",
    "output_lock",
    "safe_torch_load",
    "save_tensors",
    "strict_json",
]


#: when this process imported liegnn.io: a temporary last written before it is no write of ours
_PROCESS_START = time.time()


def _proc_umask() -> int | None:
    """The umask from ``/proc/self/status`` (Linux ≥ 4.7), None where that file has none."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _import_umask() -> int:
    mask = _proc_umask()
    if mask is None:  # once, at import; os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


_UMASK = _import_umask()


def _umask() -> int:
    """The process umask without setting it (setting it races with other threads' files): read
    from ``/proc`` on Linux, else the value at import."""
    mask = _proc_umask()
    return _UMASK if mask is None else mask


def _temporaries(path: Path) -> list[tuple[Path, int]]:
    """Temporaries :func:`atomic_path` names for ``path`` (``.NAME.PID.XXXXXXXX.tmp``), each
    with the process id of its writer."""
    pattern = re.compile(re.escape(f".{path.name}.") + r"(\d+)\.[a-z0-9_]{8}\.tmp")
    prefix = f".{path.name}."
    try:
        with os.scandir(path.parent) as entries:
            names = [e.name for e in entries if e.name.startswith(prefix) and e.is_file()]
    except OSError:
        return []
    found = ((name, pattern.fullmatch(name)) for name in names)
    return [(path.parent / name, int(m.group(1))) for name, m in found if m]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or a pid we cannot ask about): leave it alone
    return True


def _remove_stale_temporaries(path: Path) -> None:
    """Delete temporaries of ``path`` that a killed writer left behind: last written before this
    process started, by a process that no longer exists.

    No lock is held on a temporary while it is written (HDF5 takes its own ``flock`` on the files
    it writes, and two locks on one file would conflict): the writer's pid in the name says who
    wrote it, and the time check keeps a recycled pid from protecting or exposing a file.
    """
    for tmp, pid in _temporaries(path):
        try:
            if tmp.stat().st_mtime >= _PROCESS_START or _alive(pid):
                continue
            tmp.unlink()
        except OSError:  # gone meanwhile
            pass


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path``, else delete it.

    The temporary is ``.NAME.PID.XXXXXXXX.tmp``; a later write to ``path`` deletes one that a
    killed process left behind (:func:`_remove_stale_temporaries`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
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


#: the lock file :func:`output_lock` keeps in an output folder while a run writes there
LOCK_NAME = ".liegnn.lock"


class FolderInUseError(ValueError):
    """Another process holds the lock of an output folder (:func:`output_lock`)."""


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info.get("pid"):
        return "another process"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    mine = " (this process)" if info["pid"] == os.getpid() else ""
    return (
        f"process {info['pid']}{mine} on {info.get('host', '?')}, started {started}: "
        f"{info.get('command', '?')}"
    )


@contextmanager
def output_lock(folder: str | os.PathLike, what: str = "run") -> Iterator[Path]:
    """Hold the output folder ``folder`` for this process: a second run writing to the same
    folder is refused (:class:`FolderInUseError`, naming the process that holds it) instead of
    both finishing and the last writer winning.

    The lock is an exclusive ``flock`` on ``folder/.liegnn.lock``, which the kernel releases
    when the process ends however it ends, so a killed run leaves no stale lock; the file is
    deleted when the run ends. Without ``fcntl`` (Windows) the file itself is the lock, and one
    left by a killed run must be deleted by hand (the error says so). The lock is per open file:
    the same process taking it twice is refused too. Forked children (worker processes) share
    it with their parent.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_NAME
    stale_hint = (
        f"the lock is released when that process ends; if it is no longer running, delete {lock}"
        if fcntl is None
        else "the lock is released when that process ends"
    )
    while True:
        flags = os.O_RDWR | os.O_CREAT | (os.O_EXCL if fcntl is None else 0)
        try:
            fd = os.open(lock, flags, 0o666)
        except FileExistsError:  # Windows: the file is the lock
            holder = _holder_of_file(lock)
            raise FolderInUseError(_in_use(folder, what, holder, stale_hint)) from None
        if fcntl is None:
            break
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fd)
            os.close(fd)
            raise FolderInUseError(_in_use(folder, what, holder, stale_hint)) from None
        try:  # the holder before us may have deleted the file between our open and flock
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        info = {
            "pid": os.getpid(),
            "host": platform.node(),
            "started": time.time(),
            "command": " ".join(sys.argv) or sys.executable,
            "what": what,
        }
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
        yield lock
    finally:
        if fcntl is None:  # Windows deletes no open file
            os.close(fd)
        lock.unlink(missing_ok=True)  # with flock: still held, so no one else is using it
        if fcntl is not None:
            os.close(fd)


def _holder_of_file(lock: Path) -> str:
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return "another process"
    try:
        return _holder(fd)
    finally:
        os.close(fd)


def _in_use(folder: Path, what: str, holder: str, stale_hint: str) -> str:
    return (
        f"the output folder {folder} is in use by another {what} ({holder}); wait for it to "
        f"finish or choose another output folder ({stale_hint})"
    )


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
        try:
            with st.safe_open(str(path), framework="pt") as f:
                meta = json.loads((f.metadata() or {}).get("liegnn", "{}"))
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as err:  # SafetensorError, a bad header, JSON metadata that is not
            raise ValueError(f"{path} is not a readable .safetensors file ({err})") from None
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

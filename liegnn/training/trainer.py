"""A training loop for PyG graphs and plain tensors: AdamW, warm-up + cosine, best-validation
checkpoints, exact resume after a kill, metrics JSON, and DistributedDataParallel under torchrun.

Reproducibility: the training order of epoch e is ``torch.randperm(N)`` seeded with seed + e
(``DistributedSampler``'s rule; with K processes rank r takes positions r, r + K, …), so it never
depends on what ran before. The end-of-epoch checkpoint holds the model, optimiser, scheduler,
history and every rank's Python / NumPy / torch RNG state, so a run killed at any point and
restarted with the same arguments continues from the last completed epoch and ends with the
same weights and metrics as an uninterrupted run (bitwise on the same machine and device).
"""

from __future__ import annotations

import copy
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, DistributedSampler

from ..io import (
    FolderInUseError,
    atomic_torch_save,
    atomic_write_json,
    check_resume_config,
    output_lock,
)
from . import distributed as ddp
from .checkpoint import FORMAT, load_checkpoint, rng_state, seed_everything, set_rng_state
from .config import _RESUMABLE, TrainConfig
from .metrics import classification_metrics, regression_metrics
from .schedule import adamw, warmup_cosine

log = logging.getLogger("liegnn.training")


def split_batch(batch) -> tuple[Any, Tensor]:
    """(model input, target) of a batch: ``(batch, batch.y)`` for PyG data, ``(x, y)`` for a
    pair of tensors."""
    if hasattr(batch, "y") and hasattr(batch, "to") and not isinstance(batch, Tensor):
        return batch, batch.y
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    raise ValueError(
        "cannot split the batch into input and target: expected a PyG batch with .y or an "
        f"(x, y) pair, got {type(batch).__name__}; pass split_batch= to the Trainer"
    )


def _to_device(batch, device: torch.device):
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(b, device) for b in batch)
    return batch.to(device) if hasattr(batch, "to") else batch


def _is_graph_data(data) -> bool:
    from torch_geometric.data import Dataset as GraphDataset
    from torch_geometric.data.data import BaseData

    return isinstance(data, GraphDataset) or (
        hasattr(data, "__getitem__") and len(data) > 0 and isinstance(data[0], BaseData)
    )


class Trainer:
    """Train ``model`` on ``train_data`` and pick the best epoch on ``val_data``.

    Args:
        model: an ``nn.Module``; ``model(input)`` gives logits (N, C) or predictions.
        train_data, val_data, test_data: map-style datasets (PyG datasets or lists of ``Data``,
            or e.g. a ``TensorDataset`` of (x, y)), or ready ``DataLoader``\\ s (then the order
            is the loader's own; single process only).
        config: a :class:`TrainConfig` (or a dict of its fields).
        out_dir: run folder for ``last.pt``, ``best.pt`` and ``metrics.json`` (None: no files,
            no resume).
        split_batch: maps a batch to (model input, target); see :func:`split_batch`.
        on_epoch_end: called as ``f(epoch, record)`` after each epoch's files are written.
        info: extra JSON-serialisable facts stored in ``metrics.json`` (model, symmetry, ...).
        extra_info: called each time ``metrics.json`` is written; the facts it returns join
            ``info`` (e.g. the current value of a learned metric).
        eval_train: also evaluate the best-validation weights on the training data (in
            evaluation mode: no dropout, no augmentation); ``metrics.json`` gets ``"train"``.

    :meth:`fit` resumes from ``out_dir/last.pt`` when it exists (``resume=True``).
    """

    def __init__(
        self,
        model: nn.Module,
        train_data,
        val_data=None,
        config: TrainConfig | dict | None = None,
        *,
        test_data=None,
        out_dir: str | os.PathLike | None = None,
        split_batch: Callable[[Any], tuple[Any, Tensor]] = split_batch,
        on_epoch_end: Callable[[int, dict], None] | None = None,
        info: dict | None = None,
        extra_info: Callable[[], dict] | None = None,
        eval_train: bool = False,
    ):
        if isinstance(config, dict):
            config = TrainConfig(**config)
        self.config = config or TrainConfig()
        self.ctx = ddp.context()
        self.device = ddp.process_device(self.config.device, self.ctx)
        self.model = model.to(self.device)
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.split_batch = split_batch
        self.on_epoch_end = on_epoch_end
        self.info = dict(info or {})
        self.extra_info = extra_info
        if self.config.batch_size % self.ctx.world_size:
            raise ValueError(
                f"batch_size {self.config.batch_size} is not divisible by the "
                f"{self.ctx.world_size} processes"
            )
        self.train_loader = self._loader(train_data, train=True)
        self.val_loader = None if val_data is None else self._loader(val_data, train=False)
        self.test_loader = None if test_data is None else self._loader(test_data, train=False)
        # the training data in evaluation mode (no shuffling, no augmentation): for the
        # best-validation weights' training error, which shows over- or underfitting
        self.train_eval_loader = self._loader(train_data, train=False) if eval_train else None
        self.train_metrics: dict | None = None
        self.history: list[dict] = []
        self.best: dict | None = None
        self._best_state: dict | None = None

    # -- data -------------------------------------------------------------------------------
    def _loader(self, data, train: bool) -> DataLoader:
        if isinstance(data, DataLoader):
            if self.ctx.is_distributed:
                raise ValueError("under torchrun pass datasets, not DataLoaders, to the Trainer")
            return data
        if len(data) == 0:
            raise ValueError("a dataset given to the Trainer is empty")
        world, rank = self.ctx.world_size, self.ctx.rank
        cfg = self.config
        if train:
            sampler = DistributedSampler(
                data, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed
            )
            batch = cfg.batch_size // world
        else:  # every example exactly once over the ranks, no padding
            sampler = list(range(rank, len(data), world))
            batch = max(1, (cfg.eval_batch_size or cfg.batch_size) // world)
        if _is_graph_data(data):
            from torch_geometric.loader import DataLoader as GraphLoader

            return GraphLoader(data, batch_size=batch, sampler=sampler, num_workers=cfg.num_workers)
        return DataLoader(data, batch_size=batch, sampler=sampler, num_workers=cfg.num_workers)

    def _steps_per_epoch(self) -> int:
        return len(self.train_loader)

    # -- loss and evaluation ----------------------------------------------------------------
    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """Cross-entropy on logits (N, C) and class targets, or L1 / MSE on matching shapes."""
        if self.config.loss == "cross_entropy":
            return F.cross_entropy(output, target.reshape(-1).long())
        if target.numel() != output.numel():
            raise ValueError(
                f"target of shape {tuple(target.shape)} does not match the output "
                f"{tuple(output.shape)}"
            )
        target = target.to(output.dtype).reshape(output.shape)
        if self.config.loss == "l1":
            return F.l1_loss(output, target)
        return F.mse_loss(output, target)

    @torch.no_grad()
    def predict(self, loader: DataLoader) -> tuple[Tensor, Tensor]:
        """Outputs and targets of every example of ``loader`` (gathered over ranks), on CPU."""
        ddp.broadcast_buffers(self.model)
        self.model.eval()
        outputs, targets = [], []
        for batch in loader:
            batch = _to_device(batch, self.device)
            inputs, target = self.split_batch(batch)
            outputs.append(self.model(inputs).detach().float())
            targets.append(target.detach())
        out = torch.cat(outputs) if outputs else torch.zeros(0, device=self.device)
        tgt = torch.cat(targets) if targets else torch.zeros(0, device=self.device)
        return ddp.all_gather_concat(out).cpu(), ddp.all_gather_concat(tgt).cpu()

    def evaluate(self, data) -> dict[str, float | None]:
        """``loss`` plus :func:`classification_metrics` or :func:`regression_metrics`."""
        loader = data if isinstance(data, DataLoader) else self._loader(data, train=False)
        output, target = self.predict(loader)
        metrics: dict[str, float | None] = {"loss": float(self.loss(output, target))}
        if self.config.task == "classification":
            metrics.update(classification_metrics(output, target))
        else:
            target = target.to(output.dtype).reshape(output.shape)
            metrics.update(
                regression_metrics(
                    output, target, unit=self.config.unit, unit_scale=self.config.unit_scale
                )
            )
        return metrics

    # -- checkpoints ------------------------------------------------------------------------
    def _state(self, epoch: int, optimizer, scheduler, rng: list) -> dict:
        return {
            "format": FORMAT,
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng,
            "history": self.history,
            "best": self.best,
            "best_model": self._best_state,
            "config": self.config.to_dict(),
        }

    def _best_file(
        self, epoch: int, weights: dict, metrics: dict | None, config: dict | None = None
    ) -> dict:
        return {
            "format": FORMAT,
            "epoch": epoch,
            "model": weights,
            "metrics": metrics,
            "config": self.config.to_dict() if config is None else config,
        }

    def _resume(self, optimizer, scheduler) -> int:
        path = self.out_dir / "last.pt"
        # on CPU: the RNG states must stay there; load_state_dict moves the rest
        try:
            ckpt = load_checkpoint(path)
        except ValueError as err:
            raise ValueError(
                f"cannot resume: {path} is damaged ({err}); it cannot be rebuilt. Move it away "
                "to start the run over (or pass resume=False / liegnn train --no-resume)"
            ) from None
        check_resume_config(path, ckpt["config"], self.config.to_dict(), ignore=_RESUMABLE)
        if self.ctx.is_main:
            self._check_best_file(ckpt)
        self.model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        self.history = list(ckpt["history"])
        self.best = ckpt["best"]
        self._best_state = ckpt["best_model"]
        rng = ckpt["rng"]
        if len(rng) == self.ctx.world_size:
            set_rng_state(rng[self.ctx.rank])
        else:  # a different process count: the order is unchanged, dropout streams are not
            seed_everything(self.config.seed + 7919 * ckpt["epoch"] + self.ctx.rank)
        return int(ckpt["epoch"])

    def _check_best_file(self, last: dict) -> None:
        """Rewrite ``best.pt`` from ``last.pt``'s ``best_model`` when it is missing or damaged
        (e.g. truncated by a full disk or a copy): it holds exactly what was written there."""
        path = self.out_dir / "best.pt"
        if last.get("best_model") is None:
            return
        try:
            best = load_checkpoint(path)
            if best.get("epoch") == last["best"]["epoch"]:
                return
            problem = f"is of epoch {best.get('epoch')}, not the best epoch {last['best']['epoch']}"
        except FileNotFoundError:
            problem = "is missing"
        except ValueError as err:
            problem = f"is damaged ({err})"
        log.warning("%s %s; rewriting it from %s", path, problem, path.with_name("last.pt"))
        best = last["best"]
        rebuilt = self._best_file(best["epoch"], last["best_model"], best["val"], last["config"])
        atomic_torch_save(rebuilt, path)

    def _write_metrics(self, test: dict | None = None) -> None:
        if self.out_dir is None or not self.ctx.is_main:
            return
        atomic_write_json(self.summary(test), self.out_dir / "metrics.json")

    def summary(self, test: dict | None = None) -> dict:
        """The content of ``metrics.json``."""
        return {
            **self.info,
            **(self.extra_info() if self.extra_info is not None else {}),
            "config": self.config.to_dict(),
            "n_parameters": sum(p.numel() for p in self.model.parameters()),
            "world_size": self.ctx.world_size,
            "device": str(self.device),
            "epochs_completed": len(self.history),
            "history": self.history,
            "best": self.best,
            "test": test,
            **({"train": self.train_metrics} if self.train_metrics is not None else {}),
        }

    # -- training ---------------------------------------------------------------------------
    def _train_epoch(self, epoch, train_model, optimizer, scheduler) -> float:
        from tqdm.auto import tqdm

        cfg = self.config
        if hasattr(self.train_loader.sampler, "set_epoch"):
            self.train_loader.sampler.set_epoch(epoch)
        train_model.train()
        total = torch.zeros(2, dtype=torch.float64, device=self.device)
        bar = tqdm(
            self.train_loader,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            disable=not (cfg.progress and self.ctx.is_main),
            leave=False,
            file=sys.stderr,
        )
        for batch in bar:
            batch = _to_device(batch, self.device)
            inputs, target = self.split_batch(batch)
            loss = self.loss(train_model(inputs), target)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the training loss became {loss.item()} in epoch {epoch + 1}"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                nn.utils.clip_grad_norm_(train_model.parameters(), cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            n = target.shape[0] if cfg.loss == "cross_entropy" else target.numel()
            total += torch.stack([loss.detach().double() * n, torch.tensor(n, device=self.device)])
            bar.set_postfix(loss=f"{loss.item():.4g}")
        total = ddp.all_reduce_sum(total)
        return float(total[0] / total[1])

    def _is_better(self, value: float | None) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.best is None
        if self.best is None or self.best["value"] is None:
            return True
        return value > self.best["value"] if self.config.maximise else value < self.best["value"]

    def _lock_output(self, stack: ExitStack) -> None:
        """Hold ``out_dir`` (:func:`liegnn.io.output_lock`) on rank 0; every rank raises if it
        is in use, so no rank waits for one that stopped."""
        refused = None
        if self.out_dir is not None and self.ctx.is_main:
            try:
                stack.enter_context(output_lock(self.out_dir, what="training run"))
            except FolderInUseError as err:
                refused = str(err)
        if self.out_dir is not None:
            refused = next((r for r in ddp.all_gather_objects(refused) if r), None)
        if refused:
            raise FolderInUseError(refused)

    def fit(self, resume: bool = True) -> dict:
        """Train (resuming from ``out_dir/last.pt`` when present and ``resume``), evaluate the
        best-validation weights on the test data, write ``metrics.json``; returns its content.

        ``out_dir`` is locked for the whole call: a second run on the same folder raises
        :class:`~liegnn.io.FolderInUseError`. On resume a missing or damaged ``best.pt`` is
        rewritten from ``last.pt``; a damaged ``last.pt`` is refused with its name.
        """
        with ExitStack() as stack:
            self._lock_output(stack)
            return self._fit(resume)

    def _fit(self, resume: bool) -> dict:
        cfg = self.config
        steps = self._steps_per_epoch()
        optimizer = adamw(self.model, cfg.lr, cfg.weight_decay, cfg.betas)
        scheduler = warmup_cosine(
            optimizer,
            total_steps=cfg.epochs * steps,
            warmup_steps=round(cfg.warmup_epochs * steps),
            min_lr_ratio=cfg.min_lr_ratio,
            restart_steps=None if cfg.restart_epochs is None else round(cfg.restart_epochs * steps),
            restart_mult=cfg.restart_mult,
        )
        if cfg.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
        start = 0
        if resume and self.out_dir is not None and (self.out_dir / "last.pt").exists():
            start = self._resume(optimizer, scheduler)
            if cfg.progress and self.ctx.is_main:
                log.info("resuming %s after epoch %d", self.out_dir / "last.pt", start)
        else:
            seed_everything(cfg.seed + self.ctx.rank)
        train_model = ddp.wrap_model(self.model, self.device, self.ctx)

        for epoch in range(start, cfg.epochs):
            t0 = time.perf_counter()
            lr = optimizer.param_groups[0]["lr"]
            train_loss = self._train_epoch(epoch, train_model, optimizer, scheduler)
            record: dict[str, Any] = {"epoch": epoch + 1, "lr": lr, "train_loss": train_loss}
            if self.val_loader is not None:
                record["val"] = self.evaluate(self.val_loader)
                value = record["val"].get(cfg.monitor)
            else:
                value = None
            if self.val_loader is None or self._is_better(value):
                self.best = {
                    "epoch": epoch + 1,
                    "monitor": cfg.monitor,
                    "value": value,
                    "val": record.get("val"),
                }
                self._best_state = {
                    k: v.detach().clone() for k, v in self.model.state_dict().items()
                }
                best_improved = True
            else:
                best_improved = False
            record["time_s"] = time.perf_counter() - t0
            self.history.append(record)
            rng = ddp.all_gather_objects(rng_state())
            if self.out_dir is not None and self.ctx.is_main:
                if best_improved:
                    atomic_torch_save(
                        self._best_file(epoch + 1, self._best_state, record.get("val")),
                        self.out_dir / "best.pt",
                    )
                atomic_torch_save(
                    self._state(epoch + 1, optimizer, scheduler, rng), self.out_dir / "last.pt"
                )
                self._write_metrics()
            if cfg.progress and self.ctx.is_main:
                log.info("%s", _epoch_line(record, cfg.monitor))
            ddp.barrier()
            if self.on_epoch_end is not None:
                self.on_epoch_end(epoch + 1, record)

        test = None
        if self.test_loader is not None or self.train_eval_loader is not None:
            final = copy.deepcopy(self.model.state_dict())
            if self._best_state is not None:
                self.model.load_state_dict(self._best_state)
            if self.test_loader is not None:
                test = self.evaluate(self.test_loader)
            if self.train_eval_loader is not None:
                self.train_metrics = self.evaluate(self.train_eval_loader)
            self.model.load_state_dict(final)
        self._write_metrics(test)
        ddp.barrier()
        return self.summary(test)


def _epoch_line(record: dict, monitor: str) -> str:
    parts = [
        f"epoch {record['epoch']}",
        f"lr {record['lr']:.3g}",
        f"train_loss {record['train_loss']:.4g}",
    ]
    for key, value in (record.get("val") or {}).items():
        if value is not None:
            parts.append(f"val_{key} {value:.4g}")
    parts.append(f"{record['time_s']:.1f}s")
    return "  ".join(parts)


def fit(
    model: nn.Module, train_data, val_data=None, config: TrainConfig | dict | None = None, **kwargs
) -> dict:
    """``Trainer(model, train_data, val_data, config, **kwargs).fit()``."""
    resume = kwargs.pop("resume", True)
    return Trainer(model, train_data, val_data, config, **kwargs).fit(resume=resume)


__all__ = ["TrainConfig", "Trainer", "fit", "split_batch"]

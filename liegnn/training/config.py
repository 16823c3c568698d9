"""Settings of a training run."""

from __future__ import annotations

from dataclasses import asdict, dataclass

LOSSES = ("cross_entropy", "l1", "mse")
_MAXIMISED = ("accuracy", "auc", "rejection_30", "rejection_50")
# settings that may change between a run and its resumption without changing the result
_RESUMABLE = ("progress", "device", "num_workers", "eval_batch_size")


@dataclass
class TrainConfig:
    """Settings of a training run.

    Args:
        epochs: passes over the training set.
        batch_size: the *global* batch (split evenly over torchrun processes).
        eval_batch_size: batch for validation / test (default ``batch_size``).
        lr: peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        betas: AdamW's β₁, β₂.
        warmup_epochs: linear warm-up length (may be fractional).
        min_lr_ratio: final learning rate / peak of the cosine.
        restart_epochs: first cosine cycle length for warm restarts (LorentzNet: 4), or None.
        restart_mult: growth of each next cycle (LorentzNet: 2).
        grad_clip: clip the global gradient norm to this value, or None.
        task: ``"classification"`` or ``"regression"``.
        loss: ``"cross_entropy"``, ``"l1"`` or ``"mse"`` (default: cross-entropy for
            classification, L1 for regression).
        monitor: validation metric picking the best epoch (default ``"accuracy"`` /
            ``"mae"``); accuracy, auc and rejections are maximised, the rest minimised.
        unit, unit_scale: regression MAE is also reported as ``mae_<unit>`` = mae × unit_scale.
        seed: seeds weights-independent randomness (order, dropout, augmentation).
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        num_workers: DataLoader worker processes.
        deterministic: ``torch.use_deterministic_algorithms(True)``: needed for bitwise
            reproducible (and resumable) runs on CUDA, whose default scatter-adds are
            atomic and vary from run to run; CPU runs are deterministic without it.
        progress: show tqdm bars and one summary line per epoch (rank 0 only).
    """

    epochs: int = 10
    batch_size: int = 32
    eval_batch_size: int | None = None
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_epochs: float = 0.0
    min_lr_ratio: float = 0.0
    restart_epochs: float | None = None
    restart_mult: float = 1.0
    grad_clip: float | None = None
    task: str = "classification"
    loss: str | None = None
    monitor: str | None = None
    unit: str | None = None
    unit_scale: float = 1.0
    seed: int = 0
    device: str = "cpu"
    num_workers: int = 0
    deterministic: bool = False
    progress: bool = True

    def __post_init__(self):
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {self.task!r}")
        if self.loss is None:
            self.loss = "cross_entropy" if self.task == "classification" else "l1"
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if (self.loss == "cross_entropy") != (self.task == "classification"):
            raise ValueError(f"loss {self.loss!r} does not fit task {self.task!r}")
        if self.monitor is None:
            self.monitor = "accuracy" if self.task == "classification" else "mae"
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be positive or None, got {self.grad_clip!r}")
        if self.warmup_epochs < 0 or self.warmup_epochs > self.epochs:
            raise ValueError(f"warmup_epochs must lie in [0, epochs], got {self.warmup_epochs!r}")
        self.betas = tuple(float(b) for b in self.betas)

    @property
    def maximise(self) -> bool:
        return self.monitor in _MAXIMISED

    def to_dict(self) -> dict:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d


__all__ = ["LOSSES", "TrainConfig"]

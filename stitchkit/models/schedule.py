"""The step learning-rate schedule of base and stitch training: x0.1 at given epochs."""

from collections.abc import Collection, Iterable

LR_DECAY = 0.1


def step_lr(base: float, drop_epochs: Iterable[float], step: int, steps_per_epoch: int) -> float:
    """Learning rate of 0-based ``step``: ``base`` times 0.1 for each of ``drop_epochs``
    reached; an epoch e drops from step e * steps_per_epoch on (fractional e allowed)."""
    drops = sum(step >= epoch * steps_per_epoch for epoch in drop_epochs)
    return base * LR_DECAY**drops


def check_drops(drop_epochs: Collection[float], epochs: int) -> None:
    """Each drop must fall inside training: 0 < e < epochs."""
    if not all(0 < e < epochs for e in drop_epochs):
        raise ValueError(
            f"lr_drops are the epochs at which the learning rate drops x0.1 and must "
            f"lie in (0, epochs = {epochs}), got {list(drop_epochs)}"
        )

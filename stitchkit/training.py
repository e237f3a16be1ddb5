"""Base-model training: the paper's recipe (Appendix A.1), resumable and deterministic.

SGD with momentum, learning rate x0.1 at given fractions of training (the paper: each
third), random crop with zero padding and horizontal flip done on the device. Robust
models add adversarial training (eq. 4): PGD examples crafted with the model in eval
mode, then clean and adversarial batches in separate train-mode passes. Data
order and augmentation come from one seeded CPU generator, so a seed fixes the run
(bitwise on CPU), and a run resumed from a checkpoint ends with the same weights as an
uninterrupted one.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from stitchkit.attacks import AdversarialTraining, pgd
from stitchkit.augment import crop_and_flip, to_unit_float
from stitchkit.errors import UserError
from stitchkit.evaluation import accuracy
from stitchkit.io import save_torch
from stitchkit.models import ModelSpec, StitchableResNet, build_model
from stitchkit.prepared import PreparedDataset


@dataclass(frozen=True)
class Recipe:
    """Training hyperparameters (params.yaml `train:`, overridable per model)."""

    epochs: int = 200
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_drops: tuple[float, ...] = (1 / 3, 2 / 3)
    crop_padding: int = 4
    hflip: bool = True
    train_samples: int | None = None
    eval_every: int = 1
    checkpoint_every: int = 5
    eval_batch_size: int = 1000
    adversarial: AdversarialTraining | None = None

    def __post_init__(self):
        positive = ["epochs", "batch_size", "eval_every", "checkpoint_every", "eval_batch_size"]
        for name in positive:
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise UserError(
                    f"train.{name} must be a positive integer, got {getattr(self, name)!r}"
                )
        if self.lr <= 0 or self.weight_decay < 0 or not 0 <= self.momentum < 1:
            raise UserError("train needs lr > 0, weight_decay >= 0 and 0 <= momentum < 1")
        if not all(0 < f < 1 for f in self.lr_drops):
            raise UserError(f"train.lr_drops must be fractions in (0, 1), got {self.lr_drops}")
        if self.crop_padding < 0:
            raise UserError(f"train.crop_padding must be >= 0, got {self.crop_padding}")
        if self.train_samples is not None and self.train_samples < self.batch_size:
            raise UserError(
                f"train.train_samples ({self.train_samples}) must be null or >= batch_size"
            )

    def lr_at(self, step: int, total_steps: int) -> float:
        """Learning rate of 0-based ``step``: x0.1 at each of ``lr_drops`` (fractions)."""
        drops = sum(step >= fraction * total_steps for fraction in self.lr_drops)
        return self.lr * 0.1**drops


@dataclass
class TrainResult:
    model: StitchableResNet
    history: list[dict]
    test_accuracy: float
    resumed_from_epoch: int


def training_subset(data: PreparedDataset, samples: int | None):
    """The first ``samples`` of a fixed permutation of the training split (all if None)."""
    if samples is None or samples >= len(data.train_labels):
        return data.train_images, data.train_labels
    order = torch.randperm(len(data.train_labels), generator=torch.Generator().manual_seed(0))
    keep = order[:samples].sort().values
    return data.train_images[keep], data.train_labels[keep]


def training_loss(model, x, y, adversarial: AdversarialTraining | None, generator):
    """(logits, loss) of one batch in train mode: cross-entropy, or eq. (4)'s mix with PGD
    examples crafted in eval mode (random start drawn from ``generator``). The logits are
    the clean ones (the adversarial ones when alpha = 1, which has no clean pass)."""
    alpha = adversarial.alpha if adversarial else 0.0
    terms = []
    if alpha > 0:
        model.eval()
        a = adversarial
        x_adv = pgd(model, x, y, a.epsilon, a.step_size, a.steps, generator)
        model.train()
        terms.append((alpha, model(x_adv)))
    model.train()
    if alpha < 1:
        terms.insert(0, (1 - alpha, model(x)))
    loss = sum(weight * F.cross_entropy(logits, y) for weight, logits in terms)
    return terms[0][1], loss


def run_fingerprint(spec: ModelSpec, recipe: Recipe, seed: int, data: PreparedDataset) -> str:
    """Hash of everything that determines a run; a checkpoint resumes only a matching run."""
    blob = json.dumps(
        [spec.to_dict(), asdict(recipe), seed, list(data.train_images.shape)], sort_keys=True
    )  # asdict turns lr_drops into a list either way, so YAML lists and tuples agree
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_model(
    spec: ModelSpec,
    recipe: Recipe,
    seed: int,
    data: PreparedDataset,
    device: torch.device,
    checkpoint_path: Path,
    resume_from: dict | None = None,
    on_epoch: Callable[[dict], None] = lambda record: None,
) -> TrainResult:
    """Train, saving resumable state to ``checkpoint_path`` every few epochs.

    ``resume_from`` (the content of such a checkpoint) is resumed only if it was written
    by the same run (same spec, recipe, seed and data); ``on_epoch`` sees every epoch,
    the resumed ones included.
    """
    torch.manual_seed(seed)
    model = build_model(spec).to(device)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
    )
    generator = torch.Generator().manual_seed(seed)
    fingerprint = run_fingerprint(spec, recipe, seed, data)
    history: list[dict] = []
    start = 0
    state = resume_from
    if state is not None and state["fingerprint"] == fingerprint:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        history, start = state["history"], state["epoch"]
    for record in history:
        on_epoch(record)

    images, labels = training_subset(data, recipe.train_samples)
    images, labels = images.to(device), labels.to(device)
    steps = len(labels) // recipe.batch_size
    bar = tqdm(total=recipe.epochs * steps, initial=start * steps, desc="train", unit="batch")
    for epoch in range(start, recipe.epochs):
        order = torch.randperm(len(labels), generator=generator).to(device)
        loss_sum = correct = 0.0
        for step in range(steps):
            lr = recipe.lr_at(epoch * steps + step, recipe.epochs * steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            idx = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
            x = to_unit_float(
                crop_and_flip(images[idx], recipe.crop_padding, recipe.hflip, generator)
            )
            logits, loss = training_loss(model, x, labels[idx], recipe.adversarial, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item()
            correct += (logits.argmax(1) == labels[idx]).sum().item()
            bar.update()
        record = {
            "epoch": epoch + 1,
            "lr": lr,  # at the epoch's last step
            "train_loss": loss_sum / steps,
            "train_accuracy": correct / (steps * recipe.batch_size),
        }
        if (epoch + 1) % recipe.eval_every == 0 or epoch + 1 == recipe.epochs:
            model.eval()
            record["test_accuracy"] = accuracy(
                model, data.test_images, data.test_labels, recipe.eval_batch_size, device
            )
        bar.set_postfix(epoch=epoch + 1, loss=f"{record['train_loss']:.3f}")
        history.append(record)
        on_epoch(record)
        if (epoch + 1) % recipe.checkpoint_every == 0 and epoch + 1 < recipe.epochs:
            save_torch(
                {
                    "fingerprint": fingerprint,
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(),
                    "history": history,
                },
                checkpoint_path,
            )
    bar.close()
    model.eval()
    return TrainResult(model, history, history[-1]["test_accuracy"], start)

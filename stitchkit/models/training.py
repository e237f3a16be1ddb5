"""Base-model training: the paper's recipe (Appendix A.1), resumable and deterministic.

SGD with Nesterov momentum (the authors' code), learning rate x0.1 at given epochs
(the authors: 66 and 133 of 200), random crop with zero padding and horizontal flip
done on the device. On a shortcut dataset (shortcuts.py) every carrying training image
shows its class's marker, stamped after augmentation: a biased model (v2's cross-bias
front). Robust models add adversarial training (attacks.py): by default a
share alpha of each batch is replaced by PGD examples crafted with the model in eval
mode. Data order, augmentation and attacked samples come from one seeded CPU
generator, so a seed fixes the run (bitwise on CPU), and a run resumed from a
checkpoint ends with the same weights as an uninterrupted one.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn
from tqdm import tqdm

from stitchkit.common.io import save_torch
from stitchkit.common.precision import FP32, Precision
from stitchkit.common.sampling import check_count, seeded_subset
from stitchkit.common.schema import Bool, Float, NonNegativeInt, PositiveInt, section
from stitchkit.data import shortcuts
from stitchkit.data.augment import crop_and_flip, to_unit_float
from stitchkit.data.prepared import PreparedDataset
from stitchkit.models.architectures import ModelSpec, build_model
from stitchkit.models.attacks import AdversarialTraining
from stitchkit.models.evaluation import accuracy
from stitchkit.models.schedule import check_drops, step_lr
from stitchkit.models.simclr import SimCLR, nt_xent, projection_head, simclr_view
from stitchkit.models.stitchable import Stitchable


@section
class Recipe:
    """Training hyperparameters (params.yaml `train:`, overridable per model).
    ``lr_drops`` are epochs (fractions allowed) at which the learning rate drops x0.1."""

    epochs: PositiveInt = 200
    batch_size: PositiveInt = 128
    lr: Float = Field(default=0.1, gt=0)
    momentum: Float = Field(default=0.9, ge=0, lt=1)
    nesterov: Bool = True
    weight_decay: Float = Field(default=1e-4, ge=0)
    lr_drops: tuple[Float, ...] = (66, 133)
    crop_padding: NonNegativeInt = 4
    hflip: Bool = True
    train_samples: PositiveInt | None = None
    eval_every: PositiveInt = 1
    checkpoint_every: PositiveInt = 5
    eval_batch_size: PositiveInt = 1000
    adversarial: AdversarialTraining | None = None
    simclr: SimCLR | None = None

    def __post_init__(self):
        check_drops(self.lr_drops, self.epochs)
        if self.simclr is not None and self.adversarial is not None:
            raise ValueError("simclr and adversarial do not combine; drop one of them")
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        if self.train_samples is not None and self.train_samples < self.batch_size:
            raise ValueError(f"train_samples ({self.train_samples}) must be null or >= batch_size")


@dataclass
class TrainResult:
    model: Stitchable
    history: list[dict]
    test_accuracy: float
    resumed_from_epoch: int


def training_subset(data: PreparedDataset, samples: int | None) -> torch.Tensor:
    """Indices of the first ``samples`` of a fixed permutation of the training split
    (all if None), in increasing order."""
    n = len(data.train_labels)
    check_count("train_samples", samples, n, "training images")
    return seeded_subset(n, samples, 0)


def training_loss(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    adversarial: AdversarialTraining | None,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, loss) of one batch in train mode. With ``adversarial``, PGD examples are
    crafted in eval mode (samples and random starts drawn from ``generator``) and mixed
    in as its ``mix`` says; the logits are those of the mixed batch (``batch``) or of
    the clean pass (``loss``; the adversarial one when alpha = 1)."""
    alpha = adversarial.alpha if adversarial else 0.0
    if alpha == 0:
        model.train()
        logits = model(x)
        return logits, F.cross_entropy(logits, y)
    if adversarial.mix == "batch":
        replaced = adversarial.replaced(len(y), generator).to(x.device)
        model.eval()
        x = x.clone()
        x[replaced] = adversarial.attack(model, x[replaced], y[replaced], generator)
        model.train()
        logits = model(x)
        return logits, F.cross_entropy(logits, y)
    model.eval()
    x_adv = adversarial.attack(model, x, y, generator)
    model.train()
    terms = [(alpha, model(x_adv))]
    if alpha < 1:
        terms.insert(0, (1 - alpha, model(x)))
    loss = sum(weight * F.cross_entropy(logits, y) for weight, logits in terms)
    return terms[0][1], loss


def _dropout_rng(device) -> torch.Tensor:
    """The state of the generator that dropout draws from on ``device`` (torch's
    default one, seeded by train_model), for a bitwise resume."""
    if torch.device(device).type == "cuda":
        return torch.cuda.get_rng_state(device)
    return torch.get_rng_state()


def _set_dropout_rng(state: torch.Tensor, device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


def run_fingerprint(
    spec: ModelSpec,
    recipe: Recipe,
    seed: int,
    data: PreparedDataset,
    precision: str = FP32.arithmetic,
) -> str:
    """Hash of everything that determines a run; a checkpoint resumes only a matching run."""
    blob = json.dumps(
        [spec.to_dict(), asdict(recipe), seed, list(data.train_images.shape), precision],
        sort_keys=True,
    )  # asdict turns lr_drops into a list either way, so YAML lists and tuples agree
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _sgd(parameters, recipe: Recipe) -> torch.optim.SGD:
    return torch.optim.SGD(
        parameters,
        lr=recipe.lr,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov,
        weight_decay=recipe.weight_decay,
    )


@dataclass
class _Phase:
    """A run of epochs with its own optimizer and step schedule: SimCLR pre-training,
    then the classifier (``probe``: on frozen features), or plain supervised training."""

    name: str
    epochs: int
    optimizer: torch.optim.Optimizer
    lr_drops: tuple[float, ...]


def _phases(model: Stitchable, projector, recipe: Recipe) -> list[_Phase]:
    if recipe.simclr is None:
        return [
            _Phase("supervised", recipe.epochs, _sgd(model.parameters(), recipe), recipe.lr_drops)
        ]
    pretext = recipe.simclr.epochs
    scaled_drops = tuple(e * pretext / recipe.epochs for e in recipe.lr_drops)
    parameters = [*model.parameters(), *projector.parameters()]
    return [
        _Phase("simclr", pretext, _sgd(parameters, recipe), scaled_drops),
        _Phase(
            "probe",
            recipe.epochs,
            _sgd(model.classifier_module().parameters(), recipe),
            recipe.lr_drops,
        ),
    ]


def _feature_size(model: Stitchable) -> int:
    """Size of the penultimate features, from one probe in eval mode (no state moves)."""
    parameter = next(model.parameters())
    model.eval()
    with torch.no_grad():
        size = model.features(torch.zeros(1, *model.input_shape, device=parameter.device)).shape[1]
    model.train()
    return size


def _probe_loss(model: Stitchable, x, y):
    """(logits, loss) of the classifier on features of the frozen network, which runs
    in train mode as in the authors' code (BatchNorm statistics keep moving)."""
    model.train()
    with torch.no_grad():
        features = model.features(x)
    logits = model.classifier_module()(features)
    return logits, F.cross_entropy(logits, y)


def train_model(
    spec: ModelSpec,
    recipe: Recipe,
    seed: int,
    data: PreparedDataset,
    device: torch.device,
    checkpoint_path: Path,
    resume_from: dict | None = None,
    on_epoch: Callable[[dict], None] = lambda record: None,
    precision: Precision = FP32,
) -> TrainResult:
    """Train in ``precision``, saving resumable state to ``checkpoint_path`` every few
    epochs. With ``recipe.simclr``, SimCLR epochs (simclr.py) come first and the
    recipe's epochs then fit only the classifier.

    ``resume_from`` (the content of such a checkpoint) is resumed only if it was written
    by the same run (same spec, recipe, seed, data and precision); ``on_epoch`` sees
    every epoch, the resumed ones included.
    """
    torch.manual_seed(seed)
    model = precision.prepare(build_model(spec).to(device))
    projector = None
    if recipe.simclr is not None:
        projector = projection_head(_feature_size(model), recipe.simclr).to(device)
        contrastive = nt_xent(recipe.simclr.temperature)
    phases = _phases(model, projector, recipe)
    generator = torch.Generator().manual_seed(seed)
    fingerprint = run_fingerprint(spec, recipe, seed, data, precision.arithmetic)
    history: list[dict] = []
    start = 0
    state = resume_from
    if state is not None and state["fingerprint"] == fingerprint:
        model.load_state_dict(state["model"])
        if projector is not None:
            projector.load_state_dict(state["projector"])
        optimizers = state.get("optimizers") or [state["optimizer"]]  # older: one
        for phase, optimizer_state in zip(phases, optimizers, strict=True):
            phase.optimizer.load_state_dict(optimizer_state)
        generator.set_state(state["generator"])
        if "dropout_rng" in state:  # checkpoints of earlier versions lack it
            _set_dropout_rng(state["dropout_rng"], device)
        history, start = state["history"], state["epoch"]
    for record in history:
        on_epoch(record)

    keep = training_subset(data, recipe.train_samples)
    images, labels = data.train_images[keep].to(device), data.train_labels[keep].to(device)
    shortcut = shortcuts.shortcut_of(data)
    carries = None if shortcut is None else shortcut.train_mask[keep].to(device)
    steps = len(labels) // recipe.batch_size
    total = sum(phase.epochs for phase in phases)
    bar = tqdm(total=total * steps, initial=start * steps, desc="train", unit="batch")
    for epoch in range(start, total):
        first = 0
        for phase in phases:
            if epoch < first + phase.epochs:
                break
            first += phase.epochs
        order = torch.randperm(len(labels), generator=generator).to(device)
        loss_sum = correct = 0.0
        for step in range(steps):
            lr = step_lr(recipe.lr, phase.lr_drops, (epoch - first) * steps + step, steps)
            for group in phase.optimizer.param_groups:
                group["lr"] = lr
            idx = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
            if phase.name == "simclr":
                model.train()
                views = [simclr_view(images[idx], generator) for _ in range(2)]
                with precision.autocast():
                    z = projector(model.features(precision.images(torch.cat(views))))
                    loss = contrastive(*z.float().chunk(2))
            else:
                batch = crop_and_flip(images[idx], recipe.crop_padding, recipe.hflip, generator)
                if shortcut is not None:  # markers after augmentation, as in stitch training
                    batch = shortcut.stamp(batch, labels[idx], generator, carry=carries[idx])
                x = precision.images(to_unit_float(batch))
                with precision.autocast():
                    if phase.name == "probe":
                        logits, loss = _probe_loss(model, x, labels[idx])
                    else:
                        logits, loss = training_loss(
                            model, x, labels[idx], recipe.adversarial, generator
                        )
                correct += (logits.argmax(1) == labels[idx]).sum().item()
            phase.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            phase.optimizer.step()
            loss_sum += loss.item()
            bar.update()
        record = {
            "epoch": epoch + 1,
            "lr": lr,  # at the epoch's last step
            "train_loss": loss_sum / steps,
        }
        if phase.name != "simclr":
            record["train_accuracy"] = correct / (steps * recipe.batch_size)
        if phase.name != "simclr" and (
            (epoch + 1 - first) % recipe.eval_every == 0 or epoch + 1 == total
        ):
            model.eval()
            with precision.autocast():
                record["test_accuracy"] = accuracy(
                    model, data.test_images, data.test_labels, recipe.eval_batch_size, device
                )
        bar.set_postfix(epoch=epoch + 1, loss=f"{record['train_loss']:.3f}")
        history.append(record)
        on_epoch(record)
        if (epoch + 1) % recipe.checkpoint_every == 0 and epoch + 1 < total:
            save_torch(
                {
                    "fingerprint": fingerprint,
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    **({"projector": projector.state_dict()} if projector is not None else {}),
                    "optimizers": [phase.optimizer.state_dict() for phase in phases],
                    "generator": generator.get_state(),
                    "dropout_rng": _dropout_rng(device),
                    "history": history,
                },
                checkpoint_path,
            )
    bar.close()
    model.eval()
    return TrainResult(model, history, history[-1]["test_accuracy"], start)

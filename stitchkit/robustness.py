"""Robust accuracy under AutoAttack's "rand" attacks (APGD-CE, then APGD-DLR).

The official ``autoattack`` package is used when it is installed (an optional extra);
otherwise the Adversarial Robustness Toolbox's APGD with the same two losses, combined
per sample as AutoAttack does: a sample is robust only if it is classified correctly
and every attack fails on it. Models take images in [0, 1] and are attacked in eval mode.
"""

import importlib.util
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from stitchkit.attacks import parse_fraction
from stitchkit.augment import to_unit_float
from stitchkit.errors import UserError

BACKENDS = ("auto", "autoattack", "art")
INSTALL_AUTOATTACK = (
    "pip install -e '.[autoattack]' (or pip install git+https://github.com/fra31/auto-attack)"
)


@dataclass(frozen=True)
class RobustEvaluation:
    """params.yaml `robust_eval:`: attack backend, test samples attacked, L-inf epsilon,
    APGD iterations per attack, batch size and the seed of the sample draw and restarts."""

    backend: str = "auto"
    samples: int = 1000
    epsilon: float = 8 / 255
    iterations: int = 100
    batch_size: int = 500
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "epsilon", parse_fraction(self.epsilon, "robust_eval.epsilon"))
        if self.backend not in BACKENDS:
            raise UserError(
                f"unknown robust_eval.backend {self.backend!r}; choose one of {list(BACKENDS)}"
            )
        if self.epsilon <= 0:
            raise UserError(f"robust_eval.epsilon must be > 0, got {self.epsilon}")
        for name in ("samples", "iterations", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise UserError(f"robust_eval.{name} must be a positive integer, got {value!r}")

    def resolved_backend(self) -> str:
        """The backend that will run: ``auto`` picks autoattack when installed, else art."""
        installed = importlib.util.find_spec("autoattack") is not None
        if self.backend == "autoattack" and not installed:
            raise UserError(
                f"robust_eval.backend is autoattack but it is not installed; {INSTALL_AUTOATTACK}"
            )
        if self.backend == "auto":
            return "autoattack" if installed else "art"
        return self.backend

    def sample(self, images: torch.Tensor, labels: torch.Tensor):
        """The attacked test samples: the first ``samples`` of a permutation drawn with ``seed``."""
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(self.seed))
        keep = order[: self.samples].sort().values
        return images[keep], labels[keep]


def robust_accuracy(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    settings: RobustEvaluation,
    device: torch.device,
) -> dict:
    """Clean and robust accuracy of ``model`` on ``settings.sample`` of (uint8 images,
    labels), with the backend that produced them."""
    backend = settings.resolved_backend()
    images, labels = settings.sample(images, labels)
    x, y = to_unit_float(images), labels
    model.eval()
    attack = _autoattack if backend == "autoattack" else _art_apgd
    clean, robust = attack(model, x, y, settings, device)
    return {
        "clean_accuracy": float(clean.mean()),
        "robust_accuracy": float(robust.mean()),
        "samples": len(y),
        "backend": backend,
        "epsilon": settings.epsilon,
        "iterations": settings.iterations,
    }


@torch.no_grad()
def predictions(model: nn.Module, x: torch.Tensor, batch_size: int, device) -> np.ndarray:
    out = [
        model(x[s : s + batch_size].to(device)).argmax(1).cpu()
        for s in range(0, len(x), batch_size)
    ]
    return torch.cat(out).numpy()


def _art_apgd(model, x, y, s: RobustEvaluation, device):
    from art.attacks.evasion import AutoProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    num_classes = num_classes_of(model, x, device)
    classifier = PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=tuple(x.shape[1:]),
        nb_classes=num_classes,
        clip_values=(0.0, 1.0),
        device_type="gpu" if torch.device(device).type == "cuda" else "cpu",
    )
    xn, yn = x.numpy(), y.numpy()
    clean = predictions(model, x, s.batch_size, device) == yn
    robust = clean.copy()
    numpy_state = np.random.get_state()  # ART draws its random starts from NumPy's global RNG
    try:
        for loss_type in ("cross_entropy", "difference_logits_ratio"):
            idx = np.flatnonzero(robust)
            if len(idx) == 0:
                break
            np.random.seed(s.seed)
            apgd = AutoProjectedGradientDescent(
                classifier,
                norm=np.inf,
                eps=s.epsilon,
                eps_step=2 * s.epsilon,  # APGD's initial step, as in AutoAttack
                max_iter=s.iterations,
                targeted=False,
                nb_random_init=1,
                batch_size=s.batch_size,
                loss_type=loss_type,
                verbose=False,
            )
            x_adv = torch.from_numpy(apgd.generate(xn[idx], yn[idx]))
            robust[idx] = predictions(model, x_adv, s.batch_size, device) == yn[idx]
    finally:
        np.random.set_state(numpy_state)
    return clean, robust


@torch.no_grad()
def num_classes_of(model, x, device) -> int:
    """The number of classes ``model`` predicts."""
    return model(x[:1].to(device)).shape[1]


def _autoattack(model, x, y, s: RobustEvaluation, device):
    from autoattack import AutoAttack

    adversary = AutoAttack(
        model,
        norm="Linf",
        eps=s.epsilon,
        version="rand",
        device=str(device),
        seed=s.seed,
        verbose=False,
    )
    adversary.apgd.n_iter = s.iterations
    x_adv = adversary.run_standard_evaluation(x.to(device), y.to(device), bs=s.batch_size)
    yn = y.numpy()
    clean = predictions(model, x, s.batch_size, device) == yn
    return clean, clean & (predictions(model, x_adv.cpu(), s.batch_size, device) == yn)

"""Robust accuracy under AutoAttack's "rand" version (APGD-CE, then APGD-DLR).

The default backend is the official AutoAttack of Croce & Hein (the `pyautoattack`
package). The Adversarial Robustness Toolbox's APGD with the same two losses is a second
opinion, combined per sample as AutoAttack does: a sample is robust only if it is
classified correctly and every attack fails on it. Two named presets (PRESETS) give the
paper's attack and the authors' evaluator; fields written beside a preset win. Models
take images in [0, 1] and are attacked in eval mode. The attacked images (AutoAttack's
output: per sample the first adversarial example found, else the clean image) also give
a stitched model's agreement with its end model under attack (v2's adversarial
stitching).
"""

from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from pydantic_core import ArgsKwargs
from torch import nn

from stitchkit.common.sampling import check_count, seeded_subset
from stitchkit.common.schema import Fraction, Int, PositiveInt, section
from stitchkit.data.augment import to_unit_float
from stitchkit.measures.agreement import METRICS, AgreementTally

BACKENDS = ("autoattack", "art")
# paper: the official AutoAttack "rand" as Croce & Hein run it (100 APGD iterations, 20
# EOT samples), the FuLA paper's Table 1. authors: the evaluator of the authors' code
# (external/attacks/attack.py, for models and stitches alike): ART's APGD-CE, then
# APGD-DLR, 20 iterations from a first step of 2/255 (at their epsilon 8/255), no EOT.
# Each sets every field of the attack itself, so that one named over another section
# replaces it whole.
PRESETS = {
    "paper": {"backend": "autoattack", "iterations": 100, "eot_iterations": 20, "step_size": None},
    "authors": {"backend": "art", "iterations": 20, "eot_iterations": 1, "step_size": 2 / 255},
}


@section
class RobustEvaluation:
    """params.yaml `robust_eval:`: a named ``preset`` (paper or authors, PRESETS) whose
    settings fill the fields not written, attack backend, test samples attacked (null:
    all), L-inf epsilon, APGD iterations per attack, EOT iterations (AutoAttack "rand":
    20; a deterministic model is attacked with one, `eot_iterations_for`), APGD's first
    step (art only; null: 2 x epsilon, as AutoAttack), batch size and the seed of the
    sample draw and the attacks' random starts."""

    preset: Literal[tuple(PRESETS)] | None = None
    backend: Literal[BACKENDS] = "autoattack"
    samples: PositiveInt | None = None
    epsilon: Fraction = Field(default=8 / 255, gt=0)
    iterations: PositiveInt = 100
    eot_iterations: PositiveInt = 20
    step_size: Fraction | None = Field(default=None, gt=0)
    batch_size: PositiveInt = 500
    seed: Int = 0

    @model_validator(mode="before")
    @classmethod
    def _preset_fills_the_rest(cls, values: Any) -> Any:
        if isinstance(values, ArgsKwargs):
            return ArgsKwargs(values.args, with_preset(values.kwargs or {}))
        return with_preset(values) if isinstance(values, dict) else values

    @model_validator(mode="after")
    def _step_size_only_for_art(self) -> "RobustEvaluation":
        if self.step_size is not None and self.backend != "art":
            raise ValueError(
                "step_size is ART's first APGD step; the official AutoAttack sets its own "
                "(2 x epsilon): remove step_size or use backend: art"
            )
        return self

    def sample(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The attacked test samples: all, or the first ``samples`` of a permutation drawn
        with ``seed`` (kept in their original order)."""
        check_count("robust_eval.samples", self.samples, len(labels), "test images to attack")
        if self.samples is None or self.samples >= len(labels):
            return images, labels
        keep = seeded_subset(len(labels), self.samples, self.seed)
        return images[keep], labels[keep]


def with_preset(settings: dict) -> dict:
    """``settings`` (a mapping of RobustEvaluation's fields) over its preset's, if it names
    one (an unknown or ill-typed one is left for the field's own error)."""
    preset = settings.get("preset")
    return (PRESETS.get(preset, {}) if isinstance(preset, str) else {}) | settings


def robust_accuracy(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    settings: RobustEvaluation,
    device: torch.device,
    reference: nn.Module | None = None,
) -> dict:
    """Clean and robust accuracy of ``model`` on ``settings.sample`` of (uint8 images,
    labels), with the backend that produced them; given a ``reference`` model (a stitch's
    end model), also ``agreement``: the agreement METRICS of ``model`` with it on the
    attacked images. ``per_sample`` holds tensors, one entry per attacked sample:
    ``labels`` and ``correct`` (robust: right on the clean and the attacked image), with a
    reference also ``pred`` and ``agreement`` on the attacked images (AgreementTally).
    The global RNG is left untouched."""
    images, labels = settings.sample(images, labels)
    x, y = to_unit_float(images), labels
    model.eval()
    devices = [device] if torch.device(device).type == "cuda" else []
    eot = 1
    with torch.random.fork_rng(devices=devices):
        if settings.backend == "autoattack":
            eot = eot_iterations_for(model, x[: settings.batch_size], settings, device)
            x_adv = _autoattack(model, x, y, settings, device, eot)
        else:
            x_adv = _art_apgd(model, x, y, settings, device)
    clean = predictions(model, x, settings.batch_size, device) == y.numpy()
    robust = clean & (predictions(model, x_adv, settings.batch_size, device) == y.numpy())
    scores = {
        "clean_accuracy": float(clean.mean()),
        "robust_accuracy": float(robust.mean()),
        "samples": len(y),
        "backend": settings.backend,
        "epsilon": settings.epsilon,
        "iterations": settings.iterations,
        "eot_iterations_used": eot,
        "per_sample": {"labels": y.to(torch.int16), "correct": torch.from_numpy(robust)},
    }
    if reference is not None:
        tally = _agreement(model, reference, x_adv, y, settings.batch_size, device)
        scores["agreement"] = {m: tally.scores()[m] for m in METRICS}
        scores["per_sample"] |= tally.per_sample()
    return scores


@torch.no_grad()
def _agreement(model, reference, x, y, batch_size: int, device) -> AgreementTally:
    reference.eval()
    tally = AgreementTally()
    for s in range(0, len(y), batch_size):
        batch = x[s : s + batch_size].to(device)
        tally.add(model(batch), reference(batch), y[s : s + batch_size].to(device))
    return tally


@torch.no_grad()
def predictions(
    model: nn.Module, x: torch.Tensor, batch_size: int, device: torch.device | str
) -> np.ndarray:
    out = [
        model(x[s : s + batch_size].to(device)).argmax(1).cpu()
        for s in range(0, len(x), batch_size)
    ]
    return torch.cat(out).numpy()


@torch.no_grad()
def eot_iterations_for(
    model: nn.Module, x: torch.Tensor, settings: RobustEvaluation, device: torch.device | str
) -> int:
    """The EOT samples AutoAttack "rand" needs on ``model``: 1 when it is deterministic
    (no module in training mode, and two forward passes of ``x`` agree bitwise), else
    ``settings.eot_iterations``. EOT averages gradients over the model's randomness; a
    deterministic model gives the same gradient every time, and APGD's L-inf step reads
    only its sign, so the attack is the same with one sample (tests/test_adversarial.py
    checks that the adversarial examples are bitwise equal)."""
    if any(m.training for m in model.modules()):
        return settings.eot_iterations
    batch = x.to(device)
    return 1 if torch.equal(model(batch), model(batch)) else settings.eot_iterations


def autoattack_rand(model: nn.Module, s: RobustEvaluation, device, eot_iterations: int):
    """The official AutoAttack "rand" with its APGD built for ``s.iterations`` and
    ``eot_iterations`` EOT samples. APGD fixes its step-size checkpoints (the first after
    22% of the iterations, then shrinking) from the iteration count it is built with;
    AutoAttack builds it for 100, so setting ``n_iter`` afterwards would keep those of
    100 and, below 23 iterations, never halve the step."""
    from pyautoattack import AutoAttack
    from pyautoattack.autopgd_base import APGDAttack

    adversary = AutoAttack(
        model, norm="Linf", eps=s.epsilon, version="rand", device=str(device), seed=s.seed
    )
    built = adversary.apgd
    adversary.apgd = APGDAttack(
        model,
        n_iter=s.iterations,
        norm="Linf",
        n_restarts=built.n_restarts,
        eps=s.epsilon,
        seed=s.seed,
        eot_iter=eot_iterations,
        rho=built.thr_decr,
        device=built.device,
        logger=built.logger,
    )
    return adversary


def _autoattack(model, x, y, s: RobustEvaluation, device, eot_iterations: int) -> torch.Tensor:
    """The official AutoAttack's output for (x, y) with ``eot_iterations`` EOT samples."""
    adversary = autoattack_rand(model, s, device, eot_iterations)
    x_adv, _ = adversary.run_standard_evaluation(
        x.to(device), y.to(device), batch_size=s.batch_size
    )
    return x_adv.cpu()


def _art_apgd(model, x, y, s: RobustEvaluation, device) -> torch.Tensor:
    """ART's APGD-CE, then APGD-DLR on the samples still classified correctly; per
    sample the first adversarial example found, else the clean image."""
    from art.attacks.evasion import AutoProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    classifier = PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=tuple(x.shape[1:]),
        nb_classes=num_classes_of(model, x, device),
        clip_values=(0.0, 1.0),
        device_type="gpu" if torch.device(device).type == "cuda" else "cpu",
    )
    xn, yn = x.numpy(), y.numpy()
    robust = predictions(model, x, s.batch_size, device) == yn
    attacked = x.clone()
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
                eps_step=s.step_size or 2 * s.epsilon,  # the first step (AutoAttack: 2 eps)
                max_iter=s.iterations,
                targeted=False,
                nb_random_init=1,
                batch_size=s.batch_size,
                loss_type=loss_type,
                verbose=False,
            )
            x_adv = torch.from_numpy(apgd.generate(xn[idx], yn[idx]))
            robust[idx] = predictions(model, x_adv, s.batch_size, device) == yn[idx]
            fooled = ~robust[idx]
            attacked[torch.from_numpy(idx[fooled])] = x_adv[torch.from_numpy(fooled)]
    finally:
        np.random.set_state(numpy_state)
    return attacked


@torch.no_grad()
def num_classes_of(model: nn.Module, x: torch.Tensor, device: torch.device | str) -> int:
    """The number of classes ``model`` predicts."""
    return model(x[:1].to(device)).shape[1]

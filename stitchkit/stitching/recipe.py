"""What a stitch is: the shared training recipe, one stitch's spec, and its result."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from pydantic import Field

from stitchkit.common.errors import UserError
from stitchkit.common.schema import Bool, Float, Int, NonNegativeInt, PositiveInt, section
from stitchkit.models.schedule import check_drops
from stitchkit.models.stitchable import Stitchable
from stitchkit.stitching import bn_state
from stitchkit.stitching.layers import StitchLayer, stitch_layer
from stitchkit.stitching.objectives import (
    HINT_NORMS,
    MODES,
    LossOptions,
    fula_weights,
    objective_reads,
)


@section
class StitchRecipe:
    """How stitching layers are trained (params.yaml `stitch:`; Appendix A.2 and the
    authors' code): Adam, ``lr_drops`` epochs at which the learning rate drops x0.1,
    ``hint_norm`` of Hint and FuLA's terms (objectives.LossOptions), ``bn`` policy.
    ``batching``: how the stitches of a point pair run: ``stacked`` as one vmapped
    computation (stitch_stack.py), ``per-stitch`` one after another, ``auto`` stacked
    on CUDA only (on a CPU the stack is no faster); the results agree within float
    tolerance, and it does not change a checkpoint's fingerprint."""

    epochs: PositiveInt = 30
    batch_size: PositiveInt = 128
    lr: Float = Field(default=1e-3, gt=0)
    weight_decay: Float = Field(default=1e-4, ge=0)
    lr_drops: tuple[Float, ...] = (10, 20)
    hint_norm: Literal[HINT_NORMS] = "batch"
    crop_padding: NonNegativeInt = 4
    hflip: Bool = True
    bn: Literal[bn_state.BN_POLICIES] = "train"
    dm_samples: PositiveInt = 100
    dm_seed: Int = 0
    seed: Int = 0
    train_samples: PositiveInt | None = None
    eval_samples: PositiveInt | None = None
    eval_batch_size: PositiveInt = 1000
    checkpoint_every: PositiveInt = 1
    batching: Literal["auto", "stacked", "per-stitch"] = "auto"

    def __post_init__(self):
        check_drops(self.lr_drops, self.epochs)


@dataclass(frozen=True)
class StitchSpec:
    """One stitch: a mode label, its objective, the point pair, FuLA's weights and soft
    term, and, for ``dm``, whether its BatchNorm statistics are recalibrated on the
    training stream (the paper's Fig. 3) instead of left as they are."""

    mode: str
    objective: str
    front_point: int
    end_point: int
    weights: tuple[float, ...] | None = None
    soft: bool = False
    recalibrate: bool = False

    @property
    def key(self) -> str:
        return f"{self.mode}/{self.front_point}/{self.end_point}"

    @property
    def trained(self) -> bool:
        """Goes through the training stream: every mode but untouched DM."""
        return self.objective != "dm" or self.recalibrate

    def loss_options(self, hint_norm: str) -> LossOptions:
        return LossOptions(hint_norm, self.weights, self.soft)

    @property
    def reach(self) -> tuple[int, bool]:
        """What the objective reads of the stitched pass, and so of the end model's
        gradient: (the deepest end point whose activation it reads, 0 if none; whether
        it reads the logits)."""
        reads = objective_reads(self.objective, self.loss_options(HINT_NORMS[0]))
        return (self.end_point + reads.hints - 1 if reads.hints else 0), reads.logits

    @property
    def reference_reach(self) -> tuple[int, bool]:
        """The same of the reference pass: (0, False) when the objective reads none."""
        reads = objective_reads(self.objective, self.loss_options(HINT_NORMS[0]))
        return self.reach if reads.reference else (0, False)


def covering_reach(reaches: Sequence[tuple[int, bool]]) -> tuple[int, bool]:
    """The reach that covers all of ``reaches`` (StitchSpec.reach or reference_reach):
    the deepest point, and the logits if any reads them."""
    return max(depth for depth, _ in reaches), any(logits for _, logits in reaches)


def make_spec(
    mode: str,
    front_point: int,
    end_point: int,
    end: Stitchable,
    objective: str | None = None,
    weights: str | Sequence[float] | None = None,
    soft: bool = False,
    recalibrate: bool = False,
) -> StitchSpec:
    """A validated StitchSpec; FuLA ``weights`` (uniform/last/first-N/list) are resolved."""
    objective = objective or mode
    if objective not in MODES:
        raise UserError(f"unknown stitching mode {objective!r}; choose one of {list(MODES)}")
    end.check_point(end_point)
    if (weights is not None or soft) and objective != "fula":
        raise UserError(f"mode {mode!r}: weights and soft apply to fula only")
    if recalibrate and objective != "dm":
        raise UserError(f"mode {mode!r}: recalibrate applies to dm only")
    resolved = None
    if objective == "fula":
        resolved = tuple(fula_weights(weights or "uniform", end.num_hint_terms(end_point)))
    return StitchSpec(mode, objective, front_point, end_point, resolved, soft, recalibrate)


@dataclass
class FittedStitch:
    """A stitch ready to score: its layer T and, when they moved, its own BatchNorm
    statistics of the end model and of the front model (None: the models' own)."""

    spec: StitchSpec
    layer: StitchLayer
    end_bn: dict | None = None
    front_bn: dict | None = None


@dataclass
class StitchResult:
    spec: StitchSpec
    layer: StitchLayer
    test_accuracy: float
    dm_residual: float | None  # None: no least-squares solution (stitch_layer.py)
    shortcut_accuracy: float | None = None
    rolled_accuracy: float | None = None
    robust_accuracy: float | None = None
    eot_iterations_used: int | None = None  # AutoAttack's EOT samples on this stitch
    # per test split ("clean", with a shortcut "shortcut" and "rolled"): agreement.METRICS
    agreement: dict[str, dict[str, float]] = field(default_factory=dict)
    # per test split: per-sample tensors (PanelTrainer.evaluate_all), for samples.py
    samples: dict[str, dict] = field(default_factory=dict, repr=False)
    initial_loss: float | None = None
    final_loss: float | None = None
    epoch_losses: list[float] = field(default_factory=list)

    SCORES = (
        "test_accuracy",
        "dm_residual",
        "shortcut_accuracy",
        "rolled_accuracy",
        "robust_accuracy",
        "eot_iterations_used",
        "agreement",
        "samples",
        "initial_loss",
        "final_loss",
        "epoch_losses",
    )

    def layer_state(self) -> dict:
        """The fitted layer's weights, on the CPU."""
        return {k: v.detach().cpu() for k, v in self.layer.state_dict().items()}

    def state(self) -> dict:
        """The fitted layer and the scores, for checkpoints; see from_state."""
        shapes = {"front_shape": self.layer.front_shape, "end_shape": self.layer.end_shape}
        return (
            {"layer": self.layer_state()}
            | shapes
            | {name: getattr(self, name) for name in self.SCORES}
        )

    @classmethod
    def from_state(
        cls, spec: StitchSpec, state: dict, device: torch.device | str
    ) -> "StitchResult":
        layer = stitch_layer(state["front_shape"], state["end_shape"])
        layer.load_state_dict(state["layer"])
        # a score added after the checkpoint was written reads None
        return cls(spec, layer.to(device), **{name: state.get(name) for name in cls.SCORES})

    def summary(self) -> dict:
        return {
            "mode": self.spec.mode,
            "objective": self.spec.objective,
            "front_point": self.spec.front_point,
            "end_point": self.spec.end_point,
            "fula_weights": list(self.spec.weights) if self.spec.weights else None,
            "fula_soft": self.spec.soft if self.spec.objective == "fula" else None,
            "recalibrated": self.spec.recalibrate if self.spec.objective == "dm" else None,
            "test_accuracy": self.test_accuracy,
            "shortcut_test_accuracy": self.shortcut_accuracy,
            "rolled_test_accuracy": self.rolled_accuracy,
            "robust_accuracy": self.robust_accuracy,
            "eot_iterations_used": self.eot_iterations_used,
            "agreement": self.agreement,
            "dm_residual": self.dm_residual,
            "initial_loss": self.initial_loss,
            "final_loss": self.final_loss,
            "epoch_losses": self.epoch_losses,
        }

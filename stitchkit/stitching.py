"""Fitting stitching layers: DM initialisation, then DM / Hint / SLM / TLM / FuLA.

A *panel* is a front model f, an end model g, stitch-training data, and a list of
stitches (mode, front point i, end point j). All stitches of a panel train in one
process on one shared stream of batches: each batch is drawn and augmented once, the
frozen front runs once for all points, the end model's reference pass runs once, and
each stitch keeps its own T, Adam optimiser and end-model BatchNorm statistics.

Under adversarial training (Sec. 3.1, App. A.2) each stitch's loss is eq. (4)'s mix
(1 - alpha) L(x) + alpha L(x_adv): x_adv is crafted by PGD on that stitched model (all
of it in eval mode), and the front and reference passes on x_adv run in the recipe's
BatchNorm mode on throwaway copies of their statistics, which follow clean batches only.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from stitchkit import bn_state
from stitchkit.attacks import AdversarialTraining, pgd
from stitchkit.augment import crop_and_flip, to_unit_float
from stitchkit.checkpoints import load_training_state
from stitchkit.errors import UserError
from stitchkit.io import save_torch
from stitchkit.models import StitchableResNet
from stitchkit.objectives import MODES, OBJECTIVES, ReferencePass, StitchedPass, fula_weights
from stitchkit.prepared import PreparedDataset
from stitchkit.robustness import RobustEvaluation, robust_accuracy
from stitchkit.stitch_layer import StitchLayer, fit_direct_matching
from stitchkit.stitched_model import StitchedModel


@dataclass(frozen=True)
class StitchRecipe:
    """How stitching layers are trained (params.yaml `stitch:`; Appendix A.2)."""

    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    crop_padding: int = 4
    hflip: bool = True
    bn: str = "train"
    dm_samples: int = 100
    dm_seed: int = 0
    seed: int = 0
    train_samples: int | None = None
    eval_samples: int | None = None
    eval_batch_size: int = 1000
    checkpoint_every: int = 1

    def __post_init__(self):
        for name in ("epochs", "batch_size", "dm_samples", "eval_batch_size", "checkpoint_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise UserError(f"stitch.{name} must be a positive integer, got {value!r}")
        if self.lr <= 0 or self.weight_decay < 0 or self.crop_padding < 0:
            raise UserError("stitch needs lr > 0, weight_decay >= 0 and crop_padding >= 0")
        if self.bn not in bn_state.BN_POLICIES:
            raise UserError(f"stitch.bn must be one of {bn_state.BN_POLICIES}, got {self.bn!r}")
        for name in ("train_samples", "eval_samples"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise UserError(f"stitch.{name} must be null or a positive integer")


@dataclass(frozen=True)
class StitchSpec:
    """One stitch: a mode label, its objective, the point pair and FuLA's weights."""

    mode: str
    objective: str
    front_point: int
    end_point: int
    weights: tuple[float, ...] | None = None

    @property
    def key(self) -> str:
        return f"{self.mode}/{self.front_point}/{self.end_point}"


def make_spec(
    mode: str, front_point: int, end_point: int, end: StitchableResNet, objective=None, weights=None
) -> StitchSpec:
    """A validated StitchSpec; FuLA ``weights`` (uniform/last/first-N/list) are resolved."""
    objective = objective or mode
    if objective not in MODES:
        raise UserError(f"unknown stitching mode {objective!r}; choose one of {list(MODES)}")
    end.check_point(end_point)
    resolved = None
    if objective == "fula":
        resolved = tuple(fula_weights(weights or "uniform", end.num_hint_terms(end_point)))
    elif weights is not None:
        raise UserError(f"mode {mode!r}: weights apply to fula only")
    return StitchSpec(mode, objective, front_point, end_point, resolved)


@dataclass
class StitchResult:
    spec: StitchSpec
    layer: StitchLayer
    test_accuracy: float
    dm_residual: float
    shortcut_accuracy: float | None = None
    robust_accuracy: float | None = None
    initial_loss: float | None = None
    final_loss: float | None = None
    epoch_losses: list[float] = field(default_factory=list)

    SCORES = (
        "test_accuracy",
        "dm_residual",
        "shortcut_accuracy",
        "robust_accuracy",
        "initial_loss",
        "final_loss",
        "epoch_losses",
    )

    def layer_state(self) -> dict:
        """The fitted layer's weights, on the CPU."""
        return {k: v.detach().cpu() for k, v in self.layer.state_dict().items()}

    def state(self) -> dict:
        """The fitted layer and the scores, for checkpoints; see from_state."""
        return {"layer": self.layer_state(), "out_size": list(self.layer.out_size)} | {
            name: getattr(self, name) for name in self.SCORES
        }

    @classmethod
    def from_state(cls, spec: StitchSpec, state: dict, device) -> "StitchResult":
        out_channels, in_channels = state["layer"]["conv.weight"].shape[:2]
        layer = StitchLayer(in_channels, out_channels, state["out_size"])
        layer.load_state_dict(state["layer"])
        return cls(spec, layer.to(device), **{name: state[name] for name in cls.SCORES})

    def summary(self) -> dict:
        return {
            "mode": self.spec.mode,
            "objective": self.spec.objective,
            "front_point": self.spec.front_point,
            "end_point": self.spec.end_point,
            "fula_weights": list(self.spec.weights) if self.spec.weights else None,
            "test_accuracy": self.test_accuracy,
            "shortcut_test_accuracy": self.shortcut_accuracy,
            "robust_accuracy": self.robust_accuracy,
            "dm_residual": self.dm_residual,
            "initial_loss": self.initial_loss,
            "final_loss": self.final_loss,
            "epoch_losses": self.epoch_losses,
        }


def check_compatible(front: StitchableResNet, end: StitchableResNet, data: PreparedDataset):
    """Front, end and data must agree on the input shape; the end on the classes."""
    shapes = {
        "front": front.spec.input_shape,
        "end": end.spec.input_shape,
        "data": data.image_shape,
    }
    if len(set(shapes.values())) != 1:
        raise UserError(
            f"front, end and stitching data must share one input shape, got {shapes}; "
            "stitch models trained on inputs of the same shape"
        )
    if end.spec.num_classes != data.num_classes:
        raise UserError(
            f"the end model has {end.spec.num_classes} classes but the stitching data "
            f"has {data.num_classes}; stitch on data of the end model's task"
        )


def _subset(images, labels, n: int | None, seed: int):
    if n is None or n >= len(labels):
        return images, labels
    keep = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[:n]
    keep = keep.sort().values
    return images[keep], labels[keep]


def _fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _tensor_digest(*tensors) -> str:
    h = hashlib.sha256()
    for tensor in tensors:
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _model_digest(model: StitchableResNet) -> str:
    return _tensor_digest(*model.state_dict().values())


class PanelTrainer:
    """Fits every stitch of a panel on one shared, seeded stream of batches, optionally
    under ``adversarial`` training, and scores it (robust accuracy too given ``robust``)."""

    def __init__(
        self,
        front,
        end,
        data,
        specs,
        recipe: StitchRecipe,
        device,
        adversarial: AdversarialTraining | None = None,
        robust: RobustEvaluation | None = None,
    ):
        check_compatible(front, end, data)
        self.front, self.end, self.data = front.to(device), end.to(device), data
        self.specs, self.recipe, self.device = list(specs), recipe, device
        self.adversarial, self.robust = adversarial, robust
        self.alpha = adversarial.alpha if adversarial else 0.0
        for model in (self.front, self.end):
            model.requires_grad_(False).eval()
        for spec in self.specs:
            front.check_point(spec.front_point)
            end.check_point(spec.end_point)
        self.front_points = sorted({s.front_point for s in self.specs})
        self.trained = [s for s in self.specs if s.objective != "dm"]

    # -- DM initialisation ------------------------------------------------------------
    @torch.no_grad()
    def init_layers(self) -> dict[tuple[int, int], tuple[dict, float]]:
        """DM least-squares solution and residual for every (i, j) pair, on dm_samples
        training images drawn with dm_seed, front and end in eval mode."""
        r = self.recipe
        images, _ = _subset(self.data.train_images, self.data.train_labels, r.dm_samples, r.dm_seed)
        x = to_unit_float(images.to(self.device))
        pairs = sorted({(s.front_point, s.end_point) for s in self.specs})
        front_acts = self.front.activations(x, self.front_points)
        end_acts = self.end.activations(x, sorted({j for _, j in pairs}))
        inits = {}
        for i, j in pairs:
            layer = self._new_layer(front_acts[i], end_acts[j])
            residual = fit_direct_matching(layer, front_acts[i], end_acts[j])
            inits[(i, j)] = ({k: v.clone() for k, v in layer.state_dict().items()}, residual)
        return inits

    def _new_layer(self, front_act, end_act) -> StitchLayer:
        return StitchLayer(front_act.shape[1], end_act.shape[1], end_act.shape[-2:]).to(self.device)

    # -- evaluation -------------------------------------------------------------------
    @property
    def has_shortcut_test(self) -> bool:
        return self.data.shortcut_test_images is not None

    def _test_split(self, shortcut: bool):
        images, labels = self.data.test_split(shortcut)
        return _subset(images, labels, self.recipe.eval_samples, 0)

    @torch.no_grad()
    def evaluate(self, stitches, shortcut: bool = False) -> list[float]:
        """Test accuracy of each (spec, layer, end BN state) stitched model, front and end
        in eval mode, on the clean test split or on its ``shortcut`` copy."""
        if not stitches:
            return []
        r = self.recipe
        images, labels = self._test_split(shortcut)
        self.front.eval()
        self.end.eval()
        points = sorted({spec.front_point for spec, _, _ in stitches})
        correct = [0] * len(stitches)
        for start in range(0, len(labels), r.eval_batch_size):
            x = to_unit_float(images[start : start + r.eval_batch_size].to(self.device))
            y = labels[start : start + r.eval_batch_size].to(self.device)
            acts = self.front.activations(x, points)
            for n, (spec, layer, end_bn) in enumerate(stitches):
                with bn_state.swapped(self.end, end_bn):
                    logits = self.end.forward_from(layer(acts[spec.front_point]), spec.end_point)
                correct[n] += (logits.argmax(1) == y).sum().item()
        return [c / len(labels) for c in correct]

    def evaluate_all(self, stitches) -> list[dict]:
        """Per stitch: test_accuracy, shortcut_accuracy (None without a shortcut split) and
        robust_accuracy (None without robust evaluation settings)."""
        clean = self.evaluate(stitches)
        shortcut = self.evaluate(stitches, shortcut=True) if self.has_shortcut_test else None
        scores = []
        for n, (spec, layer, end_bn) in enumerate(stitches):
            robust = None
            if self.robust is not None:
                stitched = StitchedModel(
                    self.front, layer, self.end, spec.front_point, spec.end_point, end_bn
                )
                robust = self.robust_scores(stitched)["robust_accuracy"]
            scores.append(
                {
                    "test_accuracy": clean[n],
                    "shortcut_accuracy": shortcut[n] if shortcut else None,
                    "robust_accuracy": robust,
                }
            )
        return scores

    def robust_scores(self, model) -> dict:
        """``robust_accuracy``'s result for ``model`` on the clean test split."""
        images, labels = self.data.test_split(False)
        return robust_accuracy(model, images, labels, self.robust, self.device)

    @torch.no_grad()
    def model_accuracy(self, model: StitchableResNet, shortcut: bool = False) -> float:
        r = self.recipe
        images, labels = self._test_split(shortcut)
        model.eval()
        correct = 0
        for start in range(0, len(labels), r.eval_batch_size):
            x = to_unit_float(images[start : start + r.eval_batch_size].to(self.device))
            y = labels[start : start + r.eval_batch_size].to(self.device)
            correct += (model(x).argmax(1) == y).sum().item()
        return correct / len(labels)

    # -- training ---------------------------------------------------------------------
    def _reference(self, x, reference_bn) -> dict:
        """The end model's own pass on the batch (activations and softmax), in the same
        BatchNorm mode as the stitched passes but on a copy of its statistics."""
        points = list(range(min(s.end_point for s in self.trained), self.end.num_points + 1))
        with bn_state.swapped(self.end, reference_bn):
            bn_state.set_bn_mode(self.end, self.recipe.bn)
            acts = self.end.activations(x, points)
        pooled = self.end.pool(acts[self.end.num_points])
        self.end.eval()
        return {"acts": acts, "pooled": pooled, "probs": F.softmax(self.end.fc(pooled), dim=1)}

    def fit(self, checkpoint_path: Path | None = None, progress: bool = True) -> list[StitchResult]:
        """DM-initialise every stitch, train all but ``dm`` ones, and evaluate them all."""
        inits = self.init_layers()
        # DM stitches are never trained: evaluate them before any BatchNorm update.
        dm_specs = [s for s in self.specs if s.objective == "dm"]
        dm_layers = [self._layer_from(inits, s) for s in dm_specs]
        dm_scores = self.evaluate_all(
            [(s, layer, None) for s, layer in zip(dm_specs, dm_layers, strict=True)]
        )
        results = {
            s.key: StitchResult(
                s, layer, dm_residual=inits[(s.front_point, s.end_point)][1], **dm_scores[n]
            )
            for n, (s, layer) in enumerate(zip(dm_specs, dm_layers, strict=True))
        }
        if self.trained:
            for stitch in self._train(inits, checkpoint_path, progress):
                results[stitch["spec"].key] = stitch["result"]
        return [results[s.key] for s in self.specs]

    def _layer_from(self, inits, spec: StitchSpec) -> StitchLayer:
        state, _ = inits[(spec.front_point, spec.end_point)]
        shapes = state["conv.weight"].shape
        layer = StitchLayer(shapes[1], shapes[0], self.end_sizes[spec.end_point]).to(self.device)
        layer.load_state_dict(state)
        return layer

    @cached_property
    def end_sizes(self) -> dict[int, tuple[int, int]]:
        """Spatial size of the end model's activation at every stitching point."""
        with torch.no_grad():
            x = torch.zeros(1, *self.data.image_shape, device=self.device)
            acts = self.end.activations(x, range(1, self.end.num_points + 1))
        return {k: tuple(a.shape[-2:]) for k, a in acts.items()}

    def fingerprint(self) -> str:
        """Changes with the recipe, the stitches, either model and the training data."""
        return _fingerprint(
            asdict(self.recipe),
            [asdict(s) for s in self.specs],
            _model_digest(self.front),
            _model_digest(self.end),
            _tensor_digest(self.data.train_images, self.data.train_labels),
            asdict(self.adversarial) if self.adversarial else None,
        )

    def _train(self, inits, checkpoint_path, progress) -> list[dict]:
        r = self.recipe
        stitches = []
        for spec in self.trained:
            layer = self._layer_from(inits, spec)
            stitches.append(
                {
                    "spec": spec,
                    "layer": layer,
                    "optimizer": torch.optim.Adam(
                        layer.parameters(), lr=r.lr, weight_decay=r.weight_decay
                    ),
                    "end_bn": bn_state.bn_state(self.end) if r.bn == "train" else None,
                    "losses": [],
                    "initial_loss": None,
                    "attack_generator": torch.Generator().manual_seed(
                        int(_fingerprint(r.seed, spec.key), 16)
                    ),
                }
            )
        reference_bn = bn_state.bn_state(self.end) if r.bn == "train" else None
        generator = torch.Generator().manual_seed(r.seed)
        start = 0
        fingerprint = self.fingerprint()
        state = _load_state(checkpoint_path, fingerprint)
        if state is not None:
            start = state["epoch"]
            generator.set_state(state["generator"])
            bn_state.load_into(self.front, state["front_bn"])
            reference_bn = bn_state.on_device(state["reference_bn"], self.device)
            for stitch, saved in zip(stitches, state["stitches"], strict=True):
                stitch["layer"].load_state_dict(saved["layer"])
                stitch["optimizer"].load_state_dict(saved["optimizer"])
                stitch["end_bn"] = bn_state.on_device(saved["end_bn"], self.device)
                stitch["losses"], stitch["initial_loss"] = saved["losses"], saved["initial_loss"]
                stitch["attack_generator"].set_state(saved["attack_generator"])

        images, labels = _subset(self.data.train_images, self.data.train_labels, r.train_samples, 0)
        images, labels = images.to(self.device), labels.to(self.device)
        steps = len(labels) // r.batch_size
        if steps == 0:
            raise UserError(f"stitch.batch_size {r.batch_size} exceeds the {len(labels)} images")
        bar = tqdm(
            total=r.epochs * steps,
            initial=start * steps,
            desc="stitch",
            unit="batch",
            disable=not progress,
        )
        for epoch in range(start, r.epochs):
            order = torch.randperm(len(labels), generator=generator).to(self.device)
            sums = [0.0] * len(stitches)
            for step in range(steps):
                idx = order[step * r.batch_size : (step + 1) * r.batch_size]
                x = to_unit_float(crop_and_flip(images[idx], r.crop_padding, r.hflip, generator))
                y = labels[idx]
                with torch.no_grad():
                    reference = self._reference(x, reference_bn)
                    bn_state.set_bn_mode(self.front, r.bn)
                    front_acts = self.front.activations(x, self.front_points)
                for n, stitch in enumerate(stitches):
                    terms = []  # (weight, front activation, reference pass) of eq. (4)
                    if self.alpha < 1:
                        terms.append(
                            (1 - self.alpha, front_acts[stitch["spec"].front_point], reference)
                        )
                    if self.alpha > 0:
                        terms.append(
                            (self.alpha, *self._adversarial_pass(stitch, x, y, reference_bn))
                        )
                    loss = self._step(stitch, terms, y)
                    sums[n] += loss
                    if stitch["initial_loss"] is None:
                        stitch["initial_loss"] = loss
                bar.update()
            for n, stitch in enumerate(stitches):
                stitch["losses"].append(sums[n] / steps)
            bar.set_postfix(epoch=epoch + 1)
            if checkpoint_path and (epoch + 1) % r.checkpoint_every == 0 and epoch + 1 < r.epochs:
                panel_state = {
                    "fingerprint": fingerprint,
                    "epoch": epoch + 1,
                    "generator": generator.get_state(),
                    "front_bn": bn_state.bn_state(self.front),
                    "reference_bn": reference_bn,
                }
                _save_state(checkpoint_path, panel_state, stitches)
        bar.close()
        scores = self.evaluate_all([(s["spec"], s["layer"], s["end_bn"]) for s in stitches])
        for n, stitch in enumerate(stitches):
            spec = stitch["spec"]
            stitch["result"] = StitchResult(
                spec,
                stitch["layer"],
                dm_residual=inits[(spec.front_point, spec.end_point)][1],
                initial_loss=stitch["initial_loss"],
                final_loss=stitch["losses"][-1],
                epoch_losses=stitch["losses"],
                **scores[n],
            )
        return stitches

    def _adversarial_pass(self, stitch: dict, x, y, reference_bn) -> tuple:
        """(front activation, reference pass) on PGD examples crafted on the stitched model;
        BatchNorm statistics touched on the way are throwaway copies."""
        spec, a = stitch["spec"], self.adversarial
        stitched = StitchedModel(
            self.front,
            stitch["layer"],
            self.end,
            spec.front_point,
            spec.end_point,
            stitch["end_bn"],
        )
        self.front.eval()
        self.end.eval()
        x_adv = pgd(stitched, x, y, a.epsilon, a.step_size, a.steps, stitch["attack_generator"])
        with torch.no_grad():
            reference = self._reference(x_adv, _copy(reference_bn))
            front_bn = bn_state.bn_state(self.front) if self.recipe.bn == "train" else None
            with bn_state.swapped(self.front, front_bn):
                bn_state.set_bn_mode(self.front, self.recipe.bn)
                front_act = self.front.forward_to(x_adv, spec.front_point)
        return front_act, reference

    def _step(self, stitch: dict, terms, labels) -> float:
        """One Adam step on sum(weight * objective) over the (weight, front activation,
        reference pass) ``terms``; returns the loss."""
        spec = stitch["spec"]
        j = spec.end_point
        with bn_state.swapped(self.end, stitch["end_bn"]):
            bn_state.set_bn_mode(self.end, self.recipe.bn)
            loss = 0.0
            for weight, front_act, reference in terms:
                z = stitch["layer"](front_act)
                stitched = StitchedPass(self.end.end_terms(z, j), self.end.num_hint_terms(j))
                ref = ReferencePass(
                    [reference["acts"][k] for k in range(j, self.end.num_points + 1)]
                    + [reference["pooled"]],
                    reference["probs"],
                )
                loss = loss + weight * OBJECTIVES[spec.objective](
                    stitched, ref, labels, spec.weights
                )
            stitch["optimizer"].zero_grad(set_to_none=True)
            loss.backward()
            stitch["optimizer"].step()
        self.end.eval()
        return loss.item()


def _copy(state: dict | None) -> dict | None:
    return None if state is None else {k: v.clone() for k, v in state.items()}


def _save_state(path, panel_state: dict, stitches) -> None:
    save_torch(
        {
            **panel_state,
            "stitches": [
                {
                    "layer": s["layer"].state_dict(),
                    "optimizer": s["optimizer"].state_dict(),
                    "end_bn": s["end_bn"],
                    "losses": s["losses"],
                    "initial_loss": s["initial_loss"],
                    "attack_generator": s["attack_generator"].get_state(),
                }
                for s in stitches
            ],
        },
        path,
    )


def _load_state(path, fingerprint) -> dict | None:
    if path is None:
        return None
    state = load_training_state(path)
    return state if state is not None and state["fingerprint"] == fingerprint else None


def stitch(
    front: StitchableResNet,
    end: StitchableResNet,
    front_point: int,
    end_point: int,
    mode: str,
    data: PreparedDataset,
    recipe: StitchRecipe = StitchRecipe(),
    weights=None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    adversarial: AdversarialTraining | None = None,
    robust: RobustEvaluation | None = None,
) -> StitchResult:
    """Fit one stitch f_{<=i} -> T -> g_{>j} with ``mode`` on ``data``, optionally under
    ``adversarial`` training and with ``robust`` accuracy; see StitchResult.

    ``front`` and ``end`` are not modified (their BatchNorm statistics are copied).
    """
    import copy

    front, end = copy.deepcopy(front), copy.deepcopy(end)
    spec = make_spec(mode, front_point, end_point, end, weights=weights)
    trainer = PanelTrainer(
        front, end, data, [spec], recipe, torch.device(device), adversarial, robust
    )
    return trainer.fit(progress=progress)[0]

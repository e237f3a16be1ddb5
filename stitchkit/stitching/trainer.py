"""Fitting stitching layers: DM initialisation, then DM / Hint / SLM / TLM / FuLA.

A *panel* is a front model f, an end model g, stitch-training data, and a list of
stitches (stitch_recipe.StitchSpec). All stitches of a panel train in one process on
one shared, seeded stream of batches: each batch is drawn, augmented and stamped with
its shortcut markers once, the frozen front runs once for all points, the end model's
reference pass runs once (only as far as the stitches' objectives read it: not at all
for TLM), and each stitch keeps its own T, Adam optimiser and end-model BatchNorm
statistics.

Under adversarial training (Sec. 3.1, App. A.2) PGD examples are crafted on each
stitched model, all of it in eval mode. With the ``batch`` mix (the authors' code) a
share alpha of every batch is replaced by them and the stitch trains on its mixed batch:
its own front and reference passes, and its own front BatchNorm statistics, which follow
its mixed batches. With the ``loss`` mix (eq. 4) the loss is (1 - alpha) L(x) +
alpha L(x_adv), and the front and reference passes on x_adv run on throwaway copies of
the statistics, which follow clean batches only.

In bf16 precision (precision.py) every training step and every clean evaluation runs
under autocast on channels_last images. The DM least-squares fit, robust accuracy and
stacked stitches (autocast does not reach into vmap) stay in fp32; a stack's shared
front and reference passes are bf16.
"""

import copy
from collections.abc import Sequence
from dataclasses import asdict
from functools import cached_property
from pathlib import Path

import torch
from tqdm import tqdm

from stitchkit.common.errors import UserError
from stitchkit.common.precision import FP32, Precision
from stitchkit.common.sampling import check_count
from stitchkit.data.prepared import PreparedDataset
from stitchkit.measures.robustness import RobustEvaluation
from stitchkit.models.attacks import AdversarialTraining
from stitchkit.models.schedule import step_lr
from stitchkit.models.stitchable import Stitchable
from stitchkit.stitching import bn_state, panel_state
from stitchkit.stitching.dm_init import InitialLayers
from stitchkit.stitching.evaluation import PanelEvaluator
from stitchkit.stitching.objectives import OBJECTIVES, ReferencePass, StitchedPass, hint_loss
from stitchkit.stitching.recipe import (
    FittedStitch,
    StitchRecipe,
    StitchResult,
    StitchSpec,
    covering_reach,
    make_spec,
)
from stitchkit.stitching.stack import StitchStack, stackable
from stitchkit.stitching.stream import BatchStream


class PanelTrainer:
    """Fits every stitch of a panel on one shared, seeded stream of batches, optionally
    under ``adversarial`` training, and scores it (robust accuracy too given ``robust``),
    in ``precision``.

    Given ``iris`` (front point -> its IRI set, stitchkit.testbeds.iris), a stitch trains on the
    IRIs of its front point instead of ``data``'s training images: no augmentation, no
    markers stamped (IRIs keep what the front saw of them), targets from the end model
    on the same IRIs, TLM on the source images' labels. The stream draws source images:
    every point's batch holds the IRIs of the same sources. ``data`` still gives the DM
    initialisation and every test split."""

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
        precision: Precision = FP32,
        iris: dict[int, PreparedDataset] | None = None,
    ):
        self.scores = PanelEvaluator(front, end, data, recipe, device, robust, precision)
        self.front, self.end = self.scores.front, self.scores.end
        self.data, self.precision = data, precision
        self.specs, self.recipe, self.device = list(specs), recipe, torch.device(device)
        self.adversarial = adversarial
        self.alpha = adversarial.alpha if adversarial else 0.0
        self.mixed_batches = self.alpha > 0 and adversarial.mix == "batch"
        for spec in self.specs:
            front.check_point(spec.front_point)
            end.check_point(spec.end_point)
        if any(s.recalibrate for s in self.specs) and recipe.bn != "train":
            raise UserError("recalibrating DM's BatchNorm statistics needs stitch.bn: train")
        self.front_points = sorted({s.front_point for s in self.specs})
        self.trained = [s for s in self.specs if s.trained]
        self.iris = _checked_iris(iris, self.front_points, data)
        _check_counts(recipe, data)
        self.layers = InitialLayers(
            self.front, self.end, data, recipe, self.device, self.front_points
        )

    # -- training ---------------------------------------------------------------------
    def fit(self, checkpoint_path: Path | None = None, progress: bool = True) -> list[StitchResult]:
        """DM-initialise every stitch, train all but untouched ``dm`` ones, score them all."""
        inits = self.layers.initial(self.specs)
        # DM stitches are never trained: score them before any BatchNorm update.
        untouched = [
            FittedStitch(s, self.layers.layer_from(inits, s)) for s in self.specs if not s.trained
        ]
        results = {
            stitch.spec.key: StitchResult(
                stitch.spec,
                stitch.layer,
                dm_residual=inits[(stitch.spec.front_point, stitch.spec.end_point)][1],
                **scores,
            )
            for stitch, scores in zip(
                untouched, self.scores.evaluate_all(untouched, progress), strict=True
            )
        }
        if self.trained:
            for result in self._train(inits, checkpoint_path, progress):
                results[result.spec.key] = result
        return [results[s.key] for s in self.specs]

    def fingerprint(self) -> str:
        """Changes with the recipe, the stitches, either model and the training data."""
        recipe = {k: v for k, v in asdict(self.recipe).items() if k != "batching"}
        return panel_state.fingerprint(
            recipe,
            [asdict(s) for s in self.specs],
            panel_state.model_digest(self.front),
            panel_state.model_digest(self.end),
            panel_state.data_digest(self.data),
            {k: panel_state.data_digest(d) for k, d in sorted((self.iris or {}).items())},
            asdict(self.adversarial) if self.adversarial else None,
            self.precision.arithmetic,
        )

    def _new_stitch(self, inits, spec: StitchSpec) -> dict:
        r = self.recipe
        layer = self.layers.layer_from(inits, spec)
        optimizer = None
        if not spec.recalibrate:
            optimizer = torch.optim.Adam(layer.parameters(), lr=r.lr, weight_decay=r.weight_decay)
        own_stats = r.bn == "train"
        return {
            "spec": spec,
            "layer": layer,
            "optimizer": optimizer,
            "end_bn": bn_state.bn_state(self.end) if own_stats else None,
            "front_bn": bn_state.bn_state(self.front) if own_stats and self.mixed_batches else None,
            "losses": [],
            "initial_loss": None,
            "attack_generator": torch.Generator().manual_seed(
                int(panel_state.fingerprint(r.seed, spec.key), 16)
            ),
        }

    def _stacks(self, stitches: list[dict]) -> list[StitchStack]:
        """The stitches that train as stacks (stitch_stack.py): per point pair, those
        optimised by Adam, when the recipe's ``batching`` (and the device) asks for it;
        clean, or adversarial with the ``batch`` mix and no random start. A pair with
        one such stitch stays on its own."""
        batching = self.recipe.batching
        if batching == "auto":
            batching = "stacked" if self.device.type == "cuda" else "per-stitch"
        stackable_training = self.alpha == 0 or (
            self.mixed_batches and not self.adversarial.random_start
        )
        if batching != "stacked" or not stackable_training:
            return []
        pairs = {}
        for stitch in filter(stackable, stitches):
            spec = stitch["spec"]
            pairs.setdefault((spec.front_point, spec.end_point), []).append(stitch)
        r = self.recipe
        return [
            StitchStack(group, self.front, self.end, r.bn, r.hint_norm)
            for group in pairs.values()
            if len(group) > 1
        ]

    def _train(self, inits, checkpoint_path, progress) -> list[StitchResult]:
        r, data = self.recipe, self.data
        stitches = [self._new_stitch(inits, spec) for spec in self.trained]
        reference_bn = bn_state.bn_state(self.end) if r.bn == "train" else None
        generator = torch.Generator().manual_seed(r.seed)
        start, fingerprint = 0, self.fingerprint()
        state = panel_state.load_state(checkpoint_path, fingerprint)
        if state is not None:
            start = state["epoch"]
            generator.set_state(state["generator"])
            bn_state.load_into(self.front, state["front_bn"])
            reference_bn = bn_state.on_device(state["reference_bn"], self.device)
            for stitch, saved in zip(stitches, state["stitches"], strict=True):
                panel_state.restore(stitch, saved, self.device)

        stacks = self._stacks(stitches)
        stacked = {id(s) for stack in stacks for s in stack.stitches}
        stream = BatchStream(data, self.iris, r, self.front_points, self.device, self.precision)
        steps = stream.steps
        bar = tqdm(
            total=r.epochs * steps,
            initial=start * steps,
            desc="stitch",
            unit="batch",
            disable=not progress,
        )
        for epoch in range(start, r.epochs):
            order = torch.randperm(stream.size, generator=generator)
            sums = [0.0] * len(stitches)
            for step in range(steps):
                lr = step_lr(r.lr, r.lr_drops, epoch * steps + step, steps)
                idx = order[step * r.batch_size : (step + 1) * r.batch_size]
                losses = {}
                for points, x, y in stream.batches(idx, generator):
                    with self.precision.autocast():  # backward ops keep their forward dtypes
                        shared = None
                        if not self.mixed_batches:
                            shared = self._shared_pass(x, reference_bn, points)
                        group = [stack for stack in stacks if stack.front_point in points]
                        losses |= self._stack_steps(group, x, y, shared, reference_bn, lr)
                        for stitch in stitches:
                            if id(stitch) in stacked or stitch["spec"].front_point not in points:
                                continue
                            terms = self._terms(stitch, x, y, shared, reference_bn)
                            losses[id(stitch)] = self._step(stitch, terms, y, lr)
                for n, stitch in enumerate(stitches):
                    sums[n] += losses[id(stitch)]
                    if stitch["initial_loss"] is None:
                        stitch["initial_loss"] = losses[id(stitch)]
                bar.update()
            for n, stitch in enumerate(stitches):
                stitch["losses"].append(sums[n] / steps)
            bar.set_postfix(epoch=epoch + 1)
            if checkpoint_path and (epoch + 1) % r.checkpoint_every == 0 and epoch + 1 < r.epochs:
                for stack in stacks:
                    stack.write_back()
                progress_state = {
                    "fingerprint": fingerprint,
                    "epoch": epoch + 1,
                    "generator": generator.get_state(),
                    "front_bn": bn_state.bn_state(self.front),
                    "reference_bn": reference_bn,
                }
                panel_state.save_state(checkpoint_path, progress_state, stitches)
        bar.close()
        for stack in stacks:
            stack.write_back()
        fitted = [panel_state.fitted(s) for s in stitches]
        return [
            StitchResult(
                stitch["spec"],
                stitch["layer"],
                dm_residual=inits[(stitch["spec"].front_point, stitch["spec"].end_point)][1],
                initial_loss=stitch["initial_loss"],
                final_loss=stitch["losses"][-1],
                epoch_losses=stitch["losses"],
                **scores,
            )
            for stitch, scores in zip(
                stitches, self.scores.evaluate_all(fitted, progress), strict=True
            )
        ]

    def _stack_steps(self, stacks, x, y, shared, reference_bn, lr: float) -> dict[int, float]:
        """One step of every stack, on the shared pass or (mixed batches) on its
        stitches' own mixed batches; id(stitch record) -> its loss."""
        losses = {}
        with torch.autocast(self.device.type, enabled=False):  # it does not reach into vmap
            for stack in stacks:
                if self.mixed_batches:
                    front_act, references = self._stacked_mixed_pass(stack, x, y, reference_bn)
                    step = stack.step(front_act, references, y, lr, per_stitch=True)
                else:
                    reference, front_acts = shared
                    reference = self._from_end_point(reference, stack.end_point)
                    step = stack.step(front_acts[stack.front_point].float(), reference, y, lr)
                losses.update(zip(map(id, stack.stitches), step, strict=True))
        return losses

    def _stacked_mixed_pass(self, stack: StitchStack, x, y, reference_bn) -> tuple:
        """_mixed_batch_pass for every stitch of ``stack`` at once: (S, ...) front
        activations and one reference pass per stitch (run in stitch order, so that the
        scratch statistics ``reference_bn`` follow the same batches as stitch by stitch)."""
        replaced = [
            self.adversarial.replaced(len(y), s["attack_generator"]).to(self.device)
            for s in stack.stitches
        ]
        x_adv = stack.attack(
            torch.stack([x[r] for r in replaced]),
            torch.stack([y[r] for r in replaced]),
            self.adversarial,
        )
        mixed = x.expand(len(replaced), *x.shape).clone()
        for s, r in enumerate(replaced):
            mixed[s, r] = x_adv[s]
        references = [
            self._from_end_point(
                self._reference(batch, reference_bn, s["spec"].reference_reach), stack.end_point
            )
            for s, batch in zip(stack.stitches, mixed, strict=True)
        ]
        return stack.front_acts(mixed), references

    def _from_end_point(self, reference: ReferencePass, end_point: int) -> ReferencePass:
        """The reference pass's hint terms from ``end_point`` on, and its logits."""
        hints = reference.hint_terms[end_point - self._first_end_point :]
        return ReferencePass(hints, reference.logits)

    @torch.no_grad()
    def _reference(self, x, reference_bn, reach: tuple[int, bool]) -> ReferencePass:
        """The end model's own pass on the batch, in the same BatchNorm mode as the
        stitched passes, only as far as ``reach`` (StitchSpec.reference_reach) asks:
        activations from the shallowest trained end point on, and logits; no pass when
        nothing is read (TLM). Its statistics ``reference_bn`` are a scratch copy that
        shields the end model's own; in train mode they never reach an output (batch
        statistics normalise), so how far the pass runs changes no result."""
        depth, logits = reach
        last = self.end.num_points if logits else depth
        if last < self._first_end_point:
            return ReferencePass([], None)
        points = range(self._first_end_point, last + 1)
        with bn_state.swapped(self.end, reference_bn):
            bn_state.set_bn_mode(self.end, self.recipe.bn)
            acts = self.end.activations(x, points)
            out = self.end.forward_from(acts[last], last) if logits else None
        self.end.eval()
        return ReferencePass([acts[k] for k in points], out)

    @torch.no_grad()
    def _shared_pass(self, x, reference_bn, points) -> tuple[ReferencePass, dict]:
        """The reference pass and the front's activations at ``points``, shared by the
        stitches from them; the front's own statistics follow these batches."""
        reference = self._reference(x, reference_bn, self._shared_reach)
        bn_state.set_bn_mode(self.front, self.recipe.bn)
        front_acts = self.front.activations(x, points)
        self.front.eval()
        return reference, front_acts

    def _terms(self, stitch: dict, x, y, shared, reference_bn) -> list[tuple]:
        """The (weight, front activation, reference pass) terms of the stitch's loss."""
        spec = stitch["spec"]
        if self.mixed_batches:
            return [(1.0, *self._mixed_batch_pass(stitch, x, y, reference_bn))]
        reference, front_acts = shared
        terms = []
        if self.alpha < 1:
            terms.append((1 - self.alpha, front_acts[spec.front_point], reference))
        if self.alpha > 0:
            terms.append((self.alpha, *self._adversarial_pass(stitch, x, y, reference_bn)))
        return terms

    def _attack(self, stitch: dict, x, y):
        """PGD examples of (x, y) crafted on the stitched model, all in eval mode."""
        fitted = panel_state.fitted(stitch)
        self.front.eval()
        self.end.eval()
        model = self.scores.stitched_model(fitted)
        return self.adversarial.attack(model, x, y, stitch["attack_generator"])

    def _mixed_batch_pass(self, stitch: dict, x, y, reference_bn) -> tuple:
        """(front activation, reference pass) on the batch with a share alpha of its
        samples replaced by their PGD examples; the stitch's own front statistics follow."""
        replaced = self.adversarial.replaced(len(y), stitch["attack_generator"])
        replaced = replaced.to(self.device)
        mixed = x.clone()
        mixed[replaced] = self._attack(stitch, x[replaced], y[replaced])
        with torch.no_grad():
            reference = self._reference(mixed, reference_bn, stitch["spec"].reference_reach)
            with bn_state.swapped(self.front, stitch["front_bn"]):
                bn_state.set_bn_mode(self.front, self.recipe.bn)
                front_act = self.front.forward_to(mixed, stitch["spec"].front_point)
        self.front.eval()
        return front_act, reference

    def _adversarial_pass(self, stitch: dict, x, y, reference_bn) -> tuple:
        """(front activation, reference pass) on PGD examples of the whole batch, for the
        ``loss`` mix; BatchNorm statistics touched on the way are throwaway copies."""
        x_adv = self._attack(stitch, x, y)
        with torch.no_grad():
            reference = self._reference(x_adv, reference_bn, stitch["spec"].reference_reach)
            front_bn = bn_state.bn_state(self.front) if self.recipe.bn == "train" else None
            with bn_state.swapped(self.front, front_bn):
                bn_state.set_bn_mode(self.front, self.recipe.bn)
                front_act = self.front.forward_to(x_adv, stitch["spec"].front_point)
        self.front.eval()
        return front_act, reference

    def _step(self, stitch: dict, terms, labels, lr: float) -> float:
        """One Adam step at ``lr`` on sum(weight * objective) over the (weight, front
        activation, reference pass) ``terms``; returns the loss. The end pass always runs
        to the logits, as the authors' stitched forward does, so that under ``bn: train``
        every end statistic after j follows the stitched activations, whatever the
        objective needs (the rest of the pass runs without gradients). A recalibrating
        DM stitch only runs that pass and reports its hint loss."""
        spec = stitch["spec"]
        j, options = spec.end_point, spec.loss_options(self.recipe.hint_norm)
        objective = hint_loss if spec.objective == "dm" else OBJECTIVES[spec.objective]
        with torch.set_grad_enabled(not spec.recalibrate):
            with bn_state.swapped(self.end, stitch["end_bn"]):
                bn_state.set_bn_mode(self.end, self.recipe.bn)
                loss = 0.0
                for weight, front_act, reference in terms:
                    z = stitch["layer"](front_act)
                    terms_of_end = self.end.end_terms(z, j)
                    stitched = StitchedPass(terms_of_end, self.end.num_hint_terms(j))
                    hints = reference.hint_terms[j - self._first_end_point :]
                    ref = ReferencePass(hints, reference.logits)
                    loss = loss + weight * objective(stitched, ref, labels, options)
                    if self.recipe.bn == "train":
                        with torch.no_grad():
                            stitched.logits()
            self.end.eval()
        if stitch["optimizer"] is not None:
            for group in stitch["optimizer"].param_groups:
                group["lr"] = lr
            stitch["optimizer"].zero_grad(set_to_none=True)
            loss.backward()
            stitch["optimizer"].step()
        return loss.item()

    @cached_property
    def _first_end_point(self) -> int:
        return min(s.end_point for s in self.trained)

    @cached_property
    def _shared_reach(self) -> tuple[int, bool]:
        """How far the shared reference pass runs: as far as any trained stitch reads."""
        return covering_reach([s.reference_reach for s in self.trained])


def _checked_iris(iris, front_points, data: PreparedDataset):
    """``iris`` (front point -> IRI set) checked against the panel: one set per front
    point, images of the data's shape, and the same source labels in every set."""
    if iris is None:
        return None
    missing = sorted(set(front_points) - set(iris))
    if missing:
        raise UserError(f"no IRI set for front point(s) {missing}; generate their IRIs first")
    sets = [iris[k] for k in front_points]
    if any(tuple(d.image_shape) != tuple(data.image_shape) for d in sets):
        raise UserError("IRIs must have the stitching data's image shape; remake them from it")
    if any(not torch.equal(d.train_labels, sets[0].train_labels) for d in sets):
        raise UserError(
            "the IRI sets of a panel must share their source images (the same `iris:` "
            "settings); remake them with one setting"
        )
    return {k: iris[k] for k in front_points}


def _check_counts(recipe: StitchRecipe, data: PreparedDataset) -> None:
    """The recipe's image counts fit the panel's data. On IRIs, made from some of its
    training images (`iris.samples`), ``train_samples`` is a cap, as on a natural twin."""
    n_train = len(data.train_labels)
    check_count("stitch.train_samples", recipe.train_samples, n_train, "training images")
    check_count("stitch.dm_samples", recipe.dm_samples, len(data.train_labels), "training images")
    check_count("stitch.eval_samples", recipe.eval_samples, len(data.test_labels), "test images")


def stitch(
    front: Stitchable,
    end: Stitchable,
    front_point: int,
    end_point: int,
    mode: str,
    data: PreparedDataset,
    recipe: StitchRecipe = StitchRecipe(),
    weights: str | Sequence[float] | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    adversarial: AdversarialTraining | None = None,
    robust: RobustEvaluation | None = None,
    precision: Precision = FP32,
    iris: PreparedDataset | None = None,
) -> StitchResult:
    """Fit one stitch f_{<=i} -> T -> g_{>j} with ``mode`` on ``data`` (on ``iris``, the
    front's IRIs at i, if given: see PanelTrainer), optionally under ``adversarial``
    training and with ``robust`` accuracy, in ``precision``; see StitchResult.

    ``front`` and ``end`` are not modified (their BatchNorm statistics are copied).
    """
    front, end = copy.deepcopy(front), copy.deepcopy(end)
    spec = make_spec(mode, front_point, end_point, end, weights=weights)
    trainer = PanelTrainer(
        front,
        end,
        data,
        [spec],
        recipe,
        torch.device(device),
        adversarial,
        robust,
        precision,
        None if iris is None else {front_point: iris},
    )
    return trainer.fit(progress=progress)[0]

"""Stitches of one point pair, trained as one batched computation (torch.func.vmap).

The S trained stitches from front point i to end point j of a panel see the same
batch and the same front activation; they differ in their layer T, their Adam state
and their copy of the end model's BatchNorm statistics. A `StitchStack` stacks the S
layers' weights (``torch.func.stack_module_state``) and the S copies of the
statistics, and runs T and the end model from j for all S at once with ``vmap`` over
``functional_call``: one pass over S x B samples instead of S passes over B, which is
what a GPU needs when a single small stitch leaves it waiting on kernel launches. The
end model's frozen weights are shared, not copied. Adam is element-wise, so one Adam
over the stacked weights is S independent Adams.

Under adversarial training with the ``batch`` mix, the stack also crafts every stitch's
PGD examples at once: the whole stitched models (front with each stitch's own front
statistics, T, end) run under one vmap, each stitch on its own examples, and each
stitch's front pass on its own mixed batch is batched the same way.

The per-stitch records (stitching.PanelTrainer's dicts: layer, optimizer, BatchNorm
statistics) stay
the source of truth: the stack is built from them, and ``write_back`` returns its
state to them before a checkpoint or a score, so checkpoints are the same whichever
path trained them.
"""

import copy

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from stitchkit.models.attacks import AdversarialTraining, pgd
from stitchkit.stitching import bn_state
from stitchkit.stitching.objectives import OBJECTIVES, ReferencePass, StitchedPass


class _FrontTo(nn.Module):
    """The front model up to point i as one call."""

    def __init__(self, front, front_point: int):
        super().__init__()
        self.front, self.front_point = front, front_point

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.front.forward_to(x, self.front_point)


class _EndFrom(nn.Module):
    """The end model from point j as one call returning every end term."""

    def __init__(self, end, end_point: int):
        super().__init__()
        self.end, self.end_point = end, end_point

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.end.end_terms(z, self.end_point))


def stackable(stitch: dict) -> bool:
    """A stitch the stack can train: optimised by Adam (not a recalibrating DM)."""
    return stitch["optimizer"] is not None


class StitchStack:
    """S stitch records of one (i, j) pair, with an objective each, as one computation."""

    def __init__(self, stitches: list[dict], front, end, bn_policy: str, hint_norm: str):
        specs = [s["spec"] for s in stitches]
        if len({(s.front_point, s.end_point) for s in specs}) != 1 or not all(
            map(stackable, stitches)
        ):
            raise ValueError("a StitchStack needs trained stitches of one point pair")
        self.stitches, self.front, self.end = stitches, front, end
        self.bn_policy = bn_policy
        self.front_point, self.end_point = specs[0].front_point, specs[0].end_point
        self.options = [spec.loss_options(hint_norm) for spec in specs]
        self.objectives = [OBJECTIVES[spec.objective] for spec in specs]
        layers = [s["layer"] for s in stitches]
        params, _ = stack_module_state(layers)
        self.params = {k: v.detach().requires_grad_() for k, v in params.items()}
        self.template = copy.deepcopy(layers[0]).to("meta")
        self.front_to = _FrontTo(front, self.front_point)
        self.end_from = _EndFrom(end, self.end_point)
        self.end_buffers = _stacked_stats(stitches, "end_bn", "end.")
        self.front_buffers = _stacked_stats(stitches, "front_bn", "front.")
        self.optimizer = torch.optim.Adam(self.params.values(), **_hyper(stitches[0]["optimizer"]))
        _stack_adam_state(self.optimizer, [s["optimizer"] for s in stitches], self.params)

    def _end_terms(self, params: dict, end_buffers: dict, front_act: torch.Tensor):
        z = functional_call(self.template, params, (front_act,))
        return functional_call(self.end_from, end_buffers, (z,))

    def _logits(self, params: dict, front_buffers: dict, end_buffers: dict, x: torch.Tensor):
        front_act = functional_call(self.front_to, front_buffers, (x,))
        return self._end_terms(params, end_buffers, front_act)[-1]

    def end_terms(self, front_act: torch.Tensor, per_stitch: bool = False) -> tuple:
        """(S, ...) stacked end terms h_j..h_9 and logits of every stitch, with the end
        model's BatchNorm per the policy (train mode updates each stitch's statistics);
        ``front_act`` is one activation for all, or (``per_stitch``) one per stitch."""
        in_dims = (0, _dim(self.end_buffers), 0 if per_stitch else None)
        bn_state.set_bn_mode(self.end, self.bn_policy)
        try:
            return vmap(self._end_terms, in_dims=in_dims)(self.params, self.end_buffers, front_act)
        finally:
            self.end.eval()

    def attack(
        self, x: torch.Tensor, y: torch.Tensor, adversarial: AdversarialTraining
    ) -> torch.Tensor:
        """PGD examples of (x[s], y[s]) against stitched model s, for every s at once,
        all in eval mode (each stitch's own statistics); no random start."""
        params = {k: v.detach() for k, v in self.params.items()}
        in_dims = (0, _dim(self.front_buffers), _dim(self.end_buffers), 0)
        stacked = vmap(self._logits, in_dims=in_dims)
        self.front.eval()
        self.end.eval()
        return pgd(
            lambda xs: stacked(params, self.front_buffers, self.end_buffers, xs).flatten(0, 1),
            x,
            y.flatten(),
            adversarial.epsilon,
            adversarial.step_size,
            adversarial.steps,
        )

    @torch.no_grad()
    def front_acts(self, x: torch.Tensor) -> torch.Tensor:
        """Each stitch's front activation on its own batch x[s], the front's BatchNorm
        per the policy (train mode updates each stitch's own front statistics)."""
        in_dims = (_dim(self.front_buffers), 0)
        bn_state.set_bn_mode(self.front, self.bn_policy)
        try:
            return vmap(
                lambda buffers, xs: functional_call(self.front_to, buffers, (xs,)),
                in_dims=in_dims,
            )(self.front_buffers, x)
        finally:
            self.front.eval()

    def step(
        self,
        front_act: torch.Tensor,
        references: ReferencePass | list[ReferencePass],
        labels: torch.Tensor,
        lr: float,
        per_stitch: bool = False,
    ) -> list[float]:
        """One Adam step of every stitch at ``lr`` on its own objective; their losses.
        ``references`` (one ReferencePass, or one per stitch) hold the end model's hint
        terms from this pair's point j on; ``per_stitch`` as in ``end_terms``."""
        terms = self.end_terms(front_act, per_stitch)
        if isinstance(references, ReferencePass):
            references = [references] * len(self.stitches)
        num_hints = self.end.num_hint_terms(self.end_point)
        losses = []
        for s, (objective, options) in enumerate(zip(self.objectives, self.options, strict=True)):
            stitched = StitchedPass(iter([t[s] for t in terms]), num_hints)
            losses.append(objective(stitched, references[s], labels, options))
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        torch.stack(losses).sum().backward()
        self.optimizer.step()
        return [loss.item() for loss in losses]

    def write_back(self) -> None:
        """Copy the stacked weights, statistics and Adam state into the stitch records."""
        for s, stitch in enumerate(self.stitches):
            with torch.no_grad():
                for name, tensor in stitch["layer"].named_parameters():
                    tensor.copy_(self.params[name][s])
            for key, prefix, buffers in (
                ("end_bn", "end.", self.end_buffers),
                ("front_bn", "front.", self.front_buffers),
            ):
                if buffers:
                    stitch[key] = {k[len(prefix) :]: v[s].clone() for k, v in buffers.items()}
            stitch["optimizer"].load_state_dict(_adam_slice(self.optimizer, s))


def _dim(buffers: dict) -> int | None:
    """vmap's in_dim of stacked statistics: 0, or None where the stitches have none."""
    return 0 if buffers else None


def _stacked_stats(stitches: list[dict], key: str, prefix: str) -> dict:
    """The stitches' BatchNorm statistics ``key`` stacked, named for functional_call."""
    if stitches[0][key] is None:
        return {}
    return {prefix + k: torch.stack([s[key][k] for s in stitches]) for k in stitches[0][key]}


def _hyper(optimizer: torch.optim.Adam) -> dict:
    group = optimizer.param_groups[0]
    return {k: group[k] for k in ("lr", "betas", "eps", "weight_decay", "amsgrad")}


def _stack_adam_state(stacked: torch.optim.Adam, optimizers, params: dict) -> None:
    """Give ``stacked`` the per-stitch Adam states (all empty, or all at one step)."""
    states = [o.state_dict()["state"] for o in optimizers]
    if not states[0]:
        return
    for index, tensor in enumerate(params.values()):
        per_stitch = [state[index] for state in states]
        stacked.state[tensor] = {
            "step": per_stitch[0]["step"].clone(),
            "exp_avg": torch.stack([p["exp_avg"] for p in per_stitch]).to(tensor.device),
            "exp_avg_sq": torch.stack([p["exp_avg_sq"] for p in per_stitch]).to(tensor.device),
        }


def _adam_slice(stacked: torch.optim.Adam, s: int) -> dict:
    """Stitch ``s``'s share of the stacked Adam, as its own optimizer's state_dict."""
    state = stacked.state_dict()
    return {
        "state": {
            index: {
                "step": entry["step"].clone(),
                "exp_avg": entry["exp_avg"][s].clone(),
                "exp_avg_sq": entry["exp_avg_sq"][s].clone(),
            }
            for index, entry in state["state"].items()
        },
        "param_groups": state["param_groups"],
    }

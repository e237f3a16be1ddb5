"""A panel's training state: each stitch's record (its layer, Adam state, BatchNorm
statistics, losses and attack RNG) as a FittedStitch, and the resumable checkpoint of
them all, tied by a fingerprint to everything that determines the result (recipe,
stitches, both models, the training data and IRIs, the attack, the precision)."""

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import torch

from stitchkit.common.io import save_torch
from stitchkit.data.prepared import PreparedDataset
from stitchkit.models.checkpoints import load_training_state
from stitchkit.models.stitchable import Stitchable
from stitchkit.stitching import bn_state
from stitchkit.stitching.recipe import FittedStitch


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _tensor_digest(*tensors) -> str:
    h = hashlib.sha256()
    for tensor in tensors:
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def model_digest(model: Stitchable) -> str:
    return _tensor_digest(*model.state_dict().values())


def data_digest(data: PreparedDataset) -> str:
    tensors = [data.train_images, data.train_labels]
    if data.shortcut is not None:
        tensors += [v for v in data.shortcut.values() if isinstance(v, torch.Tensor)]
    return _tensor_digest(*tensors)


def fitted(stitch: dict) -> FittedStitch:
    return FittedStitch(stitch["spec"], stitch["layer"], stitch["end_bn"], stitch["front_bn"])


def restore(stitch: dict, saved: dict, device: torch.device | str) -> None:
    stitch["layer"].load_state_dict(saved["layer"])
    if stitch["optimizer"] is not None:
        stitch["optimizer"].load_state_dict(saved["optimizer"])
    stitch["end_bn"] = bn_state.on_device(saved["end_bn"], device)
    stitch["front_bn"] = bn_state.on_device(saved["front_bn"], device)
    stitch["losses"], stitch["initial_loss"] = saved["losses"], saved["initial_loss"]
    stitch["attack_generator"].set_state(saved["attack_generator"])


def save_state(path: Path | str, progress: dict, stitches: Iterable[dict]) -> None:
    save_torch(
        {
            **progress,
            "stitches": [
                {
                    "layer": s["layer"].state_dict(),
                    "optimizer": s["optimizer"].state_dict() if s["optimizer"] else None,
                    "end_bn": s["end_bn"],
                    "front_bn": s["front_bn"],
                    "losses": s["losses"],
                    "initial_loss": s["initial_loss"],
                    "attack_generator": s["attack_generator"].get_state(),
                }
                for s in stitches
            ],
        },
        path,
    )


def load_state(path: Path | str | None, fingerprint: str) -> dict | None:
    if path is None:
        return None
    state = load_training_state(path)
    return state if state is not None and state["fingerprint"] == fingerprint else None

"""Model files (weights + the spec that rebuilds them) and resumable training state."""

from pathlib import Path

import torch

from stitchkit.common.io import load_torch, save_torch
from stitchkit.models.architectures import ModelSpec, build_model
from stitchkit.models.stitchable import Stitchable


def save_model(model: Stitchable, path: Path | str) -> None:
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_torch({"spec": model.spec.to_dict(), "state_dict": state}, path)


def load_model(path: Path | str, device: torch.device | str = "cpu") -> Stitchable:
    """Rebuild a saved model in eval mode; a missing or damaged file is a UserError."""
    stem = Path(path).stem
    content = load_torch(path, f"rebuild it with `dvc repro -f train@{stem}`")
    model = build_model(ModelSpec.from_dict(content["spec"]))
    model.load_state_dict(content["state_dict"])
    return model.to(device).eval()


def load_training_state(path: Path | str) -> dict | None:
    """The resumable state at ``path``, or None when there is none."""
    if not Path(path).exists():
        return None
    return load_torch(path, f"delete {path} to restart this training from scratch")

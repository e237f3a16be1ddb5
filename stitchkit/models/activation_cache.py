"""Activations of a model at its stitching points, extracted once per dataset and kept on
disk, memory-mapped.

Every similarity measure, and any stitch trained without augmentation, reads a model's
activations at a point on fixed images; extracting them again for each measure and each
stitch repeats the model's forward pass. ActivationCache writes each (model, point,
images) activation once, as a float32 .npy file named by three digests:

- the model: its type, its repr (architecture, and a GraphSplit's points and
  preprocessing, e.g. Normalize's mean and std) and every tensor of its state dict;
- the point: its name (a GraphSplit's module path, else its number);
- the images: their uint8 bytes and shape.

A file is written to a temp file and renamed when complete, so an interrupted extraction
leaves nothing that a later read could take for the result. Reads are memory-mapped:
a 10,000-image activation of a ResNet18's first stage (64 x 32 x 32 floats, 2.6 GB)
is paged in as a measure reads it.
"""

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from stitchkit.common.io import atomic_path
from stitchkit.data.augment import to_unit_float


def model_digest(model: nn.Module) -> str:
    """A digest of ``model``'s type, repr and state dict (names, shapes, dtypes, bytes)."""
    digest = hashlib.sha256(f"{type(model).__qualname__}\n{model!r}".encode())
    for name, tensor in sorted(model.state_dict().items()):
        value = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{tuple(tensor.shape)}:{value.dtype}".encode())
        digest.update(value.view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


def images_digest(images: torch.Tensor) -> str:
    """A digest of uint8 ``images`` (N, C, H, W): their shape and bytes."""
    digest = hashlib.sha256(str(tuple(images.shape)).encode())
    digest.update(images.contiguous().numpy().tobytes())
    return digest.hexdigest()


def point_name(model: nn.Module, k: int) -> str:
    """Point k's name: a GraphSplit's module path, else the number."""
    points = getattr(model, "points", None)
    return points[k - 1] if isinstance(points, list) else str(k)


class ActivationCache:
    """``get(model, points, images)``: point -> the activations (N, ...) of a Stitchable
    ``model`` at each of ``points`` on uint8 ``images``, memory-mapped from ``root``;
    those not cached yet are extracted in one pass (eval mode, no gradients, batches of
    ``batch_size`` on ``device``) and written first."""

    def __init__(self, root: Path | str, device: torch.device | str = "cpu", batch_size: int = 250):
        self.root, self.device, self.batch_size = Path(root), torch.device(device), batch_size
        self.extracted: list[str] = []  # the files this cache has written, in order

    def path(self, model: nn.Module, k: int, images: torch.Tensor) -> Path:
        name = point_name(model, k).replace("/", "_")
        return self.root / f"{model_digest(model)[:16]}-{images_digest(images)[:16]}-{name}.npy"

    def get(
        self, model: nn.Module, points: Iterable[int], images: torch.Tensor
    ) -> dict[int, np.ndarray]:
        paths = {k: self.path(model, k, images) for k in points}
        missing = [k for k, path in paths.items() if not path.exists()]
        if missing:
            self._extract(model, missing, images, paths)
        return {k: np.load(path, mmap_mode="r") for k, path in paths.items()}

    @torch.no_grad()
    def _extract(self, model, points: list[int], images, paths: dict[int, Path]) -> None:
        was_training = model.training
        model.eval()
        try:
            first = model.activations(self._batch(images, 0), points)
            shapes = {k: (len(images), *first[k].shape[1:]) for k in points}
            with _atomic_arrays({k: paths[k] for k in points}, shapes) as arrays:
                starts = range(0, len(images), self.batch_size)
                for start in tqdm(starts, desc="activations", unit="batch", leave=False):
                    batch = self._batch(images, start)
                    acts = first if start == 0 else model.activations(batch, points)
                    for k in points:
                        arrays[k][start : start + self.batch_size] = acts[k].float().cpu().numpy()
        finally:
            model.train(was_training)
        self.extracted.extend(str(paths[k]) for k in points)

    def _batch(self, images: torch.Tensor, start: int) -> torch.Tensor:
        batch = images[start : start + self.batch_size].to(self.device)
        return to_unit_float(batch)


@contextmanager
def _atomic_arrays(paths: dict[int, Path], shapes: dict[int, tuple]) -> Iterator[dict]:
    """float32 .npy files of the given shapes, filled through memory maps; each renamed
    into place only if the block completes."""
    with ExitStack() as stack:
        temps = {k: stack.enter_context(atomic_path(path)) for k, path in paths.items()}
        arrays = {
            k: np.lib.format.open_memmap(temp, mode="w+", dtype=np.float32, shape=shapes[k])
            for k, temp in temps.items()
        }
        yield arrays
        for array in arrays.values():
            array.flush()

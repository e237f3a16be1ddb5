"""Identically represented inputs (IRIs) of a front model at a stitching point: the
training data of invariance-aware stitching (the paper's v2; the authors' ICML 2026
code, generate_iris.py and external/attacks/pgd_iris.py).

An IRI of image x at point k starts as U[0, 1] noise x' and takes ``steps`` signed
gradient steps x' <- clamp(x' - step_size sign(grad L), 0, 1) on the hint
L = ||f_k(x') - f_k(x)||_F / ||f_k(x)||_F, the front in eval mode. It keeps what f
represents of x at k and nothing else. Only f up to k runs (the authors run the whole
stitched model twice per step). The sign makes each image's step independent of the
rest of its batch (L's batch norms only scale its gradient), so ``batch_size`` is a
matter of speed. IRIs are stored like every image, as uint8, truncated (floor of 255 x).
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from stitchkit.common.errors import UserError
from stitchkit.common.params_file import Point, iri_triple, section_entry
from stitchkit.common.sampling import check_count, seeded_subset
from stitchkit.common.schema import Fraction, Int, PositiveInt, Str, section, validated
from stitchkit.data import shortcuts
from stitchkit.data.augment import to_unit_float
from stitchkit.data.params import check_dataset
from stitchkit.data.prepared import PreparedDataset
from stitchkit.models.params import check_points
from stitchkit.models.stitchable import Stitchable


@section
class IriSettings:
    """params.yaml `iris:`: signed-gradient ``steps`` of ``step_size``; ``samples``
    training images turned into IRIs (null: every one; else the first of a permutation
    drawn with ``seed``, kept in order); ``seed`` also draws the noise; ``batch_size``
    images at a time, a checkpoint every ``checkpoint_every`` batches."""

    steps: PositiveInt = 200
    step_size: Fraction = 1 / 255
    samples: PositiveInt | None = None
    batch_size: PositiveInt = 500
    seed: Int = 0
    checkpoint_every: PositiveInt = 10

    def source_indices(self, n: int) -> torch.Tensor:
        """Indices of the training images that get an IRI, in increasing order."""
        check_count("iris.samples", self.samples, n, "training images to turn into IRIs")
        return seeded_subset(n, self.samples, self.seed)

    def noise(self, start: int, shape: tuple[int, ...]) -> torch.Tensor:
        """The starting noise of the IRIs from ``start`` on: the same whatever the batch
        size or the resume point, since each image's draw has its own seed."""
        rows = []
        for index in range(start, start + shape[0]):
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
            rows.append(torch.rand(shape[1:], generator=generator))
        return torch.stack(rows)


def source_images(data: PreparedDataset, indices: torch.Tensor) -> torch.Tensor:
    """The training images at ``indices`` as the front saw them: on a shortcut dataset
    the carrying images show their class's marker (random places and noise drawn with
    the shortcut's seed)."""
    images, labels = data.train_images[indices], data.train_labels[indices]
    shortcut = shortcuts.shortcut_of(data)
    if shortcut is None:
        return images
    generator = torch.Generator().manual_seed(shortcut.seed)
    return shortcut.stamp(images, labels, generator, carry=shortcut.train_mask[indices])


def hint_residuals(
    front: Stitchable, k: int, x: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Per image: ||f_k(x_i) - t_i|| / ||t_i||, for images in [0, 1]."""
    with torch.no_grad():
        difference = (front.forward_to(x, k) - target).flatten(1).norm(dim=1)
    return difference / target.flatten(1).norm(dim=1).clamp_min(1e-12)


def iris_of(
    front: Stitchable, k: int, target: torch.Tensor, noise: torch.Tensor, settings: IriSettings
) -> torch.Tensor:
    """The IRIs (in [0, 1]) from ``noise`` of the images whose activation at point k is
    ``target``."""
    scale = target.norm()
    iris = noise.to(target.device)
    for _ in range(settings.steps):
        iris.requires_grad_(True)
        loss = (front.forward_to(iris, k) - target).norm() / scale
        (grad,) = torch.autograd.grad(loss, iris)
        iris = (iris.detach() - settings.step_size * grad.sign()).clamp_(0.0, 1.0)
    return iris.detach()


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] as uint8, truncated like the authors' (x * 255).astype(uint8)."""
    return (x * 255).floor_().clamp_(0, 255).to(torch.uint8)


@dataclass
class IriProgress:
    """IRIs made so far (uint8, on the CPU) and their hint residuals, in source order."""

    images: list[torch.Tensor]
    residuals: list[torch.Tensor]

    @property
    def done(self) -> int:
        return sum(len(batch) for batch in self.images)


def generate(
    front: Stitchable,
    k: int,
    sources: torch.Tensor,
    settings: IriSettings,
    device: torch.device,
    progress: IriProgress | None = None,
    on_batch: Callable[[IriProgress, int], None] | None = None,
) -> IriProgress:
    """IRIs of uint8 ``sources`` at point k, batch by batch, going on from ``progress``;
    ``on_batch(progress, batch_number)`` runs after each batch (checkpoints). Residuals
    are those of the stored uint8 IRIs."""
    front.eval()
    for p in front.parameters():  # type: ignore[attr-defined]
        p.requires_grad_(False)
    progress = progress or IriProgress([], [])
    size = settings.batch_size
    bar = tqdm(total=len(sources), initial=progress.done, desc=f"IRIs at point {k}", unit="img")
    for start in range(progress.done, len(sources), size):
        x = to_unit_float(sources[start : start + size].to(device))
        noise = settings.noise(start, tuple(x.shape))
        with torch.no_grad():
            target = front.forward_to(x, k)
        stored = to_uint8(iris_of(front, k, target, noise, settings))
        residual = hint_residuals(front, k, to_unit_float(stored), target)
        progress.images.append(stored.cpu())
        progress.residuals.append(residual.cpu())
        bar.update(len(x))
        if on_batch is not None:
            on_batch(progress, start // size + 1)
    bar.close()
    return progress


# -- params.yaml: `iri_sets:` ---------------------------------------------------------
@section
class IriSetEntry:
    """`iri_sets.<name>`: the IRIs of a front model at one stitching point, made from
    the training images of ``data`` (a dataset or shortcut setting)."""

    front: Str
    data: Str
    point: Point


IRIS_DIR = Path("data/iris")


def iris_path(front: str, data: str, point: int) -> Path:
    """Where the IRIs of ``front`` at ``point`` made from ``data`` are stored; a panel
    on IRIs depends on the folder of its front and data."""
    return IRIS_DIR / front / data / f"{point}.pt"


@dataclass(frozen=True)
class IriSetJob:
    """IRIs of ``front`` at ``point`` from the training images of ``data``, made with
    ``settings``."""

    name: str
    front: str
    point: int
    data: str
    settings: IriSettings

    @property
    def path(self) -> Path:
        return iris_path(self.front, self.data, self.point)


def iri_set_job(params: dict, name: str) -> IriSetJob:
    """The validated job of ``iri_sets.<name>``, with the shared `iris:` settings."""
    entry = section_entry(params, "iri_sets", name, IriSetEntry)
    where = f"iri_sets.{name}"
    if entry.front not in (params.get("models") or {}):
        raise UserError(f"{where}.front: model {entry.front!r} is not under `models:`")
    check_dataset(params, f"{where}.data", entry.data)
    check_points(params, f"{where}.point", entry.front, (entry.point,))
    triple = (entry.front, entry.data, entry.point)
    twins = [n for n, e in (params.get("iri_sets") or {}).items() if iri_triple(e) == triple]
    if len(twins) > 1:
        raise UserError(
            f"iri_sets {twins} are the same IRIs (front {entry.front}, data {entry.data}, "
            f"point {entry.point}); keep one"
        )
    settings = validated(IriSettings, params.get("iris") or {}, "iris")
    return IriSetJob(name, entry.front, entry.point, entry.data, settings)

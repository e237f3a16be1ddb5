"""Shared helpers: run stages as subprocesses in a scratch working directory."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from stitchkit.common.io import write_json
from stitchkit.data.datasets import prepare_digits
from stitchkit.data.prepared import PreparedDataset, prepared_path
from stitchkit.models.architectures import RESNETS, ModelSpec, build_model
from stitchkit.models.checkpoints import save_model
from stitchkit.models.training import Recipe, train_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def stitchkit_from_this_checkout():
    """Every stitchkit module the tests loaded lies in this checkout: a venv installed
    editable from another checkout would serve, from there, a module missing here."""
    yield
    stray = {
        name: module.__file__
        for name, module in list(sys.modules.items())
        if name.partition(".")[0] == "stitchkit"
        and getattr(module, "__file__", None)
        and not Path(module.__file__).resolve().is_relative_to(REPO)
    }
    assert not stray, f"stitchkit modules loaded from outside {REPO}: {stray}"


def stage_env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO), TQDM_DISABLE="1")
    return env


def run_stage(stage: str, *args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    """Run `python -m stages.<stage> args...` in ``cwd`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", f"stages.{stage}", *args],
        cwd=cwd,
        env=stage_env(),
        capture_output=True,
        text=True,
        **kwargs,
    )


def kill_after_checkpoint(stage: str, arg: str, cwd: Path, checkpoint: Path) -> None:
    """Start `python -m stages.<stage> <arg>` and SIGKILL it once ``checkpoint`` exists."""
    proc = subprocess.Popen(
        [sys.executable, "-m", f"stages.{stage}", arg],
        cwd=cwd,
        env=stage_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert checkpoint.exists(), f"{stage} ended before its first checkpoint"


def tiny_params(**train_overrides) -> dict:
    """A params.yaml for a fast digits model `tiny` (width 4)."""
    return {
        "datasets": {"digits": {"test_fraction": 0.25, "split_seed": 0}},
        "train": {
            "epochs": 3,
            "batch_size": 64,
            "lr": 0.03,
            "momentum": 0.9,
            "weight_decay": 0.0001,
            "lr_drops": [1.5],
            "crop_padding": 2,
            "hflip": True,
            "train_samples": 512,
            "eval_every": 1,
            "checkpoint_every": 1,
            "eval_batch_size": 500,
            **train_overrides,
        },
        "models": {"tiny": {"dataset": "digits", "arch": "resnet18", "seed": 0, "width": 4}},
    }


def write_params(workdir: Path, params: dict) -> None:
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="session")
def digits() -> PreparedDataset:
    """scikit-learn's digits with a quarter held out (seed 0): the tests' real data."""
    return prepare_digits(0.25, 0)


@pytest.fixture(scope="session")
def trained_resnets(digits, tmp_path_factory) -> dict[str, torch.nn.Module]:
    """A small digits model of each ResNet, trained (width 8, 4 epochs, seed 0)."""
    mean, std = digits.channel_stats()
    recipe = Recipe(epochs=4, batch_size=64, lr=0.03, lr_drops=(3,), crop_padding=0, hflip=False)
    ckpt = tmp_path_factory.mktemp("ckpt") / "unused.pt"
    return {
        arch: train_model(
            ModelSpec(arch, 10, 1, 8, mean, std), recipe, 0, digits, torch.device("cpu"), ckpt
        ).model
        for arch in RESNETS
    }


@pytest.fixture(scope="session")
def digits_file(tmp_path_factory) -> Path:
    path = prepared_path("digits", tmp_path_factory.mktemp("prepared"))
    prepare_digits(0.25, 0).save(path)  # not the `digits` fixture: modules override it
    return path


@pytest.fixture
def workdir(tmp_path, digits_file) -> Path:
    """A scratch directory with tiny params.yaml and a prepared digits dataset."""
    (tmp_path / "data/prepared").mkdir(parents=True)
    os.link(digits_file, prepared_path("digits", tmp_path / "data/prepared"))
    write_params(tmp_path, tiny_params())
    return tmp_path


@pytest.fixture
def stitch_workdir(workdir):
    """Two tiny digits models (a, b) and a panel a -> b at points 2 and 6."""
    data = PreparedDataset.load(workdir / "data/prepared/digits.pt")
    mean, std = data.channel_stats()
    params = tiny_params()
    for seed, name in enumerate(("a", "b")):
        torch.manual_seed(seed)
        save_model(
            build_model(ModelSpec("resnet18", 10, 1, 4, mean, std)), workdir / f"models/{name}.pt"
        )
        write_json(workdir / f"reports/metrics/{name}.json", {"test_accuracy": 0.1})
        params["models"][name] = {"dataset": "digits", "arch": "resnet18", "seed": seed, "width": 4}
    params["stitch"] = {
        "epochs": 2,
        "lr_drops": [],
        "batch_size": 64,
        "train_samples": 256,
        "eval_samples": 200,
        "crop_padding": 0,
        "hflip": False,
    }
    params["panels"] = {"ab": {"front": "a", "end": "b", "data": "digits", "points": [2, 6]}}
    write_params(workdir, params)
    return workdir, params

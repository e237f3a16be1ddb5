"""Bad input: one `error:` line naming the problem and the fix, exit 2, no partial output."""

import re

import pytest

from conftest import run_stage, tiny_params, write_params
from stitchkit.checkpoints import load_model
from stitchkit.errors import UserError


def assert_clean_failure(result, pattern: str, workdir) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert re.search(pattern, lines[0]), lines[0]
    for output in ("models", "reports", "data/prepared/imagenet32-10.pt"):
        assert not (workdir / output).exists(), f"partial output {output}"


def with_model(**entry) -> dict:
    params = tiny_params()
    params["models"]["tiny"].update(entry)
    return params


@pytest.mark.parametrize(
    "params, pattern",
    [
        (with_model(arch="vgg11"), r"unknown architecture 'vgg11'; choose one of"),
        (with_model(dataset="mnist"), r"dataset 'mnist' is not under `datasets:`"),
        (tiny_params(epochs=0), r"train\.epochs must be a positive integer, got 0"),
        (tiny_params(epochs=-5), r"train\.epochs must be a positive integer, got -5"),
        (with_model(width=0), r"width must be a positive integer"),
        (tiny_params(warmup=3), r"unknown key\(s\) \['warmup'\]"),
    ],
    ids=["arch", "dataset", "zero-epochs", "negative-epochs", "width", "unknown-key"],
)
def test_bad_training_params(workdir, params, pattern):
    write_params(workdir, params)
    assert_clean_failure(run_stage("train", "tiny", cwd=workdir), pattern, workdir)


def test_unknown_model_id(workdir):
    result = run_stage("train", "nope", cwd=workdir)
    assert_clean_failure(result, r"model id 'nope' is not under `models:`", workdir)


def test_model_whose_dataset_is_not_prepared(workdir):
    (workdir / "data/prepared/digits.pt").unlink()
    result = run_stage("train", "tiny", cwd=workdir)
    assert_clean_failure(
        result, r"digits\.pt does not exist; run `dvc repro prepare@digits`", workdir
    )


def test_unknown_dataset_name_in_prepare(workdir):
    params = tiny_params()
    params["datasets"]["mnist"] = {}
    write_params(workdir, params)
    result = run_stage("prepare", "mnist", cwd=workdir)
    assert_clean_failure(result, r"unknown dataset 'mnist'; choose one of", workdir)


def test_missing_imagenet32_files(workdir):
    params = tiny_params()
    params["datasets"]["imagenet32-10"] = {
        "raw_dir": "data/raw/imagenet32",
        "num_classes": 10,
        "class_seed": 0,
    }
    write_params(workdir, params)
    result = run_stage("prepare", "imagenet32-10", cwd=workdir)
    assert_clean_failure(
        result, r"ImageNet32 files missing from data/raw/imagenet32/: train_data_batch_1", workdir
    )


def test_truncated_training_checkpoint(workdir):
    (workdir / "checkpoints").mkdir()
    (workdir / "checkpoints/tiny.pt").write_bytes(b"PK\x03\x04 truncated")
    result = run_stage("train", "tiny", cwd=workdir)
    assert_clean_failure(
        result,
        r"checkpoints/tiny\.pt is truncated or corrupt .*delete checkpoints/tiny\.pt",
        workdir,
    )


def test_truncated_prepared_dataset(workdir):
    path = workdir / "data/prepared/digits.pt"
    data = path.read_bytes()
    path.unlink()  # the file is a hard link to a shared fixture
    path.write_bytes(data[: len(data) // 2])
    result = run_stage("train", "tiny", cwd=workdir)
    assert_clean_failure(result, r"digits\.pt is truncated or corrupt", workdir)


def test_truncated_model_file(workdir):
    assert run_stage("train", "tiny", cwd=workdir).returncode == 0
    path = workdir / "models/tiny.pt"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(UserError, match=r"truncated or corrupt .*dvc repro -f train@tiny"):
        load_model(path)

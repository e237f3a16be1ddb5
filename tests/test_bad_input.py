"""Bad input: one `error:` line naming the problem and the fix, exit 2, no partial output."""

import re

import pytest
import torch

from conftest import run_stage, tiny_params, write_params
from stitchkit.common.errors import UserError
from stitchkit.common.sampling import check_count, seeded_subset
from stitchkit.common.strict_yaml import load_yaml
from stitchkit.measures.params import robust_evaluation, stitch_robust_evaluation
from stitchkit.models.checkpoints import load_model
from stitchkit.pipeline.config import check_params
from stitchkit.stitching.recipe import StitchRecipe
from stitchkit.testbeds.class_subsets import within


def assert_clean_failure(result, pattern: str, workdir) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert re.search(pattern, lines[0]), lines[0]
    for output in ("models", "reports", "data/prepared/ls-imagenet-10.pt"):
        assert not (workdir / output).exists(), f"partial output {output}"


def with_model(**entry) -> dict:
    params = tiny_params()
    params["models"]["tiny"].update(entry)
    return params


@pytest.mark.parametrize(
    "params, pattern",
    [
        (with_model(arch="vgg11"), r"models\.tiny\.arch: input should be 'resnet18', "),
        (
            with_model(dataset="mnist"),
            r"models\.tiny\.dataset: 'mnist' is under neither `datasets:` nor `shortcuts:`",
        ),
        (tiny_params(epochs=0), r"train\.epochs: input should be greater than 0, got 0"),
        (tiny_params(epochs=-5), r"train\.epochs: input should be greater than 0, got -5"),
        (with_model(width=0), r"models\.tiny\.width: input should be greater than 0"),
        (tiny_params(warmup=3), r"train\.warmup: unknown key"),
        (with_model(seed="a"), r"models\.tiny\.seed: input should be a valid integer, got 'a'"),
        (tiny_params(lr="fast"), r"train\.lr: input should be a valid number, got 'fast'"),
        (with_model(train={"lr": "0.1"}), r"models\.tiny\.train\.lr: input should be a valid"),
        (with_model(train={"epochs": 1}), r"train with models\.tiny\.train: lr_drops are"),
    ],
    ids=[
        "arch",
        "dataset",
        "zero-epochs",
        "negative-epochs",
        "width",
        "unknown-key",
        "seed-type",
        "lr-type",
        "override-type",
        "drops-past-overridden-epochs",
    ],  # fmt: skip
)
def test_bad_training_params(workdir, params, pattern):
    write_params(workdir, params)
    assert_clean_failure(run_stage("train", "tiny", cwd=workdir), pattern, workdir)


def test_unknown_model_id(workdir):
    result = run_stage("train", "nope", cwd=workdir)
    assert_clean_failure(result, r"'nope' is not under `models:` in params\.yaml", workdir)


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
    assert_clean_failure(result, r"datasets\.mnist: unknown dataset; choose one of", workdir)


def test_missing_imagenet32_class_map_and_files(workdir):
    params = tiny_params()
    params["datasets"]["ls-imagenet-10"] = {"raw_dir": "data/raw/imagenet32"}
    write_params(workdir, params)
    result = run_stage("prepare", "ls-imagenet-10", cwd=workdir)
    assert_clean_failure(result, r"map_clsloc\.txt is missing; it maps WNIDs", workdir)
    (workdir / "data/raw/imagenet32").mkdir(parents=True)
    (workdir / "data/raw/imagenet32/map_clsloc.txt").write_text(
        "".join(f"n{i:08d} {i} class_{i}\n" for i in range(1, 1001))
    )
    params["datasets"]["ls-imagenet-10"].update(wnids=None, class_seed=0)
    write_params(workdir, params)
    result = run_stage("prepare", "ls-imagenet-10", cwd=workdir)
    assert_clean_failure(
        result, r"ImageNet32 files missing from data/raw/imagenet32/: train_data_batch_1", workdir
    )


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("models: {tiny: {dataset: digits\n", r"params\.yaml is not valid YAML at line \d+: "),
        ("- a\n- b\n", r"params\.yaml must map section names"),
        ("trian: {}\n", r"trian: unknown key"),
        ("models: [tiny]\n", r"models: input should be a valid dictionary"),
        ("train: {}\nstitch: {}\ntrain: {}\n", r"key `train` is written twice \(lines 1 and 3\)"),
        (
            "models:\n  tiny: {dataset: digits}\n  tiny: {dataset: digits, seed: 1}\n",
            r"params\.yaml: key `tiny` is written twice \(lines 2 and 3\); keep one",
        ),
        ("train: {epochs: 1, epochs: 2}\n", r"key `epochs` is written twice \(lines 1 and 1\)"),
    ],
    ids=[
        "syntax",
        "not-a-mapping",
        "unknown-section",
        "section-type",
        "duplicate-section",
        "duplicate-entry",
        "duplicate-field",
    ],
)
def test_malformed_params_file(workdir, text, pattern):
    (workdir / "params.yaml").write_text(text)
    assert_clean_failure(run_stage("train", "tiny", cwd=workdir), pattern, workdir)


def test_yaml_merge_keys_may_be_overridden(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("a: &shared {k: 1, m: 2}\nb:\n  <<: *shared\n  k: 3\n")
    assert load_yaml(path) == {"a": {"k": 1, "m": 2}, "b": {"k": 3, "m": 2}}


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


# a count beyond the data is refused, naming what there is; null stays "all"
def test_training_samples_beyond_the_data(workdir):
    write_params(workdir, tiny_params(train_samples=1_000_000_000))
    result = run_stage("train", "tiny", cwd=workdir)
    pattern = r"train_samples is 1000000000, but there are only 1347 training images; use at most"
    assert_clean_failure(result, pattern, workdir)


@pytest.mark.parametrize(
    "key, available",
    [("train_samples", "1347 training images"), ("dm_samples", "1347 training images"),
     ("eval_samples", "450 test images")],
)  # fmt: skip
def test_stitch_counts_beyond_the_data(stitch_workdir, key, available):
    workdir, params = stitch_workdir
    params["stitch"][key] = 10**9
    write_params(workdir, params)
    result = run_stage("stitch", "ab", cwd=workdir)
    pattern = rf"stitch\.{key} is 1000000000, but there are only {available}; use at most"
    assert result.returncode == 2 and re.search(pattern, result.stderr), result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert not (workdir / "reports/stitch/ab.json").exists()


def test_robust_eval_samples_beyond_the_data_and_a_models_override(stitch_workdir):
    workdir, params = stitch_workdir
    params["robust_eval"] = {"backend": "autoattack", "samples": 10**9, "iterations": 1}
    write_params(workdir, params)
    result = run_stage("robustness", "a", cwd=workdir)
    pattern = r"robust_eval\.samples is 1000000000, but there are only 450 test images to attack"
    assert result.returncode == 2 and re.search(pattern, result.stderr), result.stderr
    assert not (workdir / "reports/robustness").exists()
    params["models"]["a"]["robust_eval"] = {"samples": None}
    params["models"]["b"]["robust_eval"] = {"sample": 5}
    with pytest.raises(UserError, match=r"models\.b\.robust_eval\.sample: unknown key"):
        check_params(params)
    assert robust_evaluation(params, "a").samples is None
    assert stitch_robust_evaluation(params).samples == 10**9


def test_counts_are_caps_within_a_class_subset_but_not_beyond_the_data(stitch_workdir):
    recipe = StitchRecipe(train_samples=1000, dm_samples=100)
    assert (within(recipe, 140).train_samples, within(recipe, 140).dm_samples) == (140, 100)
    assert within(StitchRecipe(train_samples=None), 140).train_samples is None
    workdir, params = stitch_workdir
    params["stitch"]["train_samples"] = 1347  # the whole training split: every k fits
    params["subsets"] = {"s": {"front": "a", "end": "b", "data": "digits", "point": 2,
                               "classes": [1], "modes": {"fula": {}}}}  # fmt: skip
    params["stitch"]["epochs"] = 1
    write_params(workdir, params)
    assert run_stage("subset", "s", cwd=workdir).returncode == 0
    params["stitch"]["train_samples"] = 1348
    write_params(workdir, params)
    result = run_stage("subset", "s", cwd=workdir)
    assert "stitch.train_samples is 1348, but there are only 1347" in result.stderr


def test_a_null_count_is_every_image_and_a_count_at_the_size_too():
    assert torch.equal(seeded_subset(5, None, 0), torch.arange(5))
    assert torch.equal(seeded_subset(5, 5, 3), torch.arange(5))
    assert len(seeded_subset(5, 2, 3)) == 2
    check_count("k", None, 5, "images")
    check_count("k", 5, 5, "images")
    with pytest.raises(UserError, match=r"^k is 6, but there are only 5 images; use at most 5"):
        check_count("k", 6, 5, "images")

"""IRIs (the paper's v2): they match their source's activation, resume and reproduce;
stitches trained on them (iri_panels) keep a model's agreement with itself."""

import copy
import json

import pytest
import torch
import yaml

from conftest import run_stage
from stitchkit.common.errors import UserError
from stitchkit.data.augment import to_unit_float
from stitchkit.data.prepared import PreparedDataset
from stitchkit.measures.cka import linear_cka
from stitchkit.measures.robustness import RobustEvaluation
from stitchkit.models.architectures import ModelSpec
from stitchkit.models.attacks import AdversarialTraining
from stitchkit.models.checkpoints import load_model
from stitchkit.models.training import Recipe, train_model
from stitchkit.stitching.objectives import MODES
from stitchkit.stitching.recipe import StitchRecipe, make_spec
from stitchkit.stitching.trainer import PanelTrainer
from stitchkit.testbeds.iris import (
    IriProgress,
    IriSettings,
    generate,
    hint_residuals,
    source_images,
)

CPU = torch.device("cpu")
FAST = IriSettings(steps=40, step_size=5 / 255, samples=48, batch_size=16)


@pytest.fixture(scope="module")
def model(digits, tmp_path_factory):
    mean, std = digits.channel_stats()
    recipe = Recipe(
        epochs=3,
        batch_size=64,
        lr=0.03,
        lr_drops=(2,),
        crop_padding=0,
        hflip=False,
        train_samples=1024,
    )  # fmt: skip (about 98% test accuracy)
    ckpt = tmp_path_factory.mktemp("ckpt") / "unused.pt"
    spec = ModelSpec("resnet18", 10, 1, 8, mean, std)
    return train_model(spec, recipe, 0, digits, CPU, ckpt).model.eval()


def sources(digits, settings=FAST):
    return source_images(digits, settings.source_indices(len(digits.train_labels)))


@pytest.mark.parametrize("point", [1, 5, 9])
def test_an_iri_is_represented_like_its_source_and_far_closer_than_its_noise(model, digits, point):
    images = sources(digits)
    x = to_unit_float(images)
    iris = torch.cat(generate(model, point, images, FAST, CPU).images)
    with torch.no_grad():
        target = model.forward_to(x, point)
    residual = hint_residuals(model, point, to_unit_float(iris), target)
    start = hint_residuals(model, point, FAST.noise(0, tuple(x.shape)), target)
    # every stored (uint8) IRI lies at under 3/4 of its starting noise's distance from
    # the source's activation, and on average within half of the source's norm (this
    # small, briefly trained model's point 5 is the hardest to match: about 0.5)
    assert (residual < 0.75 * start).all(), (residual / start).max()
    assert residual.mean() < 0.55, residual.mean()


def test_iris_keep_the_source_image_at_the_first_point_and_not_at_the_last(model, digits):
    images = sources(digits)
    x = to_unit_float(images)
    shallow = to_unit_float(torch.cat(generate(model, 1, images, FAST, CPU).images))
    deep = to_unit_float(torch.cat(generate(model, 9, images, FAST, CPU).images))
    # the first conv block is nearly invertible: its IRI is the image; the penultimate
    # features keep the class, not the pixels
    assert (shallow - x).abs().mean() < 0.05
    assert (deep - x).abs().mean() > 0.2


def test_iris_are_bitwise_reproducible_and_resume_where_they_stopped(model, digits):
    images = sources(digits)
    whole = generate(model, 5, images, FAST, CPU)
    first_batch = []

    def stop_after_one(progress, batch):
        first_batch.append(IriProgress(list(progress.images), list(progress.residuals)))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(model, 5, images, FAST, CPU, on_batch=stop_after_one)
    resumed = generate(model, 5, images, FAST, CPU, progress=first_batch[0])
    assert torch.equal(torch.cat(resumed.images), torch.cat(whole.images))
    assert torch.equal(torch.cat(resumed.residuals), torch.cat(whole.residuals))
    again = generate(model, 5, images, FAST, CPU)
    assert torch.equal(torch.cat(again.images), torch.cat(whole.images))


def test_noise_and_sources_do_not_depend_on_the_batching():
    assert torch.equal(FAST.noise(0, (6, 1, 4, 4))[3:], FAST.noise(3, (3, 1, 4, 4)))
    indices = IriSettings(samples=10, seed=1).source_indices(100)
    assert len(indices) == 10 and torch.equal(indices, indices.sort().values)
    assert torch.equal(IriSettings().source_indices(7), torch.arange(7))


def test_iris_stage_writes_a_prepared_dataset_and_its_residuals(stitch_workdir):
    workdir, params = stitch_workdir
    params["iris"] = {"steps": 10, "step_size": "10/255", "samples": 40, "batch_size": 16}
    params["iri_sets"] = {"a-2": {"front": "a", "data": "digits", "point": 2}}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    done = run_stage("iris", "a-2", cwd=workdir)
    assert done.returncode == 0, done.stderr
    iris = PreparedDataset.load(workdir / "data/iris/a/digits/2.pt")
    digits = PreparedDataset.load(workdir / "data/prepared/digits.pt")
    keep = IriSettings(samples=40).source_indices(len(digits.train_labels))
    assert iris.train_images.shape == (40, 1, 32, 32) and iris.train_images.dtype == torch.uint8
    assert torch.equal(iris.train_labels, digits.train_labels[keep])
    assert torch.equal(iris.test_images, digits.test_images)
    report = json.loads((workdir / "reports/iris/a-2.json").read_text())
    assert report["images"] == 40 and report["front_passes"] == 400
    assert 0 < report["hint_residual_mean"] <= report["hint_residual_max"]
    # the stated residual is that of the stored IRIs against their source images
    front = load_model(workdir / "models/a.pt")
    with torch.no_grad():
        target = front.forward_to(to_unit_float(digits.train_images[keep]), 2)
    residual = hint_residuals(front, 2, to_unit_float(iris.train_images), target)
    assert residual.double().mean().item() == pytest.approx(report["hint_residual_mean"], 1e-5)
    assert not (workdir / "checkpoints/iris-a-2.pt").exists()


def test_two_iri_sets_of_the_same_front_data_and_point_are_refused(stitch_workdir):
    workdir, params = stitch_workdir
    same = {"front": "a", "data": "digits", "point": 2}
    params["iri_sets"] = {"a-2": same, "again": same}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    done = run_stage("iris", "a-2", cwd=workdir)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert (
        "iri_sets ['a-2', 'again'] are the same IRIs (front a, data digits, point 2); keep one"
        in done.stderr
    )


# -- stitching on IRIs ------------------------------------------------------------------
IRI_RECIPE = StitchRecipe(
    epochs=2, batch_size=16, lr_drops=(), crop_padding=0, hflip=False, bn="frozen",
    eval_samples=300,
)  # fmt: skip


def iri_sets(model, digits, points) -> dict[int, PreparedDataset]:
    images = sources(digits)
    labels = digits.train_labels[FAST.source_indices(len(digits.train_labels))]
    return {
        k: PreparedDataset(
            torch.cat(generate(model, k, images, FAST, CPU).images),
            labels,
            digits.test_images,
            digits.test_labels,
            digits.class_names,
            digits.class_ids,
        )
        for k in points
    }


def test_self_stitching_on_iris_keeps_agreement_at_every_point(model, digits):
    points = (1, 5, 9)
    specs = [make_spec(mode, k, k, model) for mode in MODES for k in points]
    end = copy.deepcopy(model)
    trainer = PanelTrainer(
        model, end, digits, specs, IRI_RECIPE, CPU, iris=iri_sets(model, digits, points)
    )
    for result in trainer.fit(progress=False):
        agreement = result.agreement["clean"]["agreement_prob"]
        assert agreement >= 0.95, (result.spec.key, agreement)
        assert result.test_accuracy == pytest.approx(trainer.scores.model_accuracy(end), abs=0.05)


def test_adversarial_stitching_on_iris_crafts_pgd_on_the_iris(model, digits, monkeypatch):
    """v2's adversarial testbed on IRIs: at alpha = 1 every training batch is PGD examples
    of that point's IRIs (crafted on the stitched model); robust agreement is scored on
    attacked natural test images."""
    sets = iri_sets(model, digits, (5,))
    attacked = []
    pgd_attack = AdversarialTraining.attack

    def recording(self, logits_of, x, y, generator):
        attacked.append(x.clone())
        return pgd_attack(self, logits_of, x, y, generator)

    monkeypatch.setattr(AdversarialTraining, "attack", recording)
    adversarial = AdversarialTraining(alpha=1.0, epsilon="24/255", step_size="24/255", steps=1)
    robust = RobustEvaluation(samples=20, epsilon="24/255", iterations=5, eot_iterations=1)
    end = copy.deepcopy(model)
    trainer = PanelTrainer(
        model, end, digits, [make_spec("fula", 5, 5, model)], IRI_RECIPE, CPU, adversarial,
        robust, iris=sets,
    )  # fmt: skip
    (result,) = trainer.fit(progress=False)
    iris = to_unit_float(sets[5].train_images)
    assert len(attacked) == IRI_RECIPE.epochs * len(iris) // IRI_RECIPE.batch_size
    for batch in attacked:  # each image is one of the point's IRIs
        same = batch.flatten(1)[:, None] == iris.flatten(1)[None]
        assert same.all(2).any(1).all()
    assert set(result.agreement) == {"clean", "robust"}
    assert 0 <= result.agreement["robust"]["agreement_prob"] <= 1
    assert result.robust_accuracy is not None


def test_iri_sets_of_other_source_images_are_refused(model, digits):
    sets = iri_sets(model, digits, (1, 5))
    sets[5].train_labels = sets[5].train_labels.roll(1)
    specs = [make_spec("hint", k, k, model) for k in (1, 5)]
    with pytest.raises(UserError, match="must share their source images"):
        PanelTrainer(model, model, digits, specs, IRI_RECIPE, CPU, iris=sets)
    with pytest.raises(UserError, match=r"no IRI set for front point\(s\) \[5\]"):
        PanelTrainer(model, model, digits, specs, IRI_RECIPE, CPU, iris={1: sets[1]})


def test_the_stitch_stage_trains_an_iri_panel_on_the_front_points_iris(stitch_workdir):
    workdir, params = stitch_workdir
    params["iris"] = {"steps": 5, "step_size": "10/255", "samples": 40, "batch_size": 40}
    params["iri_sets"] = {f"a-{k}": {"front": "a", "data": "digits", "point": k} for k in (2, 6)}
    panel = {"front": "a", "end": "b", "data": "digits", "points": [2, 6]}
    params["iri_panels"] = {"ab-iris": {**panel, "stitch": {"batch_size": 16}}}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    for name in params["iri_sets"]:
        assert run_stage("iris", name, cwd=workdir).returncode == 0
    done = run_stage("stitch", "ab-iris", cwd=workdir)
    assert done.returncode == 0, done.stderr
    report = json.loads((workdir / "reports/stitch/ab-iris.json").read_text())
    assert report["train_on"] == "iris" and report["iri_data"] == {
        str(k): f"data/iris/a/digits/{k}.pt" for k in (2, 6)
    }
    assert report["bn_policy"] == "frozen"  # the authors' eval mode on IRIs
    assert set(report["front_agreement"]) == {
        "agreement_prob", "agreement_ratio", "hard_kappa", "soft_kappa"
    }  # fmt: skip
    assert len(report["results"]) == 2 * len(MODES)
    assert (workdir / "stitches/ab-iris.pt").exists()


def test_the_cka_stage_compares_front_and_end_on_test_images_and_on_each_points_iris(
    stitch_workdir,
):
    workdir, params = stitch_workdir
    params["iris"] = {"steps": 5, "step_size": "10/255", "samples": 40, "batch_size": 40}
    params["iri_sets"] = {
        f"{m}-{k}": {"front": m, "data": "digits", "point": k} for m in "ab" for k in (2, 6)
    }
    params["panels"]["aa"] = {"front": "a", "end": "a", "data": "digits", "points": [2, 6]}
    params["panels"]["bb"] = {"front": "b", "end": "b", "data": "digits", "points": [2, 6]}
    params["iri_panels"] = {f"{p}-iris": dict(params["panels"][p]) for p in ("aa", "ab", "bb")}
    columns = {
        "identical": ["aa", "aa-iris"],
        "cross-seed": ["ab", "ab-iris"],
        "two fronts": [["ab", "ab-iris"], ["bb", "bb-iris"]],  # into one end: averaged
    }
    params["cka_figures"] = {"v2-cka": {"title": "t", "columns": columns, "samples": 30}}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    for name in params["iri_sets"]:
        assert run_stage("iris", name, cwd=workdir).returncode == 0
    done = run_stage("cka", "v2-cka", cwd=workdir)
    assert done.returncode == 0, done.stderr
    report = json.loads((workdir / "reports/cka/v2-cka.json").read_text())["columns"]
    identical, cross = report["identical"], report["cross-seed"]
    assert identical["points"] == cross["points"] == [2, 6]
    assert identical["natural"] == pytest.approx([1.0, 1.0]) == identical["iris"]
    a, b = (load_model(workdir / f"models/{name}.pt") for name in "ab")
    iris = PreparedDataset.load(workdir / "data/iris/a/digits/6.pt").train_images[:30]
    with torch.no_grad():
        x = to_unit_float(iris)
        expected = linear_cka(a.forward_to(x, 6), b.forward_to(x, 6), debiased=True)
    assert cross["iris"][1] == pytest.approx(expected) and abs(expected) < 0.99
    mean = report["two fronts"]
    assert [r["natural_panel"] for r in mean["replicates"]] == ["ab", "bb"]
    assert mean["replicates"][0]["iris"] == cross["iris"]
    assert mean["iris"] == pytest.approx([(c + 1) / 2 for c in cross["iris"]])  # bb: CKA 1
    params["cka_figures"]["v2-cka"]["mode"] = "tlm"
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    done = run_stage("cka", "v2-cka", cwd=workdir)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "cka_figures.v2-cka.mode: 'tlm' is not a fula mode of panel 'ab'" in done.stderr


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"iri_panels": {"ab": {"front": "a", "end": "b", "data": "digits", "points": [2]}}},
            "panels ['ab'] are under both `panels:` and `iri_panels:`; rename one",
        ),
        (
            {"iri_panels": {"x": {"front": "a", "end": "b", "data": "digits", "points": [3]}}},
            "iri_panels.x: no IRI set of front a on digits at point 3; add "
            "{front: a, data: digits, point: 3} under `iri_sets:`",
        ),
    ],
)
def test_an_iri_panel_without_its_iris_or_with_a_taken_name_is_refused(
    stitch_workdir, change, message
):
    workdir, params = stitch_workdir
    params["iri_sets"] = {"a-2": {"front": "a", "data": "digits", "point": 2}}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params | change))
    done = run_stage("check", cwd=workdir)  # the stage every other one waits for
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert message in done.stderr

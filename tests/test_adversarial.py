"""The adversarial testbed: PGD, adversarial training, the robust-accuracy evaluator,
adversarial stitching, CKA, and the robustness / table / similarity stages."""

import csv
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from conftest import kill_after_checkpoint, run_stage, tiny_params, write_params
from stitchkit.common.errors import UserError
from stitchkit.common.schema import validated
from stitchkit.data.augment import to_unit_float
from stitchkit.data.prepared import PreparedDataset
from stitchkit.measures.cka import linear_cka
from stitchkit.measures.params import robust_evaluation, stitch_robust_evaluation
from stitchkit.measures.robustness import (
    RobustEvaluation,
    _autoattack,
    autoattack_rand,
    eot_iterations_for,
    robust_accuracy,
)
from stitchkit.measures.samples import PanelSamples
from stitchkit.models.architectures import ModelSpec
from stitchkit.models.attacks import AdversarialTraining, pgd
from stitchkit.models.checkpoints import save_model
from stitchkit.models.training import Recipe, train_model
from stitchkit.stitching.recipe import StitchRecipe
from stitchkit.stitching.stitched_model import StitchedModel
from stitchkit.stitching.trainer import stitch

CPU = torch.device("cpu")
# Digits models keep ~50% robust accuracy at the paper's 8/255 (the images are 8x8
# upsampled, with 17 grey levels), so the evaluator checks attack at 24/255.
EPSILON = 24 / 255
QUICK_PGD = AdversarialTraining(alpha=0.5, epsilon="24/255", step_size="10/255", steps=3)


def _train(digits_file, tmp_path_factory, adversarial):
    data = PreparedDataset.load(digits_file)
    mean, std = data.channel_stats()
    spec = ModelSpec("resnet18", 10, 1, 8, mean, std)
    recipe = Recipe(
        epochs=4, batch_size=64, lr=0.03, lr_drops=(3,), crop_padding=0, hflip=False,
        eval_every=4, adversarial=adversarial,
    )  # fmt: skip
    checkpoint = tmp_path_factory.mktemp("ckpt") / "model.pt"
    return train_model(spec, recipe, 0, data, CPU, checkpoint), data


@pytest.fixture(scope="module")
def plain_model(digits_file, tmp_path_factory):
    return _train(digits_file, tmp_path_factory, None)


@pytest.fixture(scope="module")
def robust_model(digits_file, tmp_path_factory):
    return _train(digits_file, tmp_path_factory, QUICK_PGD)


def _pgd20_accuracy(model, data, settings) -> float:
    images, labels = settings.sample(data.test_images, data.test_labels)
    x = to_unit_float(images)
    x_adv = pgd(model, x, labels, settings.epsilon, settings.epsilon / 4, 20)
    with torch.no_grad():
        return (model(x_adv).argmax(1) == labels).float().mean().item()


def test_pgd_stays_in_the_epsilon_ball_and_the_image_range(plain_model):
    result, data = plain_model
    x, y = to_unit_float(data.test_images[:64]), data.test_labels[:64]
    x_adv = pgd(result.model, x, y, 8 / 255, 2 / 255, 10, torch.Generator().manual_seed(0))
    assert (x_adv - x).abs().max() <= 8 / 255 + 1e-6
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    with torch.no_grad():
        before = torch.nn.functional.cross_entropy(result.model(x), y)
        after = torch.nn.functional.cross_entropy(result.model(x_adv), y)
    assert after > before


def test_adversarial_training_makes_a_robust_model(plain_model, robust_model):
    settings = RobustEvaluation(backend="art", samples=150, epsilon=EPSILON, iterations=20)
    plain = robust_accuracy(plain_model[0].model, *_test_split(plain_model), settings, CPU)
    robust = robust_accuracy(robust_model[0].model, *_test_split(robust_model), settings, CPU)
    assert robust["clean_accuracy"] > 0.9
    assert robust["robust_accuracy"] > plain["robust_accuracy"] + 0.3


def _test_split(trained):
    return trained[1].test_images, trained[1].test_labels


NOISE = 3 / 150  # APGD is not stronger than PGD-20 on every single sample


@pytest.mark.parametrize("which", ["plain", "robust"])
def test_art_evaluator_is_never_weaker_than_pgd20_beyond_noise(which, request):
    result, data = request.getfixturevalue(f"{which}_model")
    settings = RobustEvaluation(backend="art", samples=150, epsilon=EPSILON, iterations=20)
    scores = robust_accuracy(result.model, data.test_images, data.test_labels, settings, CPU)
    assert scores["backend"] == "art" and scores["samples"] == 150
    assert scores["robust_accuracy"] <= _pgd20_accuracy(result.model, data, settings) + NOISE
    assert scores["robust_accuracy"] <= scores["clean_accuracy"]


def test_a_non_robust_model_falls_to_near_zero(plain_model):
    result, data = plain_model
    settings = RobustEvaluation(backend="art", samples=150, epsilon=EPSILON, iterations=20)
    scores = robust_accuracy(result.model, data.test_images, data.test_labels, settings, CPU)
    assert scores["clean_accuracy"] > 0.9 and scores["robust_accuracy"] < 0.05


@pytest.mark.parametrize("which", ["plain", "robust"])
def test_official_autoattack_is_never_weaker_than_art_or_pgd20_beyond_noise(which, request):
    """On the same models and samples, the official AutoAttack's robust accuracy is at
    most that of ART's APGD (same two losses) or of PGD-20, up to a few samples."""
    result, data = request.getfixturevalue(f"{which}_model")
    common = dict(samples=150, epsilon=EPSILON, iterations=20, batch_size=150)
    official = RobustEvaluation(backend="autoattack", eot_iterations=1, **common)
    scores = robust_accuracy(result.model, data.test_images, data.test_labels, official, CPU)
    assert scores["backend"] == "autoattack" and scores["samples"] == 150
    art = RobustEvaluation(backend="art", **common)
    art_scores = robust_accuracy(result.model, data.test_images, data.test_labels, art, CPU)
    assert scores["robust_accuracy"] <= art_scores["robust_accuracy"] + NOISE
    assert scores["robust_accuracy"] <= _pgd20_accuracy(result.model, data, official) + NOISE
    assert scores["clean_accuracy"] == art_scores["clean_accuracy"]


@pytest.mark.parametrize("backend", ["autoattack", "art"])
def test_agreement_under_attack_is_measured_on_the_attacked_images(
    backend, plain_model, robust_model
):
    """v2's adversarial stitching: a model agrees fully with itself on its own attacked
    images; a non-robust model fooled there disagrees with a robust one that is not."""
    settings = RobustEvaluation(
        backend=backend, samples=100, epsilon=EPSILON, iterations=10, eot_iterations=1
    )
    plain, robust = plain_model[0].model, robust_model[0].model
    images, labels = _test_split(plain_model)
    itself = robust_accuracy(plain, images, labels, settings, CPU, reference=plain)
    assert itself["agreement"]["agreement_prob"] == pytest.approx(1.0)
    assert itself["agreement"]["agreement_ratio"] == 1.0
    assert itself["agreement"]["hard_kappa"] == pytest.approx(1.0)
    other = robust_accuracy(plain, images, labels, settings, CPU, reference=robust)
    assert other["robust_accuracy"] == itself["robust_accuracy"] < 0.05
    robust_scores = robust_accuracy(robust, images, labels, settings, CPU)
    # the robust model is right on its own attacked images about robust_accuracy of the
    # time, and more often on images crafted against the plain model: the two disagree
    assert other["agreement"]["agreement_ratio"] < 1 - robust_scores["robust_accuracy"] + 0.1
    assert other["agreement"]["agreement_prob"] < 0.5
    assert "agreement" not in robust_scores


def test_robust_evaluation_is_deterministic(robust_model):
    result, data = robust_model
    settings = RobustEvaluation(backend="art", samples=100, epsilon=EPSILON, iterations=10)
    runs = [robust_accuracy(result.model, *_test_split(robust_model), settings, CPU) for _ in "ab"]
    samples = [run.pop("per_sample") for run in runs]
    assert runs[0] == runs[1]
    assert all(torch.equal(samples[0][k], samples[1][k]) for k in samples[0])
    assert samples[0]["correct"].double().mean().item() == runs[0]["robust_accuracy"]


def test_adversarial_training_is_bitwise_deterministic(robust_model, digits_file, tmp_path_factory):
    again, _ = _train(digits_file, tmp_path_factory, QUICK_PGD)
    first, second = robust_model[0].model.state_dict(), again.model.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


def _stitch(models, alpha, mode="tlm", robust=None):
    (front, data), (end, _) = models
    recipe = StitchRecipe(epochs=1, batch_size=64, train_samples=256, eval_samples=200,
                          crop_padding=0, hflip=False, lr_drops=())  # fmt: skip
    adversarial = None if alpha is None else AdversarialTraining(alpha, EPSILON, 10 / 255, 2)
    return stitch(front.model, end.model, 5, 5, mode, data, recipe, progress=False,
                  adversarial=adversarial, robust=robust)  # fmt: skip


class _Noisy(torch.nn.Module):
    """A model with randomness in eval mode: EOT has something to average."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x) + 0.01 * torch.randn(x.shape[0], 10)


def test_a_deterministic_stitch_is_attacked_alike_with_one_eot_sample_or_twenty(
    plain_model, robust_model
):
    """AutoAttack "rand" with 20 EOT samples and with 1 crafts bitwise the same
    adversarial examples on a real stitch (front -> fitted T -> end, in eval mode)."""
    result = _stitch((plain_model, robust_model), alpha=None)
    front, end = plain_model[0].model, robust_model[0].model
    model = StitchedModel(front, result.layer, end, 5, 5).eval()
    settings = RobustEvaluation(samples=64, epsilon=EPSILON, iterations=5, batch_size=64)
    assert settings.eot_iterations == 20  # AutoAttack's "rand" version, the default
    images, labels = settings.sample(*_test_split(plain_model))
    x = to_unit_float(images)
    assert eot_iterations_for(model, x, settings, CPU) == 1
    attacked = {}
    for eot in (20, 1):
        with torch.random.fork_rng():
            attacked[eot] = _autoattack(model, x, labels, settings, CPU, eot)
    assert torch.equal(attacked[20], attacked[1]) and not torch.equal(attacked[1], x)
    for backend in ("autoattack", "art"):  # ART's APGD takes no EOT samples at all
        scores = robust_accuracy(model, images, labels, replace(settings, backend=backend), CPU)
        assert scores["eot_iterations_used"] == 1
    # randomness in the forward pass (or a module left in training mode) keeps all 20
    noisy = _Noisy(model).eval()
    assert eot_iterations_for(noisy, x, settings, CPU) == 20
    in_training = torch.nn.Sequential(model, torch.nn.Dropout())
    assert eot_iterations_for(in_training, x, settings, CPU) == 20


@pytest.mark.parametrize("iterations", [10, 20, 100])
def test_apgd_halves_its_step_on_the_checkpoints_of_its_own_iteration_count(iterations):
    """AutoAttack builds APGD for 100 iterations; ours is rebuilt for the settings' count,
    so that its step-size checkpoints (the first after 22% of the iterations) fall
    within the run: with APGD's schedule for 100, a 20-iteration attack never halves."""
    settings = RobustEvaluation(iterations=iterations, epsilon=EPSILON)
    apgd = autoattack_rand(torch.nn.Linear(4, 10), settings, CPU, 1).apgd
    assert apgd.n_iter == iterations and apgd.n_restarts == 1 and apgd.eot_iter == 1
    expected = (max(int(0.22 * iterations), 1), max(int(0.06 * iterations), 1))
    assert (apgd.n_iter_2, apgd.n_iter_min) == expected and apgd.n_iter_2 < iterations
    assert apgd.size_decr == max(int(0.03 * iterations), 1)
    assert apgd.eps == EPSILON and apgd.seed == settings.seed and apgd.thr_decr == 0.75


def test_alpha_zero_stitching_is_clean_stitching(plain_model, robust_model):
    models = (plain_model, robust_model)
    clean, alpha0 = _stitch(models, None), _stitch(models, 0.0)
    assert clean.epoch_losses == alpha0.epoch_losses
    assert torch.equal(clean.layer.conv.weight, alpha0.layer.conv.weight)
    alpha1 = _stitch(models, 1.0)
    assert not torch.equal(clean.layer.conv.weight, alpha1.layer.conv.weight)


def test_adversarial_stitching_raises_robust_accuracy_of_a_task_loss_stitch(
    plain_model, robust_model
):
    settings = RobustEvaluation(backend="art", samples=100, epsilon=EPSILON, iterations=10)
    models = (plain_model, plain_model)
    clean, adversarial = (_stitch(models, a, robust=settings) for a in (0.0, 1.0))
    assert clean.robust_accuracy is not None and adversarial.robust_accuracy is not None
    assert adversarial.robust_accuracy >= clean.robust_accuracy
    assert adversarial.test_accuracy <= clean.test_accuracy + 0.02


@pytest.mark.parametrize(
    "options, pattern",
    [
        ({"alpha": 1.5}, r"adversarial\.alpha: input should be less than or equal to 1, got 1\.5"),
        ({"alpha": -0.1}, r"adversarial\.alpha: input should be greater than or equal to 0"),
        ({"epsilon": 0}, r"adversarial\.epsilon: input should be greater than 0"),
        ({"step_size": "-2/255"}, r"adversarial\.step_size: input should be greater than 0"),
        ({"epsilon": "8/x"}, r"adversarial\.epsilon: .*a number or a fraction like 8/255"),
        ({"steps": 0}, r"adversarial\.steps: input should be greater than 0"),
        ({"steps": 2.5}, r"adversarial\.steps: input should be a valid integer"),
        ({"mix": "sum"}, r"adversarial\.mix: input should be 'batch' or 'loss'"),
        ({"eps": 0.1}, r"adversarial\.eps: unknown key"),
    ],
)
def test_bad_adversarial_settings(options, pattern):
    with pytest.raises(UserError, match=pattern):
        validated(AdversarialTraining, options, "panels.p.adversarial")


def test_fractions_and_the_authors_defaults():
    settings = AdversarialTraining(alpha=1, epsilon="8/255", step_size="2 / 255")
    assert settings.epsilon == 8 / 255 and settings.step_size == 2 / 255
    assert settings.mix == "batch" and not settings.random_start and settings.steps == 10
    assert len(settings.replaced(128, torch.Generator().manual_seed(0))) == 128
    assert len(AdversarialTraining().replaced(128, torch.Generator())) == 64


def test_unknown_backend():
    with pytest.raises(UserError, match=r"robust_eval\.backend: input should be 'autoattack' or"):
        validated(RobustEvaluation, {"backend": "foolbox"}, "robust_eval")
    assert RobustEvaluation().backend == "autoattack" and RobustEvaluation().samples is None


def test_presets_fill_what_is_not_written():
    paper = validated(RobustEvaluation, {"preset": "paper", "samples": 10}, "robust_eval")
    assert (paper.backend, paper.iterations, paper.eot_iterations) == ("autoattack", 100, 20)
    assert paper.samples == 10 and paper.step_size is None
    authors = validated(RobustEvaluation, {"preset": "authors", "iterations": 5}, "robust_eval")
    assert (authors.backend, authors.iterations, authors.step_size) == ("art", 5, 2 / 255)
    assert RobustEvaluation(preset="authors").iterations == 20  # from Python too
    with pytest.raises(UserError, match=r"robust_eval\.preset: input should be 'paper' or"):
        validated(RobustEvaluation, {"preset": "fast"}, "robust_eval")
    with pytest.raises(UserError, match=r"robust_eval: step_size is ART's first APGD step; .*"):
        validated(RobustEvaluation, {"preset": "paper", "step_size": "2/255"}, "robust_eval")
    # named over another section, a preset replaces the attack that section wrote
    params = {"robust_eval": {"preset": "authors", "samples": 7, "iterations": 3}, "models": {}}
    params["stitch_robust_eval"] = {"preset": "paper"}
    stitches = stitch_robust_evaluation(params)
    assert (stitches.backend, stitches.iterations, stitches.step_size) == ("autoattack", 100, None)
    assert stitches.samples == 7
    params["models"]["m"] = {"robust_eval": {"iterations": 5}}
    assert robust_evaluation(params, "m").iterations == 5
    assert robust_evaluation(params, "m").backend == "art"


def test_arts_first_step_is_the_settings_step_size(plain_model, monkeypatch):
    """The ART backend hands ``step_size`` (else 2 x epsilon) to APGD as its first step."""
    from art.attacks.evasion import AutoProjectedGradientDescent

    steps = []
    original = AutoProjectedGradientDescent.__init__

    def recording(self, *args, **kwargs):
        steps.append(kwargs["eps_step"])
        original(self, *args, **kwargs)

    monkeypatch.setattr(AutoProjectedGradientDescent, "__init__", recording)
    result, data = plain_model
    for settings, first_step in (
        (RobustEvaluation(preset="authors", samples=20, epsilon=EPSILON, iterations=2), 2 / 255),
        (RobustEvaluation(backend="art", samples=20, epsilon=EPSILON, iterations=2), 2 * EPSILON),
    ):
        steps.clear()
        robust_accuracy(result.model, data.test_images, data.test_labels, settings, CPU)
        assert steps and set(steps) == {first_step}


# -- CKA -------------------------------------------------------------------------------
def test_cka_of_features_with_themselves_is_one():
    x = torch.randn(200, 30, generator=torch.Generator().manual_seed(0))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, x, debiased=True) == pytest.approx(1.0)


def test_cka_is_invariant_to_rotation_scale_and_shift():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(100, 20, generator=g)
    rotation, _ = torch.linalg.qr(torch.randn(20, 20, generator=g))
    y = torch.randn(100, 12, generator=g) + x[:, :12]
    for debiased in (False, True):
        assert linear_cka(3 * x @ rotation + 5, y, debiased) == pytest.approx(
            linear_cka(x, y, debiased)
        )


def test_debiased_cka_of_independent_gaussians_is_about_zero():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(400, 100, generator=g), torch.randn(400, 100, generator=g)
    assert abs(linear_cka(x, y, debiased=True)) < 0.01
    assert linear_cka(x, y) > 0.15  # the plain estimator is biased upwards


def test_cka_matches_the_feature_space_formula_by_hand():
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0], [1.0, 1.0]])
    y = torch.tensor([[2.0], [1.0], [0.0], [1.0]])
    xc, yc = x - x.mean(0), y - y.mean(0)  # centred: x ~ [[-0.25,-1],[-1.25,1],[1.75,0],[-.25,0]]
    expected = (yc.T @ xc).norm() ** 2 / ((xc.T @ xc).norm() * (yc.T @ yc).norm())
    assert linear_cka(x, y) == pytest.approx(expected.item())


# -- stages ----------------------------------------------------------------------------
ROBUST_EVAL = {
    "backend": "autoattack",
    "samples": 60,
    "epsilon": "24/255",
    "iterations": 5,
    "eot_iterations": 1,
}


@pytest.fixture
def adversarial_workdir(stitch_workdir, plain_model):
    """The tiny panel a -> b made adversarial (alpha 1, with dm and fula-last), end b a
    trained digits model, and a Fig. 6 figure over it."""
    workdir, params = stitch_workdir
    save_model(plain_model[0].model, workdir / "models/b.pt")
    params["models"]["b"]["width"] = 8
    params["robust_eval"] = ROBUST_EVAL
    params["stitch"]["epochs"] = 1
    params["panels"]["ab"].update(
        adversarial={"alpha": 1, "epsilon": "24/255", "step_size": "12/255", "steps": 1},
        modes={"dm": {}, "tlm": {}, "fula-last": {"objective": "fula", "weights": "last"}},
    )
    params["similarities"] = {
        "fig6": {"title": "t", "panels": {"a → b": "ab"}, "mode": "fula-last", "samples": 50}
    }
    write_params(workdir, params)
    for model in ("a", "b"):  # the panel reads the models' own robust accuracy
        assert run_stage("robustness", model, cwd=workdir).returncode == 0
    return workdir, params


def test_adversarial_panel_reports_robust_accuracy_and_draws_fig6(adversarial_workdir):
    workdir, _ = adversarial_workdir
    result = run_stage("stitch", "ab", cwd=workdir)
    assert result.returncode == 0, result.stderr
    report = json.loads((workdir / "reports/stitch/ab.json").read_text())
    assert report["adversarial"]["alpha"] == 1
    assert report["robust_eval"]["backend"] == "autoattack"
    assert 0 <= report["end_robust_accuracy"] <= report["end_accuracy"]
    robustness = json.loads((workdir / "reports/robustness/b.json").read_text())
    assert report["end_robust_accuracy"] == robustness["robust_accuracy"]
    assert all(0 <= r["robust_accuracy"] <= 1 for r in report["results"])
    assert {r["eot_iterations_used"] for r in report["results"]} == {1}  # deterministic
    assert run_stage("report", "panels", cwd=workdir).returncode == 0

    result = run_stage("similarity", "fig6", cwd=workdir)
    assert result.returncode == 0, result.stderr
    rows = json.loads((workdir / "reports/similarity/fig6.json").read_text())
    rows = rows["configurations"]["a → b"]
    assert [r["point"] for r in rows] == [2, 6]
    for r in rows:
        assert -0.1 <= r["cka_debiased"] <= 1 and 0 <= r["cka"] <= 1
        assert r["fula_accuracy"] is not None and r["fula_robust_accuracy"] is not None
    assert run_stage("report", "fig6", cwd=workdir).returncode == 0
    assert (workdir / "reports/figures/fig6.png").stat().st_size > 1000


def test_robustness_and_table_stages(adversarial_workdir):
    workdir, params = adversarial_workdir
    for name in ("a", "b"):
        result = run_stage("robustness", name, cwd=workdir)
        assert result.returncode == 0, result.stderr
        scores = json.loads((workdir / f"reports/robustness/{name}.json").read_text())
        assert scores["backend"] == "autoattack" and scores["samples"] == 60
    assert run_stage("robustness", "b", cwd=workdir).stdout == result.stdout  # deterministic
    del params["models"]["tiny"]  # never trained here
    write_params(workdir, params)
    result = run_stage("report", "table1", cwd=workdir)
    assert result.returncode == 0, result.stderr
    csv_lines = (workdir / "reports/table1.csv").read_text().splitlines()
    assert csv_lines[0].startswith("model_id,dataset,architecture")
    assert [line.split(",")[0] for line in csv_lines[1:]] == list(params["models"])
    markdown = (workdir / "reports/table1.md").read_text()
    assert "| Model ID |" in markdown and markdown.count("| autoattack |") == 2
    for row in csv.DictReader(io.StringIO("\n".join(csv_lines))):
        accuracy = [float(row[k]) for k in ("accuracy_low", "accuracy", "accuracy_high")]
        robust = [float(row[k]) for k in ("robust_low", "robust_accuracy", "robust_high")]
        assert accuracy == sorted(accuracy) and robust == sorted(robust)
        assert int(row["robust_samples"]) == 60


def _snapshot(outputs: list[Path]) -> dict[Path, bytes]:
    """Every file under the given output folders, with its bytes."""
    return {f: f.read_bytes() for path in outputs for f in path.rglob("*") if f.is_file()}


def _assert_clean_failure(result, pattern: str, outputs: list[Path], before=None) -> None:
    """One error line matching pattern, exit 2, and the outputs as they were (none: empty)."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (
        result.stderr
    )
    assert re.search(pattern, lines[0]), lines[0]
    assert _snapshot(outputs) == (before or {})


def test_stitches_attacked_otherwise_than_table_1_attack_their_front_and_end_alike(
    adversarial_workdir,
):
    """With `stitch_robust_eval:` (here the authors' evaluator) the stitches, and the front
    and end beside them, are attacked with it on the panel's images; Table 1's reports,
    made under `robust_eval:`, are not reused."""
    workdir, params = adversarial_workdir
    params["stitch_robust_eval"] = {"preset": "authors", "iterations": 3, "step_size": "8/255"}
    write_params(workdir, params)
    result = run_stage("stitch", "ab", cwd=workdir)
    assert result.returncode == 0, result.stderr
    report = json.loads((workdir / "reports/stitch/ab.json").read_text())
    settings = report["robust_eval"]
    assert [settings[k] for k in ("preset", "backend", "iterations")] == ["authors", "art", 3]
    assert (settings["samples"], settings["epsilon"]) == (60, 24 / 255)  # robust_eval's
    samples = PanelSamples.load(workdir / "reports/samples/ab.pt", "stitch@ab")
    for role in ("front", "end"):  # a -> b, same task: both attacked on the panel's images
        correct = samples.anchor_correct(role, "robust")
        assert len(correct) == 60 and report[f"{role}_robust_accuracy"] == correct.mean()

    params["stitch_robust_eval"] = {"preset": "authors", "eot_iteration": 1}
    write_params(workdir, params)
    outputs = [workdir / "reports/stitch", workdir / "stitches"]
    before = _snapshot(outputs)
    pattern = r"stitch_robust_eval\.eot_iteration: unknown key"
    _assert_clean_failure(run_stage("stitch", "ab", cwd=workdir), pattern, outputs, before)


@pytest.mark.parametrize(
    "change, pattern",
    [
        ({"robust_eval": {**ROBUST_EVAL, "backend": "foolbox"}}, r"robust_eval\.backend: input"),
        ({"robust_eval": {**ROBUST_EVAL, "epsilon": 0}}, r"robust_eval\.epsilon: input should be"),
        ({"robust_eval": {**ROBUST_EVAL, "samples": "all"}}, r"robust_eval\.samples: input"),
    ],
    ids=["backend", "epsilon", "samples"],
)
def test_bad_robust_eval_in_every_stage_that_attacks(adversarial_workdir, change, pattern):
    workdir, params = adversarial_workdir
    write_params(workdir, {**params, **change})
    outputs = [workdir / "reports/robustness", workdir / "reports/stitch", workdir / "stitches"]
    before = _snapshot(outputs)
    assert before, "the fixture's robustness reports must exist, to check they survive"
    for stage, name in (("robustness", "a"), ("stitch", "ab")):
        _assert_clean_failure(run_stage(stage, name, cwd=workdir), pattern, outputs, before)


@pytest.mark.parametrize(
    "adversarial, pattern",
    [
        ({"alpha": 2}, r"panels\.ab\.adversarial\.alpha: input should be less than or equal to 1"),
        ({"alpha": 1, "step_size": 0}, r"panels\.ab\.adversarial\.step_size: input should be"),
        ({"alpha": 1, "eps": 0.1}, r"panels\.ab\.adversarial\.eps: unknown key"),
    ],
    ids=["alpha", "step", "unknown-key"],
)
def test_bad_adversarial_panel(adversarial_workdir, adversarial, pattern):
    workdir, params = adversarial_workdir
    params["panels"]["ab"]["adversarial"] = adversarial
    write_params(workdir, params)
    outputs = [workdir / "reports/stitch", workdir / "stitches"]
    _assert_clean_failure(run_stage("stitch", "ab", cwd=workdir), pattern, outputs)


def test_bad_adversarial_training_recipe(workdir):
    params = tiny_params()
    params["models"]["tiny"]["train"] = {"adversarial": {"alpha": 0.5, "epsilon": -1}}
    write_params(workdir, params)
    result = run_stage("train", "tiny", cwd=workdir)
    _assert_clean_failure(
        result,
        r"models\.tiny\.train\.adversarial\.epsilon: input should be greater than 0",
        [workdir / "models"],
    )


def test_adversarial_panel_resumes_after_kill_with_the_uninterrupted_result(adversarial_workdir):
    workdir, params = adversarial_workdir
    params["stitch"]["epochs"] = 3
    write_params(workdir, params)
    assert run_stage("stitch", "ab", cwd=workdir).returncode == 0
    reference = (workdir / "reports/stitch/ab.json").read_bytes()
    (workdir / "reports/stitch/ab.json").unlink()
    checkpoint = workdir / "checkpoints/stitch-ab.pt"
    kill_after_checkpoint("stitch", "ab", workdir, checkpoint)
    assert run_stage("stitch", "ab", cwd=workdir).returncode == 0
    assert (workdir / "reports/stitch/ab.json").read_bytes() == reference

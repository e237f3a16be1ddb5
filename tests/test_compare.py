"""`stitchkit.compare` and `stitchkit compare` on small real computations: a model
compared with itself, the same table with and without the activation cache, the files
the CLI writes, and one clear line for each kind of bad input, with nothing written."""

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision

from stitchkit.cli import main
from stitchkit.common.errors import UserError
from stitchkit.compare.comparison import COLUMNS, STITCH_METRICS, compare
from stitchkit.models.checkpoints import save_model
from stitchkit.models.evaluation import accuracy
from stitchkit.stitching.recipe import StitchRecipe

TINY = StitchRecipe(
    epochs=1, batch_size=64, train_samples=256, crop_padding=0, hflip=False, lr_drops=(),
    eval_batch_size=450,
)  # fmt: skip
TORCHVISION = (
    "torchvision:resnet18,num_classes=10",
    "torchvision:mobilenet_v3_small,num_classes=10",
)


@pytest.fixture
def trained(trained_resnets):
    return trained_resnets["resnet18"]


def _rows(table: pd.DataFrame, method: str, metric: str) -> pd.DataFrame:
    return table[(table.method == method) & (table.metric == metric)]


def test_a_model_compared_with_itself(trained, digits, tmp_path):
    save_model(trained, tmp_path / "model.pt")  # the front as a stitchkit model file
    table = compare(
        str(tmp_path / "model.pt"), trained, digits, points=["5", "9"], modes=("dm",),
        measures=("cka", "procrustes", "mutual_knn"), recipe=TINY, samples=200,
        cache=tmp_path / "cache", progress=False,
    )  # fmt: skip
    assert list(table.columns) == COLUMNS
    own = accuracy(trained.eval(), digits.test_images, digits.test_labels)
    (end,) = _rows(table, "end", "accuracy").itertuples()
    assert end.value == pytest.approx(own) and end.n == 450
    assert end.low < end.value < end.high
    for k in ("5", "9"):
        same = table[(table.front_point == k) & (table.end_point == k)].set_index(
            ["method", "metric"]
        )
        # DM's least-squares self-stitch is the identity: the model's accuracy, full agreement
        assert same.loc[("stitch:dm", "accuracy"), "value"] == pytest.approx(own, abs=1 / 450)
        assert same.loc[("stitch:dm", "agreement_ratio"), "value"] == pytest.approx(1, abs=1 / 450)
        assert same.loc[("cka", "similarity"), "value"] == pytest.approx(1)
        assert same.loc[("procrustes", "distance"), "value"] == pytest.approx(0, abs=1e-6)
        assert same.loc[("mutual_knn", "similarity"), "value"] == pytest.approx(1)
    across = _rows(table, "cka", "similarity").set_index(["front_point", "end_point"]).value
    assert across[("5", "9")] < 0.99 and across[("5", "9")] == pytest.approx(across[("9", "5")])
    stitched = table[table.method == "stitch:dm"]
    assert len(stitched) == 4 * len(STITCH_METRICS)
    assert (stitched.low <= stitched.value + 1e-12).all() and (
        stitched.value <= stitched.high + 1e-12
    ).all()


def test_the_activation_cache_changes_no_value(tmp_path, digits):
    settings = dict(points="auto:2", modes=(), samples=120, progress=False)
    cached = compare(*TORCHVISION, digits, cache=tmp_path, **settings)
    assert len(list(tmp_path.glob("*.npy"))) == 4  # two points of each model, extracted once
    again = compare(*TORCHVISION, digits, cache=tmp_path, **settings)
    recomputed = compare(*TORCHVISION, digits, cache=None, **settings)
    assert cached.equals(again) and cached.equals(recomputed)
    assert set(cached.method) == {
        "cka",
        "cka_debiased",
        "rbf_cka",
        "procrustes",
        "rsa",
        "mutual_knn",
    }
    assert len(cached) == 4 * 6 and (cached.n == 120).all()
    # measures alone read no head: an ImageNet head (1,000 outputs) on 10 classes is fine
    imagenet_head = compare(
        TORCHVISION[0], "torchvision:mobilenet_v3_small", digits, points="auto:1",
        modes=(), measures=("cka",), samples=50, cache=None, progress=False,
    )  # fmt: skip
    assert len(imagenet_head) == 1 and 0 < imagenet_head.value.iloc[0] <= 1


def test_the_cli_writes_the_table_heatmaps_and_page(tmp_path, capsys):
    out = tmp_path / "out"
    threads = torch.get_num_threads()
    try:
        with pytest.raises(SystemExit) as exit_:
            main([
                "compare", "--front", TORCHVISION[0], "--end", TORCHVISION[1], "--data",
                "digits", "--points", "auto:2", "--modes", "tlm", "--measures", "cka,procrustes",
                "--samples", "100", "--threads", "1", "--cache", str(tmp_path / "cache"),
                "--out", str(out),
            ])  # fmt: skip
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    assert exit_.value.code == 0
    table = pd.read_parquet(out / "comparison.parquet")
    assert table.equals(
        pd.read_csv(out / "comparison.csv", keep_default_na=False).astype(table.dtypes)
    )
    assert set(table.method) == {"end", "front", "stitch:tlm", "cka", "procrustes"}
    heatmaps = sorted(p.name for p in (out / "heatmaps").glob("*.png"))
    assert heatmaps == sorted(
        [f"stitch-tlm-{m}.png" for m in STITCH_METRICS]
        + ["cka-similarity.png", "procrustes-distance.png"]
    )
    page = (out / "index.html").read_text()
    assert all(f"heatmaps/{name}" in page for name in heatmaps)
    assert not (out / ".stitches.ckpt").exists() and not list(out.rglob("*.tmp"))
    printed = capsys.readouterr().out
    assert "stitch:tlm accuracy:" in printed and "layer1.0" in printed


def _save_state(tmp_path) -> str:
    path = tmp_path / "resnet34.pt"
    torch.save(torchvision.models.resnet34(num_classes=10).state_dict(), path)
    return str(path)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--front", "torchvision:resnet1"], "no torchvision model 'resnet1'"),
        (["--points", "layer9.9"], "point 'layer9.9' is not a module of ResNet"),
        (["--points", "auto", "--end-points", "features.0,features.99"], "features.99"),
        (["--end", "torchvision:resnet18"], "the end model has 1000 outputs, the data 10 classes"),
        (["--end", "torchvision:resnet18", "--measures", "none"], "has 1000 outputs"),
        (["--data", "imagefolder:/no/such/folder"], "no folder /no/such/folder"),
        (
            ["--front", "torchvision:resnet18,num_classes=10@{state}"],
            "does not fit the architecture",
        ),
        (["--modes", "dm,fulla"], "no mode 'fulla'"),
        (["--measures", "cka,kca"], "no measure 'kca'"),
        (["--points", "auto:0"], "give auto, auto:N"),
        (["--threads", "0"], "--threads 0: give a positive number of threads"),
    ],
)
def test_bad_input_gets_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    args = [a.replace("{state}", _save_state(tmp_path)) for a in args]
    base = {"--front": TORCHVISION[0], "--end": TORCHVISION[1], "--data": "digits"}
    base |= dict(zip(args[::2], args[1::2], strict=True))
    argv = ["compare", *np.ravel(list(base.items())).tolist(), "--out", str(out)]
    with pytest.raises(SystemExit) as exit_:
        main(argv + ["--cache", str(tmp_path / "cache")])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("error: ") and message in error[0]
    assert not out.exists() and not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"front": "nobody"}, "comparisons.c.front: 'nobody' is not under `models:`"),
        ({"data": "mnist"}, "comparisons.c.data: 'mnist' is under neither"),
        ({"modes": ["fulla"]}, "comparisons.c.modes: no 'fulla'"),
        ({"measures": ["kca"]}, "comparisons.c.measures: no 'kca'"),
        ({"points": "every"}, "comparisons.c.points: 'every' is not auto"),
        ({"recipe": "slow"}, "comparisons.c.recipe"),
        ({"stitch": {"epochs": 0}}, "comparisons.c.stitch"),
    ],
)
def test_a_bad_comparisons_entry_is_one_line_naming_its_key(entry, message):
    from stitchkit.pipeline.config import check_params

    params = {
        "datasets": {"digits": {}},
        "models": {"a": {"dataset": "digits", "arch": "resnet18", "seed": 0, "width": 4}},
        "comparisons": {
            "c": {"front": "a", "end": "torchvision:resnet18,num_classes=10"}
            | {"data": "digits"}
            | entry
        },
    }
    with pytest.raises(UserError) as err:
        check_params(params)
    assert message in str(err.value) and "\n" not in str(err.value)

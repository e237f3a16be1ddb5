"""What the stitch and subset stages share: loading a job's models, data and stitches."""

from pathlib import Path

from stitchkit.data.params import dataset_stage
from stitchkit.data.prepared import PreparedDataset, prepared_path
from stitchkit.models.checkpoints import load_model
from stitchkit.stitching.recipe import make_spec


def load_stitching_inputs(params: dict, job):
    """(front, end, data, specs) of a PanelJob or SubsetJob: every mode at every pair."""
    data = PreparedDataset.load(prepared_path(job.data), dataset_stage(params, job.data))
    front = load_model(Path("models") / f"{job.front}.pt")
    end = load_model(Path("models") / f"{job.end}.pt")
    specs = [
        make_spec(label, i, j, end, **mode)
        for label, mode in job.modes.items()
        for i, j in job.pairs
    ]
    return front, end, data, specs

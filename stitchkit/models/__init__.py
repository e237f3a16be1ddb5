"""The networks and how they are trained: the architecture registry (ResNets, VGG16-BN,
ViT-Tiny, the SimCLR front), GraphSplit (stitching points of any fx-traceable model)
and the points found in one, models named by a SPEC (torchvision, timm, state dicts)
and adapted to a dataset's images, the activation cache, model files, the
base-training recipe, PGD and adversarial training, the learning-rate schedule and
batched accuracy.

May import: stitchkit.data, stitchkit.common.
"""

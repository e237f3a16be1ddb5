"""The networks and how they are trained: the architecture registry (ResNets, VGG16-BN,
ViT-Tiny, the SimCLR front), GraphSplit (stitching points of any fx-traceable model),
model files, the base-training recipe, PGD and adversarial training, the learning-rate
schedule and batched accuracy.

May import: stitchkit.data, stitchkit.common.
"""

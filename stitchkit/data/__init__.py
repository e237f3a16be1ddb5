"""Datasets as the pipeline prepares them: raw readers (CIFAR-10, LS-ImageNet-10,
Fashion-MNIST, digits), the prepared-dataset file, on-device augmentation, and the
class-coded shortcut markers (Sec. 3.2) stamped onto images, and datasets named by a
SPEC (a built-in name or an image folder).

May import: stitchkit.common.
"""

"""Datasets as the pipeline prepares them: raw readers (CIFAR-10, LS-ImageNet-10,
Fashion-MNIST, digits), the prepared-dataset file, on-device augmentation, and the
class-coded shortcut markers (Sec. 3.2) stamped onto images.

May import: stitchkit.common.
"""

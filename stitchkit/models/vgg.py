"""VGG16-BN of a given width on small images, as torchvision defines it.

The authors (models/vgg) train torchvision's ``vgg16_bn`` unchanged on 32x32 CIFAR
images: 13 conv-BN-ReLU layers in five max-pooled stages, an adaptive average pool to
7x7, and a 4096-4096 classifier with dropout. ``width`` scales every layer:
64 (the first stage's channels) is torchvision's network, parameter names included,
so torchvision's weights load into it.
"""

import torch
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

STANDARD_WIDTH = 64


class VGG(nn.Module):
    """torchvision's VGG with its convolutions and classifier scaled by width / 64."""

    def __init__(self, width: int, in_channels: int, num_classes: int, dropout: float = 0.5):
        super().__init__()
        scale = lambda channels: max(1, channels * width // STANDARD_WIDTH)  # noqa: E731
        layout = [v if v == "M" else scale(v) for v in cfgs["D"]]
        self.features = make_layers(layout, batch_norm=True)
        if in_channels != 3:  # make_layers reads RGB
            first = self.features[0]
            self.features[0] = nn.Conv2d(in_channels, first.out_channels, 3, padding=1)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        hidden = scale(4096)
        self.classifier = nn.Sequential(
            nn.Linear(scale(512) * 7 * 7, hidden),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        for module in self.modules():  # torchvision's initialisation
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))

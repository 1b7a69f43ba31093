"""PyTorch twins of the project's own models (models/*.cpp), with the same parameter names,
for the parity tests and the benchmark. torchvision provides the ImageNet-style ResNets."""
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    """CIFAR-style basic block with the projection shortcut ("option B"), as models/resnet.cpp."""

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) of He et al. 2016, section 4.2, named like torchvision."""

    def __init__(self, depth, in_channels=3, classes=10, width=1):
        super().__init__()
        n = (depth - 2) // 6
        cin = 16 * width
        self.conv1 = nn.Conv2d(in_channels, cin, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        for stage in range(3):
            planes = (16 * width) << stage
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(cin, planes, 2 if stage > 0 and i == 0 else 1))
                cin = planes
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def small_cnn(in_channels, image, classes):
    """The same network as models/small_cnn.cpp."""
    layers, channels = [], in_channels
    for width in (32, 64):
        layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                   nn.MaxPool2d(2, 2)]
        channels = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * (image // 4) ** 2, classes))


def make_model(name, in_channels, image, classes):
    if name == "small-cnn":
        return small_cnn(in_channels, image, classes)
    if name in ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110"):
        return CifarResNet(int(name[6:]), in_channels, classes)
    import torchvision
    model = getattr(torchvision.models, name)(num_classes=classes)
    if in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
    return model

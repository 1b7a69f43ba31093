"""References for the ResNet parity tests (test_resnet_parity.cpp), written into argv[1]:

1. torchvision ResNet-18/50/101/152 with random weights, eval mode: the checkpoint
   (written by tools/torchvision_to_safetensors.py's writer), an input batch x, a random
   projection R, the logits and d(sum(logits * R))/dx, computed in float64.
2. One training step of ResNet-20 (tools/torch_reference_models.py) on 1x28x28 images, in
   float64: the weights before, the batch, the loss, the logits, and every parameter and
   buffer after one SGD step (Nesterov 0.9, lr 0.1, weight decay 5e-4).
The BatchNorm statistics and affine parameters are randomised so eval mode is not trivial.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from torch_reference_models import CifarResNet  # noqa: E402
from torchvision_to_safetensors import write_safetensors  # noqa: E402


def randomise_batchnorm(model, generator):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = 0.5 + torch.rand(c, generator=generator)
            m.bias.data = 0.2 * torch.randn(c, generator=generator)
            m.running_mean.data = 0.2 * torch.randn(c, generator=generator)
            m.running_var.data = 0.5 + torch.rand(c, generator=generator)


def save(out, name, t):
    np.save(os.path.join(out, name + ".npy"), t.detach().numpy())


def torchvision_case(out, arch, generator):
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(weights=None)
    randomise_batchnorm(model, generator)
    model.eval()
    write_safetensors(os.path.join(out, arch + ".safetensors"), list(model.state_dict().items()),
                      {"format": "outlierattack-checkpoint-1", "architecture": arch})
    # The reference runs in float64: deep ResNets are so sensitive to ReLU/max-pool kinks that
    # PyTorch's own float32 input gradient differs from its float64 one by up to 1%.
    model.double()
    x = torch.rand(2, 3, 64, 64, generator=generator, dtype=torch.float64, requires_grad=True)
    logits = model(x)
    r = torch.randn(logits.shape, generator=generator, dtype=torch.float64)
    (logits * r).sum().backward()
    for name, t in (("x", x), ("R", r), ("logits", logits), ("grad_x", x.grad)):
        save(out, f"{arch}_{name}", t)


def training_step_case(out, generator):
    torch.manual_seed(1)
    model = CifarResNet(20, in_channels=1, classes=10)
    randomise_batchnorm(model, generator)
    model.train()
    write_safetensors(os.path.join(out, "resnet20_before.safetensors"), list(model.state_dict().items()),
                      {"format": "outlierattack-checkpoint-1", "architecture": "resnet20"})
    model.double()  # float64, for the same reason as above (weight gradients have kinks too)
    x = torch.rand(8, 1, 28, 28, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 10, (8,), generator=generator)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    logits = model(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    opt.step()
    write_safetensors(os.path.join(out, "resnet20_after.safetensors"), list(model.state_dict().items()),
                      {"format": "outlierattack-checkpoint-1", "architecture": "resnet20"})
    for name, t in (("x", x), ("labels", labels), ("logits", logits), ("loss", loss)):
        save(out, f"resnet20_step_{name}", t)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    generator = torch.Generator().manual_seed(0)
    for arch in ("resnet18", "resnet50", "resnet101", "resnet152"):
        torchvision_case(out, arch, generator)
    training_step_case(out, generator)
    open(os.path.join(out, "COMPLETE"), "w").close()


if __name__ == "__main__":
    main()

"""References for the ResNet parity tests (test_resnet_parity.cpp), written into argv[1]:

1. torchvision ResNet-18/50/101/152 with random weights, eval mode: the checkpoint
   (written by tools/torchvision_to_safetensors.py's writer), an input batch x, a random
   projection R, the logits and d(sum(logits * R))/dx, computed in float64.
2. The input normalisation and the image-folder pipeline (normalized_pipeline_case): a
   random-initialised ResNet-50 converted by tools/torchvision_to_safetensors.py (which records
   ImageNet's mean/std), the same state_dict saved as a bare safetensors file without our
   metadata and without num_batches_tracked (as the Hugging Face ecosystem hands them out), a
   folder of JPEGs and PNGs written here with PIL, torchvision's ImageFolder order and
   evaluation transform of it (Resize(256), CenterCrop(224), ToTensor), and torchvision's
   logits on normalize(those pixels).
3. One training step of ResNet-20 (tools/torch_reference_models.py) on 1x28x28 images, in
   float64: the weights before, the batch, the loss, the logits, and every parameter and
   buffer after one SGD step (Nesterov 0.9, lr 0.1, weight decay 5e-4).
The BatchNorm statistics and affine parameters are randomised so eval mode is not trivial.
"""
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms as T
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "..", "tools", "torchvision_to_safetensors.py")
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


def photo_like(height, width, generator):
    """uint8 [height, width, 3]: smooth colour gradients plus noise, so that resizing and JPEG
    compression have edges and texture to work on."""
    y = torch.linspace(0, 1, height).view(-1, 1, 1)
    x = torch.linspace(0, 1, width).view(1, -1, 1)
    phase = torch.rand(1, 1, 3, generator=generator) * 6.28
    base = 0.5 + 0.4 * torch.sin(7 * x + 5 * y + phase) * torch.cos(3 * x * y + phase)
    noise = 0.1 * torch.rand(height, width, 3, generator=generator)
    return ((base + noise).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def write_image_folder(root, generator):
    """Three classes; ImageFolder's order (and ours) is given in the comments."""
    def save(relative, image, **options):
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        image.save(path, **options)

    rgb = lambda h, w: Image.fromarray(photo_like(h, w, generator))  # noqa: E731
    # 0: n01_ant/c.png, RGBA 518x512 -> 259x256: the crop's left offset round(17.5) = 18.
    rgba = np.concatenate([photo_like(512, 518, generator), np.full((512, 518, 1), 128, np.uint8)], axis=2)
    save("n01_ant/c.png", Image.fromarray(rgba, "RGBA"))
    # 1: n01_ant/nested/b.png (a nested folder comes after the class folder's own files),
    #    180x200, enlarged.
    save("n01_ant/nested/b.png", rgb(180, 200))
    # 2: n02_zebra/a.JPEG, 300x400, shrunk (ImageNet's upper-case extension).
    save("n02_zebra/a.JPEG", rgb(300, 400), quality=90)
    # 3: n03_grey/d.jpg, grey-scale 333x250 (converted to RGB).
    save("n03_grey/d.jpg", rgb(333, 250).convert("L"), quality=90)
    with open(os.path.join(root, "n03_grey", "notes.txt"), "w") as f:
        f.write("not an image")


def normalized_pipeline_case(out, generator):
    converted = os.path.join(out, "resnet50_normalized.safetensors")
    subprocess.run([sys.executable, TOOL, "--arch", "resnet50", "--random-init", "--seed", "3", "--out", converted],
                   check=True)
    torch.manual_seed(3)  # the tool's seed: the same weights
    model = torchvision.models.resnet50(weights=None).eval()
    state = [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]
    write_safetensors(os.path.join(out, "resnet50_bare.safetensors"), state, {})

    root = os.path.join(out, "images")
    write_image_folder(root, generator)
    evaluation = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor()])
    folder = torchvision.datasets.ImageFolder(root, transform=evaluation)
    x = torch.stack([image for image, _ in folder])
    labels = torch.tensor([label for _, label in folder])
    normalize = T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    with torch.no_grad():
        logits = model(normalize(x))
    for name, t in (("x", x), ("labels", labels), ("logits", logits)):
        save(out, f"folder_{name}", t)
    with open(os.path.join(out, "folder_files.txt"), "w") as f:
        f.write("\n".join(os.path.relpath(path, root) for path, _ in folder.samples) + "\n")


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
    normalized_pipeline_case(out, generator)
    training_step_case(out, generator)
    open(os.path.join(out, "COMPLETE"), "w").close()


if __name__ == "__main__":
    main()

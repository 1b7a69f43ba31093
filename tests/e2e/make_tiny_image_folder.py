"""A tiny ImageNet-style folder and a torchvision ResNet-18 for the image-folder e2e tests,
written into argv[1]:

  data/val/<class>/...   9 photo-like JPEGs and PNGs in 3 classes (one in a nested folder)
  data/train/<class>/... 9 more of the same kind (other noise)
  converted.safetensors  random-initialised resnet18 (3 classes) by tools/torchvision_to_safetensors.py
  bare.safetensors       the same state_dict without our metadata and without num_batches_tracked
  torch_logits.npy       torchvision's logits: ImageFolder, Resize(256), CenterCrop(224),
                         ToTensor, Normalize(ImageNet's mean/std)
"""
import os
import subprocess
import sys

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools")
sys.path.insert(0, TOOLS)
from torchvision_to_safetensors import write_safetensors  # noqa: E402


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(0)
    sizes = [(300, 400), (280, 260), (257, 333)]
    for split in ("val", "train"):  # val first: its images do not depend on the train split
        for i in range(9):
            h, w = sizes[i % 3]
            y, x = np.mgrid[0:h, 0:w] / max(h, w)
            base = np.stack([np.sin(9 * x + c + i) * np.cos(5 * y - c) for c in range(3)], axis=2)
            pixels = ((0.5 + 0.35 * base + 0.1 * rng.random((h, w, 3))) * 255).clip(0, 255).astype(np.uint8)
            folder = os.path.join(out, "data", split, f"class{i % 3}", "nested" if i == 4 else "")
            os.makedirs(folder, exist_ok=True)
            name = f"img{i}.png" if i % 2 else f"img{i}.JPEG"
            Image.fromarray(pixels).save(os.path.join(folder, name), **({} if i % 2 else {"quality": 90}))

    converted = os.path.join(out, "converted.safetensors")
    subprocess.run([sys.executable, os.path.join(TOOLS, "torchvision_to_safetensors.py"), "--arch", "resnet18",
                    "--random-init", "--seed", "5", "--num-classes", "3", "--out", converted], check=True)
    torch.manual_seed(5)  # the tool's seed: the same weights
    model = torchvision.models.resnet18(weights=None, num_classes=3).eval()
    state = [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]
    write_safetensors(os.path.join(out, "bare.safetensors"), state, {})

    transform = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                           T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    folder = torchvision.datasets.ImageFolder(os.path.join(out, "data", "val"), transform=transform)
    with torch.no_grad():
        logits = model(torch.stack([image for image, _ in folder]))
    np.save(os.path.join(out, "torch_logits.npy"), logits.numpy())


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes a torchvision model's state_dict as a checkpoint the C++ side loads
(framework/io/checkpoint.h): a safetensors file, written by hand from the format spec.

  8 bytes   N, the header size, unsigned little-endian 64-bit
  N bytes   JSON header, padded with spaces to a multiple of 8 bytes:
              {"__metadata__": {"format": "outlierattack-checkpoint-1", ...},
               "conv1.weight": {"dtype": "F32", "shape": [64, 3, 7, 7], "data_offsets": [0, 37632]}, ...}
  the rest  each tensor's bytes, row-major, little-endian, in state_dict order

The metadata records the input normalisation the weights expect, "normalize":
{"mean": [...], "std": [...]} (ImageNet's by default, as torchvision's pretrained models
expect; --normalize none leaves it out): the C++ model then standardises its [0, 1] input
itself, so attacks keep working in the pixel box.

Examples (run with the interpreter that has torch, /usr/bin/python3):
  torchvision_to_safetensors.py --arch resnet50 --random-init --seed 0 --out resnet50.safetensors
  torchvision_to_safetensors.py --arch resnet50 --state-dict resnet50-11ad3fa6.pth --out resnet50.safetensors
"""
import argparse
import json
import os
import struct

import numpy as np
import torch
import torchvision

FORMAT = "outlierattack-checkpoint-1"
# The per-channel statistics of torchvision's evaluation transform for its ImageNet weights
# (transforms.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD)).
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# torch dtype -> (safetensors dtype, little-endian NumPy dtype)
DTYPES = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8"), torch.int64: ("I64", "<i8")}


def write_safetensors(path, tensors, metadata):
    """tensors: (name, torch.Tensor) pairs, written in that order; metadata: str -> str."""
    header = {"__metadata__": metadata}
    arrays, offset = [], 0
    for name, t in tensors:
        if t.dtype not in DTYPES:
            raise SystemExit(f"{name}: unsupported dtype {t.dtype}")
        dtype, numpy_dtype = DTYPES[t.dtype]
        a = t.detach().cpu().numpy().astype(numpy_dtype, copy=False)
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        arrays.append(a)
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"  # written beside the target, then renamed over it
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for a in arrays:
            f.write(a.tobytes(order="C"))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", required=True, help="a torchvision.models constructor, e.g. resnet18, resnet50")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--random-init", action="store_true", help="torchvision's initialisation, seeded by --seed")
    source.add_argument("--state-dict", metavar="PTH", help="a state_dict saved by torch.save (torchvision weights)")
    parser.add_argument("--seed", type=int, default=0, help="torch.manual_seed for --random-init (default 0)")
    parser.add_argument("--num-classes", type=int, default=1000, help="size of the classifier (default 1000)")
    parser.add_argument("--normalize", choices=["imagenet", "none"], default="imagenet",
                        help="input normalisation recorded for the model: ImageNet's mean/std (default), or none")
    parser.add_argument("--out", required=True, help="the .safetensors file to write")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    model = getattr(torchvision.models, args.arch)(weights=None, num_classes=args.num_classes)
    # "dataset": the run_* executables read such a model's data as an image folder (--data-dir
    # DIR with DIR/train and DIR/val, ImageNet's layout).
    metadata = {"format": FORMAT, "architecture": args.arch, "source": "torchvision", "dataset": "image-folder",
                "torchvision_version": torchvision.__version__, "num_classes": str(args.num_classes)}
    if args.normalize == "imagenet":
        metadata["normalize"] = json.dumps({"mean": IMAGENET_MEAN, "std": IMAGENET_STD})
    if args.state_dict:
        # Loading into the model checks that every name and shape fits the architecture.
        model.load_state_dict(torch.load(args.state_dict, map_location="cpu"))
        metadata["weights"] = os.path.basename(args.state_dict)
    else:
        metadata["init"] = "random"
        metadata["seed"] = str(args.seed)
    write_safetensors(args.out, list(model.state_dict().items()), metadata)


if __name__ == "__main__":
    main()

"""Writes a tiny, easily learnable Fashion-MNIST look-alike (gzip IDX files) into a directory.

Class k images are dark with a bright 7x7 square at a class-specific place plus noise, so
a working training loop must reach high accuracy within a few steps.
"""
import argparse
import gzip
import os
import random
import struct


def idx_bytes(dims, values):
    return struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + bytes(values)


def images_and_labels(n, rng):
    pixels, labels = [], []
    for i in range(n):
        label = i % 10
        top, left = 3 + 7 * (label // 4), 3 + 6 * (label % 4)
        for r in range(28):
            for c in range(28):
                inside = top <= r < top + 7 and left <= c < left + 7
                pixels.append(min(255, (200 if inside else 0) + rng.randrange(40)))
        labels.append(label)
    return pixels, labels


def write(path, data):
    with gzip.open(path, "wb") as f:
        f.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="directory to write the four .gz files into (created if missing)")
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    rng = random.Random(0)
    for prefix, n in (("train", 200), ("t10k", 100)):
        pixels, labels = images_and_labels(n, rng)
        write(f"{out}/{prefix}-images-idx3-ubyte.gz", idx_bytes([n, 28, 28], pixels))
        write(f"{out}/{prefix}-labels-idx1-ubyte.gz", idx_bytes([n], labels))


if __name__ == "__main__":
    main()

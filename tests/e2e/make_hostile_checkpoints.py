"""Writes broken and hostile variants of a small-cnn checkpoint for the bad-input test.

Usage: make_hostile_checkpoints.py CHECKPOINT OUT_DIR
Each variant is OUT_DIR/<name>.safetensors; the names say what is wrong with them.
"""
import json
import os
import struct
import sys


def read(path):
    data = open(path, "rb").read()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def write(path, header, body):
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)


def main():
    source, out = sys.argv[1:3]
    os.makedirs(out, exist_ok=True)
    header, body = read(source)
    raw = open(source, "rb").read()

    def variant(name, change=None, body_of=lambda b: b):
        h = json.loads(json.dumps(header))
        if change:
            change(h)
        write(f"{out}/{name}.safetensors", h, body_of(body))

    # Structurally broken files.
    with open(f"{out}/truncated.safetensors", "wb") as f:
        f.write(raw[: len(raw) // 2])
    with open(f"{out}/header_past_eof.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(raw) * 10) + raw[8:100])
    with open(f"{out}/empty.safetensors", "wb") as f:
        pass

    def overlap(h):  # the second tensor starts inside the first
        h["1.weight"]["data_offsets"] = [1000, 1128]

    variant("overlapping_offsets", overlap)

    def overflow(h):  # 2^32 * 2^32 * 2^32 elements: the product overflows 64 bits
        h["0.weight"]["shape"] = [2**32, 2**32, 2**32, 1]

    variant("shape_overflow", overflow)

    def offsets_past_end(h):
        h["5.running_var"]["data_offsets"] = [201648, 201648 + 10**12]

    variant("offsets_past_end", offsets_past_end)

    # Hostile metadata: widths that would allocate terabytes before any tensor is read.
    for key, value in (("width", 10**9), ("classes", 10**12), ("image_size", 10**9), ("in_channels", -3)):
        variant(f"metadata_{key}", lambda h, key=key, value=value: h["__metadata__"].update({key: str(value)}))

    # Non-finite values: the first weight of the classifier NaN, a running variance +inf.
    def poison(offset, value):
        def body_of(b):
            b = bytearray(b)
            b[offset : offset + 4] = struct.pack("<f", value)
            return bytes(b)

        return body_of

    variant("nan_weight", body_of=poison(header["9.weight"]["data_offsets"][0] + 4 * 7, float("nan")))
    variant("inf_buffer", body_of=poison(header["5.running_var"]["data_offsets"][0], float("inf")))

    # A model of 5 classes (the classifier cut to its first 5 rows) for 10-class data, packed anew.
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    rows = {"9.weight": 5 * 3136 * 4, "9.bias": 5 * 4}
    packed, new_header = b"", {"__metadata__": dict(header["__metadata__"], classes="5")}
    for name, t in sorted(tensors.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        first, last = t["data_offsets"]
        data = body[first : first + rows[name]] if name in rows else body[first:last]
        shape = [5] + t["shape"][1:] if name in rows else t["shape"]
        new_header[name] = {"dtype": t["dtype"], "shape": shape, "data_offsets": [len(packed), len(packed) + len(data)]}
        packed += data
    write(f"{out}/five_classes.safetensors", new_header, packed)

if __name__ == "__main__":
    main()

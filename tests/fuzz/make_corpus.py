#!/usr/bin/python3
"""Writes the seed corpus of the fuzz targets: corpus/<target>/, a few valid tiny files and
some broken ones per parser. Run once by hand (needs python3-pil for the images); the files
are kept in the repository. Inputs that a fuzzer found are added beside them by hand, named
after the finding (see README.md, "Fuzzing")."""
import gzip
import io
import json
import os
import struct
import sys

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def idx(dims, values, type_byte=0x08):
    return bytes([0, 0, type_byte, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(values)


def idx_files():
    images = idx([2, 3, 3], range(18))
    labels = idx([2], [1, 9])
    seeds = {
        "valid_images": images,
        "valid_labels": labels,
        "truncated_data": idx([4, 3, 3], range(18)),
        "trailing_data": images + b"\x00",
        "bad_magic": b"\x01" + images[1:],
        "int32_type": idx([2], [0] * 8, type_byte=0x0C),
        "zero_dimensions": bytes([0, 0, 8, 0]),
        "huge_claim": idx([1 << 27, 1 << 27], [1, 2, 3]),
        "wrapping_count": idx([1 << 27] * 4, []),
        "empty": b"",
    }
    for name, data in seeds.items():
        write("idx", name, data)
        write("idx_gzip", name, data)
    write("idx", "valid_images.gz", gzip.compress(images, mtime=0))
    write("idx", "truncated_gzip_stream.gz", gzip.compress(images, mtime=0)[:-9])


def cifar10_files():
    record = bytes([3]) + bytes(i % 256 for i in range(3072))
    write("cifar10", "two_records", record + bytes([9]) + record[1:])
    write("cifar10", "label_10", bytes([10]) + record[1:])
    write("cifar10", "short_record", record[:-1])
    write("cifar10", "empty", b"")


def safetensors(header, data, size=None):
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text) if size is None else size) + text + data


def f32(*values):
    return struct.pack(f"<{len(values)}f", *values)


def safetensors_files():
    two = {"__metadata__": {"note": "two tensors"},
           "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
           "b": {"dtype": "I64", "shape": [], "data_offsets": [16, 24]}}
    data = f32(1, 2, 3, 4) + struct.pack("<q", 7)
    write("safetensors", "valid", safetensors(two, data))
    write("safetensors", "empty_tensor", safetensors({"e": {"dtype": "F64", "shape": [0, 3], "data_offsets": [0, 0]}}, b""))
    overlap = dict(two, b={"dtype": "F32", "shape": [2], "data_offsets": [8, 16]})
    write("safetensors", "overlap", safetensors(overlap, f32(1, 2, 3, 4)))
    write("safetensors", "hole", safetensors({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, f32(0, 1)))
    write("safetensors", "past_end", safetensors({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, f32(1)))
    write("safetensors", "huge_header_size", safetensors(two, data, size=1 << 62))
    write("safetensors", "shape_overflow",
          safetensors({"a": {"dtype": "F32", "shape": [0, 1 << 62, 1 << 62], "data_offsets": [0, 0]}}, b""))
    write("safetensors", "unsupported_dtype", safetensors({"a": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}}, b"\0\0"))
    write("safetensors", "not_json", struct.pack("<Q", 5) + b"{\"a\":")
    text = b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {}}'
    write("safetensors", "duplicate_key", struct.pack("<Q", len(text)) + text + f32(1))
    write("safetensors", "short", b"\x01\x02")


def checkpoint_files():
    # The model of fuzz_checkpoint.cpp: 0 = Conv2d(1 -> 2, 3x3, no bias), 1 = BatchNorm2d(2),
    # 2 = Flatten, 3 = Linear(2 -> 3).
    tensors = [("0.weight", "F32", [2, 1, 3, 3]), ("1.weight", "F32", [2]), ("1.bias", "F32", [2]),
               ("3.weight", "F32", [3, 2]), ("3.bias", "F32", [3]), ("1.running_mean", "F32", [2]),
               ("1.running_var", "F32", [2]), ("1.num_batches_tracked", "I64", [])]
    metadata = {"format": "outlierattack-checkpoint-1", "architecture": "fuzz", "accuracy": "0.5",
                "history": "[{\"epoch\": 1}]"}

    def checkpoint(entries, meta):
        header, data = {"__metadata__": meta}, b""
        for name, dtype, shape in entries:
            count = 1
            for d in shape:
                count *= d
            size = count * (4 if dtype == "F32" else 8)
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + size]}
            data += bytes(size)
        return safetensors(header, data)

    write("checkpoint", "valid", checkpoint(tensors, metadata))
    write("checkpoint", "no_format", checkpoint(tensors, {"architecture": "fuzz"}))
    write("checkpoint", "wrong_shape", checkpoint([("0.weight", "F32", [2, 1, 3, 2])] + tensors[1:], metadata))
    write("checkpoint", "int_for_float", checkpoint([("0.weight", "I64", [2, 1, 3, 3])] + tensors[1:], metadata))
    write("checkpoint", "missing_and_unexpected", checkpoint(tensors[1:] + [("extra", "F64", [1])], metadata))


def npy(descr, shape, data, version=(1, 0), fortran=False, header=None):
    if header is None:
        header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    text = header.encode()
    length = struct.pack("<H", len(text)) if version[0] == 1 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes(version) + length + text + data


def npy_files():
    write("npy", "valid_f4", npy("<f4", "(2, 3)", f32(*range(6))))
    write("npy", "valid_scalar_f8", npy("<f8", "()", struct.pack("<d", 1.5)))
    write("npy", "valid_i4_v2", npy("<i4", "(3,)", struct.pack("<3i", 1, -2, 3), version=(2, 0)))
    write("npy", "fortran_order", npy("<f4", "(2, 2)", f32(1, 2, 3, 4), fortran=True))
    write("npy", "big_endian", npy(">f4", "(1,)", f32(1)))
    write("npy", "truncated", npy("<f8", "(4,)", struct.pack("<d", 1)))
    write("npy", "huge_shape", npy("<f4", "(4611686018427387904, 4611686018427387904, 0)", b""))
    write("npy", "empty_but_huge_strides", npy("<f4", "(0, 4611686018427387904, 4611686018427387904)", b""))
    write("npy", "bad_header", npy("<f4", "", b"", header="{'descr': '<f4', 'shape': (1,"))
    write("npy", "header_past_end", b"\x93NUMPY\x01\x00\xff\xff{")


def study_config_files():
    write("study_config", "valid", json.dumps({"attack_n": 3, "rungs": "0.5,0.9", "adv_eps": 0.05}).encode())
    write("study_config", "empty_object", b"{}")
    write("study_config", "unknown_key", b'{"attack_number": 3}')
    write("study_config", "wrong_type", b'{"attack_n": "three"}')
    write("study_config", "not_an_object", b"[1, 2, 3]")
    write("study_config", "not_json", b'{"attack_n": 3')
    write("study_config", "empty", b"")
    write("study_config", "fraction_for_integer", b'{"attack_n": 2.5}')
    write("study_config", "negative_seed", b'{"seed": -1}')
    write("study_config", "out_of_range", b'{"attack_n": -5, "adv_eps": 0}')


def image_bytes(image, fmt, **options):
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def image_files():
    rgb = Image.new("RGB", (5, 3))
    rgb.putdata([(i * 40 % 256, i * 90 % 256, i * 20 % 256) for i in range(15)])
    png = image_bytes(rgb, "PNG")
    jpeg = image_bytes(rgb, "JPEG", quality=90)
    write("image", "rgb.png", png)
    write("image", "gray.png", image_bytes(rgb.convert("L"), "PNG"))
    write("image", "palette.png", image_bytes(rgb.convert("P"), "PNG"))
    write("image", "gray16.png", image_bytes(rgb.convert("L").convert("I").convert("I;16"), "PNG"))
    write("image", "rgba.png", image_bytes(rgb.convert("RGBA"), "PNG"))
    write("image", "rgb.jpg", jpeg)
    write("image", "progressive.jpg", image_bytes(rgb, "JPEG", quality=90, progressive=True))
    write("image", "gray.jpg", image_bytes(rgb.convert("L"), "JPEG"))
    write("image", "truncated.png", png[: len(png) // 2])
    write("image", "truncated.jpg", jpeg[: len(jpeg) // 2])
    # A PNG header claiming 100000 x 100000 pixels (its IHDR CRC is not checked by stb_image).
    write("image", "huge_claim.png", png[:16] + struct.pack(">II", 100000, 100000) + png[24:])
    # 6000 x 6000: what stb_image would allocate, but above the loader's 32 Mpx.
    write("image", "over_our_limit.png", png[:16] + struct.pack(">II", 6000, 6000) + png[24:])
    write("image", "thin.png", image_bytes(Image.new("L", (4000, 1)), "PNG"))
    write("image", "not_an_image.png", b"hello")


if __name__ == "__main__":
    for make in (idx_files, cifar10_files, safetensors_files, checkpoint_files, npy_files, study_config_files,
                 image_files):
        make()
    sys.exit(0)

"""PyTorch reference values for the parity tests (test_parity.cpp).

Usage: make_references.py OUT_DIR   (run with the interpreter that has torch: OA_TORCH_PYTHON)

For every case it writes OUT_DIR/<case>.<name>.npy, all float32 (labels int64):
  <input>       the seeded random inputs and parameters
  R             a random upstream gradient with the output's shape
  out           the output of torch.nn.functional
  grad_<input>  the gradient of every input after out.backward(R)
  and any extra result of the case (batch norm's updated running statistics).
Torch computes in float64 from the float32 inputs, so the references are exact up to
their final rounding to float32. OUT_DIR/COMPLETE is written last: the C++ test refuses a
directory without it.
"""
import os
import sys

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as error:
    sys.exit(f"make_references.py: {sys.executable} cannot import {error.name}: "
             "the parity tests need PyTorch; install Debian's python3-torch (apt install python3-torch)")

rng = np.random.default_rng(20240611)


def normal(*shape, scale=1.0, shift=0.0):
    return (rng.standard_normal(shape) * scale + shift).astype(np.float32)


def uniform(low, high, *shape):
    return rng.uniform(low, high, shape).astype(np.float32)


def write_case(out_dir, case, forward, inputs, constants=None):
    """Saves `inputs` (differentiated) and `constants` (not differentiated), runs
    forward(**tensors) -> out or (out, {name: extra result}) at once, then out.backward(R)."""
    constants = constants or {}

    def save(name, value):
        if isinstance(value, torch.Tensor):
            value = value.detach().numpy()
        if value.dtype == np.float64:
            value = value.astype(np.float32)
        np.save(os.path.join(out_dir, f"{case}.{name}.npy"), value)

    def as_tensor(array):
        return torch.from_numpy(array.astype(np.float64) if array.dtype == np.float32 else array)

    for name, array in {**inputs, **constants}.items():
        save(name, array)
    tensors = {name: as_tensor(array).requires_grad_() for name, array in inputs.items()}
    result = forward(**tensors, **{name: as_tensor(array) for name, array in constants.items()})
    out, extras = result if isinstance(result, tuple) else (result, {})
    upstream = np.asarray(rng.standard_normal(tuple(out.shape)), dtype=np.float32)
    out.backward(as_tensor(upstream))
    save("R", upstream)
    save("out", out)
    for name, tensor in tensors.items():
        save(f"grad_{name}", tensor.grad)
    for name, tensor in extras.items():
        save(name, tensor)


def conv_cases(out_dir):
    # (case, input [N, C, H, W], weight [C_out, C_in / groups, K, K], bias, stride, padding, groups)
    configs = [
        ("conv2d_3x3_s1_p1", (4, 6, 9, 9), (8, 6, 3, 3), False, 1, 1, 1),
        ("conv2d_3x3_s2_p1_bias", (4, 6, 10, 10), (8, 6, 3, 3), True, 2, 1, 1),
        ("conv2d_1x1_s2", (4, 6, 9, 9), (8, 6, 1, 1), False, 2, 0, 1),
        ("conv2d_3x3_p1_groups2", (4, 6, 9, 9), (8, 3, 3, 3), True, 1, 1, 2),
    ]
    for case, x_shape, w_shape, bias, stride, padding, groups in configs:
        inputs = {"x": normal(*x_shape), "w": normal(*w_shape, scale=0.3)}
        if bias:
            inputs["b"] = normal(w_shape[0])
        write_case(out_dir, case,
                   lambda x, w, b=None: F.conv2d(x, w, b, stride=stride, padding=padding, groups=groups), inputs)


def batch_norm_cases(out_dir):
    for training in (True, False):
        def forward(x, weight, bias, running_mean, running_var):
            out = F.batch_norm(x, running_mean, running_var, weight, bias, training=training, momentum=0.1, eps=1e-5)
            return out, {"new_running_mean": running_mean, "new_running_var": running_var}

        write_case(out_dir, "batch_norm2d_train" if training else "batch_norm2d_eval", forward,
                   {"x": normal(4, 6, 9, 9, scale=2.0, shift=0.5), "weight": uniform(0.5, 1.5, 6), "bias": normal(6)},
                   {"running_mean": normal(6, scale=0.5), "running_var": uniform(0.5, 2.0, 6)})


def pool_cases(out_dir):
    # (case, function, input size, kernel, stride, padding)
    configs = [
        ("max_pool2d_k2_s2", F.max_pool2d, 10, 2, 2, 0),
        ("max_pool2d_k3_s2_p1", F.max_pool2d, 9, 3, 2, 1),
        ("avg_pool2d_k2_s2", F.avg_pool2d, 10, 2, 2, 0),
        ("avg_pool2d_k3_s1_p1", F.avg_pool2d, 9, 3, 1, 1),  # count_include_pad=True, PyTorch's default
    ]
    for case, pool, size, kernel, stride, padding in configs:
        write_case(out_dir, case, lambda x: pool(x, kernel, stride, padding),
                   {"x": normal(4, 6, size, size)})
    write_case(out_dir, "global_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, 1).flatten(1),
               {"x": normal(4, 8, 9, 9)})


def classifier_cases(out_dir):
    write_case(out_dir, "linear", F.linear,
               {"input": normal(4, 20), "weight": normal(10, 20, scale=0.3), "bias": normal(10)})
    write_case(out_dir, "log_softmax", lambda x: F.log_softmax(x, dim=1), {"x": normal(4, 10, scale=2.0)})
    for case, smoothing in (("cross_entropy", 0.0), ("cross_entropy_smooth0.1", 0.1)):
        write_case(out_dir, case, lambda logits, labels: F.cross_entropy(logits, labels, label_smoothing=smoothing),
                   {"logits": normal(4, 10, scale=2.0)}, {"labels": rng.integers(0, 10, 4, dtype=np.int64)})


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_references.py OUT_DIR")
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    complete = os.path.join(out_dir, "COMPLETE")
    if os.path.exists(complete):
        os.remove(complete)
    torch.set_num_threads(1)  # the cases are tiny; do not compete with a parallel build
    conv_cases(out_dir)
    batch_norm_cases(out_dir)
    pool_cases(out_dir)
    classifier_cases(out_dir)
    with open(complete, "w") as f:
        f.write(f"torch {torch.__version__}\n")
    print(f"make_references.py: references from torch {torch.__version__} in {out_dir}")


if __name__ == "__main__":
    main()

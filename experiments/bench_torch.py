"""The PyTorch side of run_bench: times the same workloads with PyTorch (CPU) and prints
one JSON object {case name: median seconds per iteration}. run_bench starts this script
and prints both columns with their ratio; it is never used by the library.

Usage: bench_torch.py --threads N --device cpu|cuda --min-time S --cases JSON   (cases as run_bench sends them)
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from torch_reference_models import make_model  # noqa: E402  (the PyTorch twins of our models)


DEVICE = torch.device("cpu")  # set from --device in main()


def median_seconds(body, min_time, warmup=2, min_iters=3):
    def fn():  # waits for the GPU, so that its time is counted in full
        body()
        if DEVICE.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_iters or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def conv_case(case, min_time):
    n, cin, h, cout, k, stride, pad = (case[key] for key in ("batch", "cin", "size", "cout", "kernel", "stride", "pad"))
    x = torch.rand(n, cin, h, h, device=DEVICE, requires_grad=True)
    w = torch.randn(cout, cin, k, k, device=DEVICE, requires_grad=True)
    forward = median_seconds(lambda: F.conv2d(x, w, stride=stride, padding=pad), min_time)
    y = F.conv2d(x, w, stride=stride, padding=pad)
    g = torch.randn_like(y)

    def backward():
        x.grad = w.grad = None
        torch.autograd.grad(y, (x, w), g, retain_graph=True)

    return {"forward": forward, "backward": median_seconds(backward, min_time)}


def model_case(case, min_time):
    model = make_model(case["model"], case["cin"], case["size"], 10).to(DEVICE)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.rand(case["batch"], case["cin"], case["size"], case["size"], device=DEVICE)
    labels = torch.randint(0, 10, (case["batch"],), device=DEVICE)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), labels).backward()
        opt.step()

    model.train()
    train = median_seconds(step, min_time)
    model.eval()
    with torch.no_grad():
        forward = median_seconds(lambda: model(x), min_time)
    # The attack step: eval mode, frozen parameters, the gradient of the loss w.r.t. the input.
    for p in model.parameters():
        p.requires_grad_(False)
    x_adv = x.clone().requires_grad_(True)

    def attack_step():
        (grad,) = torch.autograd.grad(F.cross_entropy(model(x_adv), labels), x_adv)

    attack = median_seconds(attack_step, min_time)
    iterations = case["cw_iterations"]
    cw = median_seconds(lambda: cw_l2_loop(model, x, labels, iterations), min_time) / iterations
    return {"train_step": train, "eval_forward": forward, "attack_step": attack, "cw_l2_iteration": cw}


def cw_l2_loop(model, x, labels, iterations, c=1e-3, lr=1e-2):
    """The CW-L2 loop as PyTorch attack libraries write it (one search step, no abort-early):
    tanh space, the margin loss, Adam on the perturbation, the best example per sample kept,
    and one verifying forward pass at the end, as in ours."""
    t_x = torch.atanh((2 * x - 1) * (1 - 1e-6))
    w = torch.zeros_like(x, requires_grad=True)
    optimizer = torch.optim.Adam([w], lr=lr)
    best, best_l2 = x.clone(), torch.full((x.shape[0],), float("inf"), device=x.device)
    for _ in range(iterations):
        x_adv = (torch.tanh(t_x + w) + 1) / 2
        logits = model(x_adv)
        l2 = (x_adv - x).pow(2).flatten(1).sum(1)
        true_logit = logits.gather(1, labels[:, None])[:, 0]
        other = logits.scatter(1, labels[:, None], float("-inf")).max(1).values
        margin = true_logit - other
        optimizer.zero_grad()
        (l2 + c * torch.relu(margin)).sum().backward()
        optimizer.step()
        with torch.no_grad():
            improved = (margin < 0) & (l2 < best_l2)
            best_l2 = torch.where(improved, l2, best_l2)
            best[improved] = x_adv[improved]
    with torch.no_grad():
        model(best)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--min-time", type=float, default=1.0)
    parser.add_argument("--cases", required=True)
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results = {"torch_version": torch.__version__}
    for case in json.loads(args.cases):
        run = conv_case if case["kind"] == "conv" else model_case
        for metric, seconds in run(case, args.min_time).items():
            results[f"{case['name']}/{metric}"] = seconds
    print(json.dumps(results))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The recipe of run_adv_train (--from, --attack pgd-linf), written in PyTorch: adversarial
fine-tuning of one checkpoint with exactly --adv-examples PGD-Linf examples, and its clean,
PGD-robust and random-noise accuracy before and after on the first --robust-n test samples.

Issue 15 asks for it: the same recipe on model A in PyTorch, its robust accuracy and its time,
beside ours. This script is a measuring tool only: neither the library nor the tests use it.

The recipe, as experiments/run_adv_train.cpp, experiments/common/training.cpp and
attacks/pgd.cpp run it:
  - examples: PGD-Linf from a uniform random start in the eps-cube, --steps steps of
    step * sign(grad of the mean cross-entropy), step = 2.5 eps / steps, each followed by the
    projection onto the ball and the [0, 1] box; the LAST iterate is the example. The model is
    in eval mode with frozen weights while it makes them, in train mode for the update.
  - the whole batch is replaced (fraction 1); the step that reaches --adv-examples is cut to
    the remaining count, so exactly that many examples are made.
  - SGD, Nesterov momentum 0.9, weight decay 5e-4 (coupled, on every parameter), learning rate
    0.01 cosine to 0 over exactly the steps the budget needs; batches of 128, reshuffled every
    epoch; augmentation: random crop with zero padding 2 and random horizontal flip.
  - robustness: clean accuracy; PGD-Linf at eps, --robust-steps steps, --robust-restarts
    random starts, a sample broken when any iterate of any restart is misclassified (PGD keeps
    the first adversarial iterate); random noise: up to --noise-draws draws of random signs
    times eps per sample, clamped to [0, 1]. Robust = correct and broken by no restart.
What differs: the random draws (sample order, crops, flips, starts) come from PyTorch's
generator seeded with --seed, not from our generators, so the two runs see different but
equally distributed draws.
Times: wall-clock seconds as run_adv_train reports them, and this process's CPU seconds beside
them (on a shared machine the wall clock also counts the other processes).

Run (Debian 12's python3-torch, one thread as the comparison did):
    OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1 /usr/bin/python3 experiments/torch_adv_train.py \\
        --from models/weights/resnet20-fashion-mnist/checkpoint.safetensors --eps 0.1 --steps 5 \\
        --adv-examples 2000 --robust-n 200 --robust-steps 20 --robust-restarts 1 \\
        --limit-train 10000 --threads 1 --out /tmp/torch-adv.json [--ours DIR/summary.json]
--ours reads a run_adv_train summary.json (one model's) and prints its numbers beside these.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_public_attacks import DEFAULT_CHECKPOINT, DEFAULT_DATA, load_model, read_idx  # noqa: E402


def load_split(data_dir, prefix, n):
    """The first n images (pixels / 255, N x 1 x 28 x 28) and labels of a split (0: all)."""
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    if n > 0:
        images, labels = images[:n], labels[:n]
    x = torch.from_numpy(images.astype(np.float32) / np.float32(255.0)).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


class Frozen:
    """Eval mode and no weight gradients inside the block (attacks/frozen_model.h); restores both."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.was_training = self.model.training
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def __exit__(self, *exc):
        for p in self.model.parameters():
            p.requires_grad_(True)
        self.model.train(self.was_training)


def pgd_linf(model, x, y, eps, steps, generator, last_iterate):
    """PGD-Linf from a uniform random start; step 2.5 eps / steps. last_iterate: the iterate after
    every step (training examples); otherwise whether any iterate (start and after each step)
    is misclassified, per sample (the robustness measure). The model must be frozen."""
    step = 2.5 * eps / steps
    start = (torch.rand(x.shape, generator=generator) * 2 - 1) * eps
    delta = (x + start).clamp(0, 1) - x
    broken = torch.zeros(x.shape[0], dtype=torch.bool)
    for it in range(steps + 1):
        if last_iterate and it == steps:
            break  # the last iterate needs no forward
        d = delta.clone().requires_grad_(True)
        logits = model(x + d)
        broken |= logits.detach().argmax(1) != y
        if it == steps:
            break
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, y), d)
        delta = delta + step * grad.sign()
        delta = (x + delta.clamp(-eps, eps)).clamp(0, 1) - x
    return (x + delta).detach() if last_iterate else broken


def broken_by_noise(model, x, y, eps, draws, generator):
    """Per sample: whether one of `draws` random-sign perturbations of size eps (clamped to the box)
    is misclassified; a broken sample takes no more draws (attacks/noise.cpp)."""
    broken = torch.zeros(x.shape[0], dtype=torch.bool)
    with torch.no_grad():
        for _ in range(draws):
            running = (~broken).nonzero().flatten()
            if running.numel() == 0:
                break
            signs = torch.randint(0, 2, x[running].shape, generator=generator).float() * 2 - 1
            predicted = model((x[running] + eps * signs).clamp(0, 1)).argmax(1)
            broken[running] = predicted != y[running]
    return broken


def measure_robustness(model, x, y, a, generator):
    """Clean, PGD-robust and noise accuracy on (x, y) at --eps, as measure_robustness in
    experiments/common/adversarial_training.cpp (one batch: our batches hold 250 samples)."""
    start, cpu_start = time.perf_counter(), time.process_time()
    with Frozen(model):
        with torch.no_grad():
            clean = model(x).argmax(1) == y
        pgd_start = time.perf_counter()
        pgd_broken = torch.zeros(x.shape[0], dtype=torch.bool)
        for _ in range(a.robust_restarts):
            pgd_broken |= pgd_linf(model, x, y, a.eps, a.robust_steps, generator, last_iterate=False)
        pgd_seconds = time.perf_counter() - pgd_start
        noise_broken = broken_by_noise(model, x, y, a.eps, a.noise_draws, generator)
    n = x.shape[0]
    return {"samples": n,
            "clean_accuracy": int(clean.sum()) / n,
            "robust_accuracy": int((clean & ~pgd_broken).sum()) / n,
            "noise_accuracy": int((clean & ~noise_broken).sum()) / n,
            "broken_by_noise_only": int((clean & noise_broken & ~pgd_broken).sum()),
            "pgd_seconds": pgd_seconds,
            "seconds": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu_start}


def augment(images, padding, generator):
    """Random crop with zero padding and random horizontal flip, per image (framework/data/augment.cpp)."""
    n, _, h, w = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    shifts = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator)
    flips = torch.randint(0, 2, (n,), generator=generator)
    out = torch.empty_like(images)
    for i in range(n):
        dy, dx = int(shifts[i, 0]), int(shifts[i, 1])
        out[i] = padded[i, :, dy:dy + h, dx:dx + w]
        if flips[i]:
            out[i] = out[i].flip(-1)
    return out


def training_steps(train_size, batch_size, budget):
    """Steps that make exactly `budget` examples with whole batches replaced, the last epoch's
    last batch short (adversarial_training_steps in training.cpp, fraction 1)."""
    batches = (train_size + batch_size - 1) // batch_size
    whole_epochs, rest = divmod(budget, train_size)
    steps = whole_epochs * batches
    b = 0
    while rest > 0:
        rest -= min(batch_size, train_size - b * batch_size)
        steps, b = steps + 1, b + 1
    return steps


def fine_tune(model, x_train, y_train, a, generator):
    """Adversarial fine-tuning with exactly a.adv_examples examples; returns its statistics."""
    optimizer = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    total_steps = training_steps(x_train.shape[0], a.batch_size, a.adv_examples)
    made = global_step = 0
    loss_sum = correct = 0.0
    start, cpu_start = time.perf_counter(), time.process_time()
    while made < a.adv_examples:
        order = torch.randperm(x_train.shape[0], generator=generator)
        for first in range(0, x_train.shape[0], a.batch_size):
            if made >= a.adv_examples:
                break
            rows = order[first:first + a.batch_size][:a.adv_examples - made]  # the last step cut to fit
            images = augment(x_train[rows], a.crop_padding, generator)
            labels = y_train[rows]
            with Frozen(model):
                examples = pgd_linf(model, images, labels, a.eps, a.steps, generator, last_iterate=True)
            made += rows.numel()
            for group in optimizer.param_groups:
                group["lr"] = 0.5 * a.lr * (1 + math.cos(math.pi * global_step / total_steps))
            model.train()
            optimizer.zero_grad()
            logits = model(examples)
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss) * rows.numel()
            correct += int((logits.detach().argmax(1) == labels).sum())
            global_step += 1
            print(f"step {global_step}/{total_steps}: {made} adversarial examples, loss {float(loss):.4f}, "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
    return {"adv_examples": made, "train_steps": global_step, "planned_steps": total_steps,
            "train_adv_loss": loss_sum / made, "train_adv_accuracy": correct / made,
            "train_seconds": time.perf_counter() - start, "train_cpu_seconds": time.process_time() - cpu_start}


def print_comparison(mine, ours_path):
    with open(ours_path) as f:
        ours = json.load(f)
    print(f"{'':28}{'PyTorch':>10}{'ours':>10}")
    for when in ("before", "after"):
        for key in ("clean_accuracy", "robust_accuracy", "noise_accuracy"):
            print(f"{key + ' ' + when:28}{100 * mine[when][key]:9.1f}%{100 * ours[when][key]:9.1f}%")
    print(f"{'adv_examples':28}{mine['adv_examples']:10d}{ours['adv_examples']:10d}")
    print(f"{'train_seconds':28}{mine['train_seconds']:10.1f}{ours['train_seconds']:10.1f}")
    for when in ("before", "after"):
        print(f"{'robustness seconds ' + when:28}{mine[when]['seconds']:10.1f}{ours[when]['seconds']:10.1f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="checkpoint", default=DEFAULT_CHECKPOINT, help="checkpoint (.safetensors)")
    p.add_argument("--data-dir", default=DEFAULT_DATA, help="Fashion-MNIST IDX gzip directory")
    p.add_argument("--eps", type=float, default=0.1, help="Linf radius of training and robustness")
    p.add_argument("--steps", type=int, default=7, help="PGD steps per training example")
    p.add_argument("--adv-examples", type=int, default=60000, help="adversarial examples in all (counted)")
    p.add_argument("--lr", type=float, default=0.01, help="peak learning rate (cosine to 0)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--crop-padding", type=int, default=2)
    p.add_argument("--limit-train", type=int, default=0, help="the first N training images (0: all)")
    p.add_argument("--robust-n", type=int, default=1000, help="the first N test samples for the accuracies")
    p.add_argument("--robust-steps", type=int, default=50)
    p.add_argument("--robust-restarts", type=int, default=3)
    p.add_argument("--noise-draws", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--out", required=True, help="output JSON")
    p.add_argument("--ours", help="a run_adv_train summary.json (one model's) to print beside these numbers")
    a = p.parse_args()
    if a.eps <= 0 or min(a.steps, a.adv_examples, a.batch_size, a.robust_n, a.robust_steps, a.robust_restarts,
                         a.noise_draws) < 1:
        p.error("eps must be > 0 and the counts >= 1")

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    generator = torch.Generator().manual_seed(a.seed)
    model, _ = load_model(a.checkpoint)
    for param in model.parameters():
        param.requires_grad_(True)
    x_train, y_train = load_split(a.data_dir, "train", a.limit_train)
    x_test, y_test = load_split(a.data_dir, "t10k", a.robust_n)
    print(f"PyTorch {torch.__version__}, {a.threads} thread(s); pgd-linf eps {a.eps}, {a.steps} steps, "
          f"{a.adv_examples} adversarial examples; {x_train.shape[0]} train images, robustness on the first "
          f"{x_test.shape[0]} test samples ({a.robust_steps} steps, {a.robust_restarts} restart(s))", flush=True)

    before = measure_robustness(model, x_test, y_test, a, generator)
    print(f"before: clean {100 * before['clean_accuracy']:.1f}% robust {100 * before['robust_accuracy']:.1f}% "
          f"noise {100 * before['noise_accuracy']:.1f}% ({before['seconds']:.1f} s)", flush=True)
    result = fine_tune(model, x_train, y_train, a, generator)
    after = measure_robustness(model, x_test, y_test, a, generator)
    print(f"after: clean {100 * after['clean_accuracy']:.1f}% robust {100 * after['robust_accuracy']:.1f}% "
          f"noise {100 * after['noise_accuracy']:.1f}% ({after['seconds']:.1f} s)")
    print(f"{result['adv_examples']} adversarial examples in {result['train_steps']} steps, "
          f"{result['train_seconds']:.1f} s ({result['train_cpu_seconds']:.1f} s of CPU)")
    summary = {"options": vars(a), "torch": torch.__version__, "before": before, "after": after, **result,
               "robust_seconds": before["seconds"] + after["seconds"]}
    with open(a.out, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(f"wrote {a.out}")
    if a.ours:
        print_comparison(summary, a.ours)


if __name__ == "__main__":
    main()

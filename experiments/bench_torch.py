"""The PyTorch side of run_bench: times the same workloads with PyTorch (CPU) and prints
one JSON object {case name: median seconds per iteration}. run_bench starts this script
and prints both columns with their ratio; it is never used by the library.

Usage: bench_torch.py --threads N --min-time S --cases JSON   (cases as run_bench sends them)
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def median_seconds(fn, min_time, warmup=2, min_iters=3):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_iters or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class BasicBlock(nn.Module):
    """CIFAR-style basic block with the projection shortcut, as models/resnet.cpp."""

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


def cifar_resnet(depth, in_channels, classes):
    n = (depth - 2) // 6
    layers, cin = [nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
    for stage, planes in enumerate((16, 32, 64)):
        for i in range(n):
            layers.append(BasicBlock(cin, planes, 2 if stage > 0 and i == 0 else 1))
            cin = planes
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))


def make_model(name, in_channels, image, classes):
    if name == "small-cnn":
        return small_cnn(in_channels, image, classes)
    if name in ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110"):
        return cifar_resnet(int(name[6:]), in_channels, classes)
    import torchvision
    model = getattr(torchvision.models, name)(num_classes=classes)
    if in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
    return model


def small_cnn(in_channels, image, classes):
    # The same network as models/small_cnn.cpp.
    layers, channels = [], in_channels
    for width in (32, 64):
        layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                   nn.MaxPool2d(2, 2)]
        channels = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * (image // 4) ** 2, classes))


def conv_case(case, min_time):
    n, cin, h, cout, k, stride, pad = (case[key] for key in ("batch", "cin", "size", "cout", "kernel", "stride", "pad"))
    x = torch.rand(n, cin, h, h, requires_grad=True)
    w = torch.randn(cout, cin, k, k, requires_grad=True)
    forward = median_seconds(lambda: F.conv2d(x, w, stride=stride, padding=pad), min_time)
    y = F.conv2d(x, w, stride=stride, padding=pad)
    g = torch.randn_like(y)

    def backward():
        x.grad = w.grad = None
        torch.autograd.grad(y, (x, w), g, retain_graph=True)

    return {"forward": forward, "backward": median_seconds(backward, min_time)}


def model_case(case, min_time):
    model = make_model(case["model"], case["cin"], case["size"], 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.rand(case["batch"], case["cin"], case["size"], case["size"])
    labels = torch.randint(0, 10, (case["batch"],))

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
    return {"train_step": train, "eval_forward": forward, "attack_step": attack}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-time", type=float, default=1.0)
    parser.add_argument("--cases", required=True)
    args = parser.parse_args()
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

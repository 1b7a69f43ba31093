#!/usr/bin/env python3
"""Run the public PyTorch minimal-distance attacks on our ResNet-20 / Fashion-MNIST checkpoint,
on the same test samples as run_cw, and count their forward and backward passes per sample.

The comparison asked for by issue 4 ("at an equal budget of forward+backward passes, mean and
median L2 at least as small as the best public PyTorch implementation on the same model and
samples"), and issue 14's Square Attack against torchattacks' at equal query budget; the
results are in experiments/public_attack_comparison.md. This script is a measuring tool only:
neither the library nor the tests use it.

What it does
  1. Loads the checkpoint (safetensors, torchvision-style names, parsed here without the
     safetensors package) into the PyTorch twin of our model (tools/torch_reference_models.py),
     eval mode, float32.
  2. Loads the first --n images of the Fashion-MNIST test split (IDX gzip; pixels / 255 in
     [0, 1], NCHW 1x28x28, no normalisation: what run_cw sees) and keeps those the model
     classifies correctly, batched exactly as run_cw batches them (--batch-size positions of
     the split at a time, the correct ones of each block attacked together), so that batch-wide
     decisions of the public attacks (abort-early over the whole batch) see the same batches.
  3. Runs each attack of --attacks through a counting wrapper: a batch of B rows through the
     model is B forward passes, a gradient that flows back through the logits of B rows is B
     backward passes. Per sample: total rows / samples attacked in the batch (an attack that
     spends a forward on the whole batch spends it on every sample of the batch).
     Fixed-radius attacks (BALL_ATTACKS: torchattacks-square-linf) also count queries per
     sample as run_blackbox does: each row is the query of the clean sample whose eps-ball
     holds it, and a sample's queries are its rows up to its first misclassified one (all of
     them where it has none).
  4. Re-checks every returned example with its own forward pass (not counted): misclassified,
     finite and inside [0, 1] (and, for fixed-radius attacks, inside the --eps ball). Anything
     else is a failure (NaN distances, never 0).
  5. Writes DIR/<attack>/samples.csv (index, label, success, l2, linf, forwards, backwards,
     queries: nan but for fixed-radius attacks) and DIR/<attack>/summary.json, plus
     DIR/summary.json and DIR/table.md over all attacks. --ours NAME=DIR adds run_cw results
     (its samples.csv + summary.json) or run_blackbox ones (DIR = <out>/<attack>/eps-<E>) to
     the table, after checking that they attacked exactly the same indices.

Set up (Debian 12: python3-torch 1.13 and python3-torchvision 0.14 from apt, reused; pip must
not replace them, hence --no-deps and the explicit dependency list):
    /usr/bin/python3 -m venv --system-site-packages build/venv-attacks
    build/venv-attacks/bin/pip install --no-deps adv-lib==0.2.8 torchattacks==3.5.1 foolbox==3.3.4
    build/venv-attacks/bin/pip install --no-deps tqdm==4.66.4 eagerpy==0.30.0 scipy==1.11.4 \
        visdom==0.2.4 websocket-client==1.8.0 jsonpatch==1.33 jsonpointer==3.0.0 tornado==6.4.1 \
        networkx==3.3 GitPython==3.1.43 gitdb==4.0.11 smmap==5.0.1
    build/venv-attacks/bin/python -c "import torch; print(torch.__version__)"   # 1.13.x
(adv-lib 0.2.8 declares torch>=2.0; the attacks used here run on 1.13. visdom and GitPython are
only imported at module load by adv_lib and foolbox.)

Run (one thread, as the comparison did):
    OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1 build/venv-attacks/bin/python \\
        experiments/compare_public_attacks.py --n 100 --threads 1 --out /tmp/oa-cmp/public
    build/venv-attacks/bin/python experiments/compare_public_attacks.py --help
Square (issue 14; torchattacks alone is enough for it), next to run_blackbox at the same radius:
    OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1 build/venv-attacks/bin/python \\
        experiments/compare_public_attacks.py --n 100 --threads 1 --attacks torchattacks-square-linf \\
        --eps 0.02 --queries 1000 --out /tmp/oa-sq/public-0.02 --ours ours=/tmp/oa-sq/ours/square-linf/eps-0.02
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from torch_reference_models import make_model  # noqa: E402  (the PyTorch twins of our models)

DEFAULT_CHECKPOINT = os.path.join(ROOT, "models/weights/resnet20-fashion-mnist/checkpoint.safetensors")
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
# How far outside its eps-ball (Linf) an example of a fixed-radius attack may lie: float32
# rounding of x +- eps (our run_blackbox reports Linf 0.02000001 at eps 0.02).
BALL_TOLERANCE = 1e-6

# ---- the model ---------------------------------------------------------------------------

SAFETENSORS_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32,
                      "F16": np.float16, "U8": np.uint8}


def read_safetensors(path):
    """(tensors, metadata): 8-byte little-endian header length, JSON header, raw data."""
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    if header_len > len(blob) - 8:
        raise ValueError(f"{path}: header of {header_len} bytes in a file of {len(blob)}")
    header = json.loads(blob[8:8 + header_len])
    data = blob[8 + header_len:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = np.dtype(SAFETENSORS_DTYPES[info["dtype"]])
        count = int(np.prod(info["shape"])) if info["shape"] else 1
        if end > len(data) or end - begin != count * dtype.itemsize:
            raise ValueError(f"{path}: tensor {name} has offsets {begin}..{end} for {count} x {dtype}")
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors, metadata


def load_model(path):
    tensors, meta = read_safetensors(path)
    model = make_model(meta["architecture"], int(meta["in_channels"]), int(meta["image_size"]), int(meta["classes"]))
    if int(meta.get("width", "1")) != 1:
        raise ValueError(f"{path}: width {meta['width']} is not supported by this script")
    state = model.state_dict()
    missing = set(state) - set(tensors)
    unexpected = set(tensors) - set(state)
    if missing or unexpected:
        raise ValueError(f"{path}: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
    model.load_state_dict({k: v.to(state[k].dtype) for k, v in tensors.items()})
    model.float().eval()
    for p in model.parameters():
        p.requires_grad_(False)  # input gradients only
    return model, meta


class CountingModel(nn.Module):
    """The model, counting rows forwarded and rows whose logits received a gradient."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.forwards = 0
        self.backwards = 0
        self.ball = None
        self.eval()  # torchattacks restores the mode it found: train() here would reach the BatchNorms

    def forward(self, x):
        logits = self.model(x)
        self.forwards += x.shape[0]
        if self.ball is not None:
            self._count_queries(x, logits)
        if logits.requires_grad:
            logits.register_hook(self._count_backward)
        return logits

    def _count_backward(self, grad):
        self.backwards += grad.shape[0]
        return grad

    def reset(self):
        self.forwards = self.backwards = 0
        self.ball = None

    def watch(self, x, y, eps):
        """Count queries per sample from now on: each row forwarded is the query of the clean
        sample whose Linf ball of radius eps (+ BALL_TOLERANCE) holds it, and a sample's
        queries to its first success are its rows up to and including its first misclassified
        one. A row in no ball, or in two, is an error."""
        self.ball = {"x": x.flatten(1), "y": y, "eps": eps, "rows": [0] * len(x), "first_success": [0] * len(x)}

    def _count_queries(self, x, logits):
        ball = self.ball
        distance = (x.detach().flatten(1)[:, None, :] - ball["x"][None]).abs().amax(2)  # [rows, samples]
        inside = distance <= ball["eps"] + BALL_TOLERANCE
        if not (inside.sum(1) == 1).all():
            raise RuntimeError(f"a query of {len(x)} rows has rows in {inside.sum(1).tolist()} eps-balls, not 1 each")
        owner = inside.int().argmax(1)
        wrong = (logits.detach().argmax(1) != ball["y"][owner]).tolist()
        for i, misclassified in zip(owner.tolist(), wrong):
            ball["rows"][i] += 1
            if misclassified and ball["first_success"][i] == 0:
                ball["first_success"][i] = ball["rows"][i]

    def queries(self):
        """Per watched sample: queries to its first success, or all its queries where none."""
        return [first or rows for first, rows in zip(self.ball["first_success"], self.ball["rows"])]


# ---- the data ------------------------------------------------------------------------------

def read_idx(path):
    with gzip.open(path, "rb") as f:
        blob = f.read()
    magic, = struct.unpack(">I", blob[:4])
    ndim = magic & 0xFF
    if magic >> 8 != 0x08:  # unsigned bytes
        raise ValueError(f"{path}: IDX type {magic >> 8:#x}, expected 0x08")
    shape = struct.unpack(">" + "I" * ndim, blob[4:4 + 4 * ndim])
    return np.frombuffer(blob[4 + 4 * ndim:], dtype=np.uint8).reshape(shape)


def load_test_split(data_dir, n):
    images = read_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz"))[:n]
    labels = read_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz"))[:n]
    x = torch.from_numpy(images.astype(np.float32) / np.float32(255.0)).unsqueeze(1)  # as framework/data/idx.cpp
    return x, torch.from_numpy(labels.astype(np.int64))


NOTES = {}  # attack name -> how many returned examples were an attack's placeholder, not a result

# ---- the attacks -----------------------------------------------------------------------------
# Each takes (counting model, x, y, args) and returns the adversarial candidates.

def advlib_cw_l2(model, x, y, a):
    from adv_lib.attacks import carlini_wagner_l2
    return carlini_wagner_l2(model, x, y, binary_search_steps=a.cw_search_steps, max_iterations=a.cw_iterations,
                             initial_const=a.cw_c0, learning_rate=a.cw_lr, abort_early=True)


def foolbox_cw_l2(model, x, y, a):
    import foolbox as fb
    fmodel = fb.PyTorchModel(model, bounds=(0, 1))
    attack = fb.attacks.L2CarliniWagnerAttack(binary_search_steps=a.cw_search_steps, steps=a.cw_iterations,
                                              stepsize=a.cw_lr, initial_const=a.cw_c0, abort_early=True)
    raw, _, _ = attack(fmodel, x, y, epsilons=None)
    # foolbox starts its best-so-far from an all-black image and returns it where it found
    # nothing; that image is often misclassified, which would count as a "success" the attack
    # never found. Return the clean input there instead (a failure), and count them.
    placeholder = (raw.flatten(1) == 0).all(1) & ~(x.flatten(1) == 0).all(1)
    NOTES["foolbox-cw-l2"] = NOTES.get("foolbox-cw-l2", 0) + int(placeholder.sum())
    return torch.where(placeholder.view(-1, 1, 1, 1), x, raw)


def torchattacks_cw(model, x, y, a):
    # No search over c: one run of search_steps * iterations Adam steps at c = --ta-c.
    import torchattacks
    attack = torchattacks.CW(model, c=a.ta_c, kappa=0, steps=a.cw_search_steps * a.cw_iterations, lr=a.cw_lr)
    return attack(x, y)


def advlib_ddn(model, x, y, a, levels=256):
    from adv_lib.attacks import ddn
    return ddn(model, x, y, steps=a.ddn_steps, γ=0.05, init_norm=1.0, levels=levels)


def advlib_fmn_l2(model, x, y, a):
    from adv_lib.attacks import fmn
    return fmn(model, x, y, norm=2, steps=a.ddn_steps)


def advlib_cw_linf(model, x, y, a):
    # adv_lib's loop has no cap on the total number of steps: the passes are whatever it spends.
    from adv_lib.attacks import carlini_wagner_linf
    return carlini_wagner_linf(model, x, y, max_iterations=a.linf_iterations, initial_const=a.linf_c0,
                               learning_rate=a.linf_lr, abort_early=True)


def advlib_fmn_linf(model, x, y, a):
    from adv_lib.attacks import fmn
    return fmn(model, x, y, norm=float("inf"), steps=a.linf_steps)


def torchattacks_pgd_bisect_linf(model, x, y, a):
    """run_cw's pgd-bisect-linf around torchattacks.PGD: PGD at eps_max, then --bisect-steps
    halvings of [lo, hi] per sample; step 2.5 eps / iterations (Madry), random start. PGD takes
    one scalar eps, so every sample runs alone. Success of a PGD run is judged on its final
    iterate by one more (counted) forward."""
    import torchattacks
    best = x.clone()
    for i in range(len(x)):
        xi, yi = x[i:i + 1], y[i:i + 1]
        lo, hi = 0.0, a.pgd_eps
        found = False
        for s in range(a.bisect_steps + 1):
            eps = hi if s == 0 else (lo + hi) / 2
            torch.manual_seed(a.seed * 100003 + i * 101 + s)
            attack = torchattacks.PGD(model, eps=eps, alpha=2.5 * eps / a.pgd_iterations, steps=a.pgd_iterations,
                                      random_start=True)
            adv = attack(xi, yi)
            with torch.no_grad():
                success = bool(model(adv).argmax(1).item() != yi.item())
            if s == 0 and not success:
                break  # not broken at the largest radius: a failure
            if success:
                hi, found = eps, True
                best[i] = adv[0]
            else:
                lo = eps
        if not found:
            best[i] = x[i]
    return best


def torchattacks_square_linf(model, x, y, a):
    """torchattacks Square, Linf, margin loss, one restart: --queries iterations after its
    initialisation, at radius --eps. Its perturb() first forwards the clean batch (a query of
    every sample) and, after the run, the returned batch once more (after the successes)."""
    import torchattacks
    attack = torchattacks.Square(model, norm="Linf", eps=a.eps, n_queries=a.queries, n_restarts=1,
                                 p_init=a.p_init, loss="margin", seed=a.seed)
    return attack(x, y)


ATTACKS = {
    "advlib-cw-l2": (advlib_cw_l2, "adv_lib carlini_wagner_l2: c search x10 then bisection, restarts, "
                                   "abort-early over the whole batch"),
    "foolbox-cw-l2": (foolbox_cw_l2, "foolbox L2CarliniWagnerAttack: the same search, batch-wide abort-early"),
    "torchattacks-cw": (torchattacks_cw, "torchattacks CW: one fixed c (--ta-c), search_steps*iterations Adam steps"),
    "advlib-ddn": (advlib_ddn, "adv_lib ddn, as shipped (levels=256: iterates quantised to 8 bits)"),
    "advlib-ddn-float": (lambda m, x, y, a: advlib_ddn(m, x, y, a, levels=None), "adv_lib ddn, levels=None"),
    "advlib-fmn-l2": (advlib_fmn_l2, "adv_lib fmn, L2, --ddn-steps steps"),
    "advlib-cw-linf": (advlib_cw_linf, "adv_lib carlini_wagner_linf (tanh space), --linf-iterations per (tau, c), "
                                       "from --linf-c0; no total cap"),
    "advlib-fmn-linf": (advlib_fmn_linf, "adv_lib fmn, Linf, --linf-steps steps"),
    "torchattacks-pgd-bisect-linf": (torchattacks_pgd_bisect_linf,
                                     "torchattacks PGD (Linf) inside run_cw's per-sample radius bisection"),
    "torchattacks-square-linf": (torchattacks_square_linf,
                                 "torchattacks Square (Linf, margin loss, 1 restart), --queries iterations at --eps"),
}
# Fixed-radius (black-box) attacks: their examples must lie in the --eps ball, and their
# queries are counted per sample (CountingModel.watch) to each sample's first success.
BALL_ATTACKS = {"torchattacks-square-linf"}
DEFAULT_ATTACKS = ("advlib-cw-l2,foolbox-cw-l2,torchattacks-cw,advlib-ddn,advlib-ddn-float,advlib-fmn-l2,"
                   "advlib-cw-linf,advlib-fmn-linf,torchattacks-pgd-bisect-linf")

# ---- checking and writing ----------------------------------------------------------------------


def recheck(model, x, y, adv, eps=None):
    """Per sample (success, l2, linf): misclassified by an independent forward, finite, in [0, 1]
    and, where eps is given, in the Linf ball of radius eps (+ BALL_TOLERANCE) around x."""
    adv = adv.detach().float()
    with torch.no_grad():
        predicted = model(adv).argmax(1)
    flat_adv = adv.flatten(1).double()
    diff = flat_adv - x.flatten(1).double()
    finite = torch.isfinite(flat_adv).all(1)
    in_box = (flat_adv >= 0).all(1) & (flat_adv <= 1).all(1)
    ok = (predicted != y) & finite & in_box
    if eps is not None:
        ok &= diff.abs().amax(dim=1) <= eps + BALL_TOLERANCE
    l2 = torch.where(ok, diff.norm(dim=1), torch.full_like(diff[:, 0], math.nan))
    linf = torch.where(ok, diff.abs().amax(dim=1), torch.full_like(diff[:, 0], math.nan))
    return ok.tolist(), l2.tolist(), linf.tolist()


def wilson_interval(successes, trials, z=1.959964):
    """The Wilson score 95% interval of successes / trials (as experiments/common/statistics.h):
    (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)."""
    if trials == 0:
        return [0.0, 1.0]
    p, n = successes / trials, trials
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [(centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)]


def stats(rows, seconds, forwards, backwards):
    ok = [r for r in rows if r["success"]]
    l2 = np.array([r["l2"] for r in ok], dtype=np.float64)
    linf = np.array([r["linf"] for r in ok], dtype=np.float64)
    n = len(rows)
    out = {
        "samples": n,
        "success_rate": len(ok) / n if n else math.nan,
        "l2": {"mean": float(l2.mean()) if len(ok) else None, "median": float(np.median(l2)) if len(ok) else None},
        "linf": {"mean": float(linf.mean()) if len(ok) else None,
                 "median": float(np.median(linf)) if len(ok) else None},
        "forwards_per_sample": forwards / n if n else math.nan,
        "backwards_per_sample": backwards / n if n else math.nan,
        "seconds": seconds,
    }
    if rows and rows[0]["queries"] is not None:  # a fixed-radius attack: queries to the first success
        queries = np.array([r["queries"] for r in ok], dtype=np.float64)
        out.update({"successes": len(ok), "success_rate_ci95": wilson_interval(len(ok), n),
                    "queries": {"mean": float(queries.mean()) if len(ok) else None,
                                "median": float(np.median(queries)) if len(ok) else None}})
    return out


def write_csv(path, rows):
    with open(path + ".tmp", "w") as f:
        f.write("index,label,success,l2,linf,forwards,backwards,queries\n")
        for r in rows:
            queries = "nan" if r["queries"] is None else r["queries"]
            f.write(f"{r['index']},{r['label']},{int(r['success'])},{r['l2']!r},{r['linf']!r},"
                    f"{r['forwards']:.6g},{r['backwards']:.6g},{queries}\n")
    os.replace(path + ".tmp", path)


def write_json(path, value):
    with open(path + ".tmp", "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)


def model_state(model):
    """Training flags and a copy of every parameter and buffer: an attack must change none."""
    return [m.training for m in model.modules()], [t.detach().clone() for t in model.state_dict().values()]


def check_unchanged(model, before, name):
    flags, tensors = model_state(model)
    if flags != before[0] or any(not torch.equal(a, b) for a, b in zip(tensors, before[1])):
        raise RuntimeError(f"{name} changed the model (training mode or BatchNorm statistics)")


def run_attack(name, counting, model, batches, args):
    fn, description = ATTACKS[name]
    rows, seconds, forwards, backwards = [], 0.0, 0, 0
    torch.manual_seed(args.seed)
    before = model_state(counting)
    ball = name in BALL_ATTACKS
    for indices, x, y in batches:
        counting.reset()
        if ball:
            counting.watch(x, y, args.eps)
        start = time.perf_counter()
        adv = fn(counting, x, y, args)
        seconds += time.perf_counter() - start
        check_unchanged(counting, before, name)
        f, b = counting.forwards, counting.backwards
        forwards += f
        backwards += b
        queries = counting.queries() if ball else [None] * len(indices)
        ok, l2, linf = recheck(model, x, y, adv, args.eps if ball else None)
        for k, index in enumerate(indices):
            rows.append({"index": index, "label": int(y[k]), "success": ok[k], "l2": l2[k], "linf": linf[k],
                         "forwards": f / len(indices), "backwards": b / len(indices), "queries": queries[k]})
    summary = {"attack": name, "implementation": description, **stats(rows, seconds, forwards, backwards)}
    if name in NOTES:
        summary["placeholders_counted_as_failures"] = NOTES[name]
    return rows, summary


def read_ours(spec, attacked):
    """NAME=DIR of one run_cw attack (DIR/samples.csv, DIR/summary.json): its table row. A
    run_blackbox directory (<attack>/eps-<E>) has queries and no pass columns: its forwards are
    its queries (a sample stops at its first success)."""
    name, _, directory = spec.partition("=")
    if not directory:
        raise SystemExit(f"--ours expects NAME=DIR, got '{spec}'")
    import csv
    with open(os.path.join(directory, "samples.csv")) as f:
        table = [r for r in csv.DictReader(f) if r["attacked"] == "1"]
    with open(os.path.join(directory, "summary.json")) as f:
        summary = json.load(f)
    indices = [int(r["index"]) for r in table]
    if indices != attacked:
        raise SystemExit(f"--ours {name}: run_cw attacked {indices}, this script {attacked}: not the same samples")
    blackbox = "queries" in table[0] if table else False
    rows = [{"index": int(r["index"]), "success": r["success"] == "1", "l2": float(r["l2"]), "linf": float(r["linf"]),
             "queries": int(r["queries"]) if blackbox else None} for r in table]
    forwards = sum(float(r["queries"] if blackbox else r["forwards"]) for r in table)
    backwards = 0.0 if blackbox else sum(float(r["backwards"]) for r in table)
    program = "run_blackbox" if blackbox else "run_cw"
    out = {"attack": name, "implementation": f"ours ({program} {summary['attack']}, options {json.dumps(summary['options'])})",
           **stats(rows, summary["seconds"], forwards, backwards)}
    return out


def markdown_table(summaries):
    def fmt(v, spec=".4f"):
        return "-" if v is None else format(v, spec)
    lines = ["| attack | fwd/sample | bwd/sample | success | mean L2 | median L2 | mean Linf | median Linf | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summaries:
        lines.append(f"| {s['attack']} | {s['forwards_per_sample']:.1f} | {s['backwards_per_sample']:.1f} | "
                     f"{100 * s['success_rate']:.1f}% | {fmt(s['l2']['mean'])} | {fmt(s['l2']['median'])} | "
                     f"{fmt(s['linf']['mean'])} | {fmt(s['linf']['median'])} | {s['seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def markdown_queries_table(summaries):
    """The fixed-radius attacks among summaries: success with its Wilson interval, and the
    queries to the first success over the successes."""
    def fmt(v, spec=".1f"):
        return "-" if v is None else format(v, spec)
    lines = ["| attack | attacked | success | 95% interval | median queries | mean queries | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for s in summaries:
        if "queries" in s:
            low, high = s["success_rate_ci95"]
            lines.append(f"| {s['attack']} | {s['samples']} | {100 * s['success_rate']:.1f}% | "
                         f"[{100 * low:.1f}%, {100 * high:.1f}%] | {fmt(s['queries']['median'])} | "
                         f"{fmt(s['queries']['mean'])} | {s['seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Attacks: " + "; ".join(f"{k}: {v[1]}" for k, v in ATTACKS.items()))
    p.add_argument("--model", default=DEFAULT_CHECKPOINT, help="checkpoint (.safetensors)")
    p.add_argument("--data-dir", default=DEFAULT_DATA, help="Fashion-MNIST IDX gzip directory")
    p.add_argument("--n", type=int, default=100, help="the first N test samples (those classified correctly are attacked)")
    p.add_argument("--batch-size", type=int, default=50, help="split positions per batch, as run_cw --batch-size")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--attacks", default=DEFAULT_ATTACKS, help="comma-separated, from the list below")
    p.add_argument("--seed", type=int, default=0)
    b = p.add_argument_group("budgets")
    b.add_argument("--cw-search-steps", type=int, default=5, help="CW-L2 search steps over c (torchattacks: multiplies)")
    b.add_argument("--cw-iterations", type=int, default=200, help="CW-L2 Adam iterations per search step")
    b.add_argument("--cw-c0", type=float, default=1e-3, help="CW-L2 initial c")
    b.add_argument("--cw-lr", type=float, default=1e-2, help="CW-L2 Adam learning rate (tanh space)")
    b.add_argument("--ta-c", type=float, default=1.0, help="torchattacks CW's fixed c")
    b.add_argument("--ddn-steps", type=int, default=200, help="DDN and FMN-L2 steps")
    b.add_argument("--linf-iterations", type=int, default=50, help="adv_lib CW-Linf iterations per (tau, c)")
    b.add_argument("--linf-c0", type=float, default=0.1, help="adv_lib CW-Linf initial c")
    b.add_argument("--linf-lr", type=float, default=1e-2, help="adv_lib CW-Linf Adam learning rate (tanh space)")
    b.add_argument("--linf-steps", type=int, default=500, help="FMN-Linf steps")
    b.add_argument("--pgd-eps", type=float, default=1.0, help="PGD bisection: largest radius")
    b.add_argument("--pgd-iterations", type=int, default=50, help="PGD bisection: steps per radius")
    b.add_argument("--bisect-steps", type=int, default=10, help="PGD bisection: halvings")
    b.add_argument("--eps", type=float, default=0.02, help="Square: the Linf radius")
    b.add_argument("--queries", type=int, default=1000, help="Square: iterations after the initialisation")
    b.add_argument("--p-init", type=float, default=0.05, help="Square: first fraction of pixels changed "
                                                             "(the paper's Linf default)")
    p.add_argument("--ours", action="append", default=[], metavar="NAME=DIR",
                   help="add a run_cw attack directory (samples.csv, summary.json) to the table; repeatable")
    args = p.parse_args()

    names = [s for s in args.attacks.split(",") if s]
    for name in names:
        if name not in ATTACKS:
            p.error(f"unknown attack '{name}' (known: {', '.join(ATTACKS)})")
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)

    model, meta = load_model(args.model)
    counting = CountingModel(model)
    x_all, y_all = load_test_split(args.data_dir, args.n)
    batches, attacked = [], []
    for first in range(0, len(x_all), args.batch_size):
        x, y = x_all[first:first + args.batch_size], y_all[first:first + args.batch_size]
        with torch.no_grad():
            right = (model(x).argmax(1) == y).nonzero().flatten()
        indices = (right + first).tolist()
        attacked += indices
        batches.append((indices, x[right].contiguous(), y[right].contiguous()))
    print(f"{args.model}: {meta['architecture']}, {len(attacked)} of the first {len(x_all)} test samples classified "
          f"correctly; torch {torch.__version__}, {torch.get_num_threads()} thread(s)", flush=True)

    versions = {"torch": torch.__version__, "numpy": np.__version__}
    for module in ("adv_lib", "torchattacks", "foolbox"):
        try:
            from importlib.metadata import version
            versions[module] = version({"adv_lib": "adv-lib"}.get(module, module))
        except Exception as e:  # noqa: BLE001  (a missing library only matters if its attack is asked for)
            versions[module] = f"unavailable: {e}"

    summaries = [read_ours(spec, attacked) for spec in args.ours]
    for name in names:
        rows, summary = run_attack(name, counting, model, batches, args)
        os.makedirs(os.path.join(args.out, name), exist_ok=True)
        write_csv(os.path.join(args.out, name, "samples.csv"), rows)
        write_json(os.path.join(args.out, name, "summary.json"), {**summary, "versions": versions})
        summaries.append(summary)
        print(markdown_table([summary]).splitlines()[-1], flush=True)

    write_json(os.path.join(args.out, "summary.json"),
               {"model": args.model, "n": args.n, "attacked": attacked, "threads": args.threads,
                "versions": versions, "budgets": {k: v for k, v in vars(args).items()
                                                  if k not in ("ours", "out", "model", "data_dir")},
                "attacks": summaries})
    tables = markdown_table(summaries)
    if any("queries" in s for s in summaries):
        tables += "\n" + markdown_queries_table(summaries)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(tables)
    print(tables)


if __name__ == "__main__":
    main()

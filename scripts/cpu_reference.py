"""CPU references for ``layerpipe bench``: the same training on this machine's CPU.

Each reference trains the same net on the same samples, in the same order,
from the same initial weights, with per-sample SGD (batch 1, one update per
sample): the golden model's ``sequential`` mode in floating point
(:class:`layerpipe.sim.golden.FloatArithmetic`: ReLU hidden layers, a linear
output, MSE on one-hot targets so delta_L = a_L - y, learning rate
2**-lr_shift). All three run in float32 on one thread:

- ``numpy``: a plain NumPy loop (what a NumPy user writes);
- ``torch``: PyTorch CPU, ``torch.nn.Linear`` layers, autograd and
  ``torch.optim.SGD`` (the optional ``bench`` extra; skipped with a note when
  torch is not installed);
- ``c``: ``cpu_sgd.c`` compiled by the system compiler with ``-O3
  -march=native``, one sweep over each weight matrix per backward: the
  strongest CPU point.

Before it is timed, each reference trains :data:`CHECK_SAMPLES` samples and
its weights are compared with the float golden model's
(:func:`check`); a reference that disagrees is reported as unverified and its
speed is not used for ratios.
"""
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from layerpipe.hw.errors import LayerPipeError

REFERENCES = ("numpy", "torch", "c")
C_FLAGS = ("-O3", "-march=native")
CHECK_SAMPLES = 64
# float32 against the float64 golden model over CHECK_SAMPLES updates
CHECK_TOLERANCE = 1e-4
BUILD_DIR = Path("build") / "bench"


@dataclass(frozen=True)
class TrainingTask:
    """One training run: ``x`` (samples x n_0, float32) and ``labels`` in
    stream order, the initial ``weights`` (n_l x n_{l-1}) and ``biases``
    (n_l) as float32, learning rate ``lr``."""
    widths: tuple
    lr: float
    x: np.ndarray
    labels: np.ndarray
    weights: tuple
    biases: tuple

    @property
    def samples(self):
        return len(self.labels)

    def head(self, n):
        return TrainingTask(self.widths, self.lr, self.x[:n], self.labels[:n], self.weights, self.biases)


@dataclass
class Timing:
    """``seconds`` of each repeat (each trains all the task's samples once)
    and the weights and biases after the last repeat."""
    seconds: list
    weights: list
    biases: list


def training_task(cfg, dataset, samples):
    """The first ``samples`` samples of ``cfg``'s training stream on ``dataset``
    (the stream the RTL and the golden model see) and ``cfg``'s initial weights."""
    from layerpipe.sim import datasets
    from layerpipe.hw.initial_parameters import initial_parameters
    from layerpipe.sim.golden import FloatArithmetic
    from layerpipe.sim.train import sample_stream
    data = datasets.load(dataset, cfg.widths, cfg.seed)
    epochs = -(-samples // len(data.x_train))
    stream = list(sample_stream(data, FloatArithmetic(cfg), epochs, cfg.seed))[:samples]
    weights, biases = initial_parameters(cfg)
    def f32(arrays):
        return tuple(np.ascontiguousarray(a, dtype=np.float32) for a in arrays)
    return TrainingTask(tuple(cfg.widths), 2.0 ** -cfg.lr_shift,
                        np.ascontiguousarray([s.x for s in stream], dtype=np.float32),
                        np.array([s.label for s in stream], dtype=np.int32), f32(weights), f32(biases))


def golden_weights(cfg, task):
    """Weights and biases of the float golden model (sequential mode: plain
    SGD) after training on ``task``'s samples."""
    from layerpipe.sim.golden import FloatArithmetic, Pipeline, Sample
    seq = cfg.replace(mode="sequential")
    pipe = Pipeline(seq, FloatArithmetic(seq), (list(task.weights), list(task.biases)))
    for _ in pipe.run(Sample(k, x.astype(np.float64), int(y)) for k, (x, y) in enumerate(zip(task.x, task.labels))):
        pass
    return pipe.weights, pipe.biases


# ------------------------------------------------------------ the references

def run_numpy(task, repeats):
    timing = None
    for _ in range(repeats):
        w = [a.copy() for a in task.weights]
        b = [a.copy() for a in task.biases]
        lr, L = np.float32(task.lr), len(w)
        t0 = time.perf_counter()
        for x, label in zip(task.x, task.labels):
            acts = [x]
            for l in range(L):
                z = w[l] @ acts[-1] + b[l]
                acts.append(np.maximum(z, 0) if l < L - 1 else z)
            g = acts[-1].copy()
            g[label] -= 1
            for l in range(L - 1, -1, -1):
                if l < L - 1:
                    g = g * (acts[l + 1] > 0)
                back = w[l].T @ g if l else None
                w[l] -= lr * np.outer(g, acts[l])
                b[l] -= lr * g
                g = back
        seconds = time.perf_counter() - t0
        timing = timing or Timing([], None, None)
        timing.seconds.append(seconds)
        timing.weights, timing.biases = w, b
    return timing


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def run_torch(task, repeats):
    import torch
    torch.set_num_threads(1)
    x = torch.from_numpy(task.x)
    y = torch.nn.functional.one_hot(torch.from_numpy(task.labels.astype(np.int64)), task.widths[-1]).float()
    timing = Timing([], None, None)
    for _ in range(repeats):
        layers = []
        for l, (w, b) in enumerate(zip(task.weights, task.biases)):
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
            layers.append(lin)
            if l < len(task.weights) - 1:
                layers.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*layers)
        opt = torch.optim.SGD(model.parameters(), lr=task.lr)
        t0 = time.perf_counter()
        for k in range(task.samples):
            opt.zero_grad(set_to_none=True)
            loss = 0.5 * ((model(x[k]) - y[k]) ** 2).sum()    # gradient a_L - y
            loss.backward()
            opt.step()
        timing.seconds.append(time.perf_counter() - t0)
        lins = [m for m in model if isinstance(m, torch.nn.Linear)]
        timing.weights = [m.weight.detach().numpy().copy() for m in lins]
        timing.biases = [m.bias.detach().numpy().copy() for m in lins]
    return timing


def compiler():
    """The system C compiler (``$CC`` or ``cc``) and its version line, or (None, why)."""
    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:
        return None, "no C compiler (cc) on PATH"
    version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.splitlines()
    return cc, (version[0] if version else cc)


def build_c(build_dir=BUILD_DIR):
    """Compile cpu_sgd.c (cached by source, flags and compiler version); the executable's path."""
    cc, version = compiler()
    if cc is None:
        raise LayerPipeError(f"c: {version}")
    source = resources.files("layerpipe.scripts").joinpath("cpu_sgd.c").read_bytes()
    key = hashlib.sha256(source + " ".join((cc, version) + C_FLAGS).encode()).hexdigest()[:12]
    exe = Path(build_dir) / f"cpu_sgd-{key}"
    if not exe.exists():
        # compiled in a folder of its own and renamed into place, so that two runs at once (pytest -n 2)
        # never execute or compile over a half-written file
        exe.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=exe.parent) as tmp:
            src, out = Path(tmp) / f"cpu_sgd-{key}.c", Path(tmp) / exe.name
            src.write_bytes(source)
            r = subprocess.run([cc, *C_FLAGS, "-o", str(out), str(src)], capture_output=True, text=True)
            if r.returncode:
                raise LayerPipeError(f"c: {cc} {' '.join(C_FLAGS)} failed: {r.stderr.strip().splitlines()[-1:]}")
            os.replace(out, exe)
    return exe


def run_c(task, repeats, exe=None):
    exe = exe or build_c()
    with tempfile.TemporaryDirectory(prefix="layerpipe-bench-") as tmp:
        inp, out = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        with open(inp, "wb") as f:
            f.write(np.array([len(task.widths) - 1, *task.widths], dtype="<i4").tobytes())
            f.write(np.array([task.lr], dtype="<f8").tobytes())
            f.write(np.array([task.samples, repeats], dtype="<i4").tobytes())
            for w, b in zip(task.weights, task.biases):
                f.write(w.astype("<f4").tobytes() + b.astype("<f4").tobytes())
            f.write(task.x.astype("<f4").tobytes() + task.labels.astype("<i4").tobytes())
        r = subprocess.run([str(exe), str(inp), str(out)], capture_output=True, text=True)
        if r.returncode:
            raise LayerPipeError(f"c: {exe.name} failed: {r.stderr.strip()}")
        flat = np.fromfile(out, dtype="<f4")
    weights, biases, k = [], [], 0
    for n_in, n_out in zip(task.widths[:-1], task.widths[1:]):
        weights.append(flat[k:k + n_in * n_out].reshape(n_out, n_in))
        k += n_in * n_out
        biases.append(flat[k:k + n_out])
        k += n_out
    return Timing(json.loads(r.stdout)["seconds"], weights, biases)


RUNNERS = {"numpy": run_numpy, "torch": run_torch, "c": run_c}
DESCRIPTIONS = {
    "numpy": "NumPy float32 loop, one thread",
    "torch": "PyTorch CPU float32, nn.Linear + autograd + optim.SGD, torch.set_num_threads(1)",
    "c": "C float32 loop, " + " ".join(("cc",) + C_FLAGS) + ", one thread",
}


def unavailable(name):
    """Why reference ``name`` cannot run here, or None."""
    if name == "torch" and not torch_available():
        return "PyTorch is not installed (pip install -e '.[bench]')"
    if name == "c":
        cc, why = compiler()
        return None if cc else why
    return None


def check(cfg, task, name, n=CHECK_SAMPLES):
    """Largest absolute difference between reference ``name``'s weights and
    biases and the float golden model's after training on ``n`` samples."""
    head = task.head(n)
    got = RUNNERS[name](head, 1)
    want_w, want_b = golden_weights(cfg, head)
    return max(float(np.max(np.abs(np.asarray(g, dtype=np.float64) - w)))
               for g, w in zip(got.weights + got.biases, want_w + want_b))


def measure(cfg, task, name, repeats=3, min_seconds=0.5):
    """Verify reference ``name`` against the golden model, then time it.

    Runs ``repeats`` timed trainings of all ``task.samples`` samples (more, up
    to 1000, while their total stays under ``min_seconds``) and reports the
    fastest: ``samples_per_s`` (samples / seconds), ``seconds``, ``repeats``,
    ``verified`` and ``max_abs_diff`` (against the golden model on
    CHECK_SAMPLES samples), ``description``; or ``samples_per_s`` None and a
    ``note`` when the reference cannot run here.
    """
    why = unavailable(name)
    if why:
        return {"samples_per_s": None, "note": f"skipped: {why}", "description": DESCRIPTIONS[name]}
    diff = check(cfg, task, name)
    verified = diff <= CHECK_TOLERANCE
    seconds = RUNNERS[name](task, repeats).seconds
    if sum(seconds) < min_seconds:     # a fast reference: time more repeats for a stable best
        more = min(1000, max(repeats, int(min_seconds / max(min(seconds), 1e-9))))
        seconds = RUNNERS[name](task, more).seconds
    best = min(seconds)
    return {"samples_per_s": task.samples / best if verified else None, "seconds": best,
            "repeats": len(seconds), "samples": task.samples, "verified": verified, "max_abs_diff": diff,
            "description": DESCRIPTIONS[name],
            "note": None if verified else
            f"disagrees with the float golden model by {diff:.3g} > {CHECK_TOLERANCE} after {CHECK_SAMPLES} samples"}


def cpu_info():
    """This machine's CPU: model name, logical CPUs, the SIMD extensions that
    -march=native can use, the C compiler, and the load average (runnable
    processes over the last 1, 5 and 15 minutes, ``os.getloadavg``; null where
    the system has none): CPU timings are only comparable between runs on an
    equally idle machine."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in ("", platform.machine(), platform.processor()):
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    simd = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512vl", "avx512_bf16") if f in flags]
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"model": model, "logical_cpus": os.cpu_count(), "simd": simd, "compiler": compiler()[1],
            "python": platform.python_version(), "numpy": np.__version__, "load_average": load}

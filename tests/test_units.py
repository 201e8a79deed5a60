"""Gateware units against their golden-model twins, bit for bit, in Amaranth's simulator.

Every test is randomised from the seed in its id (also printed), drives the
unit as its docstring describes, compares every output word with the twin in
``sim/golden.py`` / ``hw/fixed_point.py`` and asserts the latency the
docstring states. Cycle ``c`` below is the cycle whose inputs were set before
the ``c``-th clock edge; a register loaded from them is seen in cycle ``c+1``.
"""
import numpy as np
import pytest
from amaranth.lib import data
from amaranth.sim import Simulator

from layerpipe.hw.act_grad_a import ActGradA
from layerpipe.hw.act_grad_b import ActGradB
from layerpipe.hw.config import NetConfig
from layerpipe.hw.delay_fifo import DelayFifo
from layerpipe.hw.fixed_point import Format
from layerpipe.hw.forward_unit import ForwardUnit
from layerpipe.hw.mac_array import MacArray
from layerpipe.hw.plan import plan_layer
from layerpipe.hw.stage import Stage
from layerpipe.hw.sweep import Sweep
from layerpipe.hw.weight_grad_unit import WeightGradUnit
from layerpipe.hw.weight_memory import WeightMemory
from layerpipe.sim import golden
from layerpipe.sim.golden import IntegerArithmetic

WIDE = dict(act=Format(16, 10), weight=Format(16, 12), grad=Format(16, 12), lr_shift=5)
# narrow formats and a large learning rate: most sums and updates saturate
NARROW = dict(act=Format(6, 2), weight=Format(5, 3), grad=Format(6, 3), lr_shift=0)
MID = dict(act=Format(8, 4), weight=Format(8, 6), grad=Format(8, 6), lr_shift=1)


def arith(n_in, n_out, fmts):
    cfg = NetConfig((n_in, n_out, 2), **fmts)
    return cfg, IntegerArithmetic(cfg)


def rand_q(rng, fmt, size, extremes=0.2):
    """Uniform over the whole format, with a share of exact min/max values."""
    v = rng.integers(fmt.min, fmt.max + 1, size=size, dtype=np.int64)
    pick = rng.random(size) < extremes
    return np.where(pick, rng.choice([fmt.min, fmt.max], size=size), v)


def seeded(seed):
    print(f"seed={seed}")
    return np.random.default_rng(seed)


def run(dut, cycles, probes, drain=4):
    """Set each cycle's inputs (a dict {port path: value}, e.g. "out.p.a"), sample ``probes`` (name: port)
    in that cycle, tick; ``drain`` more cycles repeat the last input dict with
    every ``valid``-like port it names cleared by the caller. Returns one dict per cycle."""
    seen = []

    async def bench(ctx):
        for inputs in cycles:
            for path, value in inputs.items():
                ctx.set(_port(dut, path), [int(x) for x in value] if isinstance(value, (list, np.ndarray))
                        else int(value))
            seen.append({name: _value(ctx.get(p)) for name, p in probes.items()})
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen


def _port(dut, path):
    for name in path.split("."):
        dut = getattr(dut, name)
    return dut


def _value(v):
    if isinstance(v, data.Const) and isinstance(v.shape(), data.ArrayLayout):   # its elements
        return [_value(v[j]) for j in range(v.shape().length)]
    return int(v)


def cycles_with_bubbles(rng, columns, bubble, idle):
    """Interleave ``columns`` (input dicts) with idle cycles; returns (cycles, column cycle numbers)."""
    cycles, at = [], []
    for col in columns:
        while rng.random() < bubble:
            cycles.append(idle(rng))
        at.append(len(cycles))
        cycles.append(col)
    return cycles, at


# -- narrow (the one rounding rule) ----------------------------------------------------------

@pytest.mark.parametrize("x_width,shift,fmt", [(8, 3, Format(4, 1)), (8, 1, Format(6, 0)), (7, 0, Format(5, 2)),
                                               (6, -2, Format(6, 3)), (9, 5, Format(8, 4))])
def test_narrow_exhaustive(x_width, shift, fmt):
    """Every x of a small width through the gateware narrow, against fixed_point.narrow
    (ties, both saturation ends, negative shifts included)."""
    from amaranth.hdl import Module, Signal, signed
    from layerpipe.hw import fixed_point, narrow
    m = Module()
    x, y = Signal(signed(x_width)), Signal(signed(fmt.width))
    m.d.comb += y.eq(narrow.narrow(x, shift, fmt))
    xs = np.arange(-(1 << (x_width - 1)), 1 << (x_width - 1))
    got = []

    async def bench(ctx):
        for v in xs:
            ctx.set(x, int(v))
            got.append(ctx.get(y))
    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert got == list(fixed_point.narrow(xs, shift, fmt))


# -- MAC array -----------------------------------------------------------------------------

@pytest.mark.parametrize("lanes,a_width,b_width,seed", [
    (1, 18, 18, 11), (3, 16, 16, 12), (8, 5, 4, 13), (2, 2, 7, 14)])
@pytest.mark.parametrize("operand_registers", [0, 1, 2])
def test_mac_array(lanes, a_width, b_width, seed, operand_registers):
    rng = seeded(seed)
    dut = MacArray(lanes, a_width, b_width, operand_registers)
    fa, fb = Format(a_width, 0), Format(b_width, 0)
    ins = [dict(a=rand_q(rng, fa, lanes, 0.3), b=rand_q(rng, fb, lanes, 0.3), en=int(rng.random() < 0.8))
           for _ in range(40)]
    cycles = [{"a": list(map(int, x["a"])), "b": list(map(int, x["b"])), "en": x["en"]} for x in ins]
    seen = run(dut, cycles, {"p": dut.p})
    p = np.zeros(lanes, dtype=np.int64)             # p(c + latency) = a(c)*b(c) if en(c)
    for c in range(len(ins)):
        assert seen[c]["p"] == list(p), f"cycle {c}"
        x = ins[c + 1 - dut.latency] if c + 1 >= dut.latency else None
        if x is not None and x["en"]:
            p = x["a"] * x["b"]
    assert any(x["en"] == 0 for x in ins) and any(x["en"] for x in ins)


# -- forward unit ---------------------------------------------------------------------------

FORWARD_CASES = [  # n_in, n_out, lanes, formats, hidden, bubble probability, seed, cols
    (5, 5, 2, WIDE, True, 0.0, 21, 1),
    (6, 4, 3, NARROW, True, 0.3, 22, 1),
    (8, 3, 1, MID, False, 0.2, 23, 1),
    (3, 8, 8, NARROW, False, 0.0, 24, 1),
    (1, 3, 2, MID, True, 0.3, 25, 1),
    (7, 5, 2, WIDE, True, 0.0, 26, 3),     # three columns a cycle, the last group partly empty
    (8, 4, 3, NARROW, True, 0.3, 27, 4),
    (5, 3, 1, MID, False, 0.2, 28, 5),     # the whole row in one cycle
]


@pytest.mark.parametrize("n_in,n_out,lanes,fmts,hidden,bubble,seed,cols", FORWARD_CASES)
def test_forward_unit(n_in, n_out, lanes, fmts, hidden, bubble, seed, cols):
    rng = seeded(seed)
    cfg, ar = arith(n_in, n_out, fmts)
    P, R, F = lanes, -(-n_out // lanes), -(-n_in // cols)
    # odd seeds without operand registers (the iCE40's MAC arrays), even seeds with them
    dut = ForwardUnit(P, cfg.act, cfg.weight, cfg.forward_acc_width(1), hidden, cols=cols,
                      operand_registers=seed % 3)
    expect, columns = [], []
    for _sample in range(2):
        a = np.concatenate([rand_q(rng, cfg.act, n_in), np.zeros(F * cols - n_in, dtype=np.int64)])
        for _r in range(R):   # a pass: P rows of W and their biases (pad rows are just more rows here)
            w = rand_q(rng, cfg.weight, (P, F * cols))     # past n_in: garbage weights times a = 0
            b = rand_q(rng, cfg.weight, P)
            expect.append(ar.forward(w[:, :n_in], b, a[:n_in], hidden))
            for t in range(F):
                cs = range(t * cols, (t + 1) * cols)
                columns.append({"w": [int(w[j, i]) for i in cs for j in range(P)], "a": [int(a[i]) for i in cs],
                                "bias": list(map(int, b)), "valid": 1, "first": int(t == 0), "last": int(t == F - 1)})

    def idle(rng):  # garbage on every data input and the flags; only valid is low
        return {"w": list(map(int, rand_q(rng, cfg.weight, cols * P))),
                "a": list(map(int, rand_q(rng, cfg.act, cols))),
                "bias": list(map(int, rand_q(rng, cfg.weight, P))), "valid": 0,
                "first": int(rng.integers(2)), "last": int(rng.integers(2))}
    cycles, at = cycles_with_bubbles(rng, columns, bubble, idle)
    cycles += [idle(rng) for _ in range(dut.latency + 2)]
    # a pass's biases are read bias_delay cycles after its first column, and only then
    biases = {c + dut.bias_delay: cycles[c]["bias"] for c in at if cycles[c]["first"]}
    cycles = [{**cyc, "bias": biases.get(c, list(map(int, rand_q(rng, cfg.weight, P))))}
              for c, cyc in enumerate(cycles)]
    seen = run(dut, cycles, {"valid": dut.out.valid, "a": dut.out.p.a, "fprime": dut.out.p.fprime})
    out_at = [c for c, s in enumerate(seen) if s["valid"]]
    last_cols = [at[k] for k in range(len(at)) if (k + 1) % F == 0]
    assert out_at == [c + dut.latency for c in last_cols]
    if bubble == 0:   # docstring: a beat of `passes` passes takes passes * ceil(n_in / cols) + latency cycles
        assert out_at[R - 1] - at[0] + 1 == R * F + dut.latency
    for q, (c, (a_out, fprime)) in enumerate(zip(out_at, expect)):
        assert seen[c]["a"] == list(a_out), f"pass {q}"
        assert [(seen[c]["fprime"] >> j) & 1 for j in range(P)] == list(fprime), f"pass {q}"
    if fmts is NARROW:   # the saturation case saturates
        assert any(cfg.act.max in a_out or (not hidden and cfg.act.min in a_out) for a_out, _ in expect)


# -- weight-gradient unit -------------------------------------------------------------------

WEIGHT_GRAD_CASES = [  # n_in, n_out, lanes, formats, bubble, seed, cols
    (5, 5, 2, WIDE, 0.0, 31, 1),
    (6, 4, 3, NARROW, 0.3, 32, 1),
    (4, 3, 1, MID, 0.2, 33, 1),
    (3, 8, 8, NARROW, 0.0, 34, 1),
    (5, 5, 2, WIDE, 0.0, 35, 2),      # two columns a cycle
    (6, 4, 3, NARROW, 0.3, 36, 2),
]


@pytest.mark.parametrize("n_in,n_out,lanes,fmts,bubble,seed,cols", WEIGHT_GRAD_CASES)
def test_weight_grad_unit(n_in, n_out, lanes, fmts, bubble, seed, cols):
    rng = seeded(seed)
    cfg, ar = arith(n_in, n_out, fmts)
    P, R, H = lanes, -(-n_out // lanes), -(-n_in // cols)
    n, depth = cols * P, R * H
    dut = WeightGradUnit(P, cfg.act, cfg.weight, cfg.grad, cfg.update_shift, depth, cols=cols,
                         operand_registers=seed % 3)
    columns, expect = [], []
    a = rand_q(rng, cfg.act, H * cols)
    for r in range(R):
        w = rand_q(rng, cfg.weight, (P, H * cols))
        delta = rand_q(rng, cfg.grad, P)
        w_new, _ = ar.weight_grad(w, np.zeros(P, dtype=np.int64), delta, a)
        for t in range(H):
            cs = range(t * cols, (t + 1) * cols)
            lane_en = int(rng.integers(1, 1 << n))
            columns.append({"w": [int(w[j, i]) for i in cs for j in range(P)], "delta": list(map(int, delta)),
                            "a": [int(a[i]) for i in cs], "addr": r * H + t, "valid": 1, "lane_en": lane_en})
            expect.append((r * H + t, lane_en, [int(w_new[j, i]) for i in cs for j in range(P)]))

    def idle(rng):
        return {"w": list(map(int, rand_q(rng, cfg.weight, n))), "delta": list(map(int, rand_q(rng, cfg.grad, P))),
                "a": list(map(int, rand_q(rng, cfg.act, cols))), "addr": int(rng.integers(depth)), "valid": 0,
                "lane_en": int(rng.integers(1 << n))}
    cycles, at = cycles_with_bubbles(rng, columns, bubble, idle)
    cycles += [idle(rng) for _ in range(3)]
    seen = run(dut, cycles, {"en": dut.write_en, "addr": dut.write_addr, "data": dut.write_data})
    write_at = {c + dut.latency: e for c, e in zip(at, expect)}
    if bubble == 0:   # a sweep of R passes writes its last word R * H + latency cycles after it began
        assert max(write_at) - at[0] + 1 == R * H + dut.latency
    for c, s in enumerate(seen):
        if c not in write_at:
            assert s["en"] == 0, f"cycle {c}: write without a column"
            continue
        addr, lane_en, w_new = write_at[c]
        assert (s["en"], s["addr"]) == (lane_en, addr), f"cycle {c}"
        assert s["data"] == w_new, f"cycle {c} (address {addr})"
    if fmts is NARROW:
        assert any(cfg.weight.max in e[2] or cfg.weight.min in e[2] for e in expect)


# -- act_grad_a -----------------------------------------------------------------------------

ACT_GRAD_A_CASES = [  # n_in, n_out, lanes, formats, bubble, seed, cols
    (5, 5, 2, WIDE, 0.0, 41, 1),
    (6, 4, 3, NARROW, 0.3, 42, 1),
    (4, 3, 1, MID, 0.2, 43, 1),
    (3, 8, 8, NARROW, 0.0, 44, 1),
    (7, 5, 5, MID, 0.1, 45, 1),
    (5, 5, 2, WIDE, 0.0, 46, 2),     # two columns a cycle, odd n_in: the last word is half empty
    (6, 7, 3, NARROW, 0.3, 47, 2),
    (7, 5, 2, MID, 0.2, 48, 3),      # any number of columns, not only powers of two
    (6, 4, 1, WIDE, 0.0, 49, 6),
]


@pytest.mark.parametrize("n_in,n_out,lanes,fmts,bubble,seed,cols", ACT_GRAD_A_CASES)
def test_act_grad_a(n_in, n_out, lanes, fmts, bubble, seed, cols):
    rng = seeded(seed)
    cfg, ar = arith(n_in, n_out, fmts)
    P, R, H = lanes, -(-n_out // lanes), -(-n_in // cols)
    dut = ActGradA(P, cfg.weight, cfg.grad, n_in, R, cfg.act_grad_acc_width(1), cols=cols,
                   operand_registers=seed % 3)
    columns, expect, saturated = [], [], False
    for _sample in range(2):
        w = rand_q(rng, cfg.weight, (R * P, H * cols))  # pad rows and columns hold garbage ...
        delta = rand_q(rng, cfg.grad, R * P)
        delta[n_out:] = 0                             # ... pad rows get delta 0, as the stage does
        g = ar.act_grad_a(w[:n_out, :n_in], delta[:n_out])
        for r in range(R):
            for t in range(H):
                i = t * cols
                columns.append({"w": [int(w[r * P + j, i + c]) for c in range(cols) for j in range(P)],
                                "delta": list(map(int, delta[r * P:(r + 1) * P])), "index": i, "slot": t,
                                "valid": 1, "first_pass": int(r == 0), "last_pass": int(r == R - 1)})
                ok = [i + c < n_in for c in range(cols)]
                expect.append((i, [int(g[i + c]) for c in range(cols) if ok[c]], sum(1 << c for c in range(cols)
                                                                                    if ok[c]))
                              if r == R - 1 else None)
        saturated = saturated or cfg.grad.max in g or cfg.grad.min in g

    def idle(rng):
        return {"w": list(map(int, rand_q(rng, cfg.weight, cols * P))),
                "delta": list(map(int, rand_q(rng, cfg.grad, P))),
                "index": int(rng.integers(H)) * cols, "slot": int(rng.integers(H)), "valid": 0,
                "first_pass": int(rng.integers(2)), "last_pass": int(rng.integers(2))}
    cycles, at = cycles_with_bubbles(rng, columns, bubble, idle)
    cycles += [idle(rng) for _ in range(dut.latency + 2)]
    seen = run(dut, cycles, {"valid": dut.out.valid, "index": dut.out.p.index, "g": dut.out.p.g,
                             "mask": dut.out.p.mask})
    out = {c + dut.latency: e for c, e in zip(at, expect) if e is not None}
    assert [c for c, s in enumerate(seen) if s["valid"]] == sorted(out)
    if bubble == 0:   # the beat's last g leaves R * H + latency cycles after its first column
        assert sorted(out)[H - 1] - at[0] + 1 == R * H + dut.latency
    for c, (i, g, mask) in out.items():
        got = seen[c]
        assert (got["index"], [got["g"][k] for k in range(cols) if mask >> k & 1], got["mask"]) == (i, g, mask), \
            f"cycle {c}"
    assert saturated or fmts is not NARROW, "the saturation case did not saturate"


# -- act_grad_b -----------------------------------------------------------------------------

@pytest.mark.parametrize("n,in_lanes,fmts,seed,now", [
    (5, 1, WIDE, 51, None), (5, 2, NARROW, 52, 2), (7, 3, MID, 53, 1), (4, 4, MID, 54, None), (1, 1, NARROW, 55, 1)])
def test_act_grad_b(n, in_lanes, fmts, seed, now):
    rng = seeded(seed)
    cfg, ar = arith(n, n, fmts)
    dut = ActGradB(n, cfg.grad, in_lanes, now=now)
    now = n if now is None else now
    words = -(-n // in_lanes)
    rounds = 4

    def write(base, values, mask):
        return {"g_in.valid": 1, "g_in.p.index": base, "g_in.p.g": values, "g_in.p.mask": mask}

    def garbage(valid=0):   # a write with every lane masked off, or not valid at all
        return {"g_in.valid": valid, "g_in.p.index": int(rng.integers(n)),
                "g_in.p.g": list(map(int, rand_q(rng, cfg.grad, in_lanes))),
                "g_in.p.mask": 0 if valid else int(rng.integers(1 << in_lanes))}

    cycles, loads, expect = [], [], []
    for _ in range(rounds):
        g = rand_q(rng, cfg.grad, n)
        fprime = rng.integers(0, 2, size=n)
        order = list(rng.permutation(words)) + list(rng.choice(words, size=2))   # some words twice
        for k, word in enumerate(order):
            if rng.random() < 0.3:
                cycles.append({**garbage(valid=int(rng.integers(2))), "load": 0})
            base = word * in_lanes
            vals = [int(g[base + q]) if base + q < n else int(rand_q(rng, cfg.grad, 1)[0]) for q in range(in_lanes)]
            mask = sum(1 << q for q in range(in_lanes) if base + q < n)
            first_write = k < words
            if not first_write:   # a repeated word is rewritten with the same values, partly masked
                mask &= int(rng.integers(1 << in_lanes))
            cycles.append({**write(base, vals, mask), "load": 0})
        # load in its own cycle; the next round's first write may share the cycle after it
        cycles.append({**garbage(), "load": 1, "fprime": int(sum(int(f) << k for k, f in enumerate(fprime)))})
        loads.append(len(cycles) - 1)
        expect.append(list(ar.act_grad_b(g, fprime)))
    cycles += [{**garbage(), "load": 0} for _ in range(2)]
    seen = run(dut, cycles, {"delta": dut.delta, "delta_now": dut.delta_now})
    # LATENCY 1: delta from load cycle + 1 until the next load's + 1, held while new g is written;
    # delta_now (the first `now` values) one cycle earlier: from the load cycle on
    for q, c0 in enumerate(loads):
        c1 = loads[q + 1] if q + 1 < len(loads) else len(cycles) - 1
        for c in range(c0 + 1, c1 + 1):
            assert seen[c]["delta"] == expect[q], f"round {q}, cycle {c}"
        for c in range(c0, c1):
            assert seen[c]["delta_now"] == expect[q][:now], f"delta_now, round {q}, cycle {c}"
    assert all(seen[c]["delta"] == [0] * n for c in range(loads[0] + 1)), "delta before the first load"
    assert all(seen[c]["delta_now"] == [0] * now for c in range(loads[0])), "delta_now before the first load"


@pytest.mark.parametrize("seed", [56])
def test_act_grad_b_write_in_load_cycle_goes_to_next_beat(seed):
    rng = seeded(seed)
    fmt = Format(8, 4)
    dut = ActGradB(3, fmt, 1)
    g0, g1 = [int(x) for x in rand_q(rng, fmt, 3)], [int(x) for x in rand_q(rng, fmt, 3)]
    cyc = [{"g_in.valid": 1, "g_in.p.index": k, "g_in.p.g": [g0[k]], "g_in.p.mask": 1, "load": 0}
           for k in range(3)]
    cyc += [{"g_in.valid": 1, "g_in.p.index": k, "g_in.p.g": [g1[k]], "g_in.p.mask": 1,
             "load": int(k == 0), "fprime": 0b111} for k in range(3)]
    cyc += [{"g_in.valid": 0, "load": 1}, {"load": 0}]
    seen = run(dut, cyc, {"delta": dut.delta})
    assert seen[4]["delta"] == g0 and seen[6]["delta"] == g0 and seen[7]["delta"] == g1


# -- weight memory --------------------------------------------------------------------------

@pytest.mark.parametrize("n_in,n_out,lanes,cols,fwd_cols,seed", [
    (6, 5, 2, 1, 1, 81), (3, 4, 4, 1, 1, 82), (1, 3, 1, 1, 1, 83), (4, 7, 3, 1, 1, 84), (6, 5, 2, 2, 1, 85),
    (5, 3, 3, 2, 1, 86), (7, 5, 2, 6, 3, 87), (9, 4, 1, 4, 2, 88), (5, 3, 2, 3, 3, 89)])
def test_weight_memory(n_in, n_out, lanes, cols, fwd_cols, seed):
    """Bank layout of the initial weights, then random reads and writes against a
    dict: a read sees the memory before the write of the same cycle (read-first),
    1 cycle after its address; with fwd_cols < cols the forward port reads a group
    of fwd_cols columns of the same words."""
    rng = seeded(seed)
    fmt = Format(8, 6)
    w = rand_q(rng, fmt, (n_out, n_in))
    dut = WeightMemory(n_in, n_out, lanes, fmt.width, init=w, cols=cols, fwd_cols=fwd_cols)
    R, H, banks, depth = -(-n_out // lanes), -(-n_in // cols), cols * lanes, dut.depth
    assert depth == R * H
    mem = np.zeros((banks, depth), dtype=np.int64)     # bank c*lanes+j, word r*H+t: W[r*lanes+j, t*cols+c]
    for r in range(R):
        for j in range(lanes):
            for t in range(H):
                for c in range(cols):
                    row, col = r * lanes + j, t * cols + c
                    if row < n_out and col < n_in:
                        mem[c * lanes + j, r * H + t] = w[row, col]
                        assert WeightMemory.location(row, col, lanes, cols, n_in) == (r * H + t, c * lanes + j)
    cycles, expect = [], []
    for c in range(2 * depth + 30):
        # first a clean sweep of the initial contents, then random traffic with collisions
        ra = c if c < depth else int(rng.integers(depth))
        wa = ra if c >= depth and rng.random() < 0.4 else int(rng.integers(depth))
        en = 0 if c < depth else int(rng.integers(1 << banks))
        data = rand_q(rng, fmt, banks)
        ins = {"read_addr": ra, "write_addr": wa, "write_data": data, "write_en": en}
        exp = {"data": list(mem[:, ra])}
        if fwd_cols < cols:
            fa, fg = int(rng.integers(depth)), int(rng.integers(cols // fwd_cols))
            ins.update(fwd_addr=fa, fwd_group=fg)
            exp["fwd"] = list(mem[fg * fwd_cols * lanes:(fg + 1) * fwd_cols * lanes, fa])
        cycles.append(ins)
        expect.append(exp)
        for b in range(banks):
            if en >> b & 1:
                mem[b, wa] = data[b]
    cycles.append({"write_en": 0})
    probes = {"data": dut.read_data, **({"fwd": dut.fwd_data} if fwd_cols < cols else {})}
    seen = run(dut, cycles, probes)
    for c, e in enumerate(expect):
        assert {k: seen[c + 1][k] for k in e} == e, f"cycle {c}: read of address {cycles[c]['read_addr']}"


# -- delay FIFO -----------------------------------------------------------------------------

DELAY_FIFO_CASES = [  # n (a_{l-1} values), in_lanes, depth, n_out, lanes, store_fprime, seed, fwd_reads, bwd_reads
    (6, 4, 3, 5, 2, True, 61, 1, 1),
    (5, 1, 1, 3, 3, True, 62, 1, 2),
    (4, 2, 5, 7, 3, False, 63, 1, 1),
    (3, 3, 2, 1, 1, True, 64, 1, 1),
    (5, 3, 3, 4, 2, True, 65, 1, 2),    # words of lcm(3, 2) = 6 values
    (9, 4, 3, 4, 2, True, 66, 3, 6),    # lcm(4, 3, 6) = 12: more than a sample
    (7, 2, 1, 3, 3, True, 67, 5, 5),
    (8, 8, 2, 5, 5, False, 68, 2, 4),
]


@pytest.mark.parametrize("n,in_lanes,depth,n_out,lanes,store_fprime,seed,fwd_reads,bwd_reads", DELAY_FIFO_CASES)
def test_delay_fifo(n, in_lanes, depth, n_out, lanes, store_fprime, seed, fwd_reads, bwd_reads):
    """Beat k: the producer writes sample k+1 (in order, at random cycles of the
    beat while the reads go on), forward reads sample k and writes its f',
    backward reads sample k-depth and its f': against golden.DelayFifo. Each
    read is an aligned group of ``reads`` values (those past n are not checked)."""
    rng = seeded(seed)
    fmt = Format(8, 3)
    dut = DelayFifo(n, fmt.width, in_lanes, depth, n_out, lanes, store_fprime, fwd_reads=fwd_reads,
                    bwd_reads=bwd_reads)
    V = dut.word_values
    assert V % in_lanes == V % fwd_reads == V % bwd_reads == 0
    passes, writes = -(-n_out // lanes), -(-n // in_lanes)
    samples = [(rand_q(rng, fmt, n), rng.integers(0, 2, size=passes * lanes)) for _ in range(depth + 5)]
    model = golden.DelayFifo(depth)

    def producer_writes(s):
        a = samples[s][0]
        for w in range(writes):
            vals = [int(a[w * in_lanes + q]) if w * in_lanes + q < n else int(rand_q(rng, fmt, 1)[0])
                    for q in range(in_lanes)]
            mask = sum(1 << q for q in range(in_lanes) if w * in_lanes + q < n)
            yield {"write_data": vals, "write_mask": mask, "write_valid": 1, "write_last": int(w == writes - 1)}

    def group_read(side, reads, start):
        word, offset = divmod(start, V)
        return {f"{side}_word": word, f"{side}_group": offset // reads}

    def values(s, start, reads):
        return [int(samples[s][0][i]) if i < n else None for i in range(start, start + reads)]

    idle = {"write_valid": 0, "write_last": 0, "fwd_start": 0, "bwd_start": 0, "fprime_write": 0}
    cycles, checks = [], []     # checks: (cycle, probe, expected, what)

    def emit(inputs, rel_checks=()):
        checks.extend((len(cycles) + off, probe, exp, what) for off, probe, exp, what in rel_checks)
        cycles.append({**idle, **inputs})

    for w in producer_writes(0):
        emit(w)
    for k in range(len(samples) + depth):
        fwd = k if k < len(samples) else None
        bwd = k - depth if k >= depth else None
        if fwd is not None:
            model.push(k, fwd)
        if bwd is not None:
            assert model.pop(k) == bwd
        ops = []    # (inputs, checks relative to the op's cycle)
        fp = []
        if bwd is not None:     # f' of the backward slot, the cycle after bwd_start
            exp = sum(int(f) << j for j, f in enumerate(samples[bwd][1][:n_out])) if store_fprime \
                else (1 << n_out) - 1
            fp = [(1, "fprime", exp, f"fprime of sample {bwd}")]
        # reads: each side presents a random order of groups (some twice); values 1 cycle later,
        # the first already in the start cycle (it reads the slot that the start takes)
        f_groups = -(-n // fwd_reads)
        f_idx = list(rng.permutation(f_groups)) + list(rng.integers(0, f_groups, 2))
        for fg in f_idx:
            bg = int(rng.integers(-(-n // bwd_reads)))
            chk = []
            if fwd is not None:
                chk.append((1, "fwd", values(fwd, fg * fwd_reads, fwd_reads), f"fwd group {fg} of sample {fwd}"))
            if bwd is not None:
                chk.append((1, "bwd", values(bwd, bg * bwd_reads, bwd_reads), f"bwd group {bg} of sample {bwd}"))
            ops.append(({**group_read("fwd", fwd_reads, int(fg) * fwd_reads),
                         **group_read("bwd", bwd_reads, bg * bwd_reads)}, chk))
        ops[0] = ({**ops[0][0], "fwd_start": int(fwd is not None), "bwd_start": int(bwd is not None)},
                  ops[0][1] + fp)
        if fwd is not None:     # the forward writes f' of its passes, in a random order
            for r in rng.permutation(passes):
                bits = samples[fwd][1][r * lanes:(r + 1) * lanes]
                ops.append(({"fprime_write": 1, "fprime_word": int(r),
                             "fprime_bits": sum(int(b) << j for j, b in enumerate(bits))}, []))
        # the producer's writes of sample k+1 go in at random cycles after the start (their own
        # cycles or together with a read)
        writes_left = list(producer_writes(k + 1)) if k + 1 < len(samples) else []
        emit(*ops[0])
        for inputs, chk in ops[1:]:
            if writes_left and rng.random() < 0.5:
                inputs = {**inputs, **writes_left.pop(0)}
            emit(inputs, chk)
        for w in writes_left:
            emit(w)
    emit({})
    seen = run(dut, cycles, {"fwd": dut.fwd_value, "bwd": dut.bwd_value, "fprime": dut.fprime_out})
    assert len(model) == 0 and checks
    for c, probe, exp, what in checks:
        got = seen[c][probe]
        if isinstance(exp, list):
            got = [g if e is not None else None for g, e in zip(got, exp)]
        assert got == exp, f"cycle {c}: {what}"


# -- sweep ----------------------------------------------------------------------------------

@pytest.mark.parametrize("n_in,passes,cols,word_cols,fifo_cols,rounds", [
    (5, 3, 1, 2, 2, 1),   # forward beside a B-then-W unit: one column per cycle, two per word
    (5, 2, 2, 2, 2, 2),   # that unit: two columns per cycle, odd n_in, twice
    (6, 2, 2, 2, 6, 2),   # delay-FIFO words of lcm(3, 2) values, two columns per cycle
    (4, 2, 1, 1, 3, 1),   # a lockstep sweep
    (1, 4, 1, 1, 1, 3),   # one column per pass
    (7, 2, 3, 6, 12, 1),  # forward of lanes x 3 beside a B-then-W unit of 6 columns
    (9, 3, 4, 4, 4, 2),
])
def test_sweep_issues_every_column_once_per_round(n_in, passes, cols, word_cols, fifo_cols, rounds):
    dut = Sweep(n_in, passes, cols, word_cols=word_cols, fifo_cols=fifo_cols, rounds=rounds)
    H = -(-n_in // word_cols)
    issued = [(q, r, i) for q in range(rounds) for r in range(passes) for i in range(0, n_in, cols)]
    expect = [dict(active=1, final=int(k == len(issued) - 1), round=q, r=r, i=i, t=i // cols,
                   addr=r * H + i // word_cols, group=(i % word_cols) // cols,
                   fifo_word=i // fifo_cols, fifo_group=(i % fifo_cols) // cols,
                   col_ok=sum(1 << c for c in range(cols) if i + c < n_in))
              for k, (q, r, i) in enumerate(issued)]
    cycles = [{"start": 1}] + [{"start": 0}] * (len(issued) + 2)
    nexts = ("active", "addr", "group", "fifo_word", "fifo_group")
    seen = run(dut, cycles, {**{k: getattr(dut, k) for k in expect[0]},
                             **{f"next_{k}": getattr(dut, f"next_{k}") for k in nexts}})
    assert seen[0]["active"] == 0
    assert [{k: c[k] for k in expect[0]} for c in seen[1:len(issued) + 1]] == expect
    assert [c["active"] for c in seen[len(issued) + 1:]] == [0, 0]
    # the next values (a memory's read address) are what the registers show a cycle later
    for c in range(len(seen) - 1):
        assert {k: seen[c][f"next_{k}"] for k in nexts} == {k: seen[c + 1][k] for k in nexts}, f"cycle {c}"


# -- stage ----------------------------------------------------------------------------------

STAGE_CASES = [  # n_in, n_out, lanes, formats, act_grad_a, in_lanes, grad_lanes, seed, backward, cols
    (6, 5, 2, WIDE, True, 4, 1, 71, "lockstep", 1),
    (6, 5, 5, MID, True, 1, 3, 72, "lockstep", 1),
    (6, 5, 2, NARROW, False, 3, 2, 73, "lockstep", 1),
    (4, 3, 2, NARROW, True, 2, 1, 74, "lockstep", 1),
    # B then W in one unit of lanes x 2 cols: n_in even and odd, one pass and more
    (6, 5, 2, WIDE, True, 4, 2, 75, "b_then_w", 1),
    (7, 8, 2, MID, True, 2, 1, 76, "b_then_w", 1),
    (6, 5, 5, NARROW, True, 1, 3, 77, "b_then_w", 1),
    # several columns a cycle
    (7, 5, 2, WIDE, True, 3, 2, 78, "lockstep", 3),
    (8, 5, 3, NARROW, False, 8, 1, 79, "lockstep", 8),   # a whole row per cycle
    (7, 6, 2, MID, True, 4, 3, 70, "b_then_w", 2),       # forward 2 columns, backward 4
    (9, 4, 4, WIDE, True, 2, 4, 69, "b_then_w", 3),
]


@pytest.mark.parametrize("n_in,n_out,lanes,fmts,has_aga,in_lanes,grad_lanes,seed,backward,cols", STAGE_CASES)
def test_stage(n_in, n_out, lanes, fmts, has_aga, in_lanes, grad_lanes, seed, backward, cols):
    """Layer 1 of a 2-layer net (delay 3): beat k runs the forward of sample k and
    the backward of sample k-3, as golden.Pipeline does; after every beat the
    stage's outputs, every weight and every bias match IntegerArithmetic."""
    rng = seeded(seed)
    cfg, ar = arith(n_in, n_out, fmts)
    delay, n_samples = 3, 6
    P, R = lanes, -(-n_out // lanes)
    w = rand_q(rng, cfg.weight, (n_out, n_in), 0.1)
    b = rand_q(rng, cfg.weight, n_out, 0.1)
    plan = plan_layer(n_in=n_in, n_out=n_out, lanes=P, cols=cols, act=cfg.act, weight=cfg.weight, grad=cfg.grad,
                      hidden=True,
                      act_grad_a=has_aga, delay=delay, in_lanes=in_lanes, grad_lanes=grad_lanes,
                      update_shift=cfg.update_shift, bias_shift=cfg.bias_shift, acc_width=cfg.forward_acc_width(1),
                      g_acc_width=cfg.act_grad_acc_width(1), backward=backward)
    dut = Stage(plan, init_weights=w, init_biases=b)
    xs = [rand_q(rng, cfg.act, n_in, 0.1) for _ in range(n_samples)]
    gs = [rand_q(rng, cfg.grad, n_out, 0.2) for _ in range(n_samples)]

    # the reference, beat by beat (weights read in beat k are those at the end of beat k-1)
    fifo, ref = golden.DelayFifo(delay), []
    for k in range(n_samples + delay):
        beat = dict(fwd=None, bwd=None)
        new_w, new_b = w, b
        if k < n_samples:
            a_out, fprime = ar.forward(w, b, xs[k], hidden=True)
            fifo.push(k, (xs[k], fprime))
            beat["fwd"] = (k, a_out)
        if k >= delay:
            a_old, fprime = fifo.pop(k)
            delta = ar.act_grad_b(gs[k - delay], fprime)
            beat["bwd"] = (k - delay, ar.act_grad_a(w, delta) if has_aga else None)
            new_w, new_b = ar.weight_grad(w, b, delta, a_old)
        w, b = new_w, new_b
        beat["w"], beat["b"] = w, b
        ref.append(beat)
    assert len(fifo) == 0

    def act_writes(s):
        words = -(-n_in // in_lanes)
        for q in range(words):
            idx = [q * in_lanes + e for e in range(in_lanes)]
            yield {"act_in.valid": 1, "act_in.p.last": int(q == words - 1),
                   "act_in.p.a": [int(xs[s][i]) if i < n_in else 0 for i in idx],
                   "act_in.p.mask": sum(1 << e for e, i in enumerate(idx) if i < n_in)}

    def grad_writes(s):
        order = rng.permutation(-(-n_out // grad_lanes))   # any order: g is a buffer
        for q in order:
            idx = [q * grad_lanes + e for e in range(grad_lanes)]
            yield {"grad_in.valid": 1, "grad_in.p.index": int(q * grad_lanes),
                   "grad_in.p.g": [int(gs[s][i]) if i < n_out else 0 for i in idx],
                   "grad_in.p.mask": sum(1 << e for e, i in enumerate(idx) if i < n_out)}

    quiet = {"act_in.valid": 0, "grad_in.valid": 0, "start": 0}
    mismatches = []

    async def bench(ctx):
        def put(inputs):
            for path, value in {**quiet, **inputs}.items():
                ctx.set(_port(dut, path), value)

        pending = list(act_writes(0))       # the first sample arrives before beat 0
        for k, beat in enumerate(ref):
            while pending:                   # what the producers still owe, before the start
                put(pending.pop(0))
                await ctx.tick()
            fwd_en, bwd_en = beat["fwd"] is not None, beat["bwd"] is not None
            # during the beat: sample k+1 into the delay FIFO, g of the next beat's backward
            acts = list(act_writes(k + 1)) if k + 1 < n_samples else []
            grads = list(grad_writes(k + 1 - delay)) if 0 <= k + 1 - delay < n_samples else []
            put({"start": 1, "fwd_en": int(fwd_en), "bwd_en": int(bwd_en)})
            cycles, act_out, grad_out = 0, [], []
            while True:
                await ctx.tick()
                cycles += 1
                # the beat's last outputs come in its last cycle, when busy is already low
                if ctx.get(dut.act_out.valid):
                    act_out.append(ctx.get(dut.act_out.payload))
                if ctx.get(dut.grad_out.valid):
                    grad_out.append(ctx.get(dut.grad_out.payload))
                if not ctx.get(dut.busy):
                    break
                inputs = {}
                if acts and rng.random() < 0.5:
                    inputs.update(acts.pop(0))
                # g for beat k+1 may go in from the cycle after start (the load cycle) on
                if grads and rng.random() < 0.5:
                    inputs.update(grads.pop(0))
                put(inputs)
            put({})
            pending = acts + grads
            what = f"beat {k}"
            if cycles != plan.cycles_per_beat:
                mismatches.append(f"{what}: {cycles} cycles, the plan says {plan.cycles_per_beat}")
            # act_out: one word per pass, rows r*P..r*P+P-1, mask of the rows that exist
            exp_act = []
            if fwd_en:
                a_out = beat["fwd"][1]
                for r in range(R):
                    rows = [r * P + j for j in range(P)]
                    exp_act.append((r, [int(a_out[i]) for i in rows if i < n_out],
                                    sum(1 << j for j, i in enumerate(rows) if i < n_out), int(r == R - 1)))
            got_act = [(int(p["word"]), [p["a"][j] for j in range(P) if (p["mask"] >> j) & 1], int(p["mask"]),
                        int(p["last"])) for p in act_out]
            if got_act != exp_act:
                mismatches.append(f"{what}: act_out {got_act} != {exp_act}")
            cols = plan.word_cols       # g leaves word_cols values at a time, the columns that exist masked in
            exp_grad = [(i, [int(beat["bwd"][1][i + c]) for c in range(cols) if i + c < n_in],
                         sum(1 << c for c in range(cols) if i + c < n_in))
                        for i in range(0, n_in, cols)] if bwd_en and has_aga else []
            got_grad = [(int(p["index"]), [p["g"][c] for c in range(cols) if p["mask"] >> c & 1], int(p["mask"]))
                        for p in grad_out]
            if got_grad != exp_grad:
                mismatches.append(f"{what}: grad_out {got_grad} != {exp_grad}")
            # every weight and bias, read back while idle
            got_w = np.zeros((n_out, n_in), dtype=np.int64)
            H = -(-n_in // cols)
            for addr in range(R * H):   # word r*H+t of bank c*P+j is W[r*P+j, t*cols+c]
                ctx.set(dut.read_addr, addr)
                await ctx.tick()                     # synchronous read: data after the edge
                r, t = divmod(addr, H)
                word = ctx.get(dut.read_data)
                for c in range(cols):
                    for j in range(P):
                        if r * P + j < n_out and t * cols + c < n_in:
                            got_w[r * P + j, t * cols + c] = word[c * P + j]
            got_b = np.array(_value(ctx.get(dut.bias)))
            if not np.array_equal(got_w, beat["w"]):
                bad = np.argwhere(got_w != beat["w"])[0]
                mismatches.append(f"{what}: W{list(bad)} = {got_w[tuple(bad)]}, golden {beat['w'][tuple(bad)]}")
            if not np.array_equal(got_b, beat["b"]):
                mismatches.append(f"{what}: bias {list(got_b)} != golden {list(beat['b'])}")
            if mismatches:
                return

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not mismatches, mismatches[0]
    if fmts is NARROW:   # the saturation case saturates the weights
        assert any((cfg.weight.max == r["w"]).any() or (cfg.weight.min == r["w"]).any() for r in ref)


# -- input loader, output error, result buffer ---------------------------------------------

@pytest.mark.parametrize("n_in,values,seed", [(5, 1, 91), (7, 3, 92), (6, 6, 93), (4, 8, 94)])
def test_input_loader(n_in, values, seed):
    """Samples in ceil(n_in / values) transfers become FIFO writes in the same cycle,
    the inputs that exist masked in; ``loaded`` holds off the stream until ``take``;
    a misplaced ``last`` sets the sticky framing error."""
    from layerpipe.hw.input_loader import InputLoader
    rng = seeded(seed)
    fmt = Format(8, 3)
    dut = InputLoader(n_in, values, fmt, classes=4)
    T = -(-n_in // values)
    samples = [(rand_q(rng, fmt, T * values), int(rng.integers(4))) for _ in range(3)]
    got, state = [], {}

    async def bench(ctx):
        for x, label in samples:
            for t in range(T):
                ctx.set(dut.samples.valid, 1)
                ctx.set(dut.samples.p, {"x": [int(v) for v in x[t * values:(t + 1) * values]], "label": label,
                                        "last": int(t == T - 1)})
                while not ctx.get(dut.samples.ready):
                    assert not ctx.get(dut.out.valid), "a write while a sample waits"
                    await ctx.tick()
                out = ctx.get(dut.out.p)
                assert ctx.get(dut.out.valid)
                got.append(([out.a[q] for q in range(values)], out.mask, out.last))
                await ctx.tick()
            ctx.set(dut.samples.valid, 0)
            assert ctx.get(dut.loaded) and ctx.get(dut.label) == label and not ctx.get(dut.samples.ready)
            await ctx.tick().repeat(2)          # it waits for its beat
            assert ctx.get(dut.loaded)
            ctx.set(dut.take, 1)
            await ctx.tick()
            ctx.set(dut.take, 0)
            assert not ctx.get(dut.loaded) and ctx.get(dut.samples.ready)
        state["framing"] = ctx.get(dut.framing_error)
        ctx.set(dut.samples.valid, 1)           # a sample whose first transfer says last
        ctx.set(dut.samples.p.last, int(T > 1))
        await ctx.tick()
        state["framing_after"] = ctx.get(dut.framing_error)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    expect = [([int(v) for v in x[t * values:(t + 1) * values]],
               sum(1 << q for q in range(values) if t * values + q < n_in), int(t == T - 1))
              for x, _ in samples for t in range(T)]
    assert got == expect
    assert state["framing"] == 0 and state["framing_after"] == 1


@pytest.mark.parametrize("n_out,lanes,fmts,seed", [(5, 2, WIDE, 95), (3, 3, NARROW, 96), (7, 4, MID, 97)])
def test_output_error(n_out, lanes, fmts, seed):
    """Each pass of a_L becomes (a_L - y) narrowed to the grad format at index r * lanes,
    in the same cycle: against IntegerArithmetic.output_error."""
    from layerpipe.hw.output_error import OutputError
    rng = seeded(seed)
    cfg = NetConfig((2, n_out), **fmts)
    ar = IntegerArithmetic(cfg)
    dut = OutputError(n_out, lanes, cfg.act, cfg.grad, classes=n_out)
    R = -(-n_out // lanes)
    cycles, expect = [], []
    for _ in range(6):
        a = rand_q(rng, cfg.act, R * lanes)
        label = int(rng.integers(n_out))
        e = ar.output_error(a[:n_out], ar.target(label))
        for r in range(R):
            rows = range(r * lanes, (r + 1) * lanes)
            mask = sum(1 << j for j, i in enumerate(rows) if i < n_out)
            cycles.append({"a_in.valid": 1, "a_in.p.word": r, "a_in.p.a": [int(a[i]) for i in rows],
                           "a_in.p.mask": mask, "a_in.p.last": int(r == R - 1), "label": label})
            expect.append((1, r * lanes, mask, [int(e[i]) for i in rows if i < n_out]))
    got = []

    async def bench(ctx):                  # combinational: the outputs settle without a clock edge
        for inputs in cycles:
            for path, value in inputs.items():
                ctx.set(_port(dut, path), value)
            g, mask = ctx.get(dut.g_out.p.g), ctx.get(dut.g_out.p.mask)
            got.append((ctx.get(dut.g_out.valid), ctx.get(dut.g_out.p.index), mask,
                        [g[j] for j in range(lanes) if mask >> j & 1]))
    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert got == expect
    if fmts is NARROW:
        assert any(cfg.grad.max in e[3] or cfg.grad.min in e[3] for e in expect)


@pytest.mark.parametrize("n_out,lanes,values,backpressure,seed", [
    (5, 2, 1, 0.0, 98), (7, 3, 3, 0.5, 99), (4, 4, 4, 0.3, 100), (10, 1, 4, 0.0, 101)])
def test_result_buffer(n_out, lanes, values, backpressure, seed):
    """Passes collected, a copy in the cycle of the last pass takes it, the result
    leaves ``values`` outputs per transfer (padding 0, ``last`` on the final one)
    while the next result's passes are collected; busy until the last transfer."""
    from layerpipe.hw.result_buffer import ResultBuffer
    rng = seeded(seed)
    fmt = Format(8, 3)
    dut = ResultBuffer(n_out, lanes, values, fmt, classes=n_out)
    R, T = -(-n_out // lanes), -(-n_out // values)
    results = [(rand_q(rng, fmt, R * lanes), int(rng.integers(n_out))) for _ in range(4)]
    got = []

    async def bench(ctx):
        for a, label in results:
            while ctx.get(dut.busy):            # the previous result still leaves
                await ctx.tick()
            order = list(rng.permutation(R))     # passes in any order
            together = rng.random() < 0.5       # the copy in the cycle of the last pass, or after it
            for k, r in enumerate(order):
                ctx.set(dut.a_in.valid, 1)
                ctx.set(dut.a_in.p, {"word": int(r), "a": [int(v) for v in a[r * lanes:(r + 1) * lanes]],
                                     "mask": 0, "last": 0})
                if k < R - 1 or not together:
                    await ctx.tick()
            if not together:
                ctx.set(dut.a_in.valid, 0)
            ctx.set(dut.copy, 1)
            ctx.set(dut.label, label)
            await ctx.tick()
            ctx.set(dut.copy, 0)
            ctx.set(dut.a_in.valid, 0)

    async def sink(ctx):
        words = []
        for _ in range(2000):
            ready = int(rng.random() >= backpressure)
            ctx.set(dut.results.ready, ready)
            valid, p = ctx.get(dut.results.valid), ctx.get(dut.results.p)
            if valid and ready:
                words.append(([p.a[q] for q in range(values)], p.label, p.last))
            await ctx.tick()
        got.extend(words)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench, background=True)
    sim.add_testbench(sink)
    sim.run()
    expect = []
    for a, label in results:
        padded = [int(v) for v in a[:n_out]] + [0] * (T * values - n_out)
        expect += [(padded[t * values:(t + 1) * values], label, int(t == T - 1)) for t in range(T)]
    assert got == expect


# -- bias update --------------------------------------------------------------------------

@pytest.mark.parametrize("fmts,lanes", [(WIDE, None), (MID, None), (NARROW, None), (MID, 3), (NARROW, 1)])
def test_bias_update_matches_the_golden_model(fmts, lanes):
    """b <- saturate(b - round_shift(delta, bias_shift)) on ``en`` only, for the rows of pass ``r``
    (all rows when lanes = n), as IntegerArithmetic.weight_grad's b."""
    from layerpipe.hw.bias_update import BiasUpdate
    n = 7
    rng = seeded(81)
    cfg, ar = arith(3, n, fmts)
    b0 = rand_q(rng, cfg.weight, n, 0.3)
    dut = BiasUpdate(n, cfg.weight, cfg.grad, cfg.bias_shift, init=b0, lanes=lanes)
    P = lanes or n
    steps = 12
    deltas = [rand_q(rng, cfg.grad, P, 0.3) for _ in range(steps)]
    passes = [int(rng.integers(-(-n // P))) for _ in range(steps)]
    enables = [int(rng.random() < 0.7) for _ in range(steps)]
    mismatches = []

    async def bench(ctx):
        b = b0
        for delta, r, en in zip(deltas, passes, enables):
            ctx.set(dut.delta, [int(v) for v in delta])
            ctx.set(dut.r, r)
            ctx.set(dut.en, en)
            await ctx.tick()
            if en:   # the golden update of every row, with delta 0 (no change) outside pass r
                full = np.zeros(n, dtype=np.int64)
                for j in range(P):
                    if r * P + j < n:
                        full[r * P + j] = delta[j]
                b = ar.weight_grad(np.zeros((n, 3), dtype=np.int64), b, full, np.zeros(3, dtype=np.int64))[1]
            got = list(_value(ctx.get(dut.bias)))
            if got != [int(v) for v in b] and not mismatches:
                mismatches.append(f"after en={en}: {got} != golden {list(b)}")

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not mismatches, mismatches[0]

"""The golden model against hand-worked schedules and an independent SGD."""
import numpy as np
import pytest

from layerpipe.hw.config import NetConfig
from layerpipe.hw.fixed_point import Format
from layerpipe.sim import datasets
from layerpipe.hw.initial_parameters import initial_parameters
from layerpipe.sim.golden import FloatArithmetic, IntegerArithmetic, Pipeline, Sample
from layerpipe.sim.train import sample_stream, train


def stream(cfg, n, seed=1):
    rng = np.random.default_rng(seed)
    ar = IntegerArithmetic(cfg)
    return [Sample(i, ar.input(rng.random(cfg.widths[0])), int(rng.integers(cfg.widths[-1]))) for i in range(n)]


def schedule_of(cfg, n):
    """Per beat, per stage: (sample run forward, sample run backward)."""
    pipe = Pipeline(cfg)
    return [tuple((w.forward, w.backward) for w in r.stages) for r in pipe.run(stream(cfg, n))]


def test_two_layer_beat_schedule_by_hand():
    # stage l runs F for sample k-(l-1) and its backward for k-(2L-l)
    _ = None
    assert schedule_of(NetConfig((3, 4, 2)), 4) == [
        ((0, _), (_, _)),
        ((1, _), (0, _)),
        ((2, _), (1, 0)),
        ((3, 0), (2, 1)),
        ((_, 1), (3, 2)),
        ((_, 2), (_, 3)),
        ((_, 3), (_, _)),
    ]


def test_three_layer_beat_schedule_by_hand():
    _ = None
    assert schedule_of(NetConfig((3, 4, 4, 2)), 3) == [
        ((0, _), (_, _), (_, _)),
        ((1, _), (0, _), (_, _)),
        ((2, _), (1, _), (0, _)),
        ((_, _), (2, _), (1, 0)),
        ((_, _), (_, 0), (2, 1)),
        ((_, 0), (_, 1), (_, 2)),
        ((_, 1), (_, 2), (_, _)),
        ((_, 2), (_, _), (_, _)),
    ]


@pytest.mark.parametrize("widths", [(3, 2), (3, 4, 2), (5, 4, 4, 3), (2, 3, 3, 3, 2)])
def test_fill_and_drain_train_every_sample_once_in_order(widths):
    cfg = NetConfig(widths)
    pipe = Pipeline(cfg)
    n = 9
    reports = list(pipe.run(stream(cfg, n)))
    L = cfg.n_layers
    assert len(reports) == n + 2 * L - 1          # fills for 2L-1 beats and drains the same
    assert pipe.trained == list(range(n))
    assert [i for r in reports for i, *_ in r.results] == list(range(n))
    assert not pipe.in_flight


def test_gaps_in_the_stream_stall_no_sample():
    cfg = NetConfig((3, 4, 2))
    pipe = Pipeline(cfg)
    samples = stream(cfg, 3)
    # a beat without input still advances the samples already inside
    reports = [pipe.beat(samples[0]), pipe.beat(None), pipe.beat(samples[1]), pipe.beat(samples[2])]
    reports += list(pipe.run([]))
    assert pipe.trained == [0, 1, 2]


def independent_integer_sgd(cfg, samples, w0, b0):
    """Plain per-sample SGD in Python integers, loop by loop, from the rules of
    fixed_point.py's docstring only (round half up, then saturate)."""
    def rnd(x, s):
        return (x + (1 << (s - 1))) >> s if s > 0 else x << -s

    def sat(x, f):
        return max(-(1 << (f.width - 1)), min((1 << (f.width - 1)) - 1, x))

    A, Wf, G = cfg.act, cfg.weight, cfg.grad
    W = [[[int(v) for v in row] for row in Wf.quantize(w)] for w in w0]
    B = [[int(v) for v in Wf.quantize(b)] for b in b0]
    L = cfg.n_layers
    for s in samples:
        acts, zs = [[int(v) for v in s.x]], []
        for l in range(L):
            z = [sat(rnd(sum(W[l][j][i] * acts[-1][i] for i in range(len(acts[-1]))) + (B[l][j] << A.frac),
                         Wf.frac), A) for j in range(len(W[l]))]
            zs.append(z)
            acts.append([max(v, 0) for v in z] if l < L - 1 else z)
        y = [A.one if j == s.label else 0 for j in range(cfg.widths[-1])]
        g = [sat(rnd(a - t, A.frac - G.frac), G) for a, t in zip(acts[-1], y)]
        for l in reversed(range(L)):
            delta = g if l == L - 1 else [gi if zi > 0 else 0 for gi, zi in zip(g, zs[l])]
            g = [sat(rnd(sum(W[l][j][i] * delta[j] for j in range(len(delta))), Wf.frac), G)
                 for i in range(len(acts[l]))]
            for j in range(len(delta)):
                for i in range(len(acts[l])):
                    W[l][j][i] = sat(W[l][j][i] - rnd(delta[j] * acts[l][i], cfg.update_shift), Wf)
                B[l][j] = sat(B[l][j] - rnd(delta[j], cfg.bias_shift), Wf)
    return W, B


@pytest.mark.parametrize("widths, fmts, scale", [
    ((5, 4, 3), dict(), 1.0),
    # narrow formats, a large step and large initial weights: everything saturates
    ((6, 5, 4, 3), dict(act=Format(8, 5), weight=Format(6, 4), grad=Format(6, 3), lr_shift=0), 3.0),
])
def test_sequential_mode_is_plain_sgd(widths, fmts, scale):
    cfg = NetConfig(widths, mode="sequential", **fmts)
    samples = stream(cfg, 25)
    w0, b0 = initial_parameters(cfg)
    w0 = [w * scale for w in w0]
    pipe = Pipeline(cfg, parameters=(w0, b0))
    list(pipe.run(samples))
    W, B = independent_integer_sgd(cfg, samples, w0, b0)
    for l in range(cfg.n_layers):
        assert pipe.weights[l].tolist() == W[l], f"layer {l + 1} weights differ"
        assert pipe.biases[l].tolist() == B[l], f"layer {l + 1} biases differ"
    if scale > 1:
        limits = [cfg.weight.min, cfg.weight.max]
        assert any(np.isin(w, limits).any() for w in pipe.weights), "the saturating case did not saturate"


def test_layerpipe_and_pipedream_give_the_same_bits():
    data = datasets.load("iris", (4, 8, 3))
    a = train(NetConfig((4, 8, 3), mode="layerpipe"), data, 3)
    b = train(NetConfig((4, 8, 3), mode="pipedream"), data, 3)
    for wa, wb in zip(a.pipeline.weights + a.pipeline.biases, b.pipeline.weights + b.pipeline.biases):
        assert np.array_equal(wa, wb)
    assert a.loss_curve == b.loss_curve


@pytest.mark.parametrize("mode", ["layerpipe", "sequential"])
def test_integer_model_tracks_float_twin_when_formats_are_wide(mode):
    cfg = NetConfig((64, 16, 10), mode=mode, act=Format(24, 16), weight=Format(24, 18), grad=Format(24, 18))
    data = datasets.load("digits", cfg.widths)
    ia, fa = IntegerArithmetic(cfg), FloatArithmetic(cfg)
    pi, pf = Pipeline(cfg, ia), Pipeline(cfg, fa)
    # step by step, until a ReLU near zero flips one way in one model and the
    # other way in the other (a chaotic, not a systematic, difference)
    for si, sf in zip(list(sample_stream(data, ia, 1, 0))[:40], sample_stream(data, fa, 1, 0)):
        pi.beat(si), pf.beat(sf)
        err = max(np.max(np.abs(cfg.weight.to_float(w) - v)) for w, v in zip(pi.weights, pf.weights))
        assert err < 1e-4, f"sample {si.index}: integer and float weights differ by {err}"
    # and over an epoch they learn the same
    i, f = train(cfg, data, 1), train(cfg, data, 1, use_float=True)
    assert abs(i.final_loss - f.final_loss) < 0.05 * f.final_loss
    assert abs(i.test_accuracy - f.test_accuracy) <= 0.02


def test_same_seed_same_bits_other_seed_other_bits():
    data = datasets.load("iris", (4, 8, 3))
    cfg = NetConfig((4, 8, 3), seed=7)
    a, b = train(cfg, data, 2), train(cfg, data, 2)
    c = train(cfg.replace(seed=8), data, 2)
    assert all(np.array_equal(x, y) for x, y in zip(a.pipeline.weights, b.pipeline.weights))
    assert not all(np.array_equal(x, y) for x, y in zip(a.pipeline.weights, c.pipeline.weights))


def test_stream_is_the_seeded_epoch_permutations():
    data = datasets.load("iris", (4, 8, 3))
    n = len(data.x_train)
    orders = [data.epoch_order(e, seed=3) for e in range(2)]
    assert all(sorted(o.tolist()) == list(range(n)) for o in orders)
    assert orders[0].tolist() != orders[1].tolist()
    assert orders[0].tolist() == data.epoch_order(0, seed=3).tolist()
    ar = IntegerArithmetic(NetConfig((4, 8, 3)))
    s = list(sample_stream(data, ar, 2, seed=3))
    assert [x.index for x in s] == list(range(2 * n))
    assert [x.label for x in s] == data.y_train[np.concatenate(orders)].tolist()

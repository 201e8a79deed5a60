"""The design plan: every hardware decision of a :class:`NetConfig` on a
:class:`~layerpipe.hw.target.Target`, resolved once.

:func:`plan_design` turns a config and a target into a :class:`DesignPlan`:
per layer a frozen :class:`LayerPlan` (lanes, columns per cycle, passes,
words per row, sweep cycles, delay and delay-FIFO depth, backward
organisation, its MAC units with their multipliers and DSP blocks, on-chip
memory bits) and, for the design, cycles per beat and per sample (and what
bounds them), the MAC bound, multipliers and DSP blocks. The gateware takes
its numbers from here (a :class:`~layerpipe.hw.stage.Stage` takes its
layer's plan), the manifest is this plan serialised
(:meth:`DesignPlan.manifest`), and :func:`load_manifest` rebuilds the
identical plan from it, so every formula below exists once.

Cycles (DESIGN.md 3; measured in RTL by ``layerpipe sim``):

- a unit running tasks T (one sweep each, in order) on ``lanes`` rows and
  ``cols`` columns per cycle sweeps ``passes * ceil(n_in / cols) * len(T)``
  cycles, passes = ceil(n_out / lanes); a stage's sweep is its slowest
  unit's, and its beat is the sweep plus :func:`stage_latency` cycles;
- the design's beat is the slowest stage's;
- a sample comes in ``sample_values`` inputs per transfer (stage 1's
  columns), admitted the cycle after its last transfer (``input_cycles`` =
  ceil(n_0 / sample_values) + 1, at most stage 1's sweep + 1), and its
  result leaves ``result_values`` outputs per transfer before the next beat
  may start (``output_cycles`` = ceil(n_L / result_values) + 1, where
  result_values is the fewest that keep output_cycles within a beat);
- pipelined modes: cycles per sample = max(beat, input_cycles,
  output_cycles); ``sequential`` runs 2L beats per sample, the beat after
  stage L's forward lasting at least output_cycles: (2L - 1) * beat +
  max(beat, output_cycles), and at least input_cycles.
"""
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

from amaranth.lib import data

from .config import NetConfig, pipeline_delays
from .errors import LayerPipeError
from .fixed_point import Format
from .payload import payload_fields
from .schedule import scheme_tasks
from .target import DEFAULT_TARGET, Target
from .zoo import mlp

MANIFEST_VERSION = 1


def stage_latency(operand_registers=1):
    """A stage's beat beyond its sweep (cycles): the slower unit's latency
    (forward: the MAC array's operand and product registers, column sum,
    accumulator; act_grad_a: operand and product registers, lane sum,
    total: 4 each with one operand register stage, 3 without, 5 with two, see
    :attr:`~layerpipe.hw.target.Target.operand_registers`) after the last
    column is issued; the last of these cycles is already the next beat's
    start. The memory reads take no cycle of their own: a sweep addresses the
    weight memory and the delay FIFO with the next values of its counters
    (:class:`~layerpipe.hw.sweep.Sweep`), so a column's words arrive in the
    cycle it is issued; the units' outputs leave their last register
    combinationally into a register of the unit that takes them. The same
    figure ends a multiprocessor period (:mod:`layerpipe.hw.processor_plan`).
    The units state their own latencies; they are imported here, not at the
    top, because act_grad_a imports this module."""
    from .act_grad_a import ActGradA
    from .forward_unit import ForwardUnit
    return max(ForwardUnit.latency_of(operand_registers), ActGradA.latency_of(operand_registers))


# LUT4s of a stage's sequencing (beat FSM, sweep counters, FIFO pointers) and of the
# pipeline's (loader, beat control, status counters), roughly, for LayerPlan.luts
STAGE_CONTROL_LUTS = 150
PIPELINE_CONTROL_LUTS = 250
# backward organisation -> columns its backward unit takes per cycle (and per weight-memory word)
BACKWARD_COLS = {"lockstep": 1, "b_then_w": 2}


def ceil_div(a, b):
    return -(-a // b)


def passes_of(n_out, lanes):
    """Passes of ``lanes`` rows that cover ``n_out`` rows: ceil(n_out / lanes)."""
    return ceil_div(n_out, lanes)


def words_of(n, per_word):
    """Memory words that hold ``n`` values, ``per_word`` to a word: ceil(n / per_word)."""
    return ceil_div(n, per_word)


def fifo_slots_of(delay):
    """Samples a delay FIFO of ``delay`` beats holds at once: a sample is
    written a beat before its forward and read ``delay`` beats after it."""
    return delay + 2


@dataclass(frozen=True)
class UnitPlan:
    """One MAC unit of a stage: ``lanes`` rows times ``cols`` columns of
    products per cycle, running ``tasks`` (``F``, ``W``, ``B(a)``) one sweep
    each, in order, on ``a_width`` x ``b_width`` signed operands.
    ``dsp_blocks``: the target's blocks for all its products."""
    name: str
    tasks: tuple
    lanes: int
    cols: int
    a_width: int
    b_width: int
    dsp_blocks: int

    @property
    def multipliers(self):
        return self.lanes * self.cols

    def sweep_cycles(self, n_in, n_out):
        """Cycles in which the unit issues columns in one beat."""
        return passes_of(n_out, self.lanes) * words_of(n_in, self.cols) * len(self.tasks)


# a task's products (DESIGN.md 4): forward W x a, weight gradient delta x a, activation gradient W x delta
_OPERANDS = {"F": ("weight", "act"), "W": ("grad", "act"), "B(a)": ("weight", "grad")}


def task_operands(tasks, act, weight, grad):
    """(a_width, b_width) in bits of the products of ``tasks`` (names "F", "W", "B(a)") on one MAC
    array, given the number formats: the widest of each operand over the tasks."""
    formats = {"act": act, "weight": weight, "grad": grad}
    return tuple(max(formats[_OPERANDS[t][k]].width for t in tasks) for k in (0, 1))


def _unit(name, tasks, lanes, cols, act, weight, grad, target):
    a_width, b_width = task_operands(tasks, act, weight, grad)
    return UnitPlan(name, tasks, lanes, cols, a_width, b_width,
                    lanes * cols * target.dsp_blocks_per_product(a_width, b_width))


def _units(lanes, cols, backward, act, weight, grad, act_grad_a, target):
    """The MAC units of a stage. ``lockstep`` (LayerPipe): forward, weight_grad
    and (past layer 1) act_grad_a, each ``lanes`` x ``cols``, sharing one
    sweep. ``b_then_w`` (PipeDream's backward as one task): forward
    ``lanes`` x ``cols`` and one backward unit of ``lanes`` x ``2 cols`` that
    runs B(a), then W: the same multipliers as lockstep's two."""
    units = [_unit("forward", ("F",), lanes, cols, act, weight, grad, target)]
    if backward == "b_then_w":
        units.append(_unit("backward (B then W)", ("B(a)", "W"), lanes, cols * BACKWARD_COLS[backward],
                           act, weight, grad, target))
        return tuple(units)
    units.append(_unit("weight_grad", ("W",), lanes, cols, act, weight, grad, target))
    if act_grad_a:
        units.append(_unit("act_grad_a", ("B(a)",), lanes, cols, act, weight, grad, target))
    return tuple(units)


@dataclass(frozen=True)
class LayerPlan:
    """Every hardware figure of one layer's stage (shapes in values, time in
    cycles or beats, memory in bits).

    layer        l, from 1
    n_in, n_out  n_{l-1}, n_l
    lanes        rows of W one pass covers
    cols         adjacent columns forward (and a lockstep backward) takes per cycle;
                 a unit is lanes x cols multipliers
    backward     ``lockstep`` or ``b_then_w`` (see :data:`BACKWARD_COLS`)
    act, weight, grad   number formats
    hidden       ReLU (else the linear output layer)
    act_grad_a   whether the stage runs B(a) (not on layer 1)
    delay        beats a sample waits in the delay FIFO, 2(L-l)+1 (DESIGN.md 3)
    in_lanes     values per write into the delay FIFO (the producer's lanes; the input
                 loader's ``sample_values`` = cols on layer 1)
    grad_lanes   values per write of g_l (the output error's lanes, or layer l+1's ``word_cols``)
    update_shift, bias_shift   right shifts of the weight and bias update
    acc_width, g_acc_width     forward and act_grad_a accumulator widths (bits)
    units        the MAC units (:class:`UnitPlan`)
    operand_registers   the target's (:attr:`~layerpipe.hw.target.Target.operand_registers`)
    handover_bypass   whether the delay FIFO's forward read port is transparent for its
                 write port (:func:`handover_bypass`); True unless :func:`layer_plans` shows
                 it is not needed
    """
    layer: int
    n_in: int
    n_out: int
    lanes: int
    cols: int
    backward: str
    act: Format
    weight: Format
    grad: Format
    hidden: bool
    act_grad_a: bool
    delay: int
    in_lanes: int
    grad_lanes: int
    update_shift: int
    bias_shift: int
    acc_width: int
    g_acc_width: int
    units: tuple
    handover_bypass: bool = True
    operand_registers: int = 1

    @property
    def word_cols(self):
        """Columns per weight-memory word: the most any unit takes per cycle
        (the backward's: ``cols``, or ``2 cols`` for ``b_then_w``)."""
        return max(u.cols for u in self.units)

    @property
    def passes(self):
        return passes_of(self.n_out, self.lanes)

    @property
    def words_per_row(self):
        """Weight-memory words per row block: ceil(n_in / word_cols)."""
        return words_of(self.n_in, self.word_cols)

    @property
    def weight_words(self):
        """Depth of each weight-memory bank."""
        return self.passes * self.words_per_row

    @property
    def banks(self):
        return self.word_cols * self.lanes

    @property
    def fifo_values(self):
        """Values per delay-FIFO memory word: lcm of the write and read widths
        (:class:`~layerpipe.hw.delay_fifo.DelayFifo`)."""
        from .delay_fifo import DelayFifo
        return DelayFifo.word_values_of(self.in_lanes, self.cols, self.word_cols)

    @property
    def fifo_words(self):
        """Delay-FIFO memory words per sample (``fifo_values`` values each)."""
        return words_of(self.n_in, self.fifo_values)

    @property
    def fifo_slots(self):
        return fifo_slots_of(self.delay)

    @property
    def sweep_cycles(self):
        """Cycles in which the stage issues columns: its slowest unit's."""
        return max(u.sweep_cycles(self.n_in, self.n_out) for u in self.units)

    @property
    def cycles_per_beat(self):
        """``start`` to the earliest next ``start`` (Stage's contract)."""
        return self.sweep_cycles + stage_latency(self.operand_registers)

    @property
    def multipliers(self):
        return sum(u.multipliers for u in self.units)

    @property
    def dsp_blocks(self):
        return sum(u.dsp_blocks for u in self.units)

    @property
    def memory_bits(self):
        """On-chip storage of the stage: ``weights``, ``delay_fifo`` and
        ``partial_sums`` (act_grad_a's exact sums of earlier passes, one
        memory per column) are memories (block RAM or LUT RAM), ``registers``
        are flip-flops (f' bits, biases, the g/delta buffers)."""
        regs = self.n_out * self.weight.width + 2 * self.n_out * self.grad.width
        if self.hidden:
            regs += self.fifo_slots * self.passes * self.lanes
        partial = self.word_cols * self.words_per_row * self.g_acc_width if self.act_grad_a and self.passes > 1 else 0
        return {"weights": self.banks * self.weight_words * self.weight.width,
                "delay_fifo": self.fifo_slots * self.fifo_words * self.fifo_values * self.act.width,
                "partial_sums": partial, "registers": regs}

    @property
    def luts(self):
        """Estimated LUT4s of the stage's logic: one LUT per bit of every adder,
        comparator and two-way multiplexer, counted from the RTL's structure
        (a carry-chain bit is one LUT on both families; a k-way multiplexer of
        a value is k-1 two-way ones, about (k-1)/2 LUT4s per bit). The
        structures: forward's accumulate (add, bias/first mux) and
        narrow-and-ReLU per lane; weight_grad's round, subtract and saturate
        per product; act_grad_a's lane sum, partial add and narrow per column;
        per output neuron the bias update and the g/delta buffers; the
        pass-indexed selects of biases and deltas; the delay FIFO's value
        select. Sequencing adds a fixed :data:`STAGE_CONTROL_LUTS`. Compare
        with nextpnr's figure in ``layerpipe synth``'s report."""
        P, C, a, w, g = self.lanes, self.word_cols, self.act.width, self.weight.width, self.grad.width
        F, V = self.cols, self.fifo_values
        luts = P * (2 * self.acc_width + 3 * a)                      # forward
        luts += P * (F - 1) * self.acc_width                         # forward's sum over its columns
        luts += P * C * (g + a + 3 * w)                              # weight_grad: round, subtract, saturate
        if self.act_grad_a:                                          # act_grad_a: lane sum, partial, narrow
            luts += C * (P * self.g_acc_width + 3 * g)
        luts += self.n_out * (3 * w + 2 * g)                         # bias update, g and delta buffers
        luts += P * (w + g) * (self.passes - 1) // 2                 # per-pass selects of biases and deltas
        luts += (F * (V // F - 1) + C * (V // C - 1)) * a // 2       # delay FIFO group selects
        return luts + STAGE_CONTROL_LUTS

    def ebr_blocks(self, target):
        """Block RAMs of ``target`` the stage's memories take (each bank, the FIFO)."""
        partial = self.word_cols * target.ebr_for(self.g_acc_width, self.words_per_row) \
            if self.act_grad_a and self.passes > 1 else 0
        return self.banks * target.ebr_for(self.weight.width, self.weight_words) + \
            target.ebr_for(self.fifo_values * self.act.width, self.fifo_slots * self.fifo_words) + partial

    def to_dict(self):
        return {"layer": self.layer, "n_in": self.n_in, "n_out": self.n_out, "lanes": self.lanes,
                "cols": self.cols, "word_cols": self.word_cols, "backward": self.backward, "passes": self.passes,
                "words_per_row": self.words_per_row, "sweep_cycles": self.sweep_cycles,
                "cycles_per_beat": self.cycles_per_beat, "delay": self.delay, "fifo_slots": self.fifo_slots,
                "in_lanes": self.in_lanes, "grad_lanes": self.grad_lanes, "fifo_values": self.fifo_values,
                "units": {u.name: {"tasks": list(u.tasks), "lanes": u.lanes, "cols": u.cols,
                                   "operands": [u.a_width, u.b_width], "multipliers": u.multipliers,
                                   "dsp_blocks": u.dsp_blocks} for u in self.units},
                "multipliers": self.multipliers, "dsp_blocks": self.dsp_blocks, "memory_bits": self.memory_bits,
                "handover_bypass": self.handover_bypass, "operand_registers": self.operand_registers}


def plan_layer(*, n_in, n_out, lanes, cols=1, act, weight, grad, hidden, act_grad_a, delay, in_lanes, grad_lanes,
               update_shift, bias_shift, acc_width, g_acc_width, backward="lockstep", layer=1,
               target=DEFAULT_TARGET):
    """A :class:`LayerPlan` from its parameters (for one stage on its own;
    :func:`plan_design` derives them for a whole network). Raises ValueError
    for a backward organisation that does not exist or cannot be built."""
    if backward not in BACKWARD_COLS:
        raise ValueError(f"backward must be one of {tuple(BACKWARD_COLS)}, not {backward!r}")
    if backward == "b_then_w" and not act_grad_a:
        raise ValueError("backward='b_then_w' needs act_grad_a (layer 1's backward is W alone)")
    return LayerPlan(layer, n_in, n_out, lanes, cols, backward, act, weight, grad, hidden, act_grad_a, delay,
                     in_lanes, grad_lanes, update_shift, bias_shift, acc_width, g_acc_width,
                     _units(lanes, cols, backward, act, weight, grad, act_grad_a, target),
                     operand_registers=target.operand_registers)


def backward_of(mode, layer):
    """``b_then_w`` for PipeDream's stages past the first, else ``lockstep``."""
    return "b_then_w" if mode == "pipedream" and layer > 1 else "lockstep"


def layer_plans(cfg, lanes, cols, target=DEFAULT_TARGET):
    """The :class:`LayerPlan` of every layer of ``cfg`` with ``lanes`` and ``cols``, each
    with its :func:`handover_bypass` for the beat of these layers."""
    layers = tuple(_layer_plan(cfg, l, lanes[l - 1], cols[l - 1], lanes[l - 2] if l > 1 else None,
                               cols[l] if l < cfg.n_layers else None, target) for l in range(1, cfg.n_layers + 1))
    sweep = max(p.sweep_cycles for p in layers)
    return tuple(replace(p, handover_bypass=l > 1 and handover_bypass(layers[l - 2], p, sweep))
                 for l, p in enumerate(layers, 1))


def handover_bypass(producer, consumer, sweep):
    """Whether ``consumer``'s first forward read can meet the write of the values it
    reads in the same cycle, so that its delay FIFO needs a transparent read port.

    The producer's forward writes pass r's outputs into the consumer's FIFO at the
    edge ending cycle (r + 1) * F - 1 + ``ForwardUnit.latency_of(...)`` of the beat (F its
    cycles per pass; the outputs leave the accumulators unregistered); the consumer
    addresses its first word in the beat's last cycle, ``sweep`` +
    ``stage_latency()`` - 1, and uses the values 0 .. cols - 1 of it, written by
    passes up to r* = (cols - 1) // lanes. With the forward latency equal to the
    fixed cycles the two meet only when pass r* ends the beat's sweep; a cycle of
    margin is kept. Most designs (64-32-10 on any budget) need no bypass, which on
    the iCE40 costs a flip-flop and a LUT per bit of the FIFO's word."""
    from .forward_unit import ForwardUnit
    last_pass = (min(consumer.cols, consumer.n_in) - 1) // producer.lanes
    written = (last_pass + 1) * words_of(producer.n_in, producer.cols) + ForwardUnit.latency_of(
        producer.operand_registers)
    return written >= sweep + stage_latency(producer.operand_registers) - 1


def _layer_plan(cfg, l, lanes, cols, lanes_before, cols_after, target):
    """Layer ``l``'s plan; ``lanes_before`` (layer l-1's, None on layer 1) and ``cols_after``
    (layer l+1's, None on layer L) set the widths of its delay FIFO's writes and of g's."""
    L, w = cfg.n_layers, cfg.widths
    # the FIFO's hardware delay is the pipelined one in every mode: sequential runs the same stages
    delay = pipeline_delays(L)[l - 1]
    return plan_layer(
        layer=l, n_in=w[l - 1], n_out=w[l], lanes=lanes, cols=cols, act=cfg.act, weight=cfg.weight, grad=cfg.grad,
        hidden=l < L, act_grad_a=l > 1, delay=delay,
        # a_{l-1} comes from the input loader (stage 1's columns per transfer) or a pass of layer l-1's lanes
        in_lanes=cols if l == 1 else (lanes_before or 1),
        # g_l comes from the output error (a pass of lanes) or act_grad_a of layer l+1 (its word_cols)
        grad_lanes=lanes if l == L else (cols_after or 1) * BACKWARD_COLS[backward_of(cfg.mode, l + 1)],
        update_shift=cfg.update_shift, bias_shift=cfg.bias_shift, acc_width=cfg.forward_acc_width(l),
        g_acc_width=cfg.act_grad_acc_width(l), backward=backward_of(cfg.mode, l), target=target)


def beats_per_sample(mode, n_layers):
    """Beats one sample takes in steady state: 2L in ``sequential`` (one sample in flight), else 1."""
    return 2 * n_layers if mode == "sequential" else 1


def fill_beats(mode, n_layers):
    """Beats beyond ``beats_per_sample`` per sample that a run of samples takes: 2L-1 to fill
    (and drain) the pipeline; 0 in ``sequential``."""
    return 0 if mode == "sequential" else 2 * n_layers - 1


def result_values(n_out, beat):
    """Outputs per result transfer: the fewest with which a result leaves within a
    beat (ceil(n_out / values) transfers in beat - 1 cycles, the module docstring)."""
    return words_of(n_out, max(beat - 1, 1))


def sample_bounds(widths, mode, beat, sample_values=1, result_values=1):
    """Cycles per sample in steady state, and what bounds it (module docstring):
    ``{"input_cycles": ceil(n_0 / sample_values) + 1, "output_cycles": ceil(n_L / result_values) + 1,
    "cycles_per_sample": ..., "bound": "beat" | "input" | "output"}``."""
    L = len(widths) - 1
    inp, out = words_of(widths[0], sample_values) + 1, words_of(widths[-1], result_values) + 1
    # the beats of a sample, the one after stage L's forward waiting for the results to leave
    beats = (beats_per_sample(mode, L) - 1) * beat + max(beat, out)
    if beats >= inp:
        bound = "beat" if beat >= out else "output"
    else:
        bound = "input"
    return {"input_cycles": inp, "output_cycles": out, "cycles_per_sample": max(beats, inp), "bound": bound}


def choose_shape(cfg, target=DEFAULT_TARGET):
    """(lanes, cols) per layer that minimise the beat, and so the cycles per
    sample, under the target's DSP blocks; ``cfg.lanes`` / ``cfg.cols``, where
    given, fix that side.

    For a sweep bound T each layer on its own needs, per lane count, the
    fewest columns with which its slowest unit sweeps in at most T cycles
    (a binary search: sweeps only shorten as columns grow), and takes the lane
    count that needs the fewest DSP blocks (ties: the squarer unit, smaller
    max(lanes, cols), then fewer lanes). T is the least bound whose layers
    fit the budget together (again a binary search: the cheapest cost only
    falls as T grows). Input and result transfers never bound the beat (the
    sample stream carries stage 1's columns per transfer, the result stream
    as many outputs as a beat needs), so the least sweep is the least beat;
    ``tests/test_pipeline.py`` checks the choice against an exhaustive search.
    Layers see each other only in the widths of their FIFO writes and g
    (which cost memory width, not cycles or multipliers), so they are
    planned with lanes_before = cols_after = 1 here.

    Raises LayerPipeError (``dsp_budget``) if the smallest units do not fit
    (with ``cfg.lanes`` given, the fewest columns are returned and
    :func:`plan_design` refuses or marks the design over budget).
    """
    L, w = cfg.n_layers, cfg.widths

    def cost(l, lanes, cols):
        p = _layer_plan(cfg, l, lanes, cols, None, None, target)
        return p.sweep_cycles, p.dsp_blocks

    def fewest_cols(l, lanes, T):
        if cfg.cols is not None:
            return cfg.cols[l - 1] if cost(l, lanes, cfg.cols[l - 1])[0] <= T else None
        lo, hi = 1, w[l - 1]
        if cost(l, lanes, hi)[0] > T:
            return None
        while lo < hi:
            mid = (lo + hi) // 2
            if cost(l, lanes, mid)[0] <= T:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def cheapest(T):
        picks, blocks = [], 0
        for l in range(1, L + 1):
            best = None
            for lanes in ([cfg.lanes[l - 1]] if cfg.lanes is not None else range(1, w[l] + 1)):
                cols = fewest_cols(l, lanes, T)
                if cols is not None:
                    key = (cost(l, lanes, cols)[1], max(lanes, cols), lanes)
                    best = min(best or (key, (lanes, cols)), (key, (lanes, cols)))
            if best is None:
                return None, None
            picks.append(best[1])
            blocks += best[0][0]
        return picks, blocks

    smallest = [(cfg.lanes[l - 1] if cfg.lanes is not None else 1, cfg.cols[l - 1] if cfg.cols is not None else 1)
                for l in range(1, L + 1)]
    hi = max(cost(l, *lc)[0] for l, lc in enumerate(smallest, 1))
    if cfg.lanes is not None and cfg.cols is not None:
        return tuple(cfg.lanes), tuple(cfg.cols)
    picks, blocks = cheapest(hi)
    if blocks > target.dsp_blocks and cfg.lanes is not None:
        return tuple(cfg.lanes), tuple(c for _, c in picks)    # forced lanes: plan_design judges the budget
    if blocks > target.dsp_blocks:
        raise LayerPipeError(f"dsp_budget: {target.dsp_blocks} DSP blocks cannot hold the smallest units "
                             f"({blocks} needed for lanes {[p for p, _ in picks]}, cols {[c for _, c in picks]})")
    lo = 1
    while lo < hi:
        mid = (lo + hi) // 2
        picks, blocks = cheapest(mid)
        if picks is not None and blocks <= target.dsp_blocks:
            hi = mid
        else:
            lo = mid + 1
    picks, _ = cheapest(lo)
    return tuple(p for p, _ in picks), tuple(c for _, c in picks)


@dataclass(frozen=True)
class DesignPlan:
    """A whole design: its config (lanes resolved), target and layer plans.

    Figures (cycles unless named): ``cycles_per_beat``, ``cycles_per_sample``
    and its ``bound`` (``beat``, ``input`` or ``output``), ``input_cycles``,
    ``output_cycles``, ``beats_per_sample``, ``fill_beats``,
    ``macs_per_sample``, ``multipliers`` (products per cycle),
    ``dsp_blocks`` (the target's blocks for them), ``mac_bound_cycles_per_sample``
    (MACs / multipliers), ``delays`` (samples), ``memory_bits``.
    ``name`` and ``digest`` identify the hardware: they cover the config,
    the resolved lanes and columns and the target.
    """
    config: NetConfig
    target: Target
    layers: tuple
    over_budget: bool = False

    @property
    def lanes(self):
        return tuple(p.lanes for p in self.layers)

    @property
    def cols(self):
        return tuple(p.cols for p in self.layers)

    @property
    def sample_values(self):
        """Inputs per sample-stream transfer: stage 1's columns, so loading never starves a beat."""
        return self.layers[0].cols

    @property
    def result_values(self):
        """Outputs per result-stream transfer (:func:`result_values`)."""
        return result_values(self.widths[-1], self.cycles_per_beat)

    @property
    def n_layers(self):
        return self.config.n_layers

    @property
    def widths(self):
        return self.config.widths

    @property
    def mode(self):
        return self.config.mode

    @property
    def delays(self):
        return self.config.delays

    @property
    def cycles_per_beat(self):
        """The slowest stage's beat: a beat starts when every stage is idle."""
        return max(p.cycles_per_beat for p in self.layers)

    @property
    def beats_per_sample(self):
        return beats_per_sample(self.mode, self.n_layers)

    @property
    def fill_beats(self):
        return fill_beats(self.mode, self.n_layers)

    @property
    def bounds(self):
        return sample_bounds(self.widths, self.mode, self.cycles_per_beat, self.sample_values, self.result_values)

    @property
    def cycles_per_sample(self):
        return self.bounds["cycles_per_sample"]

    @property
    def macs_per_sample(self):
        """MACs of one training step: the scheduler's task costs (DESIGN.md 3b)."""
        return sum(t.macs for t in scheme_tasks(mlp(self.widths).layers, "layerpipe"))

    @property
    def multipliers(self):
        return sum(p.multipliers for p in self.layers)

    @property
    def weight_count(self):
        """Weights of the network (biases not counted)."""
        return sum(p.n_in * p.n_out for p in self.layers)

    @property
    def dsp_blocks(self):
        return sum(p.dsp_blocks for p in self.layers)

    @property
    def mac_bound_cycles_per_sample(self):
        return self.macs_per_sample / self.multipliers

    @property
    def memory_bits(self):
        """Bits of on-chip storage: ``weights``, ``delay_fifo`` and ``partial_sums`` (memories),
        ``registers`` (including the result buffers), ``ram`` (the memories' sum)."""
        total = {"weights": 0, "delay_fifo": 0, "partial_sums": 0,
                 "registers": 2 * self.widths[-1] * self.config.act.width}
        for p in self.layers:
            for k, v in p.memory_bits.items():
                total[k] += v
        total["ram"] = total["weights"] + total["delay_fifo"] + total["partial_sums"]
        return total

    @property
    def luts(self):
        """Estimated LUT4s (:attr:`LayerPlan.luts`), plus the result buffer and the
        weight read-back select of the pipeline."""
        cfg = self.config
        readback = sum(p.banks * cfg.weight.width // 2 + p.n_out * cfg.weight.width // 2 for p in self.layers)
        return sum(p.luts for p in self.layers) + 2 * self.widths[-1] * cfg.act.width + readback + \
            PIPELINE_CONTROL_LUTS

    @property
    def ebr_blocks(self):
        """Block RAMs of the target's family the memories take (estimate: every memory in block RAM)."""
        return sum(p.ebr_blocks(self.target) for p in self.layers)

    def identity(self):
        """Everything that changes the hardware."""
        return {"version": MANIFEST_VERSION, "config": self.config.to_dict(), "cols": list(self.cols),
                "target": self.target.to_dict()}

    @property
    def digest(self):
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:12]

    @property
    def name(self):
        """The Verilog module name: widths, mode and the digest."""
        return f"layerpipe_{'_'.join(map(str, self.widths))}_{self.mode}_{self.digest}"

    def port_layouts(self):
        """Payload layouts of the top-level streams and the status word."""
        from .input_loader import InputLoader
        from .result_buffer import ResultBuffer
        cfg = self.config
        return {"samples": InputLoader.sample_layout_of(self.sample_values, cfg.act, self.widths[-1]),
                "results": ResultBuffer.result_layout_of(self.result_values, cfg.act, self.widths[-1]),
                "status": data.StructLayout({"beats": 32, "trained": 32, "framing_error": 1, "idle": 1})}

    def manifest(self):
        """The plan serialised (JSON-able): what simulation, synthesis, the host
        driver and benchmarks read; :func:`load_manifest` inverts it."""
        cfg, b = self.config, self.bounds
        mem = self.memory_bits
        sweeps = [p.sweep_cycles for p in self.layers]
        return {
            "format": "layerpipe-manifest", "version": MANIFEST_VERSION,
            "name": self.name, "digest": self.digest, "config": cfg.to_dict(), "target": self.target.to_dict(),
            "numbers": cfg.numbers, "widths": list(self.widths), "mode": self.mode,
            "lanes": list(self.lanes), "cols": list(self.cols),
            "cycles_per_beat": self.cycles_per_beat, "cycles_per_sample": self.cycles_per_sample,
            "bound": b["bound"], "input_cycles": b["input_cycles"], "output_cycles": b["output_cycles"],
            "beats_per_sample": self.beats_per_sample, "fill_beats": self.fill_beats,
            "sweep_cycles": [p.sweep_cycles for p in self.layers],
            "units": [{u.name: u.multipliers for u in p.units} for p in self.layers],
            "layers": [p.to_dict() for p in self.layers],
            "macs_per_sample": self.macs_per_sample, "multipliers": self.multipliers,
            "dsp_blocks": self.dsp_blocks, "over_budget": self.over_budget,
            "mac_bound_cycles_per_sample": self.mac_bound_cycles_per_sample,
            # how close the beat comes to the physical limit, and what sets it
            "budget_used": self.dsp_blocks / self.target.dsp_blocks if self.target.dsp_blocks else None,
            "beat_to_mac_bound": self.cycles_per_beat / self.mac_bound_cycles_per_sample,
            "beat_bound": f"the sweep of layer {1 + sweeps.index(max(sweeps))} ({max(sweeps)} cycles) "
                          f"plus {stage_latency(self.target.operand_registers)} fixed cycles",
            "delays": list(self.delays), "memory_bits": mem,
            "expected_resources": {"dsps": self.dsp_blocks, "ebr": self.ebr_blocks, "ram_bits": mem["ram"],
                                   "luts": self.luts},
            # payload fields of the streams; the sample stream carries sample_values inputs per
            # transfer (x[0..]), the result stream result_values outputs (a[0..], 0 past n_L)
            "ports": {k: payload_fields(v) for k, v in self.port_layouts().items()},
            "sample_values": self.sample_values, "result_values": self.result_values,
        }


def plan_design(cfg, target=DEFAULT_TARGET, allow_over_budget=False):
    """Resolve ``cfg`` on ``target`` into a :class:`DesignPlan`.

    Lanes and columns are ``cfg.lanes`` / ``cfg.cols`` or :func:`choose_shape`'s. Raises LayerPipeError,
    before anything is built, when the lanes need more DSP blocks than the
    target has (``lanes``; with ``allow_over_budget`` the plan is made and
    marked ``over_budget``) or the memories more bits than a named target's
    block RAM and SPRAM (``memory``).
    """
    lanes, cols = choose_shape(cfg, target)
    layers = layer_plans(cfg, lanes, cols, target)
    plan = DesignPlan(cfg.replace(lanes=tuple(lanes), cols=tuple(cols)), target, layers)
    over = plan.dsp_blocks > target.dsp_blocks
    if over and not allow_over_budget:
        raise LayerPipeError(
            f"lanes: {','.join(map(str, lanes))} need {plan.dsp_blocks} DSP blocks ({target.dsp_name}, from "
            f"{plan.multipliers} multipliers); the budget is {target.dsp_blocks} (--dsp-budget or --target)")
    ram, have = plan.memory_bits["ram"], target.memory_bits
    if have and ram > have:
        raise LayerPipeError(
            f"memory: the design needs {ram / 1024:.0f} kbit of RAM (weights, delay FIFOs, partial sums); "
            f"{target.name} has {have / 1024:.0f} kbit")
    if target.luts and plan.luts > target.luts:
        raise LayerPipeError(
            f"luts: the design needs about {plan.luts:,} LUT4s (estimate, lanes {','.join(map(str, lanes))}); "
            f"{target.name} has {target.luts:,}")
    return replace(plan, over_budget=over)


def load_manifest(source):
    """The :class:`DesignPlan` a manifest (a path to ``manifest.json`` or its
    parsed dict) describes, rebuilt from its config and target and checked
    field by field against the manifest. Raises LayerPipeError naming the
    field of a malformed manifest, one of another version, or one that
    contradicts itself."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            m = json.loads(path.read_text())
        except OSError as e:
            raise LayerPipeError(f"manifest: cannot read {str(path)!r}: {e.strerror}") from None
        except ValueError as e:
            raise LayerPipeError(f"manifest: {str(path)!r} is not JSON ({e})") from None
    else:
        m = source
    if not isinstance(m, dict) or m.get("format") != "layerpipe-manifest":
        raise LayerPipeError("manifest: format: not a layerpipe manifest")
    if m.get("version") != MANIFEST_VERSION:
        raise LayerPipeError(f"manifest: version: {m.get('version')!r}, this layerpipe reads version "
                             f"{MANIFEST_VERSION}; generate it again")
    for key in ("config", "target"):
        if key not in m:
            raise LayerPipeError(f"manifest: {key}: missing")
    try:
        cfg = NetConfig.from_dict(m["config"])
        target = Target.from_dict(m["target"])
    except LayerPipeError as e:
        raise LayerPipeError(f"manifest: {e}") from None
    for key in ("lanes", "cols"):
        if getattr(cfg, key) is None:
            raise LayerPipeError(f"manifest: config.{key}: missing (a manifest's {key} are resolved)")
    if "processors" in m:
        from .processor_plan import processors_of_manifest, plan_processors
        plan = plan_processors(cfg, target, *processors_of_manifest(m), allow_over_budget=m.get("over_budget") is True)
    else:
        plan = plan_design(cfg, target, allow_over_budget=m.get("over_budget") is True)
    want = json.loads(json.dumps(plan.manifest()))
    for key in sorted(set(want) | set(m)):
        if key not in m:
            raise LayerPipeError(f"manifest: {key}: missing")
        if key not in want:
            raise LayerPipeError(f"manifest: {key}: unknown field")
        if m[key] != want[key]:
            raise LayerPipeError(f"manifest: {key}: {_short(m[key])} contradicts the config and target, "
                                 f"which give {_short(want[key])}")
    return plan


def _short(value):
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."

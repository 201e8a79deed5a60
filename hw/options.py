"""Command-line options shared by the subcommands, and their parsing into
the values the domain functions take (a NetConfig, a Target).

Every subcommand module defines ``add_arguments(parser)`` and ``run(args)``
(see :mod:`layerpipe.scripts.cli`); the options that several of them share are
declared here once, with one parser per value that reports a bad value as
``FIELD: ...`` (a :class:`LayerPipeError`, printed as one line).
"""
from .config import MODES, NetConfig, parse_lanes, parse_widths
from .errors import LayerPipeError
from .fixed_point import parse_format
from .target import BOARD_DSP_BUDGETS, BOARD_NETS, DEFAULT_DSP_BUDGET, TARGETS, board_target, dsp_budget, get_target

# the options that make a NetConfig; None means "not given" (sim --manifest refuses them)
# multipliers of one processor when --processors is given without --lanes
DEFAULT_PROCESSOR_LANES = 16
CONFIG_OPTIONS = ("net", "mode", "seed", "act", "weight", "grad", "lr_shift", "lanes", "cols")


def integer(field):
    """An argparse ``type`` that refuses a non-integer as ``FIELD: ... is not an integer``."""
    def parse(text):
        try:
            return int(text)
        except ValueError:
            raise LayerPipeError(f"{field}: {text!r} is not an integer") from None
    return parse


def positive_number(field):
    """An argparse ``type`` that refuses anything but a positive number as ``FIELD: ...``."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not 0 < value < float("inf"):
            raise LayerPipeError(f"{field}: {text!r} is not a positive number")
        return value
    return parse


def add_config_arguments(p):
    """The options that make a NetConfig (train, generate, sim)."""
    d = NetConfig((1, 1))
    p.add_argument("--net", help="layer widths, inputs first (default 64-32-10; with --board, the board's net)")
    p.add_argument("--mode", help=f"schedule: {', '.join(MODES)} (default {d.mode})")
    p.add_argument("--seed", type=integer("seed"), help=f"initial weights and sample order (default {d.seed})")
    p.add_argument("--act", help=f"activation format WIDTH.FRAC (default {d.act.width}.{d.act.frac})")
    p.add_argument("--weight", help=f"weight format WIDTH.FRAC (default {d.weight.width}.{d.weight.frac})")
    p.add_argument("--grad", help=f"gradient format WIDTH.FRAC (default {d.grad.width}.{d.grad.frac})")
    p.add_argument("--lr-shift", type=integer("lr-shift"), help=f"learning rate 2^-N (default {d.lr_shift})")


def config_from_args(args):
    """The NetConfig of the options given (defaults for the others)."""
    d = NetConfig((1, 1))

    def given(name, default):
        value = getattr(args, name, None)
        return default if value is None else value
    # only the commands that build hardware take --lanes and --cols (per layer; with
    # --processors, --lanes is the multipliers of one processor: processor_args)
    lanes, cols = getattr(args, "lanes", None), getattr(args, "cols", None)
    if getattr(args, "processors", None) is not None:
        lanes = cols = None
    return NetConfig(parse_widths(given("net", "64-32-10")), mode=given("mode", d.mode), seed=given("seed", d.seed),
                     act=parse_format(args.act, "act") if args.act is not None else d.act,
                     weight=parse_format(args.weight, "weight") if args.weight is not None else d.weight,
                     grad=parse_format(args.grad, "grad") if args.grad is not None else d.grad,
                     lr_shift=given("lr_shift", d.lr_shift),
                     lanes=parse_lanes(lanes) if lanes is not None else None,
                     cols=parse_lanes(cols, "cols") if cols is not None else None)


def add_hardware_arguments(p, target=True):
    """The options that shape the generated hardware (generate, sim, synth);
    ``target=False`` leaves out ``--target`` (synth: the board names it)."""
    p.add_argument("--lanes", help="MAC lanes (rows at once) per layer, e.g. 4,2 "
                   "(default: chosen under the DSP budget)")
    p.add_argument("--cols", help="columns per cycle per layer, e.g. 13,4 (default: chosen under the DSP budget)")
    if target:
        p.add_argument("--target", help=f"device the design is planned for: {', '.join(TARGETS)} (its DSP blocks "
                       f"and memory); default a plain budget of {DEFAULT_DSP_BUDGET} ECP5 DSP blocks")
    boards = ", ".join(f"{b} {n}" for b, n in BOARD_DSP_BUDGETS.items())
    default = (f"{DEFAULT_DSP_BUDGET}; with --target, the device's; with --board, the board's: {boards}, "
               "else the device's") if target else f"the board's: {boards}, else the device's"
    p.add_argument("--dsp-budget", type=integer("dsp-budget"),
                   help=f"DSP blocks the lanes may use (default {default})")
    p.add_argument("--processors", type=integer("processors"), metavar="P",
                   help="build P equal MAC-array processors that run the scheduler's optimal assignment "
                        "(layerpipe or pipedream mode); --lanes N is then the multipliers of each "
                        f"(default {DEFAULT_PROCESSOR_LANES})")
    p.add_argument("--over-budget", action="store_true",
                   help="build --lanes that need more DSP blocks than the budget (with a warning)")


def target_from_args(args):
    """The Target of ``--target`` (or ``--board``'s device) and ``--dsp-budget``."""
    board = getattr(args, "board", None)
    if board is not None:
        if getattr(args, "target", None) is not None:
            raise LayerPipeError("board: --board names the target already; give --board or --target")
        target = board_target(board)                  # the board's device and default budget
        if args.dsp_budget is None:
            return target
        args.target = target.name
    if getattr(args, "target", None) is None:
        return dsp_budget(args.dsp_budget if args.dsp_budget is not None else DEFAULT_DSP_BUDGET)
    target = get_target(args.target)
    return target.with_dsp_budget(args.dsp_budget) if args.dsp_budget is not None else target


def plan_from_args(args):
    """The DesignPlan of the config and target options; warns (one line on
    stderr) when ``--over-budget`` lets lanes exceed the DSP budget."""
    import sys

    from .plan import plan_design
    board = getattr(args, "board", None)
    if board in BOARD_NETS and getattr(args, "net", None) is None:
        args.net = BOARD_NETS[board]                           # the board's default net, as synth takes it
    if getattr(args, "processors", None) is not None:
        from .processor_plan import plan_processors
        processors, lanes = processor_args(args)
        plan = plan_processors(config_from_args(args), target_from_args(args), processors, lanes,
                               allow_over_budget=args.over_budget)
    else:
        plan = plan_design(config_from_args(args), target_from_args(args), allow_over_budget=args.over_budget)
    if plan.over_budget:
        print(f"layerpipe: warning: lanes: {plan.dsp_blocks} DSP blocks exceed the budget of "
              f"{plan.target.dsp_blocks} (--over-budget)", file=sys.stderr)
    return plan


def processor_args(args):
    """(P, lanes) of ``--processors P --lanes N``: N is one number, the multipliers
    of each processor (default :data:`DEFAULT_PROCESSOR_LANES`); ``--cols`` does not apply."""
    if getattr(args, "cols", None) is not None:
        raise LayerPipeError("cols: with --processors each layer's shape follows from --lanes; drop --cols")
    text = getattr(args, "lanes", None)
    if text is None:
        return args.processors, DEFAULT_PROCESSOR_LANES
    try:
        lanes = int(text)
    except ValueError:
        raise LayerPipeError(f"lanes: {text!r} is not one number; with --processors, --lanes N gives the "
                             f"multipliers of each processor") from None
    return args.processors, lanes

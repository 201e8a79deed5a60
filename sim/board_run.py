"""``layerpipe run``: train a board (or the simulated board of ``layerpipe sim
--serve``) over its serial link, on chip or streamed, and check it bit for
bit against the golden model."""
import sys

from layerpipe.hw import strict_json
from layerpipe.hw.errors import LayerPipeError
from layerpipe.hw.link import protocol
from layerpipe.hw.options import add_config_arguments, add_hardware_arguments, integer

from . import datasets
from .link_host import ANSWER_S, SOCKET_ANSWER_S, connect, train_on_board
from .rtl_sim import plan_of


def board_defaults(args):
    """The board ``args.board`` (``layerpipe.boards``) or None; its default net
    and data set fill the options not given (its device is the target:
    :func:`layerpipe.hw.options.target_from_args`)."""
    if getattr(args, "board", None) is None:
        return None
    from layerpipe.boards import board
    b = board(args.board)
    if getattr(args, "manifest", None) is None:
        if args.net is None:
            args.net = b.net
    if getattr(args, "dataset", None) is None:
        args.dataset = b.dataset
    return b


def add_arguments(p):
    add_config_arguments(p)
    add_hardware_arguments(p)
    p.add_argument("--manifest", metavar="DIR/manifest.json",
                   help="the design the board holds, as `generate` wrote it (instead of --net etc.)")
    p.add_argument("--board", help="the board (its default net, clock and data set)")
    p.add_argument("--port", required=True, help="serial device or pyserial URL, e.g. /dev/ttyUSB0 or "
                   "socket://localhost:4000 (a board served by `layerpipe sim --serve`)")
    p.add_argument("--baud", default=protocol.DEFAULT_BAUD, type=integer("baud"),
                   help=f"serial baud rate (default {protocol.DEFAULT_BAUD})")
    p.add_argument("--dataset", help=f"{', '.join(datasets.DATASETS)} (default: the board's, else digits)")
    p.add_argument("--epochs", default=2, type=integer("epochs"), help="epochs (default 2)")
    p.add_argument("--stream", action="store_true",
                   help="link-bound: send every sample of every epoch over the link (no store needed)")
    p.add_argument("--clock-mhz", type=float, help="the board's clock, for per-second figures "
                   "(default: the board's; 100 for a simulated board)")
    p.add_argument("--answer-timeout", default=None, type=float, help=f"seconds a silent board is waited for "
                   f"(default {ANSWER_S:g}, {SOCKET_ANSWER_S:g} over socket://)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout, nothing else")


def run(args):
    b = board_defaults(args)
    args.dataset = args.dataset or "digits"
    plan = plan_of(args)
    cfg = plan.config
    if not 1 <= args.epochs <= 10_000:
        raise LayerPipeError(f"epochs: {args.epochs} is out of range 1..10000")
    if args.answer_timeout is not None and not args.answer_timeout > 0:
        raise LayerPipeError(f"answer-timeout: {args.answer_timeout} must be positive (seconds)")
    if args.clock_mhz is not None and not args.clock_mhz > 0:
        raise LayerPipeError(f"clock-mhz: {args.clock_mhz} must be positive")
    data = datasets.load(args.dataset, cfg.widths, cfg.seed)
    clock_mhz = args.clock_mhz or (b.clock_mhz if b is not None else None) or \
        (100.0 if args.port.startswith("socket://") else None)
    link, info = connect(args.port, cfg, plan.digest, args.baud, args.answer_timeout)
    bar = None

    def show(phase, done, total):
        nonlocal bar
        if args.json:
            return
        if bar is None or bar.desc != phase:
            from tqdm import tqdm
            if bar is not None:
                bar.close()
            bar = tqdm(total=total, desc=phase, unit="epoch" if phase == "train" and not args.stream else "sample",
                       file=sys.stderr)
        bar.update(done - bar.n)
    try:
        r = train_on_board(link, info, cfg, data, args.epochs, cfg.seed, args.stream,
                           clock_mhz * 1e6 if clock_mhz else None, show)
    finally:
        link.close()
        if bar is not None:
            bar.close()
    r.update(port=args.port, board=args.board, name=plan.name, lanes=list(plan.lanes),
             manifest_cycles_per_sample=plan.cycles_per_sample,
             mac_bound_cycles_per_sample=plan.mac_bound_cycles_per_sample)
    if args.json:
        print(strict_json.dumps(r))
    else:
        print("\n".join(report_lines(r)))
    return 0 if r["bit_exact"] else 1


def _fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def report_lines(r):
    lk = r["link"]
    return [
        f"{r['net']} {r['mode']} on {r['board'] or 'the board'} at {r['port']}: {r['dataset']}, {r['epochs']} epochs "
        f"{'on chip' if r['on_chip'] else 'streamed over the link'}, {r['samples']} samples",
        f"  bit exact           {r['bit_exact']}  ({r['mismatches']} mismatches)"
        + (f"  first: {r['first_mismatch']}" if r["first_mismatch"] else ""),
        "  per-epoch counters  " + ", ".join(f"{c['correct']}/{c['samples']} correct" for c in r["counters"]),
        f"  test accuracy       {r['accuracy']:.4f}  (golden model {r['golden_accuracy']:.4f})",
        f"  link                {lk['bytes']} bytes for {lk['samples']} samples: "
        f"{_fmt(lk['samples_per_s'], ',.0f')} samples/s at {_fmt(lk['baud'], ',.0f')} baud "
        f"(baud limit {_fmt(lk['baud_limit_samples_per_s'], ',.0f')}), {lk['wall_seconds']:.1f} s wall",
        f"  on chip             {_fmt(r['cycles_per_sample'], '.2f')} cycles/sample, "
        f"{_fmt(r['on_chip_samples_per_s'], ',.0f')} samples/s at "
        f"{_fmt(r['clock_hz'] and r['clock_hz'] / 1e6, 'g')} MHz",
    ]

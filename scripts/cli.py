"""The ``layerpipe`` console command.

It sits above ``layerpipe.hw`` and ``layerpipe.sim`` (which never import it)
and only parses and calls: each subcommand's options and its ``run(args) ->
int`` live in the module that owns its work (``add_arguments(parser)``), the
options several subcommands share in :mod:`layerpipe.hw.options`; the
domain functions they call take values. This file dispatches and turns every
expected failure into one line on stderr and a non-zero exit.
"""
import argparse
import importlib
import sys

from layerpipe.hw.errors import LayerPipeError

# subcommand -> (module, one-line help)
COMMANDS = {
    "train": ("layerpipe.sim.train", "train the golden model (integer or float) on a data set"),
    "schedule": ("layerpipe.hw.schedule_cli", "schedule the training tasks on P processors"),
    "generate": ("layerpipe.hw.generator", "generate the training pipeline as Verilog plus a manifest"),
    "sim": ("layerpipe.sim.rtl_sim", "train the generated Verilog in Verilator against the golden model"),
    "run": ("layerpipe.sim.board_run", "train a board over its serial link and check it against the golden model"),
    "synth": ("layerpipe.scripts.synth", "place and route a board's bitstream; resources, Fmax, samples/s"),
    "bench": ("layerpipe.scripts.bench", "measure the design against its bounds, PipeDream and the CPU"),
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line, never the usage block."""

    def error(self, message):
        raise LayerPipeError(message)


def build_parser():
    parser = _Parser(prog="layerpipe", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        return importlib.import_module(args._module).run(args) or 0
    except LayerPipeError as exc:
        print(f"layerpipe: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("layerpipe: interrupted", file=sys.stderr)
        return 130


def main_exit():
    sys.exit(main())


if __name__ == "__main__":
    main_exit()

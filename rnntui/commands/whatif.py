"""``rnntui whatif``: change the window the next step would train on, and see what follows."""

from __future__ import annotations

import argparse

import numpy as np

from rnntui import cli
from rnntui.engine.whatif import PARSERS, ablation_scan, run_window, whatif_json, whatif_report

FLAGS = {  # flag -> (metavar, help); the parsers in rnntui.engine.whatif read the values
    "edit": ("T=CHAR", "replace character T of the window (input T, target T-1); CHAR may be \\n, \\t, \\x41 or U+0041"),
    "hprev": ("zero", "start the window from zeros instead of the carried hidden state"),
    "ablate": ("U[@T[-T2]]", "hold unit U at 0 after the tanh (every timestep, at T, or T to T2)"),
    "clamp": ("U=VALUE[@T[-T2]]", "hold unit U at VALUE after the tanh"),
    "flip": ("U[@T[-T2]]", "flip the sign of unit U after the tanh"),
}


class _InOrder(argparse.Action):
    """Collect every intervention flag into one list, in command-line order (the order they apply in)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        collected = list(getattr(namespace, "interventions", None) or [])
        collected.append((self.dest, values))
        namespace.interventions = collected


def build_parser() -> argparse.ArgumentParser:
    parser = cli.build_inspection_parser(
        "rnntui whatif",
        "Run the window the next step would train on (the reset rule applied) with interventions, and compare "
        "each timestep's loss term with the unchanged run. Never trains further and never writes the checkpoint.",
    )
    group = parser.add_argument_group("interventions (repeatable, applied in the order given)")
    for name, (metavar, help_text) in FLAGS.items():
        group.add_argument(f"--{name}", dest=name, action=_InOrder, metavar=metavar, help=help_text)
    group.add_argument("--scan", action="store_true",
                       help="also rank every unit by the rise of the window's loss when it is zeroed over the window")
    parser.set_defaults(interventions=[])
    return parser


def main(argv: list[str]) -> int:
    args = cli.parse_or_exit(build_parser(), argv)
    if isinstance(args, int):
        return args
    session = cli.trained_session(args)
    trainer = session.trainer
    position, inputs, targets, hprev = trainer.next_window()
    T, H, vocab = len(inputs), trainer.config.hidden_size, trainer.vocab
    interventions = [PARSERS[name](text, T, H, vocab) for name, text in args.interventions]
    params = trainer.params
    with np.errstate(all="ignore"):  # an extreme clamp may make a loss infinite: reported, not warned about
        before = run_window(params, inputs, targets, hprev)
        after = run_window(params, inputs, targets, hprev, interventions)
        scan = ablation_scan(params, inputs, targets, hprev, cursor_t=0) if args.scan else None
    if args.json:
        cli.print_json(whatif_json(trainer.iteration, position, before, after, scan))
    else:
        cli.print_report(whatif_report(trainer.iteration, position, before, after, vocab, scan).split("\n"))
    return cli.EXIT_OK

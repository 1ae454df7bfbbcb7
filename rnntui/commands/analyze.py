"""``rnntui analyze``: what each hidden unit does across the whole training text."""

from __future__ import annotations

import numpy as np

from rnntui import cli
from rnntui.engine.analysis import Analysis, analyze
from rnntui.engine.features import FEATURE_NAMES, VALID_FEATURES, parse_features
from rnntui.engine.units import SATURATION, TOP_K

RANKED_SHOWN = 5  # units listed per feature


def build_parser():
    parser = cli.build_inspection_parser(
        "rnntui analyze",
        "Run the model over the whole training text (one continuous sequence from h = 0) and report bits per "
        "character, dead and saturated units, which units track which feature (Pearson r and a held-out linear "
        "probe), and the top contexts of chosen units.",
    )
    group = parser.add_argument_group("what to report")
    group.add_argument("--feature", dest="features", action="append", default=[], metavar="NAME",
                       help=f"a feature to correlate units with (repeatable; default: every built-in one): {VALID_FEATURES}")
    group.add_argument("--unit", dest="units", action="append", type=int, default=[], metavar="U",
                       help="a unit whose most positive and most negative contexts are listed (repeatable)")
    group.add_argument("--top", type=cli.positive_int, default=TOP_K, metavar="K",
                       help=f"contexts per unit and direction (default {TOP_K})")
    return parser


def main(argv: list[str]) -> int:
    args = cli.parse_or_exit(build_parser(), argv)
    if isinstance(args, int):
        return args
    features = parse_features(args.features) or FEATURE_NAMES  # a bad name or pattern before any training
    session = cli.trained_session(args)
    trainer = session.trainer
    positions = len(trainer.training_corpus)  # no unit has more contexts than that: --top allocates no more
    analysis = analyze(trainer.params, trainer.training_corpus, features, tuple(args.units),
                       min(args.top, positions), iteration=trainer.iteration)
    if args.json:
        cli.print_json(analysis.to_dict())
    else:
        cli.print_report(report_lines(analysis, trainer.training_corpus.name, args.top))
    return cli.EXIT_OK


def _units(mask: np.ndarray) -> str:
    units = np.flatnonzero(mask)
    return ", ".join(str(u) for u in units) if len(units) else "none"


def report_lines(analysis: Analysis, name: str, top: int) -> list[str]:
    """The analysis as text: the pass, dead and saturated units, features, contexts."""
    stats = analysis.units
    lines = [
        f"analysis of {name} after {analysis.iteration:,} steps: {analysis.chars:,} characters, "
        f"{analysis.bits_per_char:.3f} bits per character ({analysis.nats_per_char:.3f} nats)",
        f"dead units (std < 0.01): {_units(stats.dead)}; always saturated (|h| > {SATURATION}): "
        f"{_units(stats.always_saturated)}",
        "",
        f"{'feature':<16} {'probe R²':>8}  units by |r| (r)",
    ]
    for feature in analysis.features.values():
        if not feature.varies:
            lines.append(f"{feature.name:<16} {'—':>8}  the text does not vary it: nothing to rank")
            continue
        ranked = "  ".join(f"{u} ({feature.r[u]:+.2f})" for u in feature.ranked[:RANKED_SHOWN])
        r2 = "—" if feature.probe_r2 is None else f"{feature.probe_r2:.3f}"
        lines.append(f"{feature.name:<16} {r2:>8}  {ranked}")
    for unit, contexts in analysis.top_contexts.items():
        for direction, entries in (("most positive", contexts.positive), ("most negative", contexts.negative)):
            lines += ["", f"unit {unit}, {direction} contexts:"]
            lines += [f"  {e.activation:+.4f} at {e.position:>8,}  {e.context}" for e in entries[:top]]
    return lines

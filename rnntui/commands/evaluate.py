"""``rnntui eval``: bits per character on the training and held-out text, k-gram baselines, the error breakdown."""

from __future__ import annotations

from rnntui import cli
from rnntui.engine.breakdown import CATEGORIES, ERROR_P
from rnntui.engine.evaluation import EvaluationReport, evaluation_report


def main(argv: list[str]) -> int:
    parser = cli.build_inspection_parser(
        "rnntui eval",
        "Evaluate the model in bits per character on the training part and the held-out part (--val-frac), "
        "beside character k-gram baselines (k = 1..5), and break its errors down by kind.",
    )
    args = cli.parse_or_exit(parser, argv)
    if isinstance(args, int):
        return args
    session = cli.trained_session(args)
    trainer = session.trainer
    report = evaluation_report(trainer.params, trainer.training_corpus, trainer.held_out_corpus, trainer.iteration)
    if args.json:
        cli.print_json(report.to_dict())
    else:
        cli.print_report(report_lines(report, trainer.corpus.name, len(trainer.corpus)))
    return cli.EXIT_OK


def report_lines(report: EvaluationReport, name: str, chars: int) -> list[str]:
    """The evaluation, the baselines table and the error breakdown, as text."""
    e = report.evaluation
    if report.in_sample:
        where = "no held-out part (give --val-frac): baselines and errors are on the training text itself"
    else:
        where = f"held out: the last {report.scored_chars:,} of {chars:,} characters"
    lines = [f"evaluation of {name} after {e.iteration:,} steps; {where}"]
    figures = f"train {e.train_bpc:.3f} bpc"
    if e.val_bpc is not None:
        figures += f", held-out {e.val_bpc:.3f} bpc (gap {e.gap:+.3f})"
    lines += [figures, ""]
    rnn = e.train_bpc if report.in_sample else e.val_bpc
    scored = "training text, in sample" if report.in_sample else "held-out part"
    lines.append(f"bits per character on the {scored}:")
    lines.append(f"  {'model':<8} {'bpc':>7}")
    lines.append(f"  {'RNN':<8} {rnn:>7.3f}")
    for k, bpc in report.baselines.items():
        lines.append(f"  {f'{k}-gram':<8} {bpc:>7.3f}")
    b = report.breakdown
    lines += ["", f"errors (p(next character) < {ERROR_P:g}): {b.errors:,} of {b.positions:,} positions "
                  f"({b.error_rate:.1%})"]
    for category in CATEGORIES:
        lines.append(f"  {category:<11} {b.counts[category]:>7,}  {b.shares[category]:6.1%}")
    return lines

"""The evaluation screen (E) and on-demand evaluation (e), over a real session with a held-out part.

Every figure on screen is checked against ``evaluation_report`` called directly on the
session's parameters (an independent run of the engine's report), and the on-demand
evaluation against a plain per-character loop.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from harness import DebuggerApp, screen_lines, wait_for
from test_evaluation import plain_nats
from textual.widgets import DataTable, ProgressBar, Static

from rnntui.engine import Corpus, open_session
from rnntui.engine.breakdown import CATEGORIES
from rnntui.engine.control import JobCancelled
from rnntui.engine.corpus_pass import LN2
from rnntui.engine.evaluation import evaluation_report
from rnntui.engine.jobs import EvaluationReportJob
from rnntui.engine.session import Session
from rnntui.tui import evaluation_screen
from rnntui.tui.evaluation_screen import EvaluationScreen
from rnntui.tui.glyphs import glyph, glyphs
from rnntui.tui.main_screen import MainScreen

ROOT = Path(__file__).resolve().parent.parent
SIZE = (120, 40)
SETTINGS = {"hidden_size": 24, "seq_length": 16, "sample_every": 0, "seed": 3, "val_frac": 0.2, "eval_every": 20}


def eval_session(steps: int = 60, **settings: object) -> Session:
    """A session on the prose sample with a held-out fifth, evaluated every 20 iterations, ``steps`` run."""
    corpus = Corpus.from_text((ROOT / "samples" / "prose.txt").read_text(), name="prose.txt")
    session = open_session(corpus, {**SETTINGS, **settings})
    session.run(steps, lambda: False)
    return session


def report_of(session: Session):
    """The report of the session's current model, computed here without the app."""
    t = session.trainer
    return evaluation_report(t.params, t.training_corpus, t.held_out_corpus, t.iteration)


def table_rows(app, selector: str) -> list[list[str]]:
    table = app.screen.query_one(selector, DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def example_shown(app) -> str:
    return str(app.screen.query_one("#example", Static).content)


async def open_report(pilot) -> EvaluationScreen:
    await pilot.press("E")
    screen = pilot.app.screen
    assert isinstance(screen, EvaluationScreen)
    await wait_for(pilot, lambda: screen.report is not None, "the report")
    await pilot.pause()
    return screen


def in_quotes(ch: str) -> str:
    """A character as the screen quotes it: its glyph in single quotes, a single quote in double ones."""
    return "\"'\"" if ch == "'" else f"'{glyph(ch)}'"


def expected_example_lines(example) -> list[str]:
    """An example as the screen should word it, from the engine's ErrorExample."""
    top = "   ".join(f"{in_quotes(ch)} {p:.4f}" for ch, p in example.top)
    return [
        glyphs(example.context) + glyph(example.target),
        (f"target {in_quotes(example.target)}  RNN p {example.p:.4f}  ·  best k-gram (k = {example.ngram_order}) "
         f"p {example.ngram_p:.4f}"),
        f"RNN's top guesses: {top}",
    ]


# --- the report ---------------------------------------------------------------------------------


async def test_the_tables_equal_the_report_computed_directly():
    session = eval_session()
    expected = report_of(session)
    app = DebuggerApp(session)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_report(pilot)
        e = expected.evaluation
        assert screen.report.evaluation == e
        rnn = e.val_bpc
        assert table_rows(app, "#baselines") == [
            [f"{k}-gram", f"{v:.3f}", f"{rnn:.3f}", f"{rnn - v:+.3f}"] for k, v in sorted(expected.baselines.items())
        ]
        counts = expected.breakdown.counts
        errors = sum(counts.values())
        assert table_rows(app, "#breakdown") == [
            [c, f"{counts[c]:,}", f"{counts[c] / errors:.1%}"] for c in CATEGORIES
        ]
        figures = str(screen.query_one("#figures", Static).content)
        assert f"train {e.train_bpc:.3f} bpc" in figures and f"held-out {e.val_bpc:.3f} bpc" in figures
        assert f"gap {e.val_bpc - e.train_bpc:+.3f} bpc" in figures
        assert f"held-out text ({len(session.trainer.held_out_corpus):,} characters)" in figures
        assert f"{errors:,} of {len(session.trainer.held_out_corpus) - 1:,} positions" in figures
        first = expected.breakdown.examples[CATEGORIES[0]][0]
        shown = example_shown(app)
        assert all(line in shown for line in expected_example_lines(first)), shown
        assert f"example 1 of {len(expected.breakdown.examples[CATEGORIES[0]])}" in shown


async def test_without_a_held_out_part_the_baselines_are_in_sample():
    session = eval_session(val_frac=0.0)
    expected = report_of(session)
    assert expected.in_sample
    app = DebuggerApp(session)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_report(pilot)
        rnn = expected.evaluation.train_bpc
        assert [row[2] for row in table_rows(app, "#baselines")] == [f"{rnn:.3f}"] * len(expected.baselines)
        assert [row[1] for row in table_rows(app, "#baselines")] == [f"{v:.3f}" for _, v in sorted(expected.baselines.items())]
        figures = str(screen.query_one("#figures", Static).content)
        assert "· held-out" not in figures and "gap" not in figures
        assert f"in sample on the training text ({len(session.trainer.corpus):,} characters)" in figures


async def test_paging_through_the_examples_of_each_category():
    session = eval_session()
    expected = report_of(session).breakdown.examples
    app = DebuggerApp(session)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_report(pilot)
        first = CATEGORIES[0]
        assert len(expected[first]) > 12, "the sample text should give the first category a few pages"
        await pilot.press("right", "right")
        assert screen.example_index == 2
        assert expected_example_lines(expected[first][2])[0] in example_shown(app)
        await pilot.press("left", "pagedown")
        assert screen.example_index == 11
        assert expected_example_lines(expected[first][11])[1] in example_shown(app)
        await pilot.press("pageup", "pageup", "p")  # stops at the first
        assert screen.example_index == 0
        for category in CATEGORIES[1:]:  # down: the next category, from its first example
            await pilot.press("down")
            await pilot.pause()
            assert screen.category == category and screen.example_index == 0
            shown = example_shown(app)
            assert shown.startswith(category)
            if expected[category]:
                assert all(line in shown for line in expected_example_lines(expected[category][0]))
            else:
                assert "no errors in this category" in shown
        last = expected[CATEGORIES[-1]]
        for _ in range(len(last) + 2):  # stops at the last
            await pilot.press("n")
        assert screen.example_index == max(len(last) - 1, 0)


async def test_escape_closes_and_the_report_is_kept_for_the_same_model():
    session = eval_session()
    app = DebuggerApp(session)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_report(pilot)
        report = screen.report
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        loss = app.main.query_one("#loss")
        assert loss.baselines == tuple(sorted(report.baselines.items()))  # the bpc view gets the baselines
        again = await open_report(pilot)
        assert again.report is report  # the same model: shown at once, not run again
        await pilot.press("escape", "space")  # one more update: a new report
        await pilot.pause()
        newer = await open_report(pilot)
        assert newer.report is not report
        assert newer.report.evaluation.iteration == session.trainer.iteration == report.evaluation.iteration + 1


class SlowReport(EvaluationReportJob):
    """A report that says how far it got and then waits until it is cancelled."""

    def prepare(self, session):
        def work(progress):
            progress.report(1, 4)
            deadline = time.monotonic() + 30
            while not progress.cancelled() and time.monotonic() < deadline:
                time.sleep(0.005)
            raise JobCancelled

        return work


async def test_a_progress_bar_while_it_runs_and_escape_cancels(monkeypatch):
    monkeypatch.setattr(evaluation_screen, "EvaluationReportJob", SlowReport)
    app = DebuggerApp(eval_session(steps=5))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("E")
        screen = app.screen
        bar = screen.query_one(ProgressBar)
        await wait_for(pilot, lambda: bar.progress == 1 and bar.total == 4, "the progress bar to move")
        assert "escape cancels" in str(screen.query_one("#status").content)
        assert not screen.query_one("#report").display
        job_id = screen._watch.job_id
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)

        def cancelled() -> bool:
            app.controller.poll()
            status = app.controller.mirror.jobs.get(job_id)
            return status is not None and status.finished and status.cancelled

        await wait_for(pilot, cancelled, "the engine to cancel the job")


# --- e: evaluate now ------------------------------------------------------------------------------


async def test_e_adds_an_evaluation_that_the_header_shows():
    session = eval_session(steps=25)
    trainer = session.trainer
    train_bpc = plain_nats(trainer.params, trainer.training_corpus.data) / LN2
    held_bpc = plain_nats(trainer.params, trainer.held_out_corpus.data) / LN2
    before = len(session.evaluations)
    app = DebuggerApp(session)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main
        await pilot.press("e")
        await wait_for(pilot, lambda: len(screen.evaluations) == before + 1, "the evaluation to arrive")
        latest = screen.evaluations[-1]
        assert latest.on_demand and latest.iteration == 25
        assert latest.train_bpc == pytest.approx(train_bpc, rel=1e-9)
        assert latest.val_bpc == pytest.approx(held_bpc, rel=1e-9)
        assert session.evaluations[-1] == latest  # it joined the session's history
        await pilot.pause()
        header = "\n".join(screen_lines(app)[:2])
        assert f"held-out {held_bpc:.3f} bpc @ 25" in header
        assert screen.query_one("#loss").evaluations[-1] == latest


# --- snapshots --------------------------------------------------------------------------------------


async def test_the_screen_in_words():
    """What the snapshot below shows, in words (the same session, size and keys)."""
    session = eval_session()
    expected = report_of(session)
    app = DebuggerApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await open_report(pilot)
        await pilot.press("down", "right")
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        e = expected.evaluation
        assert "Evaluation: bits per character, k-gram baselines, error breakdown" in text
        assert f"train {e.train_bpc:.3f} bpc · held-out {e.val_bpc:.3f} bpc" in text
        for k, v in expected.baselines.items():
            assert f"{k}-gram  {v:.3f}" in text
        assert "word start · example 2 of" in text and "left/right: previous, next" in text  # as the keys go
        assert expected_example_lines(expected.breakdown.examples["word start"][1])[1] in text


def test_snapshot_evaluation_screen(snap_compare):
    async def report_open(pilot) -> None:
        await open_report(pilot)
        await pilot.press("down", "right")

    assert snap_compare(DebuggerApp(eval_session()), run_before=report_open, terminal_size=SIZE)

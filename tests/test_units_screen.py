"""The unit table (U): the analysis job from the app, its rows against analyze() and a plain per-character
loop, sorting, features, opening a unit, cancelling, and the label of an analysis of older parameters."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from harness import DebuggerApp, screen_lines, wait_for
from test_corpus_pass import oracle_pass
from textual.widgets import DataTable, Input, Select

from rnntui.engine import Config, Corpus, Trainer
from rnntui.engine.analysis import analyze
from rnntui.engine.control import start_engine_process
from rnntui.engine.features import FEATURE_NAMES
from rnntui.engine.session import Session
from rnntui.tui.analysis_actions import AnalysisStore
from rnntui.tui.heatmap import Heatmap
from rnntui.tui.neuron_screen import NeuronScreen
from rnntui.tui.units_screen import COLUMNS, UnitsScreen

ROOT = Path(__file__).resolve().parent.parent
BRACKETS = (ROOT / "samples" / "brackets.txt").read_text()
SIZES = [(120, 40), (80, 24)]
SATURATION = 0.95  # the contract's saturation threshold, written out here
DEAD_STD = 0.01


def make_app(text: str = BRACKETS, hidden_size: int = 16, steps: int = 60) -> DebuggerApp:
    """The debugger on ``text`` after ``steps`` iterations (seed 0)."""
    trainer = Trainer(Corpus.from_text(text, name="brackets.txt"),
                      Config(hidden_size=hidden_size, seq_length=25, sample_every=0))
    session = Session(trainer)
    for _ in range(steps):
        session.step()
    return DebuggerApp(session)


async def open_table(pilot) -> UnitsScreen:
    """Press U and wait until the table shows an analysis."""
    app = pilot.app
    await pilot.press("U")
    await wait_for(pilot, lambda: isinstance(app.screen, UnitsScreen) and app.screen.computed is not None,
                   "the unit table's analysis")
    await pilot.pause()
    return app.screen


def plain_depth(text: str) -> np.ndarray:
    """Unclosed brackets after each character, one character at a time."""
    depth, out = 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        out.append(depth)
    return np.array(out, dtype=float)


def plain_r(hs: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson r of every unit with ``feature`` by np.corrcoef, 0 where either is constant."""
    return np.array([np.corrcoef(hs[:, u], feature)[0, 1] if hs[:, u].std() > 0 and feature.std() > 0 else 0.0
                     for u in range(hs.shape[1])])


def plain_stats(params, text: str, corpus: Corpus, feature: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every column of the table computed from h_t of a plain per-character loop."""
    hs, _, _ = oracle_pass(params, corpus.data)
    return {
        "mean": hs.mean(axis=0), "std": hs.std(axis=0),
        "low": (hs < -SATURATION).mean(axis=0), "high": (hs > SATURATION).mean(axis=0),
        "r": plain_r(hs, plain_depth(text) if feature is None else feature),
    }


def table_rows(screen: UnitsScreen) -> list[list[str]]:
    """The table's cells as text, top row first."""
    table = screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def number(cell: str) -> float:
    """A cell's number (a percentage as a fraction)."""
    return float(cell.rstrip("%")) / 100 if cell.endswith("%") else float(cell)


def column_index(key: str) -> int:
    return [c.key for c in COLUMNS].index(key)


@pytest.mark.parametrize("size", SIZES)
async def test_rows_are_the_analysis_of_the_current_parameters(size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await open_table(pilot)
        trainer = app.session.trainer
        direct = analyze(trainer.params, trainer.corpus)
        plain = plain_stats(trainer.params, BRACKETS, trainer.corpus)
        rows = table_rows(screen)
        units = [int(row[0]) for row in rows]
        r = direct.features["depth"].r
        assert units == sorted(range(16), key=lambda u: (-abs(r[u]), u))  # default: |r| with depth, largest first
        assert np.all(np.diff(np.abs(plain["r"][units])) <= 1e-9)
        stats = direct.units
        for row in rows:
            u = int(row[0])
            assert row[1:] == [f"{stats.mean[u]:+.3f}", f"{stats.std[u]:.3f}", f"{stats.sat_low[u]:.1%}",
                               f"{stats.sat_high[u]:.1%}", "dead" if stats.dead[u] else
                               "always sat" if stats.always_saturated[u] else "", f"{r[u]:+.3f}"]
            for key in ("mean", "std", "low", "high", "r"):  # within the display's rounding of the plain loop
                assert abs(number(row[column_index(key)]) - plain[key][u]) <= 0.0005 + 1e-9, (key, u)
            dead = plain["std"][u] < DEAD_STD
            assert ("dead" in row) == dead
        title = str(screen.query_one("#analysis-title").content)
        unit = "bits/char" if size == (120, 40) else "bpc"  # said shortly when narrow
        assert "after 60 steps" in title and f"{direct.bits_per_char:.3f} {unit}" in title
        assert "press r" not in title
        hs, _, _ = oracle_pass(trainer.params, trainer.corpus.data)
        probe = screen.query_one("#probe")  # the chosen feature's probe, beside the choosers
        assert str(probe.content) == f"probe R² {plain_probe_r2(hs, plain_depth(BRACKETS)):.3f}"
        assert probe.region.width >= len(str(probe.content))
        screen.query_one("#feature", Select).value = "digit"  # brackets.txt has no digit: nothing to probe
        await pilot.pause()
        assert str(probe.content) == "probe R² —"


async def test_one_step_is_said_in_the_singular():
    app = make_app(steps=1)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_table(pilot)
        title = str(screen.query_one("#analysis-title").content)
        assert "after 1 step" in title and "1 steps" not in title


async def test_sorting_by_every_column_and_by_a_header_click():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_table(pilot)
        trainer = app.session.trainer
        plain = plain_stats(trainer.params, BRACKETS, trainer.corpus)
        plain["unit"] = np.arange(16.0)
        plain["flags"] = 2.0 * (plain["std"] < DEAD_STD) + ((plain["low"] + plain["high"]) == 1)
        plain["r"] = np.abs(plain["r"])
        for key in ("unit", "mean", "std", "low", "high", "flags", "r", "unit"):  # o: from r on, round the columns
            await pilot.press("o")
            units = [int(row[0]) for row in table_rows(screen)]
            ascending = key == "unit"
            steps = np.diff(plain[key][units])
            assert np.all(steps >= -1e-9) if ascending else np.all(steps <= 1e-9), key
            assert sorted(units) == list(range(16))
        await pilot.press("O")  # reversed: units from the highest number
        assert [int(row[0]) for row in table_rows(screen)] == list(range(15, -1, -1))
        table = screen.query_one(DataTable)
        table.post_message(DataTable.HeaderSelected(table, table.ordered_columns[1].key, 1, table.ordered_columns[1].label))
        await pilot.pause()
        means = [float(row[1]) for row in table_rows(screen)]
        assert means == sorted(means, reverse=True) and screen.sort_column == "mean"
        table.post_message(DataTable.HeaderSelected(table, table.ordered_columns[1].key, 1, table.ordered_columns[1].label))
        await pilot.pause()
        assert [float(row[1]) for row in table_rows(screen)] == sorted(means)  # the same header again: reversed


async def test_enter_opens_the_neuron_page_and_chooses_the_unit_on_the_main_screen():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_table(pilot)
        await pilot.press("down", "down", "down")
        unit = int(table_rows(screen)[3][0])
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, NeuronScreen), "the neuron page")
        assert app.screen.unit == unit
        assert app.main.unit == unit and app.main.query_one(Heatmap).unit == unit
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main and app.main.unit == unit


def plain_probe_r2(hs: np.ndarray, feature: np.ndarray) -> float:
    """Least squares of the feature on [h_t, 1] over the first half of the text, R² on the second half."""
    half = len(feature) // 2
    X = np.column_stack([hs, np.ones(len(feature))])
    w = np.linalg.lstsq(X[:half], feature[:half], rcond=None)[0]
    residual = feature[half:] - X[half:] @ w
    return 1 - residual @ residual / np.sum((feature[half:] - feature[half:].mean()) ** 2)


async def test_another_feature_and_a_regex_of_ones_own():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_table(pilot)
        trainer = app.session.trainer
        hs, _, _ = oracle_pass(trainer.params, trainer.corpus.data)
        select = screen.query_one("#feature", Select)
        select.value = "space"
        await pilot.pause()
        spaces = np.array([ch.isspace() for ch in BRACKETS], dtype=float)  # blanks and newlines
        expected = plain_r(hs, spaces)
        rows = table_rows(screen)
        assert screen.feature == "space"
        assert [int(row[0]) for row in rows][0] == int(np.argmax(np.abs(expected)))
        for row in rows:
            assert abs(float(row[-1]) - expected[int(row[0])]) <= 0.0005 + 1e-9
        screen.query_one("#regex", Input).focus()
        await pilot.press(*"op", "enter")  # the two letters of every "op"
        await wait_for(pilot, lambda: screen.feature == "regex:op" and not app.screen.store.running, "the regex feature")
        inside = np.zeros(len(BRACKETS))
        for match in re.finditer("op", BRACKETS):
            inside[match.start() : match.end()] = 1.0
        expected = plain_r(hs, inside)
        for row in table_rows(screen):
            assert abs(float(row[-1]) - expected[int(row[0])]) <= 0.0005 + 1e-9
        assert set(screen.computed.analysis.features) == {*FEATURE_NAMES, "regex:op"}
        screen.query_one("#regex", Input).value = "(unclosed"
        screen.query_one("#regex", Input).focus()
        await pilot.press("enter")
        error = screen.query_one("#regex-error")
        assert error.has_class("shown") and "bad regular expression" in str(error.content)
        assert not screen.store.running


async def test_escape_cancels_the_analysis_and_training_goes_on_bit_identically():
    long_text = BRACKETS * 2500  # ten million characters: the pass takes seconds
    app = make_app(long_text, steps=3)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("U")
        await wait_for(pilot, lambda: isinstance(app.screen, UnitsScreen), "the unit table")
        store = app.screen.store
        assert store.running
        await wait_for(pilot, lambda: store.status is not None and store.status.done > 0, "the job to report progress")
        assert app.screen.has_class("computing")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main and not store.running and store.latest is None
        await wait_for(pilot, lambda: (store.check(), store.dropped is not None and store.dropped.finished)[1],
                       "the cancelled job's end")
        assert store.dropped.cancelled and store.dropped.done < store.dropped.total
        await pilot.press("space", "space")
        await pilot.pause()
    reference = Trainer(Corpus.from_text(long_text, name="brackets.txt"),
                        Config(hidden_size=16, seq_length=25, sample_every=0))
    for _ in range(5):
        reference.step()
    assert app.session.trainer.iteration == 5
    for name, value in reference.params.items():
        assert np.array_equal(app.session.trainer.params[name], value), name


async def test_an_older_analysis_says_so_and_r_recomputes():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_table(pilot)
        first = screen.computed
        await pilot.press("escape", "space", "space")
        await pilot.pause()
        await pilot.press("U")
        await pilot.pause()
        screen = app.screen
        title = screen.query_one("#analysis-title")
        assert screen.computed is first and not screen.store.running  # shown at once, not recomputed
        assert "computed after 60 steps; now at 62: press r to recompute" in str(title.content)
        assert title.has_class("stale")
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.computed is not first, "the new analysis")
        assert screen.computed.iteration == 62 and "after 62 steps" in str(title.content)
        assert not title.has_class("stale")
        expected = analyze(app.session.trainer.params, app.session.trainer.corpus)
        assert table_rows(screen)[0][1] == f"{expected.units.mean[int(table_rows(screen)[0][0])]:+.3f}"
        await pilot.press("escape", "backspace", "backspace")  # back to the parameters of 60 updates
        await pilot.pause()
        assert app.controller.mirror.iteration == 60
        await pilot.press("U")
        await pilot.pause()
        assert app.screen.computed is first and not app.screen.store.running  # kept per set of parameters
        assert "press r" not in str(app.screen.query_one("#analysis-title").content)


def title_line(app) -> str:
    """The analysis title as drawn, after checking that it takes one line."""
    title = app.screen.query_one("#analysis-title")
    assert title.region.height == 1, str(title.content)
    return screen_lines(app)[title.region.y].strip()


LONG_RUN = 1203  # steps: a count with a thousands separator


@pytest.mark.parametrize("size", SIZES)
async def test_the_title_fits_one_line_giving_way_part_by_part(size):
    app = make_app(hidden_size=32, steps=LONG_RUN)
    async with app.run_test(size=size) as pilot:
        screen = await open_table(pilot)
        bpc = f"{screen.computed.analysis.bits_per_char:.3f}"
        title = title_line(app)
        assert "after 1,203 steps" in title and bpc in title and not title.endswith("…")
        if size == (120, 40):  # room for every part in full
            assert title == f"Unit table · sorted by |r| depth ↓ · 4,023 characters of brackets.txt · {bpc} bits/char" \
                            " · after 1,203 steps"
        await pilot.press("escape", "space", "space", "U")
        await wait_for(pilot, lambda: isinstance(app.screen, UnitsScreen) and app.screen.computed is not None,
                       "the table again")
        await pilot.pause()
        title = title_line(app)  # an older analysis: what it is of stays, the rest gives way
        assert "after 1,203 steps" in title and "now at 1,205" in title and "press r" in title
        assert not title.endswith("…") and "|r| depth ↓" in title


@pytest.mark.parametrize("size", SIZES)
async def test_the_regex_hint_and_the_footer_labels_are_whole(size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await open_table(pilot)
        lines = screen_lines(app)
        regex = screen.query_one("#regex", Input)
        assert regex.placeholder.startswith("PATTERN") and len(regex.placeholder) < regex.content_region.width
        assert regex.placeholder in lines[regex.region.y]
        footer = lines[-1].split("▏")[0]  # the keys, left of the palette's
        shown = [binding for _, binding, _, _ in screen.active_bindings.values() if binding.show]
        assert shown
        for binding in shown:
            label = binding.group.description if binding.group else binding.description
            assert label in footer, label
        await pilot.press("slash")  # keys left out of the footer: the choosers' labels name them
        assert app.focused is regex and "regex (/)" in lines[regex.region.y]
        screen.query_one(DataTable).focus()
        await pilot.press("f")
        assert app.focused is screen.query_one("#feature") and "feature (f)" in lines[regex.region.y]


@pytest.mark.parametrize("size", SIZES)
async def test_the_scatters_y_axis_is_named_at_its_top_left(size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await open_table(pilot)
        lines = screen_lines(app)
        (top,) = [y for y, line in enumerate(lines) if "1.00┤" in line]  # the y axis's highest tick
        (named,) = [y for y, line in enumerate(lines) if "↑ sat high (h > 0.95)" in line]
        assert named < top and lines[named].index("↑") <= lines[top].index("1.00┤")
        (ticks,) = [y for y, line in enumerate(lines) if re.search(r"0\.00 +0\.25 +0\.50 +0\.75 +1\.00", line)]
        below = lines[ticks + 1 : ticks + 3]
        assert any("sat low (h < -0.95) →" in line for line in below) and not any("high" in line for line in below)


SNAPSHOT_STEPS = 400  # enough training for saturated units to show in the scatter


def snapshot_app() -> DebuggerApp:
    return make_app(steps=SNAPSHOT_STEPS)


async def wait_for_table(pilot) -> None:
    await open_table(pilot)


def test_snapshot_unit_table(snap_compare):
    assert snap_compare(snapshot_app(), terminal_size=(120, 40), run_before=wait_for_table)


async def test_the_unit_table_snapshot_shows_the_title_columns_rows_and_scatter():
    """What test_snapshot_unit_table's picture holds, in words."""
    app = snapshot_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_table(pilot)
        lines = screen_lines(app)
        direct = analyze(app.session.trainer.params, app.session.trainer.corpus)
        assert lines[0].startswith(" Unit table · sorted by |r| depth ↓ · 4,023 characters of brackets.txt · "
                                   f"{direct.bits_per_char:.3f} bits/char · after {SNAPSHOT_STEPS} steps")
        assert lines[1].split() == ["feature", "(f)", "depth", "▼", "regex", "(/)", "PATTERN,", "enter:", "a",
                                    "feature", "of", "your", "own", "probe", "R²",
                                    f"{direct.features['depth'].probe_r2:.3f}"]
        assert lines[2].split()[:8] == ["unit", "mean", "std", "sat", "low", "sat", "high", "flags"]
        assert "r depth" in lines[2] and "↑ sat high (h > 0.95) · a dot per unit" in lines[2]
        best = direct.features["depth"].best_unit
        assert lines[3].split()[0] == str(best) and f"{direct.features['depth'].r[best]:+.3f}" in lines[3]
        assert any("sat low (h < -0.95) →" in line for line in lines)
        assert lines[-1].split()[:11] == ["esc", "Back", "/", "cancel", "r", "Recompute", "N", "Neuron", "page",
                                          "o", "O"]


def test_the_analysis_comes_back_from_an_engine_process():
    session = Session(Trainer(Corpus.from_text(BRACKETS, name="brackets.txt"), Config(hidden_size=8, sample_every=0)))
    controller = start_engine_process(session)
    try:
        controller.step()
        store = AnalysisStore(controller)
        store.start()
        deadline = time.monotonic() + 30
        while store.running and time.monotonic() < deadline:
            store.check()
            time.sleep(0.02)
        assert store.latest is not None and store.latest.iteration == 1
        assert store.latest.analysis.chars == len(BRACKETS)
    finally:
        controller.close()

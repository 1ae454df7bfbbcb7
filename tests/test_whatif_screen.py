"""The what-if screen (X) driven like a user, every number checked against ``run_window`` on parameters
taken from a second session of the same seed and settings (never from the app's own engine)."""

from __future__ import annotations

import threading
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from harness import WAIT_S, DebuggerApp, screen_lines, wait_for, widget_text
from oracle import plain_ablated_bpc
from textual.widgets import DataTable, Input, Label, OptionList, ProgressBar

from rnntui.engine import Config, Corpus, Trainer, jobs, whatif
from rnntui.engine.session import Session
from rnntui.engine.whatif import ClampUnit, EditChar, FlipUnit, SetHprev, Span, ZeroHprev, ZeroUnit, run_window
from rnntui.tui.dialogs import TextPrompt
from rnntui.tui.glyphs import glyph
from rnntui.tui.main_screen import MainScreen
from rnntui.tui.scale import level_glyph
from rnntui.tui.whatif_screen import DeltaMap, WhatIfScreen

ROOT = Path(__file__).resolve().parent.parent
TEXT = (ROOT / "samples" / "brackets.txt").read_text()
CONFIG = Config(hidden_size=16, seq_length=12, sample_every=0)
SIZE = (120, 40)
STEPS = 40  # iterations trained before the what-if (the window shown is iteration STEPS - 1)
SHOWN = 0.5e-3 + 1e-12  # the tables show three decimals
SUMMARY = 0.5e-4 + 1e-12  # the window's loss and the scans show four


def new_session(steps: int) -> Session:
    session = Session(Trainer(Corpus.from_text(TEXT, name="brackets.txt"), CONFIG))
    session.run(steps, lambda: False)
    return session


class Independent:
    """Iteration ``iteration`` from a session of its own: the parameters it trained with and its record."""

    def __init__(self, iteration: int) -> None:
        session = new_session(iteration)
        self.params = {name: value.copy() for name, value in session.trainer.params.items()}
        self.record = session.step()

    def run(self, interventions=()):
        record = self.record
        return run_window(self.params, record.inputs, record.targets, record.hprev, interventions)


def make_app(steps: int = STEPS) -> DebuggerApp:
    return DebuggerApp(new_session(steps))


async def settled(pilot, screen: WhatIfScreen) -> None:
    """Wait until the screen shows the what-if of its current interventions."""
    await wait_for(pilot, lambda: screen.result is not None and not screen.computing, "the what-if")
    await pilot.pause()


async def open_whatif(pilot, app: DebuggerApp) -> WhatIfScreen:
    await pilot.press("X")
    screen = app.screen
    assert isinstance(screen, WhatIfScreen)
    await settled(pilot, screen)
    return screen


async def answer(pilot, text: str | None) -> None:
    """Type ``text`` into the open prompt (None: keep what it offers) and press enter."""
    assert isinstance(pilot.app.screen, TextPrompt)
    if text is not None:
        pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await pilot.pause()


async def add_changes(pilot, screen: WhatIfScreen, *changes: tuple[str, str | None]) -> None:
    """For each (key, answer): press the key and answer its prompt ("": the key asks nothing; None: keep
    what the prompt offers); then wait for the what-if."""
    for key, typed in changes:
        await pilot.press(key)
        if typed != "":
            await answer(pilot, typed)
    await settled(pilot, screen)


def cell(screen: WhatIfScreen, table: str, row: int | str, column: str) -> str:
    return str(screen.query_one(table, DataTable).get_cell(str(row), column))


def shown_column(screen: WhatIfScreen, table: str, column: str) -> np.ndarray:
    """A step table's column as numbers, t = 0..T-1."""
    T = screen.record.seq_length
    return np.array([float(cell(screen, table, t, column)) for t in range(T)])


def assert_change_tab_shows(screen: WhatIfScreen, before, after) -> None:
    """The Change tab's table and summary against two runs computed independently."""
    assert np.allclose(shown_column(screen, "#steps", "loss"), before.losses, rtol=0, atol=SHOWN)
    assert np.allclose(shown_column(screen, "#steps", "loss_new"), after.losses, rtol=0, atol=SHOWN)
    assert np.allclose(shown_column(screen, "#steps", "dloss"), after.losses - before.losses, rtol=0, atol=SHOWN)
    assert np.allclose(shown_column(screen, "#steps", "p"), before.p_target, rtol=0, atol=SHOWN)
    assert np.allclose(shown_column(screen, "#steps", "p_new"), after.p_target, rtol=0, atol=SHOWN)
    summary = widget_text(screen.query_one("#summary"))
    shown_before, shown_after = (float(x) for x in summary.split("loss ")[1].split("\n")[0].split(" → "))
    assert abs(shown_before - before.loss) <= SUMMARY and abs(shown_after - after.loss) <= SUMMARY
    shown_delta = float(summary.split("Δ loss ")[1].split()[0])
    assert abs(shown_delta - (after.loss - before.loss)) <= SUMMARY
    result = screen.result  # and the numbers behind the screen, to rounding
    assert np.allclose(result.after.losses, after.losses, rtol=0, atol=1e-12)
    assert np.allclose(result.before.losses, before.losses, rtol=0, atol=1e-12)


def top_chars(p: np.ndarray, vocab) -> list[tuple[str, float]]:
    """The five likeliest characters with their probabilities, most likely first (ties in vocabulary order)."""
    order = sorted(range(len(p)), key=lambda i: (-p[i], i))[:5]
    return [(vocab[i], float(p[i])) for i in order]


# --- interventions, one kind at a time ------------------------------------------------------------


def hprev_of_iteration(k: int):
    return SetHprev(Independent(k).record.hprev, f"hprev of iteration {k}")


KINDS = {  # name: (keys, the prompt's answer (None: what it offers), the intervention as the engine takes it)
    "edit": ("e", "5=)", lambda u, t, T, vocab: EditChar(5, vocab.index(")"))),
    "zero hprev": ("z", "", lambda u, t, T, vocab: ZeroHprev()),
    "hprev of iteration": ("p", "7", lambda u, t, T, vocab: hprev_of_iteration(7)),
    "zero unit at the cursor": ("a", None, lambda u, t, T, vocab: ZeroUnit(u, Span(t, t))),
    "clamp to the end": ("c", "3=0.5@4-11", lambda u, t, T, vocab: ClampUnit(3, 0.5, Span(4, T - 1))),
    "flip over the window": ("f", "9", lambda u, t, T, vocab: FlipUnit(9)),
}


@pytest.mark.parametrize("kind", list(KINDS))
async def test_each_kind_of_intervention_through_the_ui(kind):
    keys, typed, expected = KINDS[kind]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right", "right", "right", "down", "down")  # cursor t = 3, unit 2 on the main screen
        screen = await open_whatif(pilot, app)
        assert (screen.cursor_t, screen.unit) == (3, 2)
        await add_changes(pilot, screen, (keys, typed))
        oracle = Independent(STEPS - 1)
        vocab = list(app.controller.corpus.vocab)
        intervention = expected(2, 3, CONFIG.seq_length, vocab)
        assert_change_tab_shows(screen, oracle.run(), oracle.run([intervention]))
        assert len(screen.changes) == 1
        assert screen.query_one("#changes").option_count == 1


async def test_interventions_combine_and_one_can_be_removed():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_whatif(pilot, app)
        vocab = list(app.controller.corpus.vocab)
        await add_changes(pilot, screen, ("e", "2=("), ("a", "4@1-6"), ("p", "12"), ("f", "11@2"))
        oracle = Independent(STEPS - 1)
        edit, zero, flip = EditChar(2, vocab.index("(")), ZeroUnit(4, Span(1, 6)), FlipUnit(11, Span(2, 2))
        assert_change_tab_shows(screen, oracle.run(), oracle.run([hprev_of_iteration(12), edit, zero, flip]))
        listed = widget_text(screen.query_one("#changes"))
        for words in ("text 2:", "zero unit 4 at t=1..6", "hprev of iteration 12", "flip unit 11 at t=2"):
            assert words in listed
        screen.query_one("#changes").highlighted = 1  # the zeroed unit
        await pilot.press("d")
        await settled(pilot, screen)
        assert_change_tab_shows(screen, oracle.run(), oracle.run([hprev_of_iteration(12), edit, flip]))
        assert "zero unit 4" not in widget_text(screen.query_one("#changes"))
        await pilot.press("z")  # the carried state is replaced, not added
        await settled(pilot, screen)
        assert_change_tab_shows(screen, oracle.run(), oracle.run([ZeroHprev(), edit, flip]))
        assert "hprev of iteration" not in widget_text(screen.query_one("#changes"))


async def test_the_top_five_at_the_cursor_before_and_after():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_whatif(pilot, app)
        await pilot.press("down", "down", "down", "down")  # the step table's rows move the cursor
        await settled(pilot, screen)
        assert screen.cursor_t == 4
        await add_changes(pilot, screen, ("a", "0"), ("a", "1"))
        oracle = Independent(STEPS - 1)
        before, after = oracle.run(), oracle.run([ZeroUnit(0), ZeroUnit(1)])
        vocab = app.controller.corpus.vocab
        lines = widget_text(screen.query_one("#summary")).splitlines()
        start = next(i for i, line in enumerate(lines) if "original" in line) + 1
        shown = [line.split() for line in lines[start : start + 5]]
        expected = zip(top_chars(before.ps[4], vocab), top_chars(after.ps[4], vocab))
        for row, ((b, p), (a, q)) in zip(shown, expected, strict=True):
            assert row[0] == glyph(b) and abs(float(row[1]) - p) <= SUMMARY
            assert row[2] == glyph(a) and abs(float(row[3]) - q) <= SUMMARY


async def test_a_change_that_changes_nothing_shows_exact_zeros():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_whatif(pilot, app)
        record = app.session.record_at(STEPS - 1)
        same = app.controller.corpus.vocab[record.inputs[6]]
        await pilot.press(*["down"] * 6)  # the cursor to t = 6
        await add_changes(pilot, screen, ("e", None))  # the prompt offers the character the cursor's input is
        assert len(screen.changes) == 1
        assert f"text 6: '{same}' → '{same}'" in widget_text(screen.query_one("#changes"))
        T = record.seq_length
        assert [cell(screen, "#steps", t, "dloss") for t in range(T)] == ["0"] * T
        assert [cell(screen, "#steps", t, "loss") for t in range(T)] == [cell(screen, "#steps", t, "loss_new")
                                                                       for t in range(T)]
        assert "Δ loss 0" in [line.strip() for line in widget_text(screen.query_one("#summary")).splitlines()]
        assert "Δh is exactly 0 at every unit and timestep" in widget_text(screen.query_one("#change-map"))


async def test_a_small_change_is_never_shown_as_zero():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_whatif(pilot, app)
        oracle = Independent(STEPS - 1)
        nudged = float(oracle.run().hs[11, 5]) + 1e-7  # at the last timestep only its own loss term moves, barely
        await pilot.press("c")
        await answer(pilot, f"5={nudged!r}@11")
        await settled(pilot, screen)
        delta = oracle.run([ClampUnit(5, nudged, Span(11, 11))]).losses[11] - oracle.run().losses[11]
        assert 0 < abs(delta) < 0.5e-3  # too small for the table's three decimals
        shown = cell(screen, "#steps", 11, "dloss")
        assert delta != 0 and shown != "0" and float(shown) != 0
        assert [cell(screen, "#steps", t, "dloss") for t in range(11)] == ["0"] * 11


async def test_a_bad_intervention_is_refused_in_the_prompt_with_one_line():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_whatif(pilot, app)
        await pilot.press("a")
        await answer(pilot, "99@3")
        prompt = app.screen
        assert isinstance(prompt, TextPrompt)  # still open
        error = str(prompt.query_one("#error").content)
        assert "unit 99 is not in the hidden layer; choose a unit from 0 to 15" in error and "\n" not in error
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and screen.changes == ()


MALFORMED = {  # key: (what is typed, the start of the refusal, the form the prompt asks for)
    "e": ("Q", "'Q': no '=CHAR' after the position", "POSITION=CHAR"),
    "a": ("x@3", "'x@3': 'x' is not a unit number", "U@T, U@T-T2 or U"),
    "c": ("3@4", "'3@4': no '=VALUE' after the unit", "U=VALUE@T, U=VALUE@T-T2 or U=VALUE"),
    "f": ("2@x", "'2@x': 'x' is not a timestep T or a span T-T2", "U@T, U@T-T2 or U"),
}


@pytest.mark.parametrize("key", list(MALFORMED))
async def test_a_malformed_answer_is_refused_in_the_prompts_own_words(key):
    typed, problem, form = MALFORMED[key]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "down")  # cursor t = 2
        screen = await open_whatif(pilot, app)
        await pilot.press(key)
        prompt = app.screen
        offered = prompt.query_one(Input).value
        await answer(pilot, typed)
        assert app.screen is prompt  # still open
        error = str(prompt.query_one("#error").content)
        assert error == f"{problem}; type {form}, e.g. {offered}"
        assert "--" not in error and "valid forms" not in error  # the app has no command-line flags
        await answer(pilot, offered)  # what the refusal offers as an example is taken
        await settled(pilot, screen)
        assert len(screen.changes) == 1


def test_the_command_line_keeps_naming_its_flag():
    with pytest.raises(whatif.WhatIfError) as info:
        whatif.parse_edit("Q", 12, 16, ["a", "b"])
    assert str(info.value) == ("bad --edit 'Q': no '=CHAR' after the position; valid forms: --edit T=CHAR "
                               "(T: text position 0..12; CHAR: a character of the vocabulary or an escape)")


async def test_the_edit_prompt_tells_the_character_as_edited():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_whatif(pilot, app)
        await pilot.press(*["down"] * 5)  # the cursor to t = 5
        await settled(pilot, screen)
        was = app.controller.corpus.vocab[app.session.record_at(STEPS - 1).inputs[5]]
        now = "(" if was != "(" else ")"
        await add_changes(pilot, screen, ("e", f"5={now}"))
        await pilot.press("e")
        prompt = app.screen
        title = str(prompt.query(Label).first().content)
        assert f"position 5 is now '{now}' U+{ord(now):04X}, edited from " in title
        assert f"U+{ord(was):04X}" in title.split("edited from ")[1]
        assert prompt.query_one(Input).value == f"5={now}"  # offered: the character as it is now


async def test_the_edit_prompt_offers_a_space_in_a_form_it_takes():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        record = app.session.record_at(STEPS - 1)
        vocab = list(app.controller.corpus.vocab)
        space = vocab.index(" ")
        t = list(record.inputs).index(space)  # a space in the window (the bracket text has many)
        await pilot.press(*["right"] * t)
        screen = await open_whatif(pilot, app)
        await pilot.press("e")
        assert app.screen.query_one(Input).value == f"{t}=U+0020"
        await answer(pilot, None)  # what it offers is taken (a bare space would be trimmed away)
        await settled(pilot, screen)
        assert screen.changes == (EditChar(t, space),)


async def test_a_what_if_after_going_back_uses_that_iterations_parameters():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(5):
            await pilot.press("backspace")
        await pilot.pause()
        assert app.main.record.iteration == STEPS - 6
        screen = await open_whatif(pilot, app)
        await pilot.press("f")
        await answer(pilot, "1")
        await settled(pilot, screen)
        oracle = Independent(STEPS - 6)
        assert_change_tab_shows(screen, oracle.run(), oracle.run([FlipUnit(1)]))
        assert f"iteration {STEPS - 6}" in widget_text(screen.query_one("#head"))


# --- which units matter ------------------------------------------------------------------------------


def scan_rows(screen: WhatIfScreen) -> list[tuple[int, float, float]]:
    table = screen.query_one("#window-scan", DataTable)
    rows = [table.get_row_at(i) for i in range(table.row_count)]
    return [(int(unit), float(dloss), float(dp)) for _, unit, dloss, dp in rows]


async def test_the_window_scan_against_zeroing_each_unit_in_turn():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right", "right")
        screen = await open_whatif(pilot, app)
        await pilot.press("2")
        await pilot.pause()
        oracle = Independent(STEPS - 1)
        base = oracle.run()
        runs = [oracle.run([ZeroUnit(u)]) for u in range(CONFIG.hidden_size)]
        dloss = np.array([run.loss - base.loss for run in runs])
        dp = np.array([run.p_target[2] - base.p_target[2] for run in runs])
        rows = scan_rows(screen)
        assert sorted(unit for unit, _, _ in rows) == list(range(CONFIG.hidden_size))
        for unit, shown_loss, shown_dp in rows:
            assert abs(shown_loss - dloss[unit]) <= SUMMARY and abs(shown_dp - dp[unit]) <= SUMMARY
        ranked = [dloss[unit] for unit, _, _ in rows]
        assert all(a >= b - 1e-9 for a, b in pairwise(ranked))  # the largest rise first
        assert rows[0][0] == int(np.argmax(dloss))
        await pilot.press("s")
        await pilot.pause()
        ranked = [dp[unit] for unit, _, _ in scan_rows(screen)]
        assert all(a <= b + 1e-9 for a, b in pairwise(ranked))  # the largest drop of p(target) first
        assert "at t=2" in widget_text(screen.query_one("#scan-caption"))


async def test_enter_on_a_unit_chooses_it_for_every_panel():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_whatif(pilot, app)
        await pilot.press("2")
        await pilot.pause()
        table = screen.query_one("#window-scan", DataTable)
        row = next(i for i in range(1, table.row_count) if int(table.get_row_at(i)[1]) != app.main.unit)
        unit = int(table.get_row_at(row)[1])
        await pilot.press(*["down"] * row, "enter")
        await pilot.pause()
        assert app.main.unit == unit
        assert app.main.query_one("#heatmap").unit == unit  # the main screen's panels follow
        assert f"unit {unit}" in widget_text(screen.query_one("#head"))
        await pilot.press("1", "a")  # and unit changes now start from it
        await pilot.pause()
        assert app.screen.query_one(Input).value == f"{unit}@{screen.cursor_t}"


async def test_the_whole_text_scan_against_a_plain_loop_per_unit():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_whatif(pilot, app)
        await pilot.press("2", "w")
        await wait_for(pilot, lambda: screen.corpus_scan is not None, "the scan of the whole text")
        await pilot.pause()
        window_iteration = screen.record.iteration  # the window's own parameters: those it trained with
        params = {k: v.copy() for k, v in new_session(window_iteration).trainer.params.items()}
        data = Corpus.from_text(TEXT).data
        base = plain_ablated_bpc(params, data, None)
        delta = np.array([plain_ablated_bpc(params, data, u) - base for u in range(CONFIG.hidden_size)])
        table = screen.query_one("#corpus-scan", DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert [int(rank) for rank, _, _ in rows] == list(range(1, CONFIG.hidden_size + 1))
        for _, unit, shown in rows:
            assert abs(float(shown) - delta[int(unit)]) <= 0.5e-5 + 1e-12
        ranked = [delta[int(unit)] for _, unit, _ in rows]
        assert all(a >= b - 1e-9 for a, b in pairwise(ranked))
        caption = widget_text(screen.query_one("#corpus-caption")).replace("\n", " ")
        assert f"after {window_iteration} steps" in caption
        assert abs(float(caption.split(" bits/char")[0].split()[-1]) - base) <= SUMMARY


def hold_the_scan_at_unit_1(monkeypatch) -> threading.Event:
    """Hold the whole-text scan's pass of unit 1 until the event is set (the engine is a thread here),
    so that a test can look at the scan in progress."""
    gate = threading.Event()
    real_pass = jobs.run_pass

    def held_pass(*args, **kwargs):
        if kwargs.get("ablate") == 1:
            gate.wait(WAIT_S)
        return real_pass(*args, **kwargs)

    monkeypatch.setattr(jobs, "run_pass", held_pass)
    return gate


async def test_the_whole_text_scan_shows_progress_and_escape_cancels_it(monkeypatch):
    gate = hold_the_scan_at_unit_1(monkeypatch)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_whatif(pilot, app)
        await pilot.press("2", "w")
        bar = screen.query_one(ProgressBar)
        await wait_for(pilot, lambda: (bar.progress or 0) >= 1, "the scan's progress")
        await pilot.pause()
        assert screen.scanning and (bar.progress, bar.total) == (1, CONFIG.hidden_size)
        assert "unit 2 of 16 · escape cancels" in widget_text(screen.query_one("#corpus-progress"))
        await pilot.press("escape")
        gate.set()
        await pilot.pause()
        assert app.screen is screen and not screen.scanning  # escape cancels first, and keeps the screen
        assert not screen.query_one("#corpus-progress").display
        assert "cancelled" in widget_text(screen.query_one("#corpus-caption"))
        await wait_for(pilot, lambda: not app.controller.mirror.jobs, "the cancelled job's last report")
        await wait_for(pilot, lambda: screen.settled, "the screen to take that report (then it polls no more)")
        assert screen.corpus_scan is None and screen.query_one("#corpus-scan", DataTable).row_count == 0
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


# --- across iterations ----------------------------------------------------------------------------------


async def test_an_iteration_against_itself_is_zero_and_against_an_earlier_one_matches():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_whatif(pilot, app)
        await pilot.press("3", "i")
        await answer(pilot, str(STEPS - 1))
        await settled(pilot, screen)
        T = CONFIG.seq_length
        for column in ("dp", "dloss"):
            assert [cell(screen, "#across-steps", t, column) for t in range(T)] == ["0"] * T
        assert "Δh is exactly 0" in widget_text(screen.query_one("#across-map"))
        units = screen.query_one("#across-units", DataTable)
        assert {units.get_row_at(i)[1] for i in range(units.row_count)} == {"0"}
        await pilot.press("i")
        await answer(pilot, "10")
        await settled(pilot, screen)
        this, earlier = Independent(STEPS - 1), Independent(10)
        record = this.record
        mine = this.run()
        theirs = run_window(earlier.params, record.inputs, record.targets, record.hprev)
        assert np.allclose(shown_column(screen, "#across-steps", "p"), mine.p_target, rtol=0, atol=SHOWN)
        assert np.allclose(shown_column(screen, "#across-steps", "p_new"), theirs.p_target, rtol=0, atol=SHOWN)
        assert np.allclose(shown_column(screen, "#across-steps", "dp"), theirs.p_target - mine.p_target, atol=SHOWN)
        assert np.allclose(shown_column(screen, "#across-steps", "dloss"), theirs.losses - mine.losses, atol=SHOWN)
        most = np.abs(theirs.hs - mine.hs).max(axis=0)
        shown_units = [int(units.get_row_at(i)[0]) for i in range(units.row_count)]
        assert shown_units[0] == int(np.argmax(most))
        assert all(most[a] >= most[b] - 1e-9 for a, b in pairwise(shown_units))
        caption = widget_text(screen.query_one("#across-caption"))
        assert f"Δ {theirs.loss - mine.loss:+.4f}" in caption


async def test_without_colour_the_difference_heatmap_shows_each_change_as_a_bar(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_whatif(pilot, app)
        await add_changes(pilot, screen, ("f", "6@2-11"))
        assert app.no_color
        dh = Independent(STEPS - 1).run([FlipUnit(6, Span(2, 11))]).hs - Independent(STEPS - 1).run().hs
        largest = np.abs(dh).max()
        heat = widget_text(screen.query_one("#change-map")).splitlines()
        row = next(line for line in heat if line.startswith("│  6 "))  # the flipped unit, changed most
        cells = row[5 : 5 + 2 * CONFIG.seq_length]
        assert cells == "".join(level_glyph(v / largest) * 2 for v in dh[:, 6])
        assert level_glyph(-1.0) in heat[-2] and level_glyph(1.0) in heat[-2]  # the legend's ends


# --- nothing moves --------------------------------------------------------------------------------------


async def test_training_and_the_timeline_stay_bit_identical_after_many_what_ifs():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("backspace", "backspace")
        screen = await open_whatif(pilot, app)
        changes = (("a", "1"), ("e", "0=}"), ("p", "3"), ("c", "2=-1@5-11"), ("f", "7@4"), ("z", ""))
        await add_changes(pilot, screen, *changes)
        await pilot.press("3", "i")
        await answer(pilot, "5")
        await pilot.press("2", "w")
        await wait_for(pilot, lambda: screen.corpus_scan is not None, "the scan of the whole text")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        shown_after_going_back = app.main.record
        assert shown_after_going_back.iteration == STEPS - 3
        await pilot.press(*["space"] * 12)
        await wait_for(pilot, lambda: app.main.record.iteration == STEPS + 9, "the steps")
        untouched = new_session(STEPS + 10)
        busy = app.session
        mine, theirs = busy.trainer.state(), untouched.trainer.state()
        for name in ("params", "memory", "hprev"):
            assert np.array_equal(getattr(mine, name), getattr(theirs, name)), name
        assert (mine.position, mine.iteration) == (theirs.position, theirs.iteration)
        assert np.array_equal(busy.trainer.history.loss, untouched.trainer.history.loss)
        assert np.array_equal(busy.trainer.history.smooth_loss, untouched.trainer.history.smooth_loss)
        replayed = busy.record_at(STEPS - 3)
        for name in ("hs", "ps", "losses", "hprev", "dh"):
            assert np.array_equal(getattr(replayed, name), getattr(shown_after_going_back, name)), name


# --- opening it ---------------------------------------------------------------------------------------------


async def test_before_the_first_step_it_says_what_to_do():
    app = make_app(steps=0)
    async with app.run_test(size=SIZE) as pilot:
        said = []
        app.main.notify = lambda message, **how: said.append(message)
        await pilot.press("X")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert said == ["take a step first (space): what-if works on the window shown"]


async def test_the_palette_opens_it_and_a_run_is_paused_first():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: app.main.state.is_running, "the run")
        commands = {c.title: c for c in app.get_system_commands(app.main)}
        commands["What if"].callback()
        await wait_for(pilot, lambda: isinstance(app.screen, WhatIfScreen), "the what-if screen")
        await wait_for(pilot, lambda: not app.main.state.is_running, "the pause")
        screen = app.screen
        await settled(pilot, screen)
        assert screen.result.iteration == screen.record.iteration


# --- what it looks like ---------------------------------------------------------------------------------------

LONG = 1_050  # iterations trained for the fitting tests: iteration numbers with a thousands separator
SIZES = [SIZE, (80, 24)]


def rows(widget) -> int:
    return widget.region.height


@pytest.mark.parametrize("size", SIZES)
async def test_the_across_caption_takes_one_line_and_keeps_the_change(size):
    app = make_app(LONG)
    async with app.run_test(size=size) as pilot:
        screen = await open_whatif(pilot, app)
        await pilot.press("3")
        await pilot.pause()
        assert rows(screen.query_one("#across-caption")) == 1
        await pilot.press("i")
        await answer(pilot, "5")
        await settled(pilot, screen)
        this, earlier = Independent(LONG - 1), Independent(5)
        record = this.record
        delta = run_window(earlier.params, record.inputs, record.targets, record.hprev).loss - this.run().loss
        caption = screen.query_one("#across-caption")
        assert rows(caption) == 1
        shown = widget_text(caption)
        assert "iteration 5" in shown and f"Δ {delta:+.4f}" in shown


@pytest.mark.parametrize("size", SIZES)
async def test_the_other_captions_and_the_listed_changes_take_one_line_each(size, monkeypatch):
    """The head, the Change tab's side column and the Units tab's captions and progress line do not
    wrap, and the whole text's baseline is still shown."""
    gate = hold_the_scan_at_unit_1(monkeypatch)
    app = make_app(LONG)
    async with app.run_test(size=size) as pilot:
        screen = await open_whatif(pilot, app)
        assert rows(screen.query_one("#head")) == 2  # the head line and the window's text
        assert rows(screen.query_one("#changes-caption")) == 1
        changes = (("p", "1000"), ("c", "15=-0.75@3-11"), ("f", "9"), ("e", "12=("))
        await add_changes(pilot, screen, *changes)
        assert rows(screen.query_one("#changes", OptionList)) == len(changes)
        assert rows(screen.query_one("#summary")) == 4 + 5  # four lines, then the top five before and after

        await pilot.press("2")
        await pilot.pause()
        assert rows(screen.query_one("#scan-caption")) == 1
        assert rows(screen.query_one("#corpus-caption")) == 1
        await pilot.press("w")
        bar = screen.query_one(ProgressBar)
        await wait_for(pilot, lambda: (bar.progress or 0) >= 1, "the scan's progress")
        await pilot.pause()
        progress = screen.query_one("#corpus-progress Label")
        assert rows(progress) == 1 and "2" in widget_text(progress) and "16" in widget_text(progress)
        gate.set()
        await wait_for(pilot, lambda: screen.corpus_scan is not None, "the scan of the whole text")
        await pilot.pause()
        caption = screen.query_one("#corpus-caption")
        params = {k: v.copy() for k, v in new_session(LONG - 1).trainer.params.items()}
        base = plain_ablated_bpc(params, Corpus.from_text(TEXT).data, None)
        assert rows(caption) == 1
        assert abs(float(widget_text(caption).split(" bits/char")[0].split()[-1]) - base) <= SUMMARY


async def snapshot_setup(pilot) -> None:
    """Cursor t=4, unit 3; zero unit 3 from t=4 to the end, edit position 2 to '{', and wait."""
    await pilot.press("right", "right", "right", "right", "down", "down", "down", "X")
    screen = pilot.app.screen
    await settled(pilot, screen)
    await add_changes(pilot, screen, ("a", "3@4-11"), ("e", "2={"))


def test_snapshot_change_tab(snap_compare):
    assert snap_compare(make_app(), run_before=snapshot_setup, terminal_size=SIZE)


def test_snapshot_change_tab_small_terminal(snap_compare):
    assert snap_compare(make_app(), run_before=snapshot_setup, terminal_size=(80, 24))


async def test_what_the_snapshot_shows():
    """The snapshot's screen in words: the head, the listed changes, the table, the summary, the Δh rows."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await snapshot_setup(pilot)
        screen = app.screen
        text = "\n".join(screen_lines(app))
        oracle = Independent(STEPS - 1)
        vocab = list(app.controller.corpus.vocab)
        before = oracle.run()
        after = oracle.run([ZeroUnit(3, Span(4, 11)), EditChar(2, vocab.index("{"))])
        record = oracle.record
        assert f"iteration {STEPS - 1} · window at {record.position:,}, T=12 · t=4 · unit 3" in text
        was = vocab[record.inputs[2]]
        assert f"text 2: '{was}' → '{{'" in text and "zero unit 3 at t=4..11" in text
        assert f"loss {before.loss:.4f} → {after.loss:.4f}" in text
        assert f"Δ loss {after.loss - before.loss:+.4f}" in text
        dh = after.hs - before.hs
        most = np.abs(dh).max(axis=0)
        heat = widget_text(screen.query_one("#change-map", DeltaMap)).splitlines()
        rows = [line.strip("│ ").split() for line in heat[2:-2]]  # below the border and the header, above the legend
        assert [int(unit) for unit, _ in rows] == sorted(range(16), key=lambda u: (-most[u], u))[: len(rows)]
        assert all(abs(float(value) - most[int(unit)]) <= SUMMARY for unit, value in rows)
        assert f"-{most.max():.2g}" in heat[-2] and f"+{most.max():.2g}" in heat[-2]  # the scale's ends
        assert np.all(dh[:2] == 0)  # before the edited input nothing differs ...
        assert cell(screen, "#steps", 0, "dloss") == "0"  # ... and the table says so exactly at t=0,
        assert after.losses[1] != before.losses[1] and cell(screen, "#steps", 1, "dloss") != "0"  # not at t=1:
        # position 2 is target 1 as well

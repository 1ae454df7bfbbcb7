"""The whole debugger driven like a user: keys in, every panel checked against the engine's record."""

import asyncio
import random
import threading
from pathlib import Path

import numpy as np
import pytest
from harness import DebuggerApp, screen_lines, wait_for, wait_for_run_end, widget_text
from textual import events
from textual.widgets import Label

from rnntui.engine import Config, Corpus, Trainer, load_checkpoint
from rnntui.engine.session import RunState, Session, StopCause
from rnntui.tui import scale
from rnntui.tui.dialogs import ConfirmDialog, TextPrompt
from rnntui.tui.drawing import format_prob
from rnntui.tui.glyphs import glyphs
from rnntui.tui.gradients import format_norm
from rnntui.tui.help import HelpScreen
from rnntui.tui.input_window import InputWindow
from rnntui.tui.main_screen import MainScreen

ROOT = Path(__file__).resolve().parent.parent
SIZE = (120, 40)


def make_app(config: Config | None = None, text: str | None = None) -> DebuggerApp:
    corpus = Corpus.from_text(text or (ROOT / "samples" / "prose.txt").read_text(), name="prose.txt")
    trainer = Trainer(corpus, config or Config(hidden_size=32, seq_length=16, sample_every=10))
    return DebuggerApp(Session(trainer))


def main(app: DebuggerApp) -> MainScreen:
    return app.main


async def test_space_steps_once_and_every_panel_shows_that_record():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await pilot.pause()
        session = app.session
        assert session.trainer.iteration == 1
        rec = session.last_record
        screen = main(app)
        assert screen.record is rec
        status = widget_text(screen.query_one("#status"))
        assert f"iter {rec.iteration}" in status and f"loss {rec.loss:.3f}" in status
        assert f"smooth {rec.smooth_loss:.3f}" in status
        inputs = glyphs("".join(session.trainer.vocab[i] for i in rec.inputs))
        assert inputs[:10] in widget_text(screen.query_one("#input"))
        probs = widget_text(screen.query_one("#probs"))
        assert format_prob(float(rec.target_probs[0])) in probs
        grads = widget_text(screen.query_one("#gradients"))
        for name in ("Wxh", "Whh", "Why"):
            assert format_norm(rec.grad_norms[name]) in grads
        heat = widget_text(screen.query_one("#heatmap"))
        assert f"h={rec.hs[0, 0]:+.4f}" in heat
        assert screen.query_one("#loss").plan().last == 0


async def test_run_then_pause_stops_advancing():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        assert main(app).state.is_running
        await wait_for(pilot, lambda: main(app).record is not None and main(app).record.iteration >= 20, "20 iterations")
        await pilot.press("r")
        await wait_for_run_end(pilot)
        stopped_at = app.session.trainer.iteration
        assert stopped_at > 20
        assert main(app).state == RunState.paused()
        app.controller.poll()  # nothing moves once paused
        assert app.session.trainer.iteration == stopped_at == app.controller.mirror.iteration
        assert main(app).record.iteration == stopped_at - 1  # the newest record is on screen


async def test_cursor_moves_change_the_probabilities_panel():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        rec = app.session.last_record
        before = widget_text(main(app).query_one("#probs"))
        await pilot.press("right", "right")
        await pilot.pause()
        assert main(app).cursor_t == 2
        after = widget_text(main(app).query_one("#probs"))
        assert "t=2" in after and after != before
        assert format_prob(float(rec.target_probs[2])) in after


async def test_choosing_a_unit_recolours_the_input_window():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        screen = main(app)
        screen.query_one("#heatmap").focus()
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        assert screen.unit == 2 and screen.color_unit == 2
        window = screen.query_one(InputWindow)
        assert window.color_unit == 2
        rec = app.session.last_record
        lines = window.render_lines(window.region.reset_offset)  # noqa: F841 (forces a render)
        assert "coloured by unit 2" in widget_text(window)
        colours = {seg.style.bgcolor.triplet for line in window.render_lines(window.region.reset_offset)
                   for seg in line if seg.style and seg.style.bgcolor and seg.text.strip()}
        expected = {scale.color(float(rec.hs[t, 2])).triplet for t in range(rec.seq_length)}
        assert expected & colours
        await pilot.press("u")
        await pilot.pause()
        assert screen.color_unit is None


async def test_help_opens_and_closes():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert any("help" in line.lower() for line in screen_lines(app))
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_saving_after_one_iteration_says_one_iteration(tmp_path, monkeypatch):
    app = make_app()
    said = []
    monkeypatch.setattr(app, "notify", lambda message, **_: said.append(message))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "ctrl+s")
        await pilot.pause()
        app.screen.query_one("Input").value = str(tmp_path / "one.npz")
        await pilot.press("enter")
        await wait_for(pilot, lambda: (tmp_path / "one.npz").exists(), "the checkpoint")
    assert said == [f"saved after 1 iteration to {tmp_path / 'one.npz'}"]


async def test_save_writes_a_loadable_checkpoint_and_asks_before_overwriting(tmp_path):
    app = make_app()
    target = tmp_path / "run.npz"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "space", "space")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, TextPrompt)
        prompt_input = app.screen.query_one("Input")
        prompt_input.value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        assert target.exists()
        loaded = load_checkpoint(target, app.session.trainer.corpus)
        assert loaded.iteration == 3
        np.testing.assert_array_equal(loaded.params["Whh"], app.session.trainer.params["Whh"])
        assert not app.session.dirty
        other = tmp_path / "other.npz"
        other.write_bytes(target.read_bytes())  # another run's checkpoint
        await pilot.press("space")
        await type_save_path(pilot, app, other)
        assert isinstance(app.screen, ConfirmDialog)
        question = str(app.screen.query_one(Label).content)
        assert question == f"{other} holds a checkpoint after 3 iterations; this run is after 4 iterations. Replace it?"
        await pilot.press("enter")  # a second Enter typed ahead cancels: replacing is never the default
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog)
        assert other.read_bytes() == target.read_bytes()
        await type_save_path(pilot, app, other)
        await pilot.press("n")
        await pilot.pause()
        assert other.read_bytes() == target.read_bytes()
        await type_save_path(pilot, app, other)
        await pilot.press("y")
        await wait_for(pilot, lambda: load_checkpoint(other, app.session.trainer.corpus).iteration == 4, "the replacement")


def test_the_question_before_replacing_an_empty_file_calls_it_empty(tmp_path):
    from rnntui.tui.app import replace_question

    empty = tmp_path / "empty.npz"
    empty.touch()
    assert replace_question(empty, 4) == f"{empty} is an empty file; this run is after 4 iterations. Replace it?"


async def test_save_refuses_a_name_ending_with_a_separator(tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        error = await save_prompt_refusal(pilot, app, f"{tmp_path}/new.npz/")
        assert "ends with '/'" in error
    assert list(tmp_path.iterdir()) == []


async def type_save_path(pilot, app, path: Path) -> None:
    """ctrl+s, ``path`` typed into its prompt, enter."""
    await pilot.press("ctrl+s")
    await pilot.pause()
    app.screen.query_one("Input").value = str(path)
    await pilot.press("enter")
    await pilot.pause()


async def save_prompt_refusal(pilot, app, path: Path) -> str:
    """Type ``path`` into ctrl+s's prompt; the one-line refusal the prompt shows (it stays open)."""
    await type_save_path(pilot, app, path)
    assert isinstance(app.screen, TextPrompt), "the prompt closed: the path was accepted"
    error = str(app.screen.query_one("#error").content)
    await pilot.press("escape")
    await pilot.pause()
    return error


async def test_save_never_offers_to_overwrite_the_text_or_a_file_that_is_not_a_checkpoint(tmp_path):
    text = tmp_path / "prose.txt"
    text.write_text((ROOT / "samples" / "prose.txt").read_text())
    link = tmp_path / "link.npz"
    link.symlink_to(text)
    notes = tmp_path / "notes.npz"
    notes.write_bytes(b"precious")
    session = make_app().session
    app = DebuggerApp(session, protected={"FILE": str(text)})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        for path in (text, link):
            error = await save_prompt_refusal(pilot, app, path)
            assert "is the same file as FILE" in error and "choose another path" in error
        error = await save_prompt_refusal(pilot, app, notes)
        assert "exists and is not an rnntui checkpoint" in error and "\n" not in error
        error = await save_prompt_refusal(pilot, app, Path("/dev/null"))
        assert "character device" in error or "stream" in error
    assert notes.read_bytes() == b"precious"
    assert text.read_text() == (ROOT / "samples" / "prose.txt").read_text()


async def test_quit_asks_when_progress_is_unsaved():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("q", "y")
        await pilot.pause()
    assert app.return_code == 0


async def test_quit_asks_when_only_an_evaluation_is_unsaved_and_names_what_would_be_lost():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")  # nothing trained, but the evaluation would go with the quit
        await wait_for(pilot, lambda: app.controller.mirror.evaluations, "the evaluation")
        await wait_for(pilot, lambda: app.controller.mirror.dirty, "the evaluation counted as unsaved")
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert "Not saved since the last save: evaluations." in "\n".join(screen_lines(app))
        await pilot.press("n", "space")
        await wait_for(pilot, lambda: app.controller.mirror.unsaved_iterations == 1, "one iteration")
        await pilot.press("q")
        await pilot.pause()
        question = " ".join(line.strip(" │") for line in widget_text(app.screen.query_one(Label)).splitlines())
        assert question == "Not saved since the last save: 1 iteration, evaluations. Quit anyway?"
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0


KEY_CHARACTERS = {"question_mark": "?"}


def type_ahead(app, *keys: str) -> None:
    """Queue ``keys`` at once, as a fast typist's reach the app before the first is handled."""
    for key in keys:
        app.post_message(events.Key(key, KEY_CHARACTERS.get(key, key if len(key) == 1 else None)))


@pytest.mark.parametrize("after", ["question_mark", "U", "k", "h", "b", "E"])
async def test_keys_typed_after_answering_quit_are_ignored(after):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the quit question")
        type_ahead(app, "y", after)
        await pilot.pause()
        await pilot.pause()
    assert app.return_code == 0 and app.closing  # y answered the question: the key after it did nothing


@pytest.mark.parametrize("after", ["question_mark", "U", "k"])
async def test_keys_typed_after_quitting_at_once_are_ignored(after):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        type_ahead(app, "q", after)  # nothing unsaved: q quits without asking
        await pilot.pause()
        await pilot.pause()
    assert app.return_code == 0 and app.closing


async def test_the_window_stays_usable_while_the_engine_does_not_answer(monkeypatch):
    from rnntui.engine import control

    monkeypatch.setattr(control, "PATIENCE_S", 0.2)
    release = threading.Event()
    app = make_app()
    step = app.session.step

    def held_step():  # the engine held (a signal, or long work holding it) until released
        release.wait(30)
        return step()

    app.session.step = held_step
    said = []
    monkeypatch.setattr(app, "notify", lambda message, **kw: said.append((kw.get("title"), message)))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("space")  # the step is asked for; no answer comes
            await wait_for(pilot, lambda: said and said[0][0] == "Engine not answering", "the warning")
            assert "has not answered" in said[0][1] and "q quits" in said[0][1]
            await pilot.press("space")  # not sent while the first waits: said, not dropped in silence
            await wait_for(pilot, lambda: len(said) > 1, "the refusal")
            assert said[1][0] == "Engine busy" and said[1][1].startswith("not done: the engine has not answered for ")
            await pilot.press("question_mark")  # the window still answers keys
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
            await pilot.press("escape")
            release.set()
            await wait_for(pilot, lambda: app.main.record is not None and app.main.record.iteration == 0, "the step")
            await wait_for(pilot, lambda: ("Engine", "the engine answers again") in said, "the all-clear")
            assert [t for t, _ in said].count("Engine not answering") == 1  # said once, not at every tick
    finally:
        release.set()


async def test_tiny_terminal_shows_a_message_and_recovers():
    app = make_app()
    async with app.run_test(size=(60, 18)) as pilot:
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert "Enlarge the terminal to at least 80 x 24" in text
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert "Enlarge the terminal" not in text
        assert "Input window" in text and "Gradients" in text


async def test_divergence_pauses_with_a_message():
    app = make_app(Config(hidden_size=8, seq_length=8, learning_rate=1e300, clip=1e300, sample_every=0))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await wait_for_run_end(pilot)
        screen = main(app)
        rec = app.session.last_record
        assert rec.nonfinite is not None
        assert screen.state.cause is StopCause.DIVERGED and rec.nonfinite in screen.state.message
        assert f"■ stopped: diverged at iteration {rec.iteration}" in widget_text(screen.query_one("#status"))
        stopped_at = app.session.trainer.iteration
        app.controller.poll()
        assert app.session.trainer.iteration == stopped_at


async def test_samples_and_temperature_keys():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "right_square_bracket")
        await pilot.pause()
        assert app.session.trainer.config.temperature == pytest.approx(1.25)
        await pilot.press("s")
        await pilot.pause()
        samples = main(app).samples
        assert samples[-1].on_demand and samples[-1].temperature == pytest.approx(1.25)
        assert "T=1.25" in widget_text(main(app).query_one("#samples"))


def test_snapshot_after_three_steps(snap_compare):
    assert snap_compare(make_app(), press=["space", "space", "space"], terminal_size=SIZE)


def test_snapshot_small_terminal(snap_compare):
    assert snap_compare(make_app(), press=["space"], terminal_size=(80, 24))


def test_every_key_has_a_palette_entry_and_a_help_line():
    from rnntui.tui.help import HELP_TEXT
    from rnntui.tui.keys import SCREEN_KEYS, palette_commands

    described = {key.key: key for key in SCREEN_KEYS}
    actions = {action for _, _, action in palette_commands()}
    for binding in MainScreen.BINDINGS:  # a binding added without a description fails here
        assert binding.key in described, f"{binding.key} is bound but not described in keys.py"
        key = described[binding.key]
        assert binding.action in actions, f"{binding.key} ({binding.action}) has no palette entry"
        escaped = key.help.replace("|", "\\|")  # a pipe inside a Markdown cell
        assert f"| {key.shown} | {escaped} |" in HELP_TEXT, key.shown


def test_readmes_key_table_is_the_apps():
    from rnntui.tui.keys import help_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [row for row in help_table().splitlines() if row not in readme] == []


@pytest.mark.parametrize("width", [80, 100, 120, 160])
async def test_the_footer_shows_whole_keys_in_order_as_many_as_fit(width):
    app = make_app()
    async with app.run_test(size=(width, 40)) as pilot:
        await pilot.pause()
        await pilot.pause()
        screen = app.main
        labels = []  # each shown key as the footer writes it, in order ("[ ] Temp" for a group)
        for _, binding, _, _ in screen.active_bindings.values():
            if not binding.show or binding.action == "app.command_palette":
                continue
            if binding.group is not None:
                keys = [app.get_key_display(b) for _, b, _, _ in screen.active_bindings.values() if b.group is binding.group]
                label = f"{' '.join(keys)} {binding.group.description}"
            else:
                label = f"{app.get_key_display(binding)} {binding.description}"
            if label not in labels:
                labels.append(label)
        keys_part, palette = screen_lines(app)[-1].split("▏")
        assert palette.strip() == "^p palette"
        shown = keys_part.strip()
        fitting = [k for k in range(len(labels) + 1) if "  ".join(labels[:k]) == shown]
        assert fitting, shown  # whole labels from the first on, nothing cut
        k = fitting[0]
        assert k >= 7  # at 80 columns: space, r, n, ctrl+s, ?, q, s
        if k < len(labels):  # the next would not have fitted whole
            assert len(" " + "  ".join(labels[: k + 1]) + "  ") > len(keys_part)


async def test_the_footer_refits_when_the_terminal_narrows():
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        assert "h Hyper" in screen_lines(app)[-1]
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        keys_part = screen_lines(app)[-1].split("▏")[0]
        assert keys_part.rstrip().endswith("s Sample") and "Temp" not in keys_part and "h " not in keys_part


@pytest.mark.parametrize("dialog_key", ["ctrl+s", "b"])
async def test_the_footer_behind_a_dialog_keeps_its_keys_whole(dialog_key):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await pilot.pause()
        before = screen_lines(app)[-1]
        await pilot.press(dialog_key)
        await wait_for(pilot, lambda: app.screen is not app.main, "the dialog")
        await pilot.pause()
        await pilot.pause()
        assert screen_lines(app)[-1] == before


async def test_palette_commands_run_their_actions():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        commands = {c.title: c for c in app.get_system_commands(app.main)}
        commands["Step one iteration"].callback()
        await pilot.pause()
        assert app.session.trainer.iteration == 1
        commands["Step into iteration"].callback()
        await pilot.pause()
        assert app.main.step_phase == "forward"


@pytest.mark.parametrize(
    "focus, keys, cursor", [("#input", ["right"] * 10, (10, 0)), ("#heatmap", ["right", "down"] * 7, (7, 7))]
)
async def test_a_burst_of_keys_counts_every_press(focus, keys, cursor):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await pilot.pause()
        screen = main(app)
        screen.query_one(focus).focus()
        await pilot.pause()
        rng = random.Random(7)
        for key in keys:  # arriving faster than the screen hands its cursor back down, in varying order
            app.post_message(events.Key(key, None))
            for _ in range(rng.randrange(4)):
                await asyncio.sleep(0)
        await pilot.pause()
        await pilot.pause()
        assert (screen.cursor_t, screen.unit) == cursor
        for name in ("#input", "#heatmap"):  # the panels bound to both, the one pressed in among them
            assert (screen.query_one(name).cursor_t, screen.query_one(name).unit) == cursor
        assert screen.query_one("#probs").cursor_t == cursor[0]


# --- the hyperparameters form and the command palette -------------------------------------------


async def test_a_fields_message_follows_its_text_without_pressing_enter_again():
    from textual.widgets import Input

    from rnntui.engine.errors import ConfigError
    from rnntui.tui.hyperparams_screen import HyperparamsScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HyperparamsScreen), "the hyperparameters form")
        field, error = app.screen.query_one("#learning_rate", Input), app.screen.query_one("#learning_rate-error")
        field.focus()
        await pilot.press("end", *["backspace"] * len(field.value), "-", "1", "enter")
        with pytest.raises(ConfigError) as refused:
            Config(learning_rate=-1.0)
        assert error.display and str(error.content) == refused.value.problem
        await pilot.press("backspace", "backspace", "0")  # still bad: the message says what is there now
        assert error.display and str(error.content).endswith("got 0.0")
        await pilot.press(*".05")
        await wait_for(pilot, lambda: not error.display, "the message to go once the text is good")
        assert isinstance(app.screen, HyperparamsScreen)  # nothing applied yet
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.main, "the form to apply and close")
        assert app.session.trainer.config.learning_rate == 0.05


async def test_the_h_key_names_every_field_the_form_offers():
    from textual.widgets import Input

    from rnntui.tui.help import HELP_TEXT
    from rnntui.tui.hyperparams_screen import HyperparamsScreen
    from rnntui.tui.keys import SCREEN_KEYS

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HyperparamsScreen), "the hyperparameters form")
        offered = [field.id for field in app.screen.query(Input)]
    (h,) = [key for key in SCREEN_KEYS if key.key == "h"]
    row = next(line for line in HELP_TEXT.splitlines() if line.startswith("| h |"))  # the help screen's line
    assert "eval_every" in offered
    for name in offered:
        assert name in h.help and name in row, name


async def test_unit_in_the_palette_opens_the_unit_table():
    from rnntui.tui.units_screen import UnitsScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", *"unit")
        await app.workers.wait_for_complete()  # the palette's search
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, UnitsScreen), "the unit table", timeout=10)

"""Every key of the debugger screen, described once: its binding, footer label, palette
entry and help line all come from here."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

from ..engine.config import adjustable_fields

TEMPERATURE = Binding.Group("Temp")
LOSS_VIEW = Binding.Group("Log/500")
TRAVEL = Binding.Group("Back/Go")


@dataclass(frozen=True)
class Key:
    """One key of the main screen."""

    key: str  # Textual's key name, e.g. "space", "left_square_bracket"
    shown: str  # how help and README write it, e.g. "space", "["
    action: str  # the screen's action, e.g. "step" or "temperature(-1)"
    label: str  # the footer's word
    help: str  # what it does, for the help screen
    title: str | None = None  # the command palette's name for it (None: not in the palette)
    footer: bool = True
    group: Binding.Group | None = None

    def binding(self) -> Binding:
        return Binding(self.key, self.action, self.label, show=self.footer, group=self.group)


MAIN_KEYS: tuple[Key, ...] = (
    Key("space", "space", "step", "Step", "step one iteration (pauses first if running)", "Step one iteration"),
    Key("r", "r", "toggle_run", "Run", "run continuously / pause (pause takes effect within one iteration)",
        "Run / pause"),
    Key("n", "n", "run_n", "Run N", "run N iterations (asks for N)", "Run N iterations"),
    Key("ctrl+s", "ctrl+s", "save", "Save", "save a checkpoint (atomic; asks before replacing a checkpoint, refuses the text or any other file)",
        "Save checkpoint"),
    Key("question_mark", "?", "help", "Help", "help: every key, every panel, the equations", "Help"),
    Key("q", "q", "quit", "Quit", "quit (asks first if a save would keep more: iterations, evaluations, changes)", "Quit"),
    Key("s", "s", "sample", "Sample", "sample now from the current model", "Sample now"),
    Key("left_square_bracket", "[", "temperature(-1)", "Temp-", "sampling temperature down (÷1.25)",
        "Temperature down", group=TEMPERATURE),
    Key("right_square_bracket", "]", "temperature(1)", "Temp+", "sampling temperature up (x1.25)",
        "Temperature up", group=TEMPERATURE),
    Key("backspace", "backspace", "back", "Back", "time travel: step back one iteration", "Step back one iteration",
        group=TRAVEL),
    Key("g", "g", "goto", "Go to", "time travel: go to iteration N, earlier or later", "Go to iteration",
        group=TRAVEL),
    Key("i", "i", "step_into", "Into", "step into the shown iteration (the step panel replaces the loss curve)",
        "Step into iteration"),
    Key("full_stop", ".", "step_move(1)", "Next t",
        "next timestep while stepping into: forward t = 0…T-1, then backward T-1…0", "Next timestep", footer=False),
    Key("comma", ",", "step_move(-1)", "Prev t", "previous timestep while stepping into", "Previous timestep",
        footer=False),
    Key("escape", "escape", "leave_step", "Leave step-into", "leave step-into", "Leave step-into", footer=False),
    Key("k", "k", "breakpoints", "Breaks", "breakpoints: list, add, switch on/off, remove", "Breakpoints"),
    Key("h", "h", "hyperparameters", "Hyper", f"live hyperparameters: {', '.join(adjustable_fields())}",
        "Hyperparameters"),
    Key("c", "c", "gradcheck", "Check", "gradient check on the next window", "Gradient check"),
    Key("u", "u", "colour_unit", "Unit", "colour the input window by the chosen unit, or stop", "Colour by unit"),
    Key("left", "left", "cursor(-1)", "t-", "move the timestep cursor left (every panel follows)", "Timestep left",
        footer=False),
    Key("right", "right", "cursor(1)", "t+", "move the timestep cursor right", "Timestep right", footer=False),
    Key("up", "up", "unit(-1)", "unit-", "choose the previous hidden unit", "Unit up", footer=False),
    Key("down", "down", "unit(1)", "unit+", "choose the next hidden unit", "Unit down", footer=False),
    Key("l", "l", "toggle_log", "Log scale", "loss curve: log scale on/off", "Toggle log scale", group=LOSS_VIEW),
    Key("w", "w", "toggle_window", "Last 500", "loss curve: last 500 iterations / all", "Toggle last 500 / all",
        group=LOSS_VIEW),
)

ANALYSIS_KEYS: tuple[Key, ...] = (  # unit table, neuron page, heatmap views (analysis_actions.py)
    Key("U", "U", "unit_table", "Units",
        "unit table: every unit over the whole training text (mean, std, saturation, r with a feature), "
        "sortable, with a saturation scatter; enter opens a unit's page", "Unit table"),
    Key("N", "N", "neuron_page", "Neuron",
        "neuron page of the chosen unit: the training text coloured by it, its strongest contexts, "
        "histogram and r with every feature", "Neuron page"),
    Key("z", "z", "maximize_heatmap", "Zoom h",
        "hidden state heatmap: fill the screen, or go back (escape too)", "Maximise heatmap"),
    Key("x", "x", "heatmap_pairs", "2 per row", "hidden state heatmap: one or two units per row",
        "Heatmap: two units per row", footer=False),
    Key("o", "o", "heatmap_order", "Sorted",
        "hidden state heatmap: rows in the unit table's order (e.g. by |r| with a feature) or by unit number",
        "Heatmap: sorted / natural order", footer=False),
)
EVALUATION_KEYS: tuple[Key, ...] = (  # evaluation, bits-per-character view, branches (evaluation_actions.py)
    Key("e", "e", "evaluate_now", "Eval",
        "evaluate now: bits per character on the training and held-out text (joins the history)", "Evaluate now"),
    Key("E", "E", "evaluation_report", "Report",
        "evaluation screen: train and held-out bpc, k-gram baselines beside the RNN, the error breakdown with "
        "examples", "Evaluation report"),
    Key("v", "v", "toggle_bpc_view", "Bpc",
        "loss panel: bits per character (train, held-out, k-gram baselines) / loss", "Toggle bits-per-character view"),
    Key("b", "b", "branches", "Branches", "branches: every line of training; enter goes on with a kept one",
        "Branches"),
    Key("B", "B", "toggle_branch_overlay", "Branch curves", "loss panel: the kept branches' curves on/off",
        "Toggle branch curves", footer=False),
)
WHATIF_KEYS: tuple[Key, ...] = (  # what-if (whatif_actions.py)
    Key("X", "X", "what_if", "What if",
        "what if: change the shown window (a character, the carried state, a unit) and compare, rank the units "
        "by what zeroing them costs, read the window with another iteration's parameters", "What if"),
)

SCREEN_KEYS = MAIN_KEYS + ANALYSIS_KEYS + EVALUATION_KEYS + WHATIF_KEYS  # every key of the main screen

PANEL_KEYS: tuple[tuple[str, str], ...] = (  # keys a focused panel takes, for the help screen
    ("tab / shift+tab", "move focus between panels (a focused panel takes the arrow keys)"),
    ("heatmap focused", "arrows move the cell cursor (left of t=0 is the carried-in h₋₁ column), page up/down a "
                        "screenful, home/end first/last unit, enter colours the input window by the unit"),
    ("input window focused", "left/right, home/end move the timestep cursor"),
    ("samples focused", "up/down, page up/down, home/end scroll"),
    ("ctrl+p", "command palette: every action by name"),
)


def help_table() -> str:
    """The keys as a Markdown table, for the help screen."""
    rows = [(k.shown, k.help) for k in SCREEN_KEYS] + list(PANEL_KEYS)
    cells = [(key.replace("|", "\\|"), text.replace("|", "\\|")) for key, text in rows]  # "|r|" inside a cell
    return "\n".join(["| key | what it does |", "| --- | --- |", *(f"| {key} | {text} |" for key, text in cells)])


# The palette ranks commands matching a word equally well in this order: the screens for understanding the
# model first, so "unit" finds the unit table before the keys that choose or colour one unit.
PALETTE_ORDER = ANALYSIS_KEYS + EVALUATION_KEYS + WHATIF_KEYS + MAIN_KEYS


def palette_commands() -> list[tuple[str, str, str]]:
    """(title, help, action) of every key with a palette title, in PALETTE_ORDER."""
    return [(k.title, f"{k.help[0].upper()}{k.help[1:]} ({k.shown})", k.action) for k in PALETTE_ORDER if k.title]

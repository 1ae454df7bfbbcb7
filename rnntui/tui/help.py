"""The help screen: every key, every panel, and the equations behind them."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from ..engine.breakdown import ERROR_P
from ..engine.breakpoints import HELP as BREAKPOINT_HELP
from ..engine.config import DEFAULT_EVAL_EVERY
from ..engine.jit import engine_description
from ..engine.timeline import KEPT_BUDGET_BYTES
from .keys import help_table

HELP_TEXT = """\
# rnntui — help

rnntui trains the classic minimal character-level RNN on a text file and shows
every number of every iteration. Press **escape**, **q** or **?** to close this help.

Training runs in a process of its own (the engine: ENGINE_DESCRIPTION), so the
screen never slows it down; the screen asks it for the newest iteration ten
times a second.

## Keys

KEY_TABLE

## The model, one iteration

The text is cut into windows of T characters. For t = 0 … T-1, with the hidden
state carried in from the previous window (h₋₁ = hprev):

* **h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)** — x_t is the one-hot input character
* **y_t = Why h_t + by**, **p_t = softmax(y_t)** — the model's guess at the next character
* **loss = Σ_t −ln p_t[target_t]** — summed over the window, not averaged

Backpropagation through time goes t = T-1 … 0: dy = p − onehot(target);
dh = Whyᵀ dy + dh_next; dhraw = (1 − h²) ⊙ dh; dh_next = Whhᵀ dhraw. Every gradient
element is then clipped to [−clip, clip], and Adagrad updates each parameter:
M += g², P −= lr · g / √(M + 1e-8). The smooth loss is 0.999 · smooth + 0.001 · loss;
it starts at −ln(1/V) · T, the loss of a uniform guess (the baseline line on the loss curve).
When the window would run past the end of the text, hprev is reset to zeros and the
data pointer p goes back to 0 (the input window marks it).

## Panels

**Input window** — the text around the current window; the `in` row holds the inputs
x_t, the `out` row the targets (the next characters) right below. Invisible characters
have visible glyphs (⏎ newline, ⇥ tab, ␣ space). With a unit chosen, each input
character is coloured by that unit's activation h_t: the "what does this neuron track" view.

**Hidden state h** — one row per hidden unit, one column per timestep (the first
column is the incoming hprev), coloured blue (−1) … white (0) … red (+1) on a fixed
scale. The cursor cell shows its exact value and the unit's min/mean/max over the
window and how often it is saturated (|h| > 0.95, where tanh's gradient nearly vanishes).
In a short panel (80x24) the legend and those window figures give way to more rows.

**Softmax p(next char)** — at the cursor's timestep: the most likely next characters,
the target's probability and rank, and the entropy of p_t; the strip shows the target's
probability at every timestep.

**Gradients** — for each parameter the L2 norm of the raw gradient, after clipping,
the share of elements clipped (highlighted when clipping engaged) and the update/weight
ratio, with a sparkline of recent iterations; then ‖dL/dh_t‖ across the window: if it
shrinks towards t = 0, gradients vanish through time; if it grows, they explode.

**Loss** — raw loss and smooth loss per iteration, the −ln(1/V)·T baseline, and dotted
columns where hyperparameters changed (the latest is named under the plot). Drawn from at most a few points per column.

**Step into iteration** (key i) — the shown iteration one timestep at a time: forward,
the input character, the parts Wxh·x_t (the input's column of Wxh), Whh·h_{t-1} and bh
with their norms and the chosen unit's values, h_t = tanh(their sum), the top logits,
p_t of the target and the loss so far; backward, dy = p_t − onehot(target), dh = Whyᵀdy
(from the output) + dh_next (from t+1), dhraw = (1 − h_t²) ⊙ dh, the dh_next passed back
to t−1 (at t = 0 it is dropped: truncated BPTT) and what each gradient gained at t. The
numbers are the record's own; nothing is recomputed and training does not change.

**Samples** — text drawn from the model every sample_every iterations (and on demand
with s), feeding each drawn character back in, from softmax(y / temperature). Each is
labelled with the number of updates the model had had ("after 1,200 steps": the
parameters iteration 1,200's forward pass uses). Sampling has its own random generator:
it never changes training.

## Time travel

backspace shows the previous iteration again, g any iteration (past the furthest one
computed, g trains there as a normal run). rnntui keeps copies of
the full training state every few iterations (at most 64 MiB, older copies thinned out)
and replays deterministically from the nearest one, so every panel shows exactly what
it showed the first time, and stepping forward replays the same future. Changing a
hyperparameter after going back starts a new branch; the old future is kept as a branch of its own
(b lists the branches and switches between them).

## Gradient check (c)

Central differences, (L(θ+ε) − L(θ−ε)) / 2ε with ε = 1e-5, on 10 random elements of each
parameter, for the window the next step will train on, against the raw backprop
gradient: relative error |a − n| / max(|a| + |n|, 1e-8) should be below 1e-5
(differences below the rounding noise of the difference itself also pass). When
clipping is active the applied gradient differs from the raw one by design.

## Breakpoints (k, or --break on the command line)

BREAKPOINT_HELP
"""


HELP_TEXT = HELP_TEXT.replace("ENGINE_DESCRIPTION", engine_description())
HELP_TEXT = HELP_TEXT.replace("BREAKPOINT_HELP", "```\n" + BREAKPOINT_HELP + "\n```").replace("KEY_TABLE", help_table())

HELP_TEXT += """
## Unit analysis (U, N; z, x, o in the heatmap)

One pass of the current parameters over the whole training text (from h = 0, no
truncation, nothing trained) measures every unit; it runs beside training, with a
progress bar, and escape cancels it. The result belongs to the parameters it was
computed on: a screen showing an older one says "computed after 1,200 steps; now at
1,450: press r to recompute", and going back to an iteration analysed before shows
its analysis again at once.

**Unit table** (U) — a row per unit: the mean and standard deviation of h over the
text, the fraction of characters where it is saturated low (h < −0.95) or high
(h > 0.95), flags for dead units (std < 0.01) and units saturated everywhere, and
Pearson's r with the chosen feature (depth of brackets, column, inside quotes,
spaces, letters, digits, capitals, punctuation, or a regex typed after / as a pattern:
1 inside its matches). Sorted by |r| at first; o sorts by the next column, O reverses,
a click on a header sorts by it. The scatter plots each unit's high against its low
saturation fraction: units in the corners are switches, units near 0, 0 work in
tanh's linear part. Enter (or N) opens the highlighted unit's page and makes it the
chosen unit of the main screen.

**Neuron page** (N) — the training text with each character coloured by the unit's
h after reading it (blue −1, white 0, red +1), scrollable; only the visible rows are
recomputed, exactly, from states the pass kept. The cursor (arrows, page up/down,
home/end, a click) shows h, the five likeliest next characters and the target. Beside
it: the unit's mean, std, range and saturation, r with every feature and the unit's
rank by |r|, a histogram of h over the whole text, and the top 10 most positive and
most negative positions in the whole text with 20 characters either side (enter on
one moves the text there). [ and ] go to the previous and next unit (in the table's
order when opened from it).

**Heatmap views** — z maximises the hidden state panel to the whole screen (z or
escape restores it), x draws two units per row (the upper half of each cell is one
unit, the lower half the next; the cursor's cell is drawn whole in its unit's colour,
and ▴ or ▾ after the row's label says which half the cursor is on), and o orders the
rows as the unit table lists them (by |r| with its feature, at first), or by unit
number again. At 120 x 40, maximised with two units per row, a 64-unit layer fits whole.
"""


HELP_TEXT += """
## What if (X)

X opens the what-if screen on the window shown (any iteration: time travel first to
try an older one). It runs that window with the parameters that iteration trained with,
once as it was and once changed; everything runs on copies, so training, the timeline
and checkpoints stay exactly as they were. 1, 2, 3 switch tabs; escape closes.

**1 Change** — add interventions, which combine (each is listed; d removes the
highlighted one): e edits the text (POSITION=CHAR: position t is input t and target
t−1, 0 … T; CHAR is any character of the text, or \\n, \\t, \\xHH, U+HHHH); z starts the
window from zeros, p from the hprev carried into another iteration's window (one
carried state at a time); a zeros, c clamps (U=VALUE) and f flips the sign of a unit
after the tanh, so both y_t and h_{t+1} see it: U@T at one timestep, U@T-T2 from T
to T2 (T2 = T−1 is the end of the window), U alone over the whole window. The
prompts start at the chosen unit and the cursor's timestep, and take the same forms
as `rnntui whatif`'s flags. The table shows each timestep's loss term and p(target),
original beside changed, and Δ loss (its rows move the cursor); beside it the
window's loss before and after with its Δ, and the five likeliest next characters at
the cursor before and after (the target underlined). Δh is the difference heatmap:
a row per unit, the largest max |Δh| first, on the blue-white-red scale stretched to
the largest |Δh| (the legend gives it). A change that changes nothing shows 0
exactly; a change too small for three decimals is written like +2e-6, never 0.

**2 Units** — the ablation scan: each unit zeroed over the window, ranked by the
rise of the window's loss, or (s) by the drop of p(target) at the cursor. w does the
same over the whole training text with the current parameters, one pass per unit
with a progress bar (escape cancels), ranked by the change in bits per character.
Enter on a unit makes it the chosen unit of every panel.

**3 Across** — i reads the same window with the parameters of another iteration:
p(target) of each, Δ p(target) and Δ loss term per timestep, the units whose h
changed most (enter chooses one), and Δh. An iteration against itself gives 0
everywhere.
"""


class HelpScreen(ModalScreen[None]):
    """Scrollable help over the debugger."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 90%;
        max-width: 110;
        height: 90%;
        border: thick $accent;
        background: $surface;
    }
    """
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close help")]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(HELP_TEXT)

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)


HELP_TEXT += """
## Evaluation: bits per character (e, E, v)

With `--val-frac F` the last fraction F of the text is held out: training never reads it. Every
`--eval-every N` iterations (EVAL_EVERY_DEFAULT by default with a held-out part) and whenever you
press **e**, the model is run over each part from h = 0, without updating it, and scored in **bits per
character**: the mean of −log₂ p(next character). The header shows the latest figure and the
model it was measured on (`held-out 2.301 bpc @ 1,500`: after 1,500 updates; `train …` without a
held-out part), and "evaluating 45%" while an evaluation runs. A held-out figure that rises while
the training one falls means the model is memorising its text (overfitting); the gap is
held-out − train.

**v** turns the loss panel into the bits-per-character view: training (cyan) and held-out (red)
bpc at each evaluated model, and the k-gram baselines as yellow lines labelled `1-gram` … `5-gram`
(a model that predicts from the previous k − 1 characters, fitted on the training part and scored
on the held-out part; in sample, on the training text itself, without one). The baselines are
computed once, the first time the view is shown. An RNN worth its training beats the 1-gram line
soon and the longer contexts later.

**E** opens the evaluation screen: the figures, the RNN's bpc beside each k-gram model's, and
its errors (positions where it gives the next character p < ERROR_P) split into categories, the
first that applies: *n-gram* (some k-gram model gets it), *word start* (the first letter of a
word), *rare* (one of the rarest characters of the training text), *other*. Up/down choose a
category, left/right (or n/p, page up/down) page through its examples: the context, the target,
the RNN's top three guesses and the best k-gram's probability. r runs it again; escape closes
(and cancels a report still running).

## Branches (b, B)

Changing a hyperparameter after going back keeps the old line of training as a branch under
its name (`main`, `branch 1`, …) and goes on with a new one. **b** lists every line: where it
forked, what changed there, how far it got, its latest evaluation, and its state: *live*
(training goes on with it), *kept* (Enter goes on with it where it was left, replayed
bit-identically; a run is paused first) or *curves only* (saved in a checkpoint: its curves, not
its training state). Kept branches hold at most KEPT_MIB MiB together; when a new one would go over,
the oldest is dropped first and a note says so. The loss panel overlays each kept branch's smooth
loss (its held-out bpc in the bits-per-character view), named in its colour under the plot;
**B** hides or shows them.
""".replace("EVAL_EVERY_DEFAULT", str(DEFAULT_EVAL_EVERY)).replace(
    "ERROR_P", f"{ERROR_P:g}").replace("KEPT_MIB", f"{KEPT_BUDGET_BYTES / 2**20:g}")

"""Breakpoints: the language, when each kind fires in real runs, and the saved set."""

import dataclasses
import math
import string

import numpy as np
import pytest

from rnntui.engine import Config, Corpus, Trainer, load_checkpoint, save_checkpoint
from rnntui.engine.breakpoints import (
    HELP,
    VALID_FORMS,
    Breakpoint,
    BreakpointError,
    BreakpointSet,
    parse_breakpoint,
    saturation,
)
from rnntui.engine.errors import RnntuiError

# --- helpers --------------------------------------------------------------


def run(corpus, n, **config):
    """A trainer on ``corpus`` and the records of its first ``n`` iterations."""
    trainer = Trainer(corpus, Config(hidden_size=16, seq_length=10, sample_every=0, **config))
    return trainer, [trainer.step() for _ in range(n)]


def firings(bp, records):
    """Iterations at which ``bp`` (a Breakpoint or BreakpointSet) fires."""
    return [r.iteration for r in records if bp.check(r) is not None]


def first_firing(bp, records):
    found = firings(bp, records)
    return found[0] if found else None


def between_top_two(values):
    """A threshold that only the largest value (first occurrence) exceeds."""
    top = np.unique(values)[-2:]
    return float((top[0] + top[1]) / 2)


def between_bottom_two(values):
    """A threshold that only the smallest value falls below."""
    bottom = np.unique(values)[:2]
    return float((bottom[0] + bottom[1]) / 2)


def with_fields(record, **changes):
    """A copy of a real record with some fields replaced (StepRecord is a frozen dataclass)."""
    return dataclasses.replace(record, **changes)


@pytest.fixture(scope="module")
def fox():
    return Corpus.from_text("the quick brown fox jumps over the lazy dog.\n" * 8, name="fox")


@pytest.fixture(scope="module")
def clipped_run(fox):
    """A run whose clip value makes clipping vary from step to step."""
    return run(fox, 40, clip=0.05)


# --- each kind fires at the right iteration in a real run -----------------


def test_iter_fires_exactly_at_its_iteration(fox):
    _, records = run(fox, 12)
    assert firings(parse_breakpoint("iter == 7"), records) == [r.iteration for r in records if r.iteration == 7] == [7]
    assert firings(parse_breakpoint("iter==0"), records) == [records[0].iteration]


def test_every_fires_at_multiples_never_at_zero(fox):
    _, records = run(fox, 17)
    expected = [i for i in range(len(records)) if i > 0 and i % 5 == 0]
    assert firings(parse_breakpoint("every 5"), records) == expected == [5, 10, 15]
    assert firings(parse_breakpoint("every 1"), records) == list(range(1, 17))


def test_clip_fires_when_any_element_is_clipped(fox):
    _, records = run(fox, 3, clip=1e-3)
    expected = next(r.iteration for r in records if any(f > 0 for f in r.clip_fractions.values()))
    assert first_firing(parse_breakpoint("clip"), records) == expected == 0
    reason = parse_breakpoint("clip").check(records[0])
    assert reason.startswith("clip: clipped fraction Wxh ")


def test_clip_never_fires_without_clipping(fox):
    _, records = run(fox, 10, clip=1e6)
    assert all(f == 0 for r in records for f in r.clip_fractions.values())
    assert firings(parse_breakpoint("clip"), records) == []


def test_clip_param_fires_at_its_largest_fraction(clipped_run):
    _, records = clipped_run
    whh = np.array([r.clip_fractions["Whh"] for r in records])
    threshold = between_top_two(whh)
    bp = parse_breakpoint(f"clip whh > {threshold!r}")
    assert first_firing(bp, records) == int(np.argmax(whh)) > 0
    reason = bp.check(records[int(np.argmax(whh))])
    assert reason.startswith(f"clip Whh > {threshold!r}: Whh clipped fraction ")
    assert reason.endswith(f"at iteration {int(np.argmax(whh))}")


def test_bare_clip_param_means_any_clipping_of_that_param(clipped_run):
    _, records = clipped_run
    by_records = [r.iteration for r in records if r.clip_fractions["Whh"] > 0]
    assert str(parse_breakpoint("clip Whh")) == "clip Whh > 0"
    assert firings(parse_breakpoint("clip Whh"), records) == by_records
    assert by_records[0] > 0  # Whh is not clipped at the first step of this run


def test_loss_above_and_below(clipped_run):
    trainer, records = clipped_run
    losses = trainer.history.loss
    above = parse_breakpoint(f"loss > {between_top_two(losses)!r}")
    below = parse_breakpoint(f"loss < {between_bottom_two(losses)!r}")
    assert first_firing(above, records) == int(np.argmax(losses)) > 0
    assert first_firing(below, records) == int(np.argmin(losses)) > 0


def test_smooth_below_a_goal_taken_from_the_run(clipped_run):
    trainer, records = clipped_run
    smooth = trainer.history.smooth_loss
    goal = float((smooth[29] + smooth[30]) / 2)
    expected = int(np.flatnonzero(smooth < goal)[0])
    bp = parse_breakpoint(f"smooth<{goal!r}")
    assert first_firing(bp, records) == expected > 0
    assert bp.check(records[expected]).startswith(f"smooth < {goal!r}: smooth loss ")


def test_spike_fires_at_the_largest_jump_over_the_smooth_loss(clipped_run):
    trainer, records = clipped_run
    losses = trainer.history.loss
    before = np.concatenate([[trainer.initial_smooth_loss], trainer.history.smooth_loss[:-1]])
    ratios = losses / before
    bp = parse_breakpoint(f"spike > {between_top_two(ratios)!r}")
    assert first_firing(bp, records) == int(np.argmax(ratios)) > 0


def test_spike_on_constructed_records(clipped_run):
    _, records = clipped_run
    jump = with_fields(records[5], loss=10.0, smooth_loss_before=3.0)
    assert parse_breakpoint("spike > 3").check(jump) == (
        "spike > 3: loss 10 is 3.33333 x the smooth loss 3 at iteration 5"
    )
    assert parse_breakpoint("spike > 4").check(jump) is None
    exact = with_fields(records[5], loss=9.0, smooth_loss_before=3.0)
    assert parse_breakpoint("spike > 3").check(exact) is None
    assert parse_breakpoint("spike >= 3").check(exact) is not None


def test_saturation_in_a_large_learning_rate_run(fox):
    _, records = run(fox, 10, learning_rate=5.0)
    fractions = np.array([np.count_nonzero(np.abs(r.hs) > 0.95) / r.hs.size for r in records])
    expected = int(np.flatnonzero(fractions > 0.5)[0])
    assert first_firing(parse_breakpoint("saturation > 0.5"), records) == expected
    top = parse_breakpoint(f"saturation > {between_top_two(fractions)!r}")
    assert first_firing(top, records) == int(np.argmax(fractions)) > 0


def test_saturation_counts_strictly_above_095(clipped_run):
    _, records = clipped_run
    hs = np.zeros_like(records[0].hs)
    hs.flat[:4] = [0.95, -0.95, 0.951, -0.99]
    record = with_fields(records[0], hs=hs)
    assert saturation(record) == 2 / hs.size
    assert parse_breakpoint(f"saturation >= {2 / hs.size!r}").check(record) is not None
    assert parse_breakpoint(f"saturation > {2 / hs.size!r}").check(record) is None


def test_target_prob_fires_at_the_least_likely_target(clipped_run):
    _, records = clipped_run
    lowest = np.array([min(r.ps[t, r.targets[t]] for t in range(r.seq_length)) for r in records])
    bp = parse_breakpoint(f"target_prob < {between_bottom_two(lowest)!r}")
    at = int(np.argmin(lowest))
    assert first_firing(bp, records) == at > 0
    worst_t = int(np.argmin([records[at].ps[t, records[at].targets[t]] for t in range(records[at].seq_length)]))
    assert f"target at t={worst_t} had probability" in bp.check(records[at])


def test_nan_fires_in_a_diverging_run(fox):
    _, records = run(fox, 4, learning_rate=1e300, clip=1e300)
    expected = next(r.iteration for r in records if r.nonfinite is not None)
    bp = parse_breakpoint("nan")
    assert first_firing(bp, records) == expected
    assert records[expected].nonfinite in bp.check(records[expected])


def test_nan_on_a_constructed_record(clipped_run):
    _, records = clipped_run
    bad = with_fields(records[3], loss=math.nan, nonfinite="loss = nan")
    assert parse_breakpoint("nan").check(bad) == "nan: non-finite loss = nan at iteration 3"
    assert parse_breakpoint("nan").check(records[3]) is None
    assert parse_breakpoint("loss > 1").check(bad) is None  # NaN compares false
    assert parse_breakpoint("loss < 1").check(bad) is None


def test_disabled_breakpoint_never_fires(fox):
    _, records = run(fox, 3)
    bp = parse_breakpoint("every 1").toggled()
    assert not bp.enabled and firings(bp, records) == []
    assert bp.toggled() == parse_breakpoint("every 1")


# --- the language ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("nan", "nan"),
        ("  NaN ", "nan"),
        ("clip", "clip"),
        ("CLIP", "clip"),
        ("clip Whh > 0.1", "clip Whh > 0.1"),
        ("clip WHH>.1", "clip Whh > 0.1"),
        ("Clip\tby >= 1", "clip by >= 1"),
        ("clip why", "clip Why > 0"),
        ("loss > 80", "loss > 80"),
        ("LOSS>80.0", "loss > 80"),
        ("loss<=2.5", "loss <= 2.5"),
        ("spike > 3", "spike > 3"),
        ("spike>=1.5e0", "spike >= 1.5"),
        ("smooth < 1.5", "smooth < 1.5"),
        ("Smooth>=+40", "smooth >= 40"),
        ("iter == 500", "iter == 500"),
        ("ITER==0", "iter == 0"),
        ("every 100", "every 100"),
        ("every100", "every 100"),
        ("saturation > 0.5", "saturation > 0.5"),
        ("saturation<5E-1", "saturation < 0.5"),
        ("target_prob < 0.01", "target_prob < 0.01"),
        ("TARGET_PROB<=1e-3", "target_prob <= 0.001"),
        ("loss > 1e-5", "loss > 1e-05"),
        ("loss > 2e20", "loss > 2e+20"),
        ("loss > -0", "loss > 0"),
    ],
)
def test_valid_forms_parse_to_canonical_text_and_round_trip(text, canonical):
    bp = parse_breakpoint(text)
    assert str(bp) == bp.source == canonical
    assert parse_breakpoint(str(bp)) == bp
    assert bp.enabled


def test_every_listed_form_parses():
    examples = {"PARAM": "Whh", "F": "0.5", "X": "2", "K": "3", "N": "10", "P": "0.01"}
    for form in VALID_FORMS.split(" | "):
        text = " ".join(examples.get(word, word) for word in form.split())
        assert str(parse_breakpoint(text)) == text


def test_help_explains_every_keyword():
    for keyword in ("nan", "clip", "loss", "spike", "smooth", "iter", "every", "saturation", "target_prob"):
        assert f"\n  {keyword} " in HELP


def test_example_message_names_token_and_column():
    with pytest.raises(BreakpointError) as err:
        parse_breakpoint("loss >> 3")
    assert str(err.value).startswith("bad breakpoint 'loss >> 3': unexpected '>' at column 7")
    assert str(err.value).endswith(f"; valid forms: {VALID_FORMS}")


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "the text is empty"),
        ("   ", "the text is empty"),
        ("los > 3", "unknown condition 'los' at column 1 (did you mean 'loss'?)"),
        ("> 3", "unexpected '>' at column 1 (expected a condition name"),
        ("loss", "missing an operator: > or >= or < or <= at column 5 (end of text)"),
        ("loss 3", "unexpected '3' at column 6"),
        ("loss >", "missing a number at column 7"),
        ("loss > 3 4", "unexpected '4' at column 10 (expected the end"),
        ("loss == 3", "operator '==' at column 6 does not apply to loss (use > or >= or < or <=)"),
        ("loss != 3", "operator '!=' at column 6"),
        ("iter > 5", "operator '>' at column 6 does not apply to iter (use ==)"),
        ("iter = 5", "operator '=' at column 6 does not apply to iter (use ==)"),
        ("spike < 3", "does not apply to spike (use > or >=)"),
        ("target_prob > 0.5", "does not apply to target_prob (use < or <=)"),
        ("clip Whh < 0.1", "does not apply to clip Whh (use > or >=)"),
        ("clip Wzz > 0.1", "unknown parameter 'Wzz' at column 6 (use Wxh, Whh, Why, bh or by)"),
        ("clip > 0.1", "unexpected '>' at column 6 (expected a parameter name"),
        ("clip Whh > 1.5", "clipped fraction must be between 0 and 1, got '1.5' at column 12"),
        ("loss > nan", "unexpected 'nan' at column 8 (expected a number)"),
        ("loss > inf", "unexpected 'inf' at column 8"),
        ("loss > 1e999", "'1e999' at column 8 is too large to be finite"),
        ("loss > 1e", "malformed number '1e' at column 8"),
        ("loss > -1", "loss must not be negative, got '-1' at column 8"),
        ("smooth < -0.5", "smooth loss must not be negative"),
        ("spike > 0", "spike factor must be above 0"),
        ("saturation > 2", "saturation fraction must be between 0 and 1"),
        ("target_prob < 1.01", "probability must be between 0 and 1"),
        ("iter == 7.5", "iteration must be a whole number, got '7.5' at column 9"),
        ("iter == 1e3", "iteration must be a whole number"),
        ("iter == -3", "iteration must not be negative"),
        ("iter == " + "9" * 40, "is too large"),
        ("every 0", "interval must be above 0"),
        ("every", "missing a whole number at column 6"),
        ("every == 5", "unexpected '==' at column 7 (expected a whole number)"),
        ("nan 3", "unexpected '3' at column 5 (expected the end"),
        ("loss > 3;", "unexpected character ';' at column 9"),
        ("loss\n> 3", "unexpected character U+000A at column 5"),
        ("loss > ３", "unexpected character '３' at column 8"),
        ("clipWhh > 0.1", "unknown condition 'clipWhh' at column 1"),
        ("loss > 1_000", "unexpected '_' at column 9"),
        ("x" * 200, "unknown condition 'xxxxxxxxxxxxxxxxxxxxx...' at column 1"),
    ],
)
def test_error_messages_name_the_problem_and_list_the_forms(text, problem):
    with pytest.raises(BreakpointError) as err:
        parse_breakpoint(text)
    message = str(err.value)
    assert problem in message
    assert message.endswith(f"; valid forms: {VALID_FORMS}")
    assert "\n" not in message
    assert isinstance(err.value, RnntuiError)


def test_long_text_is_shortened_in_the_message():
    message = str(pytest.raises(BreakpointError, parse_breakpoint, "loss > 3 " + "9 " * 100).value)
    assert len(message) < 400


@pytest.mark.parametrize("value", [None, 3, 1.5, b"nan", ["nan"]])
def test_non_text_is_rejected(value):
    with pytest.raises(BreakpointError, match="must be text"):
        parse_breakpoint(value)


def test_garbage_raises_only_breakpoint_errors():
    rng = np.random.default_rng(0)
    pieces = [
        "nan", "clip", "loss", "spike", "smooth", "iter", "every", "saturation", "target_prob",
        "Whh", "by", "xyz", ">", ">=", "<", "<=", "==", "=", "!", "!=", "=>", "1", "0.5", ".", "-", "+",
        "e", "E", "1e-3", "1e", "9" * 30, " ", "\t", "\n", "\x00", "é", "٣", "_", "(", ")", "'", '"', "\\",
    ]
    chars = string.printable + "é日\u00a0\u200b½²"
    parsed = 0
    for _ in range(3000):
        if rng.random() < 0.5:
            text = "".join(rng.choice(pieces, size=rng.integers(0, 6)))
        else:
            text = "".join(rng.choice(list(chars), size=rng.integers(0, 12)))
        try:
            bp = parse_breakpoint(text)
        except BreakpointError as err:
            assert "\n" not in str(err)
        else:
            parsed += 1
            assert parse_breakpoint(str(bp)) == bp
    assert parsed > 0  # the generator does hit valid forms


# --- the set --------------------------------------------------------------


def test_set_add_remove_toggle():
    bs = BreakpointSet()
    assert bs.add("NAN") == parse_breakpoint("nan")
    bs.add("loss > 3")
    bs.add("every 10")
    assert [str(bp) for bp in bs] == ["nan", "loss > 3", "every 10"] and len(bs) == 3
    assert not bs.toggle(1).enabled and not bs[1].enabled
    assert bs.toggle(1).enabled
    assert str(bs.remove(0)) == "nan"
    assert [str(bp) for bp in bs] == ["loss > 3", "every 10"]


def test_set_rejects_duplicates_in_any_spelling():
    bs = BreakpointSet()
    bs.add("clip Whh")
    with pytest.raises(BreakpointError, match=r"'clip Whh > 0' already exists \(number 1\)"):
        bs.add("CLIP whh > 0.0")
    bs.toggle(0)
    with pytest.raises(BreakpointError, match="already exists"):
        bs.add("clip Whh > 0")
    assert len(bs) == 1


@pytest.mark.parametrize("index", [3, -1, True, "0", 1.0])
def test_set_rejects_bad_indices(index):
    bs = BreakpointSet()
    for text in ("nan", "clip", "every 3"):
        bs.add(text)
    with pytest.raises(BreakpointError, match="no breakpoint at index"):
        bs.remove(index)
    with pytest.raises(BreakpointError, match="no breakpoint at index"):
        bs.toggle(index)
    assert len(bs) == 3


def test_set_check_reports_the_first_enabled_breakpoint_that_fires(fox):
    _, records = run(fox, 13)
    bs = BreakpointSet()
    bs.add("every 6")
    bs.add("iter == 12")
    bs.add("every 4")
    assert bs.check(records[12]) == "every 6: iteration 12"
    bs.toggle(0)
    fresh = BreakpointSet.from_array(bs.to_array()[:, :2])  # the same breakpoints, nothing held yet
    assert fresh.check(records[7]) is None
    assert fresh.check(records[8]) == "every 4: iteration 8"
    assert fresh.check(records[12]) == "iter == 12: reached iteration 12"
    assert firings(BreakpointSet.from_array(bs.to_array()[:, :2]), records) == [4, 8, 12]
    assert BreakpointSet().check(records[0]) is None


def test_a_breakpoint_fires_where_its_condition_starts_to_hold(fox, tmp_path):
    trainer, records = run(fox, 60)
    smooth = [r.smooth_loss for r in records]
    goal = smooth[30]  # the smooth loss falls steadily: below the goal from iteration 31 on
    assert all(s < goal for s in smooth[31:])
    bs = BreakpointSet()
    bs.add(f"smooth < {goal!r}")
    assert firings(bs, records) == [31]  # once, not at every later iteration
    # what held is saved: a resumed run does not stop again at once
    save_checkpoint(trainer, tmp_path / "c.npz", extra={"breakpoints": bs.to_array()})
    again = BreakpointSet.from_array(load_checkpoint(tmp_path / "c.npz", fox).checkpoint_extras["breakpoints"])
    assert again.check(trainer.step()) is None
    # after the condition stops holding, it can fire again
    spike = BreakpointSet()
    spike.add("loss > 0")
    assert [spike.check(r) is not None for r in records[:3]] == [True, False, False]


def test_array_form_is_plain_text(tmp_path):
    bs = BreakpointSet()
    for text in ("nan", "clip Why > 0.25", "target_prob < 1e-3"):
        bs.add(text)
    bs.toggle(1)
    arr = bs.to_array()
    assert arr.dtype.kind == "U" and arr.shape == (3, 3)
    np.save(tmp_path / "bp.npy", arr)
    back = BreakpointSet.from_array(np.load(tmp_path / "bp.npy", allow_pickle=False))
    assert list(back) == list(bs)
    assert BreakpointSet().to_array().shape == (0, 3)
    assert len(BreakpointSet.from_array(BreakpointSet().to_array())) == 0


def test_set_round_trips_through_a_checkpoint(tmp_path, fox):
    trainer, _ = run(fox, 3)
    bs = BreakpointSet()
    for text in ("nan", "clip whh > 0.1", "spike>3", "every 100", "saturation >= 0.5"):
        bs.add(text)
    bs.toggle(2)
    path = save_checkpoint(trainer, tmp_path / "run.npz", extra={"breakpoints": bs.to_array()})
    loaded = load_checkpoint(path, fox)
    back = BreakpointSet.from_array(loaded.checkpoint_extras["breakpoints"])
    assert [(str(bp), bp.enabled) for bp in back] == [
        ("nan", True),
        ("clip Whh > 0.1", True),
        ("spike > 3", False),
        ("every 100", True),
        ("saturation >= 0.5", True),
    ]
    assert list(back) == list(bs)


@pytest.mark.parametrize(
    "arr, problem",
    [
        (np.array(["nan", "on"]), "must be an (n, 3) text array"),
        (np.zeros((2, 2)), "must be an (n, 3) text array"),
        (np.array([["nan", "maybe"]]), "state 'maybe'"),
        (np.array([["loss >> 3", "on"]]), "unexpected '>' at column 7"),
        (np.array([["nan", "on"], ["NaN", "off"]]), "already exists"),
    ],
)
def test_damaged_arrays_are_rejected(arr, problem):
    with pytest.raises(BreakpointError) as err:
        BreakpointSet.from_array(arr)
    assert problem in str(err.value)


def test_breakpoint_is_frozen():
    bp = parse_breakpoint("loss > 3")
    with pytest.raises(dataclasses.FrozenInstanceError):
        bp.enabled = False
    assert bp.with_enabled(False) == bp.toggled() != bp
    assert isinstance(bp, Breakpoint)

"""What-if interventions on a window, checked against a plain loop written here from the contract."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from conftest import training_scale_params

from rnntui.engine import Config, StepRecord, Trainer
from rnntui.engine.whatif import (
    PARSERS,
    TOP_CHARS,
    ClampUnit,
    EditChar,
    FlipUnit,
    SetHprev,
    Span,
    WhatIfError,
    ZeroHprev,
    ZeroUnit,
    ablation_scan,
    char_spec,
    compare,
    compare_params,
    parse_ablate,
    parse_clamp,
    parse_edit,
    parse_flip,
    parse_hprev,
    rank_descending,
    read_char,
    run_window,
    whatif_json,
    whatif_report,
)

TOL = 1e-12
V, H, T = 6, 9, 8


def direct_run(params, inputs, targets, hprev, replace=None):
    """hs (T, H), ps (T, V), losses (T,) by a one-hot, column-vector loop; ``replace(t, h)`` edits h_t after the tanh."""
    Wxh, Whh, Why = params["Wxh"], params["Whh"], params["Why"]
    n_hidden, n_vocab = Wxh.shape
    bh = np.asarray(params["bh"]).reshape(n_hidden, 1)
    by = np.asarray(params["by"]).reshape(n_vocab, 1)
    h = np.array(hprev, dtype=np.float64).reshape(n_hidden, 1)
    hs, ps, losses = [], [], []
    for t in range(len(inputs)):
        x = np.zeros((n_vocab, 1))
        x[inputs[t]] = 1.0
        h = np.tanh(Wxh @ x + Whh @ h + bh)
        if replace is not None:
            h = h.copy()
            replace(t, h[:, 0])
        y = Why @ h + by
        p = np.exp(y) / np.sum(np.exp(y))
        hs.append(h[:, 0])
        ps.append(p[:, 0])
        losses.append(-np.log(p[targets[t], 0]))
    return np.array(hs), np.array(ps), np.array(losses)


def assert_matches_direct(run, hs, ps, losses):
    np.testing.assert_allclose(run.hs, hs, rtol=0, atol=TOL)
    np.testing.assert_allclose(run.ps, ps, rtol=0, atol=TOL)
    np.testing.assert_allclose(run.losses, losses, rtol=0, atol=TOL)
    np.testing.assert_allclose(run.p_target, ps[np.arange(len(losses)), run.targets], rtol=0, atol=TOL)
    assert run.loss == pytest.approx(losses.sum(), abs=TOL)


@pytest.fixture
def window():
    """(params, inputs, targets, hprev) of a random consistent window: text of T + 1 characters."""
    rng = np.random.default_rng(7)
    params = training_scale_params(V, H, seed=3)
    text = rng.integers(0, V, T + 1)
    hprev = np.tanh(rng.standard_normal(H))
    return params, text[:-1], text[1:], hprev


def with_dead_units(params, dead):
    """A copy of ``params`` whose units ``dead`` have zero Wxh and Whh rows and zero bh: h_t[u] is exactly 0."""
    out = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    for u in dead:
        out["Wxh"][u] = 0.0
        out["Whh"][u] = 0.0
        out["bh"][u] = 0.0
    return out


# --- the run itself --------------------------------------------------------


@pytest.mark.parametrize("sizes", [(2, 1, 1), (2, 3, 5), (6, 9, 8), (17, 12, 25)])
def test_no_interventions_match_the_direct_loop(sizes):
    n_vocab, n_hidden, n_steps = sizes
    rng = np.random.default_rng(n_vocab * 100 + n_hidden)
    params = training_scale_params(n_vocab, n_hidden, seed=n_steps)
    inputs, targets = rng.integers(0, n_vocab, n_steps), rng.integers(0, n_vocab, n_steps)
    hprev = np.tanh(rng.standard_normal(n_hidden))
    run = run_window(params, inputs, targets, hprev)
    assert_matches_direct(run, *direct_run(params, inputs, targets, hprev))
    assert run.hs.shape == (n_steps, n_hidden) and run.ps.shape == (n_steps, n_vocab)


def test_a_trainer_window_reads_as_the_step_that_trains_on_it(small_trainer):
    for _ in range(5):
        small_trainer.step()
    position, inputs, targets, hprev = small_trainer.next_window()
    run = run_window(small_trainer.params, inputs, targets, hprev)
    record = small_trainer.step()
    assert record.position == position
    assert np.array_equal(run.inputs, record.inputs) and np.array_equal(run.targets, record.targets)
    assert np.array_equal(run.hprev, record.hprev)
    np.testing.assert_allclose(run.hs, record.hs, rtol=0, atol=1e-10)
    np.testing.assert_allclose(run.losses, record.losses, rtol=0, atol=1e-10)


def test_records_are_immutable(window):
    run = run_window(*window, [ZeroUnit(1)])
    for name in ("inputs", "targets", "hprev", "hs", "ps", "losses", "p_target"):
        assert not getattr(run, name).flags.writeable, name
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.loss = 0.0
    diff = compare(run, run, 0)
    assert not diff.dh.flags.writeable and not diff.top_after.probs.flags.writeable


def test_the_callers_arrays_are_left_alone(window):
    params, inputs, targets, hprev = window
    copies = [{k: v.copy() for k, v in params.items()}, inputs.copy(), targets.copy(), hprev.copy()]
    run_window(params, inputs, targets, hprev, [EditChar(0, 1), EditChar(T, 2), ZeroHprev(), FlipUnit(0)])
    ablation_scan(params, inputs, targets, hprev, 0, [EditChar(3, 1)])
    assert all(np.array_equal(params[k], copies[0][k]) for k in params)
    assert np.array_equal(inputs, copies[1]) and np.array_equal(targets, copies[2])
    assert np.array_equal(hprev, copies[3])


# --- unit interventions ----------------------------------------------------


def zero_at(unit, steps):
    def replace(t, h):
        if t in steps:
            h[unit] = 0.0

    return replace


def clamp_at(unit, value, steps):
    def replace(t, h):
        if t in steps:
            h[unit] = value

    return replace


def flip_at(unit, steps):
    def replace(t, h):
        if t in steps:
            h[unit] = -h[unit]

    return replace


UNIT_CASES = {
    "zero one timestep": (ZeroUnit(4, Span.at(3)), zero_at(4, {3})),
    "zero a span": (ZeroUnit(0, Span(2, 5)), zero_at(0, {2, 3, 4, 5})),
    "zero the window": (ZeroUnit(8), zero_at(8, set(range(T)))),
    "zero at the first timestep": (ZeroUnit(2, Span.at(0)), zero_at(2, {0})),
    "clamp one timestep": (ClampUnit(5, 0.9, Span.at(T - 1)), clamp_at(5, 0.9, {T - 1})),
    "clamp a span": (ClampUnit(1, -2.5, Span(0, 3)), clamp_at(1, -2.5, {0, 1, 2, 3})),
    "clamp the window": (ClampUnit(3, 0.25), clamp_at(3, 0.25, set(range(T)))),
    "flip one timestep": (FlipUnit(6, Span.at(2)), flip_at(6, {2})),
    "flip a span": (FlipUnit(7, Span(4, 7)), flip_at(7, {4, 5, 6, 7})),
    "flip the window": (FlipUnit(0), flip_at(0, set(range(T)))),
}


@pytest.mark.parametrize("case", list(UNIT_CASES), ids=list(UNIT_CASES))
def test_each_unit_intervention_matches_a_hand_replacement(window, case):
    intervention, replace = UNIT_CASES[case]
    run = run_window(*window, [intervention])
    assert_matches_direct(run, *direct_run(*window, replace=replace))
    plain = run_window(*window)
    assert not np.array_equal(run.hs, plain.hs)  # the case does change something


def test_the_replaced_value_reaches_the_output_and_the_next_state(window):
    run = run_window(*window, [ClampUnit(2, 0.5, Span.at(3))])
    plain = run_window(*window)
    assert run.hs[3, 2] == 0.5
    assert np.array_equal(run.hs[:3], plain.hs[:3])  # nothing before the intervention moves
    assert not np.array_equal(run.ps[3], plain.ps[3])  # y_3 sees it
    assert not np.array_equal(run.hs[4], plain.hs[4])  # h_4 sees it


def test_unit_interventions_on_one_unit_and_timestep_apply_in_order(window):
    clamp_then_flip = run_window(*window, [ClampUnit(2, 0.7, Span.at(3)), FlipUnit(2, Span(3, 4))])
    flip_then_clamp = run_window(*window, [FlipUnit(2, Span(3, 4)), ClampUnit(2, 0.7, Span.at(3))])
    assert clamp_then_flip.hs[3, 2] == -0.7 and flip_then_clamp.hs[3, 2] == 0.7

    def by_hand(t, h):
        if t == 3:
            h[2] = -0.7
        if t == 4:
            h[2] = -h[2]

    assert_matches_direct(clamp_then_flip, *direct_run(*window, replace=by_hand))


# --- text and carried state --------------------------------------------------


@pytest.mark.parametrize("position", [0, T // 2, T])
def test_an_edit_changes_input_t_and_target_t_minus_1(window, position):
    params, inputs, targets, hprev = window
    new = (inputs[position] + 1) % V if position < T else (targets[-1] + 1) % V
    run = run_window(params, inputs, targets, hprev, [EditChar(position, new)])

    text = list(inputs) + [targets[-1]]  # positions 0..T
    text[position] = new
    edited_inputs, edited_targets = text[:-1], text[1:]
    assert run.inputs.tolist() == edited_inputs and run.targets.tolist() == edited_targets
    if position == 0:
        assert np.array_equal(run.targets, targets)
    if position == T:
        assert np.array_equal(run.inputs, inputs)
    assert_matches_direct(run, *direct_run(params, edited_inputs, edited_targets, hprev))


def test_later_edits_of_one_position_win(window):
    params, inputs, targets, hprev = window
    run = run_window(params, inputs, targets, hprev, [EditChar(2, 1), EditChar(2, 4)])
    assert run.inputs[2] == 4 and run.targets[1] == 4


def test_hprev_zero(window):
    params, inputs, targets, _ = window
    run = run_window(*window, [ZeroHprev()])
    assert np.array_equal(run.hprev, np.zeros(H))
    assert_matches_direct(run, *direct_run(params, inputs, targets, np.zeros(H)))


def test_hprev_from_another_iteration(window, small_trainer):
    params, inputs, targets, _ = window
    other = np.linspace(-0.9, 0.9, H)
    run = run_window(*window, [SetHprev(other, "hprev of iteration 12")])
    assert np.array_equal(run.hprev, other)
    assert_matches_direct(run, *direct_run(params, inputs, targets, other))

    record = small_trainer.step()
    small_trainer.step()
    from_record = SetHprev.from_record(small_trainer.step())
    assert from_record.label == "hprev of iteration 2" and isinstance(record, StepRecord)
    assert not from_record.vector.flags.writeable


def test_combined_interventions_match_one_hand_run(window):
    params, inputs, targets, _ = window
    other = np.full(H, 0.3)
    interventions = [EditChar(5, 0), SetHprev(other, "other"), ClampUnit(3, -0.4, Span(1, 2)), FlipUnit(3), ZeroUnit(6)]
    run = run_window(*window, interventions)

    text = list(inputs) + [targets[-1]]
    text[5] = 0

    def by_hand(t, h):
        if t in (1, 2):
            h[3] = -0.4
        h[3] = -h[3]
        h[6] = 0.0

    assert_matches_direct(run, *direct_run(params, text[:-1], text[1:], other, replace=by_hand))
    assert run.interventions == tuple(interventions)


# --- exact no-ops ----------------------------------------------------------


def test_no_intervention_gives_exact_zeros(window):
    diff = compare(run_window(*window), run_window(*window, []), cursor_t=2)
    assert not diff.dh.any() and not diff.dlosses.any() and not diff.dp_target.any()
    assert diff.dloss == 0.0 and not diff.max_abs_dh.any()


def test_zeroing_a_unit_that_is_already_zero_changes_nothing(window):
    params, inputs, targets, hprev = window
    hprev = hprev.copy()
    hprev[[2, 5]] = 0.0
    params = with_dead_units(params, [2, 5])
    plain = run_window(params, inputs, targets, hprev)
    assert not plain.hs[:, [2, 5]].any()
    for noop in ([ZeroUnit(2)], [ZeroUnit(5, Span(1, 3))], [ClampUnit(2, 0.0)], [ZeroUnit(2), FlipUnit(5)]):
        changed = run_window(params, inputs, targets, hprev, noop)
        for name in ("hs", "ps", "losses", "p_target"):
            assert np.array_equal(getattr(changed, name), getattr(plain, name)), (noop, name)
        diff = compare(plain, changed, cursor_t=T - 1)
        assert not diff.dh.any() and not diff.dlosses.any() and diff.dloss == 0.0


# --- comparison --------------------------------------------------------------


def test_compare_against_direct_runs(window):
    params, inputs, targets, hprev = window
    cursor = 4
    diff = compare(run_window(*window), run_window(*window, [FlipUnit(1, Span(2, 6))]), cursor)
    hs0, ps0, losses0 = direct_run(*window)
    hs1, ps1, losses1 = direct_run(*window, replace=flip_at(1, {2, 3, 4, 5, 6}))

    np.testing.assert_allclose(diff.dh, hs1 - hs0, rtol=0, atol=TOL)
    np.testing.assert_allclose(diff.dlosses, losses1 - losses0, rtol=0, atol=TOL)
    steps = np.arange(T)
    np.testing.assert_allclose(diff.dp_target, ps1[steps, targets] - ps0[steps, targets], rtol=0, atol=TOL)
    assert diff.dloss == pytest.approx(losses1.sum() - losses0.sum(), abs=TOL)

    largest = np.abs(hs1 - hs0).max(axis=0)
    expected_order = sorted(range(H), key=lambda u: (-largest[u], u))
    assert diff.units_by_change.tolist() == expected_order
    assert expected_order[0] == 1  # the flipped unit moves most

    for top, ps in ((diff.top_before, ps0), (diff.top_after, ps1)):
        expected = sorted(range(V), key=lambda c: -ps[cursor, c])[:TOP_CHARS]
        assert top.indices.tolist() == expected
        np.testing.assert_allclose(top.probs, ps[cursor, expected], rtol=0, atol=TOL)


def test_compare_lists_every_character_of_a_small_vocabulary():
    params = training_scale_params(2, 3, seed=1)
    run = run_window(params, [0, 1, 1], [1, 1, 0], np.zeros(3))
    assert len(compare(run, run, 0).top_before.indices) == 2


def test_compare_rejects_a_cursor_outside_the_window(window):
    run = run_window(*window)
    with pytest.raises(WhatIfError, match=f"0 to {T - 1}"):
        compare(run, run, T)


# --- ablation scan -----------------------------------------------------------


def brute_force_scan(params, inputs, targets, hprev, cursor, interventions=()):
    """(H,) loss changes and p(target) changes at ``cursor``, one run_window per unit."""
    base = run_window(params, inputs, targets, hprev, interventions)
    n_hidden = len(base.hprev)
    runs = [run_window(params, inputs, targets, hprev, [*interventions, ZeroUnit(u)]) for u in range(n_hidden)]
    deltas = np.array([r.loss - base.loss for r in runs])
    dps = np.array([r.p_target[cursor] - base.p_target[cursor] for r in runs])
    return deltas, dps


def assert_ranked_like(ranking, deltas):
    """``ranking`` sorts ``deltas`` largest first, ties by unit (checked only where deltas are well apart)."""
    expected = sorted(range(len(deltas)), key=lambda u: (-deltas[u], u))
    gaps = np.abs(np.diff(np.sort(deltas)))
    assert gaps[gaps > 0].min() > 1e-9, "deltas too close to rank reliably"
    assert ranking.tolist() == expected


@pytest.mark.parametrize(
    "interventions",
    [(), (EditChar(3, 0), ClampUnit(4, 0.8, Span(0, 2)), ZeroHprev())],
    ids=["plain", "on top of interventions"],
)
def test_scan_equals_one_run_per_unit(window, interventions):
    cursor = 5
    scan = ablation_scan(*window, cursor, interventions)
    deltas, dps = brute_force_scan(*window, cursor, interventions)
    np.testing.assert_allclose(scan.deltas, deltas, rtol=0, atol=TOL)
    np.testing.assert_allclose(scan.dp_target, dps, rtol=0, atol=TOL)
    assert_ranked_like(scan.ranking, deltas)


@pytest.mark.parametrize("sizes", [(6, 9, 8), (40, 100, 25)])
def test_scan_gives_silent_units_exact_zeros_ranked_by_unit_number(sizes):
    n_vocab, n_hidden, n_steps = sizes
    rng = np.random.default_rng(n_hidden)
    dead = [1, 3, n_hidden // 2 + 1, n_hidden - 1]
    params = with_dead_units(training_scale_params(n_vocab, n_hidden, seed=5), dead)
    text = rng.integers(0, n_vocab, n_steps + 1)
    hprev = np.tanh(rng.standard_normal(n_hidden))
    hprev[dead] = 0.0
    window = (params, text[:-1], text[1:], hprev)

    scan = ablation_scan(*window, 2)
    deltas, dps = brute_force_scan(*window, 2)
    assert not deltas[dead].any() and not dps[dead].any()  # one run per unit sees exact no-ops
    assert not scan.deltas[dead].any() and not scan.dp_target[dead].any()
    np.testing.assert_allclose(scan.deltas, deltas, rtol=0, atol=TOL)
    np.testing.assert_allclose(scan.dp_target, dps, rtol=0, atol=TOL)
    assert scan.ranking.tolist() == sorted(range(n_hidden), key=lambda u: (-scan.deltas[u], u))
    assert [u for u in scan.ranking.tolist() if u in dead] == dead


def test_rank_descending_breaks_ties_by_index():
    values = np.array([0.5, 2.0, 0.5, -1.0, 2.0, 0.0])
    assert rank_descending(values).tolist() == [1, 4, 0, 2, 5, 3]


# --- across iterations ----------------------------------------------------


def test_diff_of_a_parameter_set_with_itself_is_zero(small_trainer):
    for _ in range(3):
        small_trainer.step()
    _, inputs, targets, hprev = small_trainer.next_window()
    diff = compare_params(small_trainer.params, small_trainer.params, inputs, targets, hprev, 0)
    assert not diff.dh.any() and not diff.dlosses.any() and not diff.dp_target.any() and diff.dloss == 0.0


def test_diff_across_iterations_reads_one_window_with_two_parameter_sets(small_trainer):
    record = small_trainer.step()
    earlier = {k: v.copy() for k, v in small_trainer.params.items()}
    for _ in range(20):
        small_trainer.step()
    later = small_trainer.params
    diff = compare_params(earlier, later, record.inputs, record.targets, record.hprev, 3)
    hs0, _, losses0 = direct_run(earlier, record.inputs, record.targets, record.hprev)
    hs1, _, losses1 = direct_run(later, record.inputs, record.targets, record.hprev)
    np.testing.assert_allclose(diff.dh, hs1 - hs0, rtol=0, atol=TOL)
    np.testing.assert_allclose(diff.dlosses, losses1 - losses0, rtol=0, atol=TOL)
    assert diff.dh.any()


# --- training is never touched -------------------------------------------------


def record_arrays(record):
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def test_what_ifs_leave_training_bit_identical(small_corpus):
    config = Config(hidden_size=16, seq_length=10, sample_every=0)
    touched, untouched = Trainer(small_corpus, config), Trainer(small_corpus, config)
    for _ in range(4):
        touched.step()
        untouched.step()

    vocab = small_corpus.vocab
    earlier = {k: v.copy() for k, v in touched.params.items()}
    position, inputs, targets, hprev = touched.next_window()
    n_steps, n_hidden = len(inputs), config.hidden_size
    for unit in range(0, n_hidden, 3):
        interventions = [
            parse_edit(f"{unit % (n_steps + 1)}=x", n_steps, n_hidden, vocab),
            parse_clamp(f"{unit}=0.3@1-4", n_steps, n_hidden, vocab),
            parse_flip(f"{unit}", n_steps, n_hidden, vocab),
            ZeroHprev(),
        ]
        before = run_window(touched.params, inputs, targets, hprev)
        after = run_window(touched.params, inputs, targets, hprev, interventions)
        compare(before, after, unit % n_steps)
        scan = ablation_scan(touched.params, inputs, targets, hprev, 0, interventions)
        whatif_report(touched.iteration, position, before, after, vocab, scan)
    compare_params(earlier, touched.params, inputs, targets, hprev, 0)

    for _ in range(6):
        a, b = touched.step(), untouched.step()
        for name, value in record_arrays(a).items():
            other = getattr(b, name)
            if isinstance(value, np.ndarray):
                assert np.array_equal(value, other), name
            else:
                assert value == other or (value != value and other != other), name
    for name in touched.params:
        assert np.array_equal(touched.params[name], untouched.params[name]), name
        assert np.array_equal(touched.memory[name], untouched.memory[name]), name
    assert np.array_equal(touched.hprev, untouched.hprev)
    assert (touched.position, touched.iteration, touched.smooth_loss) == (
        untouched.position,
        untouched.iteration,
        untouched.smooth_loss,
    )


# --- checks and parsing ------------------------------------------------------

VOCAB = tuple(sorted("ab\tc\nA\\=x y'"))


def one_line_error(call, *args):
    with pytest.raises(WhatIfError) as info:
        call(*args)
    message = str(info.value)
    assert "\n" not in message and message.strip() == message and message
    return message


@pytest.mark.parametrize(
    "intervention, fix",
    [
        (ZeroUnit(H), f"0 to {H - 1}"),
        (FlipUnit(-1), f"0 to {H - 1}"),
        (ClampUnit(0, 0.1, Span(2, T)), f"0 to {T - 1}"),
        (EditChar(T + 1, 0), f"0 to {T}"),
        (EditChar(0, V), f"0 to {V - 1}"),
        (SetHprev(np.zeros(H + 1), "short"), f"({H},)"),
        (SetHprev(np.full(H, np.nan), "broken"), "finite"),
    ],
)
def test_an_intervention_that_does_not_fit_is_one_line_naming_the_fix(window, intervention, fix):
    assert fix in one_line_error(run_window, *window, [intervention])


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_clamp_value_must_be_finite(value):
    assert "finite" in one_line_error(ClampUnit, 0, value)


def test_a_span_must_run_forwards():
    one_line_error(Span, 4, 2)
    one_line_error(Span, -1, 2)


@pytest.mark.parametrize(
    "spec, char",
    [
        ("3=x", "x"),
        ("0= ", " "),
        ("3==", "="),
        ("3='", "'"),
        ("3=\\n", "\n"),
        ("3=\\t", "\t"),
        ("3=\\\\", "\\"),
        ("3=\\", "\\"),
        ("3=\\x41", "A"),
        ("3=\\u0041", "A"),
        ("3=U+0041", "A"),
        ("3=u+0041", "A"),
        ("8=\\x0a", "\n"),
    ],
)
def test_parse_edit(spec, char):
    position = int(spec.split("=")[0])
    assert parse_edit(spec, 8, 4, VOCAB) == EditChar(position, VOCAB.index(char))


def test_every_vocabulary_character_round_trips_through_its_spec():
    for index, ch in enumerate(VOCAB):
        assert read_char(char_spec(ch)) == ch
        assert parse_edit(f"1={char_spec(ch)}", 8, 4, VOCAB) == EditChar(1, index)


@pytest.mark.parametrize(
    "parse, spec, expected",
    [
        (parse_ablate, "3", ZeroUnit(3)),
        (parse_ablate, "3@5", ZeroUnit(3, Span(5, 5))),
        (parse_ablate, " 0@2-7 ", ZeroUnit(0, Span(2, 7))),
        (parse_flip, "2", FlipUnit(2)),
        (parse_flip, "2@0-0", FlipUnit(2, Span(0, 0))),
        (parse_clamp, "1=0.5", ClampUnit(1, 0.5)),
        (parse_clamp, "1=-0.5@3", ClampUnit(1, -0.5, Span(3, 3))),
        (parse_clamp, "1=1e-3@1-6", ClampUnit(1, 0.001, Span(1, 6))),
        (parse_hprev, "zero", ZeroHprev()),
        (parse_hprev, "Zero", ZeroHprev()),
    ],
)
def test_parse_unit_and_hprev_specs(parse, spec, expected):
    assert parse(spec, 8, 4, VOCAB) == expected


@pytest.mark.parametrize(
    "flag, spec",
    [
        ("edit", "3"),
        ("edit", "=x"),
        ("edit", "x=3"),
        ("edit", "-1=x"),
        ("edit", "9=x"),
        ("edit", "3=xy"),
        ("edit", "3="),
        ("edit", "3=Z"),
        ("edit", "3=\\q"),
        ("edit", "3=U+110000"),
        ("edit", "3=\n"),  # a raw newline is one character, but not in this vocabulary
        ("hprev", "zeros"),
        ("hprev", ""),
        ("ablate", ""),
        ("ablate", "4"),
        ("ablate", "-1"),
        ("ablate", "1@"),
        ("ablate", "1@8"),
        ("ablate", "1@3-2"),
        ("ablate", "1@2-9"),
        ("ablate", "1@2-3-4"),
        ("ablate", "1.5"),
        ("flip", "a"),
        ("flip", "1@x"),
        ("clamp", "1"),
        ("clamp", "1=@2"),
        ("clamp", "1=abc"),
        ("clamp", "1=nan"),
        ("clamp", "1=inf@2"),
        ("clamp", "=0.5"),
        ("clamp", "9=0.5"),
        ("clamp", "1=0.5@9"),
        ("edit", "3=" + "y" * 200),
    ],
)
def test_every_parse_error_is_one_line_with_the_valid_forms(flag, spec):
    vocab = tuple(ch for ch in VOCAB if ch != "\n")
    message = one_line_error(PARSERS[flag], spec, 8, 4, vocab)
    assert message.startswith(f"bad --{flag} ")
    assert f"valid forms: --{flag}" in message
    assert len(message) < 400


def test_descriptions_are_short_single_lines():
    interventions = [
        EditChar(3, VOCAB.index("\n")),
        ZeroHprev(),
        SetHprev(np.zeros(4), "hprev of iteration 7"),
        ZeroUnit(2),
        ClampUnit(1, 0.25, Span(2, 4)),
        FlipUnit(0, Span.at(5)),
    ]
    descriptions = [i.describe(VOCAB) for i in interventions]
    assert descriptions[0] == "position 3 -> '\\n'"
    assert "iteration 7" in descriptions[2] and "0.25" in descriptions[4] and "t=2..4" in descriptions[4]
    assert "t=5" in descriptions[5] and "window" in descriptions[3]
    assert all("\n" not in d and len(d) < 60 for d in descriptions)
    assert len(set(descriptions)) == len(descriptions)


# --- headless output ---------------------------------------------------------


def test_json_carries_the_loss_terms_and_the_scan_largest_first(window):
    params, inputs, targets, hprev = window
    interventions = [FlipUnit(2)]
    before, after = run_window(*window), run_window(*window, interventions)
    _, _, losses0 = direct_run(*window)
    _, _, losses1 = direct_run(*window, replace=flip_at(2, set(range(T))))

    out = whatif_json(12, 300, before, after)
    assert set(out) == {"iteration", "position", "loss_before", "loss_after", "total_delta"}
    assert (out["iteration"], out["position"]) == (12, 300)
    np.testing.assert_allclose(out["loss_before"], losses0, rtol=0, atol=TOL)
    np.testing.assert_allclose(out["loss_after"], losses1, rtol=0, atol=TOL)
    assert out["total_delta"] == pytest.approx(losses1.sum() - losses0.sum(), abs=TOL)

    scan = ablation_scan(*window, 0, interventions)
    with_scan = json.loads(json.dumps(whatif_json(12, 300, before, after, scan)))
    deltas, _ = brute_force_scan(*window, 0, interventions)
    listed = [entry["unit"] for entry in with_scan["scan"]]
    assert listed == sorted(range(H), key=lambda u: -deltas[u])
    np.testing.assert_allclose([entry["delta"] for entry in with_scan["scan"]], deltas[listed], rtol=0, atol=TOL)


def test_report_lists_each_timestep_the_total_and_the_ranked_units(window):
    params, inputs, targets, hprev = window
    vocab = tuple("abcdef")
    before, after = run_window(*window), run_window(*window, [EditChar(2, 5)])
    scan = ablation_scan(*window, 1, [EditChar(2, 5)])
    lines = whatif_report(3, 40, before, after, vocab, scan).splitlines()

    assert "iteration 3" in lines[0] and "position 40" in lines[0]
    assert lines[1] == "interventions: position 2 -> 'f'"
    rows = lines[3 : 3 + T]
    _, _, losses0 = direct_run(*window)
    for t, row in enumerate(rows):
        fields = row.split()
        assert fields[0] == str(t)
        assert float(fields[3]) == pytest.approx(losses0[t], abs=5e-5)
        assert float(fields[5]) == pytest.approx(after.losses[t] - losses0[t], abs=5e-5)
    assert rows[1].split()[2] == "'f'" and rows[2].split()[1] == "'f'"
    assert f"{after.loss - before.loss:+.4f}" in lines[3 + T]
    units = [int(line.split()[0]) for line in lines[-H:]]
    assert units == scan.ranking.tolist()
    assert "scan" not in whatif_report(3, 40, before, after, vocab)

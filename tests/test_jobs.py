"""The engine's jobs: what-if on a past window, the corpus ablation scan, evaluations; training never moves."""

from __future__ import annotations

import numpy as np
import pytest
from oracle import plain_ablated_bpc

from rnntui.engine import Corpus, open_session
from rnntui.engine.control import JobCancelled, JobProgress
from rnntui.engine.jobs import CorpusScanJob, EvaluationJob, WhatIfJob
from rnntui.engine.whatif import ZeroUnit, run_window

TEXT = "abc (def [ghi]) jk {lm (no)} pq\n" * 6
SETTINGS = {"hidden_size": 6, "seq_length": 7, "sample_every": 0, "eval_every": 0}


def session_after(steps: int):
    session = open_session(Corpus.from_text(TEXT, name="t"), SETTINGS)
    session.run(steps, lambda: False)
    return session


def run_job(session, job):
    return job.prepare(session)(JobProgress())


def state_of(session):
    state = session.trainer.state()
    return state.params.copy(), state.memory.copy(), state.hprev.copy(), state.position, state.iteration


def plain_params_at(count: int):
    """The parameters after ``count`` updates, from a run of their own (the oracle)."""
    session = open_session(Corpus.from_text(TEXT, name="t"), SETTINGS)
    session.run(count, lambda: False)
    return {k: v.copy() for k, v in session.trainer.params.items()}


def test_a_what_if_on_a_past_window_uses_that_iterations_parameters_and_moves_nothing():
    session = session_after(30)
    session.goto(25)
    before_state, shown = state_of(session), session.last_record
    result = run_job(session, WhatIfJob(12, (ZeroUnit(2),), cursor_t=3, scan=True, other_iteration=20))
    assert all(np.array_equal(a, b) for a, b in zip(state_of(session), before_state))
    assert session.last_record is shown and session.timeline.iteration == 25
    record12 = session.record_at(12)
    params12 = plain_params_at(12)
    expected = run_window(params12, record12.inputs, record12.targets, record12.hprev, [ZeroUnit(2)])
    assert np.allclose(result.after.losses, expected.losses, rtol=0, atol=1e-12)
    assert np.allclose(result.before.losses, record12.losses, rtol=0, atol=1e-10)  # the window as it trained
    assert result.position == record12.position and result.scan.ranking.shape == (6,)
    other = run_window(plain_params_at(20), record12.inputs, record12.targets, record12.hprev)
    assert np.allclose(result.across.dlosses, other.losses - result.before.losses, atol=1e-12)


def test_no_intervention_and_a_diff_with_itself_give_exact_zeros():
    session = session_after(15)
    result = run_job(session, WhatIfJob(10, other_iteration=10))
    assert result.diff.dloss == 0 and not result.diff.dh.any() and not result.across.dh.any()


def test_hprev_from_another_iteration_is_that_windows_carried_state():
    session = session_after(20)
    result = run_job(session, WhatIfJob(8, hprev_from=3))
    assert np.array_equal(result.after.hprev, session.record_at(3).hprev)


def test_training_stays_bit_identical_after_any_number_of_what_ifs():
    untouched = session_after(40)
    busy = session_after(20)
    for k in range(8):
        run_job(busy, WhatIfJob(k * 2, (ZeroUnit(k % 6),), scan=k % 2 == 0, other_iteration=k))
    busy.run(20, lambda: False)
    assert np.array_equal(busy.trainer.state().params, untouched.trainer.state().params)
    assert np.array_equal(busy.trainer.history.loss, untouched.trainer.history.loss)


def test_the_corpus_scan_against_a_plain_loop_per_unit():
    session = session_after(60)
    progress = JobProgress()
    scan = CorpusScanJob().prepare(session)(progress)
    params, data = session.trainer.params, session.trainer.training_corpus.data
    baseline = plain_ablated_bpc(params, data, None)
    expected = np.array([plain_ablated_bpc(params, data, u) - baseline for u in range(6)])
    assert scan.baseline_bpc == pytest.approx(baseline, rel=1e-9)
    assert np.allclose(scan.delta_bpc, expected, atol=1e-9)
    assert list(scan.ranking) == sorted(range(6), key=lambda u: (-expected[u], u))
    assert (progress.done, progress.total) == (6, 6)


def test_the_corpus_scan_can_be_cancelled():
    session = session_after(5)
    progress = JobProgress()
    progress.cancel()
    with pytest.raises(JobCancelled):
        CorpusScanJob().prepare(session)(progress)


def test_an_evaluation_job_joins_the_history_when_it_finishes():
    session = session_after(10)
    job = EvaluationJob()
    evaluation = run_job(session, job)
    assert evaluation.iteration == 10 and evaluation.on_demand and not session.evaluations
    job.finish(session, evaluation)
    assert session.evaluations == (evaluation,)

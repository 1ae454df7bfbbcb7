"""Samples panel: labels, readable text, only the given samples, scrolling."""

from __future__ import annotations

from harness import PanelHarness, fixed_run

from rnntui.engine import Sample
from rnntui.tui.base import RunInfo
from rnntui.tui.glyphs import glyph
from rnntui.tui.samples import SamplesPanel, readable, render_samples, sample_label


def real_samples() -> tuple[tuple[Sample, ...], object]:
    """Two automatic samples (iterations 100 and 200) and one on demand at T=0.5, from a real run."""
    trainer, _ = fixed_run(0)
    trainer.config = trainer.config.replace(sample_every=100, sample_length=60)
    records = [trainer.step() for _ in range(201)]
    auto = tuple(Sample(r.iteration, r.sample_temperature, r.sample, False) for r in records if r.sample is not None)
    demand = Sample(trainer.iteration, 0.5, trainer.sample(60, temperature=0.5), on_demand=True)
    return auto[1:] + (demand,), records[-1]


def samples_app(samples: tuple[Sample, ...], temperature: float = 0.8) -> PanelHarness:
    """A harness showing ``samples`` with ``temperature`` as the next sample's temperature."""
    trainer, records = fixed_run(1)
    info = RunInfo(corpus=trainer.corpus, hidden_size=trainer.config.hidden_size)

    def make(run_info: RunInfo) -> SamplesPanel:
        panel = SamplesPanel(run_info)
        panel.samples = samples
        panel.temperature = temperature
        return panel

    return PanelHarness(make, records[-1], info)


def screen_lines(app) -> list[str]:
    """The plain text of every row on screen."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def inner(line: str) -> str:
    """A panel row without the border and padding."""
    return line[2:-2].rstrip()


def test_readable_keeps_newlines_expands_tabs_and_shows_controls():
    assert readable("ab\ncd\x01e\tf") == f"ab\ncd{glyph(chr(1))}e    f"
    assert readable("日本 wide\r") == f"日本 wide{glyph(chr(13))}"
    assert readable("x\u200by") == f"x{glyph(chr(0x200B))}y"


def test_render_puts_newest_first():
    a = Sample(1, 1.0, "first", False)
    b = Sample(2, 0.5, "second", True)
    assert render_samples((a, b)).plain == f"{sample_label(b)}\nsecond\n\n{sample_label(a)}\nfirst"


async def test_labels_and_text_of_real_samples_appear():
    samples, _ = real_samples()
    app = samples_app(samples)
    async with app.run_test(size=(70, 40)) as pilot:
        await pilot.pause()
        rows = [inner(line) for line in screen_lines(app)]
        for sample in samples:
            label = f"after {sample.iteration:,} steps · T={sample.temperature:.2f}{' · on demand' if sample.on_demand else ''}"
            start = rows.index(label)
            lines = readable(sample.text).split("\n")
            assert rows[start + 1 : start + 1 + len(lines)] == [line.rstrip() for line in lines]
        labels = [rows.index(sample_label(s)) for s in samples]
        assert labels == sorted(labels, reverse=True)  # newest first
        assert "T=0.80" in str(app.panel.border_title)


async def test_newlines_are_line_breaks_and_controls_are_glyphs():
    app = samples_app((Sample(7, 1.25, "one line\nnext\tcol\x07bell", False),))
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        rows = [inner(line) for line in screen_lines(app)]
        start = rows.index("after 7 steps · T=1.25")
        assert rows[start + 1 : start + 3] == ["one line", f"next    col{glyph(chr(7))}bell"]


async def test_only_the_given_samples_appear():
    a, b = Sample(100, 1.0, "alpha text", False), Sample(200, 0.9, "beta text", False)
    app = samples_app((a, b))
    async with app.run_test(size=(50, 14)) as pilot:
        await pilot.pause()
        panel = app.panel
        text = "\n".join(screen_lines(app))
        assert sample_label(a) in text and sample_label(b) in text
        panel.samples = (b,)
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert sample_label(a) not in text and "alpha" not in text and sample_label(b) in text
        panel.samples = ()
        await pilot.pause()
        assert "no samples yet" in "\n".join(screen_lines(app))


async def test_scrolling_through_many_samples():
    many = tuple(Sample(i * 100, 1.0, f"sample number {i}\nsecond line", i % 2 == 1) for i in range(20))
    app = samples_app(many)
    async with app.run_test(size=(50, 14)) as pilot:
        await pilot.pause()
        panel = app.panel
        assert panel.scroller.max_scroll_y > 0
        assert sample_label(many[-1]) in "\n".join(screen_lines(app))
        await pilot.press("pagedown")
        assert panel.scroller.scroll_y > 0
        await pilot.press("end")
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert panel.scroller.scroll_y == panel.scroller.max_scroll_y
        assert sample_label(many[0]) in text and sample_label(many[-1]) not in text
        await pilot.press("home", "down")
        assert panel.scroller.scroll_y == 1


def test_snapshot_samples(snap_compare):
    samples, _ = real_samples()
    assert snap_compare(samples_app(samples), terminal_size=(70, 14))


def test_labels_count_the_models_updates():
    assert sample_label(Sample(1, 1.0, "x", on_demand=True)) == "after 1 step · T=1.00 · on demand"
    assert sample_label(Sample(12345, 0.5, "x", on_demand=False)) == "after 12,345 steps · T=0.50"


def test_a_long_sample_shows_its_first_characters_and_how_many_more_there_are():
    text = "".join(chr(ord("a") + i % 26) for i in range(100_000))
    shown = render_samples((Sample(5, 1.0, text, False),)).plain
    label, body = shown.split("\n", 1)
    assert label == "after 5 steps · T=1.00"
    assert body == text[:2_000] + " … 98,000 more characters"

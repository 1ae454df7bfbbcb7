"""``rnntui shot``: an SVG of the app at a size, after training and keys; one-line errors for bad input."""

from __future__ import annotations

import html
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from oracle import OracleTrainer

from rnntui import cli
from rnntui.commands import shot
from rnntui.engine import Config, Corpus, Trainer

SMALL = ["--hidden-size", "16"]  # quick to train; the picture is the same app
CELL_WIDTH = 12.2  # Rich's SVG export: 20px Fira Code, 0.61 em per cell
ROW_HEIGHT = 24.65  # the height of a row's background rectangles


def run(capsys, *argv: object) -> tuple[int, str, str]:
    status = cli.main(["shot", *(str(a) for a in argv)])
    out, err = capsys.readouterr()
    return status, out, err


def take(capsys, *argv: object) -> str:
    """Run a shot that must succeed; the SVG it wrote (to the last argument)."""
    status, out, err = run(capsys, *argv)
    assert status == 0, err
    assert out.startswith(f"wrote {argv[-1]} ")
    return Path(argv[-1]).read_text(encoding="utf-8")


# --- reading the SVG, independently of the code that wrote it ---------------------------------


def svg_size(svg: str) -> tuple[int, int]:
    """(columns, rows) covered by the rows' background rectangles."""
    rects = re.findall(rf'<rect fill="[^"]*" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="{ROW_HEIGHT}"', svg)
    assert rects, "no background rectangles: not a Rich terminal SVG"
    right = max(float(x) + float(w) for x, _, w in rects)
    return round(right / CELL_WIDTH), len({y for _, y, _ in rects})


def svg_lines(svg: str) -> list[str]:
    """The text of each row that has any, top to bottom, each piece at its column."""
    rows: dict[float, list[tuple[float, str]]] = defaultdict(list)
    for x, y, text in re.findall(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows[float(y)].append((float(x), html.unescape(text).replace("\xa0", " ")))
    lines = []
    for y in sorted(rows):
        line = ""
        for x, text in sorted(rows[y]):
            line = line.ljust(round(x / CELL_WIDTH)) + text
        lines.append(line)
    return lines


def header(svg: str) -> str:
    """The header's second line: where the run stands."""
    return next(line for line in svg_lines(svg) if "iter " in line or "no step yet" in line)


# --- pictures -------------------------------------------------------------------------------------


def test_after_300_iterations_the_header_shows_iteration_299_as_the_oracle_computed_it(capsys, corpus_file, tmp_path):
    out = tmp_path / "shot.svg"
    svg = take(capsys, corpus_file, *SMALL, "--iterations", 300, "--size", "100x30", out)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert svg_size(svg) == (100, 30)

    corpus = Corpus.from_path(corpus_file)
    start = Trainer(corpus, Config(hidden_size=16)).params  # the seeded initial weights
    oracle = OracleTrainer(start, np.asarray(corpus.data), corpus.vocab_size, seq_length=25)
    losses = [oracle.step() for _ in range(300)]
    position = oracle.p - oracle.seq_length  # where the last window started
    facts = [part.strip() for part in header(svg).split("│")]
    assert facts[:4] == [
        "iter 299",
        f"p {position:,}/{len(corpus):,}",
        f"loss {losses[-1]:.3f}",
        f"smooth {oracle.smooth_loss:.3f}",
    ]


def test_keys_are_pressed_in_order_each_waited_for(capsys, corpus_file, tmp_path):
    out = tmp_path / "keys.svg"
    svg = take(capsys, corpus_file, *SMALL, "--iterations", 300, "--key", "space", "--key", "space, backspace",
               "--key", "i", out)
    assert svg_size(svg) == (120, 40)  # the default size
    assert header(svg).split("│")[0].strip() == "iter 300"  # 299, then 300, 301 and back to 300
    text = "\n".join(svg_lines(svg))
    assert "furthest 301" in text  # paused in the past
    assert "Step into iteration 300" in text  # i opened the step panel on the iteration shown


def test_a_run_started_by_keys_is_waited_for_until_it_ends(capsys, corpus_file, tmp_path):
    out = tmp_path / "run.svg"
    svg = take(capsys, corpus_file, *SMALL, "--iterations", 10, "--key", "n,5,enter", out)  # n asks how many
    assert header(svg).split("│")[0].strip() == "iter 14"


def test_no_iterations_shows_the_untrained_app(capsys, corpus_file, tmp_path):
    out = tmp_path / "start.svg"
    svg = take(capsys, corpus_file, *SMALL, out)
    assert "no step yet" in header(svg)
    assert "fox.txt" in "\n".join(svg_lines(svg))


def test_resume_then_more_iterations(capsys, corpus_file, tmp_path):
    checkpoint = tmp_path / "run.npz"
    trained = cli.main(["train", str(corpus_file), *SMALL, "--iterations", "20", "--save", str(checkpoint), "--quiet"])
    assert trained == 0
    capsys.readouterr()
    svg = take(capsys, corpus_file, "--resume", checkpoint, "--iterations", 5, tmp_path / "resumed.svg")
    assert header(svg).split("│")[0].strip() == "iter 24"


def test_out_may_come_before_the_flags(capsys, corpus_file, tmp_path):
    out = tmp_path / "first.svg"
    status, _, err = run(capsys, out, "--size", "90x30", *SMALL)  # OUT alone: the built-in corpus
    assert status == 0, err
    assert svg_size(out.read_text(encoding="utf-8")) == (90, 30)


# --- key names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["space", "i", "?", "[", "A", "comma", "full_stop", "left_square_bracket", "ctrl+s", "shift+tab", "f5",
             "backspace", "enter", "escape", "pagedown"],
)
def test_key_names_textual_knows(name):
    assert shot.is_key_name(name)


@pytest.mark.parametrize("name", ["Space", "spacebar", "ctl+s", "ctrl+", "wait:100", "Comma", "shift+Tab"])
def test_key_names_that_are_not_keys(name):
    assert not shot.is_key_name(name)


def test_keys_split_on_commas_in_order():
    assert shot.parse_keys(["space", "right, right,i", "comma"]) == ["space", "right", "right", "i", "comma"]


# --- bad input: one line, status 2, no picture ------------------------------------------------------


def assert_refused(status: int, err: str, out_path: Path, *fragments: str) -> None:
    assert status == cli.EXIT_USAGE
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnntui: error: "), err
    for fragment in fragments:
        assert fragment in lines[0]
    assert not out_path.exists()


@pytest.mark.parametrize(
    "flags, fragments",
    [
        (["--size", "120"], ["--size", "COLUMNSxROWS"]),
        (["--size", "120x40x2"], ["--size"]),
        (["--size", "10x40"], ["columns must be from 40"]),
        (["--size", "120x9999"], ["rows must be from 10 to 500"]),
        (["--key", "Space"], ["--key 'Space' is not a key", "space"]),
        (["--key", "space,,right"], ["empty key name", "comma"]),
        (["--key", "wait:100"], ["'wait:100' is not a key"]),
        (["--iterations", "-1"], ["--iterations"]),
        (["--hidden-size", "x"], ["--hidden-size"]),
        (["--no-such-flag"], ["--no-such-flag"]),
    ],
)
def test_bad_flags(capsys, corpus_file, tmp_path, flags, fragments):
    out = tmp_path / "shot.svg"
    status, _, err = run(capsys, corpus_file, *flags, out)
    assert_refused(status, err, out, *fragments)


def test_out_must_be_an_svg_name(capsys, corpus_file, tmp_path):
    out = tmp_path / "shot.png"
    status, _, err = run(capsys, corpus_file, out)
    assert_refused(status, err, out, "shot.png is not an .svg file name")


def test_a_lone_file_is_taken_as_out(capsys, corpus_file):
    status, _, err = run(capsys, corpus_file)  # FILE taken as OUT, then no OUT at all
    assert status == cli.EXIT_USAGE and "fox.txt is not an .svg file name" in err


def test_out_in_a_missing_folder(capsys, corpus_file, tmp_path):
    out = tmp_path / "nowhere" / "shot.svg"
    status, _, err = run(capsys, corpus_file, out)
    assert_refused(status, err, out, "does not exist")


def test_out_is_a_directory(capsys, corpus_file, tmp_path):
    out = tmp_path / "pictures.svg"
    out.mkdir()
    status, _, err = run(capsys, corpus_file, out)
    assert status == cli.EXIT_USAGE and "is a directory" in err


def test_missing_corpus(capsys, tmp_path):
    out = tmp_path / "shot.svg"
    status, _, err = run(capsys, tmp_path / "nothing.txt", out)
    assert_refused(status, err, out, "nothing.txt")


def test_a_key_that_quits_the_app(capsys, corpus_file, tmp_path):
    out = tmp_path / "shot.svg"
    status, _, err = run(capsys, corpus_file, *SMALL, "--key", "q", out)  # nothing unsaved: q quits at once
    assert_refused(status, err, out, "the app quit after key 1 (q)")


def test_a_run_that_never_ends(capsys, corpus_file, tmp_path, monkeypatch):
    monkeypatch.setattr(shot, "SETTLE_TIMEOUT_S", 1.0)
    out = tmp_path / "shot.svg"
    status, _, err = run(capsys, corpus_file, *SMALL, "--key", "r", out)
    assert_refused(status, err, out, "training was still going 1 s after key 1 (r)", "n with a count")


# --- OUT never replaces a file that is not an earlier shot ------------------------------------------


def test_out_that_is_the_training_text_is_refused(capsys, tmp_path):
    text = tmp_path / "c.svg"  # a text file that happens to be named .svg, trained on
    text.write_text("some training text, long enough\n" * 4, encoding="utf-8")
    before = text.read_bytes()
    status, _, err = run(capsys, text, text)
    assert status == cli.EXIT_USAGE and "same file as FILE" in err and text.read_bytes() == before
    link = tmp_path / "link.svg"
    link.symlink_to(text)
    status, _, err = run(capsys, text, link)
    assert status == cli.EXIT_USAGE and "same file as FILE" in err and text.read_bytes() == before


def test_out_that_is_some_other_file_is_refused_and_an_earlier_shot_is_replaced(capsys, corpus_file, tmp_path):
    drawing = tmp_path / "drawing.svg"
    drawing.write_text('<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>\n', encoding="utf-8")
    before = drawing.read_bytes()
    status, out, err = run(capsys, corpus_file, *SMALL, drawing)
    assert status == cli.EXIT_USAGE and out == ""
    assert "drawing.svg exists and is not a picture written by rnntui shot" in err and drawing.read_bytes() == before
    picture = tmp_path / "shot.svg"
    first = take(capsys, corpus_file, *SMALL, picture)
    assert "no step yet" in header(first)
    second = take(capsys, corpus_file, *SMALL, "--iterations", 3, picture)  # an earlier shot: replaced
    assert header(second).split("│")[0].strip() == "iter 2"


def test_out_that_leads_to_a_stream_or_is_empty_is_refused(capsys, corpus_file, tmp_path):
    link = tmp_path / "out.svg"
    link.symlink_to("/dev/stdout")
    for out, problem in ((link, "out.svg is a stream"), ("", "OUT.svg is an empty name")):
        status, _, err = run(capsys, corpus_file, *SMALL, out)
        lines = err.splitlines()
        assert status == cli.EXIT_USAGE and len(lines) == 1 and problem in lines[0]


def test_out_with_a_name_too_long_is_one_line(capsys, corpus_file, tmp_path):
    out = tmp_path / ("a" * 300 + ".svg")
    status, _, err = run(capsys, corpus_file, *SMALL, out)
    lines = err.splitlines()
    assert status == cli.EXIT_USAGE and len(lines) == 1 and "File name too long" in lines[0]


"""Bad training files: ``Corpus.from_path`` raises a one-line CorpusError, the CLI prints it and exits 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnntui import cli
from rnntui.engine import Corpus, CorpusError

MULTIBYTE = "naïve café: 日本語, ☃ and 𝄞 (four bytes)\n"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def corpus_error(path: Path, encoding: str = "utf-8") -> str:
    """The message of the CorpusError that loading ``path`` raises."""
    with pytest.raises(CorpusError) as info:
        Corpus.from_path(path, encoding=encoding)
    message = str(info.value)
    assert "\n" not in message
    return message


def cli_error(capsys, *argv: object) -> str:
    """Run ``rnntui train``; require exit 2 with one ``rnntui: error:`` line; return that line."""
    status = cli.main(["train", *(str(a) for a in argv), "--iterations", "1", "--quiet"])
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnntui: error: ")
    return lines[0]


# --- each bad file: the engine's message, then the CLI's ---------------------------------


BAD_FILES = {
    # name: (the file's bytes, fragments the message must hold)
    "empty": (b"", ["empty", "at least 2 characters"]),
    "one_char": (b"x", ["only 1 character", "at least 2 characters"]),
    "binary": (b"PK\x03\x04\x00\x00\x14\x00text", ["binary", "offset 4"]),
    "bad_utf8": (
        "abc é ".encode("utf-8") + b"\xff\xfe more",  # é takes two bytes: 0xff is byte 7
        ["not valid utf-8", "byte offset 7", "0xff", "--encoding"],
    ),
    "truncated_utf8": (b"abc\xe6\x97", ["not valid utf-8", "byte offset 3", "--encoding"]),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_engine_message(tmp_path, name):
    data, fragments = BAD_FILES[name]
    path = write(tmp_path, f"{name}.txt", data)
    message = corpus_error(path)
    assert f"{name}.txt" in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_cli_message(capsys, tmp_path, name):
    data, fragments = BAD_FILES[name]
    path = write(tmp_path, f"{name}.txt", data)
    line = cli_error(capsys, path)
    assert line == f"rnntui: error: {corpus_error(path)}"


def test_missing_path(capsys, tmp_path):
    path = tmp_path / "nowhere" / "input.txt"
    message = corpus_error(path)
    assert str(path) in message and "no such file" in message
    assert cli_error(capsys, path) == f"rnntui: error: {message}"


def test_a_directory(capsys, tmp_path):
    message = corpus_error(tmp_path)
    assert "is a directory" in message
    assert cli_error(capsys, tmp_path) == f"rnntui: error: {message}"


def test_unknown_encoding(capsys, tmp_path):
    path = write(tmp_path, "ok.txt", b"plain text")
    message = corpus_error(path, encoding="klingon-8")
    assert "unknown encoding 'klingon-8'" in message and "--encoding" in message
    assert cli_error(capsys, path, "--encoding", "klingon-8") == f"rnntui: error: {message}"


def test_a_codec_that_is_not_a_text_encoding(tmp_path):
    path = write(tmp_path, "ok.txt", b"plain text")
    assert "not a text encoding" in corpus_error(path, encoding="rot13")


# --- what loads --------------------------------------------------------------------------


def test_latin1_bytes_load_with_the_encoding_flag(capsys, tmp_path):
    text = "déjà vu, señor\n" * 3
    path = write(tmp_path, "latin.txt", text.encode("latin-1"))
    message = corpus_error(path)
    assert "byte offset 1" in message and "--encoding latin-1" in message
    corpus = Corpus.from_path(path, encoding="latin-1")
    assert corpus.decode(0, len(corpus)) == text
    status = cli.main(["train", str(path), "--encoding", "latin-1", "--hidden-size", "4", "--iterations", "2"])
    out, _ = capsys.readouterr()
    assert status == 0 and out.startswith("training on latin.txt: 45 characters")


def test_utf8_multibyte_characters_give_a_sorted_vocabulary(tmp_path):
    path = write(tmp_path, "multi.txt", MULTIBYTE.encode("utf-8"))
    corpus = Corpus.from_path(path)
    assert corpus.vocab == tuple(sorted(set(MULTIBYTE)))
    assert len(corpus) == len(MULTIBYTE)
    assert corpus.decode(0, len(corpus)) == MULTIBYTE
    assert corpus.fingerprint == Corpus.from_text(MULTIBYTE).fingerprint


def test_utf16_file_needs_the_encoding_flag(capsys, tmp_path):
    path = write(tmp_path, "wide.txt", MULTIBYTE.encode("utf-16"))  # with a byte-order mark
    cli_error(capsys, path)  # not loadable as utf-8
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    corpus = Corpus.from_path(path, encoding="utf-16")
    assert corpus.decode(0, len(corpus)) == MULTIBYTE
    assert corpus.vocab == tuple(sorted(set(MULTIBYTE)))
    status = cli.main(["train", str(path), "--encoding", "utf-16", "--hidden-size", "4", "--iterations", "2"])
    out, _ = capsys.readouterr()
    assert status == 0 and out.startswith(f"training on wide.txt: {len(MULTIBYTE)} characters")


def test_utf16_odd_length_names_the_offset(tmp_path):
    path = write(tmp_path, "odd.txt", "hello".encode("utf-16") + b"!")
    message = corpus_error(path, encoding="utf-16")
    assert "not valid utf-16" in message and "byte offset 12" in message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_or_32_without_a_byte_order_mark(capsys, tmp_path, encoding):
    path = write(tmp_path, "nobom.txt", "no mark here".encode(encoding + "-le"))
    message = corpus_error(path, encoding=encoding)
    assert "nobom.txt" in message and encoding in message and "--encoding" in message
    assert cli_error(capsys, path, "--encoding", encoding) == f"rnntui: error: {message}"
    little_endian = Corpus.from_path(path, encoding=encoding + "-le")
    assert little_endian.decode(0, len(little_endian)) == "no mark here"


def test_two_characters_are_enough(tmp_path):
    corpus = Corpus.from_path(write(tmp_path, "two.txt", b"ab"))
    assert corpus.vocab == ("a", "b") and len(corpus) == 2

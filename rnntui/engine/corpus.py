"""The training text, encoded once into a compact integer array."""

from __future__ import annotations

import codecs
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import CorpusError
from .files import kind_of_mode

MAX_CORPUS_BYTES = 1 << 30  # a corpus file may hold at most this many bytes unless the caller raises it (1 GiB)
_CHUNK = 1 << 20  # bytes decoded at a time on the general path, and read at a time from a pipe (1 MiB)
_COUNT_CHUNK = 1 << 20  # elements counted at a time (np.bincount copies its input to intp)
_N_CODEPOINTS = 0x110000  # every Unicode code point
CONTROL_PICTURES = {  # how a control character of a text is shown, one visible character for one
    **{chr(code): chr(0x2400 + code) for code in range(0x20)},  # Unicode's control pictures: ␀ ␁ ... ␛ ...
    "\n": "⏎",  # newline: a return arrow reads better than ␊
    "\t": "⇥",  # tab: rightwards arrow to bar
    "\x7f": "␡",
    **{chr(code): "◌" for code in range(0x80, 0xA0)},  # C1 controls have no pictures
}
_PICTURED = str.maketrans(CONTROL_PICTURES)
_PICTURED_BUT_LINES = str.maketrans({ch: picture for ch, picture in CONTROL_PICTURES.items() if ch not in "\n\t"})


def visible(text: str, lines: bool = False) -> str:
    """``text`` with each control character as its picture (CONTROL_PICTURES): safe to print, same length.

    With ``lines``, newlines and tabs are kept (a sample printed as the text it is).
    """
    return text.translate(_PICTURED_BUT_LINES if lines else _PICTURED)


def _code_dtype(vocab_size: int) -> np.dtype:
    """Smallest unsigned dtype that holds indices 0..vocab_size-1."""
    if vocab_size <= 256:
        return np.dtype(np.uint8)
    if vocab_size <= 65536:
        return np.dtype(np.uint16)
    return np.dtype(np.uint32)


@dataclass(frozen=True, eq=False)
class Corpus:
    """A text as indices into its vocabulary.

    ``vocab`` is the sorted list of distinct characters; ``data[i]`` is the
    index of the i-th character of the text (read-only array of the smallest
    unsigned dtype that fits). ``fingerprint`` is the sha256 of the text
    encoded as UTF-8, so a checkpoint can tell whether it belongs to a corpus.
    """

    name: str  # shown in the UI: the file name, or "<text>"
    vocab: tuple[str, ...]  # sorted distinct characters; index i is vocab[i]
    data: np.ndarray = field(repr=False)  # (N,) indices, read-only
    fingerprint: str = field(repr=False)  # sha256 hex of the UTF-8 text

    def __setstate__(self, state: dict) -> None:
        # arriving in another process: the indices are read-only again
        object.__setattr__(self, "__dict__", state)
        self.data.setflags(write=False)

    @classmethod
    def from_text(cls, text: str, name: str = "<text>") -> "Corpus":
        """Build a corpus from a string (at least 2 characters)."""
        if not isinstance(text, str):
            raise CorpusError(f"corpus text must be a str, got {type(text).__name__}")
        _check_length(name, len(text))
        if "\x00" in text:
            raise CorpusError(f"{name} looks binary (NUL character at offset {text.index(chr(0))}); give a text file")
        utf8 = text.encode("utf-8", errors="surrogatepass")
        points = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
        vocab, lut = _vocab_and_lut(_count(points, _N_CODEPOINTS))
        data = lut[points]
        return cls._make(name, vocab, data, hashlib.sha256(utf8).hexdigest())

    @classmethod
    def from_path(
        cls, path: str | os.PathLike[str], encoding: str = "utf-8", max_bytes: int = MAX_CORPUS_BYTES
    ) -> "Corpus":
        """Read and encode a text file (or what a pipe sends) of at most ``max_bytes`` bytes.

        Raises :class:`CorpusError` (one line naming the problem and the fix)
        for a missing path, a directory, a device or socket, more than
        ``max_bytes`` bytes, an unreadable, empty, binary or one-character
        file, an unknown encoding, or bytes that are not valid in ``encoding``.
        """
        path = Path(path)
        name = path.name or str(path)
        codec = _lookup_codec(encoding)
        raw = _read_bytes(path, max_bytes)
        if len(raw) == 0:
            raise CorpusError(f"{path} is empty; a corpus needs at least 2 characters of text")
        _check_byte_order_mark(path, raw, codec)
        if "\x00".encode(codec.name) == b"\x00":
            nul = raw.find(b"\x00")
            if nul >= 0:
                raise CorpusError(f"{path} looks binary (NUL byte at offset {nul}); give a text file")
        if codec.name in ("utf-8", "ascii", "latin-1", "iso8859-1"):
            fast = _single_byte_fast_path(raw, codec.name)
            if fast is not None:
                points, fingerprint = fast
                counts = _count(points, 256)
                vocab, lut = _vocab_and_lut(counts)
                _check_length(str(path), len(points))
                return cls._make(name, vocab, lut[points], fingerprint)
        return cls._from_bytes_chunked(path, name, raw, codec)

    @classmethod
    def _from_bytes_chunked(cls, path: Path, name: str, raw: bytes, codec: codecs.CodecInfo) -> "Corpus":
        """General path: two passes of incremental decoding (vocabulary, then indices)."""
        counts = np.zeros(_N_CODEPOINTS, dtype=np.int64)
        total = 0
        for text in _decoded_chunks(path, raw, codec):
            points = _code_points(text)
            _add_counts(counts, points)
            total += len(points)
        _check_length(str(path), total)
        if counts[0]:
            raise CorpusError(f"{path} looks binary (it decodes to NUL characters); give a text file")
        vocab, lut = _vocab_and_lut(counts)
        data = np.empty(total, dtype=lut.dtype)
        same_bytes = codec.name == "utf-8"  # strictly decoded UTF-8 re-encodes to exactly these bytes
        digest = hashlib.sha256(raw if same_bytes else b"")
        at = 0
        for text in _decoded_chunks(path, raw, codec):
            points = _code_points(text)
            data[at : at + len(points)] = lut[points]
            if not same_bytes:
                digest.update(text.encode("utf-8", errors="surrogatepass"))
            at += len(points)
        return cls._make(name, vocab, data, digest.hexdigest())

    @classmethod
    def _make(cls, name: str, vocab: tuple[str, ...], data: np.ndarray, fingerprint: str) -> "Corpus":
        data = np.ascontiguousarray(data)
        data.flags.writeable = False
        return cls(name=name, vocab=vocab, data=data, fingerprint=fingerprint)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def vocab_size(self) -> int:
        """V, the number of distinct characters."""
        return len(self.vocab)

    def decode(self, start: int, stop: int) -> str:
        """The text of characters ``start`` to ``stop`` (a slice, clipped to the corpus)."""
        return "".join(self.vocab[int(i)] for i in self.data[max(start, 0) : max(stop, 0)])

    def part(self, start: int, stop: int, label: str) -> "Corpus":
        """Characters ``start`` to ``stop`` as a corpus of their own, with this corpus's vocabulary.

        The indices are a view (no copy). The fingerprint is the whole text's:
        a part is only ever used beside it. ``label`` names it (``prose.txt
        (held out)``).
        """
        data = self.data[start:stop]
        return Corpus(name=f"{self.name} ({label})", vocab=self.vocab, data=data, fingerprint=self.fingerprint)

    def encode(self, text: str) -> np.ndarray:
        """Indices of ``text``; every character must be in the vocabulary."""
        index = {ch: i for i, ch in enumerate(self.vocab)}
        missing = sorted({ch for ch in text if ch not in index})
        if missing:
            raise CorpusError(f"characters not in the corpus vocabulary: {''.join(missing)!r}")
        return np.array([index[ch] for ch in text], dtype=np.int64)


_BOMS = (  # byte-order marks of the wide Unicode encodings, longest first
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _check_byte_order_mark(path: Path, raw: bytes, codec: codecs.CodecInfo) -> None:
    """A UTF-16/32 file read with a byte-oriented encoding: name the right encoding."""
    if codec.name.startswith(("utf-16", "utf-32")):
        return
    for bom, name in _BOMS:
        if raw.startswith(bom):
            raise CorpusError(f"{path} starts with a {name} byte-order mark; pass --encoding {name}")


def _check_length(label: str, n: int) -> None:
    if n == 0:
        raise CorpusError(f"{label} is empty; a corpus needs at least 2 characters of text")
    if n < 2:
        raise CorpusError(f"{label} has only 1 character; a corpus needs at least 2 characters of text")


def check_encoding(encoding: str) -> str:
    """The canonical name of text encoding ``encoding``; CorpusError (as from_path gives) if there is none."""
    return _lookup_codec(encoding).name


def _lookup_codec(encoding: str) -> codecs.CodecInfo:
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise CorpusError(f"unknown encoding {encoding!r}; pass --encoding with a codec name such as utf-8 or latin-1") from None
    if not getattr(codec, "_is_text_encoding", True):
        raise CorpusError(f"{encoding!r} is not a text encoding; pass --encoding with a codec name such as utf-8 or latin-1")
    return codec


def describe_size(n: int) -> str:
    """``n`` bytes in words: "1 GiB", "512 KiB", "1,000 bytes"."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift:,} {unit}"
    return f"{n:,} byte{'' if n == 1 else 's'}"


def _too_large(path: Path, max_bytes: int, regular: bool) -> CorpusError:
    how = "is larger than" if regular else "sends more than"
    return CorpusError(f"{path} {how} {describe_size(max_bytes)}; raise the limit with --max-bytes")


def _check_readable_kind(path: Path) -> bool:
    """Refuse anything but a regular file or a FIFO (a device may never end); return True for a regular file."""
    kind = kind_of_mode(path.stat().st_mode)
    if kind not in ("regular file", "FIFO"):
        raise CorpusError(f"{path} is a {kind}, not a text file; give a regular file (or a pipe)")
    return kind == "regular file"


def _read_at_most(fh, first_read: int, max_bytes: int, path: Path, regular: bool) -> bytes:
    """All bytes of ``fh`` (a raw, unbuffered file), refusing more than ``max_bytes``.

    The first read asks for ``first_read`` bytes (a regular file's size plus
    one: the whole file in one call, and its end seen by the next); then a
    chunk at a time, so a pipe that sends more is refused at the limit.
    """
    chunks = []
    total = 0
    want = first_read
    while True:
        chunk = fh.read(min(want, max_bytes + 1 - total))
        if not chunk:
            return b"".join(chunks)  # one chunk (a regular file) is returned as is, not copied
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise _too_large(path, max_bytes, regular)
        want = _CHUNK


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise CorpusError(f"the corpus size limit must be a whole number of bytes above 0, got {max_bytes!r}; "
                          f"set --max-bytes to a larger number")
    if not path.exists():
        raise CorpusError(f"{path}: no such file; check the path (run without a FILE to use the built-in corpus)")
    if path.is_dir():
        raise CorpusError(f"{path} is a directory; give a text file inside it")
    try:
        regular = _check_readable_kind(path)
        with open(path, "rb", buffering=0) as fh:
            if not regular:
                return _read_at_most(fh, _CHUNK, max_bytes, path, regular)
            size = os.fstat(fh.fileno()).st_size  # of this very file: it may have changed since the check
            if size > max_bytes:
                raise _too_large(path, max_bytes, regular)
            return _read_at_most(fh, size + 1, max_bytes, path, regular)
    except PermissionError:
        raise CorpusError(f"{path}: permission denied; make the file readable") from None
    except OSError as err:
        raise CorpusError(f"{path}: cannot read ({err.strerror}); check the file") from None


def _single_byte_fast_path(raw: bytes, codec_name: str) -> tuple[np.ndarray, str] | None:
    """Code points straight from the bytes when each byte is one character.

    ASCII-only UTF-8 (and any Latin-1) needs no decoding: the bytes are the
    code points. Returns None when the general path is needed.
    """
    points = np.frombuffer(raw, dtype=np.uint8)
    if codec_name == "latin-1" or codec_name == "iso8859-1":
        return points, hashlib.sha256(raw.decode("latin-1").encode("utf-8")).hexdigest()
    if raw.isascii():
        return points, hashlib.sha256(raw).hexdigest()
    return None


def _decoded_chunks(path: Path, raw: bytes, codec: codecs.CodecInfo):
    """Yield the code points (uint32 arrays) of ``raw`` decoded chunk by chunk."""
    decoder = codec.incrementaldecoder("strict")
    view = memoryview(raw)
    for start in range(0, len(raw), _CHUNK):
        chunk = view[start : start + _CHUNK]
        final = start + _CHUNK >= len(raw)
        pending = len(decoder.getstate()[0])
        try:
            text = decoder.decode(chunk, final=final)
        except UnicodeDecodeError as err:
            offset = start - pending + err.start
            bad = raw[offset : offset + 1]
            raise CorpusError(
                f"{path} is not valid {codec.name} at byte offset {offset} (byte 0x{bad.hex()}); "
                f"pass --encoding with the file's encoding, e.g. --encoding latin-1"
            ) from None
        except UnicodeError as err:  # e.g. utf-16 without a byte-order mark
            raise CorpusError(
                f"{path} cannot be decoded as {codec.name} ({err}); "
                f"pass --encoding with the file's encoding, e.g. --encoding {codec.name}-le"
            ) from None
        if text:
            yield text


def _code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as a uint32 array."""
    return np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)


def _add_counts(counts: np.ndarray, points: np.ndarray) -> None:
    """counts[c] += occurrences of c in points, a slice at a time (bounded temporaries)."""
    for start in range(0, len(points), _COUNT_CHUNK):
        part = np.bincount(points[start : start + _COUNT_CHUNK])
        counts[: len(part)] += part


def _count(points: np.ndarray, minlength: int) -> np.ndarray:
    """Occurrences of each value 0..minlength-1 in points."""
    counts = np.zeros(minlength, dtype=np.int64)
    _add_counts(counts, points)
    return counts


def _vocab_and_lut(counts: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    """Sorted vocabulary from per-code-point counts, and a code point -> index table."""
    present = np.flatnonzero(counts)
    vocab = tuple(chr(int(c)) for c in present)
    lut = np.zeros(len(counts), dtype=_code_dtype(len(vocab)))
    lut[present] = np.arange(len(vocab), dtype=lut.dtype)
    return vocab, lut

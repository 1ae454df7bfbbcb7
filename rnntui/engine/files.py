"""Output files (checkpoints, the metrics log): checked before training, written without losing anything.

* :func:`check_writable` runs before training, so a bad path fails in the
  first second, not after hours: the folder must exist and take new files,
  and an existing path must be a regular file (never a device, a FIFO or a
  folder). A symbolic link is followed to the file it finally names. A
  stream (/dev/stdout, /dev/fd/N, a FIFO, a terminal) is accepted only
  where the caller writes line by line.
* :func:`check_output` adds :func:`check_not_input` and
  :func:`check_replaceable`, which keep what is not rnntui's own: an output may
  not be a file the run reads, and an existing file is replaced only when it
  holds what rnntui writes there.
* :func:`write_atomically` writes a temporary file beside that final file,
  syncs it and renames it over the file: a crash leaves the old file or the
  new one, and a link stays a link.
* :func:`write_rescue` writes under a new name that overwrites nothing, for
  when the asked-for path can no longer be written.
* :class:`LineLog` appends lines and reports the first failing write as one
  line (disk full, a device that refuses data, a reader that went away).
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import tempfile
import time
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

from .errors import RnntuiError

RESCUE_TAG = "rescue"  # rescue files are named <stem>.rescue-<timestamp>[-k]<suffix>
_STREAM_KINDS = ("FIFO", "character device")  # accepted for a log when the caller allows streams
MAX_LINK_HOPS = 40  # the kernel's own limit on a chain of symbolic links (Linux MAXSYMLINKS)
_STANDARD_STREAMS = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
_DESCRIPTOR_PATH = re.compile(r"/proc/(\d+)(?:/task/\d+)?/fd/(\d+)|/dev/fd/(\d+)")  # after resolving folders
_UNPRINTABLE = ("Cc", "Cf", "Cs")  # control, format (bidi overrides) and lone surrogates (undecodable bytes)


class OutputError(RnntuiError):
    """An output file cannot be written where asked (missing folder, read-only, a device, disk full...)."""


def _read_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


NEW_FILE_MODE = 0o666 & ~_read_umask()  # what a new ordinary file gets (read once, at import)


def printable(text: str) -> str:
    """``text`` with control characters written as escapes (``\\x1b``, ``\\n``), safe to show on a terminal."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in _UNPRINTABLE else ch for ch in text
    )


_ADVICE = {  # errno -> what to do about it
    errno.EPIPE: "its reader went away: keep the reader running until the run ends, or write to a file",
    errno.ENOSPC: "free some space or choose another path",
    errno.EDQUOT: "free some space or choose another path",
    errno.EFBIG: "the file grew past what this filesystem or limit allows: choose another path",
    errno.EACCES: "fix the permissions or choose another path",
    errno.EPERM: "fix the permissions or choose another path",
    errno.EROFS: "the filesystem is read-only: choose another path",
    errno.ENAMETOOLONG: "give a shorter name",
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "check the path: a part of it is not a folder",
    errno.ELOOP: "the path's symbolic links loop: give the path of a file",
    errno.EISDIR: "give the path of a file, not a folder",
    errno.EBADF: "the file descriptor is not open for this: give the path of a file",
    errno.ENXIO: "nothing is there to take the data: give the path of a file",
}


def os_error_advice(err: OSError) -> str:
    """What to do about ``err``, by its error number (a full disk, a reader gone, a name too long...)."""
    return _ADVICE.get(err.errno, "check the device or choose another path")


def _folder(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


_KINDS = (  # stat's tests and the words for what they find
    (stat.S_ISREG, "regular file"),
    (stat.S_ISDIR, "directory"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)


def kind_of_mode(mode: int) -> str:
    """What an ``st_mode`` says a file is, in words: "regular file", "FIFO", "character device"..."""
    return next((name for test, name in _KINDS if test(mode)), "special file")


def _file_kind(path: str | os.PathLike[str]) -> str | None:
    """What is at ``path`` (following links), in words; None when nothing is."""
    try:
        return kind_of_mode(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _descriptor_path(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(process id, descriptor) when ``path`` leads to a file descriptor (/dev/stdout, /dev/fd/N, /proc/PID/fd/N).

    The chain of links is followed one link at a time, with each folder
    resolved, because the last link of such a path names no file (``pipe:[…]``).
    """
    current = os.path.abspath(path)
    for _ in range(MAX_LINK_HOPS):
        current = os.path.join(os.path.realpath(os.path.dirname(current)), os.path.basename(current))
        if current in _STANDARD_STREAMS:
            return os.getpid(), _STANDARD_STREAMS[current]
        match = _DESCRIPTOR_PATH.fullmatch(current)
        if match is not None:
            return (int(match[1]), int(match[2])) if match[1] else (os.getpid(), int(match[3]))
        try:
            link = os.readlink(current)
        except OSError:
            return None
        current = os.path.join(os.path.dirname(current), link)
    return None


def own_descriptor(path: str | os.PathLike[str]) -> int | None:
    """The descriptor of this process that ``path`` names (``/dev/stdout`` -> 1), else None."""
    found = _descriptor_path(path)
    return found[1] if found is not None and found[0] == os.getpid() else None


def is_stream(path: str | os.PathLike[str]) -> bool:
    """``path`` names a stream, not a file to replace: a file descriptor's path, a FIFO or a character device."""
    return _descriptor_path(path) is not None or _file_kind(path) in _STREAM_KINDS


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Both paths lead (through links, hard links included) to one existing file."""
    try:
        first, second = os.stat(a), os.stat(b)
    except (OSError, ValueError):
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def final_target(path: str | os.PathLike[str], what: str = "output") -> Path:
    """The file a write to ``path`` lands on: ``path`` itself, or the end of its chain of symbolic links.

    The chain is followed one link at a time as the system follows it: each
    link's text is read relative to the link's folder, and ``..`` is taken
    only through folders that exist (``realpath`` would cancel ``nosuchdir/..``
    on paper and lead somewhere the system never writes). The end's folder is
    resolved once it is known to exist. A chain longer than MAX_LINK_HOPS (a
    loop) raises :class:`OutputError`.
    """
    path = Path(path)
    if not path.is_symlink():
        return path
    current = os.fspath(path)
    for _ in range(MAX_LINK_HOPS):
        current = os.path.join(os.path.dirname(current), os.readlink(current))
        if not os.path.islink(current):
            folder = os.path.dirname(current) or "."
            if not os.path.isdir(folder):  # left as written: check_writable says the folder is missing
                return Path(current)
            return Path(os.path.realpath(folder)) / os.path.basename(current)
    raise OutputError(f"{what} {path} is a symbolic link that loops back on itself", "give the path of a file")


def check_writable(path: str | os.PathLike[str], what: str, streams_ok: bool = False) -> Path:
    """Fail now, with one line, if ``path`` cannot be written later; return the path to write.

    ``what`` names the output in messages (e.g. "--save"). The name must not
    be empty. The folder must exist and take new files (checked by creating
    and removing a temporary file: permission bits alone say nothing for root
    or on a read-only filesystem). An existing path must be a regular file;
    with ``streams_ok`` a stream (/dev/stdout, /dev/fd/N, a FIFO, a character
    device) is accepted too, for an output written line by line. Returns the
    final target of a symbolic link, else ``path`` unchanged (a stream's path
    unchanged). A name the system refuses (too long, say) is one line too.
    """
    if not os.fspath(path):
        raise OutputError(f"{what} is an empty name", "give a file name")
    if os.fspath(path).endswith(os.sep):  # checked before Path(), which drops the separator
        raise OutputError(f"{what} {path} ends with '{os.sep}', which names a folder", "give a file name")
    try:
        return _check_writable(Path(path), what, streams_ok)
    except OSError as err:
        raise OutputError(f"{what} {path}: {err.strerror or err}", os_error_advice(err)) from None


def _check_writable(path: Path, what: str, streams_ok: bool) -> Path:
    descriptor = _descriptor_path(path)
    if descriptor is not None:
        if not streams_ok:
            raise OutputError(f"{what} {path} is a stream (file descriptor {descriptor[1]}), not a file",
                              "give the path of a file")
        _check_descriptor(path, what)
        return path
    target = final_target(path, what)
    folder = _folder(target)
    if not folder.is_dir():
        missing, fix = "does not exist", "create it or choose another path"
        if folder.is_symlink():
            missing, fix = "is a symbolic link that leads to no folder", "fix the link or choose another path"
        if target == path:  # not a link
            raise OutputError(f"{what} {path}: folder {folder} {missing}", fix)
        raise OutputError(f"{what} {path} links to {target}, whose folder {folder} {missing}", fix)
    kind = _file_kind(target)
    if kind == "directory":
        raise OutputError(f"{what} {path} is a directory", "give a file name")
    if kind == "regular file" and _unchangeable(target):
        raise OutputError(f"{what} {path}: {target} is marked immutable or append-only, so it cannot be replaced",
                          "clear the mark (chattr -i -a) or choose another path")
    if kind is not None and kind != "regular file":
        if streams_ok and kind in _STREAM_KINDS:
            return target
        raise OutputError(f"{what} {path} is a {kind}, not a regular file", "give the path of a file")
    try:
        fd, probe = tempfile.mkstemp(prefix=".rnntui-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(
            f"{what} {path}: cannot create files in {folder} ({err.strerror})",
            "make the folder writable or choose another path",
        ) from None
    return target


FS_IOC_GETFLAGS = 0x80086601  # Linux: read an inode's flags (as lsattr does)
UNCHANGEABLE_FLAGS = 0x10 | 0x20  # FS_IMMUTABLE_FL | FS_APPEND_FL: not even root may rename over such a file


def _unchangeable(path: Path) -> bool:
    """The file is immutable or append-only (``chattr +i``/``+a``), so renaming over it fails, even for root.

    Elsewhere than Linux, or on a filesystem without such flags, nothing is known and False is returned.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        flags = bytearray(8)
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, flags)
        return bool(int.from_bytes(flags[:4], "little") & UNCHANGEABLE_FLAGS)
    except OSError:
        return False
    finally:
        os.close(fd)


def _check_descriptor(path: Path, what: str) -> None:
    """A descriptor of this process that ``path`` names must be open for writing (one of another process must exist)."""
    fd = own_descriptor(path)
    if fd is None:
        os.stat(path)  # another process's descriptor: it must at least be there
        return
    fix = f"open it for writing in the shell (e.g. {fd}>>log.jsonl) or give the path of a file"
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except OSError:
        raise OutputError(f"{what} {path}: file descriptor {fd} is not open", fix) from None
    if flags & os.O_ACCMODE == os.O_RDONLY:
        raise OutputError(f"{what} {path}: file descriptor {fd} is open for reading only", fix)


def check_not_input(path: str | os.PathLike[str], what: str, inputs: Mapping[str, str | os.PathLike[str]]) -> None:
    """Refuse an output that is one of the files the run reads (``inputs``: how messages name each -> its path)."""
    for label, source in inputs.items():
        if same_file(path, source):
            raise OutputError(f"{what} {path} is the same file as {label} {source}, which this run reads",
                              f"choose another path for {what}")


def check_output(path: str | os.PathLike[str], what: str, protected: Mapping[str, str | os.PathLike[str]],
                 is_ours: Callable[[Path], bool], ours: str, streams_ok: bool = False) -> None:
    """Refuse, before any work, an output that cannot be written or whose writing would lose a file.

    It must be writable (:func:`check_writable`; a stream only with
    ``streams_ok``), not one of the ``protected`` files (those the run reads,
    by how messages name them), and an existing file there must be ``ours``
    as ``is_ours`` decides (:func:`check_replaceable`).
    """
    check_writable(path, what, streams_ok)
    check_not_input(path, what, protected)
    check_replaceable(path, what, is_ours, ours)


def check_replaceable(path: str | os.PathLike[str], what: str, is_ours: Callable[[Path], bool], ours: str) -> None:
    """Refuse an existing, non-empty file at ``path`` that ``is_ours`` does not recognise as ``ours``.

    rnntui replaces only files it wrote (an empty file holds nothing to
    lose); ``ours`` says what such a file is, e.g. "an rnntui checkpoint".
    A stream is not a file to replace, and is left to :func:`check_writable`.
    """
    if is_stream(path):
        return
    target = final_target(path, what)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return
    if stat.S_ISREG(info.st_mode) and info.st_size and not is_ours(target):
        raise OutputError(f"{what} {path} exists and is not {ours}",
                          "choose another path, or move that file away first: rnntui replaces only files it wrote")


def first_bytes(path: str | os.PathLike[str], size: int) -> bytes:
    """Up to ``size`` bytes from the start of the file at ``path`` (empty when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


def check_distinct_outputs(save: str | os.PathLike[str] | None, log: str | os.PathLike[str] | None) -> None:
    """Refuse ``--save`` and ``--log`` naming the same file (through links, hard links included)."""
    if save is None or log is None:
        return
    if os.path.realpath(save) == os.path.realpath(log) or same_file(save, log):
        raise OutputError(f"--save {save} and --log {log} are the same file", "give them different paths")


def _write_error(path: Path, err: OSError) -> OutputError:
    reason = err.strerror or str(err)
    return OutputError(f"cannot write {path} ({reason})", os_error_advice(err))


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable; some filesystems cannot sync a folder, which is no error."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_and_replace(target: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write a temporary file beside ``target``, sync it, rename it over ``target``; OSError on failure."""
    folder = _folder(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, NEW_FILE_MODE)  # mkstemp makes it private; an output is an ordinary file
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(folder)


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], None], what: str = "output") -> Path:
    """Replace the file at ``path`` with what ``write(fh)`` writes, all or nothing; return ``path``.

    A symbolic link is followed: its final target gets the new content and
    the link stays a link. Anything but a regular file (or nothing) at the
    target is never replaced. Every failure, including one while writing
    (disk full, permissions changed), raises :class:`OutputError` and leaves
    the old file and no temporary file behind.
    """
    path = Path(path)
    target = final_target(path, what)
    kind = _file_kind(target)
    if kind is not None and kind != "regular file":
        raise OutputError(f"cannot write {what} {path}: it is a {kind}, not a regular file", "choose another path")
    folder = _folder(target)
    if not folder.is_dir():
        raise OutputError(f"cannot write {what} {path}: folder {folder} does not exist", "create it or choose another path")
    try:
        _write_and_replace(target, write)
    except OSError as err:
        raise _write_error(path, err) from None
    return path


def rescue_folders(path: str | os.PathLike[str]) -> list[Path]:
    """Where a rescue copy of ``path`` may go, in order: beside its final target, home, the temporary folder.

    Not beside a target that is a device or a FIFO: its folder (such as
    /dev) is no place to keep a checkpoint.
    """
    try:
        target = final_target(path)
    except OutputError:
        target = Path(path)
    folders = [Path.home(), Path(tempfile.gettempdir())]
    if _file_kind(target) in (None, "regular file"):
        folders.insert(0, _folder(target))
    return [f for i, f in enumerate(folders) if f not in folders[:i]]


def _claim_new_name(folder: Path, stem: str, suffix: str) -> Path:
    """Create an empty file named ``<stem>.rescue-<timestamp>[-k]<suffix>`` that did not exist; return it.

    Created exclusively, so no other file is ever overwritten: the caller
    then replaces only this empty file of its own.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for k in range(1000):
        name = f"{stem}.{RESCUE_TAG}-{stamp}{'' if k == 0 else f'-{k}'}{suffix}"
        candidate = folder / name
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    raise FileExistsError(f"every rescue name for {stem} in {folder} is taken")


def write_rescue(path: str | os.PathLike[str], write: Callable[[BinaryIO], None], suffix: str | None = None) -> Path:
    """Write what ``write(fh)`` writes to a new rescue file for ``path``; return where it went.

    The file is named ``<stem>.rescue-<timestamp><suffix>`` (``suffix``
    defaults to ``path``'s own, e.g. ".npz"). Tries each of
    :func:`rescue_folders` in turn; raises :class:`OutputError` naming the
    folders tried when none takes the file.
    """
    path = Path(path)
    stem = path.stem if path.suffix else path.name
    suffix = path.suffix if suffix is None else suffix
    failures = []
    for folder in rescue_folders(path):
        claimed = None
        try:
            claimed = _claim_new_name(folder, stem, suffix)
            _write_and_replace(claimed, write)
            return claimed
        except OSError as err:
            if claimed is not None:
                claimed.unlink(missing_ok=True)
            failures.append(f"{folder} ({err.strerror or err})")
    raise OutputError(f"cannot write {path} nor a rescue copy in {', '.join(failures)}", "free some space and save again")


def _open_for_lines(path: Path, append: bool) -> BinaryIO:
    """An unbuffered file for :class:`LineLog` (unbuffered: a failing write shows at once)."""
    fd = own_descriptor(path)
    if fd is not None:
        return open(os.dup(fd), "wb", buffering=0)  # wraps the duplicate: nothing is opened, nothing truncated
    if is_stream(path):
        return open(path, "ab", buffering=0)
    return open(path, "ab" if append else "wb", buffering=0)


class LineLog:
    """A text file written a line at a time; each line reaches the file before :meth:`write_line` returns.

    ``LineLog(path, append)`` opens (or creates) the file, truncating it
    unless ``append``. A stream is never truncated: a descriptor of this
    process (/dev/stdout, /dev/fd/N) is written through a duplicate of it,
    so the log shares its position with what else goes there (``> f`` and
    ``>> f`` alike), and a FIFO or a device is opened to append. The first
    write that fails (disk full, /dev/full, a reader that went away) raises
    :class:`OutputError` with one line; so does every later write.
    :meth:`close` never raises after a failed write, and may be called any
    number of times.
    """

    def __init__(self, path: str | os.PathLike[str], append: bool = False, what: str = "--log") -> None:
        self.path = Path(path)
        self.what = what
        self._error: OutputError | None = None
        try:
            self._file = _open_for_lines(self.path, append)
        except OSError as err:
            raise OutputError(f"cannot write {what} {self.path} ({err.strerror})", os_error_advice(err)) from None

    def write_line(self, text: str) -> None:
        """Write ``text`` and a newline."""
        if self._error is not None:
            raise self._error
        data = memoryview((text + "\n").encode("utf-8"))
        try:
            while data:
                written = self._file.write(data)
                data = data[written:]
        except (OSError, ValueError) as err:  # ValueError: written after close
            reason = getattr(err, "strerror", None) or str(err)
            advice = os_error_advice(err) if isinstance(err, OSError) else "choose another path"
            self._error = OutputError(f"cannot write {self.what} {self.path} ({reason})", advice)
            raise self._error from None

    def close(self) -> None:
        """Close the file; an error while closing a file that wrote fine raises OutputError."""
        if self._file.closed:
            return
        try:
            self._file.close()
        except OSError as err:
            if self._error is None:
                self._error = OutputError(f"cannot finish {self.what} {self.path} ({err.strerror})", os_error_advice(err))
                raise self._error from None

    def __enter__(self) -> "LineLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

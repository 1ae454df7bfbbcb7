"""Output files (checkpoints, the metrics log): checked before training, written without losing anything.

* :func:`check_writable` runs before training, so a bad path fails in the
  first second, not after hours: the folder must exist and take new files,
  and an existing path must be a regular file (never a device, a FIFO or a
  folder). A symbolic link is followed to the file it finally names.
* :func:`write_atomically` writes a temporary file beside that final file,
  syncs it and renames it over the file: a crash leaves the old file or the
  new one, and a link stays a link.
* :func:`write_rescue` writes under a new name that overwrites nothing, for
  when the asked-for path can no longer be written.
* :class:`LineLog` appends lines and reports the first failing write as one
  line (disk full, a device that refuses data).
"""

from __future__ import annotations

import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import RnntuiError

RESCUE_TAG = "rescue"  # rescue files are named <stem>.rescue-<timestamp>[-k]<suffix>
_STREAM_KINDS = ("FIFO", "character device")  # accepted for a log when the caller allows streams


class OutputError(RnntuiError):
    """An output file cannot be written where asked (missing folder, read-only, a device, disk full...)."""


def _read_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


NEW_FILE_MODE = 0o666 & ~_read_umask()  # what a new ordinary file gets (read once, at import)


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


def _file_kind(path: Path) -> str | None:
    """What is at ``path`` (following links), in words; None when nothing is."""
    try:
        return kind_of_mode(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def final_target(path: str | os.PathLike[str], what: str = "output") -> Path:
    """The file a write to ``path`` lands on: ``path`` itself, or the end of its chain of symbolic links.

    A link that (eventually) names itself raises :class:`OutputError`.
    """
    path = Path(path)
    if not path.is_symlink():
        return path
    target = Path(os.path.realpath(path))
    if target.is_symlink():  # realpath stops where a chain of links loops
        raise OutputError(f"{what} {path} is a symbolic link that loops back on itself", "give the path of a file")
    return target


def check_writable(path: str | os.PathLike[str], what: str, streams_ok: bool = False) -> Path:
    """Fail now, with one line, if ``path`` cannot be written later; return the path to write.

    ``what`` names the output in messages (e.g. "--save"). The folder must
    exist and take new files (checked by creating and removing a temporary
    file: permission bits alone say nothing for root or on a read-only
    filesystem). An existing path must be a regular file; with
    ``streams_ok`` a FIFO or a character device (``/dev/stdout``) is
    accepted too, for an output written line by line. Returns the final
    target of a symbolic link, else ``path`` unchanged.
    """
    path = Path(path)
    target = final_target(path, what)
    folder = _folder(target)
    if not folder.is_dir():
        if target == path:  # not a link
            raise OutputError(f"{what} {path}: folder {folder} does not exist", "create it or choose another path")
        raise OutputError(
            f"{what} {path} links to {target}, whose folder {folder} does not exist", "create it or choose another path"
        )
    kind = _file_kind(target)
    if kind == "directory":
        raise OutputError(f"{what} {path} is a directory", "give a file name")
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


def check_distinct_outputs(save: str | os.PathLike[str] | None, log: str | os.PathLike[str] | None) -> None:
    """Refuse ``--save`` and ``--log`` naming the same file (through links, hard links included)."""
    if save is None or log is None:
        return
    same = os.path.realpath(save) == os.path.realpath(log)
    if not same and os.path.exists(save) and os.path.exists(log):
        same = os.path.samefile(save, log)
    if same:
        raise OutputError(f"--save {save} and --log {log} are the same file", "give them different paths")


def _write_error(path: Path, err: OSError) -> OutputError:
    reason = err.strerror or str(err)
    return OutputError(f"cannot write {path} ({reason})", "free some space, fix the permissions or choose another path")


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


class LineLog:
    """A text file written a line at a time; each line reaches the file before :meth:`write_line` returns.

    ``LineLog(path, append)`` opens (or creates) the file, truncating it
    unless ``append``. The first write that fails (disk full, /dev/full, a
    closed pipe) raises :class:`OutputError` with one line; so does every
    later write. :meth:`close` never raises after a failed write, and may
    be called any number of times.
    """

    def __init__(self, path: str | os.PathLike[str], append: bool = False, what: str = "--log") -> None:
        self.path = Path(path)
        self.what = what
        self._error: OutputError | None = None
        try:
            self._file = open(self.path, "ab" if append else "wb", buffering=0)  # unbuffered: errors show at once
        except OSError as err:
            raise OutputError(f"cannot write {what} {self.path} ({err.strerror})", "choose another path") from None

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
            self._error = OutputError(
                f"cannot write {self.what} {self.path} ({reason})", "free some space or choose another path"
            )
            raise self._error from None

    def close(self) -> None:
        """Close the file; an error while closing a file that wrote fine raises OutputError."""
        if self._file.closed:
            return
        try:
            self._file.close()
        except OSError as err:
            if self._error is None:
                self._error = OutputError(f"cannot finish {self.what} {self.path} ({err.strerror})", "check the disk")
                raise self._error from None

    def __enter__(self) -> "LineLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Output files: checked before training, written atomically through links, rescued when the write fails;
the metrics log reports a failing write at once; the corpus reader refuses devices and endless pipes."""

from __future__ import annotations

import errno
import os
import pickle
import re
import stat
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

from rnntui.engine import Corpus, CorpusError, RnntuiError, files, load_checkpoint, save_checkpoint
from rnntui.engine.checkpoint import save_checkpoint_with_fallback
from rnntui.engine.corpus import MAX_CORPUS_BYTES, check_encoding
from rnntui.engine.files import LineLog, OutputError, check_distinct_outputs, check_writable

JOIN_TIMEOUT_S = 20  # a helper thread still running after this is a hang: the test fails


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message and isinstance(err.value, RnntuiError)
    return message


def can_create_in(folder: Path) -> bool:
    """Whether a new file can be made in ``folder`` right now (permission bits do not stop root)."""
    try:
        (folder / ".can-create").touch()
    except OSError:
        return False
    (folder / ".can-create").unlink()
    return True


@pytest.fixture
def unwritable_folder(tmp_path) -> Path:
    """A folder in which no file can be created, even by root.

    A folder with mode 0o555 does it for an ordinary user; root ignores
    permission bits, so then a kernel filesystem that takes no new files
    (/sys, /proc) stands in for a read-only folder.
    """
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    for folder in (read_only, Path("/sys"), Path("/proc")):
        if folder.is_dir() and not can_create_in(folder):
            yield folder
            break
    else:
        pytest.skip("no folder here refuses new files to this user (root with /sys and /proc writable)")
    read_only.chmod(0o755)


def device_identity(path: str) -> tuple[int, int, int]:
    st = os.stat(path)
    return stat.S_IFMT(st.st_mode), st.st_ino, st.st_rdev


def saved_iteration(path: Path) -> int:
    with np.load(path, allow_pickle=False) as npz:
        return int(npz["iteration"])


def trained(trainer, steps: int = 3):
    for _ in range(steps):
        trainer.step()
    return trainer


# --- check_writable: before training ----------------------------------------------------------------


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(OutputError) as err:
        check_writable(tmp_path / "no" / "run.npz", "--save")
    message = one_line(err)
    assert message == f"--save {tmp_path / 'no' / 'run.npz'}: folder {tmp_path / 'no'} does not exist; create it or choose another path"


def test_a_folder_that_takes_no_new_files_is_refused_before_training(unwritable_folder):
    before = set(os.listdir(unwritable_folder))
    with pytest.raises(OutputError) as err:
        check_writable(unwritable_folder / "run.npz", "--save")
    message = one_line(err)
    assert "cannot create files in" in message and str(unwritable_folder) in message
    assert set(os.listdir(unwritable_folder)) == before


def test_a_writable_folder_passes_and_is_left_as_it_was(tmp_path):
    (tmp_path / "old.npz").write_bytes(b"old")
    assert check_writable(tmp_path / "run.npz", "--save") == tmp_path / "run.npz"
    assert check_writable(tmp_path / "old.npz", "--save") == tmp_path / "old.npz"
    assert sorted(os.listdir(tmp_path)) == ["old.npz"]  # the probe file is gone
    assert (tmp_path / "old.npz").read_bytes() == b"old"


@pytest.mark.parametrize("device", ["/dev/full", "/dev/null"])
def test_a_device_is_refused_and_left_untouched(small_trainer, device):
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    before = device_identity(device)
    with pytest.raises(OutputError) as err:
        check_writable(device, "--save")
    assert "character device" in one_line(err)
    with pytest.raises(OutputError) as err:
        save_checkpoint(trained(small_trainer, 1), device)
    assert "character device" in one_line(err)
    assert device_identity(device) == before  # still the same device node: nothing was renamed over it
    assert not [name for name in os.listdir("/dev") if name.startswith(f".{Path(device).name}.")]


def test_a_fifo_and_a_directory_are_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutputError) as err:
        check_writable(fifo, "--save")
    assert "FIFO" in one_line(err)
    assert check_writable(fifo, "--log", streams_ok=True) == fifo  # a log may go to a pipe
    with pytest.raises(OutputError) as err:
        check_writable(tmp_path, "--save")
    assert "is a directory" in one_line(err)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_dangling_link_names_its_target_whose_folder_must_exist(tmp_path):
    link = tmp_path / "run.npz"
    link.symlink_to(tmp_path / "gone" / "real.npz")
    with pytest.raises(OutputError) as err:
        check_writable(link, "--save")
    message = one_line(err)
    assert "links to" in message and str(tmp_path / "gone") in message and "does not exist" in message
    (tmp_path / "gone").mkdir()
    assert check_writable(link, "--save") == tmp_path / "gone" / "real.npz"


def test_a_link_loop_is_refused(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OutputError) as err:
        check_writable(tmp_path / "a", "--save")
    assert "loops" in one_line(err)


def test_a_link_through_a_missing_folder_is_refused_even_when_its_text_cancels_out(tmp_path, small_trainer):
    victim = tmp_path / "victim.npz"
    victim.write_bytes(b"another run")
    trick = tmp_path / "trick"
    trick.symlink_to("nosuchdir/../victim.npz")  # the system cannot follow it: nosuchdir does not exist
    assert not trick.exists()
    with pytest.raises(OutputError) as err:
        check_writable(trick, "--save")
    assert "nosuchdir/.. does not exist" in one_line(err)
    with pytest.raises(OutputError):
        files.write_atomically(trick, lambda fh: fh.write(b"new"), "--save")
    assert victim.read_bytes() == b"another run"


def test_a_folder_that_is_a_link_loop_is_named_as_such(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OutputError) as err:
        check_writable(tmp_path / "a" / "x.npz", "--save")
    assert "symbolic link that leads to no folder" in one_line(err) and "create it" not in one_line(err)


@pytest.mark.parametrize("name", ["new.npz/", "sub/"])
def test_a_name_ending_with_a_separator_names_a_folder_and_is_refused(tmp_path, name):
    with pytest.raises(OutputError) as err:
        check_writable(f"{tmp_path}/{name}", "--save")
    assert "ends with '/'" in one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_an_immutable_file_is_refused_before_training(tmp_path):
    import shutil
    import subprocess

    target = tmp_path / "kept.npz"
    target.write_bytes(b"kept")
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(target)], capture_output=True).returncode:
        pytest.skip("chattr +i is not available here (needs root and a filesystem with inode flags)")
    try:
        with pytest.raises(OutputError) as err:
            check_writable(target, "--save")
        assert "immutable or append-only" in one_line(err) and "chattr" in one_line(err)
    finally:
        subprocess.run(["chattr", "-i", str(target)], check=True)


# --- atomic writes through links ---------------------------------------------------------------------


def test_saving_through_a_link_writes_the_target_beside_itself_and_keeps_the_link(tmp_path, small_trainer, monkeypatch):
    links, targets = tmp_path / "links", tmp_path / "targets"
    links.mkdir(), targets.mkdir()
    real = targets / "real.npz"
    real.write_bytes(b"old")
    link = links / "run.npz"
    link.symlink_to(os.path.relpath(real, links))
    temp_folders = []
    real_mkstemp = tempfile.mkstemp

    def spy(*args, **kwargs):
        temp_folders.append(Path(kwargs["dir"]))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", spy)
    assert check_writable(link, "--save") == real
    assert save_checkpoint(trained(small_trainer), link) == link
    assert link.is_symlink() and os.readlink(link) == os.path.relpath(real, links)
    assert saved_iteration(real) == 3 and load_checkpoint(link, small_trainer.corpus).iteration == 3
    assert temp_folders and set(temp_folders) == {targets}  # the temporary file was made beside the target
    assert sorted(os.listdir(links)) == ["run.npz"] and sorted(os.listdir(targets)) == ["real.npz"]


def test_saving_through_a_dangling_link_creates_its_target(tmp_path, small_trainer):
    link = tmp_path / "run.npz"
    link.symlink_to("new.npz")
    save_checkpoint(trained(small_trainer, 2), link)
    assert link.is_symlink() and (tmp_path / "new.npz").is_file() and not (tmp_path / "new.npz").is_symlink()
    assert saved_iteration(tmp_path / "new.npz") == 2
    assert sorted(os.listdir(tmp_path)) == ["new.npz", "run.npz"]


def test_a_new_checkpoint_gets_the_umasks_ordinary_mode(tmp_path, small_trainer):
    umask = os.umask(0)
    os.umask(umask)
    save_checkpoint(small_trainer, tmp_path / "run.npz")
    assert stat.S_IMODE(os.stat(tmp_path / "run.npz").st_mode) == 0o666 & ~umask


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_file(tmp_path, small_trainer, monkeypatch):
    path = tmp_path / "run.npz"
    path.write_bytes(b"old")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OutputError) as err:
        save_checkpoint(small_trainer, path)
    message = one_line(err)
    assert str(path) in message and os.strerror(errno.ENOSPC) in message
    assert path.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["run.npz"]


# --- --save and --log must differ --------------------------------------------------------------------


def test_save_and_log_naming_one_file_through_a_link_are_refused(tmp_path):
    save, alias = tmp_path / "run.npz", tmp_path / "alias"
    alias.symlink_to("run.npz")  # dangling until the run saves: compared by where it leads
    with pytest.raises(OutputError) as err:
        check_distinct_outputs(str(save), str(alias))
    assert "same file" in one_line(err)
    save.write_bytes(b"x")
    os.link(save, tmp_path / "hard")
    with pytest.raises(OutputError):
        check_distinct_outputs(save, tmp_path / "hard")
    check_distinct_outputs(save, tmp_path / "m.jsonl")
    check_distinct_outputs(save, None)
    check_distinct_outputs(None, save)


# --- the metrics log ---------------------------------------------------------------------------------


def test_the_log_writes_each_line_at_once_and_appends(tmp_path):
    path = tmp_path / "m.jsonl"
    log = LineLog(path)
    log.write_line('{"iteration": 0}')
    assert path.read_text() == '{"iteration": 0}\n'  # on disk before close
    log.close()
    with LineLog(path, append=True) as log:
        log.write_line('{"iteration": 1}')
    assert path.read_text() == '{"iteration": 0}\n{"iteration": 1}\n'
    with LineLog(path) as log:
        log.write_line("new")
    assert path.read_text() == "new\n"


def test_the_log_on_a_full_device_fails_at_the_first_write_and_closes_quietly():
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full does not exist here")
    log = LineLog("/dev/full")
    with pytest.raises(OutputError) as err:
        log.write_line('{"iteration": 0}')
    message = one_line(err)
    assert "--log /dev/full" in message and os.strerror(errno.ENOSPC) in message
    with pytest.raises(OutputError):
        log.write_line('{"iteration": 1}')
    log.close()
    log.close()


def test_an_output_error_keeps_its_parts_and_survives_pickling(tmp_path):
    with pytest.raises(OutputError) as err:
        check_writable(tmp_path / "no" / "run.npz", "--save")
    again = pickle.loads(pickle.dumps(err.value))
    assert type(again) is OutputError and str(again) == str(err.value)
    assert (again.problem, again.hint) == (err.value.problem, err.value.hint)
    assert str(err.value) == f"{err.value.problem}; {err.value.hint}" and "does not exist" in err.value.problem


def test_a_log_that_cannot_be_opened_is_one_line(tmp_path):
    with pytest.raises(OutputError) as err:
        LineLog(tmp_path / "no" / "m.jsonl")
    assert "--log" in one_line(err)


# --- rescue when the save fails at write time --------------------------------------------------------

RESCUE_NAME = re.compile(r"run\.rescue-\d{8}-\d{6}(-\d+)?\.npz")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def refuse_temporary_files_in(monkeypatch, *folders: Path) -> None:
    """Simulate folders that stopped taking new files after the check (permissions changed)."""
    real_mkstemp = tempfile.mkstemp
    real_open = os.open
    blocked = {f.resolve() for f in folders}

    def mkstemp(*args, **kwargs):
        if Path(kwargs["dir"]).resolve() in blocked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_mkstemp(*args, **kwargs)

    def open_(path, flags, *args, **kwargs):
        if Path(path).parent.resolve() in blocked and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(os, "open", open_)


def fail_renames_over(monkeypatch, target: Path, error: int) -> None:
    """Simulate a write that fails at the last moment: renaming onto ``target`` raises OSError(error)."""
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == target:
            raise OSError(error, os.strerror(error))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)


def test_an_ordinary_save_with_fallback_writes_the_path(tmp_path, small_trainer, home):
    path = tmp_path / "run.npz"
    assert save_checkpoint_with_fallback(trained(small_trainer), path) == (path, None)
    assert saved_iteration(path) == 3 and os.listdir(home) == []


def test_a_folder_that_became_unwritable_sends_the_checkpoint_home(tmp_path, small_trainer, home, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    path = work / "run.npz"
    path.write_bytes(b"old")
    assert check_writable(path, "--save") == path  # fine before training...
    refuse_temporary_files_in(monkeypatch, work)  # ...then the folder stops taking files
    written, problem = save_checkpoint_with_fallback(trained(small_trainer), path, extra={"note": np.array("x")})
    assert written.parent == home and RESCUE_NAME.fullmatch(written.name)
    assert "\n" not in problem and str(path) in problem and os.strerror(errno.EACCES) in problem
    assert "choose another path" not in problem  # the advice is moot once the checkpoint is rescued
    monkeypatch.undo()
    resumed = load_checkpoint(written, small_trainer.corpus)
    assert resumed.iteration == 3 and str(resumed.checkpoint_extras["note"]) == "x"
    assert path.read_bytes() == b"old" and sorted(os.listdir(work)) == ["run.npz"]


def test_a_disk_full_at_the_rename_rescues_beside_the_target(tmp_path, small_trainer, home, monkeypatch):
    path = tmp_path / "run.npz"
    path.write_bytes(b"old")
    fail_renames_over(monkeypatch, path, errno.ENOSPC)
    written, problem = save_checkpoint_with_fallback(trained(small_trainer), path)
    monkeypatch.undo()
    assert written.parent == tmp_path and RESCUE_NAME.fullmatch(written.name)
    assert os.strerror(errno.ENOSPC) in problem
    assert saved_iteration(written) == 3 and path.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == sorted(["home", "run.npz", written.name])


def test_a_rescue_never_overwrites_a_file(tmp_path, small_trainer, home, monkeypatch):
    path = tmp_path / "run.npz"
    monkeypatch.setattr(files.time, "strftime", lambda fmt: "20240101-000000")
    taken = tmp_path / "run.rescue-20240101-000000.npz"
    taken.write_bytes(b"keep")
    fail_renames_over(monkeypatch, path, errno.EACCES)
    written, _ = save_checkpoint_with_fallback(trained(small_trainer, 1), path)
    monkeypatch.undo()
    assert written == tmp_path / "run.rescue-20240101-000000-1.npz" and saved_iteration(written) == 1
    assert taken.read_bytes() == b"keep"


def test_a_save_aimed_at_a_device_is_rescued_home_not_beside_the_device(tmp_path, small_trainer, home):
    fifo = tmp_path / "pipe"  # a FIFO stands in for a device: a save aimed at either must not land in its folder
    os.mkfifo(fifo)
    written, problem = save_checkpoint_with_fallback(trained(small_trainer, 1), fifo)
    assert written.parent == home and written.name.startswith("pipe.rescue-") and written.suffix == ".npz"
    assert "FIFO" in problem and stat.S_ISFIFO(os.stat(fifo).st_mode) and sorted(os.listdir(tmp_path)) == ["home", "pipe"]


def test_the_last_resort_is_the_temporary_folder_then_a_one_line_error(tmp_path, small_trainer, home, monkeypatch):
    work, temp = tmp_path / "work", tmp_path / "temp"
    work.mkdir(), temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    refuse_temporary_files_in(monkeypatch, work, home)
    written, _ = save_checkpoint_with_fallback(trained(small_trainer, 1), work / "run.npz")
    assert written.parent == temp and RESCUE_NAME.fullmatch(written.name)
    refuse_temporary_files_in(monkeypatch, work, home, temp)
    with pytest.raises(OutputError) as err:
        save_checkpoint_with_fallback(small_trainer, work / "run.npz")
    message = one_line(err)
    assert all(str(folder) in message for folder in (work, home, temp))


# --- reading the corpus safely -----------------------------------------------------------------------


def test_the_default_limit_is_one_gibibyte():
    assert MAX_CORPUS_BYTES == 2**30


def in_thread(target, *args):
    """Run ``target(*args)`` in a daemon thread; return (thread, result dict with 'value' or 'error')."""
    result: dict = {}

    def run():
        try:
            result["value"] = target(*args)
        except BaseException as err:  # noqa: BLE001 - handed to the test
            result["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_is_refused_without_reading(device):
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    thread, result = in_thread(lambda: Corpus.from_path(device, max_bytes=1 << 20))
    thread.join(JOIN_TIMEOUT_S)
    assert not thread.is_alive(), f"reading {device} did not stop"
    assert isinstance(result.get("error"), CorpusError)
    message = str(result["error"])
    assert "\n" not in message and device in message and "character device" in message


def write_to_fifo(fifo: Path, total: int, sent: dict) -> None:
    """Send ``total`` bytes of text into ``fifo``, counting them; stop quietly when the reader leaves."""
    block = b"abcdefgh" * 512  # 4 KiB
    sent["bytes"] = 0
    try:
        with open(fifo, "wb", buffering=0) as fh:
            while sent["bytes"] < total:
                sent["bytes"] += fh.write(block[: total - sent["bytes"]])
    except BrokenPipeError:
        sent["broken"] = True


def release_writer(fifo: Path, thread: threading.Thread) -> None:
    """If the writer still waits for a reader to open the FIFO, open and close it so the thread can end."""
    if thread.is_alive():
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        os.close(fd)
    thread.join(JOIN_TIMEOUT_S)


def test_a_fifo_that_sends_more_than_the_limit_is_refused_at_the_limit(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    limit, sent = 64 * 1024, {}
    writer = threading.Thread(target=write_to_fifo, args=(fifo, 256 * limit, sent), daemon=True)
    writer.start()
    try:
        reader, result = in_thread(lambda: Corpus.from_path(fifo, max_bytes=limit))
        reader.join(JOIN_TIMEOUT_S)
        assert not reader.is_alive(), "the reader did not stop at the limit"
    finally:
        release_writer(fifo, writer)
    assert not writer.is_alive(), "the writer is still blocked"
    assert isinstance(result.get("error"), CorpusError)
    message = str(result["error"])
    assert "\n" not in message and str(fifo) in message and "64 KiB" in message and "--max-bytes" in message
    assert sent.get("broken") and sent["bytes"] < 256 * limit  # the reader stopped early, not at the end


def test_a_fifo_within_the_limit_is_read_whole(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    total, sent = 3 * (1 << 20) + 5, {}  # several read chunks, and a ragged end
    writer = threading.Thread(target=write_to_fifo, args=(fifo, total, sent), daemon=True)
    writer.start()
    try:
        reader, result = in_thread(lambda: Corpus.from_path(fifo, max_bytes=total))
        reader.join(JOIN_TIMEOUT_S)
        assert not reader.is_alive()
    finally:
        release_writer(fifo, writer)
    corpus = result["value"]
    sent_bytes = np.frombuffer((b"abcdefgh" * (total // 8 + 1))[:total], dtype=np.uint8)
    assert corpus.vocab == tuple("abcdefgh")
    np.testing.assert_array_equal(corpus.data, sent_bytes - ord("a"))


def test_a_regular_file_over_the_limit_is_refused_and_one_at_the_limit_is_read(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"ab" * 512)
    assert len(Corpus.from_path(path, max_bytes=1024)) == 1024
    with pytest.raises(CorpusError) as err:
        Corpus.from_path(path, max_bytes=1023)
    message = one_line(err)
    assert message == f"{path} is larger than 1,023 bytes; raise the limit with --max-bytes"


def test_a_bad_limit_is_one_line(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("hello")
    for limit in (0, -1, 1.5, True):
        with pytest.raises(CorpusError) as err:
            Corpus.from_path(path, max_bytes=limit)
        assert "--max-bytes" in one_line(err)


def test_check_encoding_gives_from_paths_message_for_an_unknown_encoding(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("hello")
    assert check_encoding("UTF8") == "utf-8" and check_encoding("latin1") == "iso8859-1"
    for name in ("no-such-codec", "rot13"):
        with pytest.raises(CorpusError) as from_check:
            check_encoding(name)
        with pytest.raises(CorpusError) as from_path:
            Corpus.from_path(path, encoding=name)
        assert one_line(from_check) == one_line(from_path)

"""The default storage, Optuna's journal file, kept readable whatever happened to it.

A journal is one JSON record per line, appended by every worker. A crash or a full disk leaves a torn
last record; later appends then glue a record to it, and other accidents add or insert garbage. Optuna
skips a torn last line but fails on a bad line with records after it, and then every command fails.

``repair`` keeps every intact record (one glued to a torn one included), copies the whole damaged file
aside (``journal.log.damaged-<time>``) and rewrites the journal atomically with the intact records.
Records are replayed before the repair is accepted; should dropping a damaged line leave them unreadable
(a record naming a trial whose creation was torn), the journal is cut just before the damage instead.
"""

import atexit
import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

RECORD_START = b'{"op_code":'  # how Optuna starts every record it writes


@dataclass
class Repair:
    path: Path
    backup: Path
    kept: int  # intact records kept
    damaged: int  # damaged pieces set aside
    cut: int = 0  # intact records after the damage dropped because they could not be replayed without it

    def message(self) -> str:
        cut = (f", {self.cut} records after a damaged one that may have created a trial were dropped (their trials "
               "come back from trial.json)") if self.cut else ""
        return (f"{self.path}: repaired a damaged journal: kept {self.kept} intact records, set aside "
                f"{self.damaged} damaged piece(s){cut}; the original is in {self.backup}")


def _record(line: bytes) -> dict | None:
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    ok = isinstance(record, dict) and isinstance(record.get("op_code"), int) and "worker_id" in record
    return record if ok else None


STRUCTURAL = (0, 4)  # create_study, create_trial: records that number what follows them


def _may_number(piece: bytes) -> bool:
    """Whether a damaged piece may be a torn record that creates a study or a trial (dropping one would
    shift the numbers of every later trial). Garbage, and torn records of other kinds, do not."""
    piece = piece.lstrip()
    if not (RECORD_START.startswith(piece[:len(RECORD_START)]) or piece.startswith(RECORD_START)):
        return False  # not the start of a record Optuna wrote
    digits = piece[len(RECORD_START):len(RECORD_START) + 3].split(b",")[0]
    return not (piece.startswith(RECORD_START) and digits.isdigit() and b"," in piece[len(RECORD_START):]
                and int(digits) not in STRUCTURAL)


def scan(data: bytes) -> tuple[list[bytes], int, int | None]:
    """Intact records, the number of damaged pieces, and the index (in intact records) of the first
    damage that may have created a study or trial, or None when there is none."""
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: empty when the last record is whole
    good, damaged, first = [], 0, None
    for line in lines:
        if not line.strip():
            continue
        if _record(line) is not None:
            good.append(line)
            continue
        damaged += 1
        start = line.find(RECORD_START, 1)  # a whole record glued to the torn end of another?
        torn = line if start == -1 else line[:start]
        if first is None and _may_number(torn):
            first = len(good)
        while start != -1:
            if _record(line[start:]) is not None:
                good.append(line[start:])
                break
            start = line.find(RECORD_START, start + 1)
    if tail.strip():  # a torn last record: nothing follows it to renumber
        damaged += 1
    return good, damaged, first


def is_damaged(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    return scan(path.read_bytes())[1] > 0


def replays(records: list[bytes]) -> bool:
    """Whether Optuna can rebuild every study and trial from these records."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "journal.log"
        copy.write_bytes(b"".join(r + b"\n" for r in records))
        try:
            storage = JournalStorage(JournalFileBackend(str(copy)))
            for study in storage.get_all_studies():
                storage.get_all_trials(study._study_id, deepcopy=False)
        except Exception:  # noqa: BLE001 - any failure to replay means: not these records
            return False
    return True


def repaired_records(data: bytes) -> tuple[list[bytes], int, int]:
    """(records to keep, damaged pieces, records cut after a damaged piece that may have created a trial:
    kept, they would be applied to the wrong trials). Trials cut this way keep their trial.json records
    and are added back by ``gansearch.recovery``."""
    good, damaged, first = scan(data)
    if first is not None:
        good, cut = good[:first], len(good) - first
    else:
        cut = 0
    if not replays(good):  # should not happen: keep what replays
        while good and not replays(good):
            good, cut = good[:-1], cut + 1
    return good, damaged, cut


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def free_name(path: Path) -> Path:
    """``path``, or ``path~1``, ``path~2``, ... : the first that does not exist (a backup never overwrites one)."""
    n = 1
    while path.exists():
        path = path.with_name(f"{path.name.split('~')[0]}~{n}")
        n += 1
    return path


def repair(path: Path) -> Repair | None:
    """Repair the journal at ``path`` in place if it is damaged (only while no process writes to it)."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return None
    data = path.read_bytes()
    records, damaged, cut = repaired_records(data)
    if damaged == 0:
        return None
    backup = free_name(path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"))
    write_atomically(backup, data)
    write_atomically(path, b"".join(r + b"\n" for r in records))
    return Repair(path, backup, len(records), damaged, cut)


def readable_copy(path: Path) -> Path:
    """A repaired copy of a damaged journal in a temporary folder, for reading while a run writes."""
    records, _, _ = repaired_records(Path(path).read_bytes())
    folder = Path(tempfile.mkdtemp(prefix="gansearch-journal-"))
    atexit.register(shutil.rmtree, folder, True)
    copy = folder / "journal.log"
    copy.write_bytes(b"".join(r + b"\n" for r in records))
    return copy


def trial_count(path: Path) -> int:
    """How many trials the journal creates (its create_trial records)."""
    path = Path(path)
    if not path.exists():
        return 0
    return sum(1 for line in path.read_bytes().split(b"\n") if line.startswith(RECORD_START + b"4,"))


def has_records(path: Path) -> bool:
    path = Path(path)
    return path.exists() and path.stat().st_size > 0 and bool(scan(path.read_bytes())[0])


try:
    import fcntl
except ImportError:  # Windows: no advisory locks; readers then never repair (a run does)
    fcntl = None


READER_HOLD_S = 5.0  # how long a command reading a study may hold its run.lock (repairing, cross-checking)


def run_holds(lock: Path, patience: float = READER_HOLD_S) -> bool:
    """Whether a ``gansearch run`` holds ``lock`` (the study's run.lock): held for ``patience`` seconds,
    so a reader repairing the journal for a moment is not taken for a run."""
    if fcntl is None or not lock.exists():
        return False
    deadline = time.monotonic() + patience
    try:
        f = open(lock)
    except OSError:  # unreadable: no run of ours could have taken it
        return False
    with f:
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return True
                time.sleep(0.1)
                continue
            fcntl.flock(f, fcntl.LOCK_UN)
            return False


@contextlib.contextmanager
def hold(lock: Path):
    """The study's run.lock, exclusively, for a reader about to repair the journal: yields True if it got
    it (no run writes, and none starts until the block ends), False otherwise (a run is writing)."""
    if fcntl is None or not lock.parent.is_dir():  # no locks here, or no output folder yet: nothing to repair
        yield False
        return
    try:
        f = open(lock, "a")
    except OSError:  # a read-only folder (or one we may not write): read the journal as it is, write nothing
        yield False
        return
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)

"""Checkpoints: round trip, atomicity under SIGKILL, refusals, serial vs mpirun.

Usage as a script: ``mpiexec -n 2 python tests/test_checkpoint.py FOLDER`` saves
and loads checkpoints on two ranks in FOLDER (see :func:`_two_rank_check`);
``test_two_ranks_round_trip`` runs it and inspects FOLDER.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from organfem._dolfinx import MPI
from organfem.errors import ParameterError
from organfem.io import load_checkpoint, save_checkpoint

REPO = Path(__file__).resolve().parents[1]


def _arrays(rank: int, save: int) -> dict[str, np.ndarray]:
    """Arrays of several dtypes and shapes, different on each rank and at each save."""
    return {
        "u": np.linspace(0.0, 1.0, 7 + rank) * save,
        "internal_state": (np.arange(12, dtype=np.int32).reshape(3, 4) + rank) * save,
        "active": np.array([True, False, rank == 0]),
        "time": np.float64(0.1 * save),
        "no_cells": np.zeros((0, 3), dtype=np.float32),
        "complex_modes": np.array([1 + 2j, save - 1j]),
        # Names that are keyword arguments of numpy.savez are fine too.
        "file": np.array([save]),
        "allow_pickle": np.array([rank]),
    }


def _assert_same(loaded: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert loaded.keys() == expected.keys()
    for name, value in expected.items():
        value = np.asarray(value)
        assert loaded[name].dtype == value.dtype, name
        assert loaded[name].shape == value.shape, name
        np.testing.assert_array_equal(loaded[name], value, err_msg=name)


def _listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_round_trip_keeps_arrays_bit_for_bit_and_only_the_last_save(tmp_path: Path) -> None:
    comm = MPI.COMM_WORLD
    folder = tmp_path / "checkpoints"
    assert load_checkpoint(folder, comm) is None  # no folder yet
    record = {"t": 0.1, "step": 1, "dt": 1e-3, "label": "inflation", "sizes": [1, 2]}
    save_checkpoint(folder, comm, _arrays(0, 1), record)
    arrays, loaded = load_checkpoint(folder, comm)
    _assert_same(arrays, _arrays(0, 1))
    assert loaded == record
    assert _listing(folder) == ["checkpoint.json", "save-000001", "save-000001/rank0.npz"]

    # NumPy scalars in the record come back as Python numbers.
    save_checkpoint(folder, comm, _arrays(0, 2), {"t": np.float64(0.2), "step": np.int64(2)})
    arrays, loaded = load_checkpoint(folder, comm)
    _assert_same(arrays, _arrays(0, 2))
    assert loaded == {"t": 0.2, "step": 2}
    assert type(loaded["step"]) is int
    assert _listing(folder) == ["checkpoint.json", "save-000002", "save-000002/rank0.npz"]
    index = json.loads((folder / "checkpoint.json").read_text())
    assert index == {
        "format": "organfem-checkpoint",
        "version": 1,
        "save": "save-000002",
        "ranks": 1,
        "record": {"t": 0.2, "step": 2},
    }
    # No arrays at all is a valid state too.
    save_checkpoint(folder, comm, {}, {})
    assert load_checkpoint(folder, comm) == ({}, {})


def test_bad_arrays_or_record_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    comm = MPI.COMM_WORLD
    with pytest.raises(ParameterError, match="array name 'u-1' must be a Python identifier"):
        save_checkpoint(tmp_path, comm, {"u-1": np.zeros(2)}, {})
    with pytest.raises(ParameterError, match="'cells' has dtype object"):
        save_checkpoint(tmp_path, comm, {"cells": np.array([None, 1])}, {})
    with pytest.raises(ParameterError, match="record is not JSON-able: set"):
        save_checkpoint(tmp_path, comm, {}, {"tags": {1, 2}})
    assert list(tmp_path.iterdir()) == []


def test_wrong_number_of_ranks_is_refused(tmp_path: Path) -> None:
    comm = MPI.COMM_WORLD
    save_checkpoint(tmp_path, comm, {"u": np.zeros(3)}, {"step": 4})
    index_path = tmp_path / "checkpoint.json"
    index = json.loads(index_path.read_text())
    index_path.write_text(json.dumps(dict(index, ranks=2)))  # as a two-rank run leaves it
    with pytest.raises(ParameterError, match="checkpoint written by 2 ranks; this run has 1"):
        load_checkpoint(tmp_path, comm)


def test_missing_or_corrupt_files_are_refused_without_naming_the_folder(tmp_path: Path) -> None:
    comm = MPI.COMM_WORLD
    folder = tmp_path / "patient_0042"
    save_checkpoint(folder, comm, {"u": np.arange(1000.0)}, {"step": 1})
    rank_file = folder / "save-000001" / "rank0.npz"
    data = rank_file.read_bytes()

    rank_file.write_bytes(data[: len(data) // 2])  # cut short
    with pytest.raises(ParameterError, match="save-000001/rank0.npz is corrupt") as error:
        load_checkpoint(folder, comm)
    assert "patient_0042" not in str(error.value)

    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF  # one bit of an array: the zip CRC catches it
    rank_file.write_bytes(bytes(flipped))
    with pytest.raises(ParameterError, match="rank0.npz is corrupt.*CRC") as error:
        load_checkpoint(folder, comm)

    rank_file.unlink()
    with pytest.raises(ParameterError, match="save-000001/rank0.npz is missing") as error:
        load_checkpoint(folder, comm)
    assert "patient_0042" not in str(error.value)

    (folder / "checkpoint.json").write_text("{not json")
    with pytest.raises(ParameterError, match="checkpoint.json is unreadable"):
        load_checkpoint(folder, comm)


# A process saves checkpoint 1, then is killed with SIGKILL at one point of
# saving checkpoint 2 (the functions and os.replace are patched to kill it).
_KILLED_SAVE = """
import os, signal, sys
import numpy as np
from organfem._dolfinx import MPI
from organfem.io import checkpoint, save_checkpoint

folder, where = sys.argv[1], sys.argv[2]
save_checkpoint(folder, MPI.COMM_WORLD, {"u": np.arange(4.0)}, {"step": 1})


def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


replace = os.replace
if where in ("renaming-rank-file", "renaming-index"):
    ending = ".npz" if where == "renaming-rank-file" else ".json"
    os.replace = lambda src, dst: die() if str(dst).endswith(ending) else replace(src, dst)
elif where == "before-index":
    checkpoint._write_index = die
elif where == "before-cleanup":
    checkpoint._remove_older = die
save_checkpoint(folder, MPI.COMM_WORLD, {"u": np.arange(4.0) + 1}, {"step": 2})
"""


@pytest.mark.parametrize(
    ("where", "left", "step"),
    [
        # rank file written under its temporary name
        ("renaming-rank-file", "save-000002/rank0.npz.tmp", 1),
        # every rank file in place, no index yet
        ("before-index", "save-000002/rank0.npz", 1),
        # new index written under its temporary name
        ("renaming-index", "checkpoint.json.tmp", 1),
        # new index in place, old save not yet removed
        ("before-cleanup", "save-000001/rank0.npz", 2),
    ],
)
def test_sigkill_during_a_save_leaves_the_last_complete_checkpoint(
    tmp_path: Path, where: str, left: str, step: int
) -> None:
    run = subprocess.run(
        [sys.executable, "-c", _KILLED_SAVE, str(tmp_path), where],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == -signal.SIGKILL, run.stdout + run.stderr
    assert left in _listing(tmp_path)  # killed where intended
    comm = MPI.COMM_WORLD
    arrays, record = load_checkpoint(tmp_path, comm)
    assert record == {"step": step}
    np.testing.assert_array_equal(arrays["u"], np.arange(4.0) + step - 1)
    # The next save commits and clears what the killed one left.
    save_checkpoint(tmp_path, comm, {"u": np.zeros(1)}, {"step": 3})
    assert load_checkpoint(tmp_path, comm)[1] == {"step": 3}
    assert _listing(tmp_path) == ["checkpoint.json", "save-000003", "save-000003/rank0.npz"]


def _two_rank_check(folder: Path) -> None:
    """Save twice and load on every rank; check refusals are raised on every rank."""
    comm = MPI.COMM_WORLD
    for save in (1, 2):
        save_checkpoint(folder, comm, _arrays(comm.rank, save), {"step": save, "t": 0.1 * save})
    arrays, record = load_checkpoint(folder, comm)
    _assert_same(arrays, _arrays(comm.rank, 2))
    assert record == {"step": 2, "t": 0.2}
    with pytest.raises(ParameterError, match="identical on every rank"):
        save_checkpoint(folder, comm, {}, {"rank": comm.rank})
    # A rank file missing on rank 1 only is an error on every rank.
    damaged = folder.with_name("damaged")
    if comm.rank == 0:
        shutil.copytree(folder, damaged)
    comm.barrier()
    if comm.rank == 1:
        (damaged / "save-000002" / "rank1.npz").unlink()
    comm.barrier()
    with pytest.raises(ParameterError, match="save-000002/rank1.npz is missing"):
        load_checkpoint(damaged, comm)


@pytest.mark.mpi
def test_two_ranks_round_trip(tmp_path: Path) -> None:
    beside = Path(sys.executable).parent / "mpiexec"
    mpiexec = str(beside) if beside.exists() else shutil.which("mpiexec")
    if mpiexec is None:
        pytest.skip("no mpiexec found")
    folder = tmp_path / "checkpoints"
    run = subprocess.run(
        [mpiexec, "-n", "2", sys.executable, __file__, str(folder)],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert _listing(folder) == [
        "checkpoint.json",
        "save-000002",
        "save-000002/rank0.npz",
        "save-000002/rank1.npz",
    ]
    for rank in (0, 1):
        with np.load(folder / "save-000002" / f"rank{rank}.npz") as data:
            _assert_same({name: data[name] for name in data.files}, _arrays(rank, 2))
    with pytest.raises(ParameterError, match="checkpoint written by 2 ranks; this run has 1"):
        load_checkpoint(folder, MPI.COMM_WORLD)


if __name__ == "__main__":
    _two_rank_check(Path(sys.argv[1]))

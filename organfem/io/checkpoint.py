"""Checkpoints: the full state of a run, saved collectively and atomically.

A checkpoint folder holds one sub-folder per save and an index naming the
last complete one::

    <folder>/checkpoint.json      {"format": "organfem-checkpoint", "version": 1,
                                   "save": "save-000042", "ranks": N,
                                   "record": {...the caller's record...}}
    <folder>/save-000042/rank0.npz ... rank<N-1>.npz   each rank's arrays

A save writes every rank's arrays into a new sub-folder (each file under a
temporary name, synced, then renamed), waits for every rank, then rank 0
replaces the index the same way, and only then removes the older
sub-folders.  The index is the commit: a run killed at any instant, even by
``SIGKILL``, leaves either the previous checkpoint or the new one loadable,
never a mixture.  Files are synced before they are renamed, so this holds
after a power cut too on file systems that honour ``fsync``.

Arrays are stored as NumPy ``.npz`` files (no pickles: object arrays are
refused) and are read back bit for bit; the record is stored as JSON.  Files
and folders are created with the user's umask.  A save that cannot be
written (a full disk, no permission, a file in the way) raises
:class:`~organfem.errors.OutputError` and removes what it wrote; the
previous checkpoint stays loadable.
Neither the folder's path nor any input file name is written into the
checkpoint or its error messages.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from organfem.errors import OrganfemError, OutputError, ParameterError
from organfem.io._gather import on_all, on_root

__all__ = ["load_checkpoint", "save_checkpoint"]

log = logging.getLogger(__name__)

_INDEX = "checkpoint.json"
_FORMAT = "organfem-checkpoint"
_VERSION = 1
_SAVE = re.compile(r"save-(\d{6,})\Z")
_TEMPORARY = ".tmp"
_KEPT = "the previous checkpoint, if any, is intact and a resumed run starts from it"


def save_checkpoint(
    folder: str | Path,
    comm: Any,
    arrays: Mapping[str, npt.ArrayLike],
    record: Mapping[str, Any],
) -> None:
    """Save this rank's arrays and the run's record as the folder's checkpoint.  Collective.

    When it returns on any rank, the new checkpoint is complete and
    :func:`load_checkpoint` returns it; if the run is killed before, the
    previous checkpoint (if any) stays loadable.

    Args:
        folder: The checkpoint folder, the same on every rank and visible to
            every rank (a shared file system under MPI); created if missing.
        comm: The run's MPI communicator (``mpi4py``), e.g. ``mesh.comm``.
        arrays: This rank's arrays by name (Python identifiers); any dtype
            but ``object``, any shape, different on each rank.
        record: JSON-able metadata of the run (time in s, step, dt, ...),
            identical on every rank.  NumPy scalars are stored as Python
            numbers; tuples come back as lists.

    Raises:
        ParameterError: On every rank, for a bad array name or dtype, or a
            record that is not JSON-able or differs between ranks.
        OutputError: On every rank, when a file or folder cannot be
            written; the previous checkpoint, if any, stays loadable.
    """
    folder = Path(folder)
    text = on_all(comm, lambda: _prepare(arrays, record), "preparing a checkpoint")
    texts = comm.allgather(text)
    if any(other != texts[0] for other in texts):
        rank = next(r for r, other in enumerate(texts) if other != texts[0])
        raise ParameterError(
            f"checkpoint record must be identical on every rank; rank 0 gives {texts[0]} and"
            f" rank {rank} gives {texts[rank]}"
        )
    save = comm.bcast(on_root(comm, lambda: _new_save(folder), "creating a checkpoint"), root=0)
    try:
        on_all(
            comm,
            lambda: _write_rank_file(folder / save / f"rank{comm.rank}.npz", arrays),
            "writing its checkpoint file",
        )
    except OrganfemError:
        if comm.rank == 0:  # every rank is done writing (on_all gathers)
            shutil.rmtree(folder / save, ignore_errors=True)
        raise
    index = {
        "format": _FORMAT,
        "version": _VERSION,
        "save": save,
        "ranks": comm.size,
        "record": json.loads(text),
    }
    on_root(comm, lambda: _write_index(folder, index), "writing the checkpoint index")
    if comm.rank == 0:
        _remove_older(folder, save)


def load_checkpoint(
    folder: str | Path, comm: Any
) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]] | None:
    """Load the folder's last complete checkpoint.  Collective.

    Args:
        folder: The checkpoint folder given to :func:`save_checkpoint`.
        comm: The run's MPI communicator, of the size of the one that saved.

    Returns:
        This rank's arrays by name and the record as saved, or ``None`` if
        the folder holds no checkpoint (no ``checkpoint.json``).

    Raises:
        ParameterError: On every rank, if the checkpoint was written by
            another number of ranks, or its index or a rank's file is
            missing or corrupt.
    """
    folder = Path(folder)
    index = comm.bcast(on_root(comm, lambda: _read_index(folder), "reading the checkpoint"), root=0)
    if index is None:
        return None
    if index["ranks"] != comm.size:
        raise ParameterError(
            f"checkpoint written by {index['ranks']} ranks; this run has {comm.size}"
            " (restart it with the same number of MPI ranks)"
        )
    save = index["save"]
    arrays = on_all(
        comm,
        lambda: _read_rank_file(folder / save / f"rank{comm.rank}.npz", save),
        "reading its checkpoint file",
    )
    return arrays, index["record"]


# -- each rank ----------------------------------------------------------------


def _prepare(arrays: Mapping[str, npt.ArrayLike], record: Mapping[str, Any]) -> str:
    """Check the arrays and return the record as JSON text."""
    for name, value in arrays.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ParameterError(f"checkpoint array name {name!r} must be a Python identifier")
        dtype = np.asarray(value).dtype
        if dtype.hasobject:
            raise ParameterError(
                f"checkpoint array {name!r} has dtype {dtype}; object arrays cannot be saved"
                " without pickling"
            )
    if not isinstance(record, Mapping):
        raise ParameterError(f"checkpoint record must be a mapping, got {type(record).__name__}")
    try:
        return json.dumps(dict(record), default=_json_number)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"checkpoint record is not JSON-able: {err}") from None


def _json_number(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} value {value!r} is not JSON-able")


def _write_rank_file(path: Path, arrays: Mapping[str, npt.ArrayLike]) -> None:
    """Write one rank's arrays as an ``.npz`` file, atomically."""
    temporary = path.with_name(path.name + _TEMPORARY)
    try:
        with temporary.open("wb") as stream:
            # What numpy.savez does, without its keyword arguments clashing
            # with array names such as "file" or "allow_pickle".
            with zipfile.ZipFile(stream, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                for name, value in arrays.items():
                    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as err:
        _remove_quietly(temporary)
        raise OutputError(
            f"cannot write checkpoint file {path.parent.name}/{path.name}:"
            f" {OutputError.reason(err)}; {_KEPT}"
        ) from None


def _read_rank_file(path: Path, save: str) -> dict[str, npt.NDArray[Any]]:
    """Read one rank's arrays."""
    what = f"checkpoint file {save}/{path.name}"
    if not path.is_file():
        raise ParameterError(f"{what} is missing; the checkpoint folder was changed by hand")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
        reason = str(err).replace(str(path), path.name)
        raise ParameterError(f"{what} is corrupt: {type(err).__name__}: {reason}") from None


# -- rank 0 -------------------------------------------------------------------


def _saves(folder: Path) -> dict[int, Path]:
    """The save sub-folders by number."""
    found = {}
    for entry in folder.iterdir():
        match = _SAVE.match(entry.name)
        if match and entry.is_dir():
            found[int(match.group(1))] = entry
    return found


def _new_save(folder: Path) -> str:
    """Create the sub-folder of a new save, numbered after every existing one."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        number = max(_saves(folder), default=0) + 1
        name = f"save-{number:06d}"
        (folder / name).mkdir()
    except OSError as err:
        raise OutputError(
            "cannot create a checkpoint in the given checkpoint folder:"
            f" {OutputError.reason(err)}; {_KEPT}"
        ) from None
    return name


def _write_index(folder: Path, index: Mapping[str, Any]) -> None:
    """Replace the index atomically: the commit of a save."""
    path = folder / _INDEX
    temporary = folder / (_INDEX + _TEMPORARY)
    try:
        with temporary.open("w", encoding="utf-8") as stream:
            json.dump(index, stream, indent=1)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
        _sync_folder(folder)
    except OSError as err:
        _remove_quietly(temporary)
        raise OutputError(
            f"cannot write checkpoint index {_INDEX}: {OutputError.reason(err)}; {_KEPT}"
        ) from None


def _remove_quietly(path: Path) -> None:
    """Remove a temporary file if it is there (and the file system lets us)."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems refuse fsync on folders
        pass
    finally:
        os.close(descriptor)


def _remove_older(folder: Path, keep: str) -> None:
    """Remove every save but ``keep``: older ones and those of interrupted saves."""
    for path in _saves(folder).values():
        if path.name != keep:
            try:
                shutil.rmtree(path)
            except OSError as err:
                log.warning("could not remove old checkpoint %s: %s", path.name, err.strerror)


def _read_index(folder: Path) -> dict[str, Any] | None:
    """The index, checked, or ``None`` when there is none."""
    path = folder / _INDEX
    if not path.is_file():
        return None
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ParameterError(f"checkpoint index {_INDEX} is unreadable: {err}") from None
    valid = (
        isinstance(index, dict)
        and index.get("format") == _FORMAT
        and index.get("version") == _VERSION
        and isinstance(index.get("ranks"), int)
        and isinstance(index.get("save"), str)
        and _SAVE.match(index["save"]) is not None
        and isinstance(index.get("record"), dict)
    )
    if not valid:
        raise ParameterError(
            f"checkpoint index {_INDEX} is not an organfem checkpoint index of version"
            f" {_VERSION} (expected keys format, version, save, ranks, record)"
        )
    return index

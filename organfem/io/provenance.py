"""Provenance records: software versions, input hashes and parameters of a run.

A provenance record lets a reader of a results file reproduce and audit the
run that made it.  It records, and only records:

* the versions of organfem, DOLFINx, Basix, UFL, PETSc, petsc4py, JAX, NumPy
  and h5py, and of Python;
* the UTC time the record was made and the number of MPI ranks;
* the SHA-256 hash of each input file or folder (a DICOM series), under the
  name the caller gave it (see :func:`sha256_input`);
* the parameters the caller passed, serialised as JSON.

Privacy: no host name, user name or file path is recorded, and nothing is read
from the input files but their bytes for the hash.  The parameters are stored
verbatim, so callers must not put identifying patient information (names,
dates of birth, record numbers) in them; the input names are stored too, so
they should describe the role of the file (``"mesh"``, ``"image"``), not the
patient.  :func:`input_label` names an input in messages the same way: by
its role and the start of its hash (``"label map sha256:1a2b3c4d"``), never
by its path.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib
import json
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from organfem.errors import ParameterError

__all__ = ["input_label", "provenance", "sha256_file", "sha256_folder", "sha256_input"]

# Module whose ``__version__`` is recorded, by the key it is recorded under.
_VERSIONED_MODULES = {
    "dolfinx": "dolfinx",
    "basix": "basix",
    "ufl": "ufl",
    "petsc4py": "petsc4py",
    "jax": "jax",
    "numpy": "numpy",
    "h5py": "h5py",
}
_HASH_CHUNK_BYTES = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file's bytes.

    Args:
        path: The file to hash.

    Returns:
        The 64-character lower-case hexadecimal digest.

    Raises:
        ParameterError: If ``path`` is not an existing regular file.
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"input file {str(path)!r} does not exist or is not a regular file")
    return _sha256_bytes(path)


def sha256_folder(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a folder's contents (e.g. a DICOM series).

    The digest is the SHA-256 of the sorted SHA-256 hex digests of the
    contents of every regular file in the folder and its sub-folders, each
    digest followed by a newline (``"\\n"``)::

        sha256("".join(sorted(sha256(file bytes) + "\\n" for each file)))

    It depends on the files' bytes only: not on their names (which can
    identify a patient), their order of listing, their time stamps or the
    folder's layout, so the same series copied or renamed keeps its digest.
    A file listed twice (a link) counts twice; other entries (sockets,
    broken links) are skipped.

    Args:
        path: The folder to hash.

    Returns:
        The 64-character lower-case hexadecimal digest.

    Raises:
        ParameterError: If ``path`` is not a folder or holds no regular file.
            The message does not name the folder.
    """
    path = Path(path)
    if not path.is_dir():
        raise ParameterError("the input folder does not exist or is not a folder")
    digests = sorted(_sha256_bytes(p) for p in path.rglob("*") if p.is_file())
    if not digests:
        raise ParameterError("the input folder holds no files")
    return hashlib.sha256("".join(d + "\n" for d in digests).encode("ascii")).hexdigest()


def sha256_input(path: str | Path) -> str:
    """Return the SHA-256 hex digest of an input file (:func:`sha256_file`)
    or folder (:func:`sha256_folder`).

    Raises:
        ParameterError: If ``path`` is neither a regular file nor a folder
            holding one.  The message does not name the path.
    """
    path = Path(path)
    if path.is_dir():
        return sha256_folder(path)
    if not path.is_file():
        raise ParameterError("the input file or folder does not exist")
    return _sha256_bytes(path)


def input_label(path: str | Path, role: str) -> str:
    """Name an input in messages by its role and hash, never by its path.

    Example: ``input_label("DOE_JOHN/labels.nii.gz", "label map")`` gives
    ``"label map sha256:1a2b3c4d"``: the first 8 hex digits of
    :func:`sha256_input`, enough to tell inputs apart in a log and to match
    the full digest that results files record under ``inputs``.

    Raises:
        ParameterError: As :func:`sha256_input`, naming the role.
    """
    try:
        return f"{role} sha256:{sha256_input(path)[:8]}"
    except ParameterError as err:
        raise ParameterError(f"{role}: {err}") from None


def _sha256_bytes(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def provenance(
    parameters: Mapping[str, Any],
    inputs: Mapping[str, str | Path],
    *,
    mpi_size: int = 1,
) -> dict[str, str | int]:
    """Build the provenance record of a run.

    Not collective: it hashes files and imports modules on the calling rank
    only.  :class:`organfem.io.ResultsWriter` calls it on rank 0.

    Args:
        parameters: The run's parameters (material constants, loads, solver
            settings...).  Values must be JSON-serialisable; NumPy scalars and
            arrays and :class:`pathlib.Path` objects are converted.
        inputs: Input files or folders by role, e.g. ``{"mesh": "lv.h5",
            "dicom_series": "ct/"}``.  Only the role and the SHA-256 hash of
            the file (:func:`sha256_file`) or folder (:func:`sha256_folder`)
            are recorded, never the path.
        mpi_size: Number of MPI ranks of the run.

    Returns:
        A flat mapping of ``str`` keys to ``str`` or ``int`` values (HDF5
        attribute friendly): ``organfem``, ``dolfinx``, ``basix``, ``ufl``,
        ``petsc``, ``petsc4py``, ``jax``, ``numpy``, ``h5py`` and ``python``
        versions (``"not installed"`` where a package is missing),
        ``created_utc`` (ISO 8601), ``mpi_size``, ``parameters`` (JSON object)
        and ``inputs`` (JSON object mapping role to SHA-256 hex digest).

    Raises:
        ParameterError: If an input is missing (the message names its role,
            not its path), an input folder holds no file, a parameter cannot be
            serialised to JSON, or ``mpi_size`` is not positive.
    """
    if mpi_size < 1:
        raise ParameterError(f"mpi_size must be a positive integer, got {mpi_size!r}")
    record: dict[str, str | int] = {"organfem": _organfem_version()}
    for key, module in _VERSIONED_MODULES.items():
        record[key] = _module_version(module)
    record["petsc"] = _petsc_version()
    record["python"] = platform.python_version()
    record["created_utc"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    record["mpi_size"] = int(mpi_size)
    record["parameters"] = _parameters_json(parameters)
    hashes: dict[str, str] = {}
    for name, path in inputs.items():
        try:
            hashes[str(name)] = sha256_input(path)
        except ParameterError as err:
            raise ParameterError(f"input {name!r}: {err}") from None
    record["inputs"] = json.dumps(hashes, sort_keys=True)
    return record


def _organfem_version() -> str:
    import organfem

    return organfem.__version__


def _module_version(name: str) -> str:
    try:
        if name in ("dolfinx", "basix", "ufl", "petsc4py"):
            # DOLFINx and its companions load through the one module that
            # knows the import order (h5py before the DOLFINx wheel's HDF5).
            importlib.import_module("organfem._dolfinx")
        module = importlib.import_module(name)
    except ImportError:
        return "not installed"
    return str(getattr(module, "__version__", "unknown"))


def _petsc_version() -> str:
    try:
        from organfem._dolfinx import PETSc
    except ImportError:
        return "not installed"
    major, minor, patch = PETSc.Sys.getVersion()
    return f"{major}.{minor}.{patch}"


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"object of type {type(value).__name__} is not JSON serialisable")


def _parameters_json(parameters: Mapping[str, Any]) -> str:
    if not isinstance(parameters, Mapping):
        raise ParameterError(f"parameters must be a mapping, got {type(parameters).__name__}")
    for key, value in parameters.items():
        try:
            json.dumps(value, default=_json_default, allow_nan=True)
        except (TypeError, ValueError) as err:
            raise ParameterError(f"parameter {key!r} cannot be stored as JSON: {err}") from None
    try:
        return json.dumps(dict(parameters), default=_json_default, sort_keys=True)
    except TypeError as err:  # keys of mixed types cannot be sorted
        raise ParameterError(f"parameter names must be strings: {err}") from None

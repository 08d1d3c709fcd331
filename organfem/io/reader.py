"""Reading results files back: times, scalars and provenance, and each step's mesh.

Reading needs h5py, and VTK (through PyVista) for :meth:`Results.mesh`; it does
not import DOLFINx, so results can be read and rendered on machines without it.
The layout is described in :mod:`organfem.io._vtkhdf`.

The partial file of an unfinished run (``run.vtkhdf.partial``, see
:class:`organfem.io.ResultsWriter`) is read when it is asked for by name:
its complete steps are read, an incomplete last step is left out, and
:attr:`Results.unfinished` is true.  It may be read while the run is still
writing it (without HDF5 file locking: an older writer may hold a lock).
"""

from __future__ import annotations

import contextlib
import json
import os
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np
import numpy.typing as npt

from organfem.errors import MeshError, ParameterError
from organfem.io._vtkhdf import VTKHDF_VERSION, decode, file_layout

if TYPE_CHECKING:
    import pyvista

__all__ = ["Results", "read_results"]

_PARTIAL = ".partial"
"""Ending of the file a results writer writes before it finishes."""


@dataclass(frozen=True)
class Results:
    """A results file, read back.

    Attributes:
        path: The file.
        times: Time of each step, shape ``(S,)``.
        scalars: Per-step scalars by name, each of shape ``(S,)``.
        attributes: The provenance record as stored (``str`` and ``int``
            values; ``parameters`` and ``inputs`` are JSON text).
    """

    path: Path
    times: npt.NDArray[np.float64]
    scalars: Mapping[str, npt.NDArray[np.float64]]
    attributes: Mapping[str, str | int]

    @property
    def unfinished(self) -> bool:
        """Whether this is the partial file of a run that did not finish (or is running)."""
        return self.path.name.endswith(_PARTIAL)

    @property
    def parameters(self) -> dict[str, Any]:
        """The run's parameters, decoded from JSON (empty if none recorded)."""
        return json.loads(str(self.attributes.get("parameters", "{}")))

    @property
    def report(self) -> dict[str, Any]:
        """What the run's report shows, as the scenario declared it (empty if none)."""
        return json.loads(str(self.attributes.get("report", "{}")))

    @property
    def input_hashes(self) -> dict[str, str]:
        """SHA-256 hex digest of each input file by role."""
        return json.loads(str(self.attributes.get("inputs", "{}")))

    def mesh(self, step: int = -1) -> pyvista.UnstructuredGrid:
        """The mesh with one step's point, cell and static data.

        The step's scalars are attached as field data.

        Args:
            step: Step index; negative counts from the end.  Ignored for a
                file with no steps.

        Returns:
            The reference (undeformed) mesh carrying the step's arrays.

        Raises:
            ParameterError: If ``step`` is out of range.
            MeshError: If VTK cannot read the file.
        """
        import pyvista
        from vtkmodules.vtkIOHDF import vtkHDFReader

        num_steps = self.times.shape[0]
        if num_steps and not -num_steps <= step < num_steps:
            raise ParameterError(
                f"step {step} is out of range for {self.path}, which has {num_steps} steps"
            )
        errors: list[str] = []
        reader = vtkHDFReader()
        reader.AddObserver("ErrorEvent", lambda _obj, _event: errors.append("error"))
        reader.SetFileName(str(self.path))
        with _no_file_locking(self.unfinished):
            if num_steps:
                step %= num_steps
                ok = reader.UpdateTimeStep(float(self.times[step]))
            else:
                ok = reader.GetExecutive().Update()
        grid = pyvista.wrap(reader.GetOutput())
        if errors or not ok or not isinstance(grid, pyvista.UnstructuredGrid):
            raise MeshError(f"VTK could not read the unstructured grid in results file {self.path}")
        for name, values in self.scalars.items():
            if num_steps:
                grid.field_data[name] = values[step : step + 1]
        return grid


def read_results(path: str | Path) -> Results:
    """Open a results file written by :class:`organfem.io.ResultsWriter`.

    Reads times, scalars and provenance now; :meth:`Results.mesh` reads a
    step's fields on demand.  Not collective (call it on one rank or on all).

    Args:
        path: The ``.vtkhdf`` file, or the ``.vtkhdf.partial`` file of an
            unfinished run (its complete steps; see :attr:`Results.unfinished`).

    Returns:
        The file's :class:`Results`.

    Raises:
        MeshError: If the file is missing (naming the partial file when the
            run did not finish), not HDF5, or not a VTKHDF unstructured grid
            of major version 2.
    """
    path = Path(path)
    unfinished = path.name.endswith(_PARTIAL)
    if not path.is_file():
        partial = path.with_name(path.name + _PARTIAL)
        hint = (
            f"; the run did not finish (or is still running): {partial.name} holds the steps"
            " written so far, read it by that name"
            if not unfinished and partial.is_file()
            else ""
        )
        raise MeshError(f"results file {path} does not exist{hint}")
    try:
        # The writer of a partial file may still hold it open (an older one, locked).
        file = h5py.File(path, "r", locking=False) if unfinished else h5py.File(path, "r")
    except OSError as err:
        raise MeshError(f"results file {path} is not a readable HDF5 file: {err}") from None
    with file:
        root = file.get("VTKHDF")
        if not isinstance(root, h5py.Group):
            raise MeshError(f"results file {path} has no /VTKHDF group; it is not a VTKHDF file")
        kind = decode(root.attrs.get("Type", b""))
        version = tuple(int(v) for v in np.atleast_1d(root.attrs.get("Version", [0])))
        if kind != "UnstructuredGrid" or version[0] != VTKHDF_VERSION[0]:
            raise MeshError(
                f"results file {path} is a VTKHDF {kind or 'untyped'} file of version"
                f" {version}; expected an UnstructuredGrid of version {VTKHDF_VERSION[0]}.x"
            )
        try:
            times = np.asarray(root["Steps/Values"][()] if "Steps" in root else [], np.float64)
            scalar_group = file.get("organfem/scalars", {})
            scalars = {name: _frozen(scalar_group[name][()]) for name in scalar_group}
            organfem_group = file.get("organfem")
            attributes = (
                {k: decode(v) for k, v in organfem_group.attrs.items()} if organfem_group else {}
            )
            if unfinished and times.size:
                # Only complete steps: a killed writer may leave a last one half written.
                count = len(file_layout(file).times)
                times = times[:count]
                scalars = {name: _frozen(values[:count]) for name, values in scalars.items()}
        except (KeyError, ValueError, OSError) as err:
            state = " (the run may be writing it now: try again)" if unfinished else ""
            raise MeshError(f"results file {path} is incomplete or corrupt{state}: {err}") from None
    return Results(
        path=path,
        times=_frozen(times),
        scalars=types.MappingProxyType(scalars),
        attributes=types.MappingProxyType(attributes),
    )


@contextlib.contextmanager
def _no_file_locking(active: bool) -> Iterator[None]:
    """Without HDF5 file locking (VTK's HDF5 library reads the environment)."""
    if not active:
        yield
        return
    key = "HDF5_USE_FILE_LOCKING"
    before = os.environ.get(key)
    os.environ[key] = "FALSE"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def _frozen(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array = np.array(array)
    array.setflags(write=False)
    return array

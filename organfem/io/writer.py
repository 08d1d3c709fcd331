"""The results writer: a mesh, static fields and fields over time into one file.

The file is a VTKHDF file that ParaView and PyVista open directly, with the
provenance record and per-step scalars beside it (layout:
:mod:`organfem.io._vtkhdf`).  The writer is collective; rank 0 alone writes,
after the gather of :mod:`organfem.io._gather`.

Atomicity: everything is written to ``<path>.partial`` and moved onto ``path``
by :meth:`ResultsWriter.close`.  If the ``with`` block raises, the partial file
is left for inspection and ``path`` is not touched.  The file is flushed after
every step, so a run killed at any instant (even by ``SIGKILL``) leaves a
partial file holding every step written before; ``resume=True`` reopens it.
"""

from __future__ import annotations

import bisect
import os
import shutil
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import h5py  # before DOLFINx, see organfem._dolfinx
import numpy as np
import numpy.typing as npt

from organfem.errors import MeshError, ParameterError
from organfem.io._gather import GatherPlan, on_root
from organfem.io._vtkhdf import SUFFIXES, append_step, create_file, file_layout, truncate_steps
from organfem.io.provenance import provenance

if TYPE_CHECKING:
    from organfem._dolfinx import dolfinx

__all__ = ["ResultsWriter"]

_RESUMES = "resumes"  # provenance attribute: times a reopened file was changed

# A static field: a DOLFINx Function, a cell MeshTags, or ``(cells, values)``.
_StaticField = Any
_StepNames = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


class ResultsWriter:
    """Write a mesh, static fields and a time series of fields to a VTKHDF file.

    Use as a context manager; every method is collective over ``mesh.comm``::

        with ResultsWriter("run.vtkhdf", mesh, parameters=p, inputs={"mesh": f},
                           static={"fibre": f0, "region": cell_tags}) as out:
            for t in times:
                ...  # solve
                out.write(t, {"displacement": u}, {"pressure": p_lv})

    Point fields are Functions in continuous Lagrange spaces of any degree
    (scalar, vector or tensor); they are interpolated to P1 on the mesh and
    written as point data at the vertices.  Cell fields are DG0 Functions or
    cell tags, written as cell data.  Values of ``t`` and ``scalars`` are taken
    from rank 0.

    A run restarted from a checkpoint passes ``resume=True`` and drops the
    steps written after the checkpoint::

        with ResultsWriter("run.vtkhdf", mesh, ..., resume=True) as out:
            out.discard_after(t_checkpoint)
            for t in later_times:
                ...

    Args:
        path: Target file, ending in ``.vtkhdf`` (or ``.hdf``).  Its folder must
            exist.  An existing file is replaced on :meth:`close`.
        mesh: The mesh every field lives on (single cell type: interval,
            triangle, quadrilateral, tetrahedron or hexahedron).
        parameters: Run parameters, stored as JSON in the provenance record.
        inputs: Input files by role; their SHA-256 hashes are stored, never
            their paths (see :mod:`organfem.io.provenance`).
        static: Fields written once: Functions (as above), cell
            ``MeshTags``, or ``(cells, values)`` with local cell indices
            ``(n,)`` and values ``(n,)`` or ``(n, k)``; untagged cells get -1
            (integer values) or NaN.
        resume: Continue an earlier run's file instead of starting a new one:
            the partial file of an interrupted run if there is one, else the
            finished file at ``path`` (copied to the partial file, so that
            closing without new steps puts back the same content).  The
            file's steps, static arrays and provenance record are kept (the
            given ``parameters`` and ``inputs`` are not recorded again; the
            record's ``resumes`` attribute counts the resumed runs that
            changed the file), and an incomplete last step of a killed run
            is dropped.  With neither file present a new file is started.

    Raises:
        ParameterError: For a bad path, field, name or input file, or, on
            resume, a file whose mesh (number of points and cells, cell
            type) or static field names differ from this run's.
        MeshError: For a mesh of an unsupported or mixed cell type, or, on
            resume, a file that is not a readable results file.
    """

    def __init__(
        self,
        path: str | Path,
        mesh: dolfinx.mesh.Mesh,
        *,
        parameters: Mapping[str, Any] = types.MappingProxyType({}),
        inputs: Mapping[str, str | Path] = types.MappingProxyType({}),
        static: Mapping[str, _StaticField] = types.MappingProxyType({}),
        resume: bool = False,
    ) -> None:
        self._path = Path(path)
        if self._path.suffix not in SUFFIXES:
            raise ParameterError(
                f"results path {str(self._path)!r} must end in {' or '.join(SUFFIXES)}"
                " so that ParaView and PyVista recognise it"
            )
        if not self._path.parent.is_dir():
            raise ParameterError(f"folder of results path {str(self._path)!r} does not exist")
        self._partial = self._path.with_name(self._path.name + ".partial")
        self._mesh = mesh
        self._comm = mesh.comm
        self._plan = GatherPlan(mesh)
        self._p1_maps: dict[tuple[int, ...], tuple[Any, npt.NDArray[np.int32]]] = {}
        self._file: h5py.File | None = None
        self._closed = False
        self._step_names: _StepNames | None = None
        self._last_time = -np.inf
        self._times: list[float] = []
        self._unchanged_reopened = False  # a reopened file not yet changed by this run

        point_static: dict[str, npt.NDArray[Any]] = {}
        cell_static: dict[str, npt.NDArray[Any]] = {}
        for name, value in static.items():
            _check_name(name, "static field")
            if isinstance(value, tuple) or _is_meshtags(value):
                cell_static[name] = self._plan.gather_cells(self._tag_values(name, value))
            else:
                kind, local = self._local_values(name, value)
                gather = self._plan.gather_points if kind == "point" else self._plan.gather_cells
                (point_static if kind == "point" else cell_static)[name] = gather(local)
        self._static_names = (tuple(point_static), tuple(cell_static))

        def open_file() -> tuple[_StepNames | None, tuple[float, ...]] | None:
            if resume and self._partial.exists():
                return self._reopen(copied=False)
            if resume and self._path.exists():
                shutil.copyfile(self._path, self._partial)
                return self._reopen(copied=True)
            record = provenance(parameters, inputs, mpi_size=self._comm.size)
            self._file = create_file(
                self._partial,
                points=self._plan.points,
                connectivity=self._plan.connectivity,
                vtk_type=self._plan.vtk_type,
                record=record,
                point_static=point_static,
                cell_static=cell_static,
            )
            return None

        reopened = self._comm.bcast(
            on_root(self._comm, open_file, f"creating {self._partial}"), root=0
        )
        if reopened is not None:
            self._step_names, times = reopened
            self._times = list(times)
            self._last_time = self._times[-1] if self._times else -np.inf
            self._unchanged_reopened = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            # No collective call here: other ranks may not have raised.
            self._abandon()

    @property
    def path(self) -> Path:
        """The target path (the file appears there on :meth:`close`)."""
        return self._path

    @property
    def times(self) -> tuple[float, ...]:
        """Time of each step in the file, those of a resumed file included.  Not collective."""
        return tuple(self._times)

    def write(
        self,
        t: float,
        fields: Mapping[str, dolfinx.fem.Function],
        scalars: Mapping[str, float] = types.MappingProxyType({}),
    ) -> None:
        """Append a time step and flush the file.  Collective.

        Args:
            t: Time of the step; strictly greater than the previous step's.
            fields: Functions by name (Lagrange -> point data, DG0 -> cell
                data).  Every step must give the same names.
            scalars: Numbers for this step (e.g. cavity pressure in kPa,
                volume in mL), stored under ``/organfem/scalars/<name>``.
                Every step must give the same names.

        Raises:
            ParameterError: For a closed writer, a time not after the last,
                a changed set of names, or an unsupported Function.
        """
        if self._closed:
            raise ParameterError(f"results file {self._path} is already closed")
        t = float(t)
        if not np.isfinite(t) or t <= self._last_time:
            raise ParameterError(
                f"time {t!r} must be finite and greater than the previous step's"
                f" {self._last_time!r}"
            )
        point_local: dict[str, npt.NDArray[Any]] = {}
        cell_local: dict[str, npt.NDArray[Any]] = {}
        for name, function in fields.items():
            _check_name(name, "field")
            kind, local = self._local_values(name, function)
            (point_local if kind == "point" else cell_local)[name] = local
        names = (tuple(sorted(point_local)), tuple(sorted(cell_local)), tuple(sorted(scalars)))
        for name in names[2]:
            _check_name(name, "scalar")
        if self._step_names is None:
            clash = set(names[0] + names[1]) & set(self._static_names[0] + self._static_names[1])
            if clash:
                raise ParameterError(f"field names {sorted(clash)} are already static fields")
            self._step_names = names
        elif names != self._step_names:
            raise ParameterError(
                f"step at t={t!r} gives point fields {names[0]}, cell fields {names[1]} and"
                f" scalars {names[2]}; the first step gave {self._step_names[0]},"
                f" {self._step_names[1]} and {self._step_names[2]}"
            )
        point_data = {name: self._plan.gather_points(point_local[name]) for name in names[0]}
        cell_data = {name: self._plan.gather_cells(cell_local[name]) for name in names[1]}
        scalar_values = {name: float(scalars[name]) for name in names[2]}

        def append() -> None:
            assert self._file is not None
            self._count_resume()
            append_step(self._file, t, point_data, cell_data, scalar_values)

        on_root(self._comm, append, f"writing step t={t!r} to {self._partial}")
        self._unchanged_reopened = False
        self._last_time = t
        self._times.append(t)

    def discard_after(self, t: float) -> None:
        """Drop the steps later than ``t``.  Collective.

        A run restarted from a checkpoint at time ``t`` calls this before its
        first step: steps written after the checkpoint was saved are written
        again.  Dropping every step (``t`` before the first) lets the next
        step bring other field names.

        Args:
            t: Keep the steps with time ``<= t``; the same on every rank.

        Raises:
            ParameterError: For a closed writer or a ``t`` that is NaN.
        """
        if self._closed:
            raise ParameterError(f"results file {self._path} is already closed")
        t = float(t)
        if np.isnan(t):
            raise ParameterError("discard_after: time t must be a number, got nan")
        keep = bisect.bisect_right(self._times, t)
        if keep == len(self._times):
            return

        def truncate() -> None:
            assert self._file is not None
            self._count_resume()
            truncate_steps(self._file, keep)

        on_root(self._comm, truncate, f"discarding steps after t={t!r} from {self._partial}")
        self._unchanged_reopened = False
        del self._times[keep:]
        self._last_time = self._times[-1] if self._times else -np.inf
        if not self._times:
            self._step_names = None

    def close(self) -> None:
        """Finish the file and move it onto the target path.  Collective.

        Calling it again does nothing.
        """
        if self._closed:
            return
        self._closed = True

        def finish() -> None:
            assert self._file is not None
            self._file.close()
            os.replace(self._partial, self._path)

        on_root(self._comm, finish, f"closing {self._partial}")
        self._file = None

    def _abandon(self) -> None:
        self._closed = True
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- rank 0: reopening ----------------------------------------------------

    def _reopen(self, *, copied: bool) -> tuple[_StepNames | None, tuple[float, ...]]:
        """Reopen the partial file for a resumed run; return its step names and times."""
        name = self._partial.name  # never the folder (patient privacy)
        try:
            file = h5py.File(self._partial, "r+")
        except OSError as err:
            if copied:
                self._partial.unlink()
            reason = str(err).replace(str(self._partial), name)
            raise MeshError(
                f"cannot resume results file {name}: it is not a readable HDF5 file ({reason})"
            ) from None
        try:
            layout = file_layout(file)
            plan = self._plan
            ours = (plan.points.shape[0], plan.connectivity.shape[0], plan.vtk_type)
            theirs = (layout.num_points, layout.num_cells, layout.cell_type)
            if theirs[:2] != ours[:2] or (layout.num_cells and theirs[2] != ours[2]):
                raise ParameterError(
                    f"cannot resume results file {name}: its mesh has {theirs[0]} points and"
                    f" {theirs[1]} cells of VTK type {theirs[2]}; this run's mesh has"
                    f" {ours[0]} points and {ours[1]} cells of VTK type {ours[2]}"
                )
            if tuple(map(sorted, layout.static_names)) != tuple(map(sorted, self._static_names)):
                raise ParameterError(
                    f"cannot resume results file {name}: it has static point fields"
                    f" {sorted(layout.static_names[0])} and cell fields"
                    f" {sorted(layout.static_names[1])}; this run gives"
                    f" {sorted(self._static_names[0])} and {sorted(self._static_names[1])}"
                )
            truncate_steps(file, len(layout.times))  # an incomplete last step
        except ParameterError:
            file.close()
            if copied:
                self._partial.unlink()
            raise
        except (KeyError, ValueError, OSError) as err:
            file.close()
            if copied:
                self._partial.unlink()
            reason = str(err).replace(str(self._partial), name)
            raise MeshError(
                f"cannot resume results file {name}: it is not a complete results file ({reason})"
            ) from None
        self._file = file
        return (layout.step_names if layout.times else None), layout.times

    def _count_resume(self) -> None:
        """On rank 0, before the first change to a reopened file: count the resume."""
        if self._unchanged_reopened:
            assert self._file is not None
            attrs = self._file["organfem"].attrs
            attrs[_RESUMES] = np.int64(int(attrs.get(_RESUMES, 0)) + 1)

    # -- local values -------------------------------------------------------

    def _local_values(self, name: str, function: Any) -> tuple[str, npt.NDArray[Any]]:
        """Values of a Function on this rank's owned points or cells."""
        from organfem._dolfinx import dolfinx

        if not isinstance(function, dolfinx.fem.Function):
            raise ParameterError(
                f"field {name!r} must be a dolfinx.fem.Function, got {type(function).__name__}"
            )
        space = function.function_space
        if space.mesh is not self._mesh:
            raise ParameterError(f"field {name!r} lives on another mesh than the results file's")
        element = space.ufl_element()
        if np.iscomplexobj(function.x.array):
            raise ParameterError(f"field {name!r} is complex; results files hold real fields")
        if element.is_mixed or element.is_quadrature or element.is_symmetric:
            raise ParameterError(
                f"field {name!r}: mixed, quadrature and symmetric-tensor spaces cannot be written;"
                " interpolate to a Lagrange or DG0 space first"
            )
        family = element.basix_element.family
        shape = tuple(int(n) for n in space.value_shape)
        if family == _lagrange_family() and element.degree == 0:
            bs = space.dofmap.bs
            dofs = space.dofmap.list[: self._plan.num_cells_owned, 0]
            return "cell", _vtk_components(function.x.array.reshape(-1, bs)[dofs])
        if family == _lagrange_family() and not element.discontinuous:
            space1, node_to_dof = self._p1(shape)
            p1 = dolfinx.fem.Function(space1)
            p1.interpolate(function)
            p1.x.scatter_forward()
            bs = space1.dofmap.bs
            values = p1.x.array.reshape(-1, bs)[node_to_dof[self._plan.owned_vertex_nodes]]
            return "point", _vtk_components(values)
        raise ParameterError(
            f"field {name!r} is in a {element.family_name} space of degree {element.degree}"
            f"{' (discontinuous)' if element.discontinuous else ''}; results files take"
            " continuous Lagrange (written at vertices) or DG0 (written per cell)"
        )

    def _p1(self, shape: tuple[int, ...]) -> tuple[Any, npt.NDArray[np.int32]]:
        """P1 space of the given value shape and its geometry-node -> dof map."""
        if shape not in self._p1_maps:
            from organfem._dolfinx import dolfinx

            space = dolfinx.fem.functionspace(self._mesh, ("Lagrange", 1, shape))
            nv = self._plan.vertices_per_cell
            node_to_dof = np.full(self._plan.num_nodes_local, -1, dtype=np.int32)
            # P1 dof i and geometry node i of a cell both sit at reference vertex i.
            node_to_dof[self._plan.cell_nodes[:, :nv]] = space.dofmap.list[:, :nv]
            self._p1_maps[shape] = (space, node_to_dof)
        return self._p1_maps[shape]

    def _tag_values(self, name: str, tags: Any) -> npt.NDArray[Any]:
        """Per-owned-cell values of cell tags, -1 or NaN where untagged."""
        if _is_meshtags(tags):
            if tags.dim != self._plan.tdim:
                raise ParameterError(
                    f"static field {name!r} tags entities of dimension {tags.dim}; only cell"
                    f" tags (dimension {self._plan.tdim}) can be written as cell data"
                )
            indices, values = tags.indices, tags.values
        elif len(tags) == 2:
            indices, values = (np.asarray(a) for a in tags)
        else:
            raise ParameterError(
                f"static field {name!r} must be (cells, values), got a tuple of length {len(tags)}"
            )
        if indices.ndim != 1 or values.shape[:1] != indices.shape or not np.issubdtype(
            indices.dtype, np.integer
        ):
            raise ParameterError(
                f"static field {name!r}: cells must be integer (n,) and values (n,) or (n, k),"
                f" got shapes {indices.shape} and {values.shape}"
            )
        fill = -1 if np.issubdtype(values.dtype, np.integer) else np.nan
        dtype = values.dtype if np.issubdtype(values.dtype, np.integer) else np.float64
        out = np.full((self._plan.num_cells_owned, *values.shape[1:]), fill, dtype=dtype)
        owned = indices < self._plan.num_cells_owned
        out[indices[owned]] = values[owned]
        return out


def _check_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not name or "/" in name or name == ".":
        raise ParameterError(f"{what} name {name!r} must be a non-empty string without '/'")


def _is_meshtags(value: Any) -> bool:
    return all(hasattr(value, a) for a in ("dim", "indices", "values")) and not isinstance(
        value, tuple
    )


def _lagrange_family() -> Any:
    from organfem._dolfinx import basix

    return basix.ElementFamily.P


def _vtk_components(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Rows of VTK components from rows of flattened values ``(n, bs)``.

    Scalars become ``(n,)``; 2D vectors are padded with a zero z component,
    since VTK (warping, glyphs) expects 3; tensors stay flattened row by row,
    as VTK expects (xx, xy, xz, yx, ...).
    """
    if values.shape[1] == 1:
        return values[:, 0]
    if values.shape[1] == 2:
        return np.hstack([values, np.zeros_like(values[:, :1])])
    return values

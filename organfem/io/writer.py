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

Write faults: a full disk, an exceeded quota or file size limit, a folder
that is not writable or a folder in the way end in an
:class:`~organfem.errors.OutputError` naming the file (never its folder),
not in a crash.  HDF5 does not survive a write that fails for want of space:
the failed flush crashes the process (segmentation fault, h5py issue 914).
So HDF5 never writes to the disk itself here: it writes through a file
object (h5py's ``fileobj`` driver, :class:`_GuardedFile`) that keeps in
memory what the disk refuses, and reports success.  Rank 0 also holds a
reserve beside the partial file (``.<name>.partial.reserve``, twice the
largest step and at least 4 MiB) and checks the free space and the file size
limit before each step.  When a write fails all the same, the writer deletes
the reserve, lets HDF5 close the file, writes what was kept in memory into
the room the reserve left, and raises: the partial file is complete, with
every step written, and a resumed run continues it.  The file is created in
memory and copied to disk with plain file I/O.  A run killed with SIGKILL
leaves the reserve file; the next run on the same path reuses it.
"""

from __future__ import annotations

import bisect
import errno
import io
import json
import logging
import os
import shutil
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import h5py  # before DOLFINx, see organfem._dolfinx
import numpy as np
import numpy.typing as npt

from organfem.errors import MeshError, OutputError, ParameterError
from organfem.io._gather import GatherPlan, on_root
from organfem.io._vtkhdf import SUFFIXES, append_step, create_file, file_layout, truncate_steps
from organfem.io.provenance import provenance

if TYPE_CHECKING:
    from organfem._dolfinx import dolfinx

__all__ = ["ResultsWriter"]

log = logging.getLogger(__name__)

_RESUMES = "resumes"  # provenance attribute: times a reopened file was changed
_RESERVE_MIN = 4 << 20  # bytes held back for HDF5 to close a file on a full disk
_HDF5_OVERHEAD = 1 << 20  # bytes of metadata a step may add, beyond its arrays

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
            exist.  An existing file is replaced on :meth:`close`, never
            before: if the run fails or is interrupted, it is intact.
        mesh: The mesh every field lives on (single cell type: interval,
            triangle, quadrilateral, tetrahedron or hexahedron).
        parameters: Run parameters, stored as JSON in the provenance record.
        inputs: Input files by role; their SHA-256 hashes are stored, never
            their paths (see :mod:`organfem.io.provenance`).
        static: Fields written once: Functions (as above), cell
            ``MeshTags``, or ``(cells, values)`` with local cell indices
            ``(n,)`` and values ``(n,)`` or ``(n, k)``; untagged cells get -1
            (integer values) or NaN.
        report: What a report of this run shows (JSON-serialisable; see
            :class:`organfem.report.ReportSpec`), stored as the ``report``
            attribute, so that ``organfem report`` needs only this file.
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
        OutputError: Here or from any method, when the file cannot be
            written: a folder in the way, no permission, a full disk or
            quota, a file size limit.  Steps written before stay in the
            partial file; ``path`` is untouched.
    """

    def __init__(
        self,
        path: str | Path,
        mesh: dolfinx.mesh.Mesh,
        *,
        parameters: Mapping[str, Any] = types.MappingProxyType({}),
        inputs: Mapping[str, str | Path] = types.MappingProxyType({}),
        static: Mapping[str, _StaticField] = types.MappingProxyType({}),
        report: Mapping[str, Any] | None = None,
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
        for target in (self._path, self._partial):
            if target.is_dir():
                raise OutputError(
                    f"cannot write results file {target.name}: a folder of that name is in the"
                    " way; choose another name or move the folder"
                )
        self._reserve = _Reserve(self._partial.with_name(f".{self._partial.name}.reserve"))
        self._mesh = mesh
        self._comm = mesh.comm
        self._plan = GatherPlan(mesh)
        self._p1_maps: dict[tuple[int, ...], tuple[Any, npt.NDArray[np.int32]]] = {}
        self._file: h5py.File | None = None
        self._guard: _GuardedFile | None = None
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
            size = sum(a.nbytes for a in (*point_static.values(), *cell_static.values()))
            size += self._plan.points.nbytes + self._plan.connectivity.nbytes * 2
            # The mesh is written with plain file I/O: the reserve is for the steps.
            self._make_room(size, "opening" if resume else "creating", reserve=_RESERVE_MIN)
            if resume and self._partial.exists():
                return self._reopen(copied=False)
            if resume and self._path.exists():
                try:
                    shutil.copyfile(self._path, self._partial)
                except OSError as err:
                    self._partial.unlink(missing_ok=True)
                    self._reserve.release()
                    raise OutputError(
                        f"cannot resume results file {self._path.name}: copying it to"
                        f" {self._partial.name} failed: {OutputError.reason(err)};"
                        f" {self._path.name} is unchanged"
                    ) from None
                return self._reopen(copied=True)
            record = provenance(parameters, inputs, mpi_size=self._comm.size)
            if report is not None:
                try:
                    record["report"] = json.dumps(report, sort_keys=True)
                except (TypeError, ValueError) as err:
                    raise ParameterError(f"report: cannot be stored as JSON: {err}") from None
            # Built in memory, written with plain file I/O (a failure there
            # is an ordinary OSError), then reopened for the steps.
            image = io.BytesIO()
            create_file(
                image,
                points=self._plan.points,
                connectivity=self._plan.connectivity,
                vtk_type=self._plan.vtk_type,
                record=record,
                point_static=point_static,
                cell_static=cell_static,
            ).close()
            try:
                with open(self._partial, "wb") as stream:
                    stream.write(image.getbuffer())
                self._guard = _GuardedFile(self._partial)
            except OSError as err:
                self._partial.unlink(missing_ok=True)
                self._reserve.release()
                raise OutputError(
                    f"cannot create results file {self._partial.name}: {OutputError.reason(err)};"
                    f" {self._path.name}, if there is one, is unchanged"
                ) from None
            self._file = h5py.File(self._guard, "r+")
            return None

        reopened = self._comm.bcast(
            on_root(self._comm, open_file, f"creating {self._partial.name}"), root=0
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
            self._abandon(exc)

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
            raise ParameterError(f"results file {self._path.name} is already closed")
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
            size = sum(a.nbytes for a in (*point_data.values(), *cell_data.values()))
            self._make_room(2 * size + 8 * len(scalar_values), f"writing step t = {t!r} to")
            self._count_resume()
            append_step(self._file, t, point_data, cell_data, scalar_values)
            self._check(f"while writing step t = {t!r}", t)

        on_root(self._comm, append, f"writing step t={t!r} to {self._partial.name}")
        self._unchanged_reopened = False
        self._last_time = t
        self._times.append(t)

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        """Store a JSON summary of the run (clinical metrics, say) as the
        ``summary`` attribute of ``/organfem``, replacing an earlier one.
        Collective; the value is taken from rank 0.

        Raises:
            ParameterError: if ``summary`` cannot be stored as JSON.
        """
        if self._closed:
            raise ParameterError(f"results file {self._path.name} is already closed")
        text = None
        if self._comm.rank == 0:
            try:
                text = json.dumps(summary, sort_keys=True, allow_nan=False)
            except (TypeError, ValueError) as err:
                text = err
        text = self._comm.bcast(text, root=0)
        if not isinstance(text, str):
            raise ParameterError(f"summary: cannot be stored as JSON: {text}")

        def store() -> None:
            assert self._file is not None
            self._file["organfem"].attrs["summary"] = text
            self._file.flush()
            self._check("while writing the summary to")

        on_root(self._comm, store, f"writing the summary to {self._partial.name}")
        self._unchanged_reopened = False

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
            raise ParameterError(f"results file {self._path.name} is already closed")
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
            self._check(f"while dropping the steps after t = {t!r}")

        on_root(self._comm, truncate, f"discarding steps after t={t!r} from {self._partial.name}")
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
            error, left = self._close_file()
            if error is not None:
                raise OutputError(self._fault(error, left, "while finishing it"))
            try:
                os.replace(self._partial, self._path)
            except OSError as err:
                raise OutputError(
                    f"results file {self._partial.name} is complete but cannot be moved onto"
                    f" {self._path.name}: {OutputError.reason(err)}; rename it by hand"
                ) from None

        on_root(self._comm, finish, f"closing {self._partial.name}")
        self._file = None

    def _abandon(self, interrupt: BaseException | None = None) -> None:
        self._closed = True
        error, left = self._close_file()
        if error is not None:
            log.warning("%s", self._fault(error, left, "while closing it after an error"))
        if isinstance(interrupt, KeyboardInterrupt) and self._comm.rank == 0:
            count = len(self._times)
            interrupt.add_note(
                f"results so far: {count} step{'s' if count != 1 else ''} in {self._partial.name}"
            )

    # -- rank 0: room on the disk and write faults ----------------------------

    def _make_room(self, size: int, doing: str, reserve: int | None = None) -> None:
        """Check the free space and file size limit for ``size`` more bytes; grow the reserve
        to ``reserve`` bytes (default: twice what a write of ``size`` bytes may need).

        Raises:
            OutputError: If the disk, the quota or the file size limit
                leaves too little room; nothing has been written.
        """
        need = size + _HDF5_OVERHEAD
        written = self._partial.stat().st_size if self._partial.exists() else 0
        limit = _file_size_limit()
        problem = None
        if limit is not None and written + need > limit:
            problem = (
                f"the file would exceed the largest file size allowed ({limit / 2**20:.3g} MiB,"
                " the shell's `ulimit -f` or a file system limit)"
            )
        else:
            try:
                free = _free_bytes(self._partial.parent)
            except OSError:
                free = None
            if free is not None and free < need:
                problem = (
                    f"the disk is full ({free / 2**20:.3g} MiB free, about"
                    f" {need / 2**20:.3g} MiB needed)"
                )
        if problem is None:
            reserve = max(_RESERVE_MIN, 2 * need) if reserve is None else reserve
            if limit is not None:  # the reserve is a file too
                reserve = min(reserve, limit // 2)
            try:
                self._reserve.ensure(reserve)
            except OSError as err:
                self._reserve.release()
                problem = OutputError.reason(err)
        if problem is not None:
            raise OutputError(f"{self._stopped(doing)}: {problem}. {self._kept()}")

    def _check(self, doing: str, t: float | None = None) -> None:
        """After HDF5 wrote: if the disk refused a write, finish the file and raise.

        Raises:
            OutputError: If a write failed; the file is closed, complete (with
                the step ``t`` being written, if any) unless writing what was
                left failed too.
        """
        assert self._guard is not None
        if self._guard.error is None:
            return
        self._closed = True
        error, left = self._close_file()
        if left is None and t is not None:
            self._times.append(t)  # HDF5 finished the step: it is in the file
        raise OutputError(self._fault(error, left, doing))

    def _close_file(self) -> tuple[OSError | None, OSError | None]:
        """Close the HDF5 file and the partial file; release the reserve.

        Returns:
            The error of a write the disk refused, if any, and the error of
            writing what was kept in memory after it, if that failed too.
        """
        file, guard = self._file, self._guard
        self._file = self._guard = None
        error = left = None
        try:
            if file is not None:
                file.close()  # cannot fail on the disk: the guard keeps refused writes
        finally:
            if guard is not None:
                error = guard.error
                if error is not None:
                    self._reserve.release()  # the room for what was kept in memory
                    try:
                        guard.commit()
                    except OSError as err:
                        left = err
                guard.close()
            self._reserve.release()
        return error, left

    def _fault(self, error: OSError, left: OSError | None, doing: str) -> str:
        """The message of a write the disk refused."""
        partial, path = self._partial.name, self._path.name
        head = f"results file {partial}: {OutputError.reason(error)} {doing}"
        if left is not None:
            return (
                f"{head}, and writing what HDF5 had left failed too"
                f" ({OutputError.reason(left)}): {partial} may be damaged; {path}, if there is"
                " one, is unchanged"
            )
        return f"{head}; the room held in reserve let HDF5 finish the file. {self._kept()}"

    def _stopped(self, doing: str) -> str:
        return f"stopped before {doing} results file {self._partial.name}"

    def _kept(self) -> str:
        if self._file is None and not self._partial.exists():
            return f"Nothing was written; {self._path.name}, if there is one, is unchanged"
        count = len(self._times)
        if not count:
            return f"No step was written; {self._path.name}, if there is one, is unchanged"
        return (
            f"The {count} step{'s' if count != 1 else ''} written are in {self._partial.name}"
            f" (a resumed run continues it); {self._path.name}, if there is one, is unchanged"
        )

    # -- rank 0: reopening ----------------------------------------------------

    def _reopen(self, *, copied: bool) -> tuple[_StepNames | None, tuple[float, ...]]:
        """Reopen the partial file for a resumed run; return its step names and times."""
        name = self._partial.name  # never the folder (patient privacy)
        try:
            guard = _GuardedFile(self._partial)
        except OSError as err:
            self._reserve.release()
            if copied:
                self._partial.unlink(missing_ok=True)
            raise OutputError(
                f"cannot resume results file {name}: {OutputError.reason(err)}"
            ) from None
        try:
            file = h5py.File(guard, "r+")
        except OSError as err:
            guard.close()
            self._reserve.release()
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
            self._file, self._guard = file, guard
            self._close_file()
            if copied:
                self._partial.unlink()
            raise
        except (KeyError, ValueError, OSError) as err:
            self._file, self._guard = file, guard
            self._close_file()
            if copied:
                self._partial.unlink()
            reason = str(err).replace(str(self._partial), name)
            raise MeshError(
                f"cannot resume results file {name}: it is not a complete results file ({reason})"
            ) from None
        self._file, self._guard = file, guard
        self._check("while dropping an incomplete last step")
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


class _Reserve:
    """A file of disk space held back (rank 0), deleted when HDF5 needs the room."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self._made = False  # by this process: other ranks never touch it

    def ensure(self, size: int) -> None:
        """Grow the reserve to ``size`` bytes of allocated disk space."""
        if size <= self.size:
            return
        self._made = True
        with open(self.path, "ab") as stream:
            allocate = getattr(os, "posix_fallocate", None)  # not on macOS
            try:
                if allocate is None:
                    raise OSError(errno.EOPNOTSUPP, "posix_fallocate is not available")
                allocate(stream.fileno(), 0, size)
            except OSError as err:  # not supported here: write zeros
                if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                    raise
                zeros = bytes(1 << 20)
                for _ in range(stream.tell(), size, len(zeros)):
                    stream.write(zeros)
                stream.flush()
                os.fsync(stream.fileno())
        self.size = size

    def release(self) -> None:
        if not self._made:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError:  # e.g. a read-only file system: there was no reserve
            pass
        self.size = 0


def _free_bytes(folder: Path) -> int | None:
    """Bytes an unprivileged user may still write in ``folder`` (None if unknown)."""
    if not hasattr(os, "statvfs"):
        return None
    stat = os.statvfs(folder)
    return stat.f_bavail * stat.f_frsize


def _file_size_limit() -> int | None:
    """The process's file size limit in bytes (``ulimit -f``), None if unlimited."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY else int(soft)


class _GuardedFile(io.RawIOBase):
    """The partial file as HDF5 sees it (h5py's ``fileobj`` driver), on rank 0.

    Reads and writes go straight to the file (unbuffered, so every flushed
    step is in the operating system's hands).  Once the disk refuses a write
    (full, quota, I/O error), this and every later write and truncation are
    kept in memory instead and reported to HDF5 as done, reads see them, and
    :attr:`error` holds the refusal; :meth:`commit` writes them out later.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._stream = open(path, "r+b", buffering=0)  # noqa: SIM115 - closed by close()
        self._fd = self._stream.fileno()
        self._pos = 0
        self.error: OSError | None = None
        self._kept: list[tuple[int, bytes]] = []
        self._size: int | None = None  # the file's size as HDF5 sees it, after a refusal

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def _end(self) -> int:
        return os.fstat(self._fd).st_size if self._size is None else self._size

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        start = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos}.get(whence)
        self._pos = (self._end() if start is None else start) + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = os.pread(self._fd, len(view), self._pos)
        view[: len(data)] = data
        count = len(data)
        if self._kept:
            view[len(data) :] = bytes(len(view) - len(data))
            for offset, chunk in self._kept:
                low = max(offset, self._pos)
                high = min(offset + len(chunk), self._pos + len(view))
                if low < high:
                    view[low - self._pos : high - self._pos] = chunk[low - offset : high - offset]
                    count = max(count, high - self._pos)
            count = max(0, min(count, self._end() - self._pos))
        self._pos += count
        return count

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self.error is None:
            done = 0
            try:
                while done < len(view):
                    done += os.pwrite(self._fd, view[done:], self._pos + done)
            except OSError as err:
                self.error = err
                self._size = max(os.fstat(self._fd).st_size, self._pos + done)
        if self.error is not None:
            self._kept.append((self._pos, bytes(view)))
            assert self._size is not None
            self._size = max(self._size, self._pos + len(view))
        self._pos += len(view)
        return len(view)

    def truncate(self, size: int | None = None) -> int:
        size = self._pos if size is None else size
        if self.error is None:
            try:
                os.ftruncate(self._fd, size)
            except OSError as err:
                self.error = err
        if self.error is not None:
            self._size = size
        return size

    def flush(self) -> None:
        pass  # unbuffered

    def commit(self) -> None:
        """Write what was kept in memory, in order; raise OSError if the disk refuses again."""
        for offset, chunk in self._kept:
            view, done = memoryview(chunk), 0
            while done < len(view):
                done += os.pwrite(self._fd, view[done:], offset + done)
        if self._size is not None:
            os.ftruncate(self._fd, self._size)
        self._kept.clear()
        self._size = None

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()

"""Results files: fields over time, scalars and provenance in one VTKHDF file.

A results file is a VTKHDF file (VTK's HDF5 format, version 2.2, type
``UnstructuredGrid`` with the temporal ``Steps`` group) that ParaView 5.12+ and
PyVista open directly, plus an ``/organfem`` group that VTK ignores::

    /VTKHDF                    attrs Version=[2, 2], Type="UnstructuredGrid"
        NumberOfPoints (1,)  NumberOfCells (1,)  NumberOfConnectivityIds (1,)
        Points (P, 3)  Connectivity (C*V,)  Offsets (C+1,)  Types (C,)
        PointData/<name>       (S*P, k) temporal, (P, k) static
        CellData/<name>        (S*C, k) temporal, (C, k) static
        Steps                  attr NSteps=S; Values (S,) the times;
                               PartOffsets, NumberOfParts, PointOffsets,
                               CellOffsets, ConnectivityIdOffsets (S,);
                               PointDataOffsets/<name>, CellDataOffsets/<name> (S,)
    /organfem                  attrs: the provenance record
        scalars/<name>         (S,) one value per step (pressure, volume...)

The mesh is written once, as linear cells over the vertex nodes of the mesh
geometry, in the order of the input mesh (``input_global_indices`` for points,
``original_cell_index`` for cells), so a file written under ``mpirun`` lists
points and cells in the same order as a serial run.  Static arrays are written
once and every step points at them (offset 0), as the format allows.

MPI: the writer is collective.  h5py here is built without MPI, so every rank
sends its owned part to rank 0 (``mpi4py`` gathers) and rank 0 alone writes.
Rank 0 therefore holds the whole linear mesh and one gathered field at a time
(8 bytes per point and component): fine for millions of points, and the limit
to lift with a parallel HDF5 build when meshes outgrow one node.

Atomicity: everything is written to ``<path>.partial`` and moved onto ``path``
by :meth:`ResultsWriter.close`.  If the ``with`` block raises, the partial file
is left for inspection and ``path`` is not touched.
"""

from __future__ import annotations

import json
import os
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import h5py  # before DOLFINx, see organfem._dolfinx
import numpy as np
import numpy.typing as npt

from organfem.errors import MeshError, OrganfemError, ParameterError
from organfem.io.provenance import provenance

if TYPE_CHECKING:
    import pyvista

    from organfem._dolfinx import dolfinx

__all__ = ["VTKHDF_VERSION", "Results", "ResultsWriter", "read_results"]

VTKHDF_VERSION = (2, 2)
"""VTKHDF format version written: temporal data (2.0), groups outside /VTKHDF (2.2)."""

_SUFFIXES = (".vtkhdf", ".hdf")
# VTK linear cell type ids and vertex counts by DOLFINx cell name.
_VTK_CELLS = {
    "interval": (3, 2),
    "triangle": (5, 3),
    "quadrilateral": (9, 4),
    "tetrahedron": (10, 4),
    "hexahedron": (12, 8),
}
_CHUNK_ROWS = 1 << 16
_INT = np.int64

# A static field: a DOLFINx Function, a cell MeshTags, or ``(cells, values)``.
_StaticField = Any


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

    Raises:
        ParameterError: For a bad path, field, name or input file.
        MeshError: For a mesh of an unsupported or mixed cell type.
    """

    def __init__(
        self,
        path: str | Path,
        mesh: dolfinx.mesh.Mesh,
        *,
        parameters: Mapping[str, Any] = types.MappingProxyType({}),
        inputs: Mapping[str, str | Path] = types.MappingProxyType({}),
        static: Mapping[str, _StaticField] = types.MappingProxyType({}),
    ) -> None:
        self._path = Path(path)
        if self._path.suffix not in _SUFFIXES:
            raise ParameterError(
                f"results path {str(self._path)!r} must end in {' or '.join(_SUFFIXES)}"
                " so that ParaView and PyVista recognise it"
            )
        if not self._path.parent.is_dir():
            raise ParameterError(f"folder of results path {str(self._path)!r} does not exist")
        self._partial = self._path.with_name(self._path.name + ".partial")
        self._mesh = mesh
        self._comm = mesh.comm
        self._plan = _GatherPlan(mesh)
        self._p1_maps: dict[tuple[int, ...], tuple[Any, npt.NDArray[np.int32]]] = {}
        self._file: h5py.File | None = None
        self._closed = False
        self._step_names: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None = None
        self._last_time = -np.inf

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

        def create() -> h5py.File:
            record = provenance(parameters, inputs, mpi_size=self._comm.size)
            return self._create_file(record, point_static, cell_static)

        self._file = _on_root(self._comm, create, f"creating {self._partial}")

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

    def write(
        self,
        t: float,
        fields: Mapping[str, dolfinx.fem.Function],
        scalars: Mapping[str, float] = types.MappingProxyType({}),
    ) -> None:
        """Append a time step.  Collective.

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
        _on_root(
            self._comm,
            lambda: self._append_step(t, point_data, cell_data, scalar_values),
            f"writing step t={t!r} to {self._partial}",
        )
        self._last_time = t

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

        _on_root(self._comm, finish, f"closing {self._partial}")
        self._file = None

    def _abandon(self) -> None:
        self._closed = True
        if self._file is not None:
            self._file.close()
            self._file = None

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

    # -- rank 0: the file ---------------------------------------------------

    def _create_file(
        self,
        record: Mapping[str, str | int],
        point_static: Mapping[str, npt.NDArray[Any]],
        cell_static: Mapping[str, npt.NDArray[Any]],
    ) -> h5py.File:
        plan = self._plan
        file = h5py.File(self._partial, "w")
        root = file.create_group("VTKHDF")
        root.attrs["Version"] = np.asarray(VTKHDF_VERSION, dtype=_INT)
        root.attrs["Type"] = np.bytes_(b"UnstructuredGrid")
        num_cells = plan.connectivity.shape[0]
        root.create_dataset("NumberOfPoints", data=np.asarray([plan.points.shape[0]], dtype=_INT))
        root.create_dataset("NumberOfCells", data=np.asarray([num_cells], dtype=_INT))
        root.create_dataset(
            "NumberOfConnectivityIds", data=np.asarray([plan.connectivity.size], dtype=_INT)
        )
        root.create_dataset("Points", data=plan.points)
        root.create_dataset("Connectivity", data=plan.connectivity.ravel())
        offsets = np.arange(num_cells + 1, dtype=_INT) * plan.vertices_per_cell
        root.create_dataset("Offsets", data=offsets)
        root.create_dataset("Types", data=np.full(num_cells, plan.vtk_type, dtype=np.uint8))
        point_group = root.create_group("PointData")
        cell_group = root.create_group("CellData")
        root.create_group("FieldData")
        for name, values in point_static.items():
            point_group.create_dataset(name, data=values)
        for name, values in cell_static.items():
            cell_group.create_dataset(name, data=values)
        organfem_group = file.create_group("organfem")
        for key, value in record.items():
            organfem_group.attrs[key] = value
        organfem_group.create_group("scalars")
        file.flush()
        return file

    def _append_step(
        self,
        t: float,
        point_data: Mapping[str, npt.NDArray[Any]],
        cell_data: Mapping[str, npt.NDArray[Any]],
        scalars: Mapping[str, float],
    ) -> None:
        assert self._file is not None
        root = self._file["VTKHDF"]
        scalar_group = self._file["organfem/scalars"]
        if "Steps" not in root:
            _create_steps(root, point_data, cell_data)
            for name in scalars:
                scalar_group.create_dataset(name, **_growing((), np.float64))
        steps = root["Steps"]
        for group_name, data_group, temporal in (
            ("PointDataOffsets", "PointData", point_data),
            ("CellDataOffsets", "CellData", cell_data),
        ):
            for name in root[data_group]:
                offset = 0
                if name in temporal:
                    offset = _append(root[data_group][name], temporal[name])
                _append(steps[group_name][name], np.asarray([offset], dtype=_INT))
        for name, value in scalars.items():
            _append(scalar_group[name], np.asarray([value]))
        # A single mesh for every step: one part, read from the start.
        for key in _STEP_INDEX_DATASETS:
            _append(steps[key], np.asarray([1 if key == "NumberOfParts" else 0], dtype=_INT))
        _append(steps["Values"], np.asarray([t]))
        steps.attrs["NSteps"] = _INT(steps["Values"].shape[0])
        self._file.flush()


_STEP_INDEX_DATASETS = (
    "PartOffsets",
    "NumberOfParts",
    "PointOffsets",
    "CellOffsets",
    "ConnectivityIdOffsets",
)


def _growing(row_shape: tuple[int, ...], dtype: Any, rows: int = 1024) -> dict[str, Any]:
    """Arguments of ``create_dataset`` for an empty dataset that grows by rows."""
    return {
        "shape": (0, *row_shape),
        "maxshape": (None, *row_shape),
        "dtype": dtype,
        "chunks": (max(1, rows), *row_shape),
    }


def _create_steps(
    root: h5py.Group,
    point_data: Mapping[str, npt.NDArray[Any]],
    cell_data: Mapping[str, npt.NDArray[Any]],
) -> None:
    """Create the empty ``Steps`` group and the temporal arrays of the first step."""
    steps = root.create_group("Steps")
    steps.create_dataset("Values", **_growing((), np.float64))
    for key in _STEP_INDEX_DATASETS:
        steps.create_dataset(key, **_growing((), _INT))
    for group_name, data_group, temporal in (
        ("PointDataOffsets", "PointData", point_data),
        ("CellDataOffsets", "CellData", cell_data),
    ):
        offsets = steps.create_group(group_name)
        for name in root[data_group]:  # static arrays
            offsets.create_dataset(name, **_growing((), _INT))
        for name, values in temporal.items():
            rows = min(values.shape[0], _CHUNK_ROWS)
            root[data_group].create_dataset(name, **_growing(values.shape[1:], values.dtype, rows))
            offsets.create_dataset(name, **_growing((), _INT))


class _GatherPlan:
    """How this rank's owned vertices and cells map to the file's global order.

    Rank 0 holds the gathered mesh (``points``, ``connectivity``) and the
    permutations that put gathered per-rank arrays in file order.
    """

    def __init__(self, mesh: dolfinx.mesh.Mesh) -> None:
        topology, geometry = mesh.topology, mesh.geometry
        self.tdim = topology.dim
        cell_types = topology.entity_types[self.tdim]
        if len(cell_types) != 1:
            raise MeshError("results files take meshes of a single cell type, not mixed topology")
        cell_name = cell_types[0].name
        if cell_name not in _VTK_CELLS:
            raise MeshError(f"results files do not support {cell_name} cells")
        self.vtk_type, self.vertices_per_cell = _VTK_CELLS[cell_name]
        from organfem._dolfinx import dolfinx

        vtk_perm = np.asarray(
            dolfinx.io.utils.cell_perm_vtk(cell_types[0], self.vertices_per_cell), dtype=np.int64
        )
        self.comm = mesh.comm
        self.cell_nodes = geometry.dofmaps[0]
        nv = self.vertices_per_cell
        node_map = geometry.index_map()
        self.num_nodes_local = node_map.size_local + node_map.num_ghosts
        self.num_cells_owned = topology.index_map(self.tdim).size_local

        # Geometry nodes at cell vertices (all nodes for an affine geometry;
        # the midside nodes of a curved geometry are not written).
        is_vertex = np.zeros(self.num_nodes_local, dtype=bool)
        is_vertex[self.cell_nodes[:, :nv]] = True
        self.owned_vertex_nodes = np.flatnonzero(is_vertex[: node_map.size_local]).astype(np.int32)
        owned = self.owned_vertex_nodes
        local_to_global = node_map.local_to_global(np.arange(self.num_nodes_local, dtype=np.int32))
        input_index = np.asarray(geometry.input_global_indices, dtype=np.int64)
        cells = self.cell_nodes[: self.num_cells_owned, :nv]

        gathered = self.comm.gather(
            (
                local_to_global[owned],
                input_index[owned],
                geometry.x[owned],
                local_to_global[cells][:, vtk_perm],
                np.asarray(topology.original_cell_index[: self.num_cells_owned], dtype=np.int64),
            ),
            root=0,
        )
        if self.comm.rank == 0:
            node_id, node_input, x, cell_ids, cell_input = (
                np.concatenate([part[i] for part in gathered]) for i in range(5)
            )
            # Order of the input mesh; the global node number breaks ties
            # (meshes refined or built in parallel may repeat input indices).
            self.point_order = np.lexsort((node_id, node_input))
            self.cell_order = np.argsort(cell_input, kind="stable")
            position = np.empty(int(node_id.max()) + 1 if node_id.size else 0, dtype=_INT)
            position[node_id[self.point_order]] = np.arange(node_id.size, dtype=_INT)
            self.points = np.ascontiguousarray(x[self.point_order], dtype=np.float64)
            self.connectivity = position[cell_ids[self.cell_order]]

    def gather_points(self, local: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Gather per-owned-vertex values to rank 0 in file order (empty elsewhere)."""
        parts = self.comm.gather(np.ascontiguousarray(local), root=0)
        if self.comm.rank != 0:
            return np.empty(0)
        return np.concatenate(parts)[self.point_order]

    def gather_cells(self, local: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Gather per-owned-cell values to rank 0 in file order (empty elsewhere)."""
        parts = self.comm.gather(np.ascontiguousarray(local), root=0)
        if self.comm.rank != 0:
            return np.empty(0)
        return np.concatenate(parts)[self.cell_order]


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
    def parameters(self) -> dict[str, Any]:
        """The run's parameters, decoded from JSON (empty if none recorded)."""
        return json.loads(str(self.attributes.get("parameters", "{}")))

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
    """Open a results file written by :class:`ResultsWriter`.

    Reads times, scalars and provenance now; :meth:`Results.mesh` reads a
    step's fields on demand.  Not collective (call it on one rank or on all).

    Args:
        path: The ``.vtkhdf`` file.

    Returns:
        The file's :class:`Results`.

    Raises:
        MeshError: If the file is missing, not HDF5, or not a VTKHDF
            unstructured grid of major version 2.
    """
    path = Path(path)
    if not path.is_file():
        hint = " (a .partial file exists: the run did not finish)" if Path(
            str(path) + ".partial"
        ).exists() else ""
        raise MeshError(f"results file {path} does not exist{hint}")
    try:
        file = h5py.File(path, "r")
    except OSError as err:
        raise MeshError(f"results file {path} is not a readable HDF5 file: {err}") from None
    with file:
        root = file.get("VTKHDF")
        if not isinstance(root, h5py.Group):
            raise MeshError(f"results file {path} has no /VTKHDF group; it is not a VTKHDF file")
        kind = _decode(root.attrs.get("Type", b""))
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
                {k: _decode(v) for k, v in organfem_group.attrs.items()} if organfem_group else {}
            )
        except (KeyError, OSError) as err:
            raise MeshError(f"results file {path} is incomplete or corrupt: {err}") from None
    return Results(
        path=path,
        times=_frozen(times),
        scalars=types.MappingProxyType(scalars),
        attributes=types.MappingProxyType(attributes),
    )


def _on_root(comm: Any, action: Any, what: str) -> Any:
    """Run ``action`` on rank 0 and raise its error, if any, on every rank."""
    result, error = None, None
    if comm.rank == 0:
        try:
            result = action()
        except Exception as err:  # re-raised on every rank below
            error = err
    failure = comm.bcast(None if error is None else (type(error), str(error)), root=0)
    if error is not None:
        raise error
    if failure is not None:
        kind, message = failure
        if issubclass(kind, OrganfemError):  # same domain error on every rank
            raise kind(message)
        raise OrganfemError(f"rank 0 failed {what}: {kind.__name__}: {message}")
    return result


def _append(dataset: h5py.Dataset, values: npt.NDArray[Any]) -> int:
    """Append rows to a resizable dataset; return the row where they start."""
    start = dataset.shape[0]
    dataset.resize(start + values.shape[0], axis=0)
    dataset[start:] = values
    return start


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


def _decode(value: Any) -> str | int | float:
    if isinstance(value, bytes | np.bytes_):
        return value.decode()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


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


def _frozen(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array = np.array(array)
    array.setflags(write=False)
    return array

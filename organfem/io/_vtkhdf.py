"""The VTKHDF layout of a results file: creating, appending to and trimming it.

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

Static arrays are written once, with a fixed shape, and every step points at
them (offset 0), as the format allows; temporal arrays are resizable
(unlimited first dimension), which is how a reopened file tells them apart.
The ``Steps`` group and the temporal arrays appear with the first step.

Everything here runs on one process (rank 0 under MPI) on an open
:class:`h5py.File`; nothing is collective and nothing is gathered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt

__all__ = [
    "INT",
    "SUFFIXES",
    "VTKHDF_VERSION",
    "VTK_CELLS",
    "Layout",
    "append_step",
    "create_file",
    "decode",
    "file_layout",
    "truncate_steps",
]

VTKHDF_VERSION = (2, 2)
"""VTKHDF format version written: temporal data (2.0), groups outside /VTKHDF (2.2)."""

SUFFIXES = (".vtkhdf", ".hdf")
"""File name endings ParaView and PyVista recognise as VTKHDF."""

VTK_CELLS = {
    "interval": (3, 2),
    "triangle": (5, 3),
    "quadrilateral": (9, 4),
    "tetrahedron": (10, 4),
    "hexahedron": (12, 8),
}
"""VTK linear cell type id and vertex count by DOLFINx cell name."""

INT = np.int64
"""Integer type of every index array in the file."""

_CHUNK_ROWS = 1 << 16
_STEP_INDEX_DATASETS = (
    "PartOffsets",
    "NumberOfParts",
    "PointOffsets",
    "CellOffsets",
    "ConnectivityIdOffsets",
)
_DATA_GROUPS = (("PointDataOffsets", "PointData"), ("CellDataOffsets", "CellData"))


@dataclass(frozen=True)
class Layout:
    """What an existing results file holds, as :func:`file_layout` reads it.

    Attributes:
        num_points: Points of the mesh.
        num_cells: Cells of the mesh.
        cell_type: VTK type id of the cells (-1 for a mesh without cells).
        static_names: Names of the static point and cell arrays.
        step_names: Names of the temporal point arrays, temporal cell arrays
            and scalars (each sorted); ``None`` for a file without steps.
        times: Time of each complete step.
    """

    num_points: int
    num_cells: int
    cell_type: int
    static_names: tuple[tuple[str, ...], tuple[str, ...]]
    step_names: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None
    times: tuple[float, ...]


def create_file(
    path: Any,
    *,
    points: npt.NDArray[np.float64],
    connectivity: npt.NDArray[Any],
    vtk_type: int,
    record: Mapping[str, str | int],
    point_static: Mapping[str, npt.NDArray[Any]],
    cell_static: Mapping[str, npt.NDArray[Any]],
) -> h5py.File:
    """Create a results file with the mesh, static arrays and provenance; no steps.

    Args:
        path: The file to create (replaced if it exists).
        points: Point coordinates ``(P, 3)`` in file order.
        connectivity: Point indices of each cell ``(C, V)`` in VTK order.
        vtk_type: VTK cell type id of every cell.
        record: The provenance record, stored as attributes of ``/organfem``.
        point_static: Static point arrays ``(P,)`` or ``(P, k)`` by name.
        cell_static: Static cell arrays ``(C,)`` or ``(C, k)`` by name.

    Returns:
        The open, flushed file.
    """
    file = h5py.File(path, "w")
    root = file.create_group("VTKHDF")
    root.attrs["Version"] = np.asarray(VTKHDF_VERSION, dtype=INT)
    root.attrs["Type"] = np.bytes_(b"UnstructuredGrid")
    num_cells, vertices_per_cell = connectivity.shape
    root.create_dataset("NumberOfPoints", data=np.asarray([points.shape[0]], dtype=INT))
    root.create_dataset("NumberOfCells", data=np.asarray([num_cells], dtype=INT))
    root.create_dataset("NumberOfConnectivityIds", data=np.asarray([connectivity.size], dtype=INT))
    root.create_dataset("Points", data=points)
    root.create_dataset("Connectivity", data=connectivity.ravel())
    offsets = np.arange(num_cells + 1, dtype=INT) * vertices_per_cell
    root.create_dataset("Offsets", data=offsets)
    root.create_dataset("Types", data=np.full(num_cells, vtk_type, dtype=np.uint8))
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


def append_step(
    file: h5py.File,
    t: float,
    point_data: Mapping[str, npt.NDArray[Any]],
    cell_data: Mapping[str, npt.NDArray[Any]],
    scalars: Mapping[str, float],
) -> None:
    """Append one step and flush the file.

    The step's time is appended last, so a step whose writing was cut short
    has no time and :func:`file_layout` ignores it.

    Args:
        file: A file made by :func:`create_file`, open for writing.
        t: Time of the step.
        point_data: Temporal point arrays ``(P, ...)`` by name; the same
            names at every step.
        cell_data: Temporal cell arrays ``(C, ...)`` by name.
        scalars: Scalars of the step by name.
    """
    root = file["VTKHDF"]
    scalar_group = file["organfem/scalars"]
    if "Steps" not in root:
        _create_steps(root, point_data, cell_data)
        for name in scalars:
            scalar_group.create_dataset(name, **_growing((), np.float64))
    steps = root["Steps"]
    for group_name, data_group in _DATA_GROUPS:
        temporal = point_data if data_group == "PointData" else cell_data
        for name in root[data_group]:
            offset = 0
            if name in temporal:
                offset = _append(root[data_group][name], temporal[name])
            _append(steps[group_name][name], np.asarray([offset], dtype=INT))
    for name, value in scalars.items():
        _append(scalar_group[name], np.asarray([value]))
    # A single mesh for every step: one part, read from the start.
    for key in _STEP_INDEX_DATASETS:
        _append(steps[key], np.asarray([1 if key == "NumberOfParts" else 0], dtype=INT))
    _append(steps["Values"], np.asarray([t]))
    steps.attrs["NSteps"] = INT(steps["Values"].shape[0])
    file.flush()


def file_layout(file: h5py.File) -> Layout:
    """Read what a results file holds, counting only its complete steps.

    A step is complete when every per-step array has a row for it and every
    temporal array holds its rows; a file whose writer was killed between
    two flushes may end with an incomplete step, which is not counted (see
    :func:`truncate_steps` to drop it).

    Args:
        file: An open results file.

    Returns:
        Its :class:`Layout`.

    Raises:
        KeyError: If a group or dataset of the layout is missing.
        ValueError: If the file is not a VTKHDF unstructured grid of the
            major version written here.
    """
    root = file["VTKHDF"]
    kind = decode(root.attrs.get("Type", b""))
    version = tuple(int(v) for v in np.atleast_1d(root.attrs.get("Version", [0])))
    if kind != "UnstructuredGrid" or version[0] != VTKHDF_VERSION[0]:
        raise ValueError(
            f"a VTKHDF {kind or 'untyped'} file of version {version}; expected an"
            f" UnstructuredGrid of version {VTKHDF_VERSION[0]}.x"
        )
    num_points = int(root["NumberOfPoints"][0])
    num_cells = int(root["NumberOfCells"][0])
    types = root["Types"]
    cell_type = int(types[0]) if types.shape[0] else -1
    sizes = {"PointData": num_points, "CellData": num_cells}
    static: dict[str, list[str]] = {"PointData": [], "CellData": []}
    temporal: dict[str, list[str]] = {"PointData": [], "CellData": []}
    for _, data_group in _DATA_GROUPS:
        for name, dataset in root[data_group].items():
            growing = dataset.maxshape[0] is None
            (temporal if growing else static)[data_group].append(name)
    static_names = (tuple(static["PointData"]), tuple(static["CellData"]))
    if "Steps" not in root:
        return Layout(num_points, num_cells, cell_type, static_names, None, ())
    steps = root["Steps"]
    scalar_group = file["organfem/scalars"]
    per_step = [steps["Values"], *(steps[key] for key in _STEP_INDEX_DATASETS)]
    per_step += [scalar_group[name] for name in scalar_group]
    for group_name, data_group in _DATA_GROUPS:
        per_step += [steps[group_name][name] for name in root[data_group]]
    count = min(dataset.shape[0] for dataset in per_step)
    # Every temporal array must hold the rows its last counted step points at.
    for group_name, data_group in _DATA_GROUPS:
        for name in temporal[data_group]:
            offsets = steps[group_name][name][:count]
            rows = root[data_group][name].shape[0]
            while count and offsets[count - 1] + sizes[data_group] > rows:
                count -= 1
    step_names = (
        tuple(sorted(temporal["PointData"])),
        tuple(sorted(temporal["CellData"])),
        tuple(sorted(scalar_group)),
    )
    times = tuple(float(t) for t in steps["Values"][:count])
    return Layout(num_points, num_cells, cell_type, static_names, step_names, times)


def truncate_steps(file: h5py.File, count: int) -> None:
    """Keep the first ``count`` steps of a file, drop the rest, and flush.

    Rows beyond the kept steps (dropped steps, or the rows of an incomplete
    last step) are cut from every per-step and temporal array; arrays already
    of the right length are not touched, so truncating a consistent file to
    its own step count changes nothing.  With ``count == 0`` the file goes
    back to its state before the first step: no ``Steps`` group, no temporal
    arrays and no scalars, so the next step may bring other names.  The space
    of dropped rows is not returned to the file system (HDF5 does not shrink
    files).

    Args:
        file: A results file open for writing.
        count: Steps to keep, at most the file's complete steps (see
            :func:`file_layout`).
    """
    root = file["VTKHDF"]
    scalar_group = file["organfem/scalars"]
    if count == 0:
        growing = [
            (data_group, name)
            for _, data_group in _DATA_GROUPS
            for name, dataset in root[data_group].items()
            if dataset.maxshape[0] is None
        ]
        if not growing and not len(scalar_group) and "Steps" not in root:
            return
        for data_group, name in growing:
            del root[data_group][name]
        for name in list(scalar_group):
            del scalar_group[name]
        if "Steps" in root:
            del root["Steps"]
        file.flush()
        return
    steps = root["Steps"]
    sizes = {"PointData": int(root["NumberOfPoints"][0]), "CellData": int(root["NumberOfCells"][0])}
    cuts: list[tuple[h5py.Dataset, int]] = []
    for group_name, data_group in _DATA_GROUPS:
        for name, dataset in root[data_group].items():
            offsets = steps[group_name][name]
            if dataset.maxshape[0] is None:
                # Each step appends one mesh's worth of rows at its offset.
                cuts.append((dataset, int(offsets[count - 1]) + sizes[data_group]))
            cuts.append((offsets, count))
    cuts += [(scalar_group[name], count) for name in scalar_group]
    cuts += [(steps[key], count) for key in ("Values", *_STEP_INDEX_DATASETS)]
    cuts = [(dataset, rows) for dataset, rows in cuts if dataset.shape[0] != rows]
    if not cuts and int(steps.attrs.get("NSteps", -1)) == count:
        return
    for dataset, rows in cuts:
        dataset.resize(rows, axis=0)
    steps.attrs["NSteps"] = INT(count)
    file.flush()


def decode(value: Any) -> str | int | float:
    """An HDF5 attribute value as a Python ``str``, ``int`` or ``float``."""
    if isinstance(value, bytes | np.bytes_):
        return value.decode()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


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
        steps.create_dataset(key, **_growing((), INT))
    for group_name, data_group in _DATA_GROUPS:
        temporal = point_data if data_group == "PointData" else cell_data
        offsets = steps.create_group(group_name)
        for name in root[data_group]:  # static arrays
            offsets.create_dataset(name, **_growing((), INT))
        for name, values in temporal.items():
            rows = min(values.shape[0], _CHUNK_ROWS)
            root[data_group].create_dataset(name, **_growing(values.shape[1:], values.dtype, rows))
            offsets.create_dataset(name, **_growing((), INT))


def _append(dataset: h5py.Dataset, values: npt.NDArray[Any]) -> int:
    """Append rows to a resizable dataset; return the row where they start."""
    start = dataset.shape[0]
    dataset.resize(start + values.shape[0], axis=0)
    dataset[start:] = values
    return start

"""The MPI gather beneath the results writer: owned parts to rank 0, in file order.

h5py here is built without MPI, so every rank sends its owned part of the mesh
and of each field to rank 0 (``mpi4py`` gathers) and rank 0 alone writes.
Rank 0 therefore holds the whole linear mesh and one gathered field at a time
(8 bytes per point and component): fine for millions of points, and the limit
to lift with a parallel HDF5 build when meshes outgrow one node.

The file lists points and cells in the order of the input mesh
(``input_global_indices`` for points, ``original_cell_index`` for cells), so a
file written under ``mpirun`` matches a serial run's.

:func:`on_root` and :func:`on_all` make a failure on one rank an error on every
rank, so that no rank is left waiting in a collective call that the others
will never make.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from organfem.errors import MeshError, OrganfemError
from organfem.io._vtkhdf import INT, VTK_CELLS

if TYPE_CHECKING:
    from organfem._dolfinx import dolfinx

__all__ = ["GatherPlan", "on_all", "on_root"]

_T = TypeVar("_T")


class GatherPlan:
    """How this rank's owned vertices and cells map to the file's global order.

    Collective to construct.  Rank 0 holds the gathered mesh (``points``
    ``(P, 3)``, ``connectivity`` ``(C, V)`` in VTK vertex order) and the
    permutations that put gathered per-rank arrays in file order.

    Args:
        mesh: A mesh of a single cell type among :data:`VTK_CELLS`.

    Raises:
        MeshError: For a mesh of mixed or unsupported cell type.
    """

    def __init__(self, mesh: dolfinx.mesh.Mesh) -> None:
        topology, geometry = mesh.topology, mesh.geometry
        self.tdim = topology.dim
        cell_types = topology.entity_types[self.tdim]
        if len(cell_types) != 1:
            raise MeshError("results files take meshes of a single cell type, not mixed topology")
        cell_name = cell_types[0].name
        if cell_name not in VTK_CELLS:
            raise MeshError(f"results files do not support {cell_name} cells")
        self.vtk_type, self.vertices_per_cell = VTK_CELLS[cell_name]
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
            position = np.empty(int(node_id.max()) + 1 if node_id.size else 0, dtype=INT)
            position[node_id[self.point_order]] = np.arange(node_id.size, dtype=INT)
            self.points = np.ascontiguousarray(x[self.point_order], dtype=np.float64)
            self.connectivity = position[cell_ids[self.cell_order]]

    def gather_points(self, local: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Gather per-owned-vertex values to rank 0 in file order (empty elsewhere).  Collective."""
        parts = self.comm.gather(np.ascontiguousarray(local), root=0)
        if self.comm.rank != 0:
            return np.empty(0)
        return np.concatenate(parts)[self.point_order]

    def gather_cells(self, local: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Gather per-owned-cell values to rank 0 in file order (empty elsewhere).  Collective."""
        parts = self.comm.gather(np.ascontiguousarray(local), root=0)
        if self.comm.rank != 0:
            return np.empty(0)
        return np.concatenate(parts)[self.cell_order]


def on_root(comm: Any, action: Callable[[], _T], what: str) -> _T | None:
    """Run ``action`` on rank 0 and raise its error, if any, on every rank.  Collective.

    Args:
        comm: The communicator.
        action: What rank 0 does (the other ranks do nothing but wait).
        what: The action in words, for the error raised on other ranks when
            rank 0 fails with an error that is not an :class:`OrganfemError`.

    Returns:
        The action's result on rank 0, ``None`` elsewhere.

    Raises:
        OrganfemError: On every rank when the action fails: rank 0 raises the
            original error, the others the same domain error or an
            :class:`OrganfemError` naming ``what``.
    """
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


def on_all(comm: Any, action: Callable[[], _T], what: str) -> _T:
    """Run ``action`` on every rank and raise any rank's error on every rank.  Collective.

    Args:
        comm: The communicator.
        action: What each rank does on its own (no collective calls).
        what: The action in words, for the error raised on ranks that did
            not fail when another failed with an error that is not an
            :class:`OrganfemError`.

    Returns:
        The action's result on this rank.

    Raises:
        OrganfemError: On every rank when the action fails on any: a rank
            that failed raises its own error, the others the first failing
            rank's domain error or an :class:`OrganfemError` naming ``what``
            and that rank.
    """
    result, error = None, None
    try:
        result = action()
    except Exception as err:  # re-raised on every rank below
        error = err
    failures = comm.allgather(None if error is None else (type(error), str(error)))
    if error is not None:
        raise error
    for rank, failure in enumerate(failures):
        if failure is not None:
            kind, message = failure
            if issubclass(kind, OrganfemError):
                raise kind(message)
            raise OrganfemError(f"rank {rank} failed {what}: {kind.__name__}: {message}")
    return result  # type: ignore[return-value]

"""Point evaluation of fields, collective and parallel-safe."""

from __future__ import annotations

import numpy as np

from .._dolfinx import MPI, dolfinx, ufl
from ..errors import ParameterError

__all__ = ["probe", "mean_value"]


def probe(f: dolfinx.fem.Function, points: np.ndarray) -> np.ndarray:
    """Values of ``f`` at physical ``points`` (n, 3) [mm]. Collective.

    Each point is evaluated on the lowest rank whose cells contain it and the
    values are shared with every rank.

    Raises:
        ParameterError: if a point lies outside the mesh.
    """
    mesh = f.function_space.mesh
    points = np.ascontiguousarray(np.atleast_2d(points), dtype=np.float64)
    tdim = mesh.topology.dim
    tree = dolfinx.geometry.bb_tree(mesh, tdim, padding=1e-10)
    candidates = dolfinx.geometry.compute_collisions_points(tree, points)
    colliding = dolfinx.geometry.compute_colliding_cells(mesh, candidates, points)
    num_owned = mesh.topology.index_map(tdim).size_local
    size = f.function_space.value_size
    values = np.zeros((len(points), size))
    found = np.full(len(points), mesh.comm.size, dtype=np.int32)
    for i in range(len(points)):
        cells = colliding.links(i)
        cells = cells[cells < num_owned]
        if cells.size:
            values[i] = f.eval(points[i], cells[:1])
            found[i] = mesh.comm.rank
    owner = np.empty_like(found)
    mesh.comm.Allreduce(found, owner, op=MPI.MIN)
    if np.any(owner == mesh.comm.size):
        missing = points[owner == mesh.comm.size]
        raise ParameterError(f"probe points outside the mesh: {missing.tolist()}")
    values[owner != mesh.comm.rank] = 0.0
    shared = np.empty_like(values)
    mesh.comm.Allreduce(values, shared, op=MPI.SUM)
    return shared


def mean_value(f: dolfinx.fem.Function) -> float:
    """Volume average of a scalar field over its mesh, ``int f dx / int dx``. Collective."""
    mesh = f.function_space.mesh
    comm = mesh.comm
    dx = ufl.dx(domain=mesh)
    total = comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(f * dx)), op=MPI.SUM)
    volume = comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(1.0 * dx)), op=MPI.SUM)
    return total / volume

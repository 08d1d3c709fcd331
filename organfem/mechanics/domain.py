"""A DOLFINx mesh with named facet and cell tags.

:class:`Domain` is what the mechanics layer solves on.  It is built,
collectively, from a :class:`organfem.meshing.MeshData` held on one rank.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from .._dolfinx import MPI, basix, dolfinx, ufl
from ..meshing.mesh import tag_value

__all__ = ["Domain"]


@dataclasses.dataclass(frozen=True)
class Domain:
    """A distributed mesh with named tags.

    Attributes:
        mesh: the DOLFINx mesh [mm].
        facet_tags: facet markers (local to each rank).
        cell_tags: cell markers (local to each rank).
        facet_names: tag name -> marker value, identical on all ranks.
        cell_names: tag name -> marker value, identical on all ranks.
    """

    mesh: dolfinx.mesh.Mesh
    facet_tags: dolfinx.mesh.MeshTags
    cell_tags: dolfinx.mesh.MeshTags
    facet_names: Mapping[str, int]
    cell_names: Mapping[str, int]

    @classmethod
    def from_meshdata(cls, data, comm: MPI.Comm = MPI.COMM_WORLD, *, root: int = 0) -> Domain:
        """Distribute a :class:`~organfem.meshing.MeshData` over ``comm``.

        MeshData stores hexahedra in DOLFINx's tensor-product vertex order, so
        cells pass through unchanged.

        Collective.  Only ``root`` needs the data; other ranks may pass None.
        """
        header = None
        if comm.rank == root:
            header = (data.cell_type, dict(data.facet_names), dict(data.cell_names))
        cell_type, facet_names, cell_names = comm.bcast(header, root=root)
        nv = 4 if cell_type == "tetrahedron" else 8
        nfv = 3 if cell_type == "tetrahedron" else 4
        if comm.rank == root:
            x = np.asarray(data.points, dtype=np.float64)
            cells = np.asarray(data.cells, dtype=np.int64)
            facets = np.asarray(data.facets, dtype=np.int64)
            facet_values = np.asarray(data.facet_values, dtype=np.int32)
            cell_values = np.asarray(data.cell_values, dtype=np.int32)
        else:
            x = np.empty((0, 3), dtype=np.float64)
            cells = np.empty((0, nv), dtype=np.int64)
            facets = np.empty((0, nfv), dtype=np.int64)
            facet_values = np.empty((0,), dtype=np.int32)
            cell_values = np.empty((0,), dtype=np.int32)
        element = basix.ufl.element("Lagrange", cell_type, 1, shape=(3,))
        mesh = dolfinx.mesh.create_mesh(
            comm,
            cells,
            ufl.Mesh(element),
            x,
            dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2),
        )
        tdim = mesh.topology.dim
        tags = []
        for dim, entities, values in (
            (tdim - 1, facets, facet_values),
            (tdim, cells, cell_values),
        ):
            mesh.topology.create_connectivity(dim, tdim)
            local, local_values = dolfinx.io.distribute_entity_data(mesh, dim, entities, values)
            tags.append(
                dolfinx.mesh.meshtags_from_entities(
                    mesh,
                    dim,
                    dolfinx.graph.adjacencylist(local),
                    local_values.astype(np.int32, copy=False),
                )
            )
        return cls(mesh, tags[0], tags[1], facet_names, cell_names)

    @property
    def comm(self) -> MPI.Comm:
        return self.mesh.comm

    def facet_marker(self, name: str) -> int:
        """Marker value of the facet tag ``name``; MissingTagError if absent."""
        return tag_value(self.facet_names, name, "facet")

    def facets(self, name: str) -> np.ndarray:
        """Local indices of the facets tagged ``name``."""
        return self.facet_tags.find(self.facet_marker(name))

    def ds(self, name: str | None = None, *, degree: int | None = None) -> ufl.Measure:
        """Exterior-facet measure, restricted to the tag ``name`` if given."""
        metadata = {} if degree is None else {"quadrature_degree": degree}
        ds = ufl.Measure("ds", domain=self.mesh, subdomain_data=self.facet_tags, metadata=metadata)
        return ds if name is None else ds(self.facet_marker(name))

    def measure(self, name: str) -> float:
        """Reference area of the facets tagged ``name`` [mm^2]. Collective."""
        form = dolfinx.fem.form(1.0 * self.ds(name))
        return self.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

"""A DOLFINx mesh with named facet and cell tags.

:class:`Domain` is what the mechanics layer solves on.  It is built,
collectively, from a :class:`organfem.meshing.MeshData` held on one rank.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from .._dolfinx import MPI, basix, dolfinx, ufl
from ..errors import ParameterError
from ..meshing.mesh import tag_value

__all__ = ["Domain", "CellFibres"]


@dataclasses.dataclass(frozen=True, eq=False)
class CellFibres:
    """One local material basis per cell of this rank (owned cells, then ghosts).

    Pass it as ``fibres=`` to :class:`~organfem.mechanics.HyperelasticProblem`:
    every quadrature point of a cell gets that cell's basis.

    Attributes:
        bases: shape (num_local_cells, 3, 3), float64, read-only, rows
            ``(f0, s0, n0)``, in the local cell order of the DOLFINx mesh
            (``size_local + num_ghosts`` cells).
    """

    bases: np.ndarray

    def __post_init__(self) -> None:
        bases = np.array(self.bases, dtype=np.float64, order="C", copy=True)
        if bases.ndim != 3 or bases.shape[1:] != (3, 3):
            raise ParameterError(
                f"CellFibres.bases: expected shape (num_local_cells, 3, 3), got {bases.shape}"
            )
        bases.setflags(write=False)
        object.__setattr__(self, "bases", bases)

    @property
    def num_cells(self) -> int:
        """Number of local cells (owned and ghost) the bases are given for."""
        return self.bases.shape[0]


def _distribute_fibres(
    comm: MPI.Comm, mesh: dolfinx.mesh.Mesh, fibres: np.ndarray | None, root: int
) -> CellFibres:
    """Send each rank the bases of its local cells (owned + ghosts).  Collective.

    Ranks ask ``root`` for the input cells they hold
    (``topology.original_cell_index``); ``root`` answers each with just those
    bases, so no rank but ``root`` ever holds the whole array.
    """
    tdim = mesh.topology.dim
    imap = mesh.topology.index_map(tdim)
    num_local = imap.size_local + imap.num_ghosts
    wanted = np.asarray(mesh.topology.original_cell_index, dtype=np.int64)[:num_local]
    requests = comm.gather(wanted, root=root)
    replies = None
    if comm.rank == root:
        replies = [np.ascontiguousarray(fibres[r]) for r in requests]
    bases = comm.scatter(replies, root=root)
    return CellFibres(bases.reshape(num_local, 3, 3))


def _names(names: Sequence[str]) -> tuple[str, ...]:
    names = tuple(names)
    if not names or not all(isinstance(n, str) for n in names):
        raise ParameterError(f"facet tags {names!r}: expected a tag name or a non-empty sequence of names")
    return names


@dataclasses.dataclass(frozen=True)
class Domain:
    """A distributed mesh with named tags.

    Attributes:
        mesh: the DOLFINx mesh [mm]; its coordinate element has degree
            :attr:`geometry_degree` (2 for curved tetrahedra).
        facet_tags: facet markers (local to each rank).
        cell_tags: cell markers (local to each rank).
        facet_names: tag name -> marker value, identical on all ranks.
        cell_names: tag name -> marker value, identical on all ranks.
        fibres: the per-cell bases of :attr:`MeshData.fibres
            <organfem.meshing.MeshData.fibres>` for this rank's cells, or None
            if the mesh had none.
    """

    mesh: dolfinx.mesh.Mesh
    facet_tags: dolfinx.mesh.MeshTags
    cell_tags: dolfinx.mesh.MeshTags
    facet_names: Mapping[str, int]
    cell_names: Mapping[str, int]
    fibres: CellFibres | None = None

    @classmethod
    def from_meshdata(cls, data, comm: MPI.Comm = MPI.COMM_WORLD, *, root: int = 0) -> Domain:
        """Distribute a :class:`~organfem.meshing.MeshData` over ``comm``.

        MeshData stores hexahedra in DOLFINx's tensor-product vertex order, so
        cells pass through unchanged.  Curved tetrahedra (``data.order == 2``,
        with :attr:`~organfem.meshing.MeshData.edge_nodes`) give a mesh with a
        degree-2 Lagrange coordinate element (:attr:`geometry_degree` is 2);
        their 10 nodes are already in DOLFINx order.  Facet and cell
        tags are matched by their corner vertices.  Per-cell fibres, if the
        data has them, follow their cells to the ranks that own or ghost them
        (:attr:`fibres`).

        Collective.  Only ``root`` needs the data; other ranks may pass None.
        """
        header = None
        if comm.rank == root:
            header = (
                data.cell_type,
                data.order,
                dict(data.facet_names),
                dict(data.cell_names),
                data.fibres is not None,
            )
        cell_type, order, facet_names, cell_names, has_fibres = comm.bcast(header, root=root)
        nv = 4 if cell_type == "tetrahedron" else 8
        nfv = 3 if cell_type == "tetrahedron" else 4
        num_nodes = 10 if order == 2 else nv
        if comm.rank == root:
            x = np.asarray(data.points, dtype=np.float64)
            nodes = np.asarray(data.nodes, dtype=np.int64)
            cells = np.asarray(data.cells, dtype=np.int64)
            facets = np.asarray(data.facets, dtype=np.int64)
            facet_values = np.asarray(data.facet_values, dtype=np.int32)
            cell_values = np.asarray(data.cell_values, dtype=np.int32)
        else:
            x = np.empty((0, 3), dtype=np.float64)
            nodes = np.empty((0, num_nodes), dtype=np.int64)
            cells = np.empty((0, nv), dtype=np.int64)
            facets = np.empty((0, nfv), dtype=np.int64)
            facet_values = np.empty((0,), dtype=np.int32)
            cell_values = np.empty((0,), dtype=np.int32)
        element = basix.ufl.element("Lagrange", cell_type, order, shape=(3,))
        mesh = dolfinx.mesh.create_mesh(
            comm,
            nodes,
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
        fibres = None
        if has_fibres:
            fibres = _distribute_fibres(
                comm, mesh, data.fibres if comm.rank == root else None, root
            )
        return cls(mesh, tags[0], tags[1], facet_names, cell_names, fibres)

    @property
    def comm(self) -> MPI.Comm:
        return self.mesh.comm

    @property
    def geometry_degree(self) -> int:
        """Degree of the coordinate element: 1 (straight-sided) or 2 (curved cells)."""
        return int(self.mesh.geometry.cmaps[0].degree)

    def facet_marker(self, name: str) -> int:
        """Marker value of the facet tag ``name``; MissingTagError if absent."""
        return tag_value(self.facet_names, name, "facet")

    def facets(self, name: str | Sequence[str]) -> np.ndarray:
        """Local indices of the facets tagged ``name`` (or any of several names), sorted."""
        if isinstance(name, str):
            return self.facet_tags.find(self.facet_marker(name))
        return np.unique(np.concatenate([self.facets(n) for n in _names(name)]))

    def ds(self, name: str | Sequence[str] | None = None, *, degree: int | None = None) -> ufl.Measure:
        """Exterior-facet measure, restricted to the tag ``name`` (or the union
        of several tags) if given."""
        metadata = {} if degree is None else {"quadrature_degree": degree}
        ds = ufl.Measure("ds", domain=self.mesh, subdomain_data=self.facet_tags, metadata=metadata)
        if name is None:
            return ds
        if isinstance(name, str):
            return ds(self.facet_marker(name))
        return ds(tuple(self.facet_marker(n) for n in _names(name)))

    def measure(self, name: str | Sequence[str]) -> float:
        """Reference area of the facets tagged ``name`` (or several names) [mm^2]. Collective."""
        form = dolfinx.fem.form(1.0 * self.ds(name))
        return self.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

    def write_xdmf(self, path) -> None:
        """Write the mesh, facet tags and cell tags to an XDMF/HDF5 pair. Collective.

        The tags are the mesh tags ``facet_tags`` and ``cell_tags`` that
        :class:`dolfinx.io.XDMFFile` reads back (``read_mesh`` then
        ``read_meshtags``) and ParaView shows; their names are written as the
        XDMF information ``facet_names``/``cell_names`` (``name=value,...``).
        Plain DOLFINx codes can load a mesh made by organfem this way.
        """
        tdim = self.mesh.topology.dim
        self.mesh.topology.create_connectivity(tdim - 1, tdim)
        self.facet_tags.name = "facet_tags"
        self.cell_tags.name = "cell_tags"
        with dolfinx.io.XDMFFile(self.comm, str(path), "w") as xdmf:
            xdmf.write_mesh(self.mesh)
            xdmf.write_meshtags(self.facet_tags, self.mesh.geometry)
            xdmf.write_meshtags(self.cell_tags, self.mesh.geometry)
            for key, names in (("facet_names", self.facet_names), ("cell_names", self.cell_names)):
                xdmf.write_information(key, ",".join(f"{k}={v}" for k, v in names.items()))

"""Lagrange P1/P2 displacement spaces on tetrahedral :class:`MeshData`, in NumPy.

Everything here is fixed by the mesh and done once: the nodes (vertices, and
for P2 one node per edge), each cell's and each tagged facet's nodes, shape
function gradients at the quadrature points of the reference configuration,
and point location for probes.  The geometry is isoparametric: on a curved
mesh (``MeshData.edge_nodes``) the P2 space uses those mid-edge nodes, on a
straight one the edge midpoints, so that the cells are exactly those of the
DOLFINx path on the same ``MeshData``.  Imports only NumPy.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import MeshError, ParameterError
from ..meshing import MeshData
from ..meshing.mesh import TET_EDGES
from ._quadrature import rule

__all__ = ["Space", "FacetSet"]

#: Edges of the reference triangle, opposite vertices 0, 1 and 2 (Basix order).
TRIANGLE_EDGES = ((1, 2), (0, 2), (0, 1))

#: The four faces of a tetrahedron, each opposite the vertex of its index.
_TET_FACES = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])


def _barycentric(xi: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (q, d+1) of reference points (q, d)."""
    return np.concatenate([1.0 - xi.sum(axis=1, keepdims=True), xi], axis=1)


def _lagrange(xi: np.ndarray, degree: int, edges) -> tuple[np.ndarray, np.ndarray]:
    """Values (q, n) and reference gradients (q, n, d) of the P1/P2 basis.

    Nodes: the d+1 vertices, then (P2) one node per edge in the order ``edges``.
    """
    lam = _barycentric(xi)
    d = xi.shape[1]
    dlam = np.concatenate([-np.ones((1, d)), np.eye(d)])  # (d+1, d)
    if degree == 1:
        return lam, np.broadcast_to(dlam, (len(xi), d + 1, d)).copy()
    values = [lam[:, a] * (2 * lam[:, a] - 1) for a in range(d + 1)]
    grads = [(4 * lam[:, a] - 1)[:, None] * dlam[a] for a in range(d + 1)]
    for a, b in edges:
        values.append(4 * lam[:, a] * lam[:, b])
        grads.append(4 * (lam[:, a][:, None] * dlam[b] + lam[:, b][:, None] * dlam[a]))
    return np.stack(values, axis=1), np.stack(grads, axis=1)


@dataclasses.dataclass(frozen=True)
class FacetSet:
    """The tagged boundary facets of one tag, with their quadrature data.

    Attributes:
        nodes: node indices per facet (f, 3 or 6), P2 edge nodes in
            :data:`TRIANGLE_EDGES` order, oriented so that the reference
            normal ``dX/dxi1 x dX/dxi2`` points out of the solid.
        N: basis values at the facet quadrature points (q, n).
        dN: reference gradients there (q, n, 2).
        weights: quadrature weights on the reference triangle (q,).
    """

    nodes: np.ndarray
    N: np.ndarray
    dN: np.ndarray
    weights: np.ndarray


@dataclasses.dataclass(frozen=True)
class Space:
    """A P1 or P2 vector Lagrange space on a tetrahedral mesh (NumPy).

    Build it with :meth:`from_meshdata`.  Displacements are arrays of shape
    (num_nodes, 3) [mm]; dof ``3 i + k`` is component ``k`` of node ``i``.

    Attributes:
        mesh: the mesh.
        degree: 1 or 2.
        quadrature_degree: degree of the cell quadrature (default ``2 degree``,
            as in :class:`organfem.mechanics.HyperelasticProblem`).
        nodes: reference coordinates of the nodes [mm], (num_nodes, 3).
        cell_nodes: nodes of each cell (m, 4 or 10).
        weights: quadrature weight times |det J| per cell and point [mm^3], (m, q).
        gradients: physical basis gradients per cell and point [1/mm], (m, q, n, 3).
        fibres: local basis per cell (m, 3, 3), rows (f0, s0, n0); the identity
            where the mesh has none.
    """

    mesh: MeshData
    degree: int
    quadrature_degree: int
    nodes: np.ndarray
    cell_nodes: np.ndarray
    weights: np.ndarray
    gradients: np.ndarray
    fibres: np.ndarray
    _edges: dict = dataclasses.field(repr=False)
    _facet_degree: int = dataclasses.field(repr=False)

    @classmethod
    def from_meshdata(
        cls, mesh: MeshData, degree: int = 2, *, quadrature_degree: int | None = None
    ) -> Space:
        """The P``degree`` space on ``mesh`` (straight or curved tetrahedra).

        Raises:
            ParameterError: degree not 1 or 2, or P1 on a curved mesh.
            MeshError: not a tetrahedral mesh, or a cell inverted at a
                quadrature point.
        """
        if degree not in (1, 2):
            raise ParameterError(f"Space: degree={degree!r} must be 1 or 2")
        if mesh.cell_type != "tetrahedron":
            raise MeshError(f"Space: cell_type={mesh.cell_type!r}; expected 'tetrahedron'")
        if degree == 1 and mesh.edge_nodes is not None:
            raise ParameterError("Space: a curved (second-order) mesh needs degree=2")
        qdeg = 2 * degree if quadrature_degree is None else int(quadrature_degree)
        cells = np.asarray(mesh.cells, dtype=np.int64)
        num_vertices = len(mesh.points)
        edges: dict = {}
        if degree == 1:
            nodes, cell_nodes = np.asarray(mesh.points, dtype=np.float64), cells
        else:
            pairs = np.sort(cells[:, np.array(TET_EDGES)], axis=2).reshape(-1, 2)
            unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
            if mesh.edge_nodes is None:
                mid = 0.5 * (mesh.points[unique[:, 0]] + mesh.points[unique[:, 1]])
                nodes = np.concatenate([mesh.points, mid])
                edge_index = num_vertices + inverse.reshape(-1, 6)
            else:  # the mesh's own mid-edge nodes (they are already points)
                nodes = np.asarray(mesh.points, dtype=np.float64)
                edge_index = np.asarray(mesh.edge_nodes, dtype=np.int64)
            cell_nodes = np.concatenate([cells, edge_index], axis=1)
            flat = edge_index.reshape(-1)
            edges = {(int(a), int(b)): int(n) for (a, b), n in zip(pairs, flat, strict=True)}
        points, qweights = rule("tetrahedron", qdeg)
        _, dN = _lagrange(points, degree, TET_EDGES)  # (q, n, 3)
        X = nodes[cell_nodes]  # (m, n, 3)
        J = np.einsum("mni,qnj->mqij", X, dN)  # dX/dxi
        detJ = np.linalg.det(J)
        if not np.all(detJ > 0):
            bad = int(np.argmin(detJ.min(axis=1)))
            raise MeshError(
                f"Space: cell {bad} has det J = {detJ[bad].min():.3g} <= 0 at a quadrature point "
                "(inverted or degenerate cell)"
            )
        gradients = np.einsum("qnj,mqji->mqni", dN, np.linalg.inv(J))
        fibres = (
            np.asarray(mesh.fibres, dtype=np.float64)
            if mesh.fibres is not None
            else np.broadcast_to(np.eye(3), (len(cells), 3, 3)).copy()
        )
        facet_degree = qdeg + 2 * (degree - 1) * (mesh.edge_nodes is not None)
        return cls(
            mesh=mesh,
            degree=degree,
            quadrature_degree=qdeg,
            nodes=nodes,
            cell_nodes=cell_nodes,
            weights=detJ * qweights,
            gradients=gradients,
            fibres=fibres,
            _edges=edges,
            _facet_degree=max(facet_degree, 2 * degree),
        )

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def num_dofs(self) -> int:
        """Displacement unknowns, 3 per node (before Dirichlet conditions)."""
        return 3 * len(self.nodes)

    @property
    def num_cells(self) -> int:
        return len(self.cell_nodes)

    def tag_value(self, tag: str, *, cells: bool = False) -> int:
        """The integer of a facet (or cell) tag name.

        Raises:
            ParameterError: unknown tag, naming the tags the mesh has.
        """
        names = (self.mesh.cell_names or {"tissue": 1}) if cells else self.mesh.facet_names
        if tag not in names:
            kind = "cell" if cells else "facet"
            raise ParameterError(f"no {kind} tag {tag!r} in the mesh; its {kind} tags: {sorted(names)}")
        return int(names[tag])

    def facet_vertices(self, tag: str) -> np.ndarray:
        """Vertex indices (f, 3) of the facets tagged ``tag``."""
        return np.asarray(self.mesh.facets)[np.asarray(self.mesh.facet_values) == self.tag_value(tag)]

    def dofs_on(self, tag: str) -> np.ndarray:
        """Node indices on the facets tagged ``tag`` (vertices and edge nodes)."""
        return np.unique(self.facets(tag).nodes)

    def facets(self, tag: str) -> FacetSet:
        """The facets tagged ``tag``, oriented outward, with quadrature data.

        Raises:
            ParameterError: unknown tag, or a tagged facet that is no face of
                any cell.
        """
        tri = self.facet_vertices(tag)
        # Orientation: the cell on the facet's side lies behind the normal.
        cells = np.asarray(self.mesh.cells)
        n = np.int64(len(self.mesh.points))
        faces = np.sort(cells[:, _TET_FACES], axis=2).reshape(-1, 3).astype(np.int64)
        keys = (faces[:, 0] * n + faces[:, 1]) * n + faces[:, 2]
        order = np.argsort(keys)
        wanted = np.sort(tri, axis=1).astype(np.int64)
        wanted = (wanted[:, 0] * n + wanted[:, 1]) * n + wanted[:, 2]
        pos = np.minimum(np.searchsorted(keys[order], wanted), len(keys) - 1)
        found = keys[order][pos] == wanted
        if not np.all(found):
            raise ParameterError(
                f"facet tag {tag!r}: {int((~found).sum())} facet(s) are not faces of any cell"
            )
        owner = order[pos] // 4
        P = self.mesh.points
        normal = np.cross(P[tri[:, 1]] - P[tri[:, 0]], P[tri[:, 2]] - P[tri[:, 0]])
        inward = P[cells[owner]].mean(axis=1) - P[tri].mean(axis=1)
        flip = np.einsum("fi,fi->f", normal, inward) > 0
        tri = tri.copy()
        tri[flip] = tri[flip][:, [0, 2, 1]]
        nodes = tri
        if self.degree == 2:
            mids = [
                [self._edges[tuple(sorted((int(f[a]), int(f[b]))))] for a, b in TRIANGLE_EDGES]
                for f in tri
            ]
            nodes = np.concatenate([tri, np.array(mids, dtype=np.int64).reshape(-1, 3)], axis=1)
        points, weights = rule("triangle", self._facet_degree)
        N, dN = _lagrange(points, self.degree, TRIANGLE_EDGES)
        return FacetSet(nodes=nodes, N=N, dN=dN, weights=weights)

    def cell_tag_mask(self, tag: str) -> np.ndarray:
        """Boolean (m,) of the cells tagged ``tag`` (e.g. a scar region)."""
        values = self.mesh.cell_values
        values = np.ones(self.num_cells, dtype=np.int32) if values is None else np.asarray(values)
        return values == self.tag_value(tag, cells=True)

    def locate(self, points: np.ndarray, *, tolerance: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
        """Containing cell and basis values of reference ``points`` (p, 3) [mm].

        Returns ``(cells (p,), values (p, n))`` so that the displacement at
        point i is ``values[i] @ u[cell_nodes[cells[i]]]``.  On curved cells
        the reference coordinates come from Newton iterations on the
        isoparametric map.

        Raises:
            ParameterError: a point outside the mesh, naming it in mm.
        """
        points = np.atleast_2d(np.asarray(points, dtype=np.float64))
        P = self.mesh.points[np.asarray(self.mesh.cells)]  # (m, 4, 3)
        T = np.linalg.inv(np.transpose(P[:, 1:] - P[:, :1], (0, 2, 1)))  # (m, 3, 3)
        cells, values = [], []
        for x in points:
            xi = np.einsum("mij,mj->mi", T, x - P[:, 0])
            inside = np.min(_barycentric(xi), axis=1)
            c = int(np.argmax(inside))
            if inside[c] < -1e-6:
                raise ParameterError(
                    f"probe point ({x[0]:.3f}, {x[1]:.3f}, {x[2]:.3f}) mm lies outside the mesh"
                )
            local = xi[c : c + 1]
            X = self.nodes[self.cell_nodes[c]]
            for _ in range(20):  # isoparametric inverse (one step on straight cells)
                N, dN = _lagrange(local, self.degree, TET_EDGES)
                r = N[0] @ X - x
                if np.linalg.norm(r) < tolerance:
                    break
                local = local - np.linalg.solve(X.T @ dN[0], r)[None]
            cells.append(c)
            values.append(_lagrange(local, self.degree, TET_EDGES)[0][0])
        return np.array(cells, dtype=np.int64), np.array(values)

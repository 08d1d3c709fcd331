"""`MeshData`: the DOLFINx-free hand-off between meshing and mechanics.

A :class:`MeshData` is a serial, validated, immutable description of a volume
mesh with named boundary-facet and cell tags.  Meshing code produces it with
numpy, gmsh or meshio only; the mechanics layer turns it into a distributed
DOLFINx mesh with mesh tags.  It is saved to (and loaded from) a single HDF5
file, or converted to and from :class:`meshio.Mesh` for visualisation and for
meshes made elsewhere.

Vertex order follows DOLFINx.  A tetrahedron is any positively oriented vertex
list (``det[x1-x0, x2-x0, x3-x0] > 0``).  A hexahedron lists its vertices in
the tensor-product (lexicographic) order of DOLFINx: vertex ``i + 2j + 4k`` sits
at reference corner ``(i, j, k)``, so ``(0,0,0), (1,0,0), (0,1,0), (1,1,0),
(0,0,1), (1,0,1), (0,1,1), (1,1,1)``; this is *not* the VTK order (which goes
round each quadrilateral).  Quadrilateral facets likewise use the
tensor-product order ``(0,0), (1,0), (0,1), (1,1)``.  :meth:`MeshData.to_meshio`
and :meth:`MeshData.from_meshio` convert to and from the VTK order of meshio.

Curved (second-order) tetrahedra keep ``cells`` as their four corner vertices
and add :attr:`MeshData.edge_nodes`: the index in ``points`` of the node on
each of the six edges, in the edge order of DOLFINx/basix
(:data:`TET_EDGES`: ``(2,3), (1,3), (1,2), (0,3), (0,2), (0,1)``), so that
``[cells | edge_nodes]`` is the 10-node DOLFINx cell of a degree-2 Lagrange
geometry.  Code that reads only ``cells`` sees the straight-sided mesh on the
same vertices; facets are always given by their corner vertices.
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Mapping
from pathlib import Path

import meshio
import numpy as np

from ..errors import MeshError, MissingTagError

__all__ = [
    "MeshData",
    "CELL_TYPES",
    "boundary_facets",
    "tag_value",
    "FIBRE_TOLERANCE",
    "TET_EDGES",
]

#: Supported cell types and their (vertices per cell, vertices per facet).
CELL_TYPES: Mapping[str, tuple[int, int]] = types.MappingProxyType(
    {"tetrahedron": (4, 3), "hexahedron": (8, 4)}
)

# meshio block names of the cells and of their facets.
_MESHIO_CELL = {"tetrahedron": "tetra", "hexahedron": "hexahedron"}
_MESHIO_FACET = {"tetrahedron": "triangle", "hexahedron": "quad"}

# DOLFINx tensor-product order <-> VTK order; both permutations are involutions.
_HEX_VTK = np.array([0, 1, 3, 2, 4, 5, 7, 6])
_QUAD_VTK = np.array([0, 1, 3, 2])

# Local vertices of each facet of a cell (DOLFINx order; as sets).
_CELL_FACETS = {
    "tetrahedron": np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]]),
    "hexahedron": np.array(
        [[0, 2, 4, 6], [1, 3, 5, 7], [0, 1, 4, 5], [2, 3, 6, 7], [0, 1, 2, 3], [4, 5, 6, 7]]
    ),
}

#: Local vertex pairs of the six edges of a tetrahedron, in DOLFINx/basix order.
TET_EDGES = ((2, 3), (1, 3), (1, 2), (0, 3), (0, 2), (0, 1))
_TET_EDGES = np.array(TET_EDGES)
# DOLFINx edge order <-> the VTK/meshio "tetra10" order (0,1),(1,2),(0,2),(0,3),(1,3),(2,3).
_EDGES_TO_VTK = np.array([5, 2, 4, 3, 1, 0])
_EDGES_FROM_VTK = np.argsort(_EDGES_TO_VTK)

_FORMAT = "organfem.MeshData"
_FORMAT_VERSION = 1
_DATASETS = ("points", "cells", "facets", "facet_values", "cell_values")
_OPTIONAL_DATASETS = ("fibres", "edge_nodes")

#: Largest accepted deviation of a fibre basis from orthonormality, max |R R^T - I|.
FIBRE_TOLERANCE = 1e-6


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _as_array(name: str, value, dtype, ndim: int) -> np.ndarray:
    """A C-contiguous copy of ``value`` with the given dtype and rank."""
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise MeshError(f"MeshData.{name}: cannot be read as an array ({err})") from err
    if raw.ndim != ndim:
        raise MeshError(f"MeshData.{name}: expected a {ndim}-d array, got shape {raw.shape}")
    if np.issubdtype(dtype, np.integer):
        if raw.size and not np.issubdtype(raw.dtype, np.integer):
            raise MeshError(f"MeshData.{name}: expected integers, got dtype {raw.dtype}")
        if raw.size and (raw.min() < np.iinfo(dtype).min or raw.max() > np.iinfo(dtype).max):
            raise MeshError(f"MeshData.{name}: values do not fit in {np.dtype(dtype).name}")
    elif raw.size and not np.issubdtype(raw.dtype, np.number):
        raise MeshError(f"MeshData.{name}: expected numbers, got dtype {raw.dtype}")
    return np.array(raw, dtype=dtype, order="C", copy=True)


def _names(field: str, names: Mapping[str, int]) -> Mapping[str, int]:
    if not isinstance(names, Mapping):
        raise MeshError(f"MeshData.{field}: expected a mapping name -> tag, got {type(names)}")
    out: dict[str, int] = {}
    for key, value in names.items():
        if not isinstance(key, str) or not key:
            raise MeshError(f"MeshData.{field}: names must be non-empty strings, got {key!r}")
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise MeshError(
                f"MeshData.{field}[{key!r}]: tags must be positive integers, got {value!r}"
            )
        out[key] = int(value)
    if len(set(out.values())) != len(out):
        raise MeshError(f"MeshData.{field}: two names share one tag value: {out}")
    return types.MappingProxyType(out)


def _check_tags(field: str, values: np.ndarray, names: Mapping[str, int]) -> None:
    """Every tag value has a name and every name tags at least one entity."""
    present = set(np.unique(values).tolist())
    unnamed = sorted(present - set(names.values()))
    if unnamed:
        raise MeshError(
            f"MeshData.{field}_values: tag values {unnamed} have no name in "
            f"{field}_names={dict(names)}"
        )
    unused = sorted(k for k, v in names.items() if v not in present)
    if unused:
        raise MeshError(
            f"MeshData.{field}_names: names {unused} tag no {field}; "
            f"values present: {sorted(present)}"
        )


def _row_keys(rows: np.ndarray) -> np.ndarray:
    """One hashable key per row of vertex indices, independent of their order."""
    rows = np.ascontiguousarray(np.sort(rows, axis=1))
    return rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()


def _corner_jacobians(points: np.ndarray, cells: np.ndarray, cell_type: str) -> np.ndarray:
    """Determinants of the edge frames at each cell corner, shape (m, corners).

    For a tetrahedron this is ``6 * volume`` (one corner suffices); for a
    trilinear hexahedron it is the Jacobian determinant at each of its eight
    corners, all of which are positive for a valid element.
    """
    x = points[cells]
    if cell_type == "tetrahedron":
        return np.linalg.det(x[:, 1:] - x[:, :1])[:, None]
    dets = []
    for corner in range(8):
        # Edge along reference axis a: flip bit a, with the sign of the step.
        frame = [
            (x[:, corner ^ (1 << a)] - x[:, corner]) * (1.0 if not corner >> a & 1 else -1.0)
            for a in range(3)
        ]
        dets.append(np.linalg.det(np.stack(frame, axis=1)))
    return np.stack(dets, axis=1)


def _p2_gradients(xi: np.ndarray) -> np.ndarray:
    """Gradients of the 10 quadratic Lagrange basis functions at reference point ``xi``.

    Returns shape (10, 3): vertices 0-3 then the edges of :data:`TET_EDGES`.
    """
    lam = np.array([1.0 - xi.sum(), *xi])
    dlam = np.vstack([-np.ones(3), np.eye(3)])  # d(lambda_i)/d(xi), (4, 3)
    grads = [(4.0 * lam[i] - 1.0) * dlam[i] for i in range(4)]
    grads += [4.0 * (lam[a] * dlam[b] + lam[b] * dlam[a]) for a, b in TET_EDGES]
    return np.array(grads)


# Evaluation points of the quadratic map's Jacobian: the four corners and the centroid.
_P2_CHECK_POINTS = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.25, 0.25, 0.25]])


def _quadratic_jacobians(points: np.ndarray, nodes: np.ndarray, xis: np.ndarray) -> np.ndarray:
    """det(dx/dxi) of the quadratic map of each 10-node cell at ``xis``, shape (m, k)."""
    x = points[nodes]  # (m, 10, 3)
    return np.stack(
        [np.linalg.det(np.einsum("mni,na->mia", x, _p2_gradients(xi))) for xi in xis], axis=1
    )


def _tet_quadrature() -> tuple[np.ndarray, np.ndarray]:
    """A 27-point rule on the reference tetrahedron, exact to degree 5 (collapsed Gauss)."""
    g, w = np.polynomial.legendre.leggauss(3)
    g, w = 0.5 * (g + 1.0), 0.5 * w
    u, v, t = (a.ravel() for a in np.meshgrid(g, g, g, indexing="ij"))
    wu, wv, wt = (a.ravel() for a in np.meshgrid(w, w, w, indexing="ij"))
    xi = np.stack([u, v * (1 - u), t * (1 - u) * (1 - v)], axis=1)  # Duffy map
    return xi, wu * wv * wt * (1 - u) ** 2 * (1 - v)


def _check_edge_nodes(value, points, cells, cell_type: str) -> np.ndarray:
    """Validated mid-edge nodes of curved tetrahedra: shape (m, 6), conforming."""
    if cell_type != "tetrahedron":
        raise MeshError(
            f"MeshData.edge_nodes: curved (second-order) cells must be tetrahedra, "
            f"got cell_type {cell_type!r}"
        )
    edge_nodes = _as_array("edge_nodes", value, np.int64, 2)
    m, n = cells.shape[0], points.shape[0]
    if edge_nodes.shape != (m, 6):
        raise MeshError(
            f"MeshData.edge_nodes: expected shape ({m}, 6) (one node per edge of each "
            f"tetrahedron, edges in the order {TET_EDGES}), got {edge_nodes.shape}"
        )
    if edge_nodes.min() < 0 or edge_nodes.max() >= n:
        bad = edge_nodes.min() if edge_nodes.min() < 0 else edge_nodes.max()
        raise MeshError(
            f"MeshData.edge_nodes: point index {bad} out of range [0, {n}) (there are {n} points)"
        )
    shared = np.intersect1d(edge_nodes, cells)
    if shared.size:
        raise MeshError(
            f"MeshData.edge_nodes: {shared.size} points are both a cell vertex and an edge "
            f"node, first point {shared[0]}"
        )
    # Conforming: one node per edge, one edge per node.
    edges = np.sort(cells[:, _TET_EDGES].reshape(-1, 2), axis=1)
    pairs = np.unique(np.column_stack([edges, edge_nodes.reshape(-1)]), axis=0)
    for what, columns in (("edge", pairs[:, :2]), ("edge node", pairs[:, 2:])):
        _, counts = np.unique(columns, axis=0, return_counts=True)
        if (counts > 1).any():
            raise MeshError(
                f"MeshData.edge_nodes: cells sharing an edge must share its node (and each "
                f"node sits on one edge); {int((counts > 1).sum())} {what}s are not "
                f"consistent"
            )
    nodes = np.concatenate([cells, edge_nodes], axis=1)
    dets = _quadratic_jacobians(points, nodes, _P2_CHECK_POINTS)
    bad = np.flatnonzero((dets <= 0).any(axis=1))
    if bad.size:
        raise MeshError(
            f"MeshData.edge_nodes: {bad.size} curved tetrahedra are inverted or degenerate "
            f"(need a positive Jacobian determinant of the quadratic map at the corners and "
            f"centroid); first: cell {bad[0]} with nodes {nodes[bad[0]].tolist()}"
        )
    return edge_nodes


def _check_fibres(value, num_cells: int) -> np.ndarray:
    """Validated per-cell bases: shape (m, 3, 3), finite, orthonormal rows."""
    fibres = _as_array("fibres", value, np.float64, 3)
    if fibres.shape != (num_cells, 3, 3):
        raise MeshError(
            f"MeshData.fibres: expected shape ({num_cells}, 3, 3) (one basis with rows "
            f"f0, s0, n0 per cell), got {fibres.shape}"
        )
    finite = np.isfinite(fibres).all(axis=(1, 2))
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise MeshError(f"MeshData.fibres: {bad.size} cells have NaN/inf, first cell {bad[0]}")
    error = np.abs(np.einsum("mij,mkj->mik", fibres, fibres) - np.eye(3)).max(axis=(1, 2))
    bad = np.flatnonzero(error > FIBRE_TOLERANCE)
    if bad.size:
        raise MeshError(
            f"MeshData.fibres: rows (f0, s0, n0) must be orthonormal (max |R R^T - I| <= "
            f"{FIBRE_TOLERANCE:g}); {bad.size} cells are not, first cell {bad[0]} with "
            f"error {error[bad[0]]:.3g}"
        )
    return fibres


def tag_value(names: Mapping[str, int], name: str, kind: str) -> int:
    """The value of the ``kind`` (facet or cell) tag ``name`` in ``names``.

    Raises:
        MissingTagError: listing the available names.
    """
    try:
        return names[name]
    except KeyError:
        raise MissingTagError(f"no {kind} tag named {name!r}; available: {sorted(names)}") from None


def boundary_facets(cells: np.ndarray, cell_type: str) -> np.ndarray:
    """The facets that belong to exactly one cell, in order of first appearance.

    Args:
        cells: vertex indices, shape (m, 4) or (m, 8) (DOLFINx order).
        cell_type: ``"tetrahedron"`` or ``"hexahedron"``.

    Returns:
        Vertex indices of the boundary facets, shape (f, 3) or (f, 4); the
        quadrilaterals of hexahedra are in tensor-product order.
    """
    if cell_type not in CELL_TYPES:
        raise MeshError(f"boundary_facets: cell_type {cell_type!r} not in {sorted(CELL_TYPES)}")
    faces = np.asarray(cells)[:, _CELL_FACETS[cell_type]].reshape(-1, CELL_TYPES[cell_type][1])
    _, first, counts = np.unique(_row_keys(faces), return_index=True, return_counts=True)
    return faces[np.sort(first[counts == 1])]


@dataclasses.dataclass(frozen=True, eq=False)
class MeshData:
    """A validated volume mesh with named facet and cell tags (serial, immutable).

    Arrays are copied and made read-only at construction.  Tag values are
    positive integers (0 is left for "untagged" in DOLFINx mesh tags); every
    tag value present has a name and every name tags something.

    Attributes:
        points: vertex coordinates [mm], shape (n, 3), float64, finite.
        cells: vertex indices per cell, shape (m, 4) for ``"tetrahedron"``
            (positively oriented) or (m, 8) for ``"hexahedron"`` (DOLFINx
            tensor-product order, see the module docstring), int64.
        cell_type: ``"tetrahedron"`` or ``"hexahedron"``.
        facets: vertex indices of tagged facets, shape (f, 3) for tetrahedra
            or (f, 4) for hexahedra (tensor-product order), int64; each must be
            a facet of some cell, none listed twice.
        facet_values: tag of each facet, shape (f,), int32.
        facet_names: tag name -> tag value, e.g. ``{"endo": 1, "epi": 2, "base": 3}``.
        cell_values: tag of each cell, shape (m,), int32; default all 1.
        cell_names: tag name -> tag value; default ``{"tissue": 1}``.
        fibres: optional local material basis per cell, shape (m, 3, 3),
            float64, rows ``(f0, s0, n0)`` (fibre, sheet, sheet-normal unit
            vectors), orthonormal to within :data:`FIBRE_TOLERANCE`; e.g. from
            :func:`organfem.fibres.ldrb_fibres`.  ``None``: no fibres.
        edge_nodes: optional mid-edge nodes of curved (second-order)
            tetrahedra, shape (m, 6), int64: the index in ``points`` of the
            node on each edge of each cell, edges in the order
            :data:`TET_EDGES` of DOLFINx; shared edges share their node, and
            no edge node is a cell vertex.  ``None``: straight-sided cells.
            ``cells`` always holds the corner vertices, so :attr:`points` then
            also holds points that are not vertices.

    Raises:
        MeshError: naming the field and what was expected, for wrong shapes or
            dtypes, indices out of range, NaN/inf coordinates, cells with
            non-positive volume, unknown facets, inconsistent tag names, or
            fibres of the wrong shape, non-finite or not orthonormal, or edge
            nodes that do not conform or give a non-positive Jacobian of the
            quadratic map at a corner or the centroid of a cell.
    """

    points: np.ndarray
    cells: np.ndarray
    cell_type: str
    facets: np.ndarray
    facet_values: np.ndarray
    facet_names: Mapping[str, int]
    cell_values: np.ndarray | None = None
    cell_names: Mapping[str, int] | None = None
    fibres: np.ndarray | None = None
    edge_nodes: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.cell_type not in CELL_TYPES:
            raise MeshError(
                f"MeshData.cell_type: expected one of {sorted(CELL_TYPES)}, got {self.cell_type!r}"
            )
        per_cell, per_facet = CELL_TYPES[self.cell_type]
        points = _as_array("points", self.points, np.float64, 2)
        if points.shape[1] != 3 or points.shape[0] == 0:
            raise MeshError(f"MeshData.points: expected shape (n>0, 3), got {points.shape}")
        if not np.isfinite(points).all():
            bad = np.flatnonzero(~np.isfinite(points).all(axis=1))
            raise MeshError(f"MeshData.points: {bad.size} points are NaN/inf, first index {bad[0]}")
        n = points.shape[0]

        cells = _as_array("cells", self.cells, np.int64, 2)
        if cells.shape[1] != per_cell or cells.shape[0] == 0:
            raise MeshError(
                f"MeshData.cells: expected shape (m>0, {per_cell}) for {self.cell_type}, "
                f"got {cells.shape}"
            )
        facets = _as_array("facets", self.facets, np.int64, 2)
        if facets.shape[1] != per_facet:
            raise MeshError(
                f"MeshData.facets: expected shape (f, {per_facet}) for {self.cell_type}, "
                f"got {facets.shape}"
            )
        for name, idx in (("cells", cells), ("facets", facets)):
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                bad = idx.min() if idx.min() < 0 else idx.max()
                raise MeshError(
                    f"MeshData.{name}: vertex index {bad} out of range [0, {n}) "
                    f"(there are {n} points)"
                )
            repeated = np.flatnonzero((np.diff(np.sort(idx, axis=1), axis=1) == 0).any(axis=1))
            if repeated.size:
                row = repeated[0]
                raise MeshError(f"MeshData.{name}[{row}]: repeated vertex in {idx[row].tolist()}")

        dets = _corner_jacobians(points, cells, self.cell_type)
        bad = np.flatnonzero((dets <= 0).any(axis=1))
        if bad.size:
            raise MeshError(
                f"MeshData.cells: {bad.size} {self.cell_type} cells are inverted or degenerate "
                f"(need a positive Jacobian determinant at every corner in "
                f"{'DOLFINx tensor-product' if per_cell == 8 else 'positive'} vertex order); "
                f"first: cell {bad[0]} = {cells[bad[0]].tolist()}"
            )

        facet_values = _as_array("facet_values", self.facet_values, np.int32, 1)
        if facet_values.shape != (facets.shape[0],):
            raise MeshError(
                f"MeshData.facet_values: expected shape ({facets.shape[0]},) to match facets, "
                f"got {facet_values.shape}"
            )
        facet_names = _names("facet_names", self.facet_names)
        _check_tags("facet", facet_values, facet_names)
        if facets.shape[0]:
            keys = _row_keys(facets)
            if np.unique(keys).size != keys.size:
                raise MeshError("MeshData.facets: a facet is listed more than once")
            cell_keys = _row_keys(cells[:, _CELL_FACETS[self.cell_type]].reshape(-1, per_facet))
            unknown = np.flatnonzero(~np.isin(keys, cell_keys))
            if unknown.size:
                raise MeshError(
                    f"MeshData.facets: {unknown.size} facets are not facets of any cell; "
                    f"first: facet {unknown[0]} = {facets[unknown[0]].tolist()}"
                )

        if self.cell_values is None:
            cell_values = np.ones(cells.shape[0], dtype=np.int32)
        else:
            cell_values = _as_array("cell_values", self.cell_values, np.int32, 1)
        if cell_values.shape != (cells.shape[0],):
            raise MeshError(
                f"MeshData.cell_values: expected shape ({cells.shape[0]},) to match cells, "
                f"got {cell_values.shape}"
            )
        cell_names = _names(
            "cell_names", {"tissue": 1} if self.cell_names is None else self.cell_names
        )
        _check_tags("cell", cell_values, cell_names)
        fibres = None if self.fibres is None else _check_fibres(self.fibres, cells.shape[0])
        edge_nodes = None
        if self.edge_nodes is not None:
            edge_nodes = _check_edge_nodes(self.edge_nodes, points, cells, self.cell_type)

        for field, value in (
            ("points", points),
            ("cells", cells),
            ("facets", facets),
            ("facet_values", facet_values),
            ("facet_names", facet_names),
            ("cell_values", cell_values),
            ("cell_names", cell_names),
            ("fibres", fibres),
            ("edge_nodes", edge_nodes),
        ):
            object.__setattr__(
                self, field, _frozen(value) if isinstance(value, np.ndarray) else value
            )

    def __reduce__(self):
        # Pickled (mpi4py's bcast) with plain dicts: the read-only name
        # mappings themselves cannot be pickled; validation runs again.
        fields = [getattr(self, f.name) for f in dataclasses.fields(self)]
        fields = [dict(v) if isinstance(v, Mapping) else v for v in fields]
        return (type(self), tuple(fields))

    @property
    def num_points(self) -> int:
        """Number of points (vertices and, for curved cells, edge nodes)."""
        return self.points.shape[0]

    @property
    def order(self) -> int:
        """Geometry degree: 1 for straight-sided cells, 2 with :attr:`edge_nodes`."""
        return 1 if self.edge_nodes is None else 2

    @property
    def nodes(self) -> np.ndarray:
        """All geometry nodes per cell in DOLFINx order, shape (m, 4), (m, 8) or (m, 10).

        ``cells`` for straight-sided cells, ``[cells | edge_nodes]`` for curved
        tetrahedra (the node order of a degree-2 Lagrange tetrahedron).
        """
        if self.edge_nodes is None:
            return self.cells
        return _frozen(np.concatenate([self.cells, self.edge_nodes], axis=1))

    def linear(self) -> MeshData:
        """The straight-sided mesh on the same vertices (order 1).

        Edge nodes are dropped, and points that are no cell's vertex with
        them, so vertices are renumbered in their order; tags and fibres are
        kept.  Returns ``self`` if the mesh is already straight-sided.
        """
        if self.edge_nodes is None:
            return self
        used = np.unique(self.cells)
        renumber = np.full(self.num_points, -1, dtype=np.int64)
        renumber[used] = np.arange(used.size)
        return dataclasses.replace(
            self,
            points=self.points[used],
            cells=renumber[self.cells],
            facets=renumber[self.facets],
            edge_nodes=None,
        )

    @property
    def num_cells(self) -> int:
        """Number of cells."""
        return self.cells.shape[0]

    def facet_tag(self, name: str) -> int:
        """The tag value of the facet set called ``name``.

        Raises:
            MissingTagError: listing the available facet names.
        """
        return tag_value(self.facet_names, name, "facet")

    def cell_tag(self, name: str) -> int:
        """The tag value of the cell set called ``name``.

        Raises:
            MissingTagError: listing the available cell names.
        """
        return tag_value(self.cell_names, name, "cell")

    def facets_of(self, name: str) -> np.ndarray:
        """Vertex (corner) indices of the facets tagged ``name``, shape (k, 3 or 4)."""
        return self.facets[self.facet_values == self.facet_tag(name)]

    def cell_volumes(self) -> np.ndarray:
        """Volume of each cell [mm^3], shape (m,).

        Exact for tetrahedra, for curved (quadratic) tetrahedra (a degree-5
        rule for the Jacobian determinant, a polynomial of degree 3) and for
        trilinear hexahedra (2x2x2 Gauss quadrature of the Jacobian
        determinant, a polynomial of degree <= 2 in each reference coordinate).
        """
        if self.edge_nodes is not None:
            xi, w = _tet_quadrature()
            return _quadratic_jacobians(self.points, self.nodes, xi) @ w
        x = self.points[self.cells]
        if self.cell_type == "tetrahedron":
            return np.linalg.det(x[:, 1:] - x[:, :1]) / 6.0
        g = 0.5 + np.array([-0.5, 0.5]) / np.sqrt(3.0)  # Gauss points on [0, 1]
        corners = np.array([[i & 1, i >> 1 & 1, i >> 2 & 1] for i in range(8)], dtype=float)
        volume = np.zeros(self.num_cells)
        for xi in np.array(np.meshgrid(g, g, g, indexing="ij")).reshape(3, -1).T:
            # d(shape function of corner c)/d(xi_a) of the trilinear map
            w = np.where(corners == 1, xi, 1.0 - xi)  # (8, 3) one-dimensional factors
            sign = np.where(corners == 1, 1.0, -1.0)
            grad = np.stack(
                [sign[:, a] * np.prod(np.delete(w, a, axis=1), axis=1) for a in range(3)], axis=1
            )
            volume += np.linalg.det(np.einsum("mci,ca->mia", x, grad)) / 8.0
        return volume

    def with_tags(
        self,
        *,
        facets: np.ndarray | None = None,
        facet_values: np.ndarray | None = None,
        facet_names: Mapping[str, int] | None = None,
        cell_values: np.ndarray | None = None,
        cell_names: Mapping[str, int] | None = None,
    ) -> MeshData:
        """A copy with some tag fields replaced (geometry, edge nodes and fibres are kept).

        Arguments left as ``None`` keep their current value; the result is
        validated like a new :class:`MeshData`.
        """
        changes = {
            k: v
            for k, v in dict(
                facets=facets,
                facet_values=facet_values,
                facet_names=facet_names,
                cell_values=cell_values,
                cell_names=cell_names,
            ).items()
            if v is not None
        }
        return dataclasses.replace(self, **changes)

    def plane_of(self, name: str):
        """The least-squares plane of the facets tagged ``name`` (e.g. an LV's ``base``).

        Returns:
            ``(plane, off)``: the :class:`~organfem.meshing.Plane` through their
            vertices, its normal pointing away from the mesh's centroid (for an
            LV base: away from the apex), and the largest distance of a vertex
            from it [mm] (0 for a flat cut).

        Raises:
            MissingTagError: if no facet tag has that name.
        """
        from .surface import Plane

        x = self.points[np.unique(self.facets_of(name))]
        point = x.mean(axis=0)
        normal = np.linalg.svd(x - point)[2][-1]
        if normal @ (point - self.points.mean(axis=0)) < 0:
            normal = -normal
        return Plane(point, normal), float(np.abs((x - point) @ normal).max())

    def with_fibres(self, fibres: np.ndarray | None) -> MeshData:
        """A copy with the per-cell fibre bases replaced (``None`` removes them).

        Args:
            fibres: shape (m, 3, 3), rows ``(f0, s0, n0)`` per cell.

        Raises:
            MeshError: for a wrong shape, non-finite or non-orthonormal bases.
        """
        return dataclasses.replace(self, fibres=fibres)

    def to_meshio(self) -> meshio.Mesh:
        """A :class:`meshio.Mesh` with a cell block, a facet block and tags.

        Hexahedra and quadrilaterals are written in VTK order; curved
        tetrahedra as ``tetra10`` (VTK node order), their facets as the
        3-vertex ``triangle`` of their corners.  Tags go to the
        cell data ``"tags"`` and names to ``field_data`` as ``[tag, dim]``
        (the gmsh convention), so :meth:`from_meshio` reads them back.  With
        fibres, the cell data ``"fibre"`` holds each cell's ``f0`` (zeros on
        the facet block), for glyphs in ParaView; :meth:`from_meshio` does not
        read it back (one vector is not a full basis).

        Raises:
            MeshError: if a name is used both for a facet and a cell tag.
        """
        shared = sorted(set(self.facet_names) & set(self.cell_names))
        if shared:
            raise MeshError(f"MeshData.to_meshio: names {shared} tag both facets and cells")
        cells, facets = self.cells, self.facets
        cell_block = _MESHIO_CELL[self.cell_type]
        if self.cell_type == "hexahedron":
            cells, facets = cells[:, _HEX_VTK], facets[:, _QUAD_VTK]
        if self.edge_nodes is not None:
            cells, cell_block = np.hstack([cells, self.edge_nodes[:, _EDGES_TO_VTK]]), "tetra10"
        field_data = {k: np.array([v, 3]) for k, v in self.cell_names.items()}
        field_data |= {k: np.array([v, 2]) for k, v in self.facet_names.items()}
        cell_data = {"tags": [np.array(self.cell_values), np.array(self.facet_values)]}
        if self.fibres is not None:
            cell_data["fibre"] = [np.array(self.fibres[:, 0]), np.zeros((len(facets), 3))]
        return meshio.Mesh(
            np.array(self.points),
            [(cell_block, cells), (_MESHIO_FACET[self.cell_type], facets)],
            cell_data=cell_data,
            field_data=field_data,
        )

    @classmethod
    def from_meshio(
        cls,
        mesh: meshio.Mesh,
        *,
        tag_key: str | None = None,
        facet_names: Mapping[str, int] | None = None,
        cell_names: Mapping[str, int] | None = None,
    ) -> MeshData:
        """Build from a :class:`meshio.Mesh` (e.g. read from a gmsh ``.msh`` file).

        Args:
            mesh: a 3D mesh whose volume cells are all ``tetra``, all
                ``tetra10`` (curved, VTK node order) or all ``hexahedron``
                (VTK order); ``triangle``/``quad`` blocks are the tagged
                facets (of ``triangle6`` blocks the three corners are kept);
                other blocks (vertices, lines) are ignored.
            tag_key: cell-data name holding the tags; default ``"tags"`` if
                present, else ``"gmsh:physical"``.  Without tags every cell
                gets tag 1 and no facet is kept.
            facet_names: tag name -> value; default from ``mesh.field_data``
                entries ``[tag, 2]``.
            cell_names: tag name -> value; default from ``field_data`` entries
                ``[tag, 3]``, or ``{"tissue": 1}``.

        Raises:
            MeshError: for mixed or missing volume cells, a missing ``tag_key``,
                or any inconsistency found by :class:`MeshData`.
        """
        kinds = {b.type for b in mesh.cells} & {"tetra", "tetra10", "hexahedron"}
        if len(kinds) != 1:
            raise MeshError(
                f"from_meshio: expected volume cells of one type (tetra, tetra10 or "
                f"hexahedron), found blocks {[b.type for b in mesh.cells]}"
            )
        (cell_kind,) = kinds
        cell_type = "hexahedron" if cell_kind == "hexahedron" else "tetrahedron"
        facet_kinds = ("quad",) if cell_type == "hexahedron" else ("triangle", "triangle6")
        if tag_key is None:
            tag_key = next((k for k in ("tags", "gmsh:physical") if k in mesh.cell_data), None)
        elif tag_key not in mesh.cell_data:
            raise MeshError(
                f"from_meshio: no cell data {tag_key!r}; available: {sorted(mesh.cell_data)}"
            )

        cells, cell_values, facets, facet_values = [], [], [], []
        for i, block in enumerate(mesh.cells):
            values = (
                np.asarray(mesh.cell_data[tag_key][i])
                if tag_key is not None
                else np.ones(len(block.data))
            )
            if block.type == cell_kind:
                cells.append(block.data)
                cell_values.append(values)
            elif block.type in facet_kinds and tag_key is not None:
                facets.append(np.asarray(block.data)[:, : CELL_TYPES[cell_type][1]])
                facet_values.append(values)
        cells_arr = np.concatenate(cells)
        edge_nodes = None
        if cell_kind == "tetra10":
            cells_arr, edge_nodes = cells_arr[:, :4], cells_arr[:, 4:][:, _EDGES_FROM_VTK]
        facets_arr = np.concatenate(facets) if facets else np.zeros((0, CELL_TYPES[cell_type][1]))
        if cell_type == "hexahedron":
            cells_arr, facets_arr = cells_arr[:, _HEX_VTK], facets_arr[:, _QUAD_VTK]

        named = {k: np.asarray(v).ravel() for k, v in mesh.field_data.items()}
        if facet_names is None:
            facet_names = {k: int(v[0]) for k, v in named.items() if v.size == 2 and v[1] == 2}
        if cell_names is None:
            cell_names = {k: int(v[0]) for k, v in named.items() if v.size == 2 and v[1] == 3}
            cell_names = cell_names or {"tissue": 1}
        return cls(
            points=np.asarray(mesh.points, dtype=float),
            cells=cells_arr.astype(np.int64),
            cell_type=cell_type,
            facets=facets_arr.astype(np.int64),
            facet_values=np.concatenate(facet_values) if facet_values else np.zeros(0),
            facet_names=facet_names,
            cell_values=np.concatenate(cell_values),
            cell_names=cell_names,
            edge_nodes=None if edge_nodes is None else edge_nodes.astype(np.int64),
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write to one HDF5 file, atomically (temporary file, then rename).

        Layout: datasets ``points``, ``cells``, ``facets``, ``facet_values``,
        ``cell_values`` and, if present, ``fibres`` (m, 3, 3) and
        ``edge_nodes`` (m, 6); groups
        ``facet_names`` and ``cell_names`` whose attributes map name -> tag;
        root attributes ``format``, ``version`` and ``cell_type``.

        The file is built in memory and written with plain file I/O (HDF5
        crashes the process when a write to disk fails for want of space),
        to a hidden temporary file beside ``path`` that replaces ``path``
        once complete: a file already there is intact until then.  The new
        file's permissions follow the umask, as for any file the user
        creates (0644 with umask 022).

        Returns:
            The path written.

        Raises:
            OutputError: Naming the file (not its folder) and what went
                wrong (a folder in the way, no permission, a full disk, ...).
        """
        import io
        import secrets

        import h5py  # lazily: keeps `import organfem.meshing` light

        from ..errors import OutputError

        path = Path(path)
        if path.is_dir():
            raise OutputError(
                f"cannot write mesh file {path.name}: a folder of that name is in the way;"
                " choose another name or move the folder"
            )
        image = io.BytesIO()
        with h5py.File(image, "w") as f:
            f.attrs["format"] = _FORMAT
            f.attrs["version"] = _FORMAT_VERSION
            f.attrs["cell_type"] = self.cell_type
            for name in _DATASETS:
                f.create_dataset(name, data=getattr(self, name))
            for name in _OPTIONAL_DATASETS:
                if getattr(self, name) is not None:
                    f.create_dataset(name, data=getattr(self, name))
            for group in ("facet_names", "cell_names"):
                g = f.create_group(group)
                for key, value in getattr(self, group).items():
                    g.attrs[key] = value
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            # Mode 0o666 & ~umask, as open() gives (mkstemp would give 0600).
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "wb") as stream:
                stream.write(image.getbuffer())
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(tmp, path)
        except OSError as err:
            _remove_quietly(tmp)
            kept = "the file already there is unchanged" if path.exists() else "nothing was written"
            raise OutputError(
                f"cannot write mesh file {path.name}: {OutputError.reason(err)}; {kept}"
            ) from None
        except BaseException:
            _remove_quietly(tmp)
            raise
        return path

    @staticmethod
    def is_file(path: str | os.PathLike) -> bool:
        """Whether ``path`` is an HDF5 file written by :meth:`save` (False if unreadable)."""
        import h5py

        try:
            with h5py.File(path, "r") as f:
                return f.attrs.get("format") == _FORMAT
        except (OSError, ValueError):
            return False

    @classmethod
    def load(cls, path: str | os.PathLike) -> MeshData:
        """Read a file written by :meth:`save` (with or without fibres and edge nodes).

        Raises:
            MeshError: naming the path and the missing or bad item if the file
                is not readable HDF5, lacks a dataset or attribute, or holds an
                inconsistent mesh.
        """
        import h5py

        path = Path(path)
        try:
            f = h5py.File(path, "r")
        except (OSError, ValueError) as err:
            raise MeshError(f"{path}: not a readable HDF5 mesh file ({err})") from err
        with f:
            if f.attrs.get("format") != _FORMAT:
                raise MeshError(
                    f"{path}: attribute 'format' is {f.attrs.get('format')!r}, "
                    f"expected {_FORMAT!r} (not a MeshData file)"
                )
            if int(f.attrs.get("version", -1)) != _FORMAT_VERSION:
                raise MeshError(
                    f"{path}: format version {f.attrs.get('version')!r} is not "
                    f"{_FORMAT_VERSION}"
                )
            fields: dict = {"cell_type": str(f.attrs.get("cell_type", ""))}
            present = [n for n in _OPTIONAL_DATASETS if n in f]
            for name in _DATASETS + tuple(present):
                if not isinstance(f.get(name), h5py.Dataset):
                    raise MeshError(f"{path}: missing dataset {name!r}")
                try:
                    fields[name] = f[name][()]
                except (OSError, ValueError, KeyError) as err:
                    raise MeshError(f"{path}: dataset {name!r} is unreadable ({err})") from err
            for group in ("facet_names", "cell_names"):
                if not isinstance(f.get(group), h5py.Group):
                    raise MeshError(f"{path}: missing group {group!r}")
                fields[group] = {k: int(v) for k, v in f[group].attrs.items()}
        try:
            return cls(**fields)
        except MeshError as err:
            raise MeshError(f"{path}: {err}") from err


def _remove_quietly(path: Path) -> None:
    """Remove a temporary file if it is there (and the file system lets us)."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass

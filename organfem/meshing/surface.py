"""Label maps to closed, oriented, volume-true triangle surfaces.

The steps, each a plain function on a :class:`LabelSurface`:

1. :func:`label_surface`: SurfaceNets (VTK's ``vtkSurfaceNets3D`` through
   PyVista) on the voxel labels, with its constrained smoothing; every triangle
   remembers the label inside and the label outside it.
2. :func:`preserve_volume`: move the vertices along their normals so the
   enclosed volume equals the voxel volume of the label again.
3. :func:`remesh_surface`: isotropic triangles of a target edge length by
   Voronoi clustering (ACVD, Valette & Chassery 2004, via ``pyacvd``).
4. :func:`snap_to_planes`: put the triangles of planar cuts (LV base, vessel
   caps) exactly back on their plane.

Points are LPS millimetres (see :mod:`organfem.imaging.image`).  Surfaces are
oriented with outward normals (pointing out of the meshed labels).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import MeshError, SegmentationError

__all__ = [
    "Cavity",
    "cavity_volume",
    "cut_volume",
    "LabelSurface",
    "Plane",
    "label_surface",
    "preserve_volume",
    "remesh_surface",
    "snap_to_planes",
    "triangle_normals",
]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Plane:
    """An oriented plane: the points x with ``(x - point) . normal == 0``.

    ``normal`` is a unit vector pointing to the side that is cut away.
    """

    point: np.ndarray
    normal: np.ndarray

    def __post_init__(self) -> None:
        point = np.asarray(self.point, dtype=np.float64).reshape(3)
        normal = np.asarray(self.normal, dtype=np.float64).reshape(3)
        length = np.linalg.norm(normal)
        if not np.isfinite(point).all() or not np.isfinite(length) or length == 0:
            raise MeshError(f"Plane: need a finite point and a non-zero normal, got {normal}")
        object.__setattr__(self, "point", point)
        object.__setattr__(self, "normal", normal / length)

    def distance(self, x: np.ndarray) -> np.ndarray:
        """Signed distance [mm] of points (n, 3), positive on the cut-away side."""
        return (np.asarray(x) - self.point) @ self.normal

    def project(self, x: np.ndarray) -> np.ndarray:
        """Orthogonal projection of points (n, 3) onto the plane."""
        x = np.asarray(x, dtype=np.float64)
        return x - np.outer(self.distance(x), self.normal)


@dataclasses.dataclass(frozen=True, eq=False)
class LabelSurface:
    """A closed triangle surface around one or more labels.

    Attributes:
        points: LPS vertex coordinates [mm], shape (n, 3).
        triangles: vertex indices, shape (t, 3), oriented outward.
        inside: label value inside each triangle, shape (t,).
        outside: label value outside each triangle (0: background), shape (t,).
        target_volume: voxel volume of the enclosed labels [mm^3].
    """

    points: np.ndarray
    triangles: np.ndarray
    inside: np.ndarray
    outside: np.ndarray
    target_volume: float

    @property
    def volume(self) -> float:
        """Enclosed volume [mm^3] (divergence theorem; exact for a closed surface)."""
        x = self.points[self.triangles]
        return float(np.einsum("ij,ij->i", x[:, 0], np.cross(x[:, 1], x[:, 2])).sum() / 6.0)

    @property
    def triangle_areas(self) -> np.ndarray:
        """Area of each triangle [mm^2], shape (t,)."""
        return np.linalg.norm(_cross(self.points, self.triangles), axis=1) / 2.0

    @property
    def area(self) -> float:
        """Surface area [mm^2]."""
        return float(self.triangle_areas.sum())

    @functools.cached_property
    def _centre_tree(self):
        from scipy.spatial import cKDTree

        return cKDTree(self.points[self.triangles].mean(axis=1))

    def nearest_triangle(self, points: np.ndarray) -> np.ndarray:
        """Index of the triangle whose centroid is nearest each point, shape (n, 3) -> (n,)."""
        return self._centre_tree.query(np.asarray(points, dtype=np.float64))[1]

    def to_pyvista(self):
        """The surface as :class:`pyvista.PolyData` with cell data ``inside``/``outside``."""
        import pyvista as pv

        poly = pv.PolyData.from_regular_faces(self.points, self.triangles)
        poly.cell_data["inside"] = self.inside
        poly.cell_data["outside"] = self.outside
        return poly


def _cross(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    x = points[triangles]
    return np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])


def triangle_normals(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Unit normals of triangles (right-hand rule), shape (t, 3)."""
    n = _cross(points, triangles)
    return n / np.maximum(np.linalg.norm(n, axis=1), 1e-300)[:, None]


def _vertex_normals(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals."""
    n = _cross(points, triangles)
    out = np.zeros_like(points)
    for corner in range(3):
        np.add.at(out, triangles[:, corner], n)
    return out / np.maximum(np.linalg.norm(out, axis=1), 1e-300)[:, None]


def _edges(triangles: np.ndarray) -> np.ndarray:
    """The three edges of each triangle, vertex pairs sorted, shape (3 t, 2).

    Row ``3 i + k`` is edge ``k`` of triangle ``i``.
    """
    return np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)


def _edge_neighbours(triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(a, b)`` of triangles that share an edge."""
    edges = _edges(triangles)
    owner = np.repeat(np.arange(triangles.shape[0]), 3)
    order = np.lexsort(edges.T[::-1])
    edges, owner = edges[order], owner[order]
    same = np.all(edges[1:] == edges[:-1], axis=1)
    return owner[:-1][same], owner[1:][same]


def _edge_use(triangles: np.ndarray) -> tuple[int, int]:
    """Numbers of open (used once) and non-manifold (used > 2 times) edges."""
    _, counts = np.unique(_edges(triangles), axis=0, return_counts=True)
    return int(np.count_nonzero(counts == 1)), int(np.count_nonzero(counts > 2))


def _components(triangles: np.ndarray, num_points: int) -> np.ndarray:
    """Connected component index of each triangle (through shared vertices)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    t = triangles.shape[0]
    rows = np.repeat(np.arange(t), 3)
    graph = coo_matrix((np.ones(3 * t), (rows, triangles.ravel())), shape=(t, num_points))
    graph = (graph @ graph.T).tocsr()
    return connected_components(graph, directed=False)[1]


def _flip_components(points: np.ndarray, triangles: np.ndarray, outward: np.ndarray
                     ) -> np.ndarray:
    """Reverse each connected component whose triangles mostly face inward.

    ``outward`` scores each triangle (> 0 facing outward, < 0 inward); a
    component is flipped when its mean score is negative.
    """
    triangles = triangles.copy()
    comp = _components(triangles, points.shape[0])
    for c in np.unique(comp):
        members = comp == c
        if outward[members].mean() < 0:
            triangles[members] = triangles[members][:, ::-1]
    return triangles


def _orient_outward(points, triangles, inside_of) -> np.ndarray:
    """Orient each connected component of a closed surface outward.

    ``inside_of(x)`` tells whether points lie in the meshed labels.  A
    component is flipped when most probes one normal step beyond its
    triangles fall inside.  Consistent orientation within a component is
    made first by VTK.
    """
    import pyvista as pv

    poly = pv.PolyData.from_regular_faces(points, triangles)
    poly = poly.compute_normals(
        cell_normals=False, point_normals=True, consistent_normals=True,
        auto_orient_normals=False, split_vertices=False, flip_normals=False,
    )
    triangles = poly.regular_faces.astype(np.int64)
    normals = triangle_normals(points, triangles)
    centres = points[triangles].mean(axis=1)
    edge = np.linalg.norm(points[triangles[:, 1]] - points[triangles[:, 0]], axis=1)
    step = 0.75 * np.median(edge)
    probe_inside = inside_of(centres + step * normals)
    return _flip_components(points, triangles, np.where(probe_inside, -1.0, 1.0))


def _bounding_box(mask: np.ndarray, margin: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Index range ``[lo, hi)`` of the true voxels of a non-empty mask, ``margin`` wider
    (clipped to the array)."""
    index = np.argwhere(mask)
    lo = np.maximum(index.min(axis=0) - margin, 0)
    hi = np.minimum(index.max(axis=0) + 1 + margin, mask.shape)
    return lo, hi


def _kept_by_cuts(image, lo, hi, cuts: Sequence[Plane]) -> np.ndarray:
    """Whether each voxel centre of the box [lo, hi) is on the kept side of every plane."""
    kept = np.ones(tuple(np.asarray(hi) - np.asarray(lo)), dtype=bool)
    ranges = [np.arange(a, b) for a, b in zip(lo, hi)]
    for plane in cuts:
        # Signed distance of voxel centres, separable in i, j, k.
        step = (image.direction.T @ plane.normal) * image.spacing
        d0 = (image.origin - plane.point) @ plane.normal
        kept &= (d0 + step[0] * ranges[0][:, None, None] + step[1] * ranges[1][None, :, None]
                 + step[2] * ranges[2][None, None, :]) <= 0
    return kept


def cut_volume(image, mask: np.ndarray, cuts: Sequence[Plane] = ()) -> float:
    """Voxel volume [mm^3] of ``mask`` on the kept side of every cut plane."""
    if not mask.any():
        return 0.0
    lo, hi = _bounding_box(mask)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    return float((mask[box] & _kept_by_cuts(image, lo, hi, cuts)).sum() * image.voxel_volume)


def _well_composed(labels: np.ndarray, meshed: Sequence[int]) -> int:
    """Add voxels to the meshed labels until no two touch only along an edge or corner.

    Such contacts make the surface non-manifold (and SurfaceNets' smoothing
    tears it open there); they appear where a thin wall is voxelised or cut
    obliquely.  Each fix adds one voxel, labelled like its diagonal
    neighbour.  Works in place; returns the number of voxels added.
    """
    added = 0
    for _ in range(20):
        changed = 0
        mask = np.isin(labels, meshed)
        # Edge contacts: a 2x2 square with two diagonal voxels in and the others out.
        for a, b in ((0, 1), (0, 2), (1, 2)):
            def view(array, da, db):
                index = [slice(None)] * 3
                index[a] = slice(da, array.shape[a] - 1 + da)
                index[b] = slice(db, array.shape[b] - 1 + db)
                return array[tuple(index)]

            m00, m11, m01, m10 = (view(mask, *d) for d in ((0, 0), (1, 1), (0, 1), (1, 0)))
            for (p, q), (r, t), fill in (
                ((m00, m11), (m01, m10), (0, 1)), ((m01, m10), (m00, m11), (0, 0)),
            ):
                bad = p & q & ~r & ~t
                if bad.any():
                    target, source = view(labels, *fill), view(labels, 1, 1) if fill == (0, 1) \
                        else view(labels, 0, 1)
                    target[bad] = source[bad]
                    view(mask, *fill)[bad] = True
                    changed += int(bad.sum())
        # Corner contacts: a 2x2x2 cube with two opposite corners in and the other six out.
        corners = [(i, j, k) for i in (0, 1) for j in (0, 1) for k in (0, 1)]
        cube = {c: mask[c[0]:mask.shape[0] - 1 + c[0], c[1]:mask.shape[1] - 1 + c[1],
                        c[2]:mask.shape[2] - 1 + c[2]] for c in corners}
        for c in corners[:4]:
            opposite = tuple(1 - v for v in c)
            others = [cube[o] for o in corners if o not in (c, opposite)]
            bad = cube[c] & cube[opposite] & ~np.logical_or.reduce(others)
            if bad.any():
                # Fill the neighbour of corner c along the first axis.
                n = (1 - c[0], c[1], c[2])
                sl = lambda v: tuple(slice(v[d], labels.shape[d] - 1 + v[d]) for d in range(3))
                labels[sl(n)][bad] = labels[sl(c)][bad]
                mask[sl(n)][bad] = True
                changed += int(bad.sum())
        added += changed
        if not changed:
            return added
    return added


def label_surface(
    image,
    meshed: Sequence[int],
    *,
    context: Sequence[int] = (),
    cuts: Sequence[Plane] = (),
    smoothing_iterations: int = 16,
    repair: bool = True,
    source: str = "image",
) -> LabelSurface:
    """The closed outer surface of the voxels whose label is in ``meshed``.

    Args:
        image: an :class:`organfem.imaging.Image` of integer labels.
        meshed: label values to enclose (their union is meshed).
        context: other label values that only name the outside of triangles
            (for example the LV blood pool around an LV myocardium); labels
            in neither list count as background (0).
        cuts: planes; voxels on the cut-away side of any plane are removed
            from ``meshed`` and ``context`` first (a clean planar base or cap).
        smoothing_iterations: SurfaceNets constrained smoothing iterations.
        repair: drop pieces not connected to the largest one and add the
            voxels that make edge- or corner-only contacts face contacts.
        source: name of the input for error messages.

    Raises:
        SegmentationError: if nothing of ``meshed`` is left.
        MeshError: if the surface is not closed and manifold (labels that
            touch themselves only along a voxel edge or corner).
    """
    import pyvista as pv
    from scipy import ndimage

    labels = np.asarray(image.array)
    if not np.issubdtype(labels.dtype, np.integer):
        raise SegmentationError(f"{source}: a label map must hold integers, got {labels.dtype}")
    meshed = [int(v) for v in meshed]
    keep = np.isin(labels, meshed)
    if not keep.any():
        raise SegmentationError(f"{source}: no voxel has label {meshed}")
    # Work on the bounding box of the meshed labels, two voxels wider.
    lo, hi = _bounding_box(keep, margin=2)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    crop = np.where(np.isin(labels[box], meshed + [int(v) for v in context]), labels[box], 0)
    crop = crop.astype(np.int32)
    if cuts:
        crop[~_kept_by_cuts(image, lo, hi, cuts)] = 0
    pieces, count = ndimage.label(np.isin(crop, meshed), structure=np.ones((3, 3, 3)))
    if count > 1 and repair:
        sizes = np.bincount(pieces.ravel())[1:]
        crop[(pieces != 0) & (pieces != 1 + np.argmax(sizes))] = 0
        log.info("dropped %d small pieces (%d voxels) of label %s", count - 1,
                 sizes.sum() - sizes.max(), meshed)
    repaired = _well_composed(crop, meshed) if repair else 0
    if repaired:
        log.info("added %d voxels where the label touched itself only along an edge or corner",
                 repaired)
    count = int(np.isin(crop, meshed).sum())
    if count == 0:
        raise SegmentationError(f"{source}: the cut planes remove every voxel of label {meshed}")

    grid = pv.ImageData(dimensions=crop.shape, spacing=image.spacing, origin=lo * image.spacing)
    grid.point_data["labels"] = crop.ravel(order="F")
    present = [int(v) for v in np.unique(crop) if v != 0]
    surf = grid.contour_labels(
        "all",
        select_inputs=present,
        select_outputs=[v for v in meshed if v in present],
        output_mesh_type="triangles",
        smoothing_iterations=smoothing_iterations,
    )
    pairs = np.asarray(surf.cell_data["boundary_labels"]).astype(np.int64)
    triangles = surf.regular_faces.astype(np.int64)
    a_in, b_in = np.isin(pairs[:, 0], meshed), np.isin(pairs[:, 1], meshed)
    external = a_in ^ b_in  # interfaces between two meshed labels lie inside the mesh
    triangles, pairs = triangles[external], pairs[external]
    inside = np.where(a_in[external], pairs[:, 0], pairs[:, 1])
    outside = np.where(a_in[external], pairs[:, 1], pairs[:, 0])
    # Physical coordinates: x = origin + D (spacing * ijk); SurfaceNets gave spacing * ijk.
    points = image.origin + np.asarray(surf.points, dtype=np.float64) @ image.direction.T
    used, triangles = np.unique(triangles, return_inverse=True)
    triangles = triangles.reshape(-1, 3)
    points = points[used]

    open_edges, nonmanifold = _edge_use(triangles)
    if open_edges or nonmanifold:
        raise MeshError(
            f"{source}: the surface of label {meshed} is not watertight and manifold "
            f"({open_edges} open edges, {nonmanifold} edges shared by more than two "
            "triangles). The label touches itself along a voxel edge or corner; close it "
            "first (organfem.imaging.segment.morphological_close) or resample it finer."
        )

    def inside_of(x):
        return np.isin(image.sample(x), meshed)

    triangles = _orient_outward(points, triangles, inside_of)
    return LabelSurface(points, triangles, inside, outside, count * image.voxel_volume)


@dataclasses.dataclass(frozen=True)
class Cavity:
    """A chamber the meshed labels wrap around, whose volume is also kept.

    Attributes:
        label: label value of the chamber (e.g. the LV blood pool): the wall
            triangles are those whose ``outside`` is this label.
        volume: volume the chamber should have [mm^3] (its voxel volume).
        point: a point of the plane that closes an open chamber (its base),
            or any point for a closed one [mm].
    """

    label: int
    volume: float
    point: np.ndarray


def cavity_volume(surface: LabelSurface, cavity: Cavity) -> float:
    """Volume [mm^3] enclosed by the cavity's wall triangles (and its closing plane).

    The wall triangles face into the cavity, so the cavity volume is minus the
    sum of the signed tetrahedra they form with ``cavity.point``; the closing
    plane through that point adds nothing.
    """
    x = surface.points[surface.triangles[surface.outside == cavity.label]] - cavity.point
    return float(-np.einsum("ij,ij->i", x[:, 0], np.cross(x[:, 1], x[:, 2])).sum() / 6.0)


def preserve_volume(
    surface: LabelSurface,
    *,
    planes: Sequence[Plane] = (),
    cavity: Cavity | None = None,
    iterations: int = 4,
) -> LabelSurface:
    """Offset the vertices along their normals until the volume is the target.

    A normal offset ``d`` of a patch of area ``A`` changes the volume by about
    ``A d``; a few Newton steps on that estimate bring the relative error
    below 1e-6 for surfaces whose curvature radius is much larger than ``d``.
    With a ``cavity``, its wall and the rest of the surface get separate
    offsets so that both the enclosed volume and the cavity volume are kept
    (a uniform offset would restore the first at the expense of the second).

    Args:
        surface: a closed, outward-oriented surface.
        planes: vertices lying on one of these planes (within 1e-9 mm) move
            only within it, so planar cuts stay planar.
        cavity: a chamber whose volume is kept too.
        iterations: Newton steps.
    """
    points = surface.points.copy()
    triangles = surface.triangles
    pinned = [(np.abs(p.distance(points)) < 1e-9, p.normal) for p in planes]
    wall = np.zeros(triangles.shape[0], dtype=bool) if cavity is None else (
        surface.outside == cavity.label)
    for _ in range(iterations):
        current = dataclasses.replace(surface, points=points)
        areas = current.triangle_areas
        wall_offset = 0.0
        if wall.any():
            # Moving the wall outward (into the cavity) by d: cavity -A_w d, solid +A_w d.
            wall_offset = (cavity_volume(current, cavity) - cavity.volume) / areas[wall].sum()
        rest_area = areas[~wall].sum()
        rest_offset = (surface.target_volume - current.volume - areas[wall].sum() * wall_offset
                       ) / rest_area
        offset = np.where(wall, wall_offset, rest_offset) * areas
        vertex_offset = np.zeros(points.shape[0])
        vertex_area = np.zeros(points.shape[0])
        for corner in range(3):
            np.add.at(vertex_offset, triangles[:, corner], offset)
            np.add.at(vertex_area, triangles[:, corner], areas)
        vertex_offset /= np.maximum(vertex_area, 1e-300)
        normals = _vertex_normals(points, triangles)
        for mask, n in pinned:
            normals[mask] -= np.outer(normals[mask] @ n, n)
        points = points + vertex_offset[:, None] * normals
    return dataclasses.replace(surface, points=points)


def remesh_surface(surface: LabelSurface, size: float) -> LabelSurface:
    """Near-equilateral triangles of edge length about ``size`` [mm] (ACVD).

    Each new triangle takes the ``inside``/``outside`` labels of the nearest
    old one.  The enclosed volume is not restored here (see
    :func:`preserve_volume`).

    Raises:
        MeshError: if clustering yields a surface that is not closed and
            manifold (``size`` too large for thin parts of the label).
    """
    import pyacvd
    import pyvista as pv

    poly = pv.PolyData.from_regular_faces(surface.points, surface.triangles)
    # One vertex per sqrt(3)/2 size^2 of area (two equilateral triangles each).
    clusters = max(int(round(surface.area / (np.sqrt(3.0) / 2.0 * size**2))), 20)
    if poly.n_points < 6 * clusters:
        subdivisions = int(np.ceil(np.log(6 * clusters / poly.n_points) / np.log(4.0)))
        poly = poly.subdivide(subdivisions, subfilter="linear")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyacvd uses APIs newer pyvista deprecates
        clustering = pyacvd.Clustering(poly)
        clustering.cluster(clusters)
        new = clustering.create_mesh()
    points = np.asarray(new.points, dtype=np.float64)
    triangles = np.asarray(new.regular_faces, dtype=np.int64)
    open_edges, nonmanifold = _edge_use(triangles)
    if open_edges or nonmanifold:
        edges, counts = np.unique(_edges(triangles), axis=0, return_counts=True)
        bad = points[edges[counts != 2]].mean(axis=1)
        where = []
        for x in bad:  # one location per cluster of bad edges within 2 sizes
            if all(np.linalg.norm(x - y) > 2 * size for y in where):
                where.append(x)
        shown = "; ".join(f"({', '.join(f'{v:.1f}' for v in x)})" for x in where[:5])
        error = MeshError(
            f"remeshing at size {size:g} mm gave a surface with {open_edges} open and "
            f"{nonmanifold} non-manifold edges near {shown} mm (LPS): the label has parts "
            "(or gaps) thinner than about two elements there; use a smaller size or fix the "
            "label there"
        )
        error.locations = [np.asarray(x) for x in where]
        raise error
    nearest = surface.nearest_triangle(points[triangles].mean(axis=1))
    # Orientation: agree with the nearest old (outward) triangle, per component.
    agree = np.einsum(
        "ij,ij->i",
        triangle_normals(points, triangles),
        triangle_normals(surface.points, surface.triangles)[nearest],
    )
    triangles = _flip_components(points, triangles, agree)
    return LabelSurface(
        points, triangles, surface.inside[nearest], surface.outside[nearest],
        surface.target_volume,
    )


def snap_to_planes(
    surface: LabelSurface, planes: Sequence[Plane], *, tolerance: float
) -> tuple[LabelSurface, Mapping[int, np.ndarray]]:
    """Project the triangles that lie on cut planes exactly onto them.

    A triangle is a candidate when its centroid is within ``tolerance`` [mm]
    of the plane and its outward normal within 30 degrees of the plane's
    normal, or when two of its vertices are already projected, the third is
    within ``tolerance`` and its normal within 60 degrees (a slanted
    triangle of the rim, which would otherwise join the inner and outer
    walls directly).  Candidate vertices are projected until no new candidate
    appears; the triangles on the plane are those with all three vertices
    projected.

    Returns:
        The new surface and, for each plane index, a boolean mask of its
        triangles.
    """
    points = surface.points.copy()
    triangles = surface.triangles
    on_plane = {}
    for i, plane in enumerate(planes):
        projected = np.zeros(points.shape[0], dtype=bool)
        for _ in range(10):
            normals = triangle_normals(points, triangles) @ plane.normal
            distance = np.abs(plane.distance(points[triangles]))
            candidate = (distance.mean(axis=1) < tolerance) & (normals > np.cos(np.radians(30)))
            rim = (projected[triangles].sum(axis=1) == 2) & (distance.max(axis=1) < tolerance)
            candidate |= rim & (normals > np.cos(np.radians(60)))
            new = np.zeros_like(projected)
            new[triangles[candidate]] = True
            new &= ~projected
            if not new.any():
                break
            points[new] = plane.project(points[new])
            projected |= new
        on_plane[i] = projected[triangles].all(axis=1)
    return dataclasses.replace(surface, points=points), on_plane

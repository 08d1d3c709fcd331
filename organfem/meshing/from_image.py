"""Label maps to tagged tetrahedral meshes: LV myocardium, vessels, any labels.

The chain (see :mod:`organfem.meshing.surface` and :mod:`.tetra`)::

    labels -> checks (present, one piece) -> planar cuts -> SurfaceNets surface
           -> volume kept -> ACVD remesh at `size` -> cut faces snapped flat
           -> volume restored -> tetrahedra (gmsh or fTetWild)
           -> facet tags from the labels on either side -> quality report

Three entry points name the tags for their anatomy:

* :func:`lv_mesh`: ``endo`` (facing the LV blood pool), ``epi`` and ``base``,
  the plane through the valve openings of the blood pool (mitral and aortic),
  found from the label geometry and cut flat.
* :func:`vessel_mesh`: ``wall``, ``inlet`` and ``outlet_1``, ``outlet_2``, ...:
  the flat caps where the vessel leaves the image (or user planes).
* :func:`labels_mesh`: any set of labels meshed together; cells keep a tag per
  label and each boundary facet is tagged with the name of the label outside
  it (``background`` for 0).

Everything is in LPS millimetres, so the mesh overlays the image.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import ParameterError, SegmentationError
from ..imaging.labels import check_single_component, label_mask
from .mesh import MeshData, boundary_facets
from .quality import MeshQuality, QualityThresholds, mesh_quality
from .surface import (
    Cavity,
    LabelSurface,
    Plane,
    _bounding_box,
    _components,
    _edge_neighbours,
    cavity_volume,
    cut_volume,
    label_surface,
    preserve_volume,
    remesh_surface,
    snap_to_planes,
)
from .tetra import tetrahedralize

__all__ = ["ImageMesh", "lv_mesh", "vessel_mesh", "labels_mesh", "valve_plane"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ImageMesh:
    """A mesh made from an image, with what was measured on the way.

    Attributes:
        mesh: the tagged tetrahedral mesh (LPS mm).
        quality: its quality report (volume compared with the label volume).
        label_volume: voxel volume of the meshed labels after any cuts [mm^3].
        volume_change: relative volume change of each surface step before it
            was corrected: ``{"smoothing": ..., "remeshing": ...}``, and for an
            LV ``"cavity_smoothing"`` and ``"cavity_remeshing"`` for the cavity.
        seconds: wall time of each step [s].
        planes: the cut planes used, by name (``"base"``, ``"cap_0"``, ...).
    """

    mesh: MeshData
    quality: MeshQuality
    label_volume: float
    volume_change: Mapping[str, float]
    seconds: Mapping[str, float]
    planes: Mapping[str, Plane]


class _Clock:
    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str, message: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = now - self._t
        self._t = now
        log.info("%-9s %s (%.1f s)", name, message, self.seconds[name])


def _values(labels: Mapping[str, int], names: Sequence[str], what: str, source: str
            ) -> list[int]:
    missing = [n for n in names if n not in labels]
    if missing:
        raise ParameterError(
            f"{source}: {what}: label names {missing} are not defined; defined: {dict(labels)}"
        )
    return [int(labels[n]) for n in names]


#: Pieces of a label smaller than this fraction of its largest piece are
#: dropped as segmentation specks rather than reported as fragmentation.
SPECK_FRACTION = 0.01


def _mask(image, labels, name, source) -> np.ndarray:
    try:
        return label_mask(image, labels, name)
    except SegmentationError as err:
        raise SegmentationError(f"{source}: {err}") from err


def _check_labels(image, labels, names, source) -> None:
    for name in names:
        mask = _mask(image, labels, name, source)
        try:
            check_single_component(mask, name, min_fraction=SPECK_FRACTION)
        except SegmentationError as err:
            raise SegmentationError(f"{source}: {err}") from err


def valve_plane(image, labels: Mapping[str, int], *, myocardium: str, blood_pool: str,
                source: str = "image") -> Plane:
    """The LV base plane through the openings of the blood pool.

    The openings are the blood-pool voxels that touch (6-connectivity) a voxel
    that is neither blood pool nor myocardium: the mitral and aortic orifices
    in a whole-heart segmentation, the open top of a truncated LV.  The plane
    is their least-squares plane, moved outwards by half the voxel's extent
    along its normal (the opening voxels' centres lie on average that far
    inside the boundary they mark); its normal points from the LV towards
    the openings.

    Raises:
        SegmentationError: if the blood pool is closed (no openings).
    """
    from scipy import ndimage

    pool = _mask(image, labels, blood_pool, source)
    myo = _mask(image, labels, myocardium, source)
    lo, hi = _bounding_box(pool, margin=1)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    other = ~(pool[box] | myo[box])
    openings = pool[box] & ndimage.binary_dilation(other)
    if openings.sum() < 3:
        raise SegmentationError(
            f"{source}: the blood pool {blood_pool!r} is enclosed by the myocardium "
            f"{myocardium!r}: no valve openings to place the base plane"
        )
    x = image.index_to_physical(np.argwhere(openings) + lo)
    centre = x.mean(axis=0)
    normal = np.linalg.eigh(np.cov((x - centre).T))[1][:, 0]
    lv_centre = image.index_to_physical(np.argwhere(myo).mean(axis=0)[None])[0]
    if normal @ (centre - lv_centre) < 0:
        normal = -normal
    half_voxel = 0.5 * np.max(np.abs(image.direction.T @ normal) * image.spacing)
    return Plane(centre + half_voxel * normal, normal)


def _surface_chain(image, meshed, context, cuts, *, size, smoothing_iterations, source, clock,
                   cavity=None):
    """Surface steps shared by all anatomies; returns the final surface and stats."""
    surface = label_surface(
        image, meshed, context=context, cuts=cuts,
        smoothing_iterations=smoothing_iterations, source=source,
    )
    change = {"smoothing": surface.volume / surface.target_volume - 1.0}
    if cavity is not None:
        change["cavity_smoothing"] = cavity_volume(surface, cavity) / cavity.volume - 1.0
    clock.lap("surface", f"{surface.triangles.shape[0]:,} triangles, volume "
                         f"{100 * change['smoothing']:+.3f} % vs label after smoothing")
    surface = preserve_volume(surface, cavity=cavity)
    remeshed = remesh_surface(surface, size)
    change["remeshing"] = remeshed.volume / remeshed.target_volume - 1.0
    if cavity is not None:
        change["cavity_remeshing"] = cavity_volume(remeshed, cavity) / cavity.volume - 1.0
    tolerance = 0.5 * size + np.max(image.spacing)
    remeshed, on_plane = snap_to_planes(remeshed, cuts, tolerance=tolerance)
    remeshed = preserve_volume(remeshed, planes=cuts, cavity=cavity)
    clock.lap("remesh", f"{remeshed.triangles.shape[0]:,} triangles at {size:g} mm, volume "
                        f"{100 * change['remeshing']:+.3f} % before correction")
    return remeshed, on_plane, change


def _volume_mesh(surface: LabelSurface, size, mesher, clock
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points, tetrahedra, boundary facets and, per facet, its surface triangle."""
    points, tets = tetrahedralize(surface, size, mesher=mesher)
    facets = boundary_facets(tets, "tetrahedron")
    nearest = surface.nearest_triangle(points[facets].mean(axis=1))
    clock.lap("tetrahedra", f"{tets.shape[0]:,} cells, {points.shape[0]:,} points")
    return points, tets, facets, nearest


def _finish(points, tets, facets, facet_values, facet_names, cell_values, cell_names,
            surface, change, clock, thresholds, source, planes) -> ImageMesh:
    keep = facet_values > 0
    mesh = MeshData(
        points=points, cells=tets, cell_type="tetrahedron",
        facets=facets[keep], facet_values=facet_values[keep], facet_names=facet_names,
        cell_values=cell_values, cell_names=cell_names,
    )
    quality = mesh_quality(mesh, reference_volume=surface.target_volume, thresholds=thresholds)
    clock.lap("quality", f"min dihedral {quality.min_dihedral_deg:.1f} deg, volume "
                         f"{100 * quality.volume_error:+.3f} % vs label")
    quality.check(source)
    return ImageMesh(mesh, quality, surface.target_volume, change, clock.seconds, planes)


def lv_mesh(
    image,
    labels: Mapping[str, int],
    *,
    myocardium: str = "lv_myocardium",
    blood_pool: str = "lv_blood_pool",
    size: float = 3.0,
    base_offset: float = 0.0,
    base: Plane | None = None,
    smoothing_iterations: int = 16,
    mesher: str = "auto",
    thresholds: QualityThresholds | None = None,
    source: str = "image",
) -> ImageMesh:
    """Tetrahedral LV myocardium with ``endo``, ``epi`` and ``base`` facet tags.

    Args:
        image: label map (:class:`organfem.imaging.Image` of integers).
        labels: label name -> value (see :func:`organfem.imaging.parse_labels`).
        myocardium: name of the LV myocardium label.
        blood_pool: name of the LV blood-pool label.
        size: target edge length [mm].
        base_offset: move the base plane this far towards the apex [mm] (cuts
            away the valve rings).
        base: the base plane (normal towards the valves); default found by
            :func:`valve_plane`.
        smoothing_iterations: SurfaceNets smoothing iterations.
        mesher: ``"auto"``, ``"gmsh"`` or ``"ftetwild"``.
        thresholds: quality limits; default :class:`QualityThresholds`.
        source: name of the input for messages (a file name).

    Raises:
        ParameterError, SegmentationError, MeshError, MeshQualityError: naming
            ``source`` and the problem.
    """
    clock = _Clock()
    myo_value, pool_value = _values(labels, [myocardium, blood_pool], "lv_mesh", source)
    _check_labels(image, labels, [myocardium, blood_pool], source)
    if base is None:
        base = valve_plane(image, labels, myocardium=myocardium, blood_pool=blood_pool,
                           source=source)
    base = Plane(base.point - base_offset * base.normal, base.normal)
    clock.lap("labels", f"base plane through {np.round(base.point, 1).tolist()} mm, "
                        f"normal {np.round(base.normal, 3).tolist()}")
    pool = _mask(image, labels, blood_pool, source)
    cavity = Cavity(pool_value, cut_volume(image, pool, [base]), base.point)
    surface, on_plane, change = _surface_chain(
        image, [myo_value], [pool_value], [base], size=size,
        smoothing_iterations=smoothing_iterations, source=source, clock=clock, cavity=cavity,
    )
    points, tets, facets, nearest = _volume_mesh(surface, size, mesher, clock)
    names = {"endo": 1, "epi": 2, "base": 3}
    triangle_tag = np.where(surface.outside == pool_value, 1, 2)
    triangle_tag[on_plane[0]] = 3
    triangle_tag = _merge_stray_patches(surface.triangles, triangle_tag, (1, 2))
    return _finish(points, tets, facets, triangle_tag[nearest], names,
                   None, {myocardium: 1}, surface, change, clock, thresholds, source,
                   {"base": base})


def _merge_stray_patches(triangles: np.ndarray, tags: np.ndarray, names: Sequence[int]
                         ) -> np.ndarray:
    """Give small detached patches of a tag the tag of their neighbours.

    Each tag in ``names`` should form one edge-connected region (one
    endocardium, one epicardium).  A triangle at a rim can take the wrong side's
    label (its nearest voxel face lies across the rim); such a patch is cut off
    from its tag's main region, so every smaller component takes the most
    common tag among the triangles that share an edge with it.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    tags = tags.copy()
    t = triangles.shape[0]
    a, b = _edge_neighbours(triangles)
    for name in names:
        inside = tags == name
        keep = inside[a] & inside[b]
        graph = coo_matrix((np.ones(keep.sum()), (a[keep], b[keep])), shape=(t, t))
        _, comp = connected_components(graph, directed=False)
        sizes = np.bincount(comp[inside], minlength=t)
        if np.count_nonzero(sizes) <= 1:
            continue
        main = np.argmax(sizes)
        for c in np.flatnonzero(sizes):
            if c == main:
                continue
            members = inside & (comp == c)
            border = (members[a] & ~inside[b]) | (members[b] & ~inside[a])
            neighbours = np.concatenate([tags[b][members[a] & border], tags[a][members[b] & border]])
            if neighbours.size:
                tags[members] = np.bincount(neighbours).argmax()
    return tags


def _border_planes(image, mask: np.ndarray) -> list[Plane]:
    """The image faces (half a voxel beyond the outermost centres) that the mask touches."""
    planes = []
    shape = np.array(image.shape)
    for axis in range(3):
        for side, layer in ((-1, 0), (1, shape[axis] - 1)):
            if np.take(mask, layer, axis=axis).any():
                index = (shape - 1) / 2.0
                index[axis] = layer + 0.5 * side
                point = image.index_to_physical(index[None])[0]
                planes.append(Plane(point, side * image.direction[:, axis]))
    return planes


def vessel_mesh(
    image,
    labels: Mapping[str, int],
    *,
    vessel: str = "aorta",
    size: float = 2.0,
    caps: Sequence[Plane] = (),
    inlet: Sequence[float] | None = None,
    smoothing_iterations: int = 16,
    mesher: str = "auto",
    thresholds: QualityThresholds | None = None,
    source: str = "image",
) -> ImageMesh:
    """Tetrahedral vessel (lumen or wall label) with ``wall``, ``inlet``, ``outlet_k`` tags.

    Caps are the flat ends where the vessel is cut: by the planes in ``caps``
    (normals pointing away from the kept part) and by the image border where
    the label touches it.  The inlet is the cap nearest the point ``inlet``
    [mm], or the largest cap; outlets are numbered by decreasing area.

    Raises:
        SegmentationError: if the vessel has fewer than two caps.
    """
    clock = _Clock()
    (value,) = _values(labels, [vessel], "vessel_mesh", source)
    _check_labels(image, labels, [vessel], source)
    mask = np.asarray(image.array) == value
    cuts = list(caps) + _border_planes(image, mask)
    clock.lap("labels", f"{len(cuts)} cut planes")
    surface, on_plane, change = _surface_chain(
        image, [value], [], cuts, size=size,
        smoothing_iterations=smoothing_iterations, source=source, clock=clock,
    )
    # Caps: connected groups of on-plane triangles (one plane may cut twice).
    cap_id = np.full(surface.triangles.shape[0], -1)
    groups = []
    for i in on_plane:
        members = np.flatnonzero(on_plane[i] & (cap_id < 0))
        if members.size == 0:
            continue
        comp = _components(surface.triangles[members], surface.points.shape[0])
        for c in np.unique(comp):
            cap_id[members[comp == c]] = len(groups)
            groups.append(members[comp == c])
    if len(groups) < 2:
        raise SegmentationError(
            f"{source}: vessel {vessel!r} has {len(groups)} flat cap(s); need an inlet and at "
            "least one outlet where it leaves the image or is cut by a plane in `caps`"
        )
    triangle_areas = surface.triangle_areas
    areas = [triangle_areas[g].sum() for g in groups]
    centres = [surface.points[surface.triangles[g]].reshape(-1, 3).mean(axis=0) for g in groups]
    if inlet is not None:
        first = int(np.argmin([np.linalg.norm(c - np.asarray(inlet, float)) for c in centres]))
    else:
        first = int(np.argmax(areas))
    rest = sorted((i for i in range(len(groups)) if i != first), key=lambda i: -areas[i])
    names = {"wall": 1, "inlet": 2} | {f"outlet_{k + 1}": 3 + k for k in range(len(rest))}
    triangle_tag = np.ones(surface.triangles.shape[0], dtype=np.int32)
    triangle_tag[groups[first]] = 2
    for k, i in enumerate(rest):
        triangle_tag[groups[i]] = 3 + k
    points, tets, facets, nearest = _volume_mesh(surface, size, mesher, clock)
    planes = {f"cap_{i}": p for i, p in enumerate(cuts)}
    return _finish(points, tets, facets, triangle_tag[nearest], names, None, {vessel: 1},
                   surface, change, clock, thresholds, source, planes)


def labels_mesh(
    image,
    labels: Mapping[str, int],
    *,
    names: Sequence[str],
    size: float = 3.0,
    cuts: Sequence[Plane] = (),
    smoothing_iterations: int = 16,
    mesher: str = "auto",
    thresholds: QualityThresholds | None = None,
    source: str = "image",
) -> ImageMesh:
    """One tetrahedral mesh of several labels, with a cell tag per label.

    Cells are tagged with the label at their centroid (nearest voxel), so the
    interfaces between meshed labels follow the cells rather than a smoothed
    surface.  Boundary facets are tagged with the name of the label outside
    them (``background`` where the outside is unlabelled).
    """
    clock = _Clock()
    values = _values(labels, names, "labels_mesh", source)
    _check_labels(image, labels, names, source)
    context = [v for n, v in labels.items() if n not in names]
    surface, _, change = _surface_chain(
        image, values, context, list(cuts), size=size,
        smoothing_iterations=smoothing_iterations, source=source, clock=clock,
    )
    points, tets, facets, nearest = _volume_mesh(surface, size, mesher, clock)
    by_value = {int(v): n for n, v in labels.items()}
    outside = surface.outside[nearest]
    facet_names, facet_values = {}, np.zeros(facets.shape[0], dtype=np.int32)
    for value in np.unique(outside):
        name = by_value.get(int(value), "background")
        facet_names[name] = len(facet_names) + 1
        facet_values[outside == value] = facet_names[name]
    centres = points[tets].mean(axis=1)
    sampled = image.sample(centres)
    fallback = surface.inside[surface.nearest_triangle(centres)]
    cell_label = np.where(np.isin(sampled, values), sampled, fallback)
    cell_names = {n: i + 1 for i, n in enumerate(names)}
    cell_values = np.zeros(tets.shape[0], dtype=np.int32)
    for n, v in zip(names, values):
        cell_values[cell_label == v] = cell_names[n]
    present = set(np.unique(cell_values).tolist())
    cell_names = {n: t for n, t in cell_names.items() if t in present}
    return _finish(points, tets, facets, facet_values, facet_names, cell_values, cell_names,
                   surface, change, clock, thresholds, source,
                   {f"cut_{i}": p for i, p in enumerate(cuts)})

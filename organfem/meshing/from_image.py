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

from ..errors import MeshError, ParameterError, SegmentationError
from ..imaging.image import check_geometry
from ..imaging.labels import check_single_component, label_mask, resolve_label
from .mesh import MeshData, boundary_facets
from .quality import MeshQuality, QualityThresholds, mesh_quality
from .surface import (
    Cavity,
    LabelSurface,
    Plane,
    _bounding_box,
    _components,
    _edge_neighbours,
    _kept_by_cuts,
    cavity_volume,
    cut_volume,
    label_surface,
    preserve_volume,
    remesh_surface,
    snap_to_planes,
)
from .tetra import tetrahedralize

__all__ = [
    "ImageMesh",
    "WallRepair",
    "lv_mesh",
    "vessel_mesh",
    "labels_mesh",
    "valve_plane",
    "long_axis",
    "vessel_end_caps",
    "estimated_cells",
    "MAX_CELLS",
    "MAX_BASE_TILT_DEG",
    "MAX_CUT_FRACTION",
]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class WallRepair:
    """Where the LV blood pool met the outside through its wall, and what was added.

    Attributes:
        leaks: the places where blood-pool voxels touch a voxel that is neither
            blood pool nor myocardium below the base plane (holes and
            zero-thickness patches of the wall), largest first: ``(centre,
            area)`` with the LPS centre [mm] and the contact area [mm^2].
        min_wall: the minimum wall thickness enforced [mm] (None: not repaired).
        added_volume: myocardium added by the repair [mm^3].
        added_fraction: ``added_volume`` over the myocardium kept below the base.
    """

    leaks: tuple[tuple[np.ndarray, float], ...]
    min_wall: float | None
    added_volume: float = 0.0
    added_fraction: float = 0.0

    @property
    def leak_area(self) -> float:
        """Total contact area of the blood pool with the outside [mm^2]."""
        return float(sum(area for _, area in self.leaks))

    def where(self, limit: int = 5) -> str:
        """The largest leaks as text: ``"12 mm^2 at (x, y, z) mm, ..."``."""
        shown = ", ".join(f"{area:.0f} mm^2 at ({', '.join(f'{v:.1f}' for v in centre)}) mm"
                          for centre, area in self.leaks[:limit])
        more = f" and {len(self.leaks) - limit} more" if len(self.leaks) > limit else ""
        return shown + more

    def summary(self) -> str:
        if not self.leaks and not self.added_volume:
            return "wall: closed, nowhere thinner than the minimum"
        text = (f"wall: blood pool touches the outside in {len(self.leaks)} place(s), "
                f"{self.leak_area:.0f} mm^2 in all" + (f" ({self.where()})" if self.leaks else ""))
        if self.min_wall:
            text += (f"; thickened to {self.min_wall:g} mm: {self.added_volume / 1e3:.2f} mL "
                     f"of myocardium added ({100 * self.added_fraction:.1f} %)")
        return text


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
        removed: share of each label's voxel volume that the cut planes
            removed, by label name (LV: myocardium and blood pool).
        base_tilt_deg: LV: angle between the base plane's normal and the long
            axis of the blood pool [deg].
        base_method: LV: how the base plane was found.
        wall: LV: leaks through the wall and the repair (see :class:`WallRepair`).
    """

    mesh: MeshData
    quality: MeshQuality
    label_volume: float
    volume_change: Mapping[str, float]
    seconds: Mapping[str, float]
    planes: Mapping[str, Plane]
    removed: Mapping[str, float] = dataclasses.field(default_factory=dict)
    base_tilt_deg: float | None = None
    base_method: str | None = None
    wall: WallRepair | None = None


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


class _Masks:
    """Label masks of one image, computed once, with their bounding boxes."""

    def __init__(self, image, labels: Mapping[str, int], source: str):
        self.image, self.labels, self.source = image, labels, source
        self._masks: dict[str, np.ndarray] = {}
        self._boxes: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._masks:
            try:
                self._masks[name] = label_mask(self.image, self.labels, name)
            except SegmentationError as err:
                raise SegmentationError(f"{self.source}: {err}") from err
        return self._masks[name]

    def present(self, name: str) -> bool:
        """Whether ``name`` is in the mapping and carried by some voxel."""
        if name not in self.labels:
            return False
        if name not in self._masks:
            mask = np.asarray(self.image.array) == self.labels[name]
            if not mask.any():
                return False
            self._masks[name] = mask
        return True

    def box(self, name: str, margin: int = 0) -> tuple[slice, ...]:
        """Slices of the bounding box of a label, ``margin`` voxels wider (clipped)."""
        if name not in self._boxes:
            mask = self[name]
            lo = [int(np.argmax(np.any(mask, axis=tuple(j for j in range(3) if j != i))))
                  for i in range(3)]
            hi = [mask.shape[i] - int(np.argmax(np.any(
                mask, axis=tuple(j for j in range(3) if j != i))[::-1])) for i in range(3)]
            self._boxes[name] = (np.array(lo), np.array(hi))
        lo, hi = self._boxes[name]
        lo = np.maximum(lo - margin, 0)
        hi = np.minimum(hi + margin, self.image.shape)
        return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))

    def check(self, names: Sequence[str]) -> None:
        """Each label present and one piece (specks tolerated), on its bounding box."""
        for name in names:
            try:
                check_single_component(self[name][self.box(name)], name,
                                       min_fraction=SPECK_FRACTION)
            except SegmentationError as err:
                raise SegmentationError(f"{self.source}: {err}") from err


def _mask(image, labels, name, source) -> np.ndarray:
    return _Masks(image, labels, source)[name]


#: Largest number of tetrahedra a mesh may have before meshing is refused
#: (estimated from the label volume and the element size).  A 2-core desktop
#: solves a few 10^5 cells; meshing a few million takes minutes and GBs.
MAX_CELLS = 2_000_000

#: Largest angle between the LV base plane's normal and the blood pool's long
#: axis [deg].  The mitral and aortic valve planes of real hearts lie within
#: about 10-30 deg of normal to the long axis; a plane beyond 45 deg cuts the
#: ventricle lengthwise.
MAX_BASE_TILT_DEG = 45.0

#: Largest share of the myocardium (and of the blood pool) that the base cut
#: may remove.  In a whole-heart segmentation the LV myocardium label ends near
#: the valves, so a base through them removes a few percent.
MAX_CUT_FRACTION = 0.25

#: Mean volume of a tetrahedron of a mesh with target edge length h, as a
#: multiple of h^3.  The regular tetrahedron has h^3 / (6 sqrt 2) = 0.118 h^3;
#: Delaunay meshes with Netgen optimisation of label surfaces at h = 2-6 mm
#: average about 0.08 h^3 (measured on the LV phantom meshes of the tests).
_CELL_VOLUME_PER_H3 = 0.08


def estimated_cells(volume: float, size: float) -> int:
    """Estimated number of tetrahedra of a solid of ``volume`` [mm^3] meshed at ``size`` [mm]."""
    return int(volume / (_CELL_VOLUME_PER_H3 * size**3))


def _check_size(size, max_cells: int, volume: float, source: str) -> float:
    try:
        size = float(size)
    except (TypeError, ValueError):
        raise ParameterError(f"{source}: mesh size {size!r}: expected a length in mm") from None
    if not np.isfinite(size) or size <= 0:
        raise ParameterError(f"{source}: mesh size must be a positive length, got {size:g} mm")
    cells = estimated_cells(volume, size)
    if cells > max_cells:
        raise ParameterError(
            f"{source}: a size of {size:g} mm on {volume / 1e3:.1f} mL of labels would make about "
            f"{cells:.2g} tetrahedra, more than the limit of {max_cells:.2g}; use a larger size "
            f"(about {(volume / (_CELL_VOLUME_PER_H3 * max_cells)) ** (1 / 3):.2g} mm gives the "
            "limit) or raise the limit (max_cells, --max-cells)"
        )
    return size


def _principal_axes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre, eigenvalues (ascending) and eigenvectors (columns) of a point cloud."""
    if points.shape[0] > 400_000:
        points = points[:: points.shape[0] // 200_000]
    centre = points.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov((points - centre).T))
    return centre, values, vectors


def _points(image, mask: np.ndarray, box: tuple[slice, ...] | None = None) -> np.ndarray:
    """LPS centres [mm] of the true voxels of ``mask`` (cropped to ``box``)."""
    if box is None:
        return image.index_to_physical(np.argwhere(mask).astype(float))
    lo = np.array([b.start for b in box])
    return image.index_to_physical((np.argwhere(mask[box]) + lo).astype(float))


def long_axis(image, blood_pool: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and long axis of a ventricle's blood pool (its principal axes).

    The axis is the direction of largest extent of the blood-pool voxels;
    its sign is arbitrary (the callers orient it from the apex to the base).

    Returns:
        ``(centre, axis)`` in LPS mm, ``axis`` a unit vector.
    """
    centre, _, vectors = _principal_axes(_points(image, blood_pool))
    return centre, vectors[:, 2]


def _face_areas(image) -> np.ndarray:
    """Area of a voxel face normal to each index axis [mm^2]."""
    s = np.asarray(image.spacing, dtype=float)
    return np.array([s[1] * s[2], s[0] * s[2], s[0] * s[1]])


def _contact_faces(a: np.ndarray, b: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """Per voxel of ``a``: the area of its faces shared with voxels of ``b`` [mm^2]."""
    out = np.zeros(a.shape, dtype=np.float64)
    for axis in range(3):
        n = a.shape[axis]
        lower = [slice(None)] * 3
        upper = [slice(None)] * 3
        lower[axis], upper[axis] = slice(0, n - 1), slice(1, n)
        lower, upper = tuple(lower), tuple(upper)
        out[lower] += (a[lower] & b[upper]) * areas[axis]
        out[upper] += (a[upper] & b[lower]) * areas[axis]
    return out


#: Labels through which blood leaves the LV: the mitral (left atrium) and
#: aortic (aorta, LV outflow tract) openings.
VALVE_LABELS = ("la_blood_pool", "aorta")


def _base_plane(image, masks: _Masks, *, myocardium: str, blood_pool: str,
                openings: Sequence[str]) -> tuple[Plane, str, np.ndarray]:
    """The base plane, how it was found, and the long axis (apex to base)."""
    from scipy import ndimage

    pool = masks[blood_pool]
    box = masks.box(blood_pool, margin=2)
    lo = np.array([b.start for b in box])
    inside = pool[box]
    neighbours = [n for n in openings if n not in (blood_pool, myocardium) and masks.present(n)]
    found = np.zeros_like(inside)
    if neighbours:
        valves = np.zeros_like(inside)
        for name in neighbours:
            valves |= masks[name][box]
        found = inside & ndimage.binary_dilation(valves)
    if found.sum() >= 10:
        method = "contacts of the blood pool with " + " and ".join(
            n for n in neighbours if (inside & ndimage.binary_dilation(masks[n][box])).any())
    else:
        # No atrium or aorta in the map: the openings are where the wall is
        # missing.  Gaps in the myocardium label make small openings too; the
        # valve openings are the large ones.
        other = ~(inside | masks[myocardium][box])
        found = inside & ndimage.binary_dilation(other)
        if found.sum() < 3:
            raise SegmentationError(
                f"{masks.source}: the blood pool {blood_pool!r} is enclosed by the myocardium "
                f"{myocardium!r} and no atrium or aorta label ({', '.join(openings)}) touches "
                "it: no valve openings to place the base plane; give it (base=Plane(point, "
                "normal), --base-plane 'x,y,z;nx,ny,nz' in mm)"
            )
        pieces, count = ndimage.label(found, structure=np.ones((3, 3, 3)))
        sizes = np.bincount(pieces.ravel())[1:]
        found = np.isin(pieces, 1 + np.flatnonzero(sizes >= 0.2 * sizes.max()))
        method = "the largest openings of the blood pool through its wall"
    x = image.index_to_physical((np.argwhere(found) + lo).astype(float))
    centre, values, vectors = _principal_axes(x)
    pool_centre, axis = long_axis(image, pool)
    if axis @ (centre - pool_centre) < 0:
        axis = -axis
    normal = vectors[:, 0]
    if values[1] < 4.0 * values[0]:
        # The openings do not span a plane (a narrow strip): take the plane
        # through their long direction that is closest to normal to the axis.
        line = vectors[:, 2]
        normal = axis - (axis @ line) * line
        normal /= np.linalg.norm(normal)
    if normal @ (centre - pool_centre) < 0:
        normal = -normal
    half_voxel = 0.5 * np.max(np.abs(image.direction.T @ normal) * image.spacing)
    return Plane(centre + half_voxel * normal, normal), method, axis


def valve_plane(image, labels: Mapping[str, int], *, myocardium: str = "lv_myocardium",
                blood_pool: str = "lv_blood_pool", openings: Sequence[str] = VALVE_LABELS,
                source: str = "image") -> Plane:
    """The LV base plane through the valve openings of the blood pool.

    Where the label map has the left atrium or the aorta (``openings``), the
    openings are the blood-pool voxels that touch them (6-connectivity): the
    mitral and aortic orifices.  Otherwise they are the blood-pool voxels that
    touch anything that is neither blood pool nor myocardium, keeping only the
    connected pieces at least a fifth the size of the largest, so that small
    gaps in the myocardium label (common near the apex of real segmentations)
    do not tilt the plane.  The plane is the openings' least-squares plane
    (or, if they span a strip rather than a plane, the plane through the strip
    closest to normal to the blood pool's long axis), moved outwards by half the
    voxel's extent along its normal (the opening voxels' centres lie on average
    that far inside the boundary they mark); its normal points from the LV
    towards the openings.

    Raises:
        SegmentationError: if the blood pool has no openings.
    """
    masks = _Masks(image, labels, source)
    myocardium = resolve_label(labels, myocardium)
    return _base_plane(image, masks, myocardium=myocardium, blood_pool=blood_pool,
                       openings=openings)[0]


def _removed(image, mask: np.ndarray, box, plane: Plane) -> float:
    """Share of the voxels of ``mask`` on the cut-away side of ``plane``."""
    lo = np.array([b.start for b in box])
    hi = np.array([b.stop for b in box])
    kept = mask[box] & _kept_by_cuts(image, lo, hi, [plane])
    return 1.0 - kept.sum() / max(mask[box].sum(), 1)


def _wall_leaks(image, pool_box: np.ndarray, myo_box: np.ndarray, kept: np.ndarray,
                below: np.ndarray, lo: np.ndarray) -> tuple[tuple[np.ndarray, float], ...]:
    """Where the kept blood pool touches a voxel below the base that is neither
    blood pool nor myocardium."""
    from scipy import ndimage

    inside = pool_box & kept
    outside = ~(pool_box | myo_box) & below
    area = _contact_faces(inside, outside, _face_areas(image))
    touching = area > 0
    if not touching.any():
        return ()
    pieces, count = ndimage.label(touching, structure=np.ones((3, 3, 3)))
    index = np.argwhere(touching)
    which = pieces[touching]
    sums = np.bincount(which, weights=area[touching], minlength=count + 1)[1:]
    counts = np.bincount(which, minlength=count + 1)[1:]
    centres = np.stack([np.bincount(which, weights=index[:, k], minlength=count + 1)[1:]
                        for k in range(3)], axis=1) / counts[:, None]
    centres = image.index_to_physical(centres + lo)
    order = np.argsort(-sums)
    return tuple((centres[i], float(sums[i])) for i in order)


def _thicken_wall(image, masks: _Masks, *, myocardium: str, blood_pool: str, base: Plane,
                  min_wall: float | None, channel: float, source: str):
    """Find leaks through the LV wall below ``base`` and, with ``min_wall``, close them.

    The repair: blood-pool channels through holes in the wall (the pieces of
    the blood pool that a morphological opening with a ball of radius
    ``channel`` [mm] removes and that touch the outside) become myocardium;
    then a morphological thickening: every voxel below the base plane within
    ``min_wall`` [mm] of the remaining blood pool (Euclidean distance between
    voxel centres, in mm on anisotropic grids) that is neither blood pool nor
    myocardium becomes myocardium.  Where the wall is closed and at least
    ``min_wall`` thick nothing changes.

    Returns:
        ``(image, WallRepair)``: the repaired image (the input if nothing changed).
    """
    from scipy import ndimage

    pool, myo = masks[blood_pool], masks[myocardium]
    reach = 0.0 if not min_wall else float(min_wall)
    margin = int(np.ceil(reach / np.min(image.spacing))) + 2
    box = masks.box(blood_pool, margin=margin)
    lo = np.array([b.start for b in box])
    hi = np.array([b.stop for b in box])
    kept = _kept_by_cuts(image, lo, hi, [base])
    # Voxels within half a voxel of the plane straddle it: what lies there
    # (the unlabelled valve rings) is cut away with the base, not a leak.
    half_voxel = 0.5 * np.max(np.abs(image.direction.T @ base.normal) * image.spacing)
    below = _kept_by_cuts(image, lo, hi, [Plane(base.point - half_voxel * base.normal,
                                                base.normal)])
    leaks = _wall_leaks(image, pool[box], myo[box], kept, below, lo)
    kept_myo = float((myo[box] & kept).sum() * image.voxel_volume)
    if not min_wall:
        if leaks:
            repair = WallRepair(leaks, None)
            raise SegmentationError(
                f"{source}: the LV blood pool touches the outside through the myocardium in "
                f"{len(leaks)} place(s), {repair.leak_area:.0f} mm^2 in all ({repair.where()}): "
                "the wall has holes or zero thickness there, so the endocardium would meet the "
                "epicardium and the cavity would not be closed. Thicken the wall to a minimum "
                "(min_wall=2.0, --min-wall '2 mm') or fix the segmentation there"
            )
        return image, WallRepair((), None)
    # Channels of blood pool through holes in the wall: the blood-pool voxels
    # that an opening with a ball of radius `channel` removes, in pieces that
    # reach a leak, become myocardium (a channel narrower than an element
    # cannot be meshed, and it is not cavity).
    blood = pool[box]
    fill = np.zeros_like(blood)
    if leaks and channel > 0:
        from ..imaging.image import Image
        from ..imaging.segment import morphological_open

        crop = Image(blood.astype(np.uint8), image.spacing)
        thin = blood & ~(np.asarray(morphological_open(crop, channel).array) != 0) & kept
        pieces, _ = ndimage.label(thin, structure=np.ones((3, 3, 3)))
        outside = ~(blood | myo[box]) & below
        touching = np.unique(pieces[thin & ndimage.binary_dilation(outside)])
        fill = np.isin(pieces, touching[touching > 0])
    cavity = blood & kept & ~fill
    distance = ndimage.distance_transform_edt(~cavity, sampling=image.spacing)
    add = ((distance <= reach * (1 + 1e-9)) & ~blood & ~myo[box] & below) | fill
    count = int(add.sum())
    repair = WallRepair(leaks, reach, count * image.voxel_volume,
                        count * image.voxel_volume / max(kept_myo, 1e-30))
    if count == 0:
        return image, repair
    array = np.array(image.array, copy=True)
    array[box][add] = masks.labels[myocardium]
    return image.with_array(array), repair


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
    openings: Sequence[str] = VALVE_LABELS,
    size: float = 3.0,
    base_offset: float = 0.0,
    base: Plane | None = None,
    min_wall: float | None = 2.0,
    max_base_tilt_deg: float = MAX_BASE_TILT_DEG,
    max_cut_fraction: float = MAX_CUT_FRACTION,
    max_cells: int = MAX_CELLS,
    smoothing_iterations: int = 16,
    mesher: str = "auto",
    thresholds: QualityThresholds | None = None,
    source: str = "image",
) -> ImageMesh:
    """Tetrahedral LV myocardium with ``endo``, ``epi`` and ``base`` facet tags.

    The steps: label checks -> base plane (from the contacts of the blood
    pool with the left atrium and the aorta, see :func:`valve_plane`) ->
    checks of the plane (its tilt from the long axis, the share of the
    myocardium it removes) -> leaks through the wall found and closed by
    thickening to ``min_wall`` -> surface, tetrahedra, tags.

    Args:
        image: label map (:class:`organfem.imaging.Image` of integers).
        labels: label name -> value (see :func:`organfem.imaging.parse_labels`);
            a preset's ``myocardium`` serves as ``lv_myocardium``.
        myocardium: name of the LV myocardium label.
        blood_pool: name of the LV blood-pool label.
        openings: labels whose contact with the blood pool marks the valves.
        size: target edge length [mm].
        base_offset: move the base plane this far towards the apex [mm] (cuts
            away the valve rings).
        base: the base plane (normal towards the valves); default found by
            :func:`valve_plane`.
        min_wall: minimum wall thickness [mm] enforced below the base by
            thickening the myocardium outwards where the blood pool is closer
            than this to the outside; None or 0 refuses a leaking wall instead.
        max_base_tilt_deg: largest angle of the base normal from the long axis.
        max_cut_fraction: largest share of the myocardium the base cut may remove.
        max_cells: refuse to mesh when about more tetrahedra would be made.
        smoothing_iterations: SurfaceNets smoothing iterations.
        mesher: ``"auto"``, ``"gmsh"`` or ``"ftetwild"``.
        thresholds: quality limits; default :class:`QualityThresholds`.
        source: name of the input for messages (a role or hash, not a path).

    Raises:
        ImageError, ParameterError, SegmentationError, MeshError,
            MeshQualityError: naming ``source`` and the problem in mm, mm^2, mL
            or degrees.
    """
    clock = _Clock()
    check_geometry(image, source)
    myocardium = resolve_label(labels, myocardium)
    myo_value, pool_value = _values(labels, [myocardium, blood_pool], "lv_mesh", source)
    masks = _Masks(image, labels, source)
    masks.check([myocardium, blood_pool])
    size = _check_size(size, max_cells, masks[myocardium].sum() * image.voxel_volume, source)
    long = None
    if base is None:
        base, method, long = _base_plane(image, masks, myocardium=myocardium,
                                         blood_pool=blood_pool, openings=openings)
    else:
        method = "given"
    base = Plane(base.point - float(base_offset) * base.normal, base.normal)
    if long is None:
        _, long = long_axis(image, masks[blood_pool])
    tilt = float(np.degrees(np.arccos(min(1.0, abs(float(long @ base.normal))))))
    removed = {name: _removed(image, masks[name], masks.box(name), base)
               for name in (myocardium, blood_pool)}
    where = (f"base plane through ({', '.join(f'{v:.1f}' for v in base.point)}) mm, normal "
             f"({', '.join(f'{v:.3f}' for v in base.normal)})"
             + (f", found from {method}," if method != "given" else " (given)"))
    clock.lap("labels", f"{where} {tilt:.1f} deg from the long axis; the cut removes "
                        f"{100 * removed[myocardium]:.1f} % of the myocardium and "
                        f"{100 * removed[blood_pool]:.1f} % of the blood pool")
    advice = ("give the base plane (base=Plane(point, normal); --base-plane 'x,y,z;nx,ny,nz' "
              "in mm, normal towards the valves), or label the left atrium and the aorta so "
              "that the valves can be found")
    if tilt > max_base_tilt_deg:
        raise SegmentationError(
            f"{source}: the {where} is {tilt:.0f} deg from the long axis of the blood pool "
            f"(limit {max_base_tilt_deg:g} deg): it would cut the ventricle lengthwise; {advice}"
        )
    if removed[myocardium] > max_cut_fraction:
        raise SegmentationError(
            f"{source}: the {where} would remove {100 * removed[myocardium]:.0f} % of the "
            f"myocardium (limit {100 * max_cut_fraction:g} %); {advice}"
        )
    image, wall = _thicken_wall(image, masks, myocardium=myocardium, blood_pool=blood_pool,
                                base=base, min_wall=min_wall,
                                channel=max(float(min_wall or 0.0), size), source=source)
    if wall.leaks or wall.added_volume:
        log.warning("%s: %s", source, wall.summary())
    clock.lap("wall", wall.summary())
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
    made = _finish(points, tets, facets, triangle_tag[nearest], names,
                   None, {myocardium: 1}, surface, change, clock, thresholds, source,
                   {"base": base})
    return dataclasses.replace(made, removed=removed, base_tilt_deg=tilt, base_method=method,
                               wall=wall)


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


def _geodesic(grid: np.ndarray, step: np.ndarray, start: int) -> np.ndarray:
    """Shortest-path length [mm] inside a mask from voxel ``start`` (26-connectivity).

    ``grid`` is the boolean mask, ``step`` the voxel size per axis [mm];
    returns a flat array over ``grid`` (inf outside or unreachable).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    index = -np.ones(grid.shape, dtype=np.int64)
    index[grid] = np.arange(int(grid.sum()))
    rows, cols, weights = [], [], []
    n = np.array(grid.shape)
    for offset in np.argwhere(np.ones((3, 3, 3), dtype=bool)) - 1:
        # Each undirected edge once: offsets whose first nonzero entry is +1.
        nonzero = np.flatnonzero(offset)
        if nonzero.size == 0 or offset[nonzero[0]] < 0:
            continue
        a = tuple(slice(max(0, -o), n[k] - max(0, o)) for k, o in enumerate(offset))
        b = tuple(slice(max(0, o), n[k] - max(0, -o)) for k, o in enumerate(offset))
        both = grid[a] & grid[b]
        rows.append(index[a][both])
        cols.append(index[b][both])
        weights.append(np.full(int(both.sum()), float(np.linalg.norm(offset * step))))
    rows, cols, weights = (np.concatenate(v) for v in (rows, cols, weights))
    size = int(grid.sum())
    graph = coo_matrix((weights, (rows, cols)), shape=(size, size)).tocsr()
    distance = dijkstra(graph, directed=False, indices=int(index.ravel()[start]))
    out = np.full(grid.size, np.inf)
    out[index.ravel() >= 0] = distance
    return out


def vessel_end_caps(image, mask: np.ndarray, cuts: Sequence[Plane] = (), *,
                    resolution: float = 1.5) -> list[Plane]:
    """Flat caps where a tubular label ends inside the image.

    The two ends of the vessel are the ends of its longest geodesic path
    (shortest paths inside the label on a grid of about ``resolution`` mm).
    An end that reaches the image border or a plane of ``cuts`` is left
    alone; at any other end the cap is perpendicular to the centreline (the
    line through the centroids of the slabs 1-2 and 2-3 radii from the end,
    the radius being ``sqrt(volume / (pi length))``), one radius from the tip,
    so that it crosses a full cross-section rather than the rounded end.

    Args:
        image: the label map's geometry.
        mask: boolean mask of the vessel (one piece).
        cuts: planes already cutting the vessel (normals away from the kept part).
        resolution: grid size for the geodesic distances [mm].

    Returns:
        The caps (normals pointing out of the vessel).
    """
    from scipy import ndimage

    lo, hi = _bounding_box(mask, margin=0)
    factor = np.maximum(1, np.round(resolution / image.spacing)).astype(int)
    crop = mask[tuple(slice(a, b) for a, b in zip(lo, hi))]
    pad = (-np.array(crop.shape)) % factor
    crop = np.pad(crop, [(0, int(p)) for p in pad])
    coarse = crop.reshape(crop.shape[0] // factor[0], factor[0], crop.shape[1] // factor[1],
                          factor[1], crop.shape[2] // factor[2], factor[2]).any(axis=(1, 3, 5))
    pieces, count = ndimage.label(coarse, structure=np.ones((3, 3, 3)))
    if count > 1:
        coarse = pieces == 1 + np.argmax(np.bincount(pieces.ravel())[1:])
    step = factor * image.spacing
    # Coarse voxel centres in image index space, then in LPS mm.
    index = (np.argwhere(coarse) * factor + (factor - 1) / 2.0 + lo)
    centres = image.index_to_physical(index)
    flat = np.flatnonzero(coarse.ravel())
    position = {int(f): i for i, f in enumerate(flat)}
    first = flat[np.argmin(np.linalg.norm(centres - centres.mean(axis=0), axis=1))]
    d0 = _geodesic(coarse, step, int(first))[flat]
    end_a = flat[int(np.argmax(d0))]
    da = _geodesic(coarse, step, int(end_a))[flat]
    end_b = flat[int(np.argmax(np.where(np.isfinite(da), da, -1)))]
    length = float(np.max(da[np.isfinite(da)]))
    volume = float(mask.sum() * image.voxel_volume)
    radius = float(np.sqrt(volume / (np.pi * max(length, 1e-9))))
    if length < 4.0 * radius:
        log.info("label is not tubular (length %.1f mm, %.1f radii): no end caps", length,
                 length / radius)
        return []
    db = _geodesic(coarse, step, int(end_b))[flat]
    caps: list[Plane] = []
    for end, opposite in ((end_a, db), (end_b, da)):
        # Distance from the end, measured from the far end: its level sets
        # near this end are close to cross-sections of the tube.
        distance = np.max(opposite[np.isfinite(opposite)]) - opposite
        near = distance <= 2.0 * min(radius, length / 8.0)
        half = (factor - 1) / 2.0
        at_border = ((index[near] - half <= 0).any()
                     or (index[near] + half >= np.array(image.shape) - 1).any())
        cut = any((plane.distance(centres[near]) > -0.5 * float(np.max(step))).any()
                  for plane in cuts)
        if at_border or cut:
            continue
        width = min(radius, length / 8.0)
        slabs = [(distance >= k * width) & (distance < (k + 1) * width) for k in (0.5, 1, 2)]
        if any(slab.sum() == 0 for slab in slabs):
            continue
        point, c1, c2 = (centres[slab].mean(axis=0) for slab in slabs)
        tangent = (c1 - c2) / np.linalg.norm(c1 - c2)
        tip = centres[position[int(end)]]
        caps.append(Plane(point, tangent))
        log.info("vessel ends inside the image near (%s) mm: flat cap %.1f mm from its end, "
                 "normal (%s)", ", ".join(f"{v:.1f}" for v in tip),
                 float(np.max((centres[near] - point) @ tangent)),
                 ", ".join(f"{v:.3f}" for v in tangent))
    return caps


def vessel_mesh(
    image,
    labels: Mapping[str, int],
    *,
    vessel: str = "aorta",
    size: float = 2.0,
    caps: Sequence[Plane] = (),
    inlet: Sequence[float] | None = None,
    auto_caps: bool = True,
    max_cells: int = MAX_CELLS,
    smoothing_iterations: int = 16,
    mesher: str = "auto",
    thresholds: QualityThresholds | None = None,
    source: str = "image",
) -> ImageMesh:
    """Tetrahedral vessel (lumen or wall label) with ``wall``, ``inlet``, ``outlet_k`` tags.

    Caps are the flat ends where the vessel is cut: by the planes in ``caps``
    (normals pointing away from the kept part), by the image border where
    the label touches it, and (``auto_caps``) where the label ends inside the
    image (:func:`vessel_end_caps`: perpendicular to the centreline).  The
    inlet is the cap nearest the point ``inlet`` [mm], or the largest cap;
    outlets are numbered by decreasing area.

    Raises:
        SegmentationError: if the vessel has fewer than two caps.
    """
    clock = _Clock()
    check_geometry(image, source)
    (value,) = _values(labels, [vessel], "vessel_mesh", source)
    masks = _Masks(image, labels, source)
    masks.check([vessel])
    mask = masks[vessel]
    size = _check_size(size, max_cells, mask.sum() * image.voxel_volume, source)
    cuts = list(caps) + _border_planes(image, mask)
    if auto_caps:
        cuts += vessel_end_caps(image, mask, cuts)
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


def _slits(image, masks: _Masks, names: Sequence[str], radius: float):
    """Voxels a closing of the labels' union with a ball of ``radius`` [mm] adds.

    Returns ``(box, added)``: the slices of the labels' bounding box and the
    added voxels in it (None when the radius is under half a voxel).
    """
    from ..imaging.image import Image
    from ..imaging.segment import morphological_close

    if not radius or radius < 0.5 * float(np.min(image.spacing)):
        return None, None
    margin = int(np.ceil(radius / np.min(image.spacing))) + 1
    boxes = [masks.box(n, margin=margin) for n in names]
    box = tuple(slice(min(b[k].start for b in boxes), max(b[k].stop for b in boxes))
                for k in range(3))
    union = np.isin(np.asarray(image.array)[box], [masks.labels[n] for n in names])
    closed = np.asarray(morphological_close(Image(union.astype(np.uint8), image.spacing),
                                            radius).array) != 0
    added = closed & ~union
    if added.any():
        # A slit lies between two labels: keep the added voxels within the
        # slit's largest width (2 radius) of at least two of them, not the
        # notches of one label.
        near = np.zeros(added.shape, dtype=np.uint8)
        for name in names:
            near += _dilate(masks[name][box], 2.0 * radius, image.spacing)
        added &= near >= 2
    return box, added


def _dilate(mask: np.ndarray, radius: float, spacing) -> np.ndarray:
    """Binary dilation with a ball of ``radius`` [mm] (SimpleITK; per-axis voxel radius)."""
    import SimpleITK as sitk

    voxels = [max(1, int(round(radius / h))) for h in spacing]
    image = sitk.GetImageFromArray(mask.astype(np.uint8).transpose(2, 1, 0))
    out = sitk.BinaryDilate(image, voxels, sitk.sitkBall, 0.0, 1.0)
    return sitk.GetArrayFromImage(out).transpose(2, 1, 0).astype(bool)


def _fill_gaps(image, masks: _Masks, names: Sequence[str], radius: float, clock):
    """Fill slits between labels narrower than about ``2 radius`` (see :func:`labels_mesh`)."""
    from scipy import ndimage

    box, added = _slits(image, masks, names, radius)
    if added is None or not added.any():
        return image
    array = np.asarray(image.array)
    union = np.isin(array[box], [masks.labels[n] for n in names])
    _, nearest = ndimage.distance_transform_edt(~union, sampling=image.spacing,
                                                return_indices=True)
    out = np.array(array, copy=True)
    crop = out[box]
    crop[added] = array[box][tuple(index[added] for index in nearest)]
    clock.lap("gaps", f"filled {added.sum() * image.voxel_volume / 1e3:.2f} mL of slits "
                      f"narrower than about {2 * radius:g} mm between the labels")
    return image.with_array(out)


def _slit_report(image, masks: _Masks, names: Sequence[str], size: float) -> str:
    """Where slits narrower than the element size lie, and between which labels."""
    from scipy import ndimage

    box, added = _slits(image, masks, names, 0.5 * size)
    if added is None or not added.any():
        return ""
    pieces, count = ndimage.label(added, structure=np.ones((3, 3, 3)))
    sizes = np.bincount(pieces.ravel())[1:]
    lo = np.array([b.start for b in box])
    shown = []
    for piece in 1 + np.argsort(-sizes)[:3]:
        centre = image.index_to_physical(np.argwhere(pieces == piece).mean(axis=0)[None] + lo)[0]
        near = _labels_near(image, masks.labels, [centre], size)
        shown.append(f"({', '.join(f'{v:.1f}' for v in centre)}) mm between "
                     + ", ".join(n for n in near if n in names))
    return (f"; the labels leave slits narrower than the element size ({size:g} mm) at "
            + "; ".join(shown) + ": fill them (fill_gaps, the default) or use a smaller size")


def _labels_near(image, labels: Mapping[str, int], points, radius: float) -> list[str]:
    """Names of the labels within ``radius`` [mm] of any of ``points``."""
    by_value = {int(v): n for n, v in labels.items()}
    found: list[str] = []
    offsets = np.stack(np.meshgrid(*[np.linspace(-radius, radius, 7)] * 3), -1).reshape(-1, 3)
    offsets = offsets[np.linalg.norm(offsets, axis=1) <= radius]
    for x in points:
        for value in np.unique(image.sample(np.asarray(x) + offsets)):
            name = by_value.get(int(value))
            if name is not None and name not in found:
                found.append(name)
    return found


def labels_mesh(
    image,
    labels: Mapping[str, int],
    *,
    names: Sequence[str],
    size: float = 3.0,
    cuts: Sequence[Plane] = (),
    fill_gaps: float | None = None,
    max_cells: int = MAX_CELLS,
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

    Gaps between the meshed labels narrower than about ``2 fill_gaps`` [mm]
    (default half the element size: a slit thinner than an element cannot be
    meshed) are filled first: the voxels a morphological closing of the
    union with a ball of radius ``fill_gaps`` adds take the nearest meshed
    label.  ``fill_gaps=0`` keeps the labels as they are.
    """
    clock = _Clock()
    check_geometry(image, source)
    names = [resolve_label(labels, n) for n in names]
    values = _values(labels, names, "labels_mesh", source)
    masks = _Masks(image, labels, source)
    masks.check(names)
    size = _check_size(size, max_cells,
                       sum(float(masks[n].sum()) for n in names) * image.voxel_volume, source)
    context = [v for n, v in labels.items() if n not in names]
    image = _fill_gaps(image, masks, names, 0.5 * size if fill_gaps is None else fill_gaps,
                       clock)
    try:
        surface, _, change = _surface_chain(
            image, values, context, list(cuts), size=size,
            smoothing_iterations=smoothing_iterations, source=source, clock=clock,
        )
    except MeshError as err:
        near = _labels_near(image, labels, getattr(err, "locations", []), 2.0 * size)
        if not near:
            raise
        raise MeshError(f"{source}: {err}; labels there: {', '.join(near)}") from err
    try:
        points, tets, facets, nearest = _volume_mesh(surface, size, mesher, clock)
    except MeshError as err:
        raise MeshError(f"{source}: {err}{_slit_report(image, masks, names, size)}") from err
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

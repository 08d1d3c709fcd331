"""An aortic-root wall mesh for TAVI planning from a label map (and a CT).

The chain::

    aorta + LV blood pool labels -> annulus plane (their contact faces, or given)
      -> lumen: the aorta up to `ascending_length` above the annulus and the LV
         outflow tract (the blood pool within `lvot_length` below it and within
         `lvot_radius` annulus radii of the root axis)
      -> wall: the shell of `wall_thickness` around the lumen, plus calcium
         (CT >= `calcium_threshold` HU) within `calcium_reach` of the lumen
      -> cut flat at the inlet (LVOT) and outlet (aortic) planes
      -> surface, tetrahedra (the machinery of :mod:`.from_image`)
      -> tags, per-cell fibres about the root axis

Tag contract (the tag names and values of the parametric root,
:data:`organfem.meshing.aortic_root.ROOT_FACET_TAGS` and ``ROOT_CELL_TAGS``,
so that :func:`organfem.meshing.aortic_root.root_landmarks` reads both):

* facets: ``lumen`` (blood-facing wall surface), ``septal_band`` (lumen
  facets of the LVOT within ``septal_band_depth`` below the annulus and
  within ``septal_band_deg`` around the septal direction), ``left_ostium`` and
  ``right_ostium`` (lumen facets within ``ostium_radius`` of the coronary
  ostia; only when given), ``outer``, ``inlet`` (the LVOT cut) and ``outlet``
  (the aortic cut).
* cells: ``lvot`` (centroid below the annulus plane), ``aortic_wall`` (above)
  and ``calcium`` (centroid in a voxel of CT >= the calcium threshold).
* fibres: :func:`organfem.fibres.vessel_fibres` about the root axis (the
  annulus normal through the annulus centre).

Everything is in LPS millimetres, so the mesh overlays the image.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import MeshError, ParameterError, SegmentationError
from ..imaging.image import check_geometry
from .from_image import (
    MAX_CELLS,
    ImageMesh,
    _check_size,
    _Clock,
    _face_areas,
    _finish,
    _Masks,
    _merge_stray_patches,
    _surface_chain,
    _values,
    _volume_mesh,
)
from .aortic_root import ROOT_CELL_TAGS, ROOT_FACET_TAGS
from .mesh import MeshData
from .quality import MeshQuality, QualityThresholds
from .surface import Plane

__all__ = [
    "RootImageMesh",
    "aortic_root_mesh",
    "annulus_plane",
    "CALCIUM_THRESHOLD_HU",
    "MIN_CONTACT_AREA",
]

log = logging.getLogger(__name__)

#: Calcium threshold on contrast-enhanced CT [HU].  Jilaihawi et al., "A
#: revised methodology for aortic-valvar complex calcium quantification for
#: transcatheter aortic valve implantation", Eur. Heart J. Cardiovasc. Imaging
#: 15 (2014) 1324-1332: on contrast scans, the 850 HU threshold discriminated
#: paravalvular leak best (450 HU on non-contrast scans).  For scans whose
#: LVOT enhancement is far from 300-500 HU, thresholds relative to the lumen
#: (e.g. lumen + 100 HU) have been proposed; pass such a value explicitly.
CALCIUM_THRESHOLD_HU = 850.0

#: Smallest contact area between the aorta and the LV blood pool that is
#: taken as an annulus [mm^2] (a disc of radius about 4 mm; real annuli are
#: 300-700 mm^2).
MIN_CONTACT_AREA = 50.0

#: Plausible range of a calcium threshold [HU]: above water and soft tissue,
#: within the 12-bit CT range.
_HU_RANGE = (130.0, 3071.0)

_WALL, _LUMEN = 1, 2

#: Farthest a given coronary ostium may lie from the lumen surface [mm].
_OSTIUM_REACH = 5.0


@dataclasses.dataclass(frozen=True)
class RootImageMesh:
    """An aortic-root wall mesh made from an image, with what was found on the way.

    Attributes:
        mesh: the tagged tetrahedral wall mesh (LPS mm) with per-cell fibres.
        made: the meshing record (quality, volumes, seconds, cut planes).
        annulus: the annulus plane; ``normal`` is the root axis, pointing from
            the LV towards the aorta; ``point`` the annulus centre [mm].
        annulus_radius: radius of the disc of the annulus's area [mm].
        annulus_method: how the annulus was found (``"given"`` or the contacts).
        annulus_rms: RMS distance of the contact faces from the plane [mm]
            (0 when given).
        septal_direction: unit vector in the annulus plane from its centre
            towards the membranous septum.
        septal_method: how it was found.
        ostia: the coronary ostia tagged, by side (``"left"``, ``"right"``),
            LPS [mm]; empty when none were given.
        calcium_threshold: the calcium threshold [HU] (None: no CT given).
        calcium_volume: calcium voxels added to the wall [mm^3].
        calcium_in_lumen: calcium voxels inside the lumen labels, left as blood [mm^3].
        lumen_hu: median CT value of the lumen [HU] (None: no CT).
        ascending_length: height of the outlet cut above the annulus [mm]
            (less than asked where the aorta label ends sooner).
    """

    mesh: MeshData
    made: ImageMesh
    annulus: Plane
    annulus_radius: float
    annulus_method: str
    annulus_rms: float
    septal_direction: np.ndarray
    septal_method: str
    ostia: Mapping[str, np.ndarray]
    calcium_threshold: float | None
    calcium_volume: float
    calcium_in_lumen: float
    lumen_hu: float | None
    ascending_length: float = float("nan")

    @property
    def quality(self) -> MeshQuality:
        """The mesh quality report."""
        return self.made.quality

    def summary(self) -> str:
        """What was made, in a few lines (mm, mm^2, mm^3, HU, deg; no paths)."""
        m = self.mesh
        p, n = self.annulus.point, self.annulus.normal
        lines = [
            f"aortic root wall: {m.num_cells:,} tetrahedra, {m.num_points:,} points",
            f"annulus: centre ({', '.join(f'{v:.1f}' for v in p)}) mm, axis "
            f"({', '.join(f'{v:.3f}' for v in n)}), radius {self.annulus_radius:.1f} mm, "
            + (f"found from {self.annulus_method} (rms {self.annulus_rms:.2f} mm)"
               if self.annulus_method != "given" else "given"),
            f"septal band: towards ({', '.join(f'{v:.3f}' for v in self.septal_direction)}), "
            f"{self.septal_method}",
            ("coronary ostia: " + ", ".join(
                f"{side} at ({', '.join(f'{v:.1f}' for v in x)}) mm"
                for side, x in self.ostia.items())) if self.ostia
            else "coronary ostia: not given, not tagged",
            f"outlet cut {self.ascending_length:.1f} mm above the annulus",
        ]
        if self.calcium_threshold is None:
            lines.append("calcium: no CT given, none tagged")
        else:
            cells = (int((m.cell_values == m.cell_names["calcium"]).sum())
                     if "calcium" in m.cell_names else 0)
            lines.append(
                f"calcium (>= {self.calcium_threshold:g} HU; lumen median "
                f"{self.lumen_hu:.0f} HU): {self.calcium_volume:.0f} mm^3 in the wall, "
                f"{cells} cells; {self.calcium_in_lumen:.0f} mm^3 inside the lumen labels "
                "left as blood")
        lines.append(f"quality: min dihedral {self.quality.min_dihedral_deg:.1f} deg, "
                     f"volume {100 * self.quality.volume_error:+.2f} % vs voxels")
        return "\n".join(lines)


def _positive(name: str, value, source: str, *, unit: str = "mm") -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{source}: {name} {value!r}: expected a number in {unit}") from None
    if not np.isfinite(value) or value <= 0:
        raise ParameterError(f"{source}: {name} must be positive and finite, got {value:g} {unit}")
    return value


def _point(name: str, value, source: str) -> np.ndarray:
    x = np.asarray(value, dtype=float).reshape(-1)
    if x.shape != (3,) or not np.isfinite(x).all():
        raise ParameterError(f"{source}: {name} must be an LPS point (x, y, z) in mm, "
                             f"got {np.asarray(value).tolist()}")
    return x


def _contact_points(image, a: np.ndarray, b: np.ndarray, lo: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres [mm] of the voxel faces shared by ``a`` and ``b``, their areas [mm^2]
    and the LPS direction of each face's normal (the index axis), in a box at ``lo``."""
    areas = _face_areas(image)
    points, weights, axes = [], [], []
    for axis in range(3):
        n = a.shape[axis]
        first = [slice(None)] * 3
        second = [slice(None)] * 3
        first[axis], second[axis] = slice(0, n - 1), slice(1, n)
        first, second = tuple(first), tuple(second)
        both = (a[first] & b[second]) | (a[second] & b[first])
        index = np.argwhere(both).astype(float)
        index[:, axis] += 0.5
        points.append(index + lo)
        weights.append(np.full(index.shape[0], areas[axis]))
        axes.append(np.full(index.shape[0], axis))
    index = np.concatenate(points)
    return (image.index_to_physical(index), np.concatenate(weights),
            image.direction[:, np.concatenate(axes)].T)


def _box_of(masks: _Masks, names: Sequence[str], margin: int) -> tuple[slice, ...]:
    boxes = [masks.box(n, margin=margin) for n in names]
    return tuple(slice(min(b[k].start for b in boxes), max(b[k].stop for b in boxes))
                 for k in range(3))


def _annulus_from_contacts(image, masks: _Masks, aorta: str, pool: str, source: str
                           ) -> tuple[Plane, float, float]:
    """Best-fit plane of the aorta / LV blood pool contact faces, radius, rms."""
    box = _box_of(masks, [aorta], 2)
    lo = np.array([b.start for b in box])
    a, b = masks[aorta][box], masks[pool][box]
    x, w, face_normal = _contact_points(image, a, b, lo)
    if w.sum() < MIN_CONTACT_AREA:
        raise SegmentationError(
            f"{source}: the labels {aorta!r} and {pool!r} share {w.sum():.0f} mm^2 of voxel "
            f"faces (need at least {MIN_CONTACT_AREA:g} mm^2 to place the annulus): give the "
            "annulus plane (annulus=Plane(point, normal), normal towards the aorta, LPS mm; "
            "--annulus 'x,y,z;nx,ny,nz') or label the aorta down to the LV outflow tract"
        )
    centre = (w[:, None] * x).sum(axis=0) / w.sum()
    y = x - centre
    values, vectors = np.linalg.eigh((w[:, None] * y).T @ y / w.sum())
    normal = vectors[:, 0]
    # Orient towards the aorta: its voxels near the contact lie on the + side.
    near = masks[aorta][box]
    xa = image.index_to_physical((np.argwhere(near) + lo).astype(float))
    xa = xa[np.linalg.norm(xa - centre, axis=1) < 20.0]
    if xa.size and (xa - centre).mean(axis=0) @ normal < 0:
        normal = -normal
    # Area of the contact projected on the plane (a staircase over-counts).
    area = float((w * np.abs(face_normal @ normal)).sum())
    rms = float(np.sqrt((w * (y @ normal) ** 2).sum() / w.sum()))
    return Plane(centre, normal), float(np.sqrt(area / np.pi)), rms


def annulus_plane(image, labels: Mapping[str, int], *, aorta: str = "aorta",
                  blood_pool: str = "lv_blood_pool", source: str = "image") -> Plane:
    """The aortic annulus plane from the contact of the aorta and LV blood pool labels.

    The contact is the set of voxel faces shared by the two labels; the plane
    is their area-weighted least-squares plane through their centroid (the
    annulus centre), its normal pointing from the LV towards the aorta.

    Args:
        image: label map (:class:`organfem.imaging.Image` of integers).
        labels: label name -> value.
        aorta: name of the aorta label.
        blood_pool: name of the LV blood-pool label.
        source: name of the input for messages (a role, not a path).

    Returns:
        The plane (``point``: annulus centre [mm]; ``normal``: root axis).

    Raises:
        ParameterError: if a label name is not defined.
        SegmentationError: if a label is missing or the two share under
            :data:`MIN_CONTACT_AREA` mm^2.
    """
    check_geometry(image, source)
    _values(labels, [aorta, blood_pool], "annulus_plane", source)
    masks = _Masks(image, labels, source)
    return _annulus_from_contacts(image, masks, aorta, blood_pool, source)[0]


def _box_coordinates(image, box, plane: Plane):
    """Signed distance to ``plane`` [mm] and squared distance from its normal line
    through ``plane.point`` [mm^2] of the voxel centres of ``box`` (float32)."""
    ranges = [np.arange(b.start, b.stop, dtype=np.float64) for b in box]
    comps = []
    for c in range(3):
        parts = [image.direction[c, k] * image.spacing[k] * ranges[k] for k in range(3)]
        comps.append((image.origin[c] - plane.point[c] + parts[0][:, None, None]
                      + parts[1][None, :, None] + parts[2][None, None, :]).astype(np.float32))
    d = comps[0] * plane.normal[0] + comps[1] * plane.normal[1] + comps[2] * plane.normal[2]
    r2 = comps[0] ** 2 + comps[1] ** 2 + comps[2] ** 2 - d**2
    return d, r2


def _largest(mask: np.ndarray, message: str) -> np.ndarray:
    """The largest 6-connected piece of a mask."""
    from scipy import ndimage

    pieces, count = ndimage.label(mask)
    if count == 0:
        raise SegmentationError(message)
    if count == 1:
        return mask
    return pieces == 1 + np.argmax(np.bincount(pieces.ravel())[1:])


def _check_ct(ct, image, source: str) -> np.ndarray:
    same = (ct.shape == image.shape and np.allclose(ct.spacing, image.spacing, atol=1e-4)
            and np.allclose(ct.origin, image.origin, atol=1e-3)
            and np.allclose(ct.direction, image.direction, atol=1e-4))
    if not same:
        raise ParameterError(
            f"{source}: the CT (shape {tuple(ct.shape)}, spacing "
            f"{np.round(ct.spacing, 4).tolist()} mm) must share the label map's grid (shape "
            f"{tuple(image.shape)}, spacing {np.round(image.spacing, 4).tolist()} mm, same "
            "origin and direction): resample one onto the other first"
        )
    return np.asarray(ct.array)


def aortic_root_mesh(
    image,
    labels: Mapping[str, int],
    *,
    ct=None,
    aorta: str = "aorta",
    blood_pool: str = "lv_blood_pool",
    right_heart: str = "rv_blood_pool",
    annulus: Plane | None = None,
    septum: Sequence[float] | None = None,
    left_ostium: Sequence[float] | None = None,
    right_ostium: Sequence[float] | None = None,
    size: float = 1.5,
    wall_thickness: float = 2.0,
    ascending_length: float = 30.0,
    lvot_length: float = 12.0,
    lvot_radius: float = 1.5,
    septal_band_deg: float = 50.0,
    septal_band_depth: float = 10.0,
    ostium_radius: float = 2.0,
    calcium_threshold: float = CALCIUM_THRESHOLD_HU,
    calcium_reach: float = 4.0,
    max_cells: int = MAX_CELLS,
    smoothing_iterations: int = 16,
    mesher: str = "auto",
    thresholds: QualityThresholds | None = None,
    source: str = "image",
) -> RootImageMesh:
    """Tetrahedral aortic-root wall (LVOT to ascending aorta) tagged for TAVI planning.

    The lumen is the aorta up to ``ascending_length`` above the annulus plane
    and the LV blood pool from the annulus down to ``lvot_length`` below it,
    within ``lvot_radius`` annulus radii of the root axis (the outflow tract,
    not the whole ventricle); only its largest 6-connected piece is kept.  The
    wall is every voxel within ``wall_thickness`` of a lumen voxel centre
    (whatever its label: the myocardium and the fibrous continuity around the
    LVOT are modelled as wall), plus the voxels of CT >= ``calcium_threshold``
    within ``calcium_reach`` of the lumen that are not lumen, cut flat at the
    inlet plane (``lvot_length`` below the annulus) and the outlet plane
    (``ascending_length`` above it).

    Tags (see the module docstring): facets ``lumen``, ``outer``, ``inlet``,
    ``outlet``, ``septal_band`` and, when given, ``left_ostium`` and
    ``right_ostium``; cells ``aortic_wall``, ``lvot`` and (with a CT, where
    found) ``calcium``; fibres from :func:`organfem.fibres.vessel_fibres`
    about the root axis.

    Args:
        image: label map (:class:`organfem.imaging.Image` of integers).
        labels: label name -> value (e.g. the ``"mmwhs"`` preset).
        ct: the CT [HU] on the label map's grid, for the calcium; None: no calcium.
        aorta: name of the aorta label.
        blood_pool: name of the LV blood-pool label.
        right_heart: label whose centroid, projected on the annulus plane,
            gives the septal direction when ``septum`` is not given (the
            membranous septum faces the right heart).
        annulus: the annulus plane (point: annulus centre, normal towards the
            aorta, LPS mm); default the contact of the aorta and the LV blood
            pool (:func:`annulus_plane`).
        septum: a point [mm, LPS] towards the membranous septum; its
            direction from the annulus centre, in the annulus plane, centres
            the septal band.
        left_ostium, right_ostium: the coronary ostia [mm, LPS], on or within
            5 mm of the lumen surface; None: not tagged.
        size: target element edge length [mm]; at most about the wall thickness.
        wall_thickness: wall thickness added around the lumen [mm]
            (aortic root wall about 2 mm); at least one voxel.
        ascending_length: length of the aorta kept above the annulus [mm].
        lvot_length: length of the LV outflow tract kept below the annulus [mm].
        lvot_radius: radius of the cylinder around the root axis that bounds the
            LVOT, in annulus radii.
        septal_band_deg: angular width of the septal band [deg].
        septal_band_depth: depth of the septal band below the annulus [mm].
        ostium_radius: radius of the ostium patches [mm].
        calcium_threshold: calcium threshold on contrast CT [HU]; default
            :data:`CALCIUM_THRESHOLD_HU` (850 HU, Jilaihawi et al. 2014).
        calcium_reach: largest distance of calcium from the lumen to join the wall [mm].
        max_cells: refuse to mesh when about more tetrahedra would be made.
        smoothing_iterations: SurfaceNets smoothing iterations.
        mesher: ``"auto"``, ``"gmsh"`` or ``"ftetwild"``.
        thresholds: quality limits; default :class:`QualityThresholds`.
        source: name of the input for messages (a role such as ``"image"``,
            never a path).

    Returns:
        A :class:`RootImageMesh` (``.mesh``, ``.summary()``).

    Raises:
        ParameterError: for an undefined label name, a non-positive length, a
            calcium threshold outside 130-3071 HU or below the contrast
            blood, a CT on another grid, no septal direction, or an ostium
            far from the lumen.
        SegmentationError: if a label is missing, or the aorta and the LV
            blood pool do not touch and no annulus is given.
        MeshError, MeshQualityError: if the wall cannot be meshed.
    """
    from scipy import ndimage

    clock = _Clock()
    check_geometry(image, source)
    _values(labels, [aorta, blood_pool], "aortic_root_mesh", source)
    lengths = {name: _positive(name, value, source) for name, value in (
        ("wall_thickness", wall_thickness), ("ascending_length", ascending_length),
        ("lvot_length", lvot_length), ("septal_band_depth", septal_band_depth),
        ("ostium_radius", ostium_radius), ("calcium_reach", calcium_reach))}
    lvot_radius = _positive("lvot_radius", lvot_radius, source, unit="annulus radii")
    band = _positive("septal_band_deg", septal_band_deg, source, unit="deg")
    if band > 360.0:
        raise ParameterError(f"{source}: septal_band_deg must be at most 360 deg, got {band:g}")
    if lengths["wall_thickness"] < float(np.max(image.spacing)) * (1 - 1e-9):
        raise ParameterError(
            f"{source}: wall_thickness {lengths['wall_thickness']:g} mm is thinner than a voxel "
            f"({float(np.max(image.spacing)):g} mm): a wall under one voxel cannot be meshed; "
            "use a thicker wall or resample the labels finer"
        )
    threshold = None
    if ct is not None:
        try:
            threshold = float(calcium_threshold)
        except (TypeError, ValueError):
            threshold = float("nan")
        if not (_HU_RANGE[0] <= threshold <= _HU_RANGE[1]):
            raise ParameterError(
                f"{source}: calcium_threshold {calcium_threshold!r} HU is outside "
                f"{_HU_RANGE[0]:g}-{_HU_RANGE[1]:g} HU; contrast CT calcium is usually "
                f"thresholded at {CALCIUM_THRESHOLD_HU:g} HU")
        ct_array = _check_ct(ct, image, source)
    masks = _Masks(image, labels, source)
    masks.check([aorta, blood_pool])

    # Annulus plane, centre, radius.
    if annulus is None:
        annulus, radius, rms = _annulus_from_contacts(image, masks, aorta, blood_pool, source)
        method = f"the contact of {aorta!r} with {blood_pool!r}"
    else:
        if not isinstance(annulus, Plane):
            raise ParameterError(f"{source}: annulus must be a Plane(point, normal) in LPS mm, "
                                 f"got {type(annulus).__name__}")
        method, rms = "given", 0.0
        box = masks.box(aorta, margin=1)
        d, r2 = _box_coordinates(image, box, annulus)
        slab = float(2 * np.max(image.spacing))
        near = masks[aorta][box] & (d >= 0) & (d <= slab)
        if near.sum() < 3:
            raise SegmentationError(
                f"{source}: the given annulus plane through "
                f"({', '.join(f'{v:.1f}' for v in annulus.point)}) mm has no {aorta!r} "
                f"voxels within {slab:g} mm above it: the normal must point towards the "
                "aorta and the plane cross the root")
        lo = np.array([b.start for b in box])
        x = image.index_to_physical((np.argwhere(near) + lo).astype(float))
        radius = float(np.sqrt(near.sum() * image.voxel_volume / slab / np.pi))
        annulus = Plane(annulus.project(x.mean(axis=0)[None])[0], annulus.normal)
    axis, centre = annulus.normal, annulus.point
    clock.lap("annulus", f"centre ({', '.join(f'{v:.1f}' for v in centre)}) mm, axis "
                         f"({', '.join(f'{v:.3f}' for v in axis)}), radius {radius:.1f} mm")

    # Lumen and wall on a working box.
    reach = max(lengths["wall_thickness"], lengths["calcium_reach"] if ct is not None else 0.0)
    margin = int(np.ceil(reach / float(np.min(image.spacing)))) + 2
    box = _box_of(masks, [aorta, blood_pool], margin)
    d, r2 = _box_coordinates(image, box, annulus)
    top, bottom = lengths["ascending_length"], -lengths["lvot_length"]
    within = d >= bottom
    lumen = masks[aorta][box] & within
    lumen |= (masks[blood_pool][box] & within & (d <= 0.5 * float(np.max(image.spacing)))
              & (r2 <= (lvot_radius * radius) ** 2))
    lumen = _largest(lumen, f"{source}: no {aorta!r} or {blood_pool!r} voxels lie above "
                            f"{bottom:g} mm of the annulus plane")
    # Where the aorta label ends (or leaves the image, or is cut obliquely)
    # below the outlet plane, the outlet moves down so that it cuts an open
    # lumen, not a closed end: the aorta ends where its cross-section (voxel
    # area per slab of one voxel along the axis) first falls under half the
    # annulus area, or under 3/4 of its largest value over the 5 mm below (an
    # oblique end; the sinotubular junction narrows more slowly).
    step = float(np.max(image.spacing))
    heights = d[lumen & masks[aorta][box]]
    heights = heights[heights >= 0]
    section = np.bincount((heights // step).astype(np.int64)) * image.voxel_volume / step
    window = max(1, int(round(5.0 / step)))
    falling = [k for k in range(window, section.size)
               if section[k] < 0.75 * section[k - window:k].max()]
    short = np.flatnonzero(section < 0.5 * np.pi * radius**2).tolist() + falling
    reached = float(step * (min(short) if short else section.size))
    if reached < top + lengths["wall_thickness"]:
        top = reached - lengths["wall_thickness"] - step
        if top < 2.0 * step + lengths["wall_thickness"]:
            raise SegmentationError(
                f"{source}: the {aorta!r} label's full cross-section reaches only {reached:.1f} "
                "mm above the annulus plane: too short to cut an outlet above it; label more "
                "of the ascending aorta or give the annulus plane (annulus=Plane(point, normal))")
        log.warning("%s: the %r label's full section ends %.1f mm above the annulus: outlet "
                    "cut at %.1f mm instead of %g mm", source, aorta, reached, top,
                    lengths["ascending_length"])
    within &= d <= top
    lumen = _largest(lumen & within, f"{source}: no lumen left below the outlet cut")
    distance = ndimage.distance_transform_edt(~lumen, sampling=image.spacing)
    wall = (distance > 0) & (distance <= lengths["wall_thickness"] * (1 + 1e-6))
    calcium_volume = calcium_in_lumen = 0.0
    lumen_hu = None
    if ct is not None:
        values = ct_array[box]
        lumen_hu = float(np.median(values[lumen]))
        above = float(np.mean(values[lumen] >= threshold))
        if above > 0.05:
            raise ParameterError(
                f"{source}: calcium_threshold {threshold:g} HU is below the contrast blood: "
                f"{100 * above:.0f} % of the lumen (median {lumen_hu:.0f} HU) exceeds it; use a "
                f"threshold above the lumen (e.g. {CALCIUM_THRESHOLD_HU:g} HU, or lumen + 100 HU)")
        calcified = values >= threshold
        added = calcified & ~lumen & (distance <= lengths["calcium_reach"]) & within
        wall |= added
        calcium_volume = float((calcified & wall).sum() * image.voxel_volume)
        calcium_in_lumen = float((calcified & lumen).sum() * image.voxel_volume)
    wall &= within
    array = np.zeros(image.shape, dtype=np.int16)
    array[box][wall] = _WALL
    array[box][lumen] = _LUMEN
    synthetic = image.with_array(array)
    size = _check_size(size, max_cells, wall.sum() * image.voxel_volume, source)
    inlet_plane = Plane(centre + bottom * axis, -axis)
    outlet_plane = Plane(centre + top * axis, axis)
    cuts = [inlet_plane, outlet_plane]

    # Septal direction.
    if septum is not None:
        towards = _point("septum", septum, source) - centre
        septal_method = "given"
    elif right_heart in labels and masks.present(right_heart):
        rbox = masks.box(right_heart)
        lo = np.array([b.start for b in rbox])
        towards = image.index_to_physical(
            np.argwhere(masks[right_heart][rbox]).mean(axis=0)[None] + lo)[0] - centre
        septal_method = f"towards the centroid of {right_heart!r}"
    else:
        raise ParameterError(
            f"{source}: no septal direction: give septum=(x, y, z) (LPS mm, a point towards "
            f"the membranous septum; --septum 'x,y,z') or label the right heart "
            f"({right_heart!r} present in the label map)")
    towards = towards - (towards @ axis) * axis
    if np.linalg.norm(towards) < 1e-6:
        raise ParameterError(f"{source}: the septal direction lies along the root axis: give a "
                             "septum point off the axis")
    septal = towards / np.linalg.norm(towards)
    clock.lap("labels", f"wall {wall.sum() * image.voxel_volume / 1e3:.2f} mL, lumen "
                        f"{lumen.sum() * image.voxel_volume / 1e3:.2f} mL, calcium "
                        f"{calcium_volume:.0f} mm^3; septal band {septal_method}")

    # Ostia: on (or within 5 mm of) the lumen surface.
    given_ostia = {}
    for side, given in (("left", left_ostium), ("right", right_ostium)):
        if given is None:
            continue
        x = _point(f"{side}_ostium", given, source)
        lo = np.array([b.start for b in box])
        index = np.rint(image.physical_to_index(x[None])[0]).astype(int) - lo
        inside = bool(np.all(index >= 0) and np.all(index < np.array(lumen.shape)))
        if inside and lumen[tuple(index)]:
            gap = float(ndimage.distance_transform_edt(lumen, sampling=image.spacing)[
                tuple(index)])
        else:
            gap = float(distance[tuple(index)]) if inside else np.inf
        if gap > _OSTIUM_REACH:
            raise ParameterError(
                f"{source}: {side}_ostium ({', '.join(f'{v:.1f}' for v in x)}) mm is "
                f"{gap:.1f} mm from the lumen surface (expected within {_OSTIUM_REACH:g} mm): "
                "give the ostium on the aortic wall, LPS mm")
        given_ostia[side] = x

    # Surface, tetrahedra and facet tags.
    surface, on_plane, change = _surface_chain(
        synthetic, [_WALL], [_LUMEN], cuts, size=size,
        smoothing_iterations=smoothing_iterations, source=source, clock=clock,
    )
    tags = ROOT_FACET_TAGS
    triangle_tag = np.where(surface.outside == _LUMEN, tags["lumen"], tags["outer"])
    triangle_tag[on_plane[0]] = tags["inlet"]
    triangle_tag[on_plane[1]] = tags["outlet"]
    triangle_tag = _merge_stray_patches(surface.triangles, triangle_tag,
                                        (tags["lumen"], tags["outer"]))
    points, tets, facets, nearest = _volume_mesh(surface, size, mesher, clock)
    facet_values = triangle_tag[nearest].astype(np.int32)
    fc = points[facets].mean(axis=1)
    fd = (fc - centre) @ axis
    radial = (fc - centre) - np.outer(fd, axis)
    cos = (radial @ septal) / np.maximum(np.linalg.norm(radial, axis=1), 1e-12)
    lumen_facet = facet_values == tags["lumen"]
    in_band = (lumen_facet & (fd <= 0) & (fd >= -lengths["septal_band_depth"])
               & (cos >= np.cos(np.radians(0.5 * band))))
    if not in_band.any():
        raise MeshError(
            f"{source}: no lumen facet lies within {lengths['septal_band_depth']:g} mm below "
            f"the annulus and {band:g} deg around the septal direction: use a deeper band "
            "(septal_band_depth) or a smaller size")
    facet_values[in_band] = tags["septal_band"]
    ostia = {}
    for side, x in given_ostia.items():
        candidates = np.flatnonzero(facet_values == tags["lumen"])
        gap = np.linalg.norm(fc[candidates] - x, axis=1)
        if candidates.size == 0 or gap.min() > _OSTIUM_REACH + size:
            raise MeshError(
                f"{source}: no lumen facet outside the septal band lies within "
                f"{_OSTIUM_REACH + size:g} mm of {side}_ostium "
                f"({', '.join(f'{v:.1f}' for v in x)}) mm")
        at = fc[candidates[np.argmin(gap)]]
        patch = candidates[np.linalg.norm(fc[candidates] - at, axis=1)
                           <= lengths["ostium_radius"]]
        facet_values[patch] = tags[f"{side}_ostium"]
        ostia[side] = at
    facet_names = {n: v for n, v in tags.items() if (facet_values == v).any()}

    # Cell tags.
    cc = points[tets].mean(axis=1)
    cd = (cc - centre) @ axis
    cell_values = np.where(cd < 0, ROOT_CELL_TAGS["lvot"],
                           ROOT_CELL_TAGS["aortic_wall"]).astype(np.int32)
    if ct is not None:
        cell_values[ct.sample(cc) >= threshold] = ROOT_CELL_TAGS["calcium"]
    cell_names = {n: v for n, v in ROOT_CELL_TAGS.items() if (cell_values == v).any()}
    made = _finish(points, tets, facets, facet_values, facet_names, cell_values, cell_names,
                   surface, change, clock, thresholds, source,
                   {"annulus": annulus, "inlet": inlet_plane, "outlet": outlet_plane})
    from ..fibres.analytic import vessel_fibres  # fibres import meshing: import late

    mesh = made.mesh.with_fibres(vessel_fibres(cc, centre=centre, axis=axis))
    made = dataclasses.replace(made, mesh=mesh)
    result = RootImageMesh(
        mesh=mesh, made=made, annulus=annulus, annulus_radius=radius, annulus_method=method,
        annulus_rms=rms, septal_direction=septal, septal_method=septal_method, ostia=ostia,
        calcium_threshold=threshold, calcium_volume=calcium_volume,
        calcium_in_lumen=calcium_in_lumen, lumen_hu=lumen_hu, ascending_length=top,
    )
    log.info("%s: %s", source, result.summary().replace("\n", "; "))
    return result

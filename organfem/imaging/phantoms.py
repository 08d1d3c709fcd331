"""Synthetic label maps with known geometry, for tests, benchmarks and demos.

:func:`lv_phantom` voxelises the truncated prolate-ellipsoid left ventricle of
Land et al. (2015, Proc R Soc A 471:20150641, problem 2 geometry, scaled):
a myocardium between two confocal-free ellipsoids of revolution, cut by a
base plane, around a blood pool.  Its exact volumes are known in closed form,
so meshes made from it can be checked against them.

:func:`heart_phantom` voxelises a whole heart (LV, LA, aorta, RV, RA) in an
oblique pose, with the defects of real CT segmentations that break LV
meshers: holes through the wall, a patch of zero wall thickness, a blood pool
touching the background around the valves, an aorta cut inside the image,
specks and ragged edges.  Its truth (valve plane, long axis, apex, volumes,
defect positions) is returned with it as a :class:`HeartPhantom`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from ..errors import ParameterError
from .image import Image
from .labels import MMWHS, parse_labels

__all__ = [
    "LVPhantom",
    "lv_phantom",
    "truncated_ellipsoid_volume",
    "MMWHS_LV",
    "HeartPhantom",
    "heart_phantom",
    "MMWHS_HEART",
]

#: Label values of the phantom: the MM-WHS codes of LV myocardium and blood cavity.
MMWHS_LV = {"lv_myocardium": 205, "lv_blood_pool": 500}


def truncated_ellipsoid_volume(radius: float, half_length: float, cut: float) -> float:
    """Volume of ``(x^2 + y^2)/a^2 + z^2/c^2 <= 1, z <= cut`` [mm^3].

    ``int_{-c}^{cut} pi a^2 (1 - z^2/c^2) dz = pi a^2 [(cut + c) - (cut^3 + c^3) / (3 c^2)]``.
    """
    a, c = radius, half_length
    cut = min(max(cut, -c), c)
    return float(np.pi * a * a * ((cut + c) - (cut**3 + c**3) / (3.0 * c * c)))


@dataclasses.dataclass(frozen=True)
class LVPhantom:
    """A voxelised LV and its exact geometry.

    Attributes:
        image: label map (MM-WHS values, see :data:`MMWHS_LV`).
        labels: label name -> value.
        myocardium_volume: exact myocardial volume [mm^3].
        cavity_volume: exact blood-pool volume [mm^3].
        centre: LPS position of the ellipsoids' centre [mm].
        axis: unit long axis, from apex towards base (LPS).
        base: distance of the base plane from the centre along ``axis`` [mm].
    """

    image: Image
    labels: dict
    myocardium_volume: float
    cavity_volume: float
    centre: np.ndarray
    axis: np.ndarray
    base: float

    def local(self, points: np.ndarray) -> np.ndarray:
        """Coordinates in the LV frame (z along the long axis, origin at the centre)."""
        frame = _frame(self.axis)
        return (np.asarray(points) - self.centre) @ frame


def _frame(axis: np.ndarray) -> np.ndarray:
    """Orthonormal columns (e1, e2, axis)."""
    axis = axis / np.linalg.norm(axis)
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(helper, axis)
    e1 /= np.linalg.norm(e1)
    return np.stack([e1, np.cross(axis, e1), axis], axis=1)


def lv_phantom(
    shape: tuple[int, int, int] = (96, 96, 96),
    *,
    spacing: tuple[float, float, float] | None = None,
    direction: np.ndarray | None = None,
    origin: np.ndarray | None = None,
    endo_radii: tuple[float, float] = (25.0, 60.0),
    epi_radii: tuple[float, float] = (35.0, 70.0),
    base: float = 10.0,
    axis: np.ndarray = (0.0, 0.0, 1.0),
) -> LVPhantom:
    """Voxelise a truncated ellipsoidal LV (myocardium 205, blood pool 500).

    The ellipsoids of revolution have (short radius, long half-axis) =
    ``endo_radii`` and ``epi_radii`` [mm] and share their centre; both are cut
    at ``base`` mm above the centre along ``axis``.  The LV is centred in the
    image.  A voxel takes the label of its centre.

    Args:
        shape: voxels along i, j, k.
        spacing: voxel size [mm]; default isotropic, just covering the LV.
        direction: image direction matrix (columns: LPS directions of i, j, k).
        origin: LPS centre of voxel (0, 0, 0); default puts the LV in the middle.
        endo_radii, epi_radii: (short radius, long half-axis) [mm].
        base: height of the base plane above the centre [mm].
        axis: LPS long axis of the LV (apex -> base).
    """
    direction = np.eye(3) if direction is None else np.asarray(direction, dtype=np.float64)
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    a_endo, c_endo = endo_radii
    a_epi, c_epi = epi_radii
    extent = np.array([2 * a_epi, 2 * a_epi, c_epi + base])  # in the LV frame
    if spacing is None:
        spacing = np.full(3, 1.1 * np.linalg.norm(extent) / (min(shape) - 1))
    spacing = np.asarray(spacing, dtype=np.float64)
    frame = _frame(axis)
    # The LV's bounding-box centre sits at the image centre.
    box_centre_local = np.array([0.0, 0.0, (base - c_epi) / 2.0])
    half_diagonal = direction @ (spacing * (np.array(shape) - 1) / 2.0)
    # Default: the image centre at the LPS origin.
    origin = -half_diagonal if origin is None else np.asarray(origin, dtype=np.float64)
    centre_of_image = origin + half_diagonal
    centre = centre_of_image - frame @ box_centre_local

    # Local coordinates of voxel centres: q = frame^T (origin + D (s * ijk) - centre).
    m = frame.T @ direction * spacing  # (3, 3): local change per index step
    q0 = frame.T @ (origin - centre)
    i, j, k = (np.arange(n, dtype=np.float64) for n in shape)
    local = [
        q0[r] + m[r, 0] * i[:, None, None] + m[r, 1] * j[None, :, None] + m[r, 2] * k[None, None, :]
        for r in range(3)
    ]
    r2 = local[0] ** 2 + local[1] ** 2
    z = local[2]
    below = z <= base
    labels = np.zeros(shape, dtype=np.uint16)
    labels[(r2 / a_epi**2 + z**2 / c_epi**2 <= 1.0) & below] = MMWHS_LV["lv_myocardium"]
    labels[(r2 / a_endo**2 + z**2 / c_endo**2 <= 1.0) & below] = MMWHS_LV["lv_blood_pool"]
    cavity = truncated_ellipsoid_volume(a_endo, c_endo, base)
    return LVPhantom(
        image=Image(labels, spacing, origin, direction),
        labels=dict(MMWHS_LV),
        myocardium_volume=truncated_ellipsoid_volume(a_epi, c_epi, base) - cavity,
        cavity_volume=cavity,
        centre=centre,
        axis=axis,
        base=float(base),
    )


# --------------------------------------------------------------------------
# Whole-heart phantom with the defects of real CT segmentations
# --------------------------------------------------------------------------

#: Default label values of :func:`heart_phantom`: MM-WHS codes of the six
#: structures it paints (see :data:`organfem.imaging.labels.MMWHS`).
MMWHS_HEART: Mapping[str, int] = MappingProxyType(
    {name: MMWHS[name] for name in
     ("lv_myocardium", "la_blood_pool", "lv_blood_pool", "ra_blood_pool", "rv_blood_pool",
      "aorta")}
)  # fmt: skip

#: Labels :func:`heart_phantom` needs; ``ra_blood_pool`` is painted only if given.
_HEART_REQUIRED = ("lv_myocardium", "lv_blood_pool", "la_blood_pool", "rv_blood_pool", "aorta")

# Geometry of the heart phantom in the LV frame [mm]: origin at the centre of the
# LV ellipsoids, z the long axis (apex -> base), x lateral (towards the free wall,
# away from the septum), y = z cross x, the inferior ("posterior") wall's side.
# Angles [deg] are measured in the x-y plane from +x (lateral) towards +y.
_ENDO = (27.0, 65.0)  # endocardium: (short radius, long half-axis)
_EPI = (37.0, 72.0)  # epicardium: 10 mm thicker at the equator, 7 mm at the apex
_BASE = 20.0  # height of the base (valve) plane above the centre
_MITRAL = (60.0, 12.5, 12.0)  # (angle, centre offset from the long axis, radius)
_AORTIC = (240.0, 12.5, 11.5)  # aortic annulus: (angle, offset, radius)
_AORTA_RADIUS = 14.0  # sinus / ascending aorta radius, reached _AORTA_GROW above the valve
_AORTA_GROW = 10.0
_AORTA_ROOT = 10.0  # straight root length before the bend
_AORTA_BEND = (210.0, 40.0, 30.0)  # (angle of the bend direction, bend radius, bend angle)
_AORTA_TAIL = 14.0  # straight length after the bend, up to the cut
_LA_NECK = 10.0  # height of the vertical mitral funnel of the LA
_LA_BODY = (13.0, 25.0, (19.0, 24.0, 20.0))  # (outward shift, height, semi-axes u_m, perp, z)
_RV = ((-17.0, -3.0, -6.0), (30.0, 44.0, 50.0), _BASE + 8.0)  # centre, semi-axes, top z
_RA = ((-28.0, 22.0, _BASE + 14.0), (18.0, 20.0, 22.0))  # centre, semi-axes
_MARGIN = 1.5  # background kept between the aorta and the LA, RV and RA
# Defects.  Gaps: (angle, z of the endocardial entry point, radius); all but two
# near the apex, none on the septum (where the RV lies against the wall).
_GAPS = (
    (0.0, -64.0, 2.0), (20.0, -55.0, 1.5), (100.0, -50.0, 2.5), (-70.0, -49.0, 3.0),
    (55.0, -22.0, 1.5), (-45.0, 2.0, 2.0),
)  # fmt: skip
_THIN = (0.0, -6.0, 6.0, 4.0)  # (angle, z, zero-thickness radius, width of the 1-voxel ring)
_RAGGED = (-60.0, -30.0, 4.5)  # epicardial ragged patch: (angle, z, radius)
_SPECKS = 4
_FLIP = 0.4  # probability of flipping a boundary voxel in a ragged patch
# Default long axis (LPS): towards the patient's right, posterior and superior,
# 30 deg above the axial plane and midway between -x and +y, as in a CT.
_AXIS = np.array([-np.cos(np.pi / 6) / np.sqrt(2), np.cos(np.pi / 6) / np.sqrt(2), 0.5])
_SEPTAL_HINT = np.array([-1.0, -1.0, 0.0])  # the septum faces right-anterior (LPS)


def _unit2(angle_deg: float) -> np.ndarray:
    """Unit vector (x, y) of an angle in the LV frame's x-y plane."""
    a = np.deg2rad(angle_deg)
    return np.array([np.cos(a), np.sin(a)])


def _heart_frame(axis: np.ndarray) -> np.ndarray:
    """Orthonormal columns (lateral, axis x lateral, axis) for a long axis in LPS."""
    axis = axis / np.linalg.norm(axis)
    septal = _SEPTAL_HINT - (_SEPTAL_HINT @ axis) * axis
    if np.linalg.norm(septal) < 0.3:  # axis nearly along the hint: any lateral direction
        return _frame(axis)
    lateral = -septal / np.linalg.norm(septal)
    return np.stack([lateral, np.cross(axis, lateral), axis], axis=1)


@dataclasses.dataclass(frozen=True, eq=False)
class HeartPhantom:
    """A voxelised whole heart with the defects of CT segmentations, and its truth.

    Points are LPS millimetres, directions unit vectors in LPS.  The LV frame
    (:attr:`frame`, :meth:`local`) has its origin at :attr:`centre`, z along
    :attr:`long_axis`, x towards the lateral free wall (away from the septum
    and the RV) and y = z x x, towards the inferior ("posterior") wall, the
    side of the mitral valve; the aortic valve is on the -y, septal side.

    Attributes:
        image: the label map (uint8 if every label value is below 256, else
            uint16, or uint32 past 65535), background 0.
        labels: name -> value of the structures painted.
        valve_point: centre of the true base (valve) plane: the point of the
            long axis where the LV labels are cut [mm].  Every voxel of the LV
            labels (but the specks) has its centre on the apex side of this
            plane; the LA and aorta lie on the other side.
        valve_normal: unit normal of the base plane, from the LV towards the
            atria and aorta (equal to :attr:`long_axis` in this phantom).
        long_axis: unit LV long axis, apex -> base.
        apex: the *epicardial* apex, the most apical point of the
            myocardium's outer surface [mm].
        endocardial_apex: the most apical point of the blood pool's surface [mm].
        lv_myocardium_volume: voxel count of ``lv_myocardium`` on the apex side
            of the base plane (all of it except the isolated specks) times the
            voxel volume [mm^3]: what a correct base cut keeps, defects included.
        lv_blood_pool_volume: the same for ``lv_blood_pool`` [mm^3]; it includes
            the voxels filling the gaps through the wall.
        lv_myocardium_volume_exact: closed-form volume of the defect-free
            myocardium (epicardial minus endocardial truncated ellipsoid,
            :func:`truncated_ellipsoid_volume`) [mm^3].
        lv_blood_pool_volume_exact: closed-form volume of the defect-free blood
            pool below the base plane (the end-diastolic volume) [mm^3].
        gaps: ``(centre, radius)`` of each hole through the wall [mm]; the centre
            is where the hole's axis leaves the epicardial surface, i.e. where
            the blood pool meets the background; radius is the one voxelised
            (the requested radius, raised to half a voxel diagonal if smaller,
            so that the hole is 6-connected through the wall).  Empty without
            gaps.
        thin_wall: ``(centre, radius)`` of the zero-thickness patch [mm]: the
            centre lies on the endocardial surface, and within ``radius`` of the
            line through it along the surface normal the myocardium is removed,
            so the blood pool touches the background there.  A ring
            :attr:`thin_ring` mm wide around it keeps a myocardium one voxel
            thick (only voxels face-adjacent to the blood pool).  ``None``
            without the defect.
        thin_ring: width of that one-voxel-thick ring [mm] (0 without the defect).
        aorta_end: ``(centre, direction)`` of the aorta's flat cut end inside the
            image: the centre of the end disc [mm] and the unit aortic axis there,
            pointing out of the vessel.  ``None`` when the aorta runs to the
            image border (``aorta_cut=False``).
        mitral_centre: centre of the mitral disc, the part of the base plane
            where the LA touches the LV blood pool [mm].
        aortic_centre: centre of the aortic annulus disc, where the aorta
            touches the LV blood pool [mm].
        mitral_radius: radius of the mitral disc [mm].
        aortic_radius: radius of the aortic disc [mm].
        centre: origin of the LV frame, the common centre of the ellipsoids [mm].
        frame: (3, 3) orthonormal columns: the LV frame's x, y and z in LPS.
        endo_radii: (short radius, long half-axis) of the endocardium [mm].
        epi_radii: the same for the epicardium [mm].
        base: height of the base plane above :attr:`centre` [mm].
        specks: LPS centre of the first voxel of each isolated speck of
            myocardium label put in the background [mm]; a speck is that voxel,
            sometimes with its +k neighbour, and no other label lies within
            4 mm of it.
    """

    image: Image
    labels: Mapping[str, int]
    valve_point: np.ndarray
    valve_normal: np.ndarray
    long_axis: np.ndarray
    apex: np.ndarray
    endocardial_apex: np.ndarray
    lv_myocardium_volume: float
    lv_blood_pool_volume: float
    lv_myocardium_volume_exact: float
    lv_blood_pool_volume_exact: float
    gaps: tuple[tuple[np.ndarray, float], ...]
    thin_wall: tuple[np.ndarray, float] | None
    thin_ring: float
    aorta_end: tuple[np.ndarray, np.ndarray] | None
    mitral_centre: np.ndarray
    aortic_centre: np.ndarray
    mitral_radius: float
    aortic_radius: float
    centre: np.ndarray
    frame: np.ndarray
    endo_radii: tuple[float, float]
    epi_radii: tuple[float, float]
    base: float
    specks: tuple[np.ndarray, ...]

    def local(self, points: np.ndarray) -> np.ndarray:
        """LV-frame coordinates (x lateral, y, z axial) of LPS points [mm], (n, 3) -> (n, 3)."""
        return (np.asarray(points, dtype=np.float64) - self.centre) @ self.frame


class _Grid:
    """Voxel centres of an image expressed in the LV frame, box by box."""

    def __init__(self, shape, spacing, origin, direction, centre, frame):
        self.shape = np.asarray(shape)
        self.spacing, self.origin, self.direction = spacing, origin, direction
        self.centre, self.frame = centre, frame
        self.step = frame.T @ direction * spacing  # (3, 3): local change per index step
        self.start = frame.T @ (origin - centre)  # local position of voxel (0, 0, 0)

    def to_index(self, local: np.ndarray) -> np.ndarray:
        """Fractional indices of LV-frame points, (n, 3)."""
        lps = self.centre + np.asarray(local) @ self.frame.T
        return ((lps - self.origin) @ self.direction) / self.spacing

    def box(self, lo, hi) -> tuple[slice, slice, slice] | None:
        """Index slices covering the LV-frame box [lo, hi] (None if outside the image)."""
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        corners = np.array([[(lo, hi)[b >> r & 1][r] for r in range(3)] for b in range(8)])
        index = self.to_index(corners)
        first = np.clip(np.floor(index.min(axis=0)).astype(int) - 1, 0, self.shape)
        last = np.clip(np.ceil(index.max(axis=0)).astype(int) + 2, 0, self.shape)
        if np.any(last <= first):
            return None
        return tuple(slice(int(a), int(b)) for a, b in zip(first, last))

    def coordinates(self, sl) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """LV-frame x, y, z (float32 arrays of the box's shape) of the voxels in ``sl``."""
        ranges = [np.arange(s.start, s.stop, dtype=np.float64) for s in sl]
        out = []
        for r in range(3):
            a = (self.start[r] + self.step[r, 0] * ranges[0]).astype(np.float32)
            b = (self.step[r, 1] * ranges[1]).astype(np.float32)
            c = (self.step[r, 2] * ranges[2]).astype(np.float32)
            out.append(a[:, None, None] + b[None, :, None] + c[None, None, :])
        return out[0], out[1], out[2]

    def chunks(self, sl, voxels: int = 1 << 21):
        """Yield ``(sub-slices, x, y, z)`` over ``sl`` in slabs along i."""
        per_slab = max(1, (sl[1].stop - sl[1].start) * (sl[2].stop - sl[2].start))
        step = max(1, voxels // per_slab)
        for i in range(sl[0].start, sl[0].stop, step):
            sub = (slice(i, min(i + step, sl[0].stop)), sl[1], sl[2])
            yield (sub, *self.coordinates(sub))


@dataclasses.dataclass(frozen=True)
class _Aorta:
    """Centre line of the aorta in the LV frame: a straight root along +z from
    the aortic annulus, a circular bend, a straight tail to the cut."""

    start: np.ndarray  # annulus centre (on the base plane)
    bend: np.ndarray  # unit horizontal direction the aorta bends towards
    tail: float  # length of the last straight piece [mm]

    @property
    def _geometry(self):
        _, bend_radius, bend_angle = _AORTA_BEND
        theta = np.deg2rad(bend_angle)
        ez = np.array([0.0, 0.0, 1.0])
        p1 = self.start + _AORTA_ROOT * ez
        centre = p1 + bend_radius * self.bend
        p2 = centre - bend_radius * np.cos(theta) * self.bend + bend_radius * np.sin(theta) * ez
        t2 = np.sin(theta) * self.bend + np.cos(theta) * ez
        return p1, centre, p2, t2

    def end(self) -> tuple[np.ndarray, np.ndarray]:
        """Centre of the cut end and the axis direction there (LV frame)."""
        _, _, p2, t2 = self._geometry
        return p2 + self.tail * t2, t2

    def points(self, step: float = 1.0) -> np.ndarray:
        """Points along the centre line, (n, 3)."""
        p1, centre, p2, t2 = self._geometry
        _, bend_radius, bend_angle = _AORTA_BEND
        ez = np.array([0.0, 0.0, 1.0])
        root = self.start + np.linspace(0, _AORTA_ROOT, 12)[:, None] * ez
        phi = np.linspace(0, np.deg2rad(bend_angle), 16)[:, None]
        arc = centre - bend_radius * np.cos(phi) * self.bend + bend_radius * np.sin(phi) * ez
        tail = p2 + np.linspace(0, self.tail, max(2, int(self.tail / step)))[:, None] * t2
        return np.concatenate([root, arc, tail])

    def inside(self, x, y, z, extra: float = 0.0) -> np.ndarray:
        """Points inside the tube grown by ``extra`` mm (z above the base not checked)."""
        p1, centre, p2, t2 = self._geometry
        _, bend_radius, _ = _AORTA_BEND
        r0, r1 = _AORTIC[2] + extra, _AORTA_RADIUS + extra
        # Root: radius growing from the annulus to the sinus over _AORTA_GROW mm.
        dx, dy, s = x - float(self.start[0]), y - float(self.start[1]), z - float(self.start[2])
        radius = r0 + (r1 - r0) * np.clip(s * (1.0 / _AORTA_GROW), 0.0, 1.0)
        out = (s >= 0.0) & (s <= _AORTA_ROOT) & (dx * dx + dy * dy <= radius * radius)
        # Bend: a torus sector around `centre`, between the planes at its two ends.
        vx, vy, vz = x - float(centre[0]), y - float(centre[1]), z - float(centre[2])
        bx, by = float(self.bend[0]), float(self.bend[1])
        vn = vx * bx + vy * by  # along the bend direction
        vb = -vx * by + vy * bx  # along the binormal (ez x bend)
        rho = np.sqrt(vn * vn + vz * vz) - bend_radius
        past_end = (x - float(p2[0])) * float(t2[0]) + (y - float(p2[1])) * float(t2[1]) + (
            z - float(p2[2])) * float(t2[2])  # fmt: skip
        out |= (vz >= 0.0) & (vn < 0.0) & (past_end <= 0.0) & (rho * rho + vb * vb <= r1 * r1)
        # Tail: a cylinder from p2 along t2, flat at its cut end.
        wx, wy, wz = x - float(p2[0]), y - float(p2[1]), z - float(p2[2])
        s = past_end
        out |= (s >= 0.0) & (s <= self.tail) & (wx * wx + wy * wy + wz * wz - s * s <= r1 * r1)
        return out


def _ellipsoid(x, y, z, centre, semi, axes=None) -> np.ndarray:
    """Points inside an ellipsoid; ``axes`` (3, 3) columns = its axes in the LV frame."""
    dx, dy, dz = x - float(centre[0]), y - float(centre[1]), z - float(centre[2])
    if axes is None:
        u, v, w = dx, dy, dz
    else:
        u, v, w = (dx * float(axes[0, c]) + dy * float(axes[1, c]) + dz * float(axes[2, c])
                   for c in range(3))  # fmt: skip
    return (u / semi[0]) ** 2 + (v / semi[1]) ** 2 + (w / semi[2]) ** 2 <= 1.0


def _face_neighbour(mask: np.ndarray) -> np.ndarray:
    """Voxels with at least one of their six face neighbours in ``mask``."""
    out = np.zeros_like(mask)
    for axis in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        out[tuple(lo)] |= mask[tuple(hi)]
        out[tuple(hi)] |= mask[tuple(lo)]
    return out


def _endo_point(angle: float, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Point of the endocardial surface at (angle, height) and its outward normal."""
    a, c = _ENDO
    rho = a * np.sqrt(max(0.0, 1.0 - (z / c) ** 2))
    point = np.array([*(rho * _unit2(angle)), z])
    normal = np.array([point[0] / a**2, point[1] / a**2, z / c**2])
    return point, normal / np.linalg.norm(normal)


def _exit_epi(point: np.ndarray, direction: np.ndarray) -> float:
    """Distance along ``direction`` from ``point`` (inside) to the epicardial ellipsoid."""
    scale = np.array([1 / _EPI[0], 1 / _EPI[0], 1 / _EPI[1]])
    p, d = point * scale, direction * scale
    a, b, c = d @ d, 2 * p @ d, p @ p - 1.0
    return float((-b + np.sqrt(b * b - 4 * a * c)) / (2 * a))


def heart_phantom(
    shape: tuple[int, int, int] = (512, 512, 250),
    *,
    spacing: tuple[float, float, float] = (0.5, 0.5, 0.6),
    direction: np.ndarray | None = None,
    origin: np.ndarray | None = None,
    axis: np.ndarray | None = None,
    labels: Mapping[str, int] | str = MMWHS_HEART,
    gaps: bool = True,
    thin_wall: bool = True,
    aorta_cut: bool = True,
    noise: bool = True,
    seed: int = 0,
) -> HeartPhantom:
    """Voxelise a whole heart with the defects that break meshers of CT labels.

    The anatomy, in mm, in the LV frame (origin at the centre of the LV
    ellipsoids, z the long axis from apex to base, x lateral, y = z x x
    towards the inferior wall; see :class:`HeartPhantom`):

    * LV myocardium between two ellipsoids of revolution, endocardium
      (short radius, half-length) = (27, 65), epicardium (37, 72) (10 mm
      thick at the equator, 7 mm at the apex), both cut by the base (valve)
      plane z = 20; the LV blood pool fills the endocardium below it
      (143.6 mL, the end-diastolic volume).
    * Above the plane, the LA (a vertical mitral funnel of radius 12 on a
      disc offset 12.5 mm from the axis towards +y and a little lateral,
      under an ellipsoidal body) and the aorta (a tube of radius 11.5 at
      the annulus, offset 12.5 mm the opposite way, widening to 14 mm,
      rising 10 mm, bending 30 deg towards the septum and cut flat 14 mm
      further on) touch the LV blood pool.  Between these discs and the myocardium's rim the blood pool
      touches the background (unlabelled fibrous tissue), as in CT labels.
    * The RV blood pool is a crescent around the septal side, touching the
      myocardium's outside, never the LV blood pool; the RA (if ``labels``
      names ``ra_blood_pool``) sits above it, beside the LA.  The aorta is
      kept 1.5 mm from the LA, RV and RA.

    Defects (each optional):

    * ``gaps``: six holes (radius 1.5-3 mm, four near the apex, none in the
      septum; positions jittered by ``seed``) where the blood pool continues
      through the wall to the background;
    * ``thin_wall``: on the lateral free wall, a patch 12 mm across with no
      myocardium (the blood pool touches the background), ringed by 4 mm
      of myocardium one voxel thick;
    * ``aorta_cut``: the aorta ends flat inside the image (else it runs out
      of the image);
    * ``noise``: four isolated specks of myocardium 4-25 mm from the heart,
      and two ragged patches (random flips, p = 0.4, of boundary voxels) on
      the epicardium and the top of the LA.

    Geometry in mm does not depend on the sampling: the default image (512 x
    512 x 250 voxels of 0.5 x 0.5 x 0.6 mm, a 256 x 256 x 150 mm CT field of
    view) and a fast one such as ``shape=(160, 160, 120), spacing=(1.2, 1.2,
    1.3)`` hold the same heart, centred in the field of view.  A voxel takes
    the label of its centre.

    Args:
        shape: voxels along i, j, k.
        spacing: voxel size along i, j, k [mm].
        direction: image direction matrix (columns: LPS directions of i, j,
            k); default identity (an axial CT).
        origin: LPS centre of voxel (0, 0, 0) [mm]; default puts the image
            centre at the LPS origin.
        axis: LPS long axis (apex -> base); default points right, posterior
            and superior, 30 deg above the axial plane and midway between -x
            and +y (52, 52 and 60 deg from the x, y and z axes), like a heart
            in a chest CT.  The septum faces right-anterior where possible.
        labels: name -> value (or a :func:`~organfem.imaging.labels.parse_labels`
            specification) naming at least lv_myocardium, lv_blood_pool,
            la_blood_pool, rv_blood_pool and aorta; ra_blood_pool is painted
            if present, other names are ignored.  Default: MM-WHS codes.
        gaps, thin_wall, aorta_cut, noise: switch the defects on or off.
        seed: seed of the random jitter of the gaps and of the noise.

    Returns:
        The label map and its truth, see :class:`HeartPhantom`.

    Raises:
        ParameterError: for a bad shape, spacing or direction, missing label
            names, a zero axis, or a field of view too small to hold the heart (the
            message gives the extent needed).
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 2:
        raise ParameterError(f"heart_phantom: shape must be 3 sizes >= 2, got {shape}")
    spacing = np.asarray(spacing, dtype=np.float64)
    if spacing.shape != (3,) or not np.all(spacing > 0):
        raise ParameterError(f"heart_phantom: spacing must be 3 positive sizes [mm], "
                             f"got {spacing.tolist()}")  # fmt: skip
    direction = np.eye(3) if direction is None else np.asarray(direction, dtype=np.float64)
    if direction.shape != (3, 3) or np.abs(direction.T @ direction - np.eye(3)).max() > 1e-4:
        raise ParameterError(f"heart_phantom: direction must be an orthonormal 3 x 3 matrix, "
                             f"got {direction.tolist()}")  # fmt: skip
    axis = _AXIS if axis is None else np.asarray(axis, dtype=np.float64)
    if axis.shape != (3,) or not np.linalg.norm(axis) > 0:
        raise ParameterError(f"heart_phantom: axis must be a non-zero 3-vector, got {axis!r}")
    axis = axis / np.linalg.norm(axis)
    parsed = parse_labels(labels)
    missing = [name for name in _HEART_REQUIRED if name not in parsed]
    if missing:
        raise ParameterError(f"heart_phantom: labels lack {', '.join(missing)} "
                             f"(given: {', '.join(parsed) or 'none'})")  # fmt: skip
    painted = [n for n in MMWHS_HEART if n in parsed]
    values = {name: int(parsed[name]) for name in painted}
    top = max(values.values())
    dtype = np.uint8 if top < 1 << 8 else np.uint16 if top < 1 << 16 else np.uint32
    rng = np.random.default_rng(seed)
    frame = _heart_frame(axis)

    # Anatomy in the LV frame.
    (a_endo, c_endo), (a_epi, c_epi), base = _ENDO, _EPI, _BASE
    u_m = _unit2(_MITRAL[0])
    mitral = np.array([*(_MITRAL[1] * u_m), base])
    aortic = np.array([*(_AORTIC[1] * _unit2(_AORTIC[0])), base])
    bend = np.array([*_unit2(_AORTA_BEND[0]), 0.0])
    aorta = _Aorta(aortic, bend, _AORTA_TAIL)
    shift, height, la_semi = _LA_BODY
    la_axes = np.array([[u_m[0], -u_m[1], 0.0], [u_m[1], u_m[0], 0.0], [0.0, 0.0, 1.0]])
    la_centre = np.array([*(mitral[:2] + shift * u_m), base + height])
    rv_centre, rv_semi, rv_top = (np.array(_RV[0]), _RV[1], _RV[2])
    ra_centre, ra_semi = np.array(_RA[0]), _RA[1]

    # Place the heart's bounding box at the image centre; check that it fits.
    extent = direction * spacing * (np.array(shape) - 1)  # columns: LPS image edges
    half_diagonal = extent.sum(axis=1) / 2.0
    origin = -half_diagonal if origin is None else np.asarray(origin, dtype=np.float64)
    ellipsoids = [
        (np.zeros(3), np.eye(3), (a_epi, a_epi, c_epi)),
        (la_centre, la_axes, la_semi),
        (rv_centre, np.eye(3), rv_semi),
        (ra_centre, np.eye(3), ra_semi),
    ]
    tube = aorta.points()
    index_axes = frame.T @ direction  # columns: image axes in the LV frame
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for c, axes, semi in ellipsoids:
        reach = np.sqrt(((axes.T @ index_axes) ** 2 * np.array(semi)[:, None] ** 2).sum(0))
        lo = np.minimum(lo, c @ index_axes - reach)
        hi = np.maximum(hi, c @ index_axes + reach)
    lo = np.minimum(lo, (tube @ index_axes).min(0) - _AORTA_RADIUS)
    hi = np.maximum(hi, (tube @ index_axes).max(0) + _AORTA_RADIUS)
    # Along image axis n, position = centre . d_n + local . index_axes[:, n].
    field = spacing * (np.array(shape) - 1)
    margin = 3.0 * spacing.max()
    if np.any(hi - lo + 2 * margin > field):
        raise ParameterError(
            f"heart_phantom: the field of view {np.round(field, 1).tolist()} mm ((shape - 1) "
            f"x spacing) cannot hold the heart, which spans {np.round(hi - lo, 1).tolist()} mm "
            f"along the image axes (+{margin:.1f} mm margins)"
        )
    centre_of_image = origin + half_diagonal
    centre = centre_of_image - direction @ ((lo + hi) / 2.0)
    grid = _Grid(shape, spacing, origin, direction, centre, frame)

    def to_lps(local):
        return centre + frame @ np.asarray(local, dtype=np.float64)

    out = np.zeros(shape, dtype=dtype)
    v_myo, v_blood = values["lv_myocardium"], values["lv_blood_pool"]

    def epi_inside(x, y, z):
        return (x * x + y * y) * (1.0 / a_epi**2) + z * z * (1.0 / c_epi**2) <= 1.0

    def la_inside(x, y, z):
        dx, dy = x - float(mitral[0]), y - float(mitral[1])
        neck = (z > base) & (z <= base + _LA_NECK) & (dx * dx + dy * dy <= _MITRAL[2] ** 2)
        return (neck | _ellipsoid(x, y, z, la_centre, la_semi, la_axes)) & (z > base)

    def rv_inside(x, y, z):
        return _ellipsoid(x, y, z, rv_centre, rv_semi) & (z <= rv_top) & ~epi_inside(x, y, z)

    def paint(lo_box, hi_box, inside, value, excluded=()):
        sl = grid.box(lo_box, hi_box)
        if sl is None:
            return
        for sub, x, y, z in grid.chunks(sl):
            mask = inside(x, y, z)
            for other in excluded:  # evaluated only where the mask holds
                if mask.any():
                    where = np.nonzero(mask)
                    mask[where] = ~other(x[where], y[where], z[where])
            out[sub][mask] = value

    def aorta_grown(x, y, z):
        return aorta.inside(x, y, z, _MARGIN)

    # RA, RV, LA, aorta, LV: disjoint by construction (exclusions, base plane).
    if "ra_blood_pool" in values:
        paint(ra_centre - ra_semi, ra_centre + ra_semi,
              lambda x, y, z: _ellipsoid(x, y, z, ra_centre, ra_semi),
              values["ra_blood_pool"], (epi_inside, rv_inside, la_inside, aorta_grown))  # fmt: skip
    paint(rv_centre - rv_semi, np.minimum(rv_centre + rv_semi, [np.inf, np.inf, rv_top]),
          rv_inside, values["rv_blood_pool"], (la_inside, aorta_grown))  # fmt: skip
    la_reach = np.abs(la_axes) @ np.array(la_semi)
    paint(np.minimum(la_centre - la_reach, mitral - _MITRAL[2]),
          la_centre + la_reach, la_inside, values["la_blood_pool"], (aorta_grown,))  # fmt: skip
    cut_end = None
    if not aorta_cut:  # run the tail out of the image
        aorta = _Aorta(aortic, bend, float(np.linalg.norm(field)) + 100.0)
    else:
        cut_end = aorta.end()
    points = aorta.points(step=5.0)
    paint(points.min(0) - _AORTA_RADIUS, points.max(0) + _AORTA_RADIUS,
          lambda x, y, z: aorta.inside(x, y, z) & (z > base), values["aorta"])  # fmt: skip

    def lv_paint(lo_box, hi_box):
        sl = grid.box(lo_box, hi_box)
        for sub, x, y, z in grid.chunks(sl):
            r2 = x * x + y * y
            below = z <= base
            view = out[sub]
            view[(r2 * (1.0 / a_epi**2) + z * z * (1.0 / c_epi**2) <= 1.0) & below] = v_myo
            view[(r2 * (1.0 / a_endo**2) + z * z * (1.0 / c_endo**2) <= 1.0) & below] = v_blood

    lv_paint((-a_epi, -a_epi, -c_epi), (a_epi, a_epi, base))

    def local_box(point, half):
        sl = grid.box(point - half, point + half)
        return sl, grid.coordinates(sl)

    # Thin wall: no myocardium within `radius` of the normal line, one voxel in the ring.
    thin_truth, thin_ring = None, 0.0
    if thin_wall:
        angle, z0, radius, thin_ring = _THIN
        point, normal = _endo_point(angle, z0)
        sl, (x, y, z) = local_box(point + 5.0 * normal, radius + thin_ring + 8.0)
        d = np.stack([x - point[0], y - point[1], z - point[2]]).astype(np.float32)
        along = np.tensordot(normal.astype(np.float32), d, axes=1)
        perp = np.sqrt(np.maximum((d * d).sum(0) - along * along, 0.0))
        near = (along >= -3.0) & (along <= 15.0)
        view = out[sl]
        myo = view == v_myo
        view[myo & near & (perp <= radius)] = 0
        ring = near & (perp > radius) & (perp <= radius + thin_ring)
        view[myo & ring & ~_face_neighbour(view == v_blood)] = 0
        thin_truth = (to_lps(point), float(radius))

    # Gaps: the blood pool fills a cylinder through the wall along its normal.
    gap_truth = []
    if gaps:
        half_diag = 0.5 * float(np.linalg.norm(spacing)) * 1.01
        for angle, z0, radius in _GAPS:
            angle += rng.uniform(-8.0, 8.0)
            z0 = max(z0 + rng.uniform(-2.0, 2.0), -c_endo + 1.0)
            radius = max(radius, half_diag)
            point, normal = _endo_point(angle, z0)
            length = _exit_epi(point, normal)
            mid = point + 0.5 * length * normal
            sl, (x, y, z) = local_box(mid, 0.5 * length + radius + 4.0)
            d = np.stack([x - point[0], y - point[1], z - point[2]]).astype(np.float32)
            along = np.tensordot(normal.astype(np.float32), d, axes=1)
            perp2 = (d * d).sum(0) - along * along
            hole = (along >= -2.0) & (along <= length + 2.0) & (perp2 <= radius * radius)
            view = out[sl]
            view[hole & (view == v_myo)] = v_blood
            gap_truth.append((to_lps(point + length * normal), float(radius)))

    # Ragged edges: random flips of boundary voxels on the epicardium and the LA top.
    if noise:
        angle, z0, radius = _RAGGED
        epi_point = np.array([*(a_epi * np.sqrt(1 - (z0 / c_epi) ** 2) * _unit2(angle)), z0])
        la_top = la_centre + np.array([0.0, 0.0, la_semi[2]])
        for point, value in ((epi_point, v_myo), (la_top, values["la_blood_pool"])):
            sl, (x, y, z) = local_box(point, radius + 2.0)
            ball = (x - point[0]) ** 2 + (y - point[1]) ** 2 + (z - point[2]) ** 2 <= radius**2
            view = out[sl]
            inside, empty = view == value, view == 0
            shed = inside & _face_neighbour(empty) & ball & (rng.random(view.shape) < _FLIP)
            grow = empty & _face_neighbour(inside) & ball & (rng.random(view.shape) < _FLIP)
            view[shed] = 0
            view[grow] = value

    voxel = float(np.prod(spacing))
    myo_volume = float(np.count_nonzero(out == v_myo)) * voxel
    blood_volume = float(np.count_nonzero(out == v_blood)) * voxel

    # Specks: isolated myocardium voxels 4-25 mm from the heart (after the truth counts).
    speck_truth = []
    if noise:
        near = np.ceil(4.0 / spacing).astype(int)
        far = np.ceil(25.0 / spacing).astype(int)
        tries = 0
        while len(speck_truth) < _SPECKS and tries < 2000:
            tries += 1
            direction_local = rng.normal(size=3)
            direction_local /= np.linalg.norm(direction_local)
            local = np.array([0.0, 0.0, -20.0]) + rng.uniform(45.0, 80.0) * direction_local
            index = np.rint(grid.to_index(local[None])[0]).astype(int)
            if np.any(index - far < 0) or np.any(index + far >= np.array(shape)):
                continue
            i, j, k = index
            if out[i - near[0]:i + near[0] + 1, j - near[1]:j + near[1] + 1,
                   k - near[2]:k + near[2] + 1].any():  # fmt: skip
                continue
            if not out[i - far[0]:i + far[0] + 1, j - far[1]:j + far[1] + 1,
                       k - far[2]:k + far[2] + 1].any():  # fmt: skip
                continue
            out[i, j, k] = v_myo
            if rng.random() < 0.5:
                out[i, j, k + 1] = v_myo
            speck_truth.append(origin + direction @ (spacing * index))

    blood_exact = truncated_ellipsoid_volume(a_endo, c_endo, base)
    myo_exact = truncated_ellipsoid_volume(a_epi, c_epi, base) - blood_exact
    aorta_end = None
    if cut_end is not None:
        aorta_end = (to_lps(cut_end[0]), frame @ cut_end[1])

    def frozen(a):
        a = np.array(a, dtype=np.float64)
        a.setflags(write=False)
        return a

    return HeartPhantom(
        image=Image(out, spacing, origin, direction),
        labels=MappingProxyType(values),
        valve_point=frozen(to_lps([0.0, 0.0, base])),
        valve_normal=frozen(axis),
        long_axis=frozen(axis),
        apex=frozen(to_lps([0.0, 0.0, -c_epi])),
        endocardial_apex=frozen(to_lps([0.0, 0.0, -c_endo])),
        lv_myocardium_volume=myo_volume,
        lv_blood_pool_volume=blood_volume,
        lv_myocardium_volume_exact=myo_exact,
        lv_blood_pool_volume_exact=blood_exact,
        gaps=tuple((frozen(c), r) for c, r in gap_truth),
        thin_wall=None if thin_truth is None else (frozen(thin_truth[0]), thin_truth[1]),
        thin_ring=float(thin_ring),
        aorta_end=None if aorta_end is None else (frozen(aorta_end[0]), frozen(aorta_end[1])),
        mitral_centre=frozen(to_lps(mitral)),
        aortic_centre=frozen(to_lps(aortic)),
        mitral_radius=float(_MITRAL[2]),
        aortic_radius=float(_AORTIC[2]),
        centre=frozen(centre),
        frame=frozen(frame),
        endo_radii=_ENDO,
        epi_radii=_EPI,
        base=float(base),
        specks=tuple(frozen(p) for p in speck_truth),
    )

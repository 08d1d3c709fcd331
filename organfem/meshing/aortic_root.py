"""A parametric adult aortic root for TAVI planning: a structured, tagged wall mesh.

:func:`aortic_root` meshes the wall of the left-ventricular outflow tract
(LVOT), the aortic root (annulus, three sinuses of Valsalva, sino-tubular
junction) and a short ascending aorta with numpy only.  The mesh is
structured: a grid in ``(theta, z, s)`` (angle, height, position across the
wall) mapped onto the wall, each grid hexahedron split into six tetrahedra with
the Kuhn (Freudenthal) split, which conforms across cells and across the seam
``theta = 0 = 2 pi``.  With ``order=2`` the tetrahedra are curved: each edge
node is the image of the parametric midpoint of its edge under the geometry
map (:attr:`MeshData.edge_nodes <organfem.meshing.MeshData.edge_nodes>`).

Coordinates [mm]: the origin is the annulus centre; ``+z`` is the root axis from
the LVOT (inlet, ``z < 0``) toward the aorta (outlet); the annulus lies in the
plane ``z = 0``.  The angle ``theta`` is measured from ``+x``, counter-clockwise
about ``+z``.  The sinuses are centred at ``theta = 90`` (right coronary, R),
``210`` (left, L) and ``330`` degrees (non-coronary, N), the commissures midway
(N-R 30, R-L 150, L-N 270 degrees); the maximum annulus diameter lies along x.

:func:`root_landmarks` measures the annulus, the coronary ostia and the septal
band from the tags alone (:data:`ROOT_FACET_TAGS`, :data:`ROOT_CELL_TAGS`), so
it works for any mesh with that tag contract, e.g. one made from an image.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import types
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import MeshError, ParameterError
from .idealised import _KUHN, _MIN_RELATIVE_SIZE, _check_order, _check_size
from .mesh import TET_EDGES, MeshData, boundary_facets

__all__ = [
    "ROOT_FACET_TAGS",
    "ROOT_CELL_TAGS",
    "LUMEN_TAGS",
    "CalciumNodule",
    "AorticRootGeometry",
    "aortic_root",
    "RootLandmarks",
    "root_landmarks",
]

log = logging.getLogger(__name__)

#: Facet tags of an aortic-root mesh.  ``"lumen"``, ``"septal_band"`` and the
#: two ostia together are the blood-facing surface (:data:`LUMEN_TAGS`);
#: ``"outer"`` the adventitial surface, ``"inlet"``/``"outlet"`` the cut ends.
ROOT_FACET_TAGS: Mapping[str, int] = types.MappingProxyType(
    {
        "lumen": 1,
        "septal_band": 2,
        "left_ostium": 3,
        "right_ostium": 4,
        "outer": 5,
        "inlet": 6,
        "outlet": 7,
    }
)
#: Cell tags: ``"lvot"`` below the annulus, ``"aortic_wall"`` above it, and
#: ``"calcium"`` (present only when a nodule tags cells) overriding both.
ROOT_CELL_TAGS: Mapping[str, int] = types.MappingProxyType(
    {"lvot": 1, "aortic_wall": 2, "calcium": 3}
)
#: The facet tags that together make up the whole blood-facing surface.
LUMEN_TAGS = ("lumen", "septal_band", "left_ostium", "right_ostium")

# Sinus centres and commissures [deg] (R, L, N; the N-R commissure first).
_SINUS_DEG = (90.0, 210.0, 330.0)
_COMMISSURE_DEG = (30.0, 150.0, 270.0)
# Below this height [mm] the LVOT wall has its full thickness; it blends to the
# aortic wall thickness at the annulus (z = 0) with a smoothstep.
_LVOT_BLEND = 2.0


def _smoothstep(s):
    s = np.clip(s, 0.0, 1.0)
    return s * s * (3.0 - 2.0 * s)


def _wrap(angle):
    """An angle difference [rad] wrapped to [-pi, pi)."""
    return (np.asarray(angle) + np.pi) % (2.0 * np.pi) - np.pi


def _number(owner: str, name: str, value, unit: str = "mm") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ParameterError(f"{owner}.{name}={value!r} must be a number [{unit}]")
    value = float(value)
    if not math.isfinite(value):
        raise ParameterError(f"{owner}.{name}={value!r} must be finite [{unit}]")
    return value


def _positive(owner: str, name: str, value, unit: str = "mm") -> float:
    value = _number(owner, name, value, unit)
    if not value > 0:
        raise ParameterError(f"{owner}.{name}={value:g} {unit} must be > 0")
    return value


@dataclasses.dataclass(frozen=True)
class CalciumNodule:
    """A calcium nodule on the blood-facing surface of the root or LVOT.

    The lumen is pulled inward by ``protrusion_mm * cos^2(pi d / (2 radius_mm))``
    within surface distance ``d < radius_mm`` of the nodule centre, and the
    wall cells of the inner half of the wall there are tagged ``"calcium"``.

    Attributes:
        angle_deg: angle of the centre from +x about +z [deg].
        height_mm: height of the centre above the annulus [mm]; negative for
            a nodule in the LVOT.
        radius_mm: radius of the nodule on the wall surface [mm], > 0.
            Default 3 mm: annular/LVOT calcium nodules of a few mm.
        protrusion_mm: how far it bulges into the lumen [mm], >= 0.
            Default 1.5 mm.

    Raises:
        ParameterError: naming the field, for non-finite values, a radius
            <= 0 or a negative protrusion.
    """

    angle_deg: float
    height_mm: float
    radius_mm: float = 3.0
    protrusion_mm: float = 1.5

    def __post_init__(self) -> None:
        _number("CalciumNodule", "angle_deg", self.angle_deg, "deg")
        _number("CalciumNodule", "height_mm", self.height_mm)
        _positive("CalciumNodule", "radius_mm", self.radius_mm)
        p = _number("CalciumNodule", "protrusion_mm", self.protrusion_mm)
        if p < 0:
            raise ParameterError(f"CalciumNodule.protrusion_mm={p:g} mm must be >= 0")


@dataclasses.dataclass(frozen=True)
class AorticRootGeometry:
    """Dimensions of an adult aortic root and LVOT [mm] (defaults: a mean adult).

    The lumen radius ``r(theta, z)`` is the annulus ellipse (polar form, the
    maximum diameter along x) in the LVOT (``z <= 0``); over the sinus height
    ``0 <= z <= H`` it blends to the circular sino-tubular junction (STJ) with
    a smoothstep ``3s^2 - 2s^3`` of ``s = z / H`` and adds three sinus lobes
    ``A_k sin(pi z / H) |cos(1.5 (theta - 90 deg))|`` (zero at the
    commissures), each amplitude ``A_k`` chosen so that the radius at its
    sinus centre at mid-height is ``sinus_diameter / 2``; above the STJ the
    diameter changes linearly to ``ascending_diameter`` over
    ``ascending_length``.  The outer surface lies ``t(z)`` further out along
    the radial direction: ``lvot_wall_thickness`` below ``z = -2`` mm,
    blending (smoothstep) to ``wall_thickness`` at the annulus.

    Attributes:
        annulus_dmax, annulus_dmin: maximum (along x) and minimum (along y)
            annulus diameters [mm].
        lvot_length: length of LVOT kept below the annulus [mm].
        sinus_diameter: diameter at the sinus centres at mid sinus height [mm].
        sinus_height: annulus to STJ [mm].
        stj_diameter: sino-tubular junction diameter [mm].
        ascending_length, ascending_diameter: ascending aorta kept above the
            STJ and its diameter at the outlet [mm].
        wall_thickness: aortic root wall [mm].
        lvot_wall_thickness: LVOT wall [mm]; the septal myocardium and the
            aorto-mitral curtain below the annulus are modelled together as a
            layer of this thickness (a modelling choice, not anatomy).
        left_ostium_height, right_ostium_height: heights of the left and right
            coronary ostia above the annulus [mm], at the L and R sinus centres.
        ostium_diameter: diameter of each ostium [mm].
        septal_band_width_deg: angular width of the septal band [deg], centred
            on the N-R commissure (30 deg), below which lies the membranous
            septum (conduction-tissue risk zone for implant depth).
        septal_band_depth: extent of the septal band below the annulus [mm].

    Raises:
        ParameterError: naming the field, its value and unit and what was
            expected, e.g. ``annulus_dmin > annulus_dmax``, a non-positive
            length or thickness, an ostium outside the modelled wall or a
            sinus diameter too small for the blend (negative lobe amplitude).
    """

    # Tops et al. (2008) JACC Cardiovasc Imaging 1:321-330, MSCT in 169
    # patients: annulus 26.3 +- 2.8 mm (coronal view) and 23.5 +- 2.7 mm
    # (sagittal view), i.e. an oval annulus.
    annulus_dmax: float = 26.3
    annulus_dmin: float = 23.5
    # Room below the annulus for implant depths up to ~8 mm plus a frame's inflow.
    lvot_length: float = 12.0
    # Sinus of Valsalva 3.4 +- 0.3 cm (men) and 3.0 +- 0.3 cm (women): Lang et
    # al. (2015) J Am Soc Echocardiogr 28:1-39 (ASE/EACVI chamber
    # quantification, aortic root table); 32 mm is the mid value.
    sinus_diameter: float = 32.0
    # Sinus height / annular radius = 1.69 +- 0.18 on gated CT (150 scans;
    # "Aortic root and valve proportions: an example of the golden ratio?",
    # Monaldi Arch Chest Dis 2019;89:1022): 1.69 x 12.45 mm = 21.0 mm.
    sinus_height: float = 21.0
    # STJ 2.9 +- 0.3 cm (men), 2.6 +- 0.3 cm (women), Lang et al. (2015)
    # (as above): a few mm wider than the mean annulus diameter (24.9 mm).
    stj_diameter: float = 28.0
    ascending_length: float = 10.0
    # Proximal ascending aorta 3.0 +- 0.4 cm (men), 2.7 +- 0.4 cm (women),
    # Lang et al. (2015); kept equal to the STJ here.
    ascending_diameter: float = 28.0
    # Ascending aortic wall: median 1.46-1.56 mm (95th percentile 1.9-2.0 mm)
    # on MRI, Mensel et al. (2014) Eur Radiol 24:2038; mean 2.8 mm in MESA
    # (Turkbey et al. 2014, J Magn Reson Imaging 39:360).  2 mm lies between.
    wall_thickness: float = 2.0
    # Septal myocardium/aorto-mitral curtain below the annulus, modelled as a
    # 4 mm layer (a modelling choice: thinner than the 6-11 mm septum of
    # Lang et al. 2015, since only its subannular rim supports an implant).
    lvot_wall_thickness: float = 4.0
    # Annulus-to-ostium distances, Tops et al. (2008): left coronary
    # 14.4 +- 2.9 mm, right coronary 17.2 +- 3.3 mm.
    left_ostium_height: float = 14.4
    right_ostium_height: float = 17.2
    # Left main lumen 4.5 +- 0.5 mm, proximal RCA 2.8-3.9 mm: Dodge et al.
    # (1992) Circulation 86:232-246; 4 mm lies between.
    ostium_diameter: float = 4.0
    # Membranous septum below the N-R commissure; a 50 deg band (~11 mm of
    # annulus arc) covers it with margin (a modelling choice).
    septal_band_width_deg: float = 50.0
    # Implant depths studied for conduction disturbances reach ~10 mm below
    # the annulus (a modelling choice covering them).
    septal_band_depth: float = 10.0

    def __post_init__(self) -> None:
        owner = "AorticRootGeometry"
        for field in dataclasses.fields(self):
            unit = "deg" if field.name.endswith("_deg") else "mm"
            _positive(owner, field.name, getattr(self, field.name), unit)
        if self.annulus_dmin > self.annulus_dmax:
            raise ParameterError(
                f"{owner}.annulus_dmin={self.annulus_dmin:g} mm must be <= annulus_dmax="
                f"{self.annulus_dmax:g} mm (the minimum and maximum annulus diameters)"
            )
        if self.septal_band_width_deg >= 360.0:
            raise ParameterError(
                f"{owner}.septal_band_width_deg={self.septal_band_width_deg:g} deg must be "
                "< 360 deg"
            )
        if self.septal_band_depth > self.lvot_length:
            raise ParameterError(
                f"{owner}.septal_band_depth={self.septal_band_depth:g} mm must be <= "
                f"lvot_length={self.lvot_length:g} mm (the band lies in the modelled LVOT)"
            )
        top = self.sinus_height + self.ascending_length
        for name in ("left_ostium_height", "right_ostium_height"):
            value = getattr(self, name)
            if not value + 0.5 * self.ostium_diameter <= top:
                raise ParameterError(
                    f"{owner}.{name}={value:g} mm: the ostium (diameter "
                    f"{self.ostium_diameter:g} mm) must lie below the outlet at "
                    f"sinus_height + ascending_length = {top:g} mm"
                )
        amplitudes = self._lobe_amplitudes()
        if amplitudes.min() < -1e-9 * self.sinus_diameter:
            need = 2.0 * (0.5 * self.sinus_diameter - amplitudes.min())
            raise ParameterError(
                f"{owner}.sinus_diameter={self.sinus_diameter:g} mm is too small: the "
                f"sinuses must bulge outward from the annulus-to-STJ blend, so it must "
                f"be >= {need:.4g} mm for these annulus and STJ diameters"
            )

    @classmethod
    def circular(cls, diameter: float = 24.0, wall: float = 2.0, **kw) -> AorticRootGeometry:
        """A straight circular tube with the same landmark layout (for tests).

        No sinus bulge: annulus, sinus, STJ and ascending diameters all equal
        ``diameter``, and both wall thicknesses equal ``wall``; the ostium and
        septal-band tags are laid out as usual.

        Args:
            diameter: lumen diameter [mm], > 0.
            wall: wall thickness [mm], > 0.
            **kw: other fields of :class:`AorticRootGeometry`.
        """
        fields = dict(
            annulus_dmax=diameter,
            annulus_dmin=diameter,
            sinus_diameter=diameter,
            stj_diameter=diameter,
            ascending_diameter=diameter,
            wall_thickness=wall,
            lvot_wall_thickness=wall,
        )
        return cls(**(fields | kw))

    # -- the geometry map ------------------------------------------------
    def _ellipse_radius(self, theta):
        """Polar radius of the annulus ellipse at angle ``theta`` [rad] [mm]."""
        a, b = 0.5 * self.annulus_dmax, 0.5 * self.annulus_dmin
        if a == b:
            return np.full_like(np.asarray(theta, dtype=float), a)
        return a * b / np.hypot(b * np.cos(theta), a * np.sin(theta))

    def _lobe_amplitudes(self) -> np.ndarray:
        """Sinus bulge amplitude of the R, L and N lobes [mm], shape (3,)."""
        base = self._ellipse_radius(np.radians(_SINUS_DEG))
        # smoothstep(1/2) = 1/2 and sin(pi/2) = 1 at mid sinus height
        return 0.5 * self.sinus_diameter - 0.5 * (base + 0.5 * self.stj_diameter)

    def lumen_radius(self, theta, z) -> np.ndarray:
        """Lumen radius [mm] at angle ``theta`` [rad] and height ``z`` [mm] (broadcast)."""
        theta, z = np.broadcast_arrays(np.asarray(theta, float), np.asarray(z, float))
        H = self.sinus_height
        ellipse = self._ellipse_radius(theta)
        r_stj = 0.5 * self.stj_diameter
        beta = _smoothstep(z / H)
        lobe = np.floor(((theta - np.radians(30.0)) % (2 * np.pi)) / (2 * np.pi / 3)).astype(int)
        amplitude = np.maximum(self._lobe_amplitudes(), 0.0)[np.clip(lobe, 0, 2)]
        bulge = np.abs(np.cos(1.5 * (theta - np.radians(_SINUS_DEG[0]))))
        sinus = (1 - beta) * ellipse + beta * r_stj + amplitude * np.sin(np.pi * z / H) * bulge
        up = np.clip((z - H) / self.ascending_length, 0.0, None)
        ascending = r_stj + (0.5 * self.ascending_diameter - r_stj) * up
        return np.where(z <= 0, ellipse, np.where(z <= H, sinus, ascending))

    def thickness(self, z) -> np.ndarray:
        """Wall thickness [mm] at height ``z`` [mm]."""
        w = _smoothstep((np.asarray(z, float) + _LVOT_BLEND) / _LVOT_BLEND)
        return (1 - w) * self.lvot_wall_thickness + w * self.wall_thickness


def _check_nodules(geometry: AorticRootGeometry, calcium) -> tuple[CalciumNodule, ...]:
    nodules = tuple(calcium)
    bottom, top = -geometry.lvot_length, geometry.sinus_height + geometry.ascending_length
    for i, nodule in enumerate(nodules):
        if not isinstance(nodule, CalciumNodule):
            raise ParameterError(
                f"aortic_root: calcium[{i}]={nodule!r} must be a CalciumNodule"
            )
        if not bottom <= nodule.height_mm <= top:
            raise ParameterError(
                f"aortic_root: calcium[{i}].height_mm={nodule.height_mm:g} mm must lie in the "
                f"modelled wall, [{bottom:g}, {top:g}] mm"
            )
        r = float(geometry.lumen_radius(np.radians(nodule.angle_deg), nodule.height_mm))
        if not nodule.protrusion_mm < 0.5 * r:
            raise ParameterError(
                f"aortic_root: calcium[{i}].protrusion_mm={nodule.protrusion_mm:g} mm must be "
                f"< half the lumen radius there ({0.5 * r:.3g} mm)"
            )
    return nodules


def _surface_distance(geometry, theta, z, centre_deg: float, centre_z: float):
    """Distance on the unrolled lumen from (centre_deg, centre_z) [mm].

    ``sqrt((r_c dtheta)^2 + dz^2)`` with ``r_c`` the lumen radius at the centre.
    """
    t0 = math.radians(centre_deg)
    r_c = float(geometry.lumen_radius(t0, centre_z))
    return np.hypot(r_c * _wrap(theta - t0), z - centre_z)


def _grid(h: float, geometry: AorticRootGeometry) -> tuple[int, np.ndarray]:
    """Number of angular cells and the z grid lines (knots at 0 and H) [mm]."""
    r_mean = 0.25 * (geometry.annulus_dmax + geometry.annulus_dmin)
    n_theta = 6 * max(1, round(2 * math.pi * r_mean / (6 * h)))
    H = geometry.sinus_height
    knots = (-geometry.lvot_length, 0.0, H, H + geometry.ascending_length)
    z = [np.array([knots[0]])]
    for lo, hi in zip(knots[:-1], knots[1:]):
        z.append(np.linspace(lo, hi, max(1, round((hi - lo) / h)) + 1)[1:])
    return n_theta, np.concatenate(z)


def aortic_root(
    geometry: AorticRootGeometry = AorticRootGeometry(),
    *,
    h: float = 2.0,
    wall_layers: int = 2,
    order: int = 2,
    calcium: Sequence[CalciumNodule] = (),
) -> MeshData:
    """A structured tetrahedral mesh of the LVOT, aortic root and ascending aorta wall.

    The grid has ``n_theta`` angular cells (the multiple of 6 nearest
    ``2 pi r_mean / h``, ``r_mean`` the mean annulus radius), z grid lines
    about ``h`` apart with lines at the annulus ``z = 0`` and the STJ
    ``z = sinus_height``, and ``wall_layers`` layers across the wall:
    ``6 n_theta n_z wall_layers`` tetrahedra.

    Tags (:data:`ROOT_FACET_TAGS`, :data:`ROOT_CELL_TAGS`; names that tag
    nothing are left out):

    * lumen facets within ``ostium_diameter / 2`` (surface distance, by
      facet centroid) of an ostium centre are ``"left_ostium"`` or
      ``"right_ostium"`` (at least the nearest facet), otherwise
      ``"septal_band"`` where ``|theta - 30 deg| <= width / 2`` and
      ``-depth <= z <= 0``, otherwise ``"lumen"``; the outer surface is
      ``"outer"``, the bottom ``"inlet"``, the top ``"outlet"``;
    * cells with centroid below the annulus are ``"lvot"``, the rest
      ``"aortic_wall"``; cells of the inner half of the wall layers (at least
      the innermost) whose centroid is within a nodule's radius (surface
      distance) of its centre are ``"calcium"`` (at least the nearest one).

    Fibres: per cell, circumferential, axial and radial directions
    (:func:`organfem.fibres.vessel_fibres` about the z axis).

    Args:
        geometry: the dimensions [mm].
        h: target edge length [mm], > 0 and at least 1/200 of the root's size.
        wall_layers: number of cell layers across the wall, >= 1.
        order: 1 for straight-sided tetrahedra, 2 for curved 10-node
            tetrahedra whose edge nodes are parametric midpoints mapped onto
            the geometry.
        calcium: calcium nodules; each pulls the lumen inward (the outer
            surface stays) and tags cells ``"calcium"``.

    Returns:
        A validated, positively oriented tetrahedral mesh (order 1 or 2).

    Raises:
        ParameterError: for a bad ``h``, ``wall_layers``, ``order``, geometry
            or nodule (naming the argument or field).
    """
    start = time.perf_counter()
    if not isinstance(geometry, AorticRootGeometry):
        raise ParameterError(f"aortic_root: geometry={geometry!r} must be an AorticRootGeometry")
    h = _check_size(h)
    order = _check_order("aortic_root", order)
    if isinstance(wall_layers, bool) or not isinstance(wall_layers, int) or wall_layers < 1:
        raise ParameterError(f"aortic_root: wall_layers={wall_layers!r} must be an integer >= 1")
    size = max(geometry.annulus_dmax, geometry.sinus_diameter,
               geometry.lvot_length + geometry.sinus_height + geometry.ascending_length)
    if h < _MIN_RELATIVE_SIZE * size:
        raise ParameterError(
            f"aortic_root: mesh size h={h:g} mm is below {_MIN_RELATIVE_SIZE:g} of the size of "
            f"the root ({size:g} mm), which would make far too many cells; lengths are in mm"
        )
    nodules = _check_nodules(geometry, calcium)

    n_t, z_lines = _grid(h, geometry)
    n_z, n_r = z_lines.size - 1, wall_layers
    # A doubled grid holds the vertices (even indices) and the edge midpoints.
    N_t, N_z, N_r = 2 * n_t, 2 * n_z + 1, 2 * n_r + 1
    z_half = np.empty(N_z)
    z_half[0::2] = z_lines
    z_half[1::2] = 0.5 * (z_lines[:-1] + z_lines[1:])

    # Hexahedra (i, j, k) and their corners in doubled, unwrapped coordinates.
    hi, hj, hk = (g.ravel() for g in np.meshgrid(
        np.arange(n_t), np.arange(n_z), np.arange(n_r), indexing="ij"))
    corner = np.array([[c & 1, c >> 1 & 1, c >> 2 & 1] for c in range(8)])
    hex_ijk = np.stack([hi, hj, hk], axis=1)
    tet_corner = corner[_KUHN]  # (6, 4, 3)
    tets = 2 * (hex_ijk[:, None, None, :] + tet_corner[None])  # (hexes, 6, 4, 3)
    tets = tets.reshape(-1, 4, 3)
    hex_of_tet = np.repeat(np.arange(hex_ijk.shape[0]), 6)
    nodes = tets
    if order == 2:
        edges = np.array(TET_EDGES)
        nodes = np.concatenate([tets, (tets[:, edges[:, 0]] + tets[:, edges[:, 1]]) // 2], axis=1)
    nodes = nodes.copy()
    nodes[..., 0] %= N_t
    ids = nodes[..., 0] + N_t * (nodes[..., 1] + N_z * nodes[..., 2])
    # Vertices first, then edge nodes; each numbered in doubled-grid order.
    vertex_ids = np.unique(ids[:, :4])
    used = np.concatenate([vertex_ids, np.setdiff1d(np.unique(ids[:, 4:]), vertex_ids)])
    lookup = np.full(N_t * N_z * N_r, -1, dtype=np.int64)
    lookup[used] = np.arange(used.size)
    numbered = lookup[ids]
    I, J, K = used % N_t, used // N_t % N_z, used // (N_t * N_z)

    # The geometry map.
    theta = I * (np.pi / n_t)
    z = z_half[J]
    r_in = geometry.lumen_radius(theta, z)
    r_out = r_in + geometry.thickness(z)
    for nodule in nodules:
        d = _surface_distance(geometry, theta, z, nodule.angle_deg, nodule.height_mm)
        rho = nodule.radius_mm
        bump = nodule.protrusion_mm * np.cos(0.5 * np.pi * d / rho) ** 2
        r_in = r_in - np.where(d < rho, bump, 0.0)
    radius = r_in + (K / (2.0 * n_r)) * (r_out - r_in)
    points = np.stack([radius * np.cos(theta), radius * np.sin(theta), z], axis=1)
    cells = numbered[:, :4]
    edge_nodes = numbered[:, 4:] if order == 2 else None

    # Facets, tagged by position.
    facets = boundary_facets(cells, "tetrahedron")
    fK, fJ = K[facets], J[facets]
    centroid = points[facets].mean(axis=1)
    f_theta = np.arctan2(centroid[:, 1], centroid[:, 0])
    values = np.zeros(len(facets), dtype=np.int32)
    values[(fK == 2 * n_r).all(axis=1)] = ROOT_FACET_TAGS["outer"]
    values[(fJ == 0).all(axis=1)] = ROOT_FACET_TAGS["inlet"]
    values[(fJ == N_z - 1).all(axis=1)] = ROOT_FACET_TAGS["outlet"]
    lumen = (fK == 0).all(axis=1)
    values[lumen] = ROOT_FACET_TAGS["lumen"]
    band = (
        lumen
        & (np.abs(_wrap(f_theta - math.radians(_COMMISSURE_DEG[0])))
           <= math.radians(0.5 * geometry.septal_band_width_deg) + 1e-12)
        & (centroid[:, 2] >= -geometry.septal_band_depth - 1e-9)
        & (centroid[:, 2] <= 1e-9)
    )
    values[band] = ROOT_FACET_TAGS["septal_band"]
    for name, angle, height in (
        ("left_ostium", _SINUS_DEG[1], geometry.left_ostium_height),
        ("right_ostium", _SINUS_DEG[0], geometry.right_ostium_height),
    ):
        d = _surface_distance(geometry, f_theta, centroid[:, 2], angle, height)
        d = np.where(lumen, d, np.inf)
        hit = d <= 0.5 * geometry.ostium_diameter
        hit[np.argmin(d)] = True
        values[hit] = ROOT_FACET_TAGS[name]
    if (values == 0).any():  # cannot happen for a structured grid
        raise MeshError(f"aortic_root: {(values == 0).sum()} boundary facets were not classified")

    # Cells.
    centre = points[cells].mean(axis=1)
    cell_values = np.where(centre[:, 2] < 0, ROOT_CELL_TAGS["lvot"], ROOT_CELL_TAGS["aortic_wall"])
    if nodules:
        inner = hk[hex_of_tet] < max(1, n_r // 2)
        c_theta = np.arctan2(centre[:, 1], centre[:, 0])
        for nodule in nodules:
            d = _surface_distance(
                geometry, c_theta, centre[:, 2], nodule.angle_deg, nodule.height_mm
            )
            d = np.where(inner, d, np.inf)
            hit = d < nodule.radius_mm
            hit[np.argmin(d)] = True
            cell_values[hit] = ROOT_CELL_TAGS["calcium"]

    from ..fibres.analytic import vessel_fibres  # lazily: organfem.fibres imports meshing

    fibres = vessel_fibres(centre, centre=(0.0, 0.0, 0.0), axis=(0.0, 0.0, 1.0))
    present_f, present_c = set(np.unique(values).tolist()), set(np.unique(cell_values).tolist())
    mesh = MeshData(
        points=points,
        cells=cells,
        cell_type="tetrahedron",
        facets=facets,
        facet_values=values,
        facet_names={k: v for k, v in ROOT_FACET_TAGS.items() if v in present_f},
        cell_values=cell_values.astype(np.int32),
        cell_names={k: v for k, v in ROOT_CELL_TAGS.items() if v in present_c},
        fibres=fibres,
        edge_nodes=edge_nodes,
    )
    log.debug(
        "aortic_root(h=%g, order=%d): %d tetrahedra, %d points, %.3f s",
        h, order, mesh.num_cells, mesh.num_points, time.perf_counter() - start,
    )  # fmt: skip
    return mesh


@dataclasses.dataclass(frozen=True)
class RootLandmarks:
    """Landmarks of an aortic root measured from a mesh's tags [mm].

    Attributes:
        annulus_centre: centre of the annulus ring (mean of its nodes) [mm], (3,).
        axis: unit normal of the annulus plane, from inlet toward outlet, (3,).
        reference: unit vector in the annulus plane from the centre toward the
            septal band centroid (angle 0 for reporting), (3,); the in-plane
            principal (major) direction when the mesh has no septal band.
        annulus_dmin, annulus_dmax: minimum and maximum diameter through the
            centre of the annulus ring [mm].
        annulus_perimeter_diameter: ring perimeter / pi [mm].
        annulus_area_diameter: 2 sqrt(area / pi) of the area the ring encloses [mm].
        ostia: ``"left"``/``"right"`` -> area-weighted centroid of the ostium
            facets [mm], (3,); only the ostia that are tagged.
        septal_band_centre: area-weighted centroid of the septal band facets
            [mm], (3,), or ``None`` when the mesh has none.
    """

    annulus_centre: np.ndarray
    axis: np.ndarray
    reference: np.ndarray
    annulus_dmin: float
    annulus_dmax: float
    annulus_perimeter_diameter: float
    annulus_area_diameter: float
    ostia: Mapping[str, np.ndarray]
    septal_band_centre: np.ndarray | None


def _facet_centroid(mesh: MeshData, name: str) -> np.ndarray:
    """Area-weighted centroid of the facets tagged ``name`` (corners only) [mm]."""
    x = mesh.points[mesh.facets_of(name)]
    area = 0.5 * np.linalg.norm(np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), axis=1)
    return (x.mean(axis=1) * area[:, None]).sum(axis=0) / area.sum()


def _readonly(x) -> np.ndarray:
    x = np.array(x, dtype=float)
    x.setflags(write=False)
    return x


def root_landmarks(mesh: MeshData) -> RootLandmarks:
    """Annulus, axis, ostia and septal band of an aortic-root mesh, from its tags only.

    The annulus ring is the set of blood-facing vertices (facets tagged
    :data:`LUMEN_TAGS`) shared by ``"lvot"`` cells and ``"aortic_wall"`` (or
    ``"calcium"``) cells, plus, for curved meshes, the edge nodes of the edges
    joining two ring vertices.  Its centre is the mean of these nodes, its
    plane the best fit (normal: the smallest principal axis, oriented toward
    the ``"outlet"`` facets, or the ``"aortic_wall"`` cells when there is no
    outlet tag).  Diameters through the centre use the ring's polar radius
    about the centre interpolated linearly in angle; perimeter and area are
    those of the polygon through the ring nodes in angular order.  Any rigid
    motion of the mesh moves the landmarks with it.

    Args:
        mesh: a mesh with the tag contract of :func:`aortic_root` (at least the
            facet tag ``"lumen"`` and cell tags ``"lvot"``, ``"aortic_wall"``).

    Returns:
        The landmarks.

    Raises:
        MeshError: naming a missing tag, or when the ring has fewer than
            three nodes or is not planar enough to orient.
    """
    if "lumen" not in mesh.facet_names:
        raise MeshError(
            f"root_landmarks: the mesh has no facet tag 'lumen' (facet tags: "
            f"{sorted(mesh.facet_names)}); expected the tags of ROOT_FACET_TAGS"
        )
    for name in ("lvot", "aortic_wall"):
        if name not in mesh.cell_names:
            raise MeshError(
                f"root_landmarks: the mesh has no cell tag {name!r} (cell tags: "
                f"{sorted(mesh.cell_names)}); expected the tags of ROOT_CELL_TAGS"
            )
    lumen_tags = [mesh.facet_names[n] for n in LUMEN_TAGS if n in mesh.facet_names]
    lumen = np.zeros(mesh.num_points, dtype=bool)
    lumen[mesh.facets[np.isin(mesh.facet_values, lumen_tags)].ravel()] = True
    lvot = np.zeros(mesh.num_points, dtype=bool)
    lvot[mesh.cells[mesh.cell_values == mesh.cell_names["lvot"]].ravel()] = True
    wall_tags = [mesh.cell_names[n] for n in ("aortic_wall", "calcium") if n in mesh.cell_names]
    wall = np.zeros(mesh.num_points, dtype=bool)
    wall[mesh.cells[np.isin(mesh.cell_values, wall_tags)].ravel()] = True
    ring = lumen & lvot & wall
    if ring.sum() < 3:
        raise MeshError(
            f"root_landmarks: the annulus ring (lumen vertices shared by 'lvot' and "
            f"'aortic_wall' cells) has {int(ring.sum())} vertices, expected at least 3"
        )
    nodes = ring.copy()
    if mesh.edge_nodes is not None:
        ends = mesh.cells[:, np.array(TET_EDGES)]  # (m, 6, 2)
        on_ring = ring[ends].all(axis=2)
        nodes[mesh.edge_nodes[on_ring]] = True
    x = mesh.points[nodes]
    centre = x.mean(axis=0)
    _, sv, vt = np.linalg.svd(x - centre, full_matrices=False)
    if not sv[1] > 1e3 * sv[2] * np.finfo(float).eps:
        raise MeshError("root_landmarks: the annulus ring is degenerate (collinear nodes)")
    axis = vt[2]
    if "outlet" in mesh.facet_names:
        toward = _facet_centroid(mesh, "outlet")
    else:
        toward = mesh.points[mesh.cells[mesh.cell_values == mesh.cell_names["aortic_wall"]]]
        toward = toward.reshape(-1, 3).mean(axis=0)
    if np.dot(toward - centre, axis) < 0:
        axis = -axis
    u1 = vt[0]
    u2 = np.cross(axis, u1)
    local = (x - centre) @ np.stack([u1, u2], axis=1)
    phi = np.arctan2(local[:, 1], local[:, 0])
    order = np.argsort(phi)
    phi, local = phi[order], local[order]
    rho = np.hypot(local[:, 0], local[:, 1])
    # The diameter through the centre at angle a is rho(a) + rho(a + pi); with
    # rho linear in angle between nodes, its extremes lie at the nodes' angles
    # or their antipodes.
    candidates = np.concatenate([phi, phi - np.pi])
    diameter = np.interp(candidates, phi, rho, period=2 * np.pi) + np.interp(
        candidates + np.pi, phi, rho, period=2 * np.pi
    )
    closed = np.vstack([local, local[:1]])
    perimeter = np.linalg.norm(np.diff(closed, axis=0), axis=1).sum()
    area = 0.5 * abs(np.sum(closed[:-1, 0] * closed[1:, 1] - closed[1:, 0] * closed[:-1, 1]))

    band = None
    reference = u1
    if "septal_band" in mesh.facet_names:
        band = _facet_centroid(mesh, "septal_band")
        v = band - centre
        v = v - np.dot(v, axis) * axis
        if np.linalg.norm(v) > 0:
            reference = v / np.linalg.norm(v)
    ostia = {
        side: _readonly(_facet_centroid(mesh, f"{side}_ostium"))
        for side in ("left", "right")
        if f"{side}_ostium" in mesh.facet_names
    }
    return RootLandmarks(
        annulus_centre=_readonly(centre),
        axis=_readonly(axis),
        reference=_readonly(reference),
        annulus_dmin=float(diameter.min()),
        annulus_dmax=float(diameter.max()),
        annulus_perimeter_diameter=float(perimeter / np.pi),
        annulus_area_diameter=float(2.0 * np.sqrt(area / np.pi)),
        ostia=types.MappingProxyType(ostia),
        septal_band_centre=None if band is None else _readonly(band),
    )

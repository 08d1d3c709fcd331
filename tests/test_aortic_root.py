"""The parametric aortic root: tags, closed-form volumes, landmarks, calcium, inputs.

Every asserted number is derived in a comment from a closed form or from the
definition of the geometry (organfem.meshing.aortic_root); tolerances are
round-off unless a discretisation error is derived for them.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest

from organfem.errors import MeshError, ParameterError
from organfem.meshing import (
    LUMEN_TAGS,
    ROOT_CELL_TAGS,
    ROOT_FACET_TAGS,
    AorticRootGeometry,
    CalciumNodule,
    MeshData,
    aortic_root,
    root_landmarks,
)

DEFAULT = AorticRootGeometry()
ROUND_OFF = 1e-9  # relative; the map is evaluated in float64


def _n_theta(geometry: AorticRootGeometry, h: float) -> int:
    """Angular cells by the documented rule: the multiple of 6 nearest 2 pi r_mean / h."""
    r_mean = (geometry.annulus_dmax + geometry.annulus_dmin) / 4
    return 6 * max(1, round(2 * math.pi * r_mean / (6 * h)))


def _n_z(geometry: AorticRootGeometry, h: float) -> int:
    """z cells: round(length / h) (at least 1) in LVOT, sinus and ascending segments."""
    lengths = (geometry.lvot_length, geometry.sinus_height, geometry.ascending_length)
    return sum(max(1, round(length / h)) for length in lengths)


@pytest.fixture(scope="module")
def default_p2() -> MeshData:
    return aortic_root(order=2)


# 1. Tag contract, validity, size -------------------------------------------------
@pytest.mark.parametrize("order", [1, 2])
def test_tag_contract_and_validity(order):
    mesh = aortic_root(order=order)  # MeshData validates orientation and P2 Jacobians
    assert mesh.order == order
    assert dict(mesh.facet_names) == dict(ROOT_FACET_TAGS)
    assert dict(mesh.cell_names) == {"lvot": 1, "aortic_wall": 2}  # no calcium asked for
    assert set(LUMEN_TAGS) <= set(mesh.facet_names)
    assert mesh.fibres is not None and mesh.fibres.shape == (mesh.num_cells, 3, 3)
    # Cells below the annulus plane are LVOT, above it aortic wall (z = 0 is a grid line).
    centre = mesh.points[mesh.cells].mean(axis=1)
    lvot = mesh.cell_values == ROOT_CELL_TAGS["lvot"]
    assert (centre[lvot, 2] < 0).all() and (centre[~lvot, 2] > 0).all()
    # Inlet at z = -lvot_length, outlet at z = sinus_height + ascending_length.
    top = DEFAULT.sinus_height + DEFAULT.ascending_length
    assert np.allclose(mesh.points[mesh.facets_of("inlet")][..., 2], -DEFAULT.lvot_length)
    assert np.allclose(mesh.points[mesh.facets_of("outlet")][..., 2], top)


def test_cell_counts_scale_with_h():
    # Structured grid: 6 tetrahedra per hexahedron, n_theta x n_z x wall_layers hexahedra.
    for h, layers in ((2.0, 2), (3.0, 2), (3.0, 3)):
        mesh = aortic_root(h=h, wall_layers=layers, order=1)
        assert mesh.num_cells == 6 * _n_theta(DEFAULT, h) * _n_z(DEFAULT, h) * layers
        # Order 1: one vertex per grid node, the theta seam shared (periodic).
        assert mesh.num_points == _n_theta(DEFAULT, h) * (_n_z(DEFAULT, h) + 1) * (layers + 1)
    # Hand check of the rule at h = 2: r_mean = 12.45 mm, 2 pi 12.45 / 2 = 39.1 -> 42;
    # z: 12/2 + round(21/2 = 10.5 -> 10) + 10/2 = 21 cells; 6 * 42 * 21 * 2 = 10584.
    assert aortic_root(h=2.0, order=1).num_cells == 10584


def test_meshing_is_fast():
    # The brief: meshing the default takes well under 1 s (measured ~0.1 s); best of 2.
    best = math.inf
    for _ in range(2):
        start = time.perf_counter()
        aortic_root()
        best = min(best, time.perf_counter() - start)
    assert best < 1.0


# 2. Circular tube: closed-form volumes and landmarks ------------------------------
@pytest.mark.parametrize("order", [1, 2])
def test_circular_volume_closed_form(order):
    D, t = 24.0, 2.0
    geometry = AorticRootGeometry.circular(D, t)
    mesh = aortic_root(geometry, order=order)
    Ri, Ro = D / 2, D / 2 + t
    L = geometry.lvot_length + geometry.sinus_height + geometry.ascending_length
    n = _n_theta(geometry, 2.0)  # 2 pi 12 / 2 = 37.7 -> 36
    delta = 2 * math.pi / n
    exact = math.pi * (Ro**2 - Ri**2) * L
    if order == 1:
        # All hexahedron faces are planar, so the straight tetrahedra fill the
        # prism over the polygonal annulus of n-gons inscribed in both circles:
        # area of an inscribed n-gon = (n/2) R^2 sin(2 pi / n).
        expected = 0.5 * n * math.sin(delta) * (Ro**2 - Ri**2) * L
        # Chord error: 1 - sin(delta)/delta ~ delta^2/6 = 5.1e-3 relative.
        assert 1 - expected / exact == pytest.approx(delta**2 / 6, rel=0.01)
    else:
        # The lumen and outer surfaces are extrusions of quadratic arcs through
        # three points of each circle per sector (theta is affine on every facet,
        # so the P2 interpolant is the 1-D quadratic in theta).  Sector area =
        # triangle (centre, ends) + Archimedes' parabolic segment, 4/3 of the
        # triangle (ends, midpoint): R^2 [sin(d)/2 + 4/3 sin(d/2)(1 - cos(d/2))].
        sector = 0.5 * math.sin(delta) + 4 / 3 * math.sin(delta / 2) * (1 - math.cos(delta / 2))
        expected = n * sector * (Ro**2 - Ri**2) * L
        # The Delta^3 terms cancel: the curved mesh is within ~Delta^4 of the tube.
        assert abs(expected / exact - 1) < delta**4 / 10
    assert mesh.cell_volumes().sum() == pytest.approx(expected, rel=ROUND_OFF)
    assert (mesh.cell_volumes() > 0).all()


def test_circular_landmarks():
    D = 24.0
    lm = root_landmarks(aortic_root(AorticRootGeometry.circular(D, 2.0)))
    # The ring nodes lie on the circle of radius D/2 in z = 0, symmetric about the
    # centre (n_theta even): centre, axis and all diameters exact to round-off.
    assert np.allclose(lm.annulus_centre, 0.0, atol=ROUND_OFF * D)
    assert np.allclose(lm.axis, (0.0, 0.0, 1.0), atol=ROUND_OFF)
    assert lm.annulus_dmin == pytest.approx(D, rel=ROUND_OFF)
    assert lm.annulus_dmax == pytest.approx(D, rel=ROUND_OFF)


# 3. Default geometry landmarks -------------------------------------------------
def _ellipse_radius(phi, a, b):
    return a * b / np.hypot(b * np.cos(phi), a * np.sin(phi))


def test_default_annulus_diameters_order2(default_p2):
    lm = root_landmarks(default_p2)
    dmin, dmax = DEFAULT.annulus_dmin, DEFAULT.annulus_dmax
    # P2: the ring holds the vertices and edge nodes, 2 n_theta = 84 points on the
    # ellipse at multiples of 360/84 deg, which include 0 and 90 deg (n_theta even),
    # where the diameters are extreme: dmin and dmax are exact (no chord error),
    # and the point-symmetric ring has its mean at the origin.
    assert lm.annulus_dmax == pytest.approx(dmax, rel=ROUND_OFF)
    assert lm.annulus_dmin == pytest.approx(dmin, rel=ROUND_OFF)
    assert np.allclose(lm.annulus_centre, 0.0, atol=ROUND_OFF * dmax)
    assert np.allclose(lm.axis, (0.0, 0.0, 1.0), atol=ROUND_OFF)

    a, b = dmax / 2, dmin / 2
    ramanujan = math.pi * (3 * (a + b) - math.sqrt((3 * a + b) * (a + 3 * b)))
    # Inscribed polygon of N = 84 nodes: each chord of an arc of length s and
    # curvature <= k_max = a / b^2 is short by <= s^3 k^2 / 24, so the perimeter
    # deficit is <= P (k_max s_max)^2 / 24 with s_max <= 1.05 a (2 pi / N)
    # (|dx/dphi| <= a (1 + (a^2 - b^2)/(2 b^2)) < 1.05 a here).  ~3.7e-4 relative.
    n_nodes = 2 * _n_theta(DEFAULT, 2.0)
    s_max = 1.05 * a * 2 * math.pi / n_nodes
    k_max = a / b**2
    deficit = 1 - math.pi * lm.annulus_perimeter_diameter / ramanujan
    assert 0 < deficit <= (k_max * s_max) ** 2 / 24
    # Area: each chord cuts off a segment of area <= k s^3 / 12, in total
    # <= P k_max s_max^2 / 12 out of pi a b; the diameter deficit is half that.
    area_deficit = 1 - (lm.annulus_area_diameter / 2) ** 2 / (a * b)
    assert 0 < area_deficit <= ramanujan * k_max * s_max**2 / 12 / (math.pi * a * b)


def test_default_annulus_dmin_order1_chord_error():
    mesh = aortic_root(order=1)
    lm = root_landmarks(mesh)
    a, b = DEFAULT.annulus_dmax / 2, DEFAULT.annulus_dmin / 2
    n = _n_theta(DEFAULT, 2.0)  # 42: vertices at multiples of 360/42 deg, 0 deg included
    assert lm.annulus_dmax == pytest.approx(2 * a, rel=ROUND_OFF)
    # 90 deg is no vertex (42 is not a multiple of 4); the nearest vertices lie
    # delta = pi / n either side, and the interpolated diameter is least there:
    # 2 rho(90 deg + delta) = 2 b (1 + delta^2 (1 - b^2/a^2) / 2 + O(delta^4)).
    delta = math.pi / n
    assert lm.annulus_dmin == pytest.approx(
        2 * _ellipse_radius(math.pi / 2 + delta, a, b), rel=ROUND_OFF
    )
    excess = lm.annulus_dmin - 2 * b
    assert excess == pytest.approx(b * delta**2 * (1 - b**2 / a**2), rel=0.02)  # 0.013 mm


def test_default_ostia_and_reference(default_p2):
    lm = root_landmarks(default_p2)
    rho = DEFAULT.ostium_diameter / 2
    n = _n_theta(DEFAULT, 2.0)
    for side, angle, height in (
        ("left", 210.0, DEFAULT.left_ostium_height),
        ("right", 90.0, DEFAULT.right_ostium_height),
    ):
        x = lm.ostia[side]
        # Every tagged facet centroid lies within rho (surface distance) of the
        # ostium centre, so their area-weighted mean does too: |dz| <= rho and
        # r |dtheta| <= rho at the local lumen radius r.
        r = float(DEFAULT.lumen_radius(math.radians(angle), height))
        assert abs(np.dot(x - lm.annulus_centre, lm.axis) - height) <= rho
        dtheta = (math.atan2(x[1], x[0]) - math.radians(angle) + math.pi) % (2 * math.pi) - math.pi
        assert abs(dtheta) <= rho / r
        # Facet centroids lie inside the lumen by less than the sagitta of a chord.
        assert np.hypot(x[0], x[1]) == pytest.approx(r, abs=1.0)
    # The septal band is centred on the N-R commissure (30 deg); its edges are
    # resolved to one angular cell (360 / 42 = 8.6 deg) on either side.
    ref = math.degrees(math.atan2(lm.reference[1], lm.reference[0]))
    assert abs(ref - 30.0) <= 360.0 / n
    assert abs(np.dot(lm.reference, lm.axis)) < ROUND_OFF
    assert np.linalg.norm(lm.reference) == pytest.approx(1.0, rel=ROUND_OFF)
    assert -DEFAULT.septal_band_depth <= lm.septal_band_centre[2] <= 0


def test_sinus_radius_at_mid_height():
    # By construction the radius at each sinus centre at mid-height is sinus_diameter / 2.
    for angle in (90.0, 210.0, 330.0):
        r = DEFAULT.lumen_radius(math.radians(angle), DEFAULT.sinus_height / 2)
        assert float(r) == pytest.approx(DEFAULT.sinus_diameter / 2, rel=ROUND_OFF)
    # and the commissures get no bulge: radius = mean of ellipse and STJ radii.
    a, b = DEFAULT.annulus_dmax / 2, DEFAULT.annulus_dmin / 2
    phi = math.radians(30.0)
    expected = 0.5 * (_ellipse_radius(phi, a, b) + DEFAULT.stj_diameter / 2)
    r = DEFAULT.lumen_radius(phi, DEFAULT.sinus_height / 2)
    assert float(r) == pytest.approx(expected, rel=ROUND_OFF)


# 4. Equivariance -----------------------------------------------------------------
def _rotation(ax, ay, az):
    cx, sx, cy, sy, cz, sz = (f(t) for t in (ax, ay, az) for f in (math.cos, math.sin))
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


@pytest.mark.parametrize("order", [1, 2])
def test_landmarks_are_equivariant(order):
    mesh = aortic_root(order=order)
    R, t = _rotation(0.3, -1.1, 2.0), np.array([10.0, -5.0, 3.0])
    moved = dataclasses.replace(mesh, points=mesh.points @ R.T + t, fibres=None)
    a, b = root_landmarks(mesh), root_landmarks(moved)
    tol = 1e-9 * DEFAULT.annulus_dmax
    assert np.allclose(b.annulus_centre, R @ a.annulus_centre + t, atol=tol)
    assert np.allclose(b.axis, R @ a.axis, atol=1e-9)
    assert np.allclose(b.reference, R @ a.reference, atol=1e-9)
    assert np.allclose(b.septal_band_centre, R @ a.septal_band_centre + t, atol=tol)
    for side in ("left", "right"):
        assert np.allclose(b.ostia[side], R @ a.ostia[side] + t, atol=tol)
    for field in ("annulus_dmin", "annulus_dmax", "annulus_perimeter_diameter",
                  "annulus_area_diameter"):
        assert getattr(b, field) == pytest.approx(getattr(a, field), rel=1e-9)


def test_landmarks_need_the_tags(default_p2):
    renamed = dataclasses.replace(default_p2, cell_names={"lv": 1, "aortic_wall": 2})
    with pytest.raises(MeshError, match="'lvot'"):
        root_landmarks(renamed)
    names = dict(default_p2.facet_names)
    names["wall_inner"] = names.pop("lumen")
    with pytest.raises(MeshError, match="'lumen'"):
        root_landmarks(dataclasses.replace(default_p2, facet_names=names))


# 5. Calcium ------------------------------------------------------------------------
@pytest.mark.parametrize("height", [5.0, -3.0])
def test_calcium_nodule(height):
    nodule = CalciumNodule(angle_deg=90.0, height_mm=height, radius_mm=3.0, protrusion_mm=1.5)
    plain = aortic_root(order=1)
    calc = aortic_root(order=1, calcium=[nodule])  # same grid, same numbering
    assert calc.cell_names["calcium"] == ROOT_CELL_TAGS["calcium"]
    lumen_tags = [calc.facet_names[n] for n in LUMEN_TAGS]
    lumen = np.unique(calc.facets[np.isin(calc.facet_values, lumen_tags)])
    r0 = np.hypot(*plain.points[lumen, :2].T)
    r1 = np.hypot(*calc.points[lumen, :2].T)
    theta, z = np.arctan2(plain.points[lumen, 1], plain.points[lumen, 0]), plain.points[lumen, 2]
    # The definition: pulled in by p cos^2(pi d / (2 rho)) for surface distance d < rho,
    # d = hypot(r_c dtheta, dz) with r_c the lumen radius at the nodule centre.
    t0 = math.radians(nodule.angle_deg)
    r_c = float(DEFAULT.lumen_radius(t0, height))
    d = np.hypot(r_c * ((theta - t0 + np.pi) % (2 * np.pi) - np.pi), z - height)
    expected = np.where(d < 3.0, 1.5 * np.cos(np.pi * d / 6.0) ** 2, 0.0)
    assert np.allclose(r0 - r1, expected, atol=1e-9)
    # The nearest lumen vertex is within half a grid-cell diagonal of the centre,
    # so the largest reduction is at least p cos^2(pi d_half / (2 rho)).
    n = _n_theta(DEFAULT, 2.0)
    dz = np.diff(np.unique(plain.points[:, 2])).max()
    d_half = 0.5 * math.hypot(r_c * 2 * math.pi / n, dz)
    assert 1.5 * math.cos(math.pi * d_half / 6.0) ** 2 <= (r0 - r1).max() <= 1.5
    # Calcium cells: innermost of the two layers (each has a lumen vertex) and
    # centroids within the nodule's radius.
    cells = calc.cells[calc.cell_values == ROOT_CELL_TAGS["calcium"]]
    assert len(cells) > 0
    assert np.isin(cells, lumen).any(axis=1).all()
    c = calc.points[cells].mean(axis=1)
    ct = np.arctan2(c[:, 1], c[:, 0])
    dc = np.hypot(r_c * ((ct - t0 + np.pi) % (2 * np.pi) - np.pi), c[:, 2] - height)
    assert (dc < 3.0).all()
    aortic_root(order=2, calcium=[nodule])  # curved cells stay valid


# 6. Bad inputs -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "fields, field",
    [
        (dict(annulus_dmin=27.0), "annulus_dmin"),
        (dict(wall_thickness=-1.0), "wall_thickness"),
        (dict(lvot_wall_thickness=0.0), "lvot_wall_thickness"),
        (dict(sinus_diameter=25.0), "sinus_diameter"),  # < 12.75 + 14 = 26.75 mm needed
        (dict(left_ostium_height=40.0), "left_ostium_height"),
        (dict(septal_band_depth=20.0), "septal_band_depth"),
        (dict(stj_diameter=float("nan")), "stj_diameter"),
    ],
)
def test_bad_geometry(fields, field):
    with pytest.raises(ParameterError, match=field):
        AorticRootGeometry(**fields)


@pytest.mark.parametrize(
    "kwargs, text",
    [
        (dict(h=0.0), "h="),
        (dict(h=-2.0), "h="),
        (dict(h=0.01), "h="),
        (dict(order=3), "order"),
        (dict(wall_layers=0), "wall_layers"),
        (dict(calcium=[CalciumNodule(90.0, 50.0)]), "height_mm"),
        (dict(calcium=[CalciumNodule(90.0, 5.0, protrusion_mm=8.0)]), "protrusion_mm"),
    ],
)
def test_bad_arguments(kwargs, text):
    with pytest.raises(ParameterError, match=text):
        aortic_root(**kwargs)


def test_bad_nodule():
    with pytest.raises(ParameterError, match="radius_mm"):
        CalciumNodule(90.0, 5.0, radius_mm=0.0)
    with pytest.raises(ParameterError, match="protrusion_mm"):
        CalciumNodule(90.0, 5.0, protrusion_mm=-1.0)

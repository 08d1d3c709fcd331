"""Clinical TAVI metrics against closed forms (organfem.tavi.metrics)."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest

from organfem.errors import MissingTagError, ParameterError
from organfem.tavi.metrics import (
    BLOOD_DENSITY,
    DISCHARGE_COEFFICIENT,
    Channel,
    coronary_clearance,
    contact_pressure_index,
    frame_shape,
    leak_channels,
    orifice_leak,
    section_radii,
    stress_summary,
    surface_triangles,
)
from organfem.units import MMHG_IN_KPA

Z = np.array([0.0, 0.0, 1.0])
X = np.array([1.0, 0.0, 0.0])
ORIGIN = np.zeros(3)


def _elliptic_cylinder(a, b, n, z):
    """n flat facets through the points (a cos t_k, b sin t_k, z_i), t_k = 2 pi k / n."""
    t = 2.0 * np.pi * np.arange(n) / n
    ring = np.stack([a * np.cos(t), b * np.sin(t)], axis=1)
    points = np.concatenate([np.column_stack([ring, np.full(n, zi)]) for zi in z])
    k = np.arange(n)
    triangles = []
    for i in range(len(z) - 1):
        p, q = i * n + k, i * n + (k + 1) % n
        r, s = p + n, q + n
        triangles += [np.stack([p, q, s], axis=1), np.stack([p, s, r], axis=1)]
    return points, np.concatenate(triangles)


def _rotation(seed=3):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


# --------------------------------------------------------------------------- sections


def test_cylinder_section_is_the_exact_polygon():
    r_cyl, n = 12.0, 64
    points, triangles = _elliptic_cylinder(r_cyl, r_cyl, n, [0.0, 2.0, 5.0])
    radii = section_radii(
        points, triangles, origin=ORIGIN, axis=Z, reference=X, level=3.1, n_angles=360
    )
    theta = 2 * np.pi * np.arange(360) / 360
    # A regular n-gon inscribed in radius R: on the facet with mid-angle
    # phi = 2 pi (k + 1/2) / n the radial function is R cos(pi/n) / cos(theta - phi).
    phi = 2 * np.pi * (np.floor(theta * n / (2 * np.pi) + 1e-12) + 0.5) / n
    exact = r_cyl * np.cos(np.pi / n) / np.cos(theta - phi)
    np.testing.assert_allclose(radii, exact, rtol=1e-12)
    assert radii.min() >= r_cyl * np.cos(np.pi / n) * (1 - 1e-12)
    assert radii.max() <= r_cyl * (1 + 1e-12)


def test_section_follows_the_axis_and_reference():
    """A rigid motion of surface and frame together leaves the radii unchanged."""
    points, triangles = _elliptic_cylinder(13.0, 11.0, 48, [0.0, 4.0])
    rot, shift = _rotation(), np.array([3.0, -7.0, 40.0])
    kw = {"level": 1.7, "n_angles": 72}
    plain = section_radii(points, triangles, origin=ORIGIN, axis=Z, reference=X, **kw)
    moved = section_radii(
        points @ rot.T + shift, triangles, origin=shift, axis=rot @ Z, reference=rot @ X, **kw
    )
    np.testing.assert_allclose(moved, plain, rtol=1e-12)
    # Counterclockwise about the axis: angle 90 deg is axis x reference = +y,
    # where the ellipse (a=13, b=11) polygon has a vertex at radius b.
    assert plain[18] == pytest.approx(11.0, rel=1e-12)
    assert plain[0] == pytest.approx(13.0, rel=1e-12)


def test_section_outside_or_through_a_hole_is_nan():
    points, triangles = _elliptic_cylinder(10.0, 10.0, 36, [0.0, 1.0])
    above = section_radii(points, triangles, origin=ORIGIN, axis=Z, reference=X, level=1.5)
    assert np.isnan(above).all()
    # Keep only the facets with x > 0 (vertex angles within +-90 deg, 10-deg facets).
    keep = (points[triangles][:, :, 0] > -1e-9).all(axis=1)
    half = section_radii(
        points, triangles[keep], origin=ORIGIN, axis=Z, reference=X, level=0.5, n_angles=360
    )
    theta = np.arange(360)
    assert np.isfinite(half[(theta <= 90) | (theta >= 270)]).all()
    assert np.isnan(half[(theta > 90) & (theta < 270)]).all()


def test_section_is_fast_for_20k_triangles():
    # 500 facets x 20 bands x 2 = 20000 triangles; 10 levels x 360 rays.
    points, triangles = _elliptic_cylinder(12.0, 12.0, 500, np.linspace(0, 20, 21))
    assert triangles.shape == (20000, 3)
    start = time.perf_counter()
    for level in np.linspace(0.5, 19.5, 10):
        radii = section_radii(points, triangles, origin=ORIGIN, axis=Z, reference=X, level=level)
    elapsed = time.perf_counter() - start
    assert np.isfinite(radii).all()
    assert elapsed < 2.0  # about 0.1 s unloaded; generous for shared machines


def test_section_validation_names_the_argument():
    points, triangles = _elliptic_cylinder(10.0, 10.0, 8, [0.0, 1.0])
    kw = {"origin": ORIGIN, "axis": Z, "level": 0.5}
    with pytest.raises(ParameterError, match="reference"):
        section_radii(points, triangles, reference=[1.0, 0.0, 0.1], **kw)
    with pytest.raises(ParameterError, match="axis"):
        section_radii(points, triangles, **{**kw, "axis": [0, 0, 0]}, reference=X)
    with pytest.raises(ParameterError, match="triangles"):
        section_radii(points, triangles + 100, reference=X, **kw)
    with pytest.raises(ParameterError, match="points"):
        section_radii(points[:, :2], triangles, reference=X, **kw)
    with pytest.raises(ParameterError, match="n_angles"):
        section_radii(points, triangles, reference=X, n_angles=2, **kw)


# --------------------------------------------------------------------------- frame shape


def test_frame_shape_of_a_circle():
    n, r = 360, 12.5
    shape = frame_shape(np.full(n, r))
    assert shape.d_min_mm == pytest.approx(2 * r) and shape.d_max_mm == pytest.approx(2 * r)
    assert shape.eccentricity == pytest.approx(0.0, abs=1e-15)
    # 1/2 sum r^2 dtheta = 1/2 r^2 2 pi = pi r^2; polygon: 2 n r sin(pi/n).
    assert shape.area_mm2 == pytest.approx(math.pi * r**2, rel=1e-14)
    assert shape.perimeter_mm == pytest.approx(2 * n * r * math.sin(math.pi / n), rel=1e-13)


def test_frame_shape_of_an_elliptic_cylinder_section():
    a, b, n = 13.0, 11.0, 128
    points, triangles = _elliptic_cylinder(a, b, n, [0.0, 3.0])
    radii = section_radii(points, triangles, origin=ORIGIN, axis=Z, reference=X, level=1.0)
    shape = frame_shape(radii)
    # The polygon is the linear image of a regular n-gon inscribed in the unit
    # circle, so on every ray cos(pi/n) r_ellipse <= r <= r_ellipse.
    c = math.cos(math.pi / n)
    # Vertices at theta = 0 and pi: D(0) = 2a, the largest diameter of the ellipse.
    assert shape.d_max_mm == pytest.approx(2 * a, rel=1e-12)
    assert 2 * b * c * (1 - 1e-12) <= shape.d_min_mm <= 2 * b * (1 + 1e-12)
    assert 1 - b / a - 1e-12 <= shape.eccentricity <= 1 - c * b / a + 1e-12
    # The polar sum of the ellipse's r^2 is exact for a trigonometric polynomial
    # sampled this finely (to rounding): pi a b; the polygon loses at most c^2.
    assert c**2 * math.pi * a * b * (1 - 1e-12) <= shape.area_mm2 <= math.pi * a * b * (1 + 1e-12)
    # A convex polygon inside the n-gon: perimeter at most the n-gon's.
    t = 2 * np.pi * np.arange(n + 1) / n
    ngon = np.hypot(np.diff(a * np.cos(t)), np.diff(b * np.sin(t))).sum()
    assert shape.perimeter_mm <= ngon * (1 + 1e-12)
    assert shape.perimeter_mm >= c * ngon * math.cos(math.pi / 360)


def test_frame_shape_validation():
    with pytest.raises(ParameterError, match="radii"):
        frame_shape(np.ones(7))  # odd: no opposite rays
    with pytest.raises(ParameterError, match="radii"):
        frame_shape(np.array([1.0, np.nan, 1.0, 1.0]))
    with pytest.raises(ParameterError, match="radii"):
        frame_shape(np.array([1.0, -1.0, 1.0, 1.0]))


# --------------------------------------------------------------------------- curved surfaces


@pytest.fixture(scope="module")
def curved_tube():
    from organfem.meshing import tube

    return tube(inner_radius=10.0, outer_radius=12.0, length=4.0, h=2.0, order=2)


def test_surface_triangles_of_curved_facets(curved_tube):
    mesh = curved_tube
    triangles, facet = surface_triangles(mesh, ["inner"])
    inner = mesh.facet_values == mesh.facet_names["inner"]
    assert triangles.shape == (4 * inner.sum(), 3)
    assert (inner[facet]).all() and np.array_equal(np.unique(facet), np.flatnonzero(inner))
    x = mesh.points[triangles]
    # Corners and edge nodes lie on the inner cylinder r = 10.
    np.testing.assert_allclose(np.hypot(x[..., 0], x[..., 1]), 10.0, rtol=1e-9)
    # Area of the quarter cylinder: 2 pi R L / 4 = 2 pi 10 4 / 4 = 20 pi.  An
    # inscribed flat triangle spanning an arc phi loses ~phi^2/8; sub-edges
    # here are about 1 mm (phi ~ 0.1), so the deficit is about 1e-3.
    cross = np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])
    area = 0.5 * np.linalg.norm(cross, axis=1).sum()
    assert area == pytest.approx(20 * math.pi, rel=3e-3)
    assert area < 20 * math.pi
    # Oriented as the facets: each sub-triangle's normal agrees with its facet's.
    f = mesh.points[mesh.facets[facet]]
    facet_normal = np.cross(f[:, 1] - f[:, 0], f[:, 2] - f[:, 0])
    assert (np.einsum("ij,ij->i", cross, facet_normal) > 0).all()
    # The section at mid-length: rays 0-90 deg cross the quarter at r in [10 cos, 10].
    radii = section_radii(
        mesh.points, triangles, origin=ORIGIN, axis=Z, reference=X, level=2.0, n_angles=360
    )
    quarter = radii[:91]
    assert np.isfinite(quarter).all() and np.isnan(radii[92:359]).all()
    assert quarter.max() <= 10.0 * (1 + 1e-9) and quarter.min() > 10.0 * math.cos(0.1)


def test_surface_triangles_of_straight_facets(curved_tube):
    straight = dataclasses.replace(curved_tube, edge_nodes=None)
    triangles, facet = surface_triangles(straight, "inner")
    rows = np.flatnonzero(straight.facet_values == straight.facet_names["inner"])
    assert np.array_equal(facet, rows)
    assert np.array_equal(triangles, straight.facets[rows])
    with pytest.raises(MissingTagError, match="lumen"):
        surface_triangles(straight, ["lumen"])
    with pytest.raises(ParameterError, match="tags"):
        surface_triangles(straight, [])


def test_surface_triangles_of_hexahedra():
    from organfem.meshing import land_beam

    mesh = land_beam(h=1.0, cell_type="hexahedron")  # the box [0, 10] x [0, 1] x [0, 1]
    triangles, facet = surface_triangles(mesh, ["z1"])
    quads = np.flatnonzero(mesh.facet_values == mesh.facet_names["z1"])
    assert triangles.shape == (2 * quads.size, 3) and np.array_equal(facet, np.repeat(quads, 2))
    x = mesh.points[triangles]
    cross = np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])
    assert 0.5 * np.linalg.norm(cross, axis=1).sum() == pytest.approx(10.0)  # the 10 x 1 face
    # Oriented as the quadrilateral: (x1 - x0) x (x2 - x0) in tensor-product order.
    q = mesh.points[mesh.facets[facet]]
    quad_normal = np.cross(q[:, 1] - q[:, 0], q[:, 2] - q[:, 0])
    assert (np.einsum("ij,ij->i", cross, quad_normal) > 0).all()


# --------------------------------------------------------------------------- leak channels


def _band(n_levels=5, n_angles=360, frame=12.5):
    """A sealed band: lumen radius equal to the frame's everywhere."""
    f = np.full((n_levels, n_angles), frame)
    return f.copy(), f


def test_single_rectangular_gap():
    lumen, frame = _band()
    lumen[:, 10:20] = 13.5  # 10 rays (10 deg) open by 1 mm over all 5 levels
    (channel,) = leak_channels(lumen, frame)
    # 1/2 (13.5^2 - 12.5^2) x 10 dtheta = 1/2 x 26 x 10 x 2 pi / 360 = 26 pi / 36.
    assert channel.area_mm2 == pytest.approx(26 * math.pi / 36, rel=1e-12)
    # Circular mean of 10..19 deg = 14.5 deg (symmetric set); width 10 deg.
    assert channel.angle_deg == pytest.approx(14.5, abs=1e-9)
    assert channel.width_deg == pytest.approx(10.0)
    assert channel.min_gap_mm == pytest.approx(1.0) and channel.max_gap_mm == pytest.approx(1.0)


def test_narrowest_level_sets_the_area_and_angle():
    lumen, frame = _band()
    lumen[:, 10:20] = 13.5
    lumen[2, 10:14] = 12.5  # level 2 keeps rays 14..19 open: 6 deg, centred at 16.5 deg
    (channel,) = leak_channels(lumen, frame)
    assert channel.area_mm2 == pytest.approx(0.5 * 26 * 6 * 2 * math.pi / 360, rel=1e-12)
    assert channel.angle_deg == pytest.approx(16.5, abs=1e-9)
    assert channel.width_deg == pytest.approx(6.0)


def test_gap_not_spanning_the_band_does_not_leak():
    lumen, frame = _band()
    lumen[:4, 10:20] = 13.5  # open at the inflow side only
    assert leak_channels(lumen, frame) == ()
    lumen, frame = _band()
    lumen[:, 10:20] = 12.5 + 0.04  # below min_gap = 0.05 mm
    assert leak_channels(lumen, frame) == ()
    lumen[:, 10:20] = 14.0
    lumen[2, 10:20] = np.nan  # no lumen surface on those rays: closed
    assert leak_channels(lumen, frame) == ()


def test_gap_across_the_angle_wrap_is_one_channel():
    lumen, frame = _band()
    lumen[:, 355:] = 13.5
    lumen[:, :5] = 13.5  # rays -5..4 deg
    (channel,) = leak_channels(lumen, frame)
    assert channel.area_mm2 == pytest.approx(26 * math.pi / 36, rel=1e-12)
    # Circular mean of -5..4 deg = -0.5 deg = 359.5 deg.
    assert channel.angle_deg == pytest.approx(359.5, abs=1e-9)
    assert channel.width_deg == pytest.approx(10.0)


def test_two_gaps_sorted_by_area_and_a_full_ring():
    lumen, frame = _band()
    lumen[:, 100:104] = 14.5  # 4 deg, gap 2: 1/2 (14.5^2 - 12.5^2) 4 dtheta = 1/2 54 4 = 108 dtheta
    lumen[:, 200:210] = 13.5  # 10 deg, gap 1: 1/2 x 26 x 10 dtheta = 130 dtheta
    channels = leak_channels(lumen, frame)
    dtheta = 2 * math.pi / 360
    assert [c.area_mm2 for c in channels] == pytest.approx([130 * dtheta, 108 * dtheta])
    assert [c.angle_deg for c in channels] == pytest.approx([204.5, 101.5])
    assert all(isinstance(c, Channel) for c in channels)
    # Undersized frame: an annulus all round; area pi (13^2 - 12.5^2), no direction.
    (ring,) = leak_channels(np.full((3, 360), 13.0), np.full((3, 360), 12.5))
    assert ring.area_mm2 == pytest.approx(math.pi * (13.0**2 - 12.5**2), rel=1e-12)
    assert math.isnan(ring.angle_deg) and ring.width_deg == pytest.approx(360.0)


def test_leak_channels_validation():
    lumen, frame = _band()
    with pytest.raises(ParameterError, match="frame_radii"):
        leak_channels(lumen, frame[:, :-1])
    with pytest.raises(ParameterError, match="min_gap"):
        leak_channels(lumen, frame, min_gap=-1.0)
    with pytest.raises(ParameterError, match="lumen_radii"):
        leak_channels(lumen[0], frame[0])


# --------------------------------------------------------------------------- orifice model


def test_orifice_leak_hand_computed():
    leak = orifice_leak(10.0)
    # dP = 60 mmHg = 60 x 133.322387415 Pa = 7999.343 Pa;
    # v = sqrt(2 x 7999.343 / 1060) = sqrt(15.09310) = 3.884984 m/s;
    # Q = Cd A v = 0.7 x 10 mm^2 x 3.884984 m/s = 27.19489 mL/s; x 0.5 s = 13.597 mL.
    assert DISCHARGE_COEFFICIENT == 0.7 and BLOOD_DENSITY == 1060.0
    v = math.sqrt(2 * 60 * MMHG_IN_KPA * 1e3 / 1060.0)
    assert v == pytest.approx(3.884984, rel=1e-6)
    assert leak.velocity_m_s == pytest.approx(v, rel=1e-14)
    assert leak.effective_area_mm2 == pytest.approx(7.0)
    assert leak.flow_ml_s == pytest.approx(27.19489, rel=1e-6)
    assert leak.volume_ml == pytest.approx(13.59744, rel=1e-5)
    assert leak.grade == "mild"


@pytest.mark.parametrize(
    ("volume", "grade"),
    [(0.0, "none"), (29.9, "mild"), (30.1, "moderate"), (59.9, "moderate"), (60.1, "severe")],
)
def test_orifice_leak_grades(volume, grade):
    # dP = rho v^2 / 2 with v = 1 m/s: 530 Pa; Cd = 1 and 1 s: volume [mL] = A [mm^2].
    leak = orifice_leak(
        volume,
        pressure_difference_mmHg=530.0 / (MMHG_IN_KPA * 1e3),
        discharge_coefficient=1.0,
        diastole_s=1.0,
    )
    assert leak.velocity_m_s == pytest.approx(1.0, rel=1e-14)
    assert leak.volume_ml == pytest.approx(volume, rel=1e-14)
    assert leak.grade == grade


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"area_mm2": -1.0}, "area_mm2"),
        ({"area_mm2": 1.0, "discharge_coefficient": 0.0}, "discharge_coefficient"),
        ({"area_mm2": 1.0, "discharge_coefficient": 1.2}, "discharge_coefficient"),
        ({"area_mm2": 1.0, "diastole_s": 0.0}, "diastole_s"),
        ({"area_mm2": 1.0, "pressure_difference_mmHg": math.nan}, "pressure_difference"),
    ],
)
def test_orifice_leak_validation(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        orifice_leak(**kwargs)


# --------------------------------------------------------------------------- contact


def _flat_band():
    """A 3 x 1 mm strip in z = 0, vertices at x = 0..3, y = 0, 1; two triangles per cell."""
    xs = np.arange(4.0)
    points = np.array([[x, y, 0.0] for y in (0.0, 1.0) for x in xs])
    triangles = []
    for i in range(3):
        p, q, r, s = i, i + 1, i + 4, i + 5
        triangles += [[p, q, s], [p, s, r]]
    return points, np.array(triangles)


def test_contact_index_on_a_flat_band():
    points, triangles = _flat_band()
    pressure = points[:, 0] - 1.5  # in contact at x = 2, 3: half the vertices
    index = contact_pressure_index(points, triangles, pressure, np.ones(6, bool))
    # p is linear in x, so its interpolant is exact: contact where x > 1.5,
    # area 1.5 of 3 -> CPI 0.5; force = int_1.5^3 (x - 1.5) dx = 1.125 kPa mm^2,
    # mean = 1.125 / 1.5 = 0.75 kPa; peak at x = 3: 1.5 kPa.
    assert index.band_area_mm2 == pytest.approx(3.0)
    assert index.contact_area_mm2 == pytest.approx(1.5)
    assert index.cpi == pytest.approx(0.5)
    assert index.mean_kPa == pytest.approx(0.75)
    assert index.peak_kPa == pytest.approx(1.5)
    # The band x in [0, 2] only: contact on [1.5, 2] -> CPI 0.5 / 2 = 0.25;
    # force = int_1.5^2 (x - 1.5) dx = 0.125, mean 0.125 / 0.5 = 0.25; peak p(2) = 0.5.
    band = np.array([True] * 4 + [False] * 2)
    part = contact_pressure_index(points, triangles, pressure, band)
    assert part.cpi == pytest.approx(0.25)
    assert part.mean_kPa == pytest.approx(0.25)
    assert part.peak_kPa == pytest.approx(0.5)
    none = contact_pressure_index(points, triangles, -np.ones(8), np.ones(6, bool))
    assert (none.cpi, none.mean_kPa, none.peak_kPa) == (0.0, 0.0, 0.0)


def test_contact_index_validation():
    points, triangles = _flat_band()
    with pytest.raises(ParameterError, match="in_band"):
        contact_pressure_index(points, triangles, np.zeros(8), np.ones(6))
    with pytest.raises(ParameterError, match="in_band"):
        contact_pressure_index(points, triangles, np.zeros(8), np.zeros(6, bool))
    with pytest.raises(ParameterError, match="pressure"):
        contact_pressure_index(points, triangles, np.zeros(7), np.ones(6, bool))


# --------------------------------------------------------------------------- coronaries


@pytest.mark.parametrize(
    ("ostium", "height", "distance"),
    [
        ((16.0, 0.0, 14.0), -6.0, 3.0),  # beside the frame: rho - R = 16 - 13
        ((16.0, 0.0, 24.0), 4.0, 5.0),  # above and outside: hypot(4, 3) to the rim
        ((10.0, 0.0, 24.0), 4.0, 5.0),  # above and inside the radius: hypot(4, -3)
        ((5.0, 0.0, 10.0), -10.0, 0.0),  # inside the frame
        ((0.0, 13.0, 20.0), 0.0, 0.0),  # on the outflow rim
    ],
)
def test_coronary_clearance(ostium, height, distance):
    kw = {"frame_height": 20.0, "frame_radius": 13.0}
    plain = coronary_clearance(ostium, origin=ORIGIN, axis=Z, **kw)
    assert plain.height_above_frame_mm == pytest.approx(height, abs=1e-12)
    assert plain.distance_mm == pytest.approx(distance, abs=1e-12)
    rot, shift = _rotation(), np.array([-4.0, 2.0, 9.0])
    moved = coronary_clearance(rot @ np.array(ostium) + shift, origin=shift, axis=rot @ Z, **kw)
    assert moved.height_above_frame_mm == pytest.approx(height, abs=1e-12)
    assert moved.distance_mm == pytest.approx(distance, abs=1e-12)


def test_coronary_clearance_validation():
    with pytest.raises(ParameterError, match="frame_radius"):
        coronary_clearance(X, origin=ORIGIN, axis=Z, frame_height=20.0, frame_radius=0.0)
    with pytest.raises(ParameterError, match="ostium"):
        coronary_clearance([1.0, 2.0], origin=ORIGIN, axis=Z, frame_height=20.0, frame_radius=1.0)


# --------------------------------------------------------------------------- stress


def test_stress_summary_equal_volumes_matches_numpy():
    rng = np.random.default_rng(7)
    values = rng.gamma(2.0, 50.0, size=1001)
    centroids = rng.normal(size=(1001, 3))
    calcium = np.array([[10.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    summary = stress_summary(values, centroids, np.full(1001, 0.3), calcium_centroids=calcium)
    assert summary.p99_kPa == np.percentile(values, 99, method="inverted_cdf")
    peak = int(np.argmax(values))
    assert summary.peak_kPa == values.max()
    np.testing.assert_array_equal(summary.peak_location, centroids[peak])
    assert summary.distance_to_calcium_mm == pytest.approx(
        min(np.linalg.norm(centroids[peak] - calcium, axis=1))
    )
    assert stress_summary(values, centroids, np.ones(1001)).distance_to_calcium_mm is None


def test_stress_summary_weights_by_volume():
    centroids = np.zeros((2, 3))
    # 99.5% of the volume at 1 kPa: the 99th percentile is 1.
    assert stress_summary([1.0, 100.0], centroids, [0.995, 0.005]).p99_kPa == 1.0
    # Only 98% at 1 kPa: the 99th percentile is the 100 kPa cell.
    assert stress_summary([1.0, 100.0], centroids, [0.98, 0.02]).p99_kPa == 100.0
    with pytest.raises(ParameterError, match="volumes"):
        stress_summary([1.0, 2.0], centroids, [1.0, -1.0])
    with pytest.raises(ParameterError, match="centroids"):
        stress_summary([1.0, 2.0], np.zeros((3, 3)), [1.0, 1.0])

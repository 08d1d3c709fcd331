"""The monoventricle of Arostica et al. (2025), CMAME 435:117485, benchmark 1.

Checks :func:`organfem.meshing.arostica_ellipsoid` against the published
geometry (endo (25, 90) mm, epi (35, 97) mm, long axis x, base at
``mu_base = -acos(5/17)``, ``-acos(5/20)``) and :func:`organfem.fibres.
arostica_fibres` against the benchmark's reference rule (finsberg/
cardiac_benchmark ``microstructure.compute_system``) and organfem's helix-angle
convention.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from organfem.fibres import arostica_fibres, ellipsoid_coordinates, helix_angle
from organfem.imaging.phantoms import truncated_ellipsoid_volume
from organfem.meshing import arostica_ellipsoid

ENDO, EPI = (25.0, 90.0), (35.0, 97.0)  # (r_short, r_long) [mm]
X_BASE = {"endo": 90.0 * 5 / 17, "epi": 97.0 * 5 / 20}  # r_long cos(mu_base): 26.47, 24.25
P0, P1 = np.array([25.0, 30.0, 0.0]), np.array([0.0, 30.0, 0.0])  # tracked points [mm]


@pytest.fixture(scope="module")
def meshes():
    return {h: arostica_ellipsoid(h=h) for h in (8.0, 4.0)}


def _tri(mesh, name):
    return mesh.points[mesh.facets_of(name)]  # (m, 3, 3)


def _level(x, radii):
    """(L - 1) / |grad L| for L = x^2/rl^2 + (y^2 + z^2)/rs^2: first-order signed distance."""
    rs, rl = radii
    w = np.array([1 / rl**2, 1 / rs**2, 1 / rs**2])
    return (x**2 @ w - 1.0) / np.linalg.norm(2 * x * w, axis=1)


def test_tags_and_base_rims(meshes):
    mesh = meshes[8.0]
    assert set(mesh.facet_names) == {"endo", "epi", "base"}
    for name, x_base in X_BASE.items():
        x = mesh.points[np.unique(mesh.facets_of(name))]
        assert x[:, 0].max() == pytest.approx(x_base, abs=1e-9)  # rim at r_long cos(mu_base)
        assert x[:, 0].min() == pytest.approx(-(ENDO if name == "endo" else EPI)[1], abs=1e-9)
    base = mesh.points[np.unique(mesh.facets_of("base"))]
    assert base[:, 0].min() == pytest.approx(X_BASE["epi"]) and base[:, 0].max() == pytest.approx(
        X_BASE["endo"]
    )  # the base is not planar: it spans x in [24.25, 26.47]


@pytest.mark.parametrize("name,radii", [("endo", ENDO), ("epi", EPI)])
def test_surfaces_on_ellipsoids(meshes, name, radii):
    mesh = meshes[8.0]
    tri = _tri(mesh, name)
    vertices = mesh.points[np.unique(mesh.facets_of(name))]
    assert np.abs(_level(vertices, radii)).max() < 1e-9  # vertices exactly on the surface
    # Facet centroids sag below the surface by at most the cap height of a
    # sphere of the largest curvature kappa = rl / rs^2 (at the apex) over the
    # facet's circumcircle: R - sqrt(R^2 - rc^2), R = 1 / kappa.
    a = np.linalg.norm(tri[:, 1] - tri[:, 2], axis=1)
    b = np.linalg.norm(tri[:, 2] - tri[:, 0], axis=1)
    c = np.linalg.norm(tri[:, 0] - tri[:, 1], axis=1)
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    rc = a * b * c / (4 * area)
    R = radii[0] ** 2 / radii[1]
    sag = R - np.sqrt(np.maximum(R**2 - rc**2, 0.0))
    d = _level(tri.mean(axis=1), radii)
    assert (d <= 1e-9).all()  # inside the convex ellipsoid (chords)
    assert (-d <= 1.05 * sag + 1e-9).all()  # 5 % for the first-order distance


def _cavity_volume(mesh):
    """Volume enclosed by the endocardium and the plane x = x_base (origin on that plane)."""
    tri = _tri(mesh, "endo") - np.array([X_BASE["endo"], 0.0, 0.0])
    six_v = np.einsum("ni,ni->n", tri[:, 0], np.cross(tri[:, 1], tri[:, 2]))
    centroid = tri.mean(axis=1) + np.array([X_BASE["endo"], 0, 0])
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    outward = np.einsum("ni,ni->n", normal, centroid / np.array([ENDO[1], ENDO[0], ENDO[0]]) ** 2)
    return float(np.sum(np.sign(outward) * six_v) / 6.0)


def test_cavity_volume_converges(meshes):
    exact = truncated_ellipsoid_volume(ENDO[0], ENDO[1], X_BASE["endo"])
    # pi 25^2 [(26.47 + 90) - (26.47^3 + 90^3) / (3 90^2)] = 168 286 mm^3; measured errors
    # 3151 mm^3 (1.87 %, h = 8) and 785 mm^3 (0.47 %, h = 4): rate 2.01
    assert exact == pytest.approx(math.pi * 625 * ((X_BASE["endo"] + 90) - (X_BASE["endo"] ** 3 + 90**3) / (3 * 8100)))
    err = {h: exact - _cavity_volume(m) for h, m in meshes.items()}
    assert all(e > 0 for e in err.values())  # inscribed polyhedron: smaller than the cavity
    assert err[4.0] / exact < 0.01
    rate = math.log2(err[8.0] / err[4.0])
    assert 1.5 < rate < 2.6, (err, rate)


def test_tracked_points_inside_wall(meshes):
    # p1 = (0, 30, 0): equator (mu = -pi/2), mid-wall (t = 0.5 exactly: rs(0.5) = 30).
    # p0 = (25, 30, 0): t = 0.611, mu = -1.3024, just below the base (x_base = 25.11 mm
    # at radius 30 on the straight base segment) -- inside the wall, not on its surface.
    pts = np.stack([P0, P1])
    t, u, _ = ellipsoid_coordinates(pts[:, [1, 2, 0]], endo=ENDO, epi=EPI)
    assert t[1] == pytest.approx(0.5, abs=1e-12)
    assert 0.6 < t[0] < 0.62
    rim = np.array([[X_BASE["endo"], ENDO[0] * math.sqrt(1 - (5 / 17) ** 2)],
                    [X_BASE["epi"], EPI[0] * math.sqrt(1 - (5 / 20) ** 2)]])  # fmt: skip
    s = (30.0 - rim[0, 1]) / (rim[1, 1] - rim[0, 1])
    x_base = rim[0, 0] + s * (rim[1, 0] - rim[0, 0])
    assert 25.0 < x_base < 25.2  # p0 lies 0.11 mm (along x) apex-side of the base
    mesh = meshes[4.0]
    x = mesh.points[mesh.cells]
    for p in pts:  # each point is in some tetrahedron (barycentric coordinates >= 0)
        lam = np.linalg.solve(
            np.transpose(x[:, 1:] - x[:, :1], (0, 2, 1)), (p - x[:, 0])[:, :, None]
        )[:, :, 0]
        bary = np.column_stack([1 - lam.sum(axis=1), lam])
        assert (bary.min(axis=1) > -1e-9).any()


def test_fibres_orthonormal_and_helix(meshes):
    mesh = meshes[8.0]
    for name, radii, expected in (("endo", ENDO, -60.0), ("epi", EPI, 60.0)):
        x = mesh.points[np.unique(mesh.facets_of(name))]
        x = x[np.linalg.norm(x[:, 1:], axis=1) > 1.0]  # off the axis (apex)
        basis = arostica_fibres(x)
        assert np.allclose(basis @ np.transpose(basis, (0, 2, 1)), np.eye(3), atol=1e-12)
        assert np.allclose(np.linalg.det(basis), 1.0)
        normal = x / np.array([radii[1], radii[0], radii[0]]) ** 2  # grad of the ellipsoid
        angle = helix_angle(x, basis, [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], transmural=normal)
        assert np.abs(angle - expected).max() < 1e-6
        s_in = np.einsum("ni,ni->n", basis[:, 1], normal)
        assert (s_in < 0).all()  # s0 = e_mu x e_theta points into the cavity, as published

"""Idealised geometries, MeshData validation and IO, analytic fibre fields."""

import dataclasses

import h5py
import meshio
import numpy as np
import pytest

from organfem.errors import MeshError, MissingTagError, ParameterError
from organfem.fibres import constant_fibres, ellipsoid_coordinates, land2015_fibres
from organfem.meshing import (
    TET_EDGES,
    MeshData,
    boundary_facets,
    land_beam,
    lv_ellipsoid,
    sphere_shell,
    tube,
)

ENDO, EPI, Z_BASE = (7.0, 17.0), (10.0, 20.0), 5.0  # Land et al. (2015) problems 2-3 [mm]


def cap_volume(rs, rl, zb):
    """Volume of {z <= zb} inside the ellipsoid (x^2 + y^2)/rs^2 + z^2/rl^2 <= 1.

    The slice at height z is a disc of area pi rs^2 (1 - z^2/rl^2), so
    V = int_{-rl}^{zb} pi rs^2 (1 - z^2/rl^2) dz
      = pi rs^2 [z - z^3/(3 rl^2)]_{-rl}^{zb}
      = pi rs^2 (zb + rl - (zb^3 + rl^3)/(3 rl^2)).
    """
    return np.pi * rs**2 * (zb + rl - (zb**3 + rl**3) / (3 * rl**2))


WALL_VOLUME = cap_volume(*EPI, Z_BASE) - cap_volume(*ENDO, Z_BASE)  # 3234.73 mm^3


def ellipsoid_residual(x, rs, rl):
    return (x[..., 0] ** 2 + x[..., 1] ** 2) / rs**2 + x[..., 2] ** 2 / rl**2 - 1.0


def enclosed_volume(mesh, name, rs, rl):
    """Volume bounded by the triangles tagged ``name`` and the base plane.

    Divergence theorem with F = (0, 0, z - z_base): div F = 1 and F = 0 on the
    base plane, so V = sum over triangles of (z_centroid - z_base) * (area
    vector)_z (exact: the integrand is linear on each flat triangle), with the
    area vectors turned along the ellipsoid's outward normal.

    Returns:
        The volume and an upper bound of its deficit: a flat triangle with its
        vertices on a convex surface of principal curvatures <= kappa stays
        within kappa r_c^2 of it (r_c the circumradius; on a sphere of radius R
        the sag is R - sqrt(R^2 - r_c^2) <= r_c^2 / R); kappa_max of the
        ellipsoid is max(rl / rs^2 at the apex, 1 / rs at the equator).
    """
    x = mesh.points[mesh.facets_of(name)]
    area_vec = 0.5 * np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])
    centre = x.mean(axis=1)
    outward = centre / np.array([rs**2, rs**2, rl**2])
    sign = np.sign(np.einsum("ij,ij->i", area_vec, outward))
    volume = np.sum(sign * (centre[:, 2] - Z_BASE) * area_vec[:, 2])
    a, b, c = (np.linalg.norm(x[:, i] - x[:, j], axis=1) for i, j in ((0, 1), (0, 2), (1, 2)))
    area = np.linalg.norm(area_vec, axis=1)
    circumradius = a * b * c / (4 * area)
    kappa = max(rl / rs**2, 1 / rs)
    return volume, np.sum(area * kappa * circumradius**2)


@pytest.fixture(scope="module")
def lv():
    """Ellipsoids at h = 2 and 1 mm (about 0.3 s and 1.5 s of gmsh)."""
    return {h: lv_ellipsoid(h=h) for h in (2.0, 1.0)}


# --- beam -------------------------------------------------------------------


@pytest.mark.parametrize("cell_type, per_cube", [("tetrahedron", 6), ("hexahedron", 1)])
def test_beam_volume_counts_and_tags(cell_type, per_cube):
    mesh = land_beam(h=0.3, cell_type=cell_type)
    nx, ny, nz = round(10 / 0.3), round(1 / 0.3), round(1 / 0.3)  # 33, 3, 3
    assert mesh.num_cells == per_cube * nx * ny * nz
    assert mesh.num_points == (nx + 1) * (ny + 1) * (nz + 1)
    assert mesh.cell_volumes().sum() == pytest.approx(10.0, rel=1e-13)
    assert np.all(mesh.cell_volumes() > 0)
    # Every boundary facet is tagged, and each tag lies on its face with the
    # face's area (1 mm^2 for x = const, 10 mm^2 for y, z = const).
    assert len(mesh.facets) == len(boundary_facets(mesh.cells, cell_type))
    lengths = (10.0, 1.0, 1.0)
    for axis, label in enumerate("xyz"):
        for side, bound in enumerate((0.0, lengths[axis])):
            x = mesh.points[mesh.facets_of(f"{label}{side}")]
            assert np.all(x[..., axis] == bound)
            if cell_type == "tetrahedron":
                area = 0.5 * np.linalg.norm(np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), axis=1)
            else:  # planar quads in tensor-product order: |(x1 - x0) x (x2 - x0)|
                area = np.linalg.norm(np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), axis=1)
            assert area.sum() == pytest.approx(10.0 / lengths[axis], rel=1e-13)


def test_beam_hexahedra_are_in_tensor_product_order():
    mesh = land_beam(h=0.5, cell_type="hexahedron")
    x = mesh.points[mesh.cells]
    # corner i + 2j + 4k sits at (i, j, k) h from corner 0
    for corner in range(8):
        step = 0.5 * np.array([corner & 1, corner >> 1 & 1, corner >> 2 & 1])
        np.testing.assert_allclose(x[:, corner] - x[:, 0], np.broadcast_to(step, (len(x), 3)))


def test_beam_rejects_bad_arguments():
    with pytest.raises(ParameterError, match="h=0"):
        land_beam(h=0)
    with pytest.raises(ParameterError, match="cell_type"):
        land_beam(h=1.0, cell_type="prism")


# --- LV ellipsoid -------------------------------------------------------------


def test_lv_wall_volume_converges(lv):
    errors = {}
    for h, mesh in lv.items():
        volume = mesh.cell_volumes().sum()
        v_epi, bound_epi = enclosed_volume(mesh, "epi", *EPI)
        v_endo, bound_endo = enclosed_volume(mesh, "endo", *ENDO)
        # The tags close the wall exactly: tets = (epi-bounded) - (cavity).
        assert volume == pytest.approx(v_epi - v_endo, rel=1e-12)
        # Inscribed polyhedra of convex bodies lie inside them, within the bound.
        assert 0 < cap_volume(*EPI, Z_BASE) - v_epi <= bound_epi
        assert 0 < cap_volume(*ENDO, Z_BASE) - v_endo <= bound_endo
        errors[h] = abs(WALL_VOLUME - volume)
        assert errors[h] <= max(bound_epi, bound_endo)
    # Flat facets on curved surfaces: the error is O(h^2) (ratio 1/4 when h
    # halves); require at least order 1.5.
    assert errors[1.0] / errors[2.0] < 0.5**1.5
    assert errors[1.0] / WALL_VOLUME < 1e-3


def test_lv_tags_lie_on_their_surfaces(lv):
    mesh = lv[2.0]
    assert dict(mesh.facet_names) == {"endo": 1, "epi": 2, "base": 3}
    # Boundary vertices sit on the exact surfaces of revolution of gmsh/OCC.
    np.testing.assert_allclose(mesh.points[mesh.facets_of("base")][..., 2], Z_BASE, atol=1e-12)
    assert np.abs(ellipsoid_residual(mesh.points[mesh.facets_of("endo")], *ENDO)).max() < 1e-9
    assert np.abs(ellipsoid_residual(mesh.points[mesh.facets_of("epi")], *EPI)).max() < 1e-9
    # The three tags cover the whole boundary and nothing else.
    boundary = boundary_facets(mesh.cells, "tetrahedron")
    assert len(boundary) == len(mesh.facets)
    assert {tuple(sorted(f)) for f in boundary} == {tuple(sorted(f)) for f in mesh.facets}
    # Nothing above the base plane, nothing below the epicardial apex.
    assert mesh.points[:, 2].max() == pytest.approx(Z_BASE, abs=1e-12)
    assert mesh.points[:, 2].min() == pytest.approx(-EPI[1], abs=1e-12)


def test_lv_apex_points_are_vertices(lv):
    for mesh in lv.values():
        for apex in ((0, 0, -ENDO[1]), (0, 0, -EPI[1])):
            assert np.linalg.norm(mesh.points - apex, axis=1).min() < 1e-12


def test_lv_is_deterministic_and_refines():
    a, b = lv_ellipsoid(h=4.0), lv_ellipsoid(h=4.0)
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.cells, b.cells)
    np.testing.assert_array_equal(a.facets, b.facets)
    assert lv_ellipsoid(h=3.0).num_cells > a.num_cells


def test_lv_leaves_a_callers_gmsh_session_as_it_was():
    import gmsh

    gmsh.initialize(readConfigFiles=False, interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("Mesh.MeshSizeMax", 123.0)
        gmsh.model.add("callers_model")
        lv_ellipsoid(h=4.0)
        assert gmsh.isInitialized()
        assert gmsh.model.getCurrent() == "callers_model"
        assert gmsh.model.list() == ["", "callers_model"]
        assert gmsh.option.getNumber("Mesh.MeshSizeMax") == 123.0
    finally:
        gmsh.finalize()


def test_lv_rejects_bad_geometry():
    with pytest.raises(ParameterError, match="r_short_endo < r_short_epi"):
        lv_ellipsoid(h=2.0, r_short_endo=11.0)
    with pytest.raises(ParameterError, match="z_base"):
        lv_ellipsoid(h=2.0, z_base=18.0)
    with pytest.raises(ParameterError, match="prolate"):
        lv_ellipsoid(h=2.0, r_long_endo=6.0, r_short_endo=6.5)


# --- fibres -------------------------------------------------------------------


def wall_points(t, u, v):
    """Points x(t, u, v) on the ellipsoid family and the unit dx/du, dx/dv."""
    rs = ENDO[0] + (EPI[0] - ENDO[0]) * t
    rl = ENDO[1] + (EPI[1] - ENDO[1]) * t
    x = np.stack([rs * np.sin(u) * np.cos(v), rs * np.sin(u) * np.sin(v), rl * np.cos(u)], -1)
    e_u = np.stack([rs * np.cos(u) * np.cos(v), rs * np.cos(u) * np.sin(v), -rl * np.sin(u)], -1)
    e_v = np.stack([-np.sin(v), np.cos(v), np.zeros_like(v)], -1)
    return x, e_u / np.linalg.norm(e_u, axis=-1, keepdims=True), e_v


def assert_orthonormal(R):
    np.testing.assert_allclose(
        np.einsum("nij,nkj->nik", R, R), np.broadcast_to(np.eye(3), R.shape), atol=1e-12
    )


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(0)
    n = 500
    return rng.uniform(0, 1, n), rng.uniform(0.3, np.pi, n), rng.uniform(-np.pi, np.pi, n)


def test_fibre_coordinates_are_recovered(samples):
    t, u, v = samples
    x, _, _ = wall_points(t, u, v)
    t_h, u_h, v_h = ellipsoid_coordinates(x, endo=ENDO, epi=EPI)
    np.testing.assert_allclose(t_h, t, atol=1e-12)
    np.testing.assert_allclose(u_h, u, atol=1e-12)
    np.testing.assert_allclose(v_h, v, atol=1e-12)


def test_fibres_are_orthonormal_and_follow_the_helix_rule(samples):
    t, u, v = samples
    x, e_u, e_v = wall_points(t, u, v)
    R = land2015_fibres(x)
    assert_orthonormal(R)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    alpha = np.deg2rad(90.0 - 180.0 * t)  # alpha_endo + (alpha_epi - alpha_endo) t
    np.testing.assert_allclose(np.einsum("ni,ni->n", R[:, 0], e_u), np.sin(alpha), atol=1e-12)
    np.testing.assert_allclose(np.einsum("ni,ni->n", R[:, 0], e_v), np.cos(alpha), atol=1e-12)


@pytest.mark.parametrize("t, expected", [(0.0, "e_u"), (0.5, "e_v"), (1.0, "-e_u")])
def test_fibres_at_endo_midwall_epi(t, expected):
    u, v = np.linspace(0.4, 3.0, 7), np.linspace(-3.0, 3.0, 7)
    x, e_u, e_v = wall_points(np.full(7, t), u, v)
    f0 = land2015_fibres(x)[:, 0]
    np.testing.assert_allclose(f0, {"e_u": e_u, "e_v": e_v, "-e_u": -e_u}[expected], atol=1e-12)


def test_fibres_at_the_apex_are_the_documented_limit(lv):
    x = np.array([[0.0, 0.0, -ENDO[1]], [0.0, 0.0, -EPI[1]]])
    R = land2015_fibres(x)
    assert np.isfinite(R).all()
    # limit along v = 0: e_u = (-1, 0, 0), e_v = (0, 1, 0), s0 = (0, 0, -1)
    np.testing.assert_allclose(R[0, 0], [-1, 0, 0], atol=1e-12)  # endo: f0 = e_u
    np.testing.assert_allclose(R[1, 0], [1, 0, 0], atol=1e-12)  # epi: f0 = -e_u
    np.testing.assert_allclose(R[:, 1], [[0, 0, -1]] * 2, atol=1e-12)
    # and at every vertex and cell centre of a mesh (flat facets bulge out by
    # t < 0 near the endocardium, within t_tol)
    mesh = lv[2.0]
    for y in (mesh.points, mesh.points[mesh.cells].mean(axis=1)):
        R = land2015_fibres(y)
        assert_orthonormal(R)


def test_fibres_reject_points_outside_the_wall():
    with pytest.raises(ParameterError, match="in mm"):
        land2015_fibres(np.array([[0.0, 0.0, -0.018]]))  # a point given in metres
    with pytest.raises(ParameterError, match="outside the wall"):
        land2015_fibres(np.array([[0.0, 0.0, -30.0]]))
    with pytest.raises(ParameterError, match="shape"):
        land2015_fibres(np.zeros((3, 2)))


def test_constant_fibres():
    R = constant_fibres((1.0, 0.0, 0.0), 4)
    assert R.shape == (4, 3, 3)
    np.testing.assert_array_equal(R, np.broadcast_to(np.eye(3), (4, 3, 3)))
    R = constant_fibres((1.0, 2.0, 2.0), 2, sheet=(0.0, 0.0, 1.0))[0]
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-15)
    np.testing.assert_allclose(R[0], np.array([1, 2, 2]) / 3)
    with pytest.raises(ParameterError, match="non-zero"):
        constant_fibres((0.0, 0.0, 0.0), 3)
    with pytest.raises(ParameterError, match="parallel"):
        constant_fibres((0.0, 0.0, 1.0), 3, sheet=(0.0, 0.0, 2.0))


# --- MeshData -----------------------------------------------------------------


def unit_tet(**changes):
    fields = dict(
        points=[[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]],
        cells=[[0, 1, 2, 3]],
        cell_type="tetrahedron",
        facets=[[0, 1, 2]],
        facet_values=[1],
        facet_names={"bottom": 1},
    )
    return MeshData(**(fields | changes))


def test_meshdata_defaults_and_immutability():
    mesh = unit_tet()
    assert mesh.cell_volumes() == pytest.approx([1 / 6])
    assert dict(mesh.cell_names) == {"tissue": 1}
    np.testing.assert_array_equal(mesh.cell_values, [1])
    assert mesh.points.dtype == np.float64 and mesh.cells.dtype == np.int64
    assert mesh.facet_values.dtype == np.int32
    with pytest.raises(ValueError):
        mesh.points[0, 0] = 5.0
    relabelled = mesh.with_tags(facet_values=[7], facet_names={"floor": 7})
    assert relabelled.facet_tag("floor") == 7 and mesh.facet_tag("bottom") == 1


@pytest.mark.parametrize(
    "changes, match",
    [
        (dict(points=[[0.0, 0], [1, 0], [0, 1], [1, 1]]), r"points: expected shape \(n>0, 3\)"),
        (dict(points=[[np.nan, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]), "1 points are NaN"),
        (dict(cells=[[0, 1, 2]]), r"cells: expected shape \(m>0, 4\)"),
        (dict(cells=[[0, 1, 2, 4]]), r"cells: vertex index 4 out of range \[0, 4\)"),
        (dict(cells=[[0, 2, 1, 3]]), "inverted or degenerate"),
        (dict(facets=[[0, 1, 5]]), "facets: vertex index 5 out of range"),
        (dict(facets=[[0, 1, 2], [0, 1, 3]], facet_values=[1]), r"facet_values: .* shape \(2,\)"),
        (dict(facet_values=[2]), r"tag values \[2\] have no name"),
        (dict(facet_names={"bottom": 1, "top": 2}), r"names \['top'\] tag no facet"),
        (dict(facet_names={"bottom": 0}), "positive integers"),
        (dict(cell_type="prism"), "cell_type: expected one of"),
        (dict(cell_values=[1.5]), "cell_values: expected integers"),
    ],
)
def test_meshdata_validation_errors(changes, match):
    with pytest.raises(MeshError, match=match):
        unit_tet(**changes)


def test_meshdata_rejects_facets_not_on_cells():
    points = [[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]
    with pytest.raises(MeshError, match="not facets of any cell"):
        unit_tet(points=points, facets=[[1, 2, 4]])


def test_meshdata_rejects_hexahedra_in_vtk_order():
    cube = [[i & 1, i >> 1 & 1, i >> 2 & 1] for i in range(8)]  # tensor-product order
    tags = dict(facets=[[0, 1, 2, 3]], facet_values=[1], facet_names={"z0": 1})
    good = MeshData(points=cube, cells=[list(range(8))], cell_type="hexahedron", **tags)
    assert good.cell_volumes() == pytest.approx([1.0])
    with pytest.raises(MeshError, match="inverted"):  # VTK order: (1,1,0) third
        MeshData(points=cube, cells=[[0, 1, 3, 2, 4, 5, 7, 6]], cell_type="hexahedron", **tags)


def test_missing_tag_lists_available_names():
    mesh = land_beam(h=1.0)
    with pytest.raises(MissingTagError, match=r"tag named 'endo'; available: \['x0', 'x1'"):
        mesh.facet_tag("endo")
    with pytest.raises(MissingTagError, match=r"available: \['tissue'\]"):
        mesh.cell_tag("myocardium")


@pytest.mark.parametrize("cell_type", ["tetrahedron", "hexahedron"])
def test_save_load_and_meshio_round_trips(tmp_path, cell_type):
    mesh = land_beam(h=0.5, cell_type=cell_type)
    path = mesh.save(tmp_path / "beam.h5")
    assert [p.name for p in tmp_path.iterdir()] == ["beam.h5"]  # no temporary left
    for other in (MeshData.load(path), MeshData.from_meshio(mesh.to_meshio())):
        for name in ("points", "cells", "facets", "facet_values", "cell_values"):
            np.testing.assert_array_equal(getattr(other, name), getattr(mesh, name))
        assert other.cell_type == cell_type
        assert dict(other.facet_names) == dict(mesh.facet_names)
        assert dict(other.cell_names) == dict(mesh.cell_names)


def test_from_meshio_reads_gmsh_style_tags():
    m = meshio.Mesh(
        [[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]],
        [("tetra", [[0, 1, 2, 3]]), ("triangle", [[0, 1, 2]]), ("vertex", [[0]])],
        cell_data={"gmsh:physical": [[5], [3], [9]]},
        field_data={"wall": np.array([5, 3]), "bottom": np.array([3, 2])},
    )
    mesh = MeshData.from_meshio(m)
    assert dict(mesh.cell_names) == {"wall": 5} and mesh.facet_tag("bottom") == 3
    with pytest.raises(MeshError, match="no cell data 'labels'"):
        MeshData.from_meshio(m, tag_key="labels")


def test_load_reports_corrupt_files(tmp_path):
    path = land_beam(h=1.0).save(tmp_path / "beam.h5")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(MeshError, match="truncated.h5: not a readable HDF5"):
        MeshData.load(truncated)
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(MeshError, match="notes.h5: not a readable HDF5"):
        MeshData.load(text)
    with h5py.File(path, "a") as f:
        del f["cells"]
    with pytest.raises(MeshError, match="beam.h5: missing dataset 'cells'"):
        MeshData.load(path)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["points"] = np.zeros((1, 3))
    with pytest.raises(MeshError, match="other.h5: attribute 'format'"):
        MeshData.load(other)


# -- sphere shell and tube; curved (second-order) tetrahedra -----------------------------

RI, RO, LENGTH = 5.0, 10.0, 8.0  # [mm]


def shell_volume(octant):
    return (np.pi / 6 if octant else 4 * np.pi / 3) * (RO**3 - RI**3)


def tube_volume(quarter):
    return (np.pi / 4 if quarter else np.pi) * (RO**2 - RI**2) * LENGTH


def corner_radii(mesh, name, axes):
    """Radii (over ``axes``) of the corners of the facets tagged ``name``."""
    return np.linalg.norm(mesh.points[mesh.facets_of(name)][..., axes], axis=-1)


@pytest.mark.parametrize("octant", [True, False])
@pytest.mark.parametrize("order", [1, 2])
def test_sphere_shell_volume_and_tags(octant, order):
    mesh = sphere_shell(inner_radius=RI, outer_radius=RO, h=2.0, octant=octant, order=order)
    planes = ["x0", "y0", "z0"] if octant else []
    assert list(mesh.facet_names) == ["inner", "outer", *planes]
    assert dict(mesh.cell_names) == {"wall": 1} and mesh.order == order
    # straight cells lose O(h^2) of the volume (-0.7 % here), curved ones ~1e-5
    error = mesh.cell_volumes().sum() / shell_volume(octant) - 1
    assert (-1.5e-2 < error < -2e-3) if order == 1 else abs(error) < 1e-4
    for name, radius in (("inner", RI), ("outer", RO)):
        np.testing.assert_allclose(corner_radii(mesh, name, [0, 1, 2]), radius, rtol=1e-9)
    for axis, name in enumerate(planes):
        np.testing.assert_allclose(mesh.points[mesh.facets_of(name)][..., axis], 0, atol=1e-9)
    if octant:
        assert mesh.points.min() > -1e-9
    if order == 2:  # edge nodes of boundary facets lie on the spheres, too
        on_inner = np.isclose(np.linalg.norm(mesh.points, axis=1), RI, rtol=1e-9)
        assert on_inner[mesh.edge_nodes].sum() > len(mesh.facets_of("inner"))


@pytest.mark.parametrize("quarter", [True, False])
@pytest.mark.parametrize("order", [1, 2])
def test_tube_volume_and_tags(quarter, order):
    mesh = tube(
        inner_radius=RI, outer_radius=RO, length=LENGTH, h=2.0, quarter=quarter, order=order
    )
    planes = ["x0", "y0"] if quarter else []
    assert list(mesh.facet_names) == ["inner", "outer", *planes, "z0", "z1"]
    # straight cells: the outer chords lose volume, the inner ones gain some back
    # (-1.7e-5 for the full tube, -4.2e-4 for the quarter); curved cells: ~6e-6
    error = mesh.cell_volumes().sum() / tube_volume(quarter) - 1
    assert (-1e-2 < error < 0) if order == 1 else abs(error) < 2e-5
    for name, radius in (("inner", RI), ("outer", RO)):
        np.testing.assert_allclose(corner_radii(mesh, name, [0, 1]), radius, rtol=1e-9)
    for axis, name in enumerate(planes):
        np.testing.assert_allclose(mesh.points[mesh.facets_of(name)][..., axis], 0, atol=1e-9)
    for name, z in (("z0", 0.0), ("z1", LENGTH)):
        np.testing.assert_allclose(mesh.points[mesh.facets_of(name)][..., 2], z, atol=1e-9)


def test_curved_mesh_has_the_vertices_of_the_straight_one():
    straight = sphere_shell(inner_radius=RI, outer_radius=RO, h=2.0)
    curved = sphere_shell(inner_radius=RI, outer_radius=RO, h=2.0, order=2)
    linear = curved.linear()
    assert linear.order == 1 and linear.edge_nodes is None and straight.edge_nodes is None
    for name in ("points", "cells", "facets", "facet_values"):
        np.testing.assert_array_equal(getattr(linear, name), getattr(straight, name))
    # vertices first, then the edge nodes; [cells | edge_nodes] is the 10-node cell
    assert curved.edge_nodes.shape == (curved.num_cells, 6)
    assert curved.edge_nodes.min() == curved.cells.max() + 1 == straight.num_points
    assert curved.nodes.shape == (curved.num_cells, 10)
    # interior edge nodes sit at the midpoints of straight edges
    x = curved.points
    for k, (a, b) in enumerate(TET_EDGES):
        mid = 0.5 * (x[curved.cells[:, a]] + x[curved.cells[:, b]])
        offset = np.linalg.norm(x[curved.edge_nodes[:, k]] - mid, axis=1)
        # and boundary ones on the sphere, a sag of about L^2 / (8 R) off the chord
        assert np.median(offset) < 1e-9 and offset.max() < 3.0**2 / (8 * RI)


def test_lv_ellipsoid_order_2_is_curved_and_closer():
    straight, curved = lv_ellipsoid(h=3.0), lv_ellipsoid(h=3.0, order=2)
    np.testing.assert_array_equal(curved.linear().cells, straight.cells)
    errors = [abs(m.cell_volumes().sum() - WALL_VOLUME) for m in (straight, curved)]
    assert errors[1] < errors[0] / 10  # 29.5 vs 0.10 mm^3 at h = 3 mm
    on_endo = np.abs(ellipsoid_residual(curved.points, *ENDO)) < 1e-6
    assert on_endo[curved.edge_nodes].any()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sphere_shell(inner_radius=10, outer_radius=5, h=1), "inner_radius=10 mm"),
        (lambda: sphere_shell(inner_radius=0, outer_radius=5, h=1), "0 < inner_radius"),
        (lambda: sphere_shell(inner_radius=1, outer_radius=2, h=0), "h=0"),
        (lambda: sphere_shell(inner_radius=1, outer_radius=2, h=1e-3), "h=0.001 mm"),
        (lambda: sphere_shell(inner_radius=1, outer_radius=2, h=0.5, order=3), "order=3"),
        (lambda: tube(inner_radius=1, outer_radius=2, length=0, h=1), "length=0 mm"),
        (lambda: tube(inner_radius=1, outer_radius=2, length=1e4, h=1), "h=1 mm"),
        (lambda: tube(inner_radius=3, outer_radius=2, length=5, h=1), "outer_radius=2 mm"),
        (lambda: lv_ellipsoid(h=2.0, order=0), "order=0"),
    ],
)
def test_sphere_and_tube_reject_bad_arguments(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


def curved_tet(**changes):
    """The unit tetrahedron with its six edge nodes (points 4-9) at the edge midpoints."""
    corners = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    mids = np.array([(corners[a] + corners[b]) / 2 for a, b in TET_EDGES])
    fields = dict(
        points=np.vstack([corners, mids]),
        cells=[[0, 1, 2, 3]],
        cell_type="tetrahedron",
        facets=[[0, 1, 2]],
        facet_values=[1],
        facet_names={"bottom": 1},
        edge_nodes=[[4, 5, 6, 7, 8, 9]],
    )
    return MeshData(**(fields | changes))


def test_curved_tet_volume_is_exact():
    assert curved_tet().cell_volumes() == pytest.approx([1 / 6], rel=1e-14)
    # Move the node of edge (2, 3) by v: x(xi) = xi + v phi(xi) with phi = 4 xi_2 xi_3
    # (its quadratic basis function), so det(dx/dxi) = 1 + v . grad phi (rank one), and
    # V = 1/6 + v . int grad phi = 1/6 + v . (0, 1/6, 1/6)  (int xi_k = 1/24 over the
    # unit tetrahedron); for v = d (1, 1, 1)/sqrt(3): V = 1/6 + d / (3 sqrt(3)).
    d = 0.1
    points = curved_tet().points.copy()
    points[4] += d * np.ones(3) / np.sqrt(3)
    bumped = curved_tet(points=points).cell_volumes()[0]
    assert bumped == pytest.approx(1 / 6 + d / (3 * np.sqrt(3)), rel=1e-13)


@pytest.mark.parametrize(
    "changes, match",
    [
        (dict(edge_nodes=[[4, 5, 6, 7, 8]]), r"edge_nodes: expected shape \(1, 6\)"),
        (dict(edge_nodes=[[4, 5, 6, 7, 8, 10]]), "point index 10 out of range"),
        (dict(edge_nodes=[[3, 5, 6, 7, 8, 9]]), "both a cell vertex and an edge node"),
        (dict(edge_nodes=[[4, 4, 6, 7, 8, 9]]), "must share its node"),
        (dict(cell_type="hexahedron"), "must be tetrahedra"),
    ],
)
def test_curved_meshdata_validation_errors(changes, match):
    if changes.get("cell_type") == "hexahedron":
        beam = land_beam(h=1.0, cell_type="hexahedron")
        with pytest.raises(MeshError, match=match):
            dataclasses.replace(beam, edge_nodes=np.zeros((beam.num_cells, 6), dtype=int))
        return
    with pytest.raises(MeshError, match=match):
        curved_tet(**changes)


def test_curved_meshdata_rejects_inverted_quadratic_cells():
    points = curved_tet().points.copy()
    points[9] = [1.2, 0.0, 0.0]  # the node of edge (0, 1) pushed beyond vertex 1
    with pytest.raises(MeshError, match="curved tetrahedra are inverted"):
        curved_tet(points=points)


def test_curved_save_load_and_meshio_round_trips(tmp_path):
    mesh = sphere_shell(inner_radius=RI, outer_radius=RO, h=3.0, order=2)
    mesh = mesh.with_fibres(np.broadcast_to(np.eye(3), (mesh.num_cells, 3, 3)))
    path = mesh.save(tmp_path / "shell.h5")
    with h5py.File(path) as f:
        assert f["edge_nodes"].shape == (mesh.num_cells, 6)
    converted = mesh.to_meshio()
    assert [b.type for b in converted.cells] == ["tetra10", "triangle"]
    for other in (MeshData.load(path), MeshData.from_meshio(converted)):
        assert other.order == 2
        for name in ("points", "cells", "edge_nodes", "facets", "facet_values", "cell_values"):
            np.testing.assert_array_equal(getattr(other, name), getattr(mesh, name))
    np.testing.assert_array_equal(MeshData.load(path).fibres, mesh.fibres)
    retagged = mesh.with_tags(cell_names={"tissue": 1})
    np.testing.assert_array_equal(retagged.edge_nodes, mesh.edge_nodes)


def test_meshdata_pickles_for_mpi_broadcast():
    # mpi4py's bcast pickles: the read-only tag-name mappings go as dicts and
    # the copy is validated and equal, curved nodes and fibres included.
    import pickle

    from organfem.meshing import aortic_root

    mesh = aortic_root(h=6.0)
    copy = pickle.loads(pickle.dumps(mesh))
    assert dict(copy.facet_names) == dict(mesh.facet_names)
    assert dict(copy.cell_names) == dict(mesh.cell_names)
    for name in ("points", "cells", "facets", "facet_values", "cell_values", "fibres", "edge_nodes"):
        np.testing.assert_array_equal(getattr(copy, name), getattr(mesh, name))
    with pytest.raises(TypeError):
        copy.facet_names["lumen"] = 9  # still read-only

"""Image-based meshing: label maps to tagged tetrahedral meshes.

The ladder, each rung against something known independently of the code:

1. a voxelised truncated-ellipsoid LV (:func:`organfem.imaging.phantoms.lv_phantom`)
   with anisotropic voxels, an oblique image direction and an oblique long
   axis: the volume against the closed form, the extents and the tagged
   surfaces against the analytic ellipsoids and base plane;
2. the same label map through NIfTI, NRRD and MetaImage files;
3. the mesh in the solver (serial and ``mpiexec -n 2``): tag areas;
4. a real segmentation, the frog tissues bundled with PyVista;
5. vessels: a tapered quarter torus leaving the image through two faces, and
   a cylinder cut by a user plane;
6. two labels meshed together, cells tagged by label;
7. clear errors for bad input;
8. the fTetWild mesher; 9. quality measures of closed-form tetrahedra.

Distances from a surface are measured to first order: for the ellipsoid
level ``L(x) = (x^2 + y^2)/a^2 + z^2/c^2`` the signed distance of a point near
``L = 1`` is ``(L - 1) / |grad L|``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import ConvexHull, cKDTree
from scipy.spatial.transform import Rotation

from organfem.errors import (
    ImageError,
    MeshError,
    MeshQualityError,
    ParameterError,
    SegmentationError,
)
from organfem.imaging import Image, label_components, read_image, write_image
from organfem.imaging.phantoms import MMWHS_LV, lv_phantom, truncated_ellipsoid_volume
from organfem.meshing import (
    MeshData,
    Plane,
    QualityThresholds,
    available_mesher,
    label_surface,
    labels_mesh,
    lv_mesh,
    mesh_quality,
    tet_measures,
    tetrahedralize,
    valve_plane,
    vessel_mesh,
)
from organfem.meshing.surface import preserve_volume, remesh_surface

REPO = Path(__file__).resolve().parents[1]

# lv_phantom's default geometry: (short radius, long half-axis) of the endo-
# and epicardial ellipsoids and the base height above their centre [mm].
ENDO, EPI, BASE = (25.0, 60.0), (35.0, 70.0), 10.0
# Anisotropic voxels, an oblique image direction and an oblique long axis, so
# that a mix-up of index and physical coordinates cannot go unnoticed.
SPACING = np.array([1.3, 1.0, 0.7])
DIRECTION = Rotation.from_euler("xyz", [20.0, -30.0, 45.0], degrees=True).as_matrix()
AXIS = np.array([0.3, 0.2, 1.0])
SIZE = 4.0  # target element size [mm]
# Half the voxel diagonal: a voxel-centre-sampled surface is within this of the
# true one [mm].
HALF_VOXEL = 0.5 * float(np.linalg.norm(SPACING))


def _phantom_shape() -> tuple[int, int, int]:
    """Voxels that hold the LV in any orientation.

    lv_phantom centres the LV's bounding box (70 x 70 x 80 mm in the LV frame)
    in the image, so the LV lies within the sphere of radius half that box's
    diagonal around the image centre; two voxels of margin on each side.
    """
    radius = 0.5 * np.linalg.norm([2 * EPI[0], 2 * EPI[0], EPI[1] + BASE])
    return tuple(int(n) for n in np.ceil(2 * radius / SPACING) + 4)


def _level_distance(x: np.ndarray, radii: tuple[float, float]) -> np.ndarray:
    """First-order signed distance [mm] of LV-frame points from an ellipsoid."""
    a, c = radii
    level = (x[:, 0] ** 2 + x[:, 1] ** 2) / a**2 + x[:, 2] ** 2 / c**2
    grad = 2.0 * np.linalg.norm(np.c_[x[:, 0] / a**2, x[:, 1] / a**2, x[:, 2] / c**2], axis=1)
    return (level - 1.0) / grad


def _facet_areas(mesh: MeshData, name: str) -> np.ndarray:
    p = mesh.points[mesh.facets_of(name)]
    return 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)


def _facet_edges(mesh: MeshData, name: str) -> np.ndarray:
    p = mesh.points[mesh.facets_of(name)]
    return np.linalg.norm(p[:, [1, 2, 0]] - p, axis=2)


def _ellipsoid_area(radii: tuple[float, float], cut: float) -> float:
    """Area [mm^2] of the ellipsoid of revolution below ``z = cut`` (quadrature).

    A surface of revolution r(z) has area int 2 pi r sqrt(1 + r'^2) dz, and for
    r = a sqrt(1 - z^2/c^2): r^2 (1 + r'^2) = a^2 (1 - z^2/c^2) + a^4 z^2 / c^4.
    """
    from scipy.integrate import quad

    a, c = radii
    return quad(lambda z: 2 * np.pi * np.sqrt(a**2 * (1 - z**2 / c**2) + a**4 * z**2 / c**4),
                -c, cut)[0]  # fmt: skip


def _wall_volume(cut: float) -> float:
    """Exact myocardial volume of the phantom cut at height ``cut`` [mm^3]."""
    return truncated_ellipsoid_volume(*EPI, cut) - truncated_ellipsoid_volume(*ENDO, cut)


# --------------------------------------------------------------------------
# 1. Synthetic LV
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def phantom():
    return lv_phantom(_phantom_shape(), spacing=SPACING, direction=DIRECTION, axis=AXIS)


@pytest.fixture(scope="module")
def lv(phantom):
    return lv_mesh(phantom.image, phantom.labels, size=SIZE, mesher="gmsh",
                   source="phantom")  # fmt: skip


@pytest.fixture(scope="module")
def rim(lv):
    """Boolean mask over endo and epi facets: True where a facet touches the base."""
    base_vertices = np.unique(lv.mesh.facets_of("base"))
    return {
        name: np.isin(lv.mesh.facets_of(name), base_vertices).any(axis=1)
        for name in ("endo", "epi")
    }


def test_phantom_holds_the_whole_lv(phantom):
    # The voxel count of a smooth body sampled at voxel centres is its volume
    # up to the lattice-counting error, ~1e-4 here; a cropped LV would lose %.
    voxels = np.count_nonzero(phantom.image.array == MMWHS_LV["lv_myocardium"])
    assert voxels * phantom.image.voxel_volume == pytest.approx(
        phantom.myocardium_volume, rel=1e-3
    )


def test_lv_volume_matches_the_closed_form(phantom, lv):
    volume = lv.mesh.cell_volumes().sum()
    # Issue requirement: within 2 % of the exact myocardial volume
    # (phantoms.truncated_ellipsoid_volume: 119.8 ml).
    assert volume == pytest.approx(phantom.myocardium_volume, rel=0.02)
    # The chain restores the label's voxel volume (preserve_volume: Newton steps
    # to < 1e-6) and gmsh keeps the surface triangles, so the tetrahedra hold it.
    assert abs(lv.quality.volume_error) < 1e-5
    assert lv.quality.volume == pytest.approx(volume, rel=1e-12)
    # The cut keeps the voxels whose centres lie below the base plane, so the
    # label's volume is the exact volume cut at the plane's height (closed
    # form) up to the lattice-counting error of the walls, ~1e-4 (test above).
    cut = phantom.local(lv.planes["base"].point[None])[0, 2]
    assert volume == pytest.approx(_wall_volume(cut), rel=1e-3)


def test_lv_coordinates_are_physical_mm(phantom, lv):
    # In the LV frame the wall spans z in [-70, 10] and radius up to 35 mm.
    # Allowed: one voxel diagonal (surface sampled at voxel centres, base plane
    # up to one voxel step low) plus the chord sag size^2/(8 R) of an element
    # on the smallest curvature radius R = a^2/c of the epicardial apex.
    tol = 2 * HALF_VOXEL + SIZE**2 / (8 * EPI[0] ** 2 / EPI[1])
    x = phantom.local(lv.mesh.points)
    radius = np.hypot(x[:, 0], x[:, 1])
    assert x[:, 2].min() == pytest.approx(-EPI[1], abs=tol)
    assert x[:, 2].max() == pytest.approx(BASE, abs=tol)
    assert radius.max() == pytest.approx(EPI[0], abs=tol)
    for column in (0, 1):
        assert x[:, column].min() == pytest.approx(-EPI[0], abs=tol)
        assert x[:, column].max() == pytest.approx(EPI[0], abs=tol)
    # The mesh overlays the image: cell centroids sample the myocardium label,
    # except possibly those within half a voxel diagonal of the surface, a band
    # of volume A * HALF_VOXEL (20 % of the wall here) at most.
    volumes = lv.mesh.cell_volumes()
    band = sum(_facet_areas(lv.mesh, n).sum() for n in lv.mesh.facet_names) * HALF_VOXEL
    sampled = phantom.image.sample(lv.mesh.points[lv.mesh.cells].mean(axis=1))
    assert volumes[sampled != MMWHS_LV["lv_myocardium"]].sum() < band


@pytest.mark.parametrize("name, radii", [("endo", ENDO), ("epi", EPI)])
def test_lv_endo_and_epi_lie_on_their_ellipsoids(phantom, lv, rim, name, radii):
    # Away from the base rim (facets not touching a base vertex) each facet
    # centroid lies on its ellipsoid within the voxel sampling error plus the
    # sag of a flat triangle's centroid, h^2/(6 R) (circumradius h/sqrt 3 on
    # a sphere of radius R), with h the longest facet edge and R = a^2/c the
    # smallest curvature radius (at the apex).  The two ellipsoids are 10 mm
    # apart, so a swapped tag would be off by ~10 mm.
    h = _facet_edges(lv.mesh, name).max()
    tol = HALF_VOXEL + h**2 / (6 * radii[0] ** 2 / radii[1])
    centres = phantom.local(lv.mesh.points[lv.mesh.facets_of(name)].mean(axis=1))
    distance = _level_distance(centres[~rim[name]], radii)
    assert np.abs(distance).max() < tol
    assert np.count_nonzero(~rim[name]) > 0.8 * rim[name].size


def test_lv_rim_facets_are_tagged_by_the_nearer_surface(phantom, lv, rim):
    # Facets touching the base rim: each belongs to the wall it is nearer to
    # (the rim's slanted triangles are snapped into the base, not left to
    # join the inner and outer walls).
    for name, own, other in (("endo", ENDO, EPI), ("epi", EPI, ENDO)):
        centres = phantom.local(lv.mesh.points[lv.mesh.facets_of(name)[rim[name]]].mean(axis=1))
        wrong = np.abs(_level_distance(centres, own)) > np.abs(_level_distance(centres, other))
        assert not wrong.any(), f"{wrong.sum()} {name} facets lie nearer the other wall"


def test_lv_base_is_flat_and_normal_to_the_axis(phantom, lv):
    plane = lv.planes["base"]
    # valve_plane fits the openings of the blood pool: its normal is the axis.
    assert np.degrees(np.arccos(plane.normal @ phantom.axis)) < 2.0
    # The openings are blood-pool voxels with an outside 6-neighbour across
    # z = 10, so their centres lie within one index step (projected on the
    # axis) below the base; the plane through them, moved out by half that
    # step, is within half a step of z = 10.
    step = np.max(np.abs(DIRECTION.T @ phantom.axis) * SPACING)
    vertices = lv.mesh.points[np.unique(lv.mesh.facets_of("base"))]
    z = phantom.local(vertices)[:, 2]
    assert np.abs(z - BASE).max() < step / 2
    # Base facets are snapped onto the plane (exactly, up to rounding) ...
    assert np.abs(plane.distance(vertices)).max() < 1e-9
    # ... so their normals are the plane's, parallel to the axis.
    p = lv.mesh.points[lv.mesh.facets_of("base")]
    normals = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    normals /= np.linalg.norm(normals, axis=1)[:, None]
    assert np.degrees(np.arccos(np.abs(normals @ phantom.axis).min())) < 2.0
    # The base is the annulus between the ellipsoids at the plane's height,
    # less a rounded rim: triangles across the rim edge are neither wall nor
    # base, at most half an element wide on each of the two rim circles.
    cut = phantom.local(plane.point[None])[0, 2]
    r_epi = EPI[0] * np.sqrt(1 - cut**2 / EPI[1] ** 2)
    r_endo = ENDO[0] * np.sqrt(1 - cut**2 / ENDO[1] ** 2)
    annulus = np.pi * (r_epi**2 - r_endo**2)
    area = _facet_areas(lv.mesh, "base").sum()
    assert annulus - 2 * np.pi * (r_epi + r_endo) * SIZE / 2 < area <= annulus


def test_lv_quality_with_gmsh(lv):
    assert available_mesher("auto") == "gmsh"
    # Issue target: minimum dihedral angle above 10 degrees.
    assert lv.quality.min_dihedral_deg > 10.0
    assert lv.quality.inverted == 0 and lv.quality.slivers == 0
    assert set(lv.mesh.facet_names) == {"endo", "epi", "base"}
    assert lv.mesh.cell_names == {"lv_myocardium": 1}
    # ACVD puts one vertex per sqrt(3)/2 h^2 of surface, the density of
    # equilateral triangles of edge h = size; the clusters' irregularity adds
    # a few % to the mean edge (10 % allowed).
    for name in lv.mesh.facet_names:
        assert _facet_edges(lv.mesh, name).mean() == pytest.approx(SIZE, rel=0.1)


# --------------------------------------------------------------------------
# 2. Through a file
# --------------------------------------------------------------------------


# Geometry precision of each format: MetaImage writes full doubles (bit-exact);
# NRRD writes the products direction * spacing as text with 17 digits and ITK
# factors them back (a few ulp); NIfTI stores its affine in float32 (relative
# rounding 2^-24 = 6e-8 of each entry).
FILE_PRECISION = {".mha": 0.0, ".nrrd": 1e-14, ".nii.gz": 1e-6}


@pytest.mark.parametrize("suffix", list(FILE_PRECISION))
def test_file_round_trip_gives_the_same_mesh(phantom, lv, tmp_path, suffix):
    path = write_image(phantom.image, tmp_path / f"lv{suffix}")
    image = read_image(path)
    np.testing.assert_array_equal(image.array, phantom.image.array)
    eps = FILE_PRECISION[suffix]
    scale = np.abs(phantom.image.origin).max()
    np.testing.assert_allclose(image.origin, phantom.image.origin, rtol=0, atol=eps * scale)
    np.testing.assert_allclose(image.spacing, phantom.image.spacing, rtol=eps, atol=0)
    np.testing.assert_allclose(image.direction, phantom.image.direction, rtol=0, atol=eps)

    result = lv_mesh(image, phantom.labels, size=SIZE, mesher="gmsh", source=str(path))
    assert result.mesh.facet_names == lv.mesh.facet_names
    # The volume is the label's voxel volume: changed by the spacing product's
    # rounding only (3 x eps), and restored to 1e-6 by preserve_volume.
    assert result.quality.volume == pytest.approx(lv.quality.volume, rel=3 * eps + 1e-6)
    if eps == 0.0:
        # Bit-identical input: the same mesh, tag for tag.
        assert result.mesh.num_cells == lv.mesh.num_cells
        for name in lv.mesh.facet_names:
            np.testing.assert_array_equal(result.mesh.facets_of(name), lv.mesh.facets_of(name))
        np.testing.assert_array_equal(result.mesh.points, lv.mesh.points)
        return
    # Even a few ulp can move one of ACVD's clusters (a greedy discrete
    # optimisation), so the triangulation may differ; the surfaces may not.
    # Two triangulations of one smooth surface at size h differ in area by
    # less than the chord deficit h^2 / (8 R^2) ~ 0.3 % (R = 25 mm) ...
    for name in ("endo", "epi"):
        assert _facet_areas(result.mesh, name).sum() == pytest.approx(
            _facet_areas(lv.mesh, name).sum(), rel=SIZE**2 / (8 * ENDO[0] ** 2)
        )
    # ... and the base can only gain or lose facets at its rim.
    base = np.unique(lv.mesh.facets_of("base"))
    rim_area = sum(
        _facet_areas(lv.mesh, n)[np.isin(lv.mesh.facets_of(n), base).any(axis=1)].sum()
        for n in ("endo", "epi")
    )
    assert abs(_facet_areas(result.mesh, "base").sum()
               - _facet_areas(lv.mesh, "base").sum()) < rim_area  # fmt: skip


# --------------------------------------------------------------------------
# 3. Into the solver
# --------------------------------------------------------------------------

_MPI_SCRIPT = """
import json, sys
from organfem._dolfinx import MPI
from organfem.mechanics import Domain
from organfem.meshing import MeshData
comm = MPI.COMM_WORLD
data = MeshData.load(sys.argv[1]) if comm.rank == 0 else None
domain = Domain.from_meshdata(data, comm)
cells = domain.mesh.topology.index_map(3)
owned = comm.gather(cells.size_local, root=0)
areas = {name: domain.measure(name) for name in ("endo", "epi", "base")}
if comm.rank == 0:
    print(json.dumps({"cells": cells.size_global, "owned": owned, "areas": areas}))
"""


def test_mesh_loads_into_the_solver(lv):
    mechanics = pytest.importorskip("organfem.mechanics", reason="needs DOLFINx")
    domain = mechanics.Domain.from_meshdata(lv.mesh)
    assert domain.mesh.topology.index_map(3).size_global == lv.mesh.num_cells
    for name in ("endo", "epi", "base"):
        # The integral of 1 over flat triangles is their area (rounding only).
        assert domain.measure(name) == pytest.approx(_facet_areas(lv.mesh, name).sum(), rel=1e-12)


@pytest.mark.mpi
def test_mesh_loads_on_two_ranks(lv, tmp_path):
    pytest.importorskip("organfem.mechanics", reason="needs DOLFINx")
    beside = Path(sys.executable).parent / "mpiexec"
    mpiexec = str(beside) if beside.exists() else shutil.which("mpiexec")
    if mpiexec is None:
        pytest.skip("no mpiexec found")
    path = lv.mesh.save(tmp_path / "lv.h5")
    run = subprocess.run(
        [mpiexec, "-n", "2", sys.executable, "-c", _MPI_SCRIPT, str(path)],
        env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    # The same cells, split between both ranks; the same areas (sums of the
    # same facet integrals in another order: rounding only).
    assert out["cells"] == lv.mesh.num_cells
    assert len(out["owned"]) == 2 and min(out["owned"]) > 0
    assert sum(out["owned"]) == lv.mesh.num_cells
    for name, area in out["areas"].items():
        assert area == pytest.approx(_facet_areas(lv.mesh, name).sum(), rel=1e-12)


# --------------------------------------------------------------------------
# 4. A real segmentation: the frog
# --------------------------------------------------------------------------

# VTK frog tissue labels (pyvista.examples.load_frog_tissues, from the Whole
# Frog Project): 1 blood, 2 brain, 3 duodenum, 4 eye_retina, 5 eye_white,
# 6 heart, 7 ileum, 8 kidney, 9 l_intestine, 10 liver, 11 lung, 12 nerve,
# 13 skeleton, 14 spleen, 15 stomach.
FROG = {"blood": 1, "eye_retina": 4, "eye_white": 5, "heart": 6, "liver": 10}


@pytest.fixture(scope="module")
def frog() -> Image:
    examples = pytest.importorskip("pyvista.examples")
    tissues = examples.load_frog_tissues()  # bundled in the wheel: no download
    array = np.asarray(tissues.active_scalars).reshape(tissues.dimensions, order="F")
    return Image(array, tissues.spacing, tissues.origin)


@pytest.fixture(scope="module")
def frog_heart(frog):
    labels = {name: FROG[name] for name in ("heart", "blood", "liver")}
    return labels_mesh(frog, labels, names=["heart"], size=3.0, source="frog_tissues")


def _around(mask: np.ndarray) -> tuple[slice, ...]:
    """Index of the mask's bounding box grown by one voxel."""
    lo = np.maximum(np.argwhere(mask).min(axis=0) - 1, 0)
    hi = np.argwhere(mask).max(axis=0) + 2
    return tuple(slice(a, b) for a, b in zip(lo, hi))


def test_frog_label_convention_is_plausible(frog):
    box = _around(frog.array == FROG["heart"])
    array = frog.array[box]
    heart = array == FROG["heart"]
    # The heart: one piece (specks aside) ...
    count, sizes = label_components(heart)
    assert sizes[0] > 0.999 * heart.sum()
    # ... compact: it fills most of its convex hull (a convex organ fills it,
    # a tube such as the intestine or a nerve does not) ...
    labelled, _ = ndimage.label(heart, np.ones((3, 3, 3)))
    piece = np.argwhere(labelled == 1 + np.argmax(np.bincount(labelled.ravel())[1:]))
    hull = ConvexHull(piece * frog.spacing).volume
    assert sizes[0] * frog.voxel_volume > 0.5 * hull
    # ... and it touches the blood (label 1) across a voxel face.
    shell = ndimage.binary_dilation(heart) & ~heart
    assert np.count_nonzero(array[shell] == FROG["blood"]) > 0
    # The eyes are a pair: labels 4 and 5 each form two pieces (left and
    # right eye) equal in size within 20 %.
    for name in ("eye_retina", "eye_white"):
        eye = frog.array == FROG[name]
        count, sizes = label_components(eye[_around(eye)], connectivity=6)
        assert sizes.size >= 2 and sizes[1] > 0.8 * sizes[0]


def test_frog_heart_mesh(frog, frog_heart):
    voxels = np.count_nonzero(frog.array == FROG["heart"]) * frog.voxel_volume
    # Issue requirement: within 2 % of the label's voxel volume.
    assert frog_heart.quality.volume == pytest.approx(voxels, rel=0.02)
    assert frog_heart.quality.min_dihedral_deg > 10.0  # issue target
    assert frog_heart.mesh.cell_names == {"heart": 1}
    # Facets are named after the label outside them: the blood where the heart
    # touches it, and other touching labels or background elsewhere.
    assert "blood" in frog_heart.mesh.facet_names
    assert frog_heart.mesh.facets_of("blood").shape[0] > 0
    assert set(frog_heart.mesh.facet_names) <= {"blood", "liver", "background"}
    # Blood facets do lie next to blood voxels: one facet size from a blood
    # voxel centre at most (the surface passes between voxel centres).
    blood = np.argwhere(frog.array == FROG["blood"])
    centres = frog_heart.mesh.points[frog_heart.mesh.facets_of("blood")].mean(axis=1)
    gap = cKDTree(frog.index_to_physical(blood)).query(centres)[0]
    assert gap.max() < frog_heart.quality.max_edge + np.linalg.norm(frog.spacing)


# --------------------------------------------------------------------------
# 5. Vessels
# --------------------------------------------------------------------------

VESSEL_DIRECTION = Rotation.from_euler("xyz", [10.0, 25.0, -40.0], degrees=True).as_matrix()
VESSEL_ORIGIN = np.array([-20.0, 35.0, 100.0])
# Tapered quarter torus: centreline radius RC around the index-k axis through
# u = (0, 0, ZC) (u: mm along the index axes from voxel 0), tube radius from
# R_BIG at the j = 0 face to R_SMALL at the i = 0 face.
RC, ZC, R_BIG, R_SMALL = 30.0, 12.6, 9.0, 6.0
TORUS_SPACING, TORUS_SHAPE = (0.9, 0.9, 1.2), (50, 50, 22)


def _index_mm(shape, spacing):
    axes = [np.arange(n) * s for n, s in zip(shape, spacing)]
    return np.meshgrid(*axes, indexing="ij")


def _face_distance(image: Image, points: np.ndarray, axis: int) -> np.ndarray:
    """Distance [mm] of points from the image face at index -1/2 on ``axis``.

    That face bounds the voxels of index 0 (half a voxel beyond their centres),
    where vessel_mesh puts a cap when the label touches the image border.
    """
    return (points - image.origin) @ image.direction[:, axis] + 0.5 * image.spacing[axis]


@pytest.fixture(scope="module")
def torus() -> Image:
    u1, u2, u3 = _index_mm(TORUS_SHAPE, TORUS_SPACING)
    theta = np.arctan2(u2, u1)
    radius = R_BIG + (R_SMALL - R_BIG) * theta / (np.pi / 2)
    inside = (np.hypot(u1, u2) - RC) ** 2 + (u3 - ZC) ** 2 <= radius**2
    return Image(np.where(inside, 820, 0).astype(np.int16), TORUS_SPACING, VESSEL_ORIGIN,
                 VESSEL_DIRECTION)  # fmt: skip


@pytest.fixture(scope="module")
def torus_mesh(torus):
    return vessel_mesh(torus, {"aorta": 820}, size=2.5, source="torus")


def test_vessel_caps_where_it_leaves_the_image(torus, torus_mesh):
    mesh = torus_mesh.mesh
    assert set(mesh.facet_names) == {"wall", "inlet", "outlet_1"}
    # The larger end (radius 9 at the j = 0 face) is the inlet by default.
    assert _facet_areas(mesh, "inlet").sum() > _facet_areas(mesh, "outlet_1").sum()
    inlet = mesh.points[np.unique(mesh.facets_of("inlet"))]
    outlet = mesh.points[np.unique(mesh.facets_of("outlet_1"))]
    # Caps are flat, on the image faces (half a voxel beyond the outermost centres).
    assert np.abs(_face_distance(torus, inlet, 1)).max() < 1e-9
    assert np.abs(_face_distance(torus, outlet, 0)).max() < 1e-9
    # Cap areas: the disc pi r^2, with the radius off by the voxel sampling
    # error (half a voxel diagonal) and less a rounded rim of at most half an
    # element (triangles across the rim edge are tagged wall).
    delta = 0.5 * np.linalg.norm(TORUS_SPACING)
    for name, r in (("inlet", R_BIG), ("outlet_1", R_SMALL)):
        area = _facet_areas(mesh, name).sum()
        assert np.pi * (r - delta - 2.5 / 2) ** 2 < area < np.pi * (r + delta) ** 2
    # Volume: Pappus, int_0^{pi/2} pi r(theta)^2 RC dtheta with r linear in
    # theta, = pi RC (pi/2) (R0^2 + R0 (R1 - R0) + (R1 - R0)^2 / 3), between
    # the planes theta = 0 and pi/2 through the outermost voxel centres.  The
    # label's outermost layers reach half a voxel beyond them, to the image
    # faces where the caps are: + sum of pi r^2 s/2 over the caps; plus the 2 %
    # issue tolerance.
    d = R_SMALL - R_BIG
    pappus = np.pi * RC * (np.pi / 2) * (R_BIG**2 + R_BIG * d + d**2 / 3)
    half_layers = np.pi * (R_BIG**2 + R_SMALL**2) * TORUS_SPACING[0] / 2
    assert abs(torus_mesh.quality.volume - pappus) < 0.02 * pappus + half_layers
    assert torus_mesh.quality.min_dihedral_deg > 10.0


def test_vessel_inlet_nearest_the_given_point(torus):
    small_end = torus.index_to_physical(np.array([[0.0, RC / TORUS_SPACING[1],
                                                   ZC / TORUS_SPACING[2]]]))[0]  # fmt: skip
    result = vessel_mesh(torus, {"aorta": 820}, size=2.5, inlet=small_end, source="torus")
    inlet = result.mesh.points[np.unique(result.mesh.facets_of("inlet"))]
    outlet = result.mesh.points[np.unique(result.mesh.facets_of("outlet_1"))]
    assert np.abs(_face_distance(torus, inlet, 0)).max() < 1e-9
    assert np.abs(_face_distance(torus, outlet, 1)).max() < 1e-9


def test_vessel_cut_by_a_user_plane():
    # A straight cylinder (radius 8 mm) along k from the k = 0 face to a closed
    # end at 40 mm, cut by a plane at 30.5 mm (between voxel layers).
    spacing, shape, centre, radius = (0.8, 0.8, 1.0), (30, 30, 48), 11.6, 8.0
    u1, u2, u3 = _index_mm(shape, spacing)
    inside = ((u1 - centre) ** 2 + (u2 - centre) ** 2 <= radius**2) & (u3 <= 40.0)
    image = Image(np.where(inside, 820, 0).astype(np.int16), spacing, VESSEL_ORIGIN,
                  VESSEL_DIRECTION)  # fmt: skip
    cut = Plane(VESSEL_ORIGIN + VESSEL_DIRECTION @ [centre, centre, 30.5], VESSEL_DIRECTION[:, 2])
    result = vessel_mesh(image, {"aorta": 820}, size=2.5, caps=[cut], inlet=cut.point,
                         source="cylinder")  # fmt: skip
    mesh = result.mesh
    assert set(mesh.facet_names) == {"wall", "inlet", "outlet_1"}
    inlet = mesh.points[np.unique(mesh.facets_of("inlet"))]
    outlet = mesh.points[np.unique(mesh.facets_of("outlet_1"))]
    assert np.abs(cut.distance(inlet)).max() < 1e-9  # the user's cap
    assert np.abs(_face_distance(image, outlet, 2)).max() < 1e-9  # the image border
    # Nothing is left beyond the plane (the closed end at 40 mm is gone).
    assert cut.distance(mesh.points).max() < 1e-9
    # Length 30.5 mm: pi r^2 L, plus the half border layer counted by the label
    # volume (pi r^2 s/2) and the disc's sampling error 2 delta / r.
    delta = 0.5 * np.hypot(*spacing[:2])
    exact = np.pi * radius**2 * 30.5
    half_layer = np.pi * radius**2 * spacing[2] / 2
    assert abs(result.quality.volume - exact) < exact * 2 * delta / radius + half_layer


# --------------------------------------------------------------------------
# 6. Several labels in one mesh
# --------------------------------------------------------------------------


def test_two_labels_meshed_together(phantom):
    names = ["lv_myocardium", "lv_blood_pool"]
    result = labels_mesh(phantom.image, phantom.labels, names=names, size=SIZE, source="phantom")
    mesh = result.mesh
    assert mesh.cell_names == {"lv_myocardium": 1, "lv_blood_pool": 2}
    assert set(mesh.facet_names) == {"background"}
    volumes = mesh.cell_volumes()
    # Cells are tagged by the voxel at their centroid, so each label's volume
    # is off by the cells straddling the endocardium: a layer of area A_endo,
    # one element thick, of which at worst half lands on the wrong side,
    # A_endo h / 2 = 16 % (myocardium) and 19 % (blood pool) of the volumes.
    # On a smooth interface the two sides' errors cancel to first order, so
    # we hold each label to the 2 % volume requirement, an order of
    # magnitude inside that bound.
    endo_area = _ellipsoid_area(ENDO, BASE)
    for name in names:
        voxels = np.count_nonzero(phantom.image.array == phantom.labels[name])
        voxels *= phantom.image.voxel_volume
        tagged = volumes[mesh.cell_values == mesh.cell_names[name]].sum()
        assert tagged == pytest.approx(voxels, rel=0.02)
    assert volumes.sum() == pytest.approx(result.label_volume, rel=1e-5)


# --------------------------------------------------------------------------
# 7. Errors name the input and the problem
# --------------------------------------------------------------------------


def _ball(radius: float, shape=(32, 32, 32), spacing=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Distance [mm] of each voxel centre from the image's centre voxel position."""
    u1, u2, u3 = _index_mm(shape, spacing)
    centre = (np.array(shape) - 1) * np.array(spacing) / 2
    return np.sqrt((u1 - centre[0]) ** 2 + (u2 - centre[1]) ** 2 + (u3 - centre[2]) ** 2)


def test_read_image_names_missing_unreadable_and_truncated_files(tmp_path):
    with pytest.raises(ImageError, match=r"absent\.nii\.gz: no such file"):
        read_image(tmp_path / "absent.nii.gz")
    garbage = tmp_path / "garbage.nii.gz"
    garbage.write_bytes(b"this is not an image\n" * 20)
    with pytest.raises(ImageError, match=r"garbage\.nii\.gz: .*truncated or corrupt"):
        read_image(garbage)
    rng = np.random.default_rng(0)  # noise, so the compressed file is not tiny
    image = Image(rng.integers(0, 3, (24, 24, 24)).astype(np.uint16), (1.0, 1.0, 1.0))
    for suffix in (".nii.gz", ".nii"):
        data = write_image(image, tmp_path / f"full{suffix}").read_bytes()
        truncated = tmp_path / f"truncated{suffix}"
        truncated.write_bytes(data[: len(data) // 2])
        name = f"truncated{suffix}".replace(".", "[.]")
        with pytest.raises(ImageError, match=rf"{name}: .*truncated"):
            read_image(truncated)


def test_label_name_not_in_the_mapping(phantom):
    with pytest.raises(
        ParameterError, match=r"scan[.]nii[.]gz: .*\['lv_blood_pool'\] are not defined.*lv_myocardium"
    ):
        lv_mesh(phantom.image, {"lv_myocardium": 205}, source="scan.nii.gz")


def test_label_value_absent_from_the_image(phantom):
    labels = {"lv_myocardium": 205, "lv_blood_pool": 7}
    with pytest.raises(
        SegmentationError,
        match=r"scan\.nii\.gz: label 'lv_blood_pool' \(value 7\) is absent.*"
        r"values present: \[0, 205, 500\]",
    ):
        lv_mesh(phantom.image, labels, source="scan.nii.gz")


def test_cut_plane_that_removes_the_whole_label(phantom):
    # The normal points to the side cut away: everything above a plane 100 mm
    # below the centre (the apex is 70 mm below it).
    below_apex = Plane(phantom.centre - 100.0 * phantom.axis, phantom.axis)
    with pytest.raises(SegmentationError,
                       match=r"scan\.nii\.gz: the base plane .* \(given\) would remove 100 % of the myocardium"):  # fmt: skip
        lv_mesh(phantom.image, phantom.labels, base=below_apex, source="scan.nii.gz")


def test_fragmented_label():
    array = np.zeros((40, 20, 20), dtype=np.uint8)
    array[2:12, 5:15, 5:15] = 1  # 1000 voxels
    array[25:36, 5:15, 5:15] = 1  # 1100 voxels, 13 voxels away
    message = r"blobs\.nrrd: label 'blob' is fragmented: 2 pieces.*1100, 1000"
    with pytest.raises(SegmentationError, match=message):
        labels_mesh(Image(array, (1.0, 1.0, 1.0)), {"blob": 1}, names=["blob"], size=2.0,
                    source="blobs.nrrd")  # fmt: skip


@pytest.fixture(scope="module")
def edge_cubes() -> Image:
    """Two 6 mm cubes of one label touching only along a 6-voxel edge."""
    array = np.zeros((20, 20, 12), dtype=np.uint8)
    array[2:8, 2:8, 2:8] = 1
    array[8:14, 8:14, 2:8] = 1
    return Image(array, (1.0, 1.0, 1.0))


@pytest.fixture(scope="module")
def cubes_mesh(edge_cubes):
    return labels_mesh(edge_cubes, {"cubes": 1}, names=["cubes"], size=1.5, source="cubes.nrrd")


def test_edge_contact_is_non_manifold_unless_repaired(edge_cubes, cubes_mesh):
    with pytest.raises(MeshError, match=r"cubes\.nrrd: .*not watertight and manifold"):
        label_surface(edge_cubes, [1], repair=False, source="cubes.nrrd")
    # The repair (the default) adds one voxel per edge-contact square
    # (surface._well_composed): the contact edge is 6 voxels long, so
    # 2 x 216 + 6 voxels of 1 mm^3.
    assert cubes_mesh.label_volume == 2 * 216 + 6
    assert abs(cubes_mesh.quality.volume_error) < 1e-5
    assert cubes_mesh.quality.min_dihedral_deg > 10.0


def test_quality_thresholds_that_are_not_met(edge_cubes, cubes_mesh):
    # No tetrahedron has all dihedral angles above 70.53 deg (the regular one,
    # test below), so 80 deg fails any mesh, through the meshing call.
    with pytest.raises(MeshQualityError,
                       match=r"cubes\.nrrd: the tetrahedral mesh is not usable: minimum dihedral "
                             r"angle [\d.]+ deg < 80 deg"):  # fmt: skip
        labels_mesh(edge_cubes, {"cubes": 1}, names=["cubes"], size=1.5, source="cubes.nrrd",
                    thresholds=QualityThresholds(min_dihedral_deg=80.0))  # fmt: skip
    # Against the raw label (432 voxels), the repaired mesh holds 6 voxels
    # more, +1.39 %: a 1 % limit fails, naming the volumes and the limit.
    quality = mesh_quality(cubes_mesh.mesh, reference_volume=432.0,
                           thresholds=QualityThresholds(max_volume_error=0.01))  # fmt: skip
    assert quality.min_dihedral_deg > quality.thresholds.min_dihedral_deg  # only the volume fails
    with pytest.raises(MeshQualityError,
                       match=r"cubes\.nrrd: .*volume 438\.0 mm\^3 differs from the label volume "
                             r"432\.0 mm\^3 by \+1\.39 % \(limit 1 %\)"):  # fmt: skip
        quality.check("cubes.nrrd")


def test_blood_pool_enclosed_by_the_myocardium():
    r = _ball(0.0)
    array = np.where(r <= 8.0, 500, np.where(r <= 14.0, 205, 0)).astype(np.uint16)
    image = Image(array, (1.0, 1.0, 1.0))
    match = (r"closed\.nii\.gz: the blood pool 'lv_blood_pool' is enclosed by the myocardium "
             r"'lv_myocardium' and no atrium or aorta label .* touches it: no valve openings")
    with pytest.raises(SegmentationError, match=match):
        valve_plane(image, MMWHS_LV, myocardium="lv_myocardium", blood_pool="lv_blood_pool",
                    source="closed.nii.gz")  # fmt: skip
    with pytest.raises(SegmentationError, match=match):
        lv_mesh(image, MMWHS_LV, source="closed.nii.gz")


def test_vessel_without_caps():
    array = np.where(_ball(0.0) <= 8.0, 820, 0).astype(np.int16)
    with pytest.raises(SegmentationError,
                       match=r"ball\.nrrd: vessel 'aorta' has 0 flat cap\(s\)"):  # fmt: skip
        vessel_mesh(Image(array, (1.0, 1.0, 1.0)), {"aorta": 820}, size=2.5, source="ball.nrrd")


# --------------------------------------------------------------------------
# 8. fTetWild
# --------------------------------------------------------------------------


def test_ftetwild_fills_a_sphere():
    radius = 10.0
    image = Image((_ball(0.0) <= radius).astype(np.uint8), (1.0, 1.0, 1.0), (5.0, -3.0, 2.0))
    surface = preserve_volume(remesh_surface(preserve_volume(label_surface(image, [1])), 4.0))
    # The surface encloses the voxel volume (preserve_volume to < 1e-6), which
    # for a ball of radius 10 voxels is 4/3 pi r^3 within the lattice-counting
    # error (a few boundary voxels' worth: 1 %).
    assert surface.volume == pytest.approx(surface.target_volume, rel=1e-6)
    assert surface.volume == pytest.approx(4 / 3 * np.pi * radius**3, rel=0.01)
    points, tets = tetrahedralize(surface, 4.0, mesher="ftetwild")  # ~2 s here
    measures = tet_measures(points, tets)
    assert np.all(measures["volume"] > 0)  # positively oriented
    # fTetWild keeps the boundary within its envelope (1e-3 of the bounding-box
    # diagonal, 0.035 mm here): area x envelope = 1 % of the volume at most;
    # the 2 % is met.
    assert measures["volume"].sum() == pytest.approx(surface.volume, rel=0.02)
    # Its points stay in that envelope: inside the ball's bounding box + 0.1 mm.
    lo, hi = surface.points.min(axis=0), surface.points.max(axis=0)
    assert np.all(points > lo - 0.1) and np.all(points < hi + 0.1)


# --------------------------------------------------------------------------
# 9. Quality measures in closed form
# --------------------------------------------------------------------------


def _single(points) -> MeshData:
    return MeshData(points=np.asarray(points, dtype=float), cells=[[0, 1, 2, 3]],
                    cell_type="tetrahedron", facets=np.zeros((0, 3), dtype=np.int64),
                    facet_values=np.zeros(0, dtype=np.int32), facet_names={})  # fmt: skip


def test_quality_of_the_regular_tetrahedron():
    # Alternate cube corners (edge 2 sqrt 2), ordered for a positive volume.
    regular = _single([[1, 1, 1], [-1, 1, -1], [1, -1, -1], [-1, -1, 1]])
    quality = mesh_quality(regular, reference_volume=8.0 / 3.0)
    # Every dihedral angle is arccos(1/3) = 70.5288 deg; r_in / R_circ = 1/3,
    # so 3 r_in / R_circ = 1; V = a^3 / (6 sqrt 2) = 8/3 for a = 2 sqrt 2.
    assert quality.min_dihedral_deg == pytest.approx(np.degrees(np.arccos(1 / 3)), abs=1e-9)
    assert quality.max_dihedral_deg == pytest.approx(np.degrees(np.arccos(1 / 3)), abs=1e-9)
    assert quality.radius_ratio_percentiles["0"] == pytest.approx(1.0, abs=1e-12)
    assert quality.volume == pytest.approx(8.0 / 3.0, rel=1e-12)
    assert quality.min_edge == pytest.approx(2 * np.sqrt(2)) == quality.max_edge
    assert quality.volume_error == pytest.approx(0.0, abs=1e-12)
    assert quality.inverted == 0 and quality.slivers == 0 and quality.problems() == []


def test_quality_of_the_corner_tetrahedron():
    # The corner of the unit cube: 90 deg at the three axis edges and
    # arccos(1/sqrt 3) = 54.74 deg at the slanted face; r_in = 1/(3 + sqrt 3),
    # R_circ = sqrt(3)/2, so 3 r_in / R_circ = sqrt 3 - 1; V = 1/6.
    corner = mesh_quality(_single([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]))
    assert corner.min_dihedral_deg == pytest.approx(np.degrees(np.arccos(1 / np.sqrt(3))))
    assert corner.max_dihedral_deg == pytest.approx(90.0)
    assert corner.radius_ratio_percentiles["0"] == pytest.approx(np.sqrt(3) - 1)
    assert corner.volume == pytest.approx(1 / 6)
    assert corner.volume_error is None

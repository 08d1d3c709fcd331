"""Aortic-root wall meshes from a label map and a CT (organfem.meshing.root_from_image).

The phantom, built in a frame tilted against the voxel grid so that the
annulus is a staircase of voxel faces: a tube of radius R along the local z
axis, labelled aorta above z = 0 and LV blood pool below, opening into a
spherical LV cavity; an RV blood-pool ball on the local +x side; a CT with
blood at 300 HU and one calcium nodule (1000 HU) in the wall at the annulus
rim.  Every number below is in mm, HU or degrees.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from organfem.errors import ParameterError, SegmentationError
from organfem.imaging import Image
from organfem.meshing import Plane
from organfem.meshing.root_from_image import (
    CALCIUM_THRESHOLD_HU,
    aortic_root_mesh,
    annulus_plane,
)

LABELS = {"aorta": 820, "lv_blood_pool": 500, "rv_blood_pool": 600}
R = 12.0  # lumen radius of the root [mm]
SPACING = np.array([1.0, 1.0, 1.0])
ORIGIN = np.array([-45.0, -38.0, -62.0])
SHAPE = (108, 77, 113)
# The root's frame: columns are the local x, y, z axes in LPS (z: root axis).
FRAME = Rotation.from_rotvec(np.radians(12.0) * np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
                             ).as_matrix()
CENTRE = np.array([0.3, -0.2, 0.4])  # annulus centre [mm], off the voxel lattice
NODULE, NODULE_RADIUS = np.array([0.0, -13.5, 1.0]), 2.0  # local [mm]
OSTIA = {"left": np.array([0.0, -13.0, 12.0]), "right": np.array([0.0, 13.0, 12.0])}
WALL, ASCENDING, LVOT = 2.0, 30.0, 12.0  # the defaults [mm]
SIZE = 1.5
HALF_DIAGONAL = 0.5 * float(np.linalg.norm(SPACING))


def _lps(local: np.ndarray) -> np.ndarray:
    return CENTRE + np.asarray(local, dtype=float) @ FRAME.T


def _local(points: np.ndarray) -> np.ndarray:
    return (np.asarray(points, dtype=float) - CENTRE) @ FRAME


def _phantom(gap: float = 0.0) -> tuple[Image, Image]:
    index = np.stack(np.meshgrid(*[np.arange(n) for n in SHAPE], indexing="ij"), -1)
    u = _local(ORIGIN + index.reshape(-1, 3) * SPACING).reshape(*SHAPE, 3)
    x, y, z = u[..., 0], u[..., 1], u[..., 2]
    r = np.hypot(x, y)
    labels = np.zeros(SHAPE, dtype=np.int16)
    labels[(r <= R) & (z > gap) & (z < 48.0)] = LABELS["aorta"]
    labels[(r <= R) & (z <= 0) & (z > -18.0)] = LABELS["lv_blood_pool"]
    labels[x**2 + y**2 + (z + 40.0) ** 2 <= 25.0**2] = LABELS["lv_blood_pool"]
    labels[(x - 45.0) ** 2 + y**2 + (z + 20.0) ** 2 <= 9.0**2] = LABELS["rv_blood_pool"]
    ct = np.where(labels > 0, 300, 0).astype(np.int16)
    ct[np.linalg.norm(u - NODULE, axis=-1) <= NODULE_RADIUS] = 1000
    return Image(labels, SPACING, ORIGIN), Image(ct, SPACING, ORIGIN)


@pytest.fixture(scope="module")
def phantom() -> tuple[Image, Image]:
    return _phantom()


@pytest.fixture(scope="module")
def root(phantom):
    labels, ct = phantom
    return aortic_root_mesh(labels, LABELS, ct=ct, size=SIZE, left_ostium=_lps(OSTIA["left"]),
                            right_ostium=_lps(OSTIA["right"]), source="phantom")


def _facet_centres(mesh, name):
    return mesh.points[mesh.facets_of(name)].mean(axis=1)


def _facet_areas(mesh, name):
    x = mesh.points[mesh.facets_of(name)]
    return 0.5 * np.linalg.norm(np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), axis=1)


def test_tags_follow_the_root_contract(root):
    mesh = root.mesh
    assert set(mesh.facet_names) == {"lumen", "outer", "inlet", "outlet", "septal_band",
                                     "left_ostium", "right_ostium"}
    assert set(mesh.cell_names) == {"aortic_wall", "lvot", "calcium"}
    assert mesh.fibres is not None and mesh.fibres.shape == (mesh.num_cells, 3, 3)
    # Fibres: circumferential, axial, radial about the found root axis.
    axis, centre = root.annulus.normal, root.annulus.point
    y = mesh.points[mesh.cells].mean(axis=1) - centre
    radial = y - np.outer(y @ axis, axis)
    radial /= np.linalg.norm(radial, axis=1)[:, None]
    f0, s0, n0 = (mesh.fibres[:, k] for k in range(3))
    assert np.abs(s0 @ axis - 1).max() < 1e-9
    assert np.abs(np.einsum("ij,ij->i", n0, radial) - 1).max() < 1e-9
    assert np.abs(np.einsum("ij,ij->i", f0, radial)).max() < 1e-9
    centres = _local(mesh.points[mesh.cells].mean(axis=1))
    # Cells below the annulus are LVOT, above aortic wall (calcium aside).
    z = centres[:, 2]
    lvot = mesh.cell_values == mesh.cell_tag("lvot")
    wall = mesh.cell_values == mesh.cell_tag("aortic_wall")
    assert (z[lvot] < 0.1).all() and (z[wall] > -0.1).all()
    # Inlet and outlet are flat cuts LVOT and ASCENDING from the annulus.
    for name, height in (("inlet", -LVOT), ("outlet", ASCENDING)):
        local = _local(mesh.points[np.unique(mesh.facets_of(name))])
        assert np.abs(local[:, 2] - height).max() < 0.1, name
    # Lumen facets lie near radius R, outer ones near R + the wall.
    for name, radius in (("lumen", R), ("outer", R + WALL)):
        c = _local(_facet_centres(mesh, name))
        side = (c[:, 2] > -LVOT + 2) & (c[:, 2] < ASCENDING - 2)
        away = np.linalg.norm(c - _local(_lps(NODULE))[None], axis=1) > 2 * NODULE_RADIUS + 2
        r = np.hypot(c[side & away, 0], c[side & away, 1])
        assert np.abs(np.median(r) - radius) < 0.5, name
        assert np.abs(r - radius).max() < 2.0, name


def test_annulus_plane_is_recovered(phantom, root):
    labels, _ = phantom
    plane = annulus_plane(labels, LABELS)
    for found in (plane, root.annulus):
        # Normal towards the aorta, within a few degrees of the truth; centre
        # within a voxel of the truth.
        angle = np.degrees(np.arccos(np.clip(found.normal @ FRAME[:, 2], -1, 1)))
        assert angle < 2.0
        assert np.linalg.norm(found.point - CENTRE) < 1.0
    # The area of the staircase projected on the plane gives the annulus radius.
    assert abs(root.annulus_radius - R) < HALF_DIAGONAL


def test_calcium_cells_lie_at_the_nodule(root):
    mesh = root.mesh
    calcium = mesh.cell_values == mesh.cell_tag("calcium")
    centres = mesh.points[mesh.cells[calcium]].mean(axis=1)
    gap = np.linalg.norm(centres - _lps(NODULE), axis=1)
    assert gap.max() < NODULE_RADIUS + HALF_DIAGONAL
    # Nearly the nodule's volume outside the lumen is tagged calcium.
    volume = mesh.cell_volumes()[calcium].sum()
    assert 0.4 * (4 / 3) * np.pi * NODULE_RADIUS**3 < volume < (4 / 3) * np.pi * (
        NODULE_RADIUS + HALF_DIAGONAL) ** 3
    assert root.calcium_threshold == CALCIUM_THRESHOLD_HU == 850.0
    assert abs(root.lumen_hu - 300) < 1


def test_septal_band_faces_the_right_ventricle(root):
    mesh = root.mesh
    c = _local(_facet_centres(mesh, "septal_band"))
    assert (c[:, 2] <= 0.5).all() and (c[:, 2] >= -10.5).all()
    angle = np.degrees(np.arctan2(c[:, 1], c[:, 0]))
    # Band of 50 deg centred on the RV (local +x), within an element's slack.
    assert np.abs(angle).max() < 25.0 + np.degrees(SIZE / R)
    assert np.abs(np.degrees(np.arctan2(*(FRAME.T @ root.septal_direction)[[1, 0]]))) < 2.0
    # Its area: the band 50/360 of the LVOT wall over 10 mm.
    area = _facet_areas(mesh, "septal_band").sum()
    assert abs(area / (2 * np.pi * R * 10.0 * 50 / 360) - 1) < 0.25


def test_ostia_patches_surround_the_given_points(root):
    mesh = root.mesh
    for side, point in OSTIA.items():
        c = _facet_centres(mesh, f"{side}_ostium")
        assert np.linalg.norm(c - root.ostia[side], axis=1).max() <= 2.0 + 1e-9
        assert np.linalg.norm(root.ostia[side] - _lps(point)) < 2.0


def test_lumen_area_is_that_of_the_cylinder(root):
    mesh = root.mesh
    area = sum(_facet_areas(mesh, n).sum()
               for n in ("lumen", "septal_band", "left_ostium", "right_ostium"))
    exact = 2 * np.pi * R * (ASCENDING + LVOT)
    # Voxel sampling moves the surface by up to half a voxel diagonal; the
    # nodule sits in the wall, not the lumen.
    assert abs(area / exact - 1) < HALF_DIAGONAL / R


def test_summary_says_what_was_found(root):
    text = root.summary()
    assert "ostia: left" in text and "850 HU" in text and "rv_blood_pool" in text


def test_without_ct_or_ostia_there_is_no_calcium_or_ostium_tag(phantom):
    labels, _ = phantom
    made = aortic_root_mesh(labels, LABELS, size=2.0, wall_thickness=2.0,
                            annulus=Plane(_lps([0, 0, 0]), FRAME[:, 2]),
                            septum=_lps([20.0, 0.0, 0.0]))
    assert set(made.mesh.facet_names) == {"lumen", "outer", "inlet", "outlet", "septal_band"}
    assert set(made.mesh.cell_names) == {"aortic_wall", "lvot"}
    assert made.annulus_method == "given"
    assert "not given" in made.summary() and "no CT" in made.summary()


def test_missing_labels_are_named(phantom):
    labels, _ = phantom
    with pytest.raises(ParameterError, match="aorta"):
        aortic_root_mesh(labels, {"lv_blood_pool": 500})
    with pytest.raises(SegmentationError, match="aorta"):
        aortic_root_mesh(labels, {**LABELS, "aorta": 7})


def test_no_contact_without_a_plane_says_to_give_one():
    labels, _ = _phantom(gap=3.0)
    with pytest.raises(SegmentationError, match="annulus=Plane"):
        aortic_root_mesh(labels, LABELS)
    with pytest.raises(SegmentationError, match="annulus=Plane"):
        annulus_plane(labels, LABELS)


@pytest.mark.parametrize("threshold", [-100.0, float("nan"), 5000.0, 200.0, "high"])
def test_calcium_threshold_nonsense_is_refused(phantom, threshold):
    labels, ct = phantom
    with pytest.raises(ParameterError, match="calcium_threshold"):
        aortic_root_mesh(labels, LABELS, ct=ct, calcium_threshold=threshold)


def test_other_bad_input_is_refused(phantom):
    labels, ct = phantom
    no_rv = {k: v for k, v in LABELS.items() if k != "rv_blood_pool"}
    with pytest.raises(ParameterError, match="septum="):
        aortic_root_mesh(labels, no_rv)
    with pytest.raises(ParameterError, match="grid"):
        aortic_root_mesh(labels, LABELS, ct=Image(np.asarray(ct.array)[:-1], SPACING, ORIGIN))
    with pytest.raises(ParameterError, match="wall_thickness"):
        aortic_root_mesh(labels, LABELS, wall_thickness=0.5)
    with pytest.raises(ParameterError, match="lvot_length"):
        aortic_root_mesh(labels, LABELS, lvot_length=-1)
    with pytest.raises(ParameterError, match="left_ostium"):
        aortic_root_mesh(labels, LABELS, size=2.0, left_ostium=_lps([0.0, 0.0, 12.0]))


def test_whole_heart_phantom_root():
    """The root of the whole-heart phantom (oblique heart, anisotropic voxels):
    annulus in its valve plane, septal band towards the septum (-x of its
    frame), and an outlet moved below the end of its short aorta."""
    from organfem.imaging.phantoms import heart_phantom

    heart = heart_phantom((160, 160, 120), spacing=(1.2, 1.2, 1.3), noise=False, gaps=False,
                          thin_wall=False)
    made = aortic_root_mesh(heart.image, heart.labels, size=2.0, wall_thickness=2.6,
                            ascending_length=45.0, source="heart phantom")
    voxel = float(np.max(heart.image.spacing))
    angle = np.degrees(np.arccos(np.clip(made.annulus.normal @ heart.valve_normal, -1, 1)))
    assert angle < 2.0
    assert abs((made.annulus.point - heart.valve_point) @ heart.valve_normal) < voxel
    assert abs(made.annulus_radius - 11.5) < 0.5 * float(np.linalg.norm(heart.image.spacing))
    assert made.septal_direction @ -heart.frame[:, 0] > np.cos(np.radians(15.0))
    # The aorta bends and ends in an oblique flat cut whose lowest edge lies
    # about 36 mm above the annulus: the outlet moves below it (by the wall
    # and a voxel) and cuts the full lumen, not the closed end.
    assert 28.0 < made.ascending_length < 40.0
    assert "outlet cut" in made.summary()
    outlet = made.mesh.points[np.unique(made.mesh.facets_of("outlet"))]
    assert np.abs(made.annulus.distance(outlet) - made.ascending_length).max() < 1e-6
    assert {"lumen", "outer", "inlet", "outlet", "septal_band"} == set(made.mesh.facet_names)


def test_root_landmarks_reads_the_image_root(root):
    """The parametric root's landmark reader finds the annulus of this mesh."""
    from organfem.meshing.aortic_root import ROOT_CELL_TAGS, ROOT_FACET_TAGS, root_landmarks

    assert all(ROOT_FACET_TAGS[n] == v for n, v in root.mesh.facet_names.items())
    assert all(ROOT_CELL_TAGS[n] == v for n, v in root.mesh.cell_names.items())
    marks = root_landmarks(root.mesh)
    assert abs(abs(marks.axis @ FRAME[:, 2]) - 1) < 1e-3
    assert np.linalg.norm(marks.annulus_centre - CENTRE) < 1.5
    assert abs(marks.annulus_area_diameter - 2 * R) < 2 * HALF_DIAGONAL + SIZE


def test_command_line_meshes_a_root_that_tavi_reads(phantom, tmp_path):
    # `organfem mesh --anatomy aortic-root` from files under a patient-like
    # name: the mesh has the contract's tags and the landmarks of the phantom,
    # and neither the output nor the printout names the files.
    from organfem.cli import main
    from organfem.imaging import write_image
    from organfem.meshing import MeshData, root_landmarks

    labels, ct = phantom
    write_image(labels, tmp_path / "DOE_JOHN_labels.nii.gz")
    write_image(ct, tmp_path / "DOE_JOHN_ct.nii.gz")
    out = tmp_path / "root.h5"
    left, right = (",".join(f"{v:.3f}" for v in _lps(OSTIA[k])) for k in ("left", "right"))
    code = main(["mesh", str(tmp_path / "DOE_JOHN_labels.nii.gz"), "--anatomy", "aortic-root",
                 "--labels", ",".join(f"{k}={v}" for k, v in LABELS.items()),
                 "--ct", str(tmp_path / "DOE_JOHN_ct.nii.gz"), "--size", f"{SIZE} mm",
                 "--left-ostium", left, "--right-ostium", right, "--out", str(out)])
    assert code == 0
    mesh = MeshData.load(out)
    assert {"lumen", "septal_band", "left_ostium", "right_ostium", "outer", "inlet", "outlet"} <= set(mesh.facet_names)
    assert {"lvot", "aortic_wall", "calcium"} <= set(mesh.cell_names)
    landmarks = root_landmarks(mesh)
    assert np.linalg.norm(landmarks.annulus_centre - _lps(np.zeros(3))) < 1.0
    assert b"DOE" not in out.read_bytes()

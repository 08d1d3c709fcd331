"""`organfem mesh`, `organfem render mesh.h5` and solvers/image_to_lv_inflation.py."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from organfem.cli import main
from organfem.imaging import write_image
from organfem.imaging.phantoms import lv_phantom, truncated_ellipsoid_volume
from organfem.io import read_results, sha256_folder
from organfem.meshing import MeshData

OBLIQUE = Rotation.from_euler("xyz", [20, -30, 45], degrees=True).as_matrix()


@pytest.fixture(scope="module")
def label_file(tmp_path_factory) -> Path:
    phantom = lv_phantom((72, 72, 72), spacing=(1.9, 1.7, 2.1), direction=OBLIQUE,
                         axis=(0.3, 0.2, 1.0))
    path = tmp_path_factory.mktemp("image") / "lv_labels.nii.gz"
    write_image(phantom.image, path)
    return path


@pytest.fixture(scope="module")
def meshed(label_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("mesh")
    argv = ["mesh", str(label_file), "--labels", "mmwhs", "--size", "5 mm",
            "--out", str(out / "lv.h5"), "--report", str(out / "quality.json"),
            "--xdmf", str(out / "lv_dolfinx.xdmf")]  # fmt: skip
    assert main(argv) == 0
    return out


def test_mesh_command_writes_tags_fibres_and_report(meshed, capsys):
    mesh = MeshData.load(meshed / "lv.h5")
    assert set(mesh.facet_names) == {"endo", "epi", "base"}
    assert mesh.fibres is not None and mesh.fibres.shape == (mesh.num_cells, 3, 3)
    report = json.loads((meshed / "quality.json").read_text())
    assert report["num_cells"] == mesh.num_cells
    # The mesh keeps the label's voxel volume (preserve_volume restores it to
    # 1e-6; the tetrahedra fill the surface exactly).
    assert abs(report["volume_error"]) < 1e-4
    assert report["min_dihedral_deg"] >= 5.0  # the command's default threshold


def test_mesh_command_writes_xdmf_that_dolfinx_reads(meshed):
    from organfem._dolfinx import MPI, dolfinx

    mesh = MeshData.load(meshed / "lv.h5")
    with dolfinx.io.XDMFFile(MPI.COMM_SELF, str(meshed / "lv_dolfinx.xdmf"), "r") as xdmf:
        domain = xdmf.read_mesh(name="mesh")
        domain.topology.create_connectivity(2, 3)
        facets = xdmf.read_meshtags(domain, "facet_tags")
        names = dict(item.split("=") for item in xdmf.read_information("facet_names").split(","))
    assert domain.topology.index_map(3).size_global == mesh.num_cells
    for name, value in names.items():
        assert np.count_nonzero(facets.values == int(value)) == len(mesh.facets_of(name))


def test_render_command_shows_a_mesh_file(meshed):
    assert main(["render", str(meshed / "lv.h5")]) == 0
    assert (meshed / "lv.png").stat().st_size > 10_000
    png = meshed / "fibres.png"
    assert main(["render", str(meshed / "lv.h5"), "--show", "fibres", "--clip",
                 "--out", str(png)]) == 0  # fmt: skip
    assert png.stat().st_size > 10_000


def test_mesh_command_refuses_an_xdmf_that_would_overwrite_the_mesh(label_file, tmp_path,
                                                                   caplog):
    argv = ["mesh", str(label_file), "--out", str(tmp_path / "lv.h5"),
            "--xdmf", str(tmp_path / "lv.xdmf")]  # fmt: skip
    assert main(argv) == 1
    assert "another name" in caplog.text and not (tmp_path / "lv.h5").exists()


def test_mesh_command_reports_bad_input(tmp_path, caplog):
    garbage = tmp_path / "scan.nii.gz"
    garbage.write_bytes(b"not an image at all")
    assert main(["mesh", str(garbage), "--out", str(tmp_path / "m.h5")]) == 1
    # Named by role and hash, never by its path or name (which may identify the patient).
    assert "label map sha256:" in caplog.text and "truncated or corrupt" in caplog.text
    assert "scan.nii" not in caplog.text
    assert not (tmp_path / "m.h5").exists()


def test_mesh_command_names_a_missing_label(label_file, tmp_path, caplog):
    argv = ["mesh", str(label_file), "--labels", "lv_myocardium=205,lv_blood_pool=7",
            "--out", str(tmp_path / "m.h5")]  # fmt: skip
    assert main(argv) == 1
    assert "lv_blood_pool" in caplog.text and "205" in caplog.text


def test_image_to_lv_inflation_scenario(tmp_path):
    out = tmp_path / "run"
    argv = ["run", "image-to-lv-inflation", "--out", str(out), "--mesh-size", "8 mm",
            "--steps", "3"]  # fmt: skip
    assert main(argv) == 0
    results = read_results(out / "image_lv.vtkhdf")
    pressure = results.scalars["pressure_kPa"]
    volume = results.scalars["cavity_volume_mm3"]
    assert pressure[0] == 0.0 and pressure[-1] == pytest.approx(2.0)
    assert np.all(np.diff(volume) > 0)  # passive inflation
    # The unloaded cavity (step 0): a 25/60 mm ellipsoid cut 10 mm above its
    # centre, 97 993 mm^3 (phantoms.truncated_ellipsoid_volume).  The mesher
    # restores the cavity to the blood pool's voxel volume below the fitted
    # base plane, which differs from the exact volume only by voxelisation
    # (+0.07 % for this 72^3 phantom, measured); 1 % bounds it.
    exact = truncated_ellipsoid_volume(25.0, 60.0, 10.0)
    assert volume[0] == pytest.approx(exact, rel=0.01)
    # Holzapfel-Ogden myocardium at 2 kPa: the cavity grows, by less than 2x.
    assert volume[0] < volume[-1] < 2 * volume[0]
    assert {"displacement", "fibre_stress", "fibre"} <= set(results.mesh().array_names)
    for png in ("tags.png", "fibres.png", "image_lv.png"):
        assert (out / png).stat().st_size > 10_000


# -- the user's own inputs, never named --------------------------------------------

#: What a file or folder of a patient's data may be called, and what its DICOM
#: header holds: none of it may reach a results file, a mesh, stdout or a log.
PATIENT = "DOE_JOHN_19600101"
IDENTIFIERS = (PATIENT, "DOE_JOHN", "DOE^JOHN", "19600101")


def _leaks(out: Path, *texts: str) -> list[str]:
    """Where an identifier appears: in ``texts`` or in any file under ``out``."""
    found = [f"output {k}: {name}" for k, text in enumerate(texts) for name in IDENTIFIERS
             if name in text]
    for path in out.rglob("*"):
        data = path.read_bytes() if path.is_file() else b""
        found += [f"{path.relative_to(out)}: {name}" for name in IDENTIFIERS
                  if name in str(path.relative_to(out)) or name.encode() in data]
    return found


def _cavity_volume(mesh: MeshData) -> float:
    """Volume [mm^3] enclosed by the endocardium and the (flat) base: the sum
    of the cones from a base vertex to the endocardial triangles (the base
    adds none, its triangles lie in the plane through the apex of the cones)."""
    opposite = {}
    for cell in mesh.cells:
        for k in range(4):
            opposite[tuple(sorted(np.delete(cell, k)))] = cell[k]
    c = mesh.points[mesh.facets_of("base")[0, 0]]
    total = 0.0
    for facet in mesh.facets_of("endo"):
        a, b, d = mesh.points[facet] - c
        o = mesh.points[opposite[tuple(sorted(facet))]] - c
        cone = np.linalg.det([a, b, d]) / 6.0
        # Oriented with the normal out of the wall (away from the cell's
        # fourth vertex), i.e. into the cavity: the cone counts negatively.
        total -= cone if np.cross(b - a, d - a) @ (o - a) < 0 else -cone
    return total


@pytest.fixture(scope="module")
def patient_mesh(label_file, tmp_path_factory) -> Path:
    """A coarse LV mesh made by `organfem mesh`, in a file named after a (fake) patient."""
    path = tmp_path_factory.mktemp("patient") / f"{PATIENT}.h5"
    assert main(["mesh", str(label_file), "--size", "8 mm", "--out", str(path)]) == 0
    return path


@pytest.mark.slow
def test_image_scenario_runs_on_a_users_mesh_and_never_names_it(patient_mesh, tmp_path,
                                                                capsys, caplog):
    capsys.readouterr()
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "run"
    argv = ["run", "image-to-lv-inflation", "--mesh", str(patient_mesh), "--out", str(out),
            "--steps", "1", "--no-render"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "mesh sha256:" in captured.out  # the mesh is named by its hash
    results = read_results(out / "image_lv.vtkhdf")
    assert results.input_hashes == {"mesh": hashlib.sha256(patient_mesh.read_bytes()).hexdigest()}
    assert results.parameters["input"] == "user mesh"
    volume = results.scalars["cavity_volume_mm3"]
    assert results.scalars["pressure_kPa"][-1] == pytest.approx(2.0)
    assert np.all(np.diff(volume) > 0)
    # The cavity is closed by the plane of the mesh's base facets.
    assert volume[0] == pytest.approx(_cavity_volume(MeshData.load(patient_mesh)), rel=1e-9)
    assert not _leaks(out, captured.out, captured.err, caplog.text)

    # The same command again: the run had finished, nothing to do or to lose.
    assert main(argv) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert read_results(out / "image_lv.vtkhdf").times.tolist() == results.times.tolist()


@pytest.mark.slow
def test_image_scenario_reads_a_dicom_folder_and_never_names_it(tmp_path, capsys, caplog,
                                                                write_dicom_label_series):
    pytest.importorskip("pydicom")
    caplog.set_level(logging.DEBUG)
    folder = tmp_path / PATIENT  # a folder named after the patient, as they often are
    write_dicom_label_series(lv_phantom((48, 48, 48)).image, folder,
                             {"PatientName": "DOE^JOHN", "PatientID": "19600101"})
    out = tmp_path / "run"
    argv = ["run", "image-to-lv-inflation", "--image", str(folder), "--out", str(out),
            "--mesh-size", "8 mm", "--steps", "1", "--no-render"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "label map sha256:" in captured.out
    results = read_results(out / "image_lv.vtkhdf")
    assert results.input_hashes == {"dicom_series": sha256_folder(folder)}
    assert results.parameters["input"] == "user label map (DICOM series)"
    assert results.scalars["pressure_kPa"][-1] == pytest.approx(2.0)
    assert MeshData.load(out / "mesh.h5").fibres is not None
    assert not _leaks(out, captured.out, captured.err, caplog.text)

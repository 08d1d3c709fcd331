"""Results files: values, layout, provenance, atomicity, resume, errors, serial vs mpirun.

Every expected value is a closed form: the fields are linear in x, so their P1
interpolant at the vertices (point data) and their DG0 interpolant at the cell
centroid (cell data) are the analytic values exactly, up to round-off.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import pyvista as pv

from organfem._dolfinx import MPI, basix, dolfinx, ufl
from organfem.errors import MeshError, ParameterError
from organfem.io import VTKHDF_VERSION, ResultsWriter, read_results

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("mpi_io_check", REPO / "tests" / "mpi_io_check.py")
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

# The example box [0,3] x [0,2] x [0,2] split into 3 x 2 x 2 hexahedra of 6
# tetrahedra each: 4 * 3 * 3 = 36 vertices and 6 * 12 = 72 cells.
NUM_POINTS, NUM_CELLS = 36, 72


def _run_example(*args: str, ranks: int = 0) -> subprocess.CompletedProcess[str]:
    """Run ``tests/mpi_io_check.py`` with ``args`` in a new process, under mpiexec if ``ranks``."""
    command = [sys.executable, str(REPO / "tests" / "mpi_io_check.py"), *args]
    if ranks:
        # The mpiexec beside the interpreter (the wheel's MPICH in .venv/bin), else PATH's.
        beside = Path(sys.executable).parent / "mpiexec"
        mpiexec = str(beside) if beside.exists() else shutil.which("mpiexec")
        if mpiexec is None:
            pytest.skip("no mpiexec found")
        command = [mpiexec, "-n", str(ranks), *command]
    return subprocess.run(
        command,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def serial_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("serial") / "results.vtkhdf"
    example.write_example(path, MPI.COMM_WORLD)
    return path


def _cell_centroids(grid: pv.UnstructuredGrid) -> np.ndarray:
    return grid.points[grid.cells_dict[pv.CellType.TETRA]].mean(axis=1)


def _assert_closed_form(results, times) -> None:
    """The fields, scalars and static region of each step equal the example's closed forms."""
    np.testing.assert_array_equal(results.times, times)
    np.testing.assert_allclose(
        results.scalars["pressure"], [example.pressure(t) for t in times], rtol=0, atol=0
    )
    for step, t in enumerate(times):
        grid = results.mesh(step)
        assert (grid.n_points, grid.n_cells) == (NUM_POINTS, NUM_CELLS)
        expected_u = example.displacement(t, grid.points.T).T
        np.testing.assert_allclose(grid.point_data["displacement"], expected_u, rtol=0, atol=1e-14)
        centroids = _cell_centroids(grid)
        np.testing.assert_allclose(grid.cell_data["cell_x"], t * centroids[:, 0], atol=1e-14)
        region = np.where(centroids[:, 0] < 1.5, 1, 2)
        np.testing.assert_array_equal(grid.cell_data["region"], region)
        assert grid.field_data["pressure"][0] == example.pressure(t)


def test_point_and_cell_data_equal_closed_form_at_each_step(serial_file: Path) -> None:
    results = read_results(serial_file)
    _assert_closed_form(results, example.TIMES)
    # Negative steps count from the end.
    np.testing.assert_array_equal(
        results.mesh(-1).point_data["displacement"], results.mesh(1).point_data["displacement"]
    )


def test_pyvista_reads_the_file_directly(serial_file: Path) -> None:
    grid = pv.read(serial_file)  # first step
    assert isinstance(grid, pv.UnstructuredGrid)
    assert (grid.n_points, grid.n_cells) == (NUM_POINTS, NUM_CELLS)
    t0 = example.TIMES[0]
    np.testing.assert_allclose(
        grid.point_data["displacement"], example.displacement(t0, grid.points.T).T, atol=1e-14
    )
    reader = pv.get_reader(serial_file)
    reader.reader.UpdateTimeStep(example.TIMES[1])
    last = pv.wrap(reader.reader.GetOutput())
    np.testing.assert_allclose(
        last.point_data["displacement"],
        example.displacement(example.TIMES[1], last.points.T).T,
        atol=1e-14,
    )


def test_vtkhdf_layout(serial_file: Path) -> None:
    with h5py.File(serial_file, "r") as file:
        root = file["VTKHDF"]
        assert tuple(root.attrs["Version"]) == VTKHDF_VERSION
        assert root.attrs["Type"] == b"UnstructuredGrid"
        assert root["NumberOfPoints"][()].tolist() == [NUM_POINTS]
        assert root["NumberOfCells"][()].tolist() == [NUM_CELLS]
        assert root["NumberOfConnectivityIds"][()].tolist() == [4 * NUM_CELLS]
        assert set(root["Types"][()]) == {10}  # VTK_TETRA
        steps = root["Steps"]
        assert steps.attrs["NSteps"] == 2
        assert steps["NumberOfParts"][()].tolist() == [1, 1]
        # Temporal arrays advance by one mesh's worth per step, static ones stay at 0.
        assert steps["PointDataOffsets/displacement"][()].tolist() == [0, NUM_POINTS]
        assert steps["CellDataOffsets/cell_x"][()].tolist() == [0, NUM_CELLS]
        assert steps["CellDataOffsets/region"][()].tolist() == [0, 0]
        assert root["PointData/displacement"].shape == (2 * NUM_POINTS, 3)
        assert root["CellData/region"].shape == (NUM_CELLS,)


def test_hexahedra_in_vtk_order_and_tensors_row_major(tmp_path: Path) -> None:
    # DOLFINx numbers hexahedron vertices in tensor-product order and VTK
    # counter-clockwise per face; a wrong permutation gives twisted cells of
    # non-positive or wrong volume.  The box volume is 1 * 2 * 3 = 6.
    mesh = dolfinx.mesh.create_box(
        MPI.COMM_WORLD, [[0, 0, 0], [1, 2, 3]], [2, 2, 2], dolfinx.mesh.CellType.hexahedron
    )
    tensor = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 2, (3, 3))))
    # T_ij = (3 i + j) x_0: component k of the VTK row-major layout is k x_0.
    tensor.interpolate(lambda x: np.arange(9.0)[:, None] * x[0])
    path = tmp_path / "hex.vtkhdf"
    with ResultsWriter(path, mesh) as out:
        out.write(0.0, {"stress": tensor})
    grid = read_results(path).mesh()
    volumes = grid.compute_cell_sizes()["Volume"]
    assert set(grid.celltypes) == {pv.CellType.HEXAHEDRON}
    np.testing.assert_allclose(volumes, 6.0 / 8, rtol=1e-12)
    np.testing.assert_allclose(
        grid.point_data["stress"], grid.points[:, :1] * np.arange(9.0), rtol=0, atol=1e-13
    )


def test_provenance_records_versions_hashes_parameters_and_nothing_identifying(
    tmp_path: Path,
) -> None:
    mesh_file = tmp_path / "patient_0042_mesh.msh"
    mesh_file.write_bytes(b"not really a mesh, but bytes to hash\n")
    path = tmp_path / "results.vtkhdf"
    example.write_example(path, MPI.COMM_WORLD, inputs={"mesh": mesh_file})
    results = read_results(path)
    attributes = results.attributes
    expected_versions = {
        "dolfinx": dolfinx.__version__,
        "basix": basix.__version__,
        "ufl": ufl.__version__,
        "numpy": np.__version__,
        "h5py": h5py.__version__,
        "python": ".".join(map(str, sys.version_info[:3])),
    }
    for key, version in expected_versions.items():
        assert attributes[key] == version
    for key in ("organfem", "petsc", "petsc4py", "jax", "created_utc"):
        assert attributes[key]
    assert attributes["created_utc"].endswith("+00:00")
    assert attributes["mpi_size"] == MPI.COMM_WORLD.size
    assert results.input_hashes == {"mesh": hashlib.sha256(mesh_file.read_bytes()).hexdigest()}
    assert results.parameters == {"mu_kPa": 0.5, "steps": 2}
    stored = json.dumps(dict(attributes))
    assert socket.gethostname() not in stored
    assert "patient_0042" not in stored and str(tmp_path) not in stored


def test_exception_inside_with_block_leaves_target_untouched(tmp_path: Path) -> None:
    mesh = dolfinx.mesh.create_unit_cube(MPI.COMM_WORLD, 1, 1, 1)
    u = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,))))
    path = tmp_path / "run.vtkhdf"
    with pytest.raises(RuntimeError, match="solver blew up"):
        with ResultsWriter(path, mesh) as out:
            out.write(0.0, {"displacement": u})
            raise RuntimeError("solver blew up")
    assert not path.exists()
    assert path.with_name("run.vtkhdf.partial").exists()
    with pytest.raises(MeshError, match="did not finish"):
        read_results(path)

    # An existing file is only replaced by a run that finishes.
    path.write_bytes(b"previous results")
    with pytest.raises(RuntimeError):
        with ResultsWriter(path, mesh) as out:
            raise RuntimeError("interrupted")
    assert path.read_bytes() == b"previous results"
    with ResultsWriter(path, mesh) as out:
        out.write(0.0, {"displacement": u})
    assert read_results(path).times.tolist() == [0.0]


def test_bad_input_gives_clear_errors(tmp_path: Path) -> None:
    mesh = dolfinx.mesh.create_unit_cube(MPI.COMM_WORLD, 1, 1, 1)
    u = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,))))
    dg1 = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("DG", 1)))
    with pytest.raises(ParameterError, match=r"must end in \.vtkhdf"):
        ResultsWriter(tmp_path / "run.h5", mesh)
    with pytest.raises(ParameterError, match="input 'image'.*does not exist"):
        ResultsWriter(tmp_path / "a.vtkhdf", mesh, inputs={"image": tmp_path / "missing.nii"})
    with ResultsWriter(tmp_path / "b.vtkhdf", mesh) as out:
        out.write(1.0, {"displacement": u})
        with pytest.raises(ParameterError, match="greater than the previous"):
            out.write(1.0, {"displacement": u})
        with pytest.raises(ParameterError, match="first step gave"):
            out.write(2.0, {"velocity": u})
        with pytest.raises(ParameterError, match=r"'p' is in a P space of degree 1 \(discontin"):
            out.write(2.0, {"p": dg1})


def test_missing_or_corrupt_results_file_raises_mesh_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.vtkhdf"
    with pytest.raises(MeshError, match="missing.vtkhdf does not exist"):
        read_results(missing)
    garbage = tmp_path / "garbage.vtkhdf"
    garbage.write_bytes(b"\x00" * 1024)
    with pytest.raises(MeshError, match="garbage.vtkhdf is not a readable HDF5 file"):
        read_results(garbage)
    other = tmp_path / "other.vtkhdf"
    with h5py.File(other, "w") as file:
        file.create_dataset("x", data=[1.0])
    with pytest.raises(MeshError, match="other.vtkhdf has no /VTKHDF group"):
        read_results(other)


@pytest.mark.mpi
def test_two_ranks_write_the_same_file_as_one(serial_file: Path, tmp_path: Path) -> None:
    run = _run_example(str(tmp_path), ranks=2)
    assert run.returncode == 0, run.stdout + run.stderr
    parallel = read_results(tmp_path / "results.vtkhdf")
    serial = read_results(serial_file)
    assert parallel.attributes["mpi_size"] == 2
    np.testing.assert_array_equal(parallel.times, serial.times)
    np.testing.assert_array_equal(parallel.scalars["pressure"], serial.scalars["pressure"])
    for step in range(len(example.TIMES)):
        par, ser = parallel.mesh(step), serial.mesh(step)
        # Same point set and values once sorted by coordinates ...
        par_order, ser_order = np.lexsort(par.points.T), np.lexsort(ser.points.T)
        np.testing.assert_array_equal(par.points[par_order], ser.points[ser_order])
        np.testing.assert_allclose(
            par.point_data["displacement"][par_order],
            ser.point_data["displacement"][ser_order],
            atol=1e-14,
        )
        par_cells, ser_cells = _cell_centroids(par), _cell_centroids(ser)
        par_corder, ser_corder = np.lexsort(par_cells.T), np.lexsort(ser_cells.T)
        np.testing.assert_allclose(par_cells[par_corder], ser_cells[ser_corder], atol=1e-14)
        for name in ("cell_x", "region"):
            np.testing.assert_allclose(
                par.cell_data[name][par_corder], ser.cell_data[name][ser_corder], atol=1e-14
            )
        # ... and in fact in the same order: both follow the input mesh's numbering.
        np.testing.assert_array_equal(par.points, ser.points)
        np.testing.assert_array_equal(par.cells, ser.cells)


# -- resume -------------------------------------------------------------------

# A run writes KILLED_TIMES and is killed; its last checkpoint was at
# CHECKPOINT_TIME, so the resumed run drops the later steps and writes
# RESUMED_TIMES.
KILLED_TIMES = (0.5, 1.0, 1.5)
CHECKPOINT_TIME = 1.0
RESUMED_TIMES = (1.5, 2.0)


@pytest.fixture(scope="module")
def killed_partial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The partial file of a run killed with SIGKILL after its third step, unclosed."""
    folder = tmp_path_factory.mktemp("killed")
    run = _run_example(str(folder), "--times", ",".join(map(str, KILLED_TIMES)), "--kill")
    assert run.returncode == -signal.SIGKILL, run.stdout + run.stderr
    assert not (folder / "results.vtkhdf").exists()
    return folder / "results.vtkhdf.partial"


def _example_box() -> tuple[dolfinx.mesh.Mesh, tuple[np.ndarray, np.ndarray]]:
    """The example's mesh and a static field of its name (values do not matter on resume)."""
    mesh = dolfinx.mesh.create_box(
        MPI.COMM_WORLD, [[0.0, 0.0, 0.0], [3.0, 2.0, 2.0]], [3, 2, 2],
        dolfinx.mesh.CellType.tetrahedron,
    )
    cells = np.arange(mesh.topology.index_map(3).size_local, dtype=np.int32)
    return mesh, (cells, cells)


def _copy_partial(partial: Path, folder: Path) -> Path:
    """Put a copy of ``partial`` in ``folder``; return the results path it belongs to."""
    shutil.copyfile(partial, folder / partial.name)
    return folder / "results.vtkhdf"


def test_killed_run_leaves_a_readable_partial_file_with_every_step(killed_partial: Path) -> None:
    with h5py.File(killed_partial, "r") as file:
        assert file["VTKHDF/Steps/Values"][()].tolist() == list(KILLED_TIMES)
        assert file["VTKHDF/Steps"].attrs["NSteps"] == len(KILLED_TIMES)


def test_resume_after_sigkill_keeps_steps_until_the_checkpoint(
    killed_partial: Path, tmp_path: Path
) -> None:
    path = _copy_partial(killed_partial, tmp_path)
    with h5py.File(killed_partial, "r") as file:
        created = file["organfem"].attrs["created_utc"]
    mesh, region = _example_box()
    with ResultsWriter(path, mesh, static={"region": region}, resume=True) as out:
        assert out.times == KILLED_TIMES
        out.discard_after(CHECKPOINT_TIME)
        assert out.times == (0.5, 1.0)
        out.discard_after(CHECKPOINT_TIME)  # nothing later: no change
        assert out.times == (0.5, 1.0)
        with pytest.raises(ParameterError, match="greater than the previous"):
            out.write(1.0, {})
        out.discard_after(-np.inf)  # every step: the next may bring other names
        assert out.times == ()
    assert read_results(path).times.size == 0

    path = _copy_partial(killed_partial, tmp_path)
    example.write_example(
        path, MPI.COMM_WORLD, times=RESUMED_TIMES, resume=True, discard_after=CHECKPOINT_TIME
    )
    assert not path.with_name("results.vtkhdf.partial").exists()
    results = read_results(path)
    _assert_closed_form(results, (0.5, 1.0, *RESUMED_TIMES))
    # The original record is kept (the killed run had 3 steps), and the resume counted.
    assert results.parameters == {"mu_kPa": 0.5, "steps": len(KILLED_TIMES)}
    assert results.attributes["created_utc"] == created
    assert results.attributes["resumes"] == 1
    # A second resume is counted too.
    example.write_example(path, MPI.COMM_WORLD, times=(3.0,), resume=True)
    assert read_results(path).attributes["resumes"] == 2
    assert read_results(path).times.tolist() == [0.5, 1.0, *RESUMED_TIMES, 3.0]


def test_resume_of_a_finished_file_without_new_steps_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "results.vtkhdf"
    example.write_example(path, MPI.COMM_WORLD, resume=True)  # nothing to resume: a new file
    _assert_closed_form(read_results(path), example.TIMES)
    finished = path.read_bytes()
    example.write_example(path, MPI.COMM_WORLD, times=(), resume=True)
    assert path.read_bytes() == finished
    assert not path.with_name("results.vtkhdf.partial").exists()
    # A resumed run that fails leaves the finished file as it was.
    mesh, region = _example_box()
    with pytest.raises(RuntimeError, match="interrupted"):
        with ResultsWriter(path, mesh, static={"region": region}, resume=True) as out:
            out.discard_after(0.5)
            raise RuntimeError("interrupted")
    assert path.read_bytes() == finished


def test_resume_drops_an_incomplete_last_step(tmp_path: Path) -> None:
    # A run killed between two flushes may leave rows of a step whose time
    # was never written: here the displacement rows and offset of a third step.
    path = tmp_path / "results.vtkhdf"
    partial = path.with_name("results.vtkhdf.partial")
    example.write_example(path, MPI.COMM_WORLD)
    os.replace(path, partial)
    with h5py.File(partial, "r+") as file:
        rows = file["VTKHDF/PointData/displacement"]
        rows.resize(rows.shape[0] + NUM_POINTS // 2, axis=0)
        offsets = file["VTKHDF/Steps/PointDataOffsets/displacement"]
        offsets.resize(3, axis=0)
        offsets[2] = 2 * NUM_POINTS
    example.write_example(path, MPI.COMM_WORLD, times=(1.5,), resume=True)
    _assert_closed_form(read_results(path), (*example.TIMES, 1.5))
    with h5py.File(path, "r") as file:
        assert file["VTKHDF/PointData/displacement"].shape == (3 * NUM_POINTS, 3)


def test_resume_refuses_another_mesh_without_naming_the_folder(
    killed_partial: Path, tmp_path: Path
) -> None:
    path = _copy_partial(killed_partial, tmp_path)
    mesh = dolfinx.mesh.create_unit_cube(MPI.COMM_WORLD, 1, 1, 1)
    with pytest.raises(ParameterError, match="results.vtkhdf.partial: its mesh has 36 points and"
                       " 72 cells .* this run's mesh has 8 points and 6 cells") as error:
        ResultsWriter(path, mesh, resume=True)
    assert str(tmp_path) not in str(error.value)
    # A finished file that is not a results file is refused and left as it was.
    other = tmp_path / "other.vtkhdf"
    other.write_bytes(b"previous results")
    with pytest.raises(MeshError, match="cannot resume results file other.vtkhdf.partial") as error:
        ResultsWriter(other, mesh, resume=True)
    assert str(tmp_path) not in str(error.value)
    assert other.read_bytes() == b"previous results"
    assert not other.with_name("other.vtkhdf.partial").exists()


@pytest.mark.mpi
def test_two_ranks_resume_a_serial_file_as_one_rank_does(
    killed_partial: Path, tmp_path: Path
) -> None:
    (tmp_path / "serial").mkdir()
    serial = _copy_partial(killed_partial, tmp_path / "serial")
    resume = ("--times", ",".join(map(str, RESUMED_TIMES)), "--resume",
              "--discard-after", str(CHECKPOINT_TIME))
    example.write_example(
        serial, MPI.COMM_WORLD, times=RESUMED_TIMES, resume=True, discard_after=CHECKPOINT_TIME
    )
    (tmp_path / "parallel").mkdir()
    parallel = _copy_partial(killed_partial, tmp_path / "parallel")
    run = _run_example(str(parallel.parent), *resume, ranks=2)
    assert run.returncode == 0, run.stdout + run.stderr
    # Both follow the input mesh's numbering: every array of the two files is
    # equal, up to the round-off of interpolation on other partitions.
    with h5py.File(serial, "r") as one, h5py.File(parallel, "r") as two:
        names: list[str] = []
        one.visit(names.append)
        two.visit(names.append)
        for name in set(names):
            if isinstance(one[name], h5py.Dataset):
                assert one[name].dtype == two[name].dtype, name
                np.testing.assert_allclose(
                    one[name][()], two[name][()], rtol=0, atol=1e-14, err_msg=name
                )
        assert dict(one["organfem"].attrs) == dict(two["organfem"].attrs)


# -- inputs that are folders (a DICOM series) ------------------------------------


def _series_folder(folder: Path, contents: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    for name, data in contents.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def test_folder_hash_is_over_sorted_file_digests_of_contents_only(tmp_path: Path) -> None:
    from organfem.io import input_label, provenance, sha256_folder, sha256_input

    slices = {f"IM{k:03d}.dcm": f"slice {k} pixels".encode() for k in range(4)}
    folder = _series_folder(tmp_path / "DOE_JOHN_19600101", slices)
    digests = sorted(hashlib.sha256(data).hexdigest() for data in slices.values())
    documented = hashlib.sha256("".join(d + "\n" for d in digests).encode()).hexdigest()
    assert sha256_folder(folder) == sha256_input(folder) == documented
    # Order of listing, file names and layout do not matter (names can identify) ...
    renamed = {f"{name}_{k}": data for k, (name, data) in enumerate(reversed(slices.items()))}
    renamed = {("sub/" if k % 2 else "") + name: data for k, (name, data) in
               enumerate(renamed.items())}
    assert sha256_folder(_series_folder(tmp_path / "anonymous", renamed)) == documented
    # ... the bytes do: one changed byte, one file more or less.
    changed = dict(slices) | {"IM002.dcm": b"slice 2 pixelz"}
    assert sha256_folder(_series_folder(tmp_path / "changed", changed)) != documented
    fewer = dict(list(slices.items())[:3])
    assert sha256_folder(_series_folder(tmp_path / "fewer", fewer)) != documented
    more = dict(slices) | {"IM004.dcm": b"slice 0 pixels"}  # a duplicate slice counts
    assert sha256_folder(_series_folder(tmp_path / "more", more)) != documented
    # Provenance records the folder's digest under its role, never its name.
    record = provenance({}, {"dicom_series": folder})
    assert json.loads(record["inputs"]) == {"dicom_series": documented}
    assert "DOE_JOHN" not in json.dumps(record)
    label = input_label(folder, "dicom series")
    assert label == f"dicom series sha256:{documented[:8]}" and "DOE" not in label


def test_folder_inputs_errors_do_not_name_the_path(tmp_path: Path) -> None:
    from organfem.io import input_label, provenance, sha256_folder

    empty = tmp_path / "DOE_JOHN_19600101"
    empty.mkdir()
    with pytest.raises(ParameterError, match="holds no files") as error:
        sha256_folder(empty)
    assert "DOE" not in str(error.value)
    with pytest.raises(ParameterError, match="input 'dicom_series'.*no files") as error:
        provenance({}, {"dicom_series": empty})
    assert "DOE" not in str(error.value)
    with pytest.raises(ParameterError, match="label map: .*does not exist") as error:
        input_label(empty / "labels.nii.gz", "label map")
    assert "DOE" not in str(error.value)

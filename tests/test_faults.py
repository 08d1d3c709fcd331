"""Faults that end cleanly: write failures, files and folders in the way, umask, Ctrl-C.

Write faults are provoked for real where the machine allows it:

* a full disk: a small tmpfs mounted for the test (needs root with
  CAP_SYS_ADMIN; skipped otherwise, e.g. in an unprivileged container);
* a file size limit: ``RLIMIT_FSIZE`` lowered inside the process (any Linux;
  Python ignores SIGXFSZ, so writes fail with EFBIG);
* a folder that cannot be written: ``chmod 555`` for a normal user, a
  read-only tmpfs for root (whom permissions do not stop).

HDF5 may crash the process at exit after a failed write, so the disk-full and
file-size checks run in a subprocess and their exit status is checked.  The
Ctrl-C checks run ``python -m organfem.cli run SCENARIO`` on a small scenario
written by the test (a beam pulled in 8 load steps with a checkpoint and a
resumable results file) and send SIGINT from inside a Newton solve or
between two steps.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from organfem import cli
from organfem._dolfinx import MPI, dolfinx
from organfem.errors import OutputError
from organfem.io import ResultsWriter, load_checkpoint, read_results, save_checkpoint
from organfem.meshing import MeshData, land_beam

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore")


def _python(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO, env=ENV,
    )  # fmt: skip


def _mount_tmpfs(folder: Path, options: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    return done.returncode == 0


def _umount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 24 MiB tmpfs, filled by the code under test."""
    folder = tmp_path / "small"
    if not _mount_tmpfs(folder, "size=24m"):
        pytest.skip("cannot mount a tmpfs to fill (needs root with CAP_SYS_ADMIN)")
    yield folder
    _umount(folder)


@pytest.fixture
def unwritable_folder(tmp_path: Path):
    """A folder this process cannot write in (and what the error says about it)."""
    folder = tmp_path / "locked"
    if os.geteuid() != 0:
        folder.mkdir()
        folder.chmod(0o555)
        yield folder, "permission denied"
        folder.chmod(0o755)
    elif _mount_tmpfs(folder, "ro,size=64m"):
        yield folder, "the file system is read-only"
        _umount(folder)
    else:
        pytest.skip("root ignores permissions and no read-only tmpfs can be mounted here")


def _box(n: int = 1):
    return dolfinx.mesh.create_unit_cube(MPI.COMM_WORLD, n, n, n)


def _displacement(mesh, value: float = 0.0):
    u = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,))))
    u.x.array[:] = value
    return u


def _assert_same_mesh(a: MeshData, b: MeshData) -> None:
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.cells, b.cells)


def _finished(path: Path, times=(1.0,)) -> None:
    mesh = _box()
    with ResultsWriter(path, mesh) as out:
        for t in times:
            out.write(t, {"displacement": _displacement(mesh, t)})


# -- 1. files and folders in the way; unwritable folders -----------------------


def test_a_folder_in_the_way_is_a_clear_error(tmp_path: Path) -> None:
    mesh = _box()
    (tmp_path / "run.vtkhdf").mkdir()
    with pytest.raises(OutputError, match="cannot write results file run.vtkhdf: a folder of that"):
        ResultsWriter(tmp_path / "run.vtkhdf", mesh)
    (tmp_path / "other.vtkhdf.partial").mkdir()
    with pytest.raises(OutputError, match="other.vtkhdf.partial: a folder of that name is in"):
        ResultsWriter(tmp_path / "other.vtkhdf", mesh)
    (tmp_path / "mesh.h5").mkdir()
    with pytest.raises(OutputError, match="mesh file mesh.h5: a folder of that name is in the way"):
        land_beam(h=1.0).save(tmp_path / "mesh.h5")
    (tmp_path / "checkpoint").write_text("not a folder")
    with pytest.raises(OutputError, match="a file of that name is in the way; the previous"):
        save_checkpoint(tmp_path / "checkpoint", MPI.COMM_WORLD, {"u": np.zeros(3)}, {})
    from organfem.imaging import Image, write_image

    (tmp_path / "labels.nii.gz").mkdir()
    image = Image(np.zeros((2, 2, 2), np.uint8), spacing=(1.0, 1.0, 1.0))
    with pytest.raises(OutputError, match="image labels.nii.gz: a folder of that name is in"):
        write_image(image, tmp_path / "labels.nii.gz")
    # No message names the folder (it may name a patient).
    assert not list(tmp_path.glob(".*")), "temporary files left behind"


def test_an_unwritable_folder_is_a_clear_error(unwritable_folder) -> None:
    folder, reason = unwritable_folder
    with pytest.raises(OutputError, match=f"results file run.vtkhdf.partial: {reason}") as error:
        ResultsWriter(folder / "run.vtkhdf", _box())
    assert "Nothing was written" in str(error.value) and str(folder) not in str(error.value)
    with pytest.raises(OutputError, match=f"mesh file mesh.h5: {reason}; nothing was written"):
        land_beam(h=1.0).save(folder / "mesh.h5")
    with pytest.raises(OutputError, match=f"checkpoint folder: {reason}; the previous checkpoint"):
        save_checkpoint(folder / "checkpoint", MPI.COMM_WORLD, {"u": np.zeros(3)}, {})


def test_an_existing_results_file_is_replaced_only_by_a_finished_run(tmp_path: Path) -> None:
    path = tmp_path / "run.vtkhdf"
    _finished(path, (1.0, 2.0))
    mesh = _box()
    with pytest.raises(KeyboardInterrupt), ResultsWriter(path, mesh) as out:
        out.write(5.0, {"displacement": _displacement(mesh)})
        raise KeyboardInterrupt
    assert read_results(path).times.tolist() == [1.0, 2.0]  # the previous result, intact
    assert read_results(path.with_name("run.vtkhdf.partial")).times.tolist() == [5.0]
    assert not list(tmp_path.glob(".*reserve"))


# -- 2. umask ------------------------------------------------------------------


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_outputs_follow_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    from organfem.imaging import Image, write_image
    from organfem.viz import render

    folder = tmp_path / "out"
    folder.mkdir()
    old = os.umask(umask)
    try:
        land_beam(h=1.0).save(folder / "mesh.h5")
        _finished(folder / "run.vtkhdf")
        save_checkpoint(folder / "checkpoint", MPI.COMM_WORLD, {"u": np.zeros(3)}, {"t": 1})
        write_image(Image(np.zeros((2, 2, 2), np.uint8), spacing=(1.0,) * 3), folder / "l.nii.gz")
        render(folder / "run.vtkhdf", folder / "run.png", window_size=(64, 48))
    finally:
        os.umask(old)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    names = [str(p.relative_to(folder)) for p in files]
    assert names == [
        "checkpoint/checkpoint.json", "checkpoint/save-000001/rank0.npz", "l.nii.gz",
        "mesh.h5", "run.png", "run.vtkhdf",
    ]  # fmt: skip
    assert {name: oct(p.stat().st_mode & 0o777) for name, p in zip(names, files)} == {
        name: oct(mode) for name in names
    }
    for sub in (folder / "checkpoint", folder / "checkpoint" / "save-000001"):
        assert sub.stat().st_mode & 0o777 == 0o777 & ~umask


# -- 3. a full disk and a file size limit (in a subprocess: HDF5 may crash) ----

_FILL = """
import errno, os

def fill(folder):
    '''Fill the file system of ``folder``; return the filler file.'''
    filler = os.path.join(folder, "filler")
    with open(filler, "ab", buffering=0) as stream:
        for size in (1 << 20, 1 << 16, 1 << 12):
            while True:
                try:
                    stream.write(bytes(size))
                except OSError as err:
                    assert err.errno in (errno.ENOSPC, errno.EFBIG), err
                    break
    return filler
"""

_FULL_DISK = _FILL + """
import json, sys
from pathlib import Path
import numpy as np
from organfem._dolfinx import MPI, dolfinx
from organfem.errors import OutputError
from organfem.io import ResultsWriter, load_checkpoint, read_results, save_checkpoint, writer
from organfem.meshing import land_beam

folder, case = Path(sys.argv[1]), sys.argv[2]
mesh = dolfinx.mesh.create_unit_cube(MPI.COMM_WORLD, 24, 24, 24)  # 15625 points
u = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,))))
outcome = {}
if case in ("checked", "rescued"):
    path = folder / "run.vtkhdf"
    with ResultsWriter(path, mesh) as out:  # the previous result: one step
        out.write(0.0, {"displacement": u})
    if case == "rescued":  # as if the disk filled up between the check and the write
        writer._free_bytes = lambda folder: None
    try:
        with ResultsWriter(path, mesh) as out:
            for step in range(1, 1000):
                if step == 3:
                    filler = fill(folder)
                u.x.array[:] = step
                out.write(float(step), {"displacement": u, "velocity": u}, {"step": step})
    except OutputError as error:
        outcome["error"] = str(error)
    os.unlink(filler)
elif case == "mesh":
    previous = land_beam(h=1.0)
    previous.save(folder / "mesh.h5")
    filler = fill(folder)
    try:
        land_beam(h=0.5).save(folder / "mesh.h5")
    except OutputError as error:
        outcome["error"] = str(error)
    os.unlink(filler)
elif case == "checkpoint":
    save_checkpoint(folder / "checkpoint", MPI.COMM_WORLD, {"u": np.arange(3.0)}, {"t": 1})
    filler = fill(folder)
    try:
        save_checkpoint(folder / "checkpoint", MPI.COMM_WORLD, {"u": np.ones(1 << 20)}, {"t": 2})
    except OutputError as error:
        outcome["error"] = str(error)
    os.unlink(filler)
print(json.dumps(outcome))
"""


def _outcome(run: subprocess.CompletedProcess[str]) -> dict:
    assert run.returncode == 0, f"exit status {run.returncode}\n{run.stdout}\n{run.stderr}"
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", ["checked", "rescued"])
def test_a_full_disk_stops_the_results_cleanly_and_keeps_every_step(small_disk, case) -> None:
    # checked: the free space is found too small before the step is written;
    # rescued: HDF5's write fails with ENOSPC, the reserve makes room to close.
    outcome = _outcome(_python(_FULL_DISK, str(small_disk), case))
    message = outcome["error"]
    if case == "checked":  # step 3 is not written
        assert message.startswith(
            "stopped before writing step t = 3.0 to results file run.vtkhdf.partial: the disk is"
            " full (0 MiB free, about 2.43 MiB needed). The 2 steps written are in"
        )
        steps = [1.0, 2.0]
    else:  # step 3 is finished in the room of the reserve
        assert message.startswith(
            "results file run.vtkhdf.partial: the disk is full (no space left on device) while"
            " writing step t = 3.0; the room held in reserve let HDF5 finish the file. The 3"
            " steps written are in"
        )
        steps = [1.0, 2.0, 3.0]
    assert message.endswith(
        " run.vtkhdf.partial (a resumed run continues it); run.vtkhdf, if there is one, is"
        " unchanged"
    )
    assert str(small_disk) not in message
    # The previous result is intact, the partial file holds every step written.
    assert read_results(small_disk / "run.vtkhdf").times.tolist() == [0.0]
    partial = read_results(small_disk / "run.vtkhdf.partial")
    assert partial.unfinished and partial.times.tolist() == steps
    assert partial.scalars["step"].tolist() == steps
    for step, t in enumerate(steps):
        assert np.all(partial.mesh(step).point_data["velocity"] == t)
    assert not list(small_disk.glob(".*"))  # no reserve or temporary file left
    # With room again, a resumed run continues the partial file.
    mesh = dolfinx.mesh.create_unit_cube(MPI.COMM_WORLD, 24, 24, 24)
    u = _displacement(mesh, 4.0)
    with ResultsWriter(small_disk / "run.vtkhdf", mesh, resume=True) as out:
        out.discard_after(2.0)  # as a run resumed from a checkpoint at t = 2 does
        out.write(3.0, {"displacement": u, "velocity": u}, {"step": 3})
    assert read_results(small_disk / "run.vtkhdf").times.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("case", ["mesh", "checkpoint"])
def test_a_full_disk_keeps_the_previous_mesh_and_checkpoint(small_disk, case) -> None:
    message = _outcome(_python(_FULL_DISK, str(small_disk), case))["error"]
    assert "the disk is full (no space left on device)" in message
    assert str(small_disk) not in message
    if case == "mesh":
        assert message.startswith("cannot write mesh file mesh.h5: ")
        assert message.endswith("; the file already there is unchanged")
        _assert_same_mesh(MeshData.load(small_disk / "mesh.h5"), land_beam(h=1.0))
    else:
        assert message.startswith("cannot write checkpoint file save-000002/rank0.npz: ")
        assert "the previous checkpoint, if any, is intact" in message
        arrays, record = load_checkpoint(small_disk / "checkpoint", MPI.COMM_WORLD)
        assert record == {"t": 1} and arrays["u"].tolist() == [0.0, 1.0, 2.0]
        assert sorted(p.name for p in (small_disk / "checkpoint").iterdir()) == [
            "checkpoint.json", "save-000001",
        ]  # fmt: skip
    assert not [p for p in small_disk.glob(".*")]


_FILE_SIZE_LIMIT = """
import json, resource, sys
from pathlib import Path
import numpy as np
from organfem._dolfinx import MPI, dolfinx
from organfem.errors import OutputError
from organfem.io import ResultsWriter, load_checkpoint, save_checkpoint
from organfem.meshing import land_beam

folder = Path(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
def limit(size):
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))

outcome = {}
mesh = dolfinx.mesh.create_unit_cube(MPI.COMM_WORLD, 16, 16, 16)
u = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,))))
try:
    with ResultsWriter(folder / "run.vtkhdf", mesh) as out:
        for step in range(1, 100):
            if step == 3:
                limit((folder / "run.vtkhdf.partial").stat().st_size + (1 << 20))
            out.write(float(step), {"displacement": u})
except OutputError as error:
    outcome["results"] = str(error)
limit(hard)
land_beam(h=1.0).save(folder / "mesh.h5")
limit(4096)
try:
    land_beam(h=1.0).save(folder / "mesh.h5")
except OutputError as error:
    outcome["mesh"] = str(error)
limit(hard)
save_checkpoint(folder / "checkpoint", MPI.COMM_WORLD, {"u": np.zeros(3)}, {"t": 1})
limit(1 << 16)
try:
    save_checkpoint(folder / "checkpoint", MPI.COMM_WORLD, {"u": np.zeros(1 << 16)}, {"t": 2})
except OutputError as error:
    outcome["checkpoint"] = str(error)
limit(hard)
outcome["loaded"] = load_checkpoint(folder / "checkpoint", MPI.COMM_WORLD)[1]
print(json.dumps(outcome))
"""


def test_a_file_size_limit_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("resource")
    outcome = _outcome(_python(_FILE_SIZE_LIMIT, str(tmp_path)))
    assert outcome["results"].startswith(
        "stopped before writing step t = 3.0 to results file run.vtkhdf.partial: the file would"
        " exceed the largest file size allowed ("
    )
    assert "The 2 steps written are in run.vtkhdf.partial" in outcome["results"]
    assert read_results(tmp_path / "run.vtkhdf.partial").times.tolist() == [1.0, 2.0]
    assert outcome["mesh"] == (
        "cannot write mesh file mesh.h5: the file would exceed the largest file size allowed"
        " (a file system limit, or the shell's `ulimit -f`); the file already there is unchanged"
    )
    _assert_same_mesh(MeshData.load(tmp_path / "mesh.h5"), land_beam(h=1.0))
    assert outcome["checkpoint"].startswith("cannot write checkpoint file save-000002/rank0.npz")
    assert outcome["loaded"] == {"t": 1}
    assert not list(tmp_path.glob(".*"))


# -- 4. Ctrl-C: one line, exit 130, a checkpoint to resume from ----------------

_SCENARIO = '''"""A beam pulled in 8 load steps, with a checkpoint and a resumable results file."""
import argparse, signal
from pathlib import Path

import numpy as np

from organfem._dolfinx import MPI
from organfem.io import ResultsWriter
from organfem.materials import NeoHookean
from organfem.mechanics import Domain, Fixed, HyperelasticProblem, Pressure, ramp
from organfem.meshing import land_beam


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--interrupt-after", type=int, help="SIGINT after this many steps")
    parser.add_argument("--where", choices=("newton", "between"), default="newton")
    args = parser.parse_args(argv)
    comm = MPI.COMM_WORLD
    domain = Domain.from_meshdata(land_beam(h=1.0) if comm.rank == 0 else None, comm)
    problem = HyperelasticProblem(
        domain, NeoHookean(mu=1.0, lmbda=2.0),
        constraints=[Fixed("x0", (0,)), Fixed("y0", (1,)), Fixed("z0", (2,))],
        loads=[Pressure("x1", -0.3)], petsc_options_prefix="ctrl_c_",
    )
    done = 0
    assemble = problem._assemble_jacobian

    def jacobian(*a):  # Ctrl-C inside the Newton solve of the next step
        if done == args.interrupt_after and args.where == "newton":
            signal.raise_signal(signal.SIGINT)
        return assemble(*a)

    problem._assemble_jacobian = jacobian
    with ResultsWriter(args.folder / "beam.vtkhdf", domain.mesh, resume=True) as out:

        def record(step):
            nonlocal done
            out.write(step.time, {"displacement": problem.displacement()})
            done += 1
            if done == args.interrupt_after and args.where == "between":
                signal.raise_signal(signal.SIGINT)

        try:
            ramp(problem, 8, on_step=record, checkpoint=args.folder / "checkpoint", results=out)
        finally:
            problem.close()
    np.save(args.folder / "final_u.npy", problem.displacement().x.array)
    return 0
'''


def _organfem(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "organfem.cli", *args],
        capture_output=True, text=True, timeout=180, cwd=REPO, env=ENV,
    )  # fmt: skip


def _lines(stderr: str) -> list[str]:
    """stderr without the INFO log lines of the libraries."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("INFO ")]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "pull_beam.py"
    path.write_text(_SCENARIO)
    return path


@pytest.fixture(scope="module")
def reference(scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run."""
    folder = tmp_path_factory.mktemp("reference")
    run = _organfem("run", str(scenario), str(folder))
    assert run.returncode == 0, run.stderr
    return folder


@pytest.mark.parametrize(("where", "after"), [("newton", 3), ("between", 5)])
def test_ctrl_c_ends_with_one_line_and_the_run_resumes(
    scenario: Path, reference: Path, tmp_path: Path, where: str, after: int, capsys
) -> None:
    run = _organfem("run", str(scenario), str(tmp_path), "--interrupt-after", str(after),
                    "--where", where)  # fmt: skip
    assert run.returncode == 130, run.stderr
    lines = _lines(run.stderr)
    t = after / 8
    # Between two steps, on_step (which writes the results) comes before the
    # checkpoint: the checkpoint is one step behind, and the resumed run
    # writes that step again.
    saved = t if where == "newton" else (after - 1) / 8
    assert lines == [
        f"organfem: interrupted at pseudo-time {t:g} of 1 ({after} of 8 load steps done);"
        f" last converged state: x1 pressure {-0.3 * t:.4g} kPa ({-0.3 * t / 0.133322387415:.4g}"
        f" mmHg); the checkpoint at pseudo-time {saved:g} is kept: start the same run again to"
        f" resume from it; results so far: {after} steps in beam.vtkhdf.partial"
    ], run.stderr
    assert "PETSc" not in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "beam.vtkhdf").exists() and not (tmp_path / "final_u.npy").exists()

    # info and render say that they read an unfinished run, and show it.
    partial = tmp_path / "beam.vtkhdf.partial"
    assert cli.main(["info", str(partial)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"unfinished run: beam.vtkhdf.partial holds {after} steps written so far (last t ="
        f" {t:g}); the run was interrupted, failed or is still running"
    )
    assert out[1].startswith(f"{partial}: {after} steps, t = ")
    assert cli.main(["info", str(tmp_path / "beam.vtkhdf")]) == 1
    if where == "newton":
        assert cli.main(["render", str(partial)]) == 0
        captured = capsys.readouterr()
        assert captured.out.strip() == str(tmp_path / "beam.partial.png")
        assert captured.err.startswith("unfinished run: beam.vtkhdf.partial holds 3 steps")
        assert (tmp_path / "beam.partial.png").stat().st_size > 0

    # The same command again resumes from the checkpoint and finishes.
    again = _organfem("run", str(scenario), str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert f"resuming from a checkpoint at pseudo-time {saved:g}" in again.stderr
    results = read_results(tmp_path / "beam.vtkhdf")
    np.testing.assert_allclose(results.times, np.arange(1, 9) / 8, rtol=1e-14)
    final, expected = np.load(tmp_path / "final_u.npy"), np.load(reference / "final_u.npy")
    assert np.max(np.abs(expected)) > 0.05  # it moved [mm]
    np.testing.assert_allclose(final, expected, rtol=0, atol=1e-10)
    assert not partial.exists()


def test_petsc_leaves_signals_to_python() -> None:
    # PETSc's signal handlers would report a broken pipe or a fault as a PETSc
    # error; organfem initialises PETSc without them.
    from organfem._dolfinx import PETSc

    assert "no_signal_handler" in PETSc.Options().getAll()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN


def test_info_and_render_read_a_partial_file_while_the_run_writes_it(tmp_path, capsys) -> None:
    mesh = _box(2)
    path = tmp_path / "run.vtkhdf"
    with ResultsWriter(path, mesh) as out:
        for t in (0.5, 1.0):
            out.write(t, {"displacement": _displacement(mesh, t)}, {"p": t})
        partial = tmp_path / "run.vtkhdf.partial"
        results = read_results(partial)  # open for writing here, in this process
        assert results.unfinished and results.times.tolist() == [0.5, 1.0]
        assert np.all(results.mesh(0).point_data["displacement"] == 0.5)
        assert cli.main(["info", str(partial)]) == 0
        assert capsys.readouterr().out.startswith(
            "unfinished run: run.vtkhdf.partial holds 2 steps written so far (last t = 1);"
        )
        assert cli.main(["info", str(path)]) == 1  # not finished: says so, names the partial
        assert cli.main(["render", str(partial), "--out", str(tmp_path / "now.png")]) == 0
        assert capsys.readouterr().err.startswith("unfinished run: run.vtkhdf.partial holds 2")
        out.write(1.5, {"displacement": _displacement(mesh, 1.5)}, {"p": 1.5})
    assert not read_results(path).unfinished and read_results(path).times.tolist() == [0.5, 1, 1.5]


def test_a_results_file_without_steps_reads_as_unfinished(tmp_path: Path) -> None:
    mesh = _box()
    with pytest.raises(RuntimeError), ResultsWriter(tmp_path / "run.vtkhdf", mesh):
        raise RuntimeError("failed before the first step")
    partial = read_results(tmp_path / "run.vtkhdf.partial")
    assert partial.unfinished and partial.times.size == 0
    with h5py.File(tmp_path / "run.vtkhdf.partial", "r") as file:
        assert "VTKHDF" in file


def test_an_incomplete_last_step_of_a_killed_run_is_left_out(tmp_path: Path) -> None:
    mesh = _box()
    with pytest.raises(KeyboardInterrupt), ResultsWriter(tmp_path / "run.vtkhdf", mesh) as out:
        for t in (1.0, 2.0):
            out.write(t, {"displacement": _displacement(mesh, t)}, {"p": t})
        raise KeyboardInterrupt
    partial = tmp_path / "run.vtkhdf.partial"
    with h5py.File(partial, "r+") as file:  # a third step cut short: a scalar, no time
        scalar = file["organfem/scalars/p"]
        scalar.resize(3, axis=0)
        scalar[2] = 3.0
    results = read_results(partial)
    assert results.times.tolist() == [1.0, 2.0] and results.scalars["p"].tolist() == [1.0, 2.0]


@pytest.mark.mpi
def test_ctrl_c_under_mpirun_ends_every_rank(scenario, reference, tmp_path) -> None:
    beside = Path(sys.executable).parent / "mpiexec"
    mpiexec = str(beside) if beside.exists() else shutil.which("mpiexec")
    if mpiexec is None:
        pytest.skip("no mpiexec found")
    command = [mpiexec, "-n", "2", sys.executable, "-m", "organfem.cli", "run", str(scenario),
               str(tmp_path)]  # fmt: skip
    run = subprocess.run([*command, "--interrupt-after", "2"], capture_output=True, text=True,
                         timeout=180, cwd=REPO, env=ENV)  # fmt: skip
    assert run.returncode == 130, run.stderr
    ours = [line for line in _lines(run.stderr) if line.startswith("organfem:")]
    assert len(ours) == 1 and ours[0].startswith("organfem: interrupted at pseudo-time 0.25 of 1")
    assert ours[0].endswith("results so far: 2 steps in beam.vtkhdf.partial")
    assert "Traceback" not in run.stderr and "PETSc" not in run.stderr
    again = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=REPO,
                           env=ENV)  # fmt: skip
    assert again.returncode == 0, again.stderr
    np.testing.assert_allclose(read_results(tmp_path / "beam.vtkhdf").times, np.arange(1, 9) / 8)

"""Unloading an imaged ventricle: the backward-displacement fixed point.

The "imaged" ventricle is the coarse Land et al. (2015) LV (h = 3 mm, 1034
tetrahedra, Holzapfel-Ogden 2009 myocardium, mixed u-p, base fixed) inflated
from its true reference to 1 kPa (7.5 mmHg); :func:`organfem.mechanics.unload`
must find that reference again (Bols et al. 2013; Sellier 2011).  The set-up
is shared with the MPI run in ``tests/unloading_mpi_check.py``.

Measured (serial, 2-core machine): 9 inflations, geometric errors
6.87, 1.52, 0.326, 0.191, 0.0685, 0.0256, 0.0090, 0.0032, 0.00098 mm (rates
0.22, 0.21, 0.59, then 0.31-0.37); the unloaded points are 7.5e-4 mm from the
true reference at most.  The first two inflations ramp from rest (36-40
Newton iterations, 5-10 s), the later ones start from the last solution
(2-8 iterations, under 1 s): about 22 s in all.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from organfem import units
from organfem._dolfinx import MPI
from organfem.errors import ConvergenceError, ParameterError
from organfem.mechanics import UnloadResult, unload

REPO = Path(__file__).resolve().parents[1]
HELPER = REPO / "tests" / "unloading_mpi_check.py"
_spec = importlib.util.spec_from_file_location("unloading_mpi_check", HELPER)
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

COMM = MPI.COMM_WORLD
TOL = check.TOL  # [mm]

# The largest ratio of successive geometric errors: measured 0.585 once (the
# third iteration), 0.31-0.37 near the fixed point.  The map X -> x_img - u(X)
# then contracts by RATE < 1 per iteration, and the distance of the last
# iterate X_k to the fixed point X* is at most |X_k - X_{k+1}| / (1 - RATE) =
# error_k / (1 - RATE) < TOL / (1 - RATE).  The true reference is that fixed
# point of the discrete problem (the imaged points are its inflated vertices),
# up to the Newton tolerance (snes_rtol = atol = 1e-9: displacements to about
# 1e-8 mm, below 1e-5 TOL).
RATE = 0.6
REFERENCE_TOL = TOL / (1.0 - RATE)  # 2.5e-3 mm; measured 7.5e-4 mm
# Two converged inflations of the same reference, one from rest and one from
# the last iterate's solution, agree to the Newton tolerance (measured
# 5e-13 mm); so do the serial and the two-rank runs (measured 7e-15 mm).
NEWTON_TOL = 1e-6  # [mm]


@pytest.fixture(scope="module")
def case() -> dict:
    """The imaged LV unloaded (see :func:`unloading_mpi_check.unload_lv`)."""
    return check.unload_lv(COMM)


def _distance(a, b) -> float:
    """Largest distance between the points of two meshes on rank 0 [mm], on every rank."""
    value = None if COMM.rank else float(np.linalg.norm(a.points - b.points, axis=1).max())
    return COMM.bcast(value, root=0)


def test_unloaded_reference_is_the_true_one_within_the_stated_tolerance(case):
    result: UnloadResult = case["result"]
    assert result.error < TOL
    distance = _distance(result.mesh, case["true"])
    assert distance < REFERENCE_TOL
    # The imaged geometry is far from the reference (the fixed point had work to do).
    moved = _distance(case["imaged"], case["true"])
    assert moved > 5.0  # [mm]; measured 6.04 mm
    if COMM.rank == 0:
        # The unloaded mesh is the imaged one with new points: same cells,
        # tags and per-cell fibres (which are not rotated back).
        unloaded, imaged = result.mesh, case["imaged"]
        np.testing.assert_array_equal(unloaded.cells, imaged.cells)
        np.testing.assert_array_equal(unloaded.facets, imaged.facets)
        np.testing.assert_array_equal(unloaded.facet_values, imaged.facet_values)
        assert dict(unloaded.facet_names) == dict(imaged.facet_names)
        np.testing.assert_array_equal(unloaded.fibres, imaged.fibres)
    else:
        assert result.mesh is None


def test_inflating_the_unloaded_geometry_returns_the_image_within_tol(case):
    # The requirement, checked independently of unload: a new
    # inflation from rest, displacements by point evaluation (probe).
    result = case["result"]
    inflated, volume, _ = check.inflate(COMM, result.mesh)
    error = None
    if COMM.rank == 0:
        error = float(np.linalg.norm(inflated - case["imaged"].points, axis=1).max())
    error = COMM.bcast(error, root=0)
    assert error < TOL
    assert error == pytest.approx(result.error, abs=NEWTON_TOL)
    assert volume == pytest.approx(result.loaded_volumes[-1], abs=1e-6)


def test_geometric_error_falls_by_a_constant_factor(case):
    result = case["result"]
    errors = result.errors
    assert result.iterations == errors.size == len(result.newton_iterations)
    # X_0 = x_img, so the first error is the largest displacement of the imaged
    # geometry's own inflation; every later iterate is closer.
    assert np.all(np.diff(errors) < 0)
    assert np.all(result.rates < RATE)
    assert result.iterations <= 10  # measured 9
    # After the first two, inflations start from the last solution: few
    # Newton iterations (measured 2-8 against 36-40 from rest).
    assert not result.warm_starts[0] and all(result.warm_starts[2:])
    assert max(result.newton_iterations[2:]) < min(result.newton_iterations[:2]) / 3


def test_cavity_volume_of_the_unloaded_reference(case):
    result = case["result"]
    true, imaged = case["true"], case["imaged"]
    if COMM.rank == 0:
        # Moving the endocardium's points by at most d changes the cavity by
        # at most its area times d.
        x = true.points[true.facets_of("endo")]
        area = 0.5 * np.linalg.norm(np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), axis=1).sum()
        distance = np.linalg.norm(result.mesh.points - true.points, axis=1).max()
        reference = check.cavity(MPI.COMM_SELF, true)
        true_volume = _volume_on_self(true, reference)
        assert result.reference_volumes[-1] == pytest.approx(true_volume, abs=area * distance)
        assert result.imaged_volume == pytest.approx(_volume_on_self(imaged, reference), rel=1e-12)
        assert result.imaged_volume > 1.3 * true_volume  # measured 3380 against 2413 mm^3
    # The last iterate inflates to the volume of the true reference's
    # inflation (a curved P2 surface, so not the imaged mesh's straight-sided
    # volume): measured 3472.74 against 3472.81 mm^3.
    assert result.loaded_volumes[-1] == pytest.approx(case["imaged_volume"], rel=1e-4)


def _volume_on_self(mesh, volume) -> float:
    from organfem.mechanics import Domain

    return volume(Domain.from_meshdata(mesh, MPI.COMM_SELF), None)


def test_no_convergence_names_the_pressure_and_the_error(case):
    with pytest.raises(ConvergenceError) as caught:
        unload(case["imaged"], check.loaded_problem, levels=check.LEVELS, tol=TOL, max_iterations=1,
               comm=COMM)  # fmt: skip
    message = str(caught.value)
    assert "1 kPa" in message and f"{1.0 / units.MMHG_IN_KPA:.4g} mmHg" in message
    assert "in 1 iteration:" in message and "6.87 mm" in message


def test_bad_tolerances_are_rejected(case):
    for kwargs in ({"tol": 0.0}, {"tol": -1e-3}, {"max_iterations": 0}):
        with pytest.raises(ParameterError):
            unload(case["imaged"], check.loaded_problem, comm=COMM, **kwargs)


@pytest.mark.mpi
@pytest.mark.slow
def test_unloading_under_mpirun_matches_serial(case, tmp_path):
    # The same fixed point on two ranks: the same iterations and, to the
    # Newton tolerance, the same unloaded points (measured 7e-15 mm apart,
    # with the same Newton counts; 20 s on each).
    if COMM.size > 1:
        pytest.skip("compares a serial run with mpiexec -n 2")
    beside = Path(sys.executable).parent / "mpiexec"
    mpiexec = str(beside) if beside.exists() else shutil.which("mpiexec")
    if mpiexec is None:
        pytest.skip("no mpiexec found")
    out = tmp_path / "unloading.json"
    command = [mpiexec, "-n", "2", sys.executable, str(HELPER), str(out)]
    run = subprocess.run(command, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    parallel = json.loads(out.read_text())
    serial = case["result"]
    assert parallel["ranks"] == 2 and parallel["iterations"] == serial.iterations
    np.testing.assert_allclose(parallel["points"], serial.mesh.points, rtol=0, atol=NEWTON_TOL)
    np.testing.assert_allclose(parallel["errors"], serial.errors, rtol=1e-6, atol=NEWTON_TOL)
    np.testing.assert_allclose(parallel["reference_volumes"], serial.reference_volumes, rtol=1e-9)

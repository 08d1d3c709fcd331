"""Unloading the coarse Land LV, serially or under MPI.

Usage: ``mpiexec -n 2 python tests/unloading_mpi_check.py OUT.json`` makes the
"imaged" ventricle by inflating the true reference to :data:`PRESSURE`,
unloads it with :func:`organfem.mechanics.unload` and writes, from rank 0,
the unloaded points, the geometric errors and the Newton counts.
``tests/test_unloading.py`` runs the same functions in one process and
compares: the same discrete problem on another partition must give the same
unloaded geometry to the Newton tolerance.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from functools import partial
from pathlib import Path

import numpy as np

from organfem._dolfinx import MPI
from organfem.fibres import land2015_fibres
from organfem.materials import HolzapfelOgden, VolumetricPenalty
from organfem.mechanics import (
    Domain,
    Fixed,
    HyperelasticProblem,
    Pressure,
    cavity_volume,
    probe,
    ramp,
    unload,
)
from organfem.meshing import MeshData, lv_ellipsoid

__all__ = [
    "PRESSURE",
    "MESH_SIZE",
    "LEVELS",
    "TOL",
    "true_reference",
    "loaded_problem",
    "inflate",
    "imaged",
    "cavity",
    "unload_lv",
]

#: End-diastolic pressure [kPa] (7.5 mmHg), mesh size [mm], load steps of a
#: cold inflation and the geometric tolerance of the unloading [mm].
PRESSURE, MESH_SIZE, LEVELS, TOL = 1.0, 3.0, 4, 1e-3


def true_reference() -> MeshData:
    """The Land et al. (2015) ellipsoid at h = 3 mm with the analytic fibres of
    ``solvers/lv_inflation.py`` (helix -60/+60 deg in Land's convention) stored
    per cell, evaluated at the cell centroids, so they follow their cells."""
    lv = lv_ellipsoid(h=MESH_SIZE)
    centroids = lv.points[lv.cells].mean(axis=1)
    return lv.with_fibres(land2015_fibres(centroids, alpha_endo=-60.0, alpha_epi=60.0, t_tol=0.5))


def loaded_problem(domain: Domain, *, prefix: str = "unloading_") -> HyperelasticProblem:
    """The LV at :data:`PRESSURE`: Holzapfel-Ogden (2009) with a log volumetric
    penalty, mixed u-p, base fixed, as in ``solvers/lv_inflation.py``."""
    law = HolzapfelOgden.holzapfel_ogden_2009() + VolumetricPenalty(kappa=50.0, kind="log")
    return HyperelasticProblem(
        domain,
        law,
        constraints=[Fixed("base")],
        loads=[Pressure("endo", PRESSURE)],
        fibres=domain.fibres,
        formulation="mixed",
        petsc_options_prefix=prefix,
    )


def cavity(comm, mesh: MeshData | None):
    """``volume(domain, u)`` [mm^3] of the cavity closed by the base plane of
    ``mesh`` (on rank 0); the base is fixed, so the plane is every iterate's."""
    plane = comm.bcast(mesh.plane_of("base")[0] if comm.rank == 0 else None, root=0)
    return partial(cavity_volume, tag="endo", axis=plane.normal, base_point=plane.point)


def inflate(comm, mesh: MeshData | None) -> tuple[np.ndarray | None, float, int]:
    """Inflate ``mesh`` (on rank 0) from rest to :data:`PRESSURE`.  Collective.

    Returns:
        The inflated points on rank 0 (None elsewhere), the loaded cavity
        volume [mm^3] and the Newton iterations.
    """
    domain = Domain.from_meshdata(mesh, comm)
    problem = loaded_problem(domain, prefix="unloading_inflate_")
    try:
        run = ramp(problem, LEVELS)
        u = problem.displacement()
        volume = cavity(comm, mesh)(domain, u)
        # The displacement at the mesh points, by point evaluation (another
        # path than the nodal gather of unload).
        x = comm.bcast(mesh.points if comm.rank == 0 else None, root=0)
        displacement = probe(u, x)
    finally:
        problem.close()
    return (x + displacement if comm.rank == 0 else None), volume, run.newton_iterations


def imaged(comm, true: MeshData | None) -> tuple[MeshData | None, float]:
    """The "imaged" ventricle: the true reference inflated to :data:`PRESSURE`
    (on rank 0), and its loaded cavity volume [mm^3].  Collective."""
    points, volume, _ = inflate(comm, true)
    return (None if points is None else dataclasses.replace(true, points=points)), volume


def unload_lv(comm) -> dict:
    """Make the imaged LV and unload it.  Collective.

    Returns:
        On every rank: ``true`` and ``imaged`` (MeshData on rank 0, None
        elsewhere), ``imaged_volume`` [mm^3] (loaded, of the true
        reference's inflation), ``result`` (the UnloadResult) and
        ``seconds`` (wall time of the unloading).
    """
    true = true_reference() if comm.rank == 0 else None
    image, volume = imaged(comm, true)
    start = time.perf_counter()
    result = unload(image, loaded_problem, levels=LEVELS, tol=TOL, volume=cavity(comm, true),
                    comm=comm)  # fmt: skip
    return {"true": true, "imaged": image, "imaged_volume": volume, "result": result,
            "seconds": time.perf_counter() - start}  # fmt: skip


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("out", type=Path, help="JSON file written by rank 0")
    args = options.parse_args()
    comm = MPI.COMM_WORLD
    run = unload_lv(comm)
    result = run["result"]
    if comm.rank == 0:
        args.out.write_text(json.dumps({
            "ranks": comm.size,
            "points": result.mesh.points.tolist(),
            "errors": result.errors.tolist(),
            "iterations": result.iterations,
            "newton_iterations": list(result.newton_iterations),
            "reference_volumes": result.reference_volumes.tolist(),
            "seconds": run["seconds"],
        }))  # fmt: skip


if __name__ == "__main__":
    main()

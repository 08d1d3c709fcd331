"""Land et al. (2015) cardiac-mechanics benchmark, problems 1-3.

S. Land et al., "Verification of cardiac mechanics software: benchmark
problems and solutions for testing active and passive material behaviour",
Proc. R. Soc. A 471:20150641 (2015).

Each problem is solved on a refinement sequence; the table gives the output
quantity, unknowns, Newton iterations and wall time per level, and the
relative change between the last two levels.  Usage::

    python benchmarks/land2015.py                 # default levels, < 15 min on 2 cores
    python benchmarks/land2015.py --json out.json
    mpirun -n 2 python benchmarks/land2015.py --problems 2

Formulation: Taylor-Hood P2/P1 mixed displacement-pressure (exact
incompressibility through the Lagrange multiplier) plus a log-barrier
volumetric term ``kappa (ln J)^2 / 2`` with ``kappa = 5 C``.  The barrier
vanishes with its derivative at ``J = 1``, so it leaves the incompressible
continuum solution unchanged and only penalises the pointwise ``J != 1``
that the P1 pressure cannot see.  Without it, problem 2 on tetrahedra of
size h <= 1.5 mm hits a spurious local volume collapse (det F -> 0 at one
quadrature point in the mid-wall) at about 41 % of the pressure, which no
step size gets through; with it every level converges in 3-7 Newton
iterations per load step.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from functools import partial

import numpy as np

from organfem._dolfinx import MPI
from organfem.fibres import constant_fibres, land2015_fibres
from organfem.materials import ActiveStress, Guccione, VolumetricPenalty
from organfem.mechanics import (
    Domain,
    Fixed,
    HyperelasticProblem,
    Material,
    Model,
    Pressure,
    probe,
    ramp,
)
from organfem.meshing import land_beam, lv_ellipsoid

#: Barrier modulus as a multiple of the Guccione stiffness C (see module docstring).
BARRIER = 5.0

#: Default refinement sequences (mesh size h [mm]) and load steps.
LEVELS = {1: (0.5, 1 / 3, 0.25), 2: (3.0, 2.0, 1.5), 3: (2.0, 1.5, 1.0)}
LOAD_STEPS = {1: 10, 2: 8, 3: 8}

#: Probe points of each problem, reference coordinates [mm].
PROBES = {
    1: np.array([[10.0, 0.5, 1.0]]),
    2: np.array([[0.0, 0.0, -17.0], [0.0, 0.0, -20.0]]),
    3: np.array([[0.0, 0.0, -17.0], [0.0, 0.0, -20.0]]),
}


@dataclass(frozen=True)
class Level:
    """One solve of one problem at one mesh size."""

    problem: int
    h: float
    values: tuple[float, ...]  # deformed z of the probe points [mm]
    dofs: int
    cells: int
    newton_iterations: int
    seconds: float


def _incompressible(law: Guccione):
    return law + VolumetricPenalty(kappa=BARRIER * law.C, kind="log")


def model(problem: int) -> Model:
    """The physics of problem ``problem`` (1, 2 or 3) as a :class:`Model`.

    On the pseudo-time path of :func:`organfem.mechanics.ramp` every
    magnitude given as a number (pressures, the active tension of problem 3)
    grows linearly from 0 to its value (the path of the recorded reference
    values in ``land2015_reference.json``).
    """
    if problem == 1:
        fibres = lambda x: constant_fibres((1.0, 0.0, 0.0), len(x))  # noqa: E731
        material = Material(_incompressible(Guccione.land2015_problem1()), fibres=fibres)
        return Model(material, Fixed("x0"), Pressure("z0", 0.004))
    if problem == 2:
        material = Material(_incompressible(Guccione.land2015_problem2()))
        return Model(material, Fixed("base"), Pressure("endo", 10.0))
    # Problem 3: passive Guccione plus an active tension Ta = 60 kPa along the
    # fibres.  Quadrature points of coarse flat-faced tetrahedra near the apex
    # lie up to ~0.3 wall thicknesses outside the curved wall; their
    # transmural coordinate is clipped to [0, 1].
    material = Material(
        _incompressible(Guccione.land2015_problem1()) + ActiveStress(Ta=0.0),
        fibres=partial(land2015_fibres, t_tol=0.5),
        parameters={"Ta": 60.0},
    )
    return Model(material, Fixed("base"), Pressure("endo", 15.0))


def build(problem: int, h: float, comm=MPI.COMM_WORLD, **options) -> HyperelasticProblem:
    """The finite-element problem ``problem`` (1, 2 or 3) at mesh size ``h`` [mm].

    ``options`` go to :class:`HyperelasticProblem` (the options prefix is
    ``land<problem>_`` unless given).  Collective.
    """
    make = land_beam if problem == 1 else lv_ellipsoid
    domain = Domain.from_meshdata(make(h=h) if comm.rank == 0 else None, comm)
    return HyperelasticProblem(
        domain,
        model(problem),
        formulation="mixed",
        **{"petsc_options_prefix": f"land{problem}_", **options},
    )


def solve(problem: int, h: float, *, steps: int | None = None, comm=MPI.COMM_WORLD) -> Level:
    """Solve problem ``problem`` at mesh size ``h`` and probe its output. Collective."""
    start = time.perf_counter()
    fe = build(problem, h, comm)
    try:
        result = ramp(fe, steps or LOAD_STEPS[problem])
        points = PROBES[problem]
        z = points[:, 2] + probe(fe.displacement(), points)[:, 2]
        seconds = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
        cells = fe.domain.mesh.topology.index_map(3).size_global
        dofs = fe.num_dofs
    finally:
        fe.close()  # frees the options prefix for the next level
    return Level(problem, h, tuple(map(float, z)), dofs, cells, result.newton_iterations, seconds)


def _names(problem: int) -> tuple[str, ...]:
    return ("z_mm",) if problem == 1 else ("endo_apex_z_mm", "epi_apex_z_mm")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the finest values and the per-level table here")
    parser.add_argument("--problems", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3])
    parser.add_argument(
        "--levels", type=float, nargs="+", help="mesh sizes h [mm] (default: per problem)"
    )
    args = parser.parse_args(argv)
    comm = MPI.COMM_WORLD
    say = print if comm.rank == 0 else (lambda *a, **k: None)

    report: dict = {"levels": []}
    say(f"{'problem':>7} {'h [mm]':>7} {'cells':>7} {'dofs':>8} {'newton':>6} {'time [s]':>8}  output [mm]")
    for p in args.problems:
        levels = [solve(p, h, comm=comm) for h in (args.levels or LEVELS[p])]
        for lv in levels:
            say(
                f"{p:>7} {lv.h:>7.3f} {lv.cells:>7} {lv.dofs:>8} {lv.newton_iterations:>6} "
                f"{lv.seconds:>8.1f}  " + "  ".join(f"{n}={v:.4f}" for n, v in zip(_names(p), lv.values))
            )
            report["levels"].append(dict(vars(lv)))
        fine = np.array(levels[-1].values)
        coarse = np.array(levels[-2].values) if len(levels) > 1 else np.full(fine.shape, np.nan)
        change = np.abs(fine - coarse) / np.abs(fine)
        say(f"{'':>7} change between the last two levels: " + ", ".join(f"{c:.3%}" for c in change))
        report[f"problem{p}"] = {
            **dict(zip(_names(p), fine.tolist())),
            "relative_change_last_two_levels": change.tolist(),
        }
    if args.json and comm.rank == 0:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The JAX quadrature-point path against the same law written in UFL.

Land et al. (2015) problem 2 (isotropic Guccione, C = 10 kPa, with the
log-barrier of ``benchmarks/land2015.py``) is solved twice at one mesh size:
once with the law evaluated by the JAX kernel at quadrature points and
assembled by the material-agnostic forms, once with the strain energy written
directly in UFL (FFCx generates its stress and tangent).  Both use the same
mesh, quadrature rule, load steps and PETSc options, so they take the same
Newton iterations; the ratio of wall times (set-up and form compilation
excluded, warm JIT caches) is the cost of the JAX path.  Usage::

    python benchmarks/jax_vs_ufl.py --json out.json   # {"jax_s", "ufl_s", "ratio", "same_answer"}
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from organfem._dolfinx import MPI, ufl
from organfem.materials import Guccione, VolumetricPenalty
from organfem.mechanics import Domain, Fixed, HyperelasticProblem, Pressure, probe, ramp
from organfem.meshing import lv_ellipsoid

C, BARRIER = 10.0, 5.0  # Land problem 2; kappa = BARRIER * C as in land2015.py
APEX = np.array([[0.0, 0.0, -17.0], [0.0, 0.0, -20.0]])


def guccione_ufl(E, R):
    """Isotropic Guccione plus the log barrier, in UFL (problem 2: bf = bt = bfs = 1)."""
    J = ufl.sqrt(ufl.det(ufl.Identity(3) + 2 * E))
    return 0.5 * C * (ufl.exp(ufl.inner(E, E)) - 1) + 0.5 * BARRIER * C * ufl.ln(J) ** 2


def run(domain: Domain, law, prefix: str, steps: int) -> tuple[float, np.ndarray, int]:
    """Build (untimed) and solve (timed); returns seconds, apex z, Newton iterations."""
    problem = HyperelasticProblem(
        domain,
        law,
        constraints=[Fixed("base")],
        loads=[Pressure("endo", 10.0)],
        formulation="mixed",
        petsc_options_prefix=prefix,
    )
    domain.comm.barrier()
    start = time.perf_counter()
    result = ramp(problem, steps)
    seconds = domain.comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
    apex = APEX[:, 2] + probe(problem.displacement(), APEX)[:, 2]
    problem.close()  # frees its PETSc objects and options prefix
    return seconds, apex, result.newton_iterations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--h", type=float, default=2.0, help="mesh size [mm] (default 2: mid level)")
    parser.add_argument("--steps", type=int, default=10, help="load steps")
    parser.add_argument("--repeats", type=int, default=3, help="solves per path; the median is kept")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    comm = MPI.COMM_WORLD
    mesh = lv_ellipsoid(h=args.h) if comm.rank == 0 else None
    domain = Domain.from_meshdata(mesh, comm)
    jax_law = Guccione.land2015_problem2() + VolumetricPenalty(kappa=BARRIER * C, kind="log")

    # Warm-up: compile forms, expressions and the JAX kernel once.
    run(domain, jax_law, "warm_jax_", 1)
    run(domain, guccione_ufl, "warm_ufl_", 1)
    times: dict[str, list[float]] = {"jax": [], "ufl": []}
    answers, iterations = {}, {}
    for i in range(args.repeats):  # interleaved, so drifts in machine load hit both
        for name, law in (("jax", jax_law), ("ufl", guccione_ufl)):
            seconds, answers[name], iterations[name] = run(domain, law, f"{name}{i}_", args.steps)
            times[name].append(seconds)
    jax_s, ufl_s = float(np.median(times["jax"])), float(np.median(times["ufl"]))
    same = bool(np.allclose(answers["jax"], answers["ufl"], rtol=1e-8, atol=0.0))
    report = {
        "jax_s": jax_s,
        "ufl_s": ufl_s,
        "ratio": jax_s / ufl_s,
        "same_answer": same,
        "h_mm": args.h,
        "newton_iterations": iterations,
        "apex_z_mm": {k: v.tolist() for k, v in answers.items()},
        "all_times_s": times,
        "mpi_ranks": comm.size,
    }
    if comm.rank == 0:
        print(f"mesh h = {args.h} mm, {args.steps} load steps, median of {args.repeats} solves")
        print(f"{'path':>5} {'time [s]':>9} {'newton':>6}  apex z [mm]")
        for name in ("jax", "ufl"):
            print(f"{name:>5} {report[name + '_s']:>9.2f} {iterations[name]:>6}  {answers[name]}")
        print(f"ratio JAX/UFL = {report['ratio']:.3f}; same answer: {same}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

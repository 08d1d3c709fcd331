"""Penalty contact, stent in a vessel: convergence with mesh and penalty together.

A quarter of a thick incompressible neo-Hookean tube (Ri = 10, Ro = 13,
length 2 mm, mu = 10 kPa; plane strain by rollers on both ends) is pushed
out by a rigid cylinder whose radius grows from Ri to rc = 11.5 mm.  The
contact pressure has the closed form (see tests/test_contact.py)

    p_c = mu/2 [ln(Ro^2/ro^2) - A/ro^2 - ln(Ri^2/rc^2) + A/rc^2],
    A = rc^2 - Ri^2,  ro^2 = Ro^2 + A.

Each level refines the mesh and the penalty together, ``eps = c mu / h``
(``c = 100`` by default): the penalty error -(dp_c/drc) p_c/eps then falls
like h.  The table gives the largest nodal pressure and the mean pressure
(from the resultant force and the contact area of the quarter cylinder,
``|F| pi / (2 sqrt 2 area)``), their errors against p_c, the largest
penetration, Newton iterations and wall time (meshing included).  Usage::

    python benchmarks/contact_convergence.py                 # h = 3, 2, 1.5, 1 mm; ~1 min on 2 cores
    python benchmarks/contact_convergence.py --json out.json
    python benchmarks/contact_convergence.py --levels 2 1 0.75 --c 100
    python benchmarks/contact_convergence.py --obstacle frame    # a TAVI frame (mechanics.Frame)
    mpirun -n 2 python benchmarks/contact_convergence.py

Solver: Newton with MUMPS and the backtracking line search ("bt"); the
default critical-point search ("cp") stalls on the mixed (u, p) saddle point
at the onset of contact (22 iterations instead of 13 at h = 1.5 mm).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass

from organfem._dolfinx import MPI
from organfem.materials import NeoHookean
from organfem.mechanics import (
    Contact,
    Cylinder,
    Frame,
    Domain,
    Fixed,
    HyperelasticProblem,
    Material,
    Model,
    Table,
    preset,
    simulate,
)
from organfem.meshing import tube

#: Geometry [mm], shear modulus [kPa] and final cylinder radius [mm].
RI, RO, LENGTH, MU, RC = 10.0, 13.0, 2.0, 10.0, 11.5
#: Default mesh sizes h [mm], penalty factor c (eps = c mu / h) and steps.
LEVELS = (3.0, 2.0, 1.5, 1.0)
C_PENALTY = 100.0
STEPS = 4


def contact_pressure(rc: float = RC) -> float:
    """Closed-form contact pressure [kPa] at inner radius ``rc`` [mm]."""
    A = rc**2 - RI**2
    ro2 = RO**2 + A
    return MU / 2 * (math.log(RO**2 / ro2) - A / ro2 - math.log(RI**2 / rc**2) + A / rc**2)


@dataclass(frozen=True)
class Level:
    """One solve at one mesh size."""

    h: float
    cells: int
    dofs: int
    eps: float
    p_max: float
    p_mean: float
    p_max_error: float
    p_mean_error: float
    penetration: float
    newton_iterations: int
    seconds: float


def obstacle(kind: str):
    """The growing cylinder, as a ``Cylinder`` or as a rigid valve ``Frame``
    (nominal diameter 2 RC, crimped 2 RI, from z = -5 to 7 mm: longer than
    the tube, so its gap beside the tube is the cylinder's)."""
    if kind == "frame":
        return Frame(heights=[0.0, 12.0], diameters=[2 * RC, 2 * RC], crimped_diameter=2 * RI,
                     expansion=Table([0.0, 1.0], [0.0, 1.0]), origin=(0.0, 0.0, -5.0))
    return Cylinder(radius=Table([0.0, 1.0], [RI, RC]))


def solve(h: float, *, c: float = C_PENALTY, steps: int = STEPS, comm=MPI.COMM_WORLD,
          kind: str = "cylinder") -> Level:
    """The tube at mesh size ``h`` [mm] with ``eps = c mu / h``. Collective."""
    start = time.perf_counter()
    mesh = tube(inner_radius=RI, outer_radius=RO, length=LENGTH, h=h, order=2) if comm.rank == 0 else None
    domain = Domain.from_meshdata(mesh, comm)
    eps = c * MU / h
    contact = Contact("inner", obstacle(kind), penalty=eps)
    model = Model(
        Material(NeoHookean(mu=MU, lmbda=0.0)),
        Fixed("x0", (0,)), Fixed("y0", (1,)), Fixed("z0", (2,)), Fixed("z1", (2,)),
        contact,
    )  # fmt: skip
    problem = HyperelasticProblem(
        domain, model, formulation="mixed", degree=2,
        petsc_options={**preset("newton-mumps"), "snes_linesearch_type": "bt"},
        petsc_options_prefix=f"contact_bench_{h:g}_",
    )  # fmt: skip
    result = simulate(problem, 1.0, 1.0 / steps)
    report = problem.term_output(contact).report()
    force = math.hypot(report.force[0], report.force[1])
    p_mean = force * math.pi / (2 * math.sqrt(2) * report.area)
    pc = contact_pressure()
    cells = domain.mesh.topology.index_map(3).size_global
    dofs = problem.num_dofs
    problem.close()
    seconds = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
    return Level(
        h, cells, dofs, eps, report.max_pressure, p_mean, report.max_pressure / pc - 1, p_mean / pc - 1,
        report.max_penetration, result.newton_iterations, seconds,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the closed form and the per-level table here")
    parser.add_argument("--levels", type=float, nargs="+", default=list(LEVELS), help="mesh sizes h [mm]")
    parser.add_argument("--c", type=float, default=C_PENALTY, help="penalty factor: eps = c mu / h")
    parser.add_argument("--steps", type=int, default=STEPS, help="time steps of the radius ramp")
    parser.add_argument("--obstacle", choices=("cylinder", "frame"), default="cylinder",
                        help="the rigid cylinder or a valve frame (mechanics.Frame)")
    args = parser.parse_args(argv)
    comm = MPI.COMM_WORLD
    say = print if comm.rank == 0 else (lambda *a, **k: None)

    pc = contact_pressure()
    say(f"closed form p_c = {pc:.6f} kPa (rc = {RC} mm); eps = {args.c:g} mu / h")
    say(
        f"{'h [mm]':>7} {'cells':>6} {'dofs':>7} {'eps':>8} {'p_max':>8} {'p_mean':>8} "
        f"{'err max':>8} {'err mean':>8} {'penetr.':>9} {'newton':>6} {'time [s]':>8}"
    )
    levels = []
    for h in args.levels:
        lv = solve(h, c=args.c, steps=args.steps, comm=comm, kind=args.obstacle)
        levels.append(lv)
        say(
            f"{lv.h:>7.3f} {lv.cells:>6} {lv.dofs:>7} {lv.eps:>8.1f} {lv.p_max:>8.5f} {lv.p_mean:>8.5f} "
            f"{lv.p_max_error:>+8.3%} {lv.p_mean_error:>+8.3%} {lv.penetration:>9.3e} "
            f"{lv.newton_iterations:>6} {lv.seconds:>8.1f}"
        )
    rates = [
        math.log(abs(a.p_mean_error / b.p_mean_error)) / math.log(a.h / b.h)
        for a, b in zip(levels, levels[1:])
    ]
    say("observed rates of the mean-pressure error: " + ", ".join(f"{r:.2f}" for r in rates))
    if args.json and comm.rank == 0:
        with open(args.json, "w") as f:
            json.dump(
                {"closed_form_kPa": pc, "c": args.c, "obstacle": args.obstacle, "levels": [dict(vars(lv)) for lv in levels],
                 "mean_pressure_rates": rates},
                f, indent=2,
            )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A short dynamic inflation of the thick sphere by a volume-driven cavity, serially or under MPI.

Usage: ``mpiexec -n 2 python tests/cavity_mpi_check.py OUT.json`` writes, from
rank 0, the final displacement at a few probe points, the cavity pressure (the
Lagrange multiplier) and volume, the kinetic energy and the Newton counts of
:func:`dynamic_inflation`.  ``tests/test_cavity.py`` imports the same function
to run it in one process and compares the two: the same discrete problem on
another partition must give the same answer to the Newton tolerance.

The sphere octant (:func:`sphere_domain`) is also the mesh of the quasi-static
tests of ``tests/test_cavity.py``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from organfem._dolfinx import MPI
from organfem.materials import NeoHookean
from organfem.mechanics import (
    Cavity,
    Domain,
    Fixed,
    GeneralisedAlpha,
    HyperelasticProblem,
    Inertia,
    Material,
    Model,
    Table,
    ViscousDamping,
    cavity_volume,
    probe,
    simulate,
)
from organfem.meshing import sphere_shell

__all__ = [
    "INNER_RADIUS",
    "OUTER_RADIUS",
    "MU",
    "PROBES",
    "STEPS",
    "T_END",
    "sphere_domain",
    "symmetry",
    "dynamic_inflation",
]

#: Thick sphere of the tests [mm] and its shear modulus [kPa].
INNER_RADIUS, OUTER_RADIUS, MU = 10.0, 15.0, 10.0
#: Duration [s] and number of equal steps of the dynamic run.
T_END, STEPS = 0.01, 5
#: Probe points inside the octant wall [mm]: mid-wall on the diagonal, and
#: off-diagonal points near the inner and the outer surface.
PROBES = np.array(
    [
        12.5 * np.array([1.0, 1.0, 1.0]) / np.sqrt(3.0),
        10.5 * np.array([0.8, 0.5, 0.33166247903554]),
        14.5 * np.array([0.2, 0.3, 0.93273790530888]),
    ]
)


def sphere_domain(comm: MPI.Comm, *, h: float = 3.0) -> Domain:
    """The octant of the shell 10 <= |x| <= 15 mm, curved P2 cells of size ``h``. Collective.

    Tags: ``inner``, ``outer``, and the symmetry planes ``x0``, ``y0``, ``z0``.
    """
    mesh = (
        sphere_shell(inner_radius=INNER_RADIUS, outer_radius=OUTER_RADIUS, h=h, order=2)
        if comm.rank == 0
        else None
    )
    return Domain.from_meshdata(mesh, comm)


def symmetry() -> tuple[Fixed, Fixed, Fixed]:
    """Rollers on the octant's symmetry planes: u_x = 0 on x0, u_y = 0 on y0, u_z = 0 on z0."""
    return Fixed("x0", (0,)), Fixed("y0", (1,)), Fixed("z0", (2,))


def dynamic_inflation(comm: MPI.Comm, *, prefix: str = "cavity_dynamic_") -> dict:
    """Inflate the sphere dynamically: V(t) from V0 to 1.3 V0 over 10 ms, 5 steps. Collective.

    Incompressible neo-Hookean wall (mu = 10 kPa, mixed u-p), myocardial
    density 1.06e-6 kg/mm^3, viscous damping eta = 0.1 kPa s,
    generalised-alpha with rho_inf = 0.8.  The shear-wave period of the wall,
    about 2 (Ro - Ri) / sqrt(mu / rho) = 10 mm / 3.07 m/s = 3 ms, is of the
    order of the 2 ms step, so inertia and damping are not negligible.

    Returns:
        ``displacement`` (probe values [mm], list of 3-vectors),
        ``pressure_kPa`` (the multiplier), ``volume_mm3``, ``target_mm3``,
        ``reference_mm3``, ``kinetic_energy_mJ``, ``iterations`` (per step),
        ``time`` [s] and ``ranks``.
    """
    domain = sphere_domain(comm)
    reference = cavity_volume(domain, None, "inner", axis=None)
    volume = Table([0.0, T_END], [reference, 1.3 * reference])
    model = Model(
        Material(NeoHookean(mu=MU, lmbda=0.0)),
        *symmetry(),
        Cavity("inner", volume=volume, axis=None),
        Inertia(1.06e-6),
        ViscousDamping(0.1),
    )
    problem = HyperelasticProblem(
        domain, model, formulation="mixed", integrator=GeneralisedAlpha(rho_inf=0.8),
        petsc_options_prefix=prefix,
    )  # fmt: skip
    try:
        result = simulate(problem, T_END, T_END / STEPS)
        scalars = problem.scalars()
        return {
            "displacement": probe(problem.displacement(), PROBES).tolist(),
            "pressure_kPa": problem.multipliers()["inner"],
            "volume_mm3": scalars["inner_volume_mm3"],
            "target_mm3": volume(problem.time),
            "reference_mm3": reference,
            "kinetic_energy_mJ": problem.kinetic_energy(),
            "iterations": [s.iterations for s in result.steps],
            "time": problem.time,
            "ranks": comm.size,
        }
    finally:
        problem.close()


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    values = dynamic_inflation(MPI.COMM_WORLD)
    if MPI.COMM_WORLD.rank == 0:
        args.out.write_text(json.dumps(values, indent=1))


if __name__ == "__main__":
    _main()

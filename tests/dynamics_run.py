"""A dynamic run of the beam that can be killed and resumed (for test_dynamics.py).

Usage::

    python tests/dynamics_run.py FOLDER [--kill-at K] [--kill-when before|after]

Integrates the clamped bar of :func:`bar_problem` (``land_beam(h=1.0)``,
neo-Hookean, generalised-alpha ``rho_inf = 0.8``, :data:`STEPS` steps of
:data:`DT`) with ``simulate(checkpoint=FOLDER/checkpoint,
results=ResultsWriter(FOLDER/results.vtkhdf, resume=True))``; ``on_step``
writes the displacement and velocity.  ``--kill-at K`` sends SIGKILL to this
process inside ``on_step`` of the K-th converged step of this process
(``before`` or ``after`` the results of that step are written).  A run that
gets to the end saves the final displacement and velocity arrays as
``FOLDER/final_u.npy`` and ``FOLDER/final_v.npy``.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

import numpy as np

from organfem._dolfinx import MPI
from organfem.io import ResultsWriter
from organfem.materials import NeoHookean
from organfem.mechanics import (
    Domain,
    Fixed,
    GeneralisedAlpha,
    HyperelasticProblem,
    Inertia,
    Material,
    Model,
    simulate,
)
from organfem.meshing import land_beam

MU, RHO, L = 1.0, 1e-6, 10.0  # kPa, kg/mm^3, mm
DT = 1e-3  # s; the clamped bar's period is 4 L sqrt(rho/E) = 0.0283 s
STEPS = 30
EPS = 0.05  # tip amplitude [mm]; strain amplitude EPS pi / (2 L) = 0.8 %


def bar_problem(
    prefix: str,
    integrator=None,
    *extra,
    domain: Domain | None = None,
    eps: float = EPS,
    petsc_options: dict | None = None,
) -> HyperelasticProblem:
    """The bar clamped in x at x0 (rollers on y0, z0) with an initial
    velocity in its first mode, ``v = eps w sin(pi x / (2 L)) e_x`` (tip
    amplitude ``eps`` [mm]), and any ``extra`` terms (dampers)."""
    if domain is None:
        comm = MPI.COMM_WORLD
        domain = Domain.from_meshdata(land_beam(h=1.0) if comm.rank == 0 else None, comm)
    model = Model(
        Material(NeoHookean(mu=MU, lmbda=0.0)),
        Inertia(RHO),
        Fixed("x0", (0,)),
        Fixed("y0", (1,)),
        Fixed("z0", (2,)),
        *extra,
    )
    problem = HyperelasticProblem(
        domain,
        model,
        integrator=integrator if integrator is not None else GeneralisedAlpha(rho_inf=0.8),
        petsc_options=petsc_options,
        petsc_options_prefix=prefix,
    )
    beta = np.pi / (2 * L)
    w = beta * np.sqrt(2 * MU / RHO)
    problem.initial_conditions(
        velocity=lambda x: np.stack([eps * w * np.sin(beta * x[0]), 0 * x[0], 0 * x[0]])
    )
    return problem


def run(folder: Path, kill_at: int | None = None, kill_when: str = "before") -> None:
    problem = bar_problem("dynamics_run_")
    count = 0
    with ResultsWriter(folder / "results.vtkhdf", problem.domain.mesh, resume=True) as out:

        def on_step(result) -> None:
            nonlocal count
            count += 1
            if count == kill_at and kill_when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            out.write(
                result.time,
                {"displacement": problem.displacement(), "velocity": problem.velocity()},
                {"step": float(problem.state.step)},
            )
            if count == kill_at and kill_when == "after":
                os.kill(os.getpid(), signal.SIGKILL)

        simulate(
            problem, STEPS * DT, DT, on_step=on_step, checkpoint=folder / "checkpoint", results=out
        )
    np.save(folder / "final_u.npy", problem.displacement().x.array)
    np.save(folder / "final_v.npy", problem.velocity().x.array)
    problem.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--kill-at", type=int, default=None)
    parser.add_argument("--kill-when", choices=("before", "after"), default="before")
    args = parser.parse_args()
    run(args.folder, args.kill_at, args.kill_when)

"""Dynamic LV with a volume-driven cavity: cost per time step at two mesh sizes.

One heartbeat-like stretch of an idealised left ventricle is integrated in
time at each mesh size, and the table gives, per level: cells, unknowns,
time steps, the median wall time per step, Newton iterations per step (mean,
max), how the solver time splits into assembly (with the JAX material
kernel) and linear solves (``SolveResult.assembly_seconds`` and
``solve_seconds``), and the range of the cavity pressure.  Usage::

    python benchmarks/dynamics.py                   # h = 3.0 and 2.0 mm, about 2 min on 2 cores
    python benchmarks/dynamics.py --json out.json
    mpirun -n 2 python benchmarks/dynamics.py --levels 2.0

Set-up (realistic in kind, small in size):

* Geometry: the truncated prolate ellipsoid of Land et al. (2015),
  :func:`organfem.meshing.lv_ellipsoid` (endocardial radii 7 / 17 mm,
  epicardial 10 / 20 mm, base plane z = 5 mm).  It is a small ventricle:
  the reference cavity holds 2.49 mL (2.41 and 2.45 mL on the flat-faced
  meshes of h = 3 and 2 mm; printed at run time), some 50 times less than
  an adult human LV (about 120 mL at end-diastole), so its volumes are those
  of a scaled-down ventricle; that is fine for measuring the cost per step.
* Fibres: rule-based helix from -60 deg (endo) to +60 deg (epi) in Land's
  convention (Streeter's right- to left-handed helix), as in
  ``solvers/lv_inflation.py``: ``partial(land2015_fibres, alpha_endo=-60,
  alpha_epi=60, t_tol=0.5)``.
* Law: Holzapfel-Ogden (2009) passive myocardium + log volumetric barrier
  (kappa = 50 kPa) + active stress ``T_a f0 (x) f0`` along the fibre, mixed
  Taylor-Hood P2/P1 (u, p) formulation (incompressible).
* Active tension ``Ta(t)``: the rising half of a twitch, 0 until 50 ms, a
  smooth rise to 60 kPa at 200 ms (150 ms rise).  Both tables are sampled
  every 1 ms from a C2 ``smoothstep`` (zero rate and curvature at both ends):
  the cavity pressure is a Lagrange multiplier that answers the volume's
  second derivative through the wall's inertia and viscosity, so a
  piecewise-linear volume curve sampled coarsely, or one starting with a
  jump in curvature, makes it oscillate from step to step.
* Base fixed (``Fixed("base")``); inertia 1.06e-6 kg/mm^3 (1060 kg/m^3);
  viscous damping ``S_visc = eta dE/dt`` with eta = 0.1 kPa s; no pericardial
  spring (the fixed base already removes rigid-body motion).
* Cavity ``"endo"`` driven by volume (the cavity pressure is a Lagrange
  multiplier solved with the displacement), truncated by the base plane
  (axis (0, 0, 1), base point (0, 0, 5)): filling from the reference volume
  V0 to 1.4 V0 over 0-80 ms (diastole, Ta = 0), isovolumic hold 80-110 ms
  while the tension builds, ejection back to V0 over 110-200 ms.
* Time: generalised-alpha (rho_inf = 0.8), dt = 5 ms, 0-200 ms (40 steps),
  from rest (initial_conditions: consistent acceleration and pressure); Newton with MUMPS LU (the
  ``newton-mumps`` preset, the only one that takes a volume-driven cavity).

The cavity pressure comes out physiological in shape and size: about
3.1 kPa (24 mmHg, above a normal end-diastolic pressure of about 8-12
mmHg: +40 % is a large filling for this small cavity) at the end of
filling, a rise through isovolumic contraction, and about 15.8 kPa
(119 mmHg) at the end of the ejection.  It still rises during ejection
because ``Ta`` keeps rising to 200 ms and no afterload (Windkessel) shapes
it; this run is a cost benchmark, not a cardiac cycle.

Wall time per step is the time between two converged steps as seen by
:func:`~organfem.mechanics.simulate` (so it includes any rejected, cut step,
but not the benchmark's own read-out of the cavity); the first step also
pays for JIT compilation, which the median hides and ``first_step_s``
shows.  ``setup_s`` (mesh, fibres, problem) assumes warm FFCx caches.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np

from organfem import units
from organfem._dolfinx import MPI
from organfem.fibres import land2015_fibres
from organfem.io import provenance
from organfem.materials import ActiveStress, HolzapfelOgden, VolumetricPenalty
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
    simulate,
)
from organfem.meshing import lv_ellipsoid

__all__ = ["main", "run"]

Z_BASE = 5.0  # base plane of lv_ellipsoid [mm]
BASE_POINT = (0.0, 0.0, Z_BASE)
AXIS = (0.0, 0.0, 1.0)
DENSITY = 1.06e-6  # kg/mm^3
ETA = 0.1  # kPa s
KAPPA = 50.0  # kPa
TA_MAX = 60.0  # kPa
FILL = 0.4  # relative filling volume
T_END, DT = 0.2, 0.005  # s
RHO_INF = 0.8
LEVELS = (3.0, 2.0)  # mesh sizes h [mm]


def _smoothstep(x: np.ndarray) -> np.ndarray:
    """0 -> 1 on [0, 1] with zero first and second derivatives at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x**3 * (10.0 - 15.0 * x + 6.0 * x * x)


#: Sample times of the tables [s]: 1 ms, finer than the step, as a measured trace would be.
_SAMPLES = np.linspace(0.0, 0.2, 201)


def active_tension() -> Table:
    """Ta(t) [kPa]: 0 until 50 ms, smooth rise to TA_MAX at 200 ms."""
    return Table(_SAMPLES, TA_MAX * _smoothstep((_SAMPLES - 0.05) / 0.15))


def cavity_volume_curve(v0: float) -> Table:
    """V(t) [mm^3]: fill to (1 + FILL) v0 by 80 ms, hold to 110 ms, eject to v0 at 200 ms."""
    t = _SAMPLES
    shape = _smoothstep(t / 0.08) - _smoothstep((t - 0.11) / 0.09)
    return Table(t, v0 * (1.0 + FILL * shape))


@dataclass(frozen=True)
class Level:
    """One dynamic run at one mesh size."""

    h: float
    cells: int
    dofs: int
    steps: int
    step_s_median: float
    first_step_s: float
    newton_mean: float
    newton_max: int
    assembly_s: float
    solve_s: float
    setup_s: float
    run_s: float
    v0_ml: float
    v_max_ml: float
    p_min_kpa: float
    p_max_kpa: float
    p_end_kpa: float


def run(h: float, *, t_end: float = T_END, dt: float = DT, comm=MPI.COMM_WORLD) -> tuple[Level, list]:
    """Build and integrate the LV at mesh size ``h`` [mm]. Collective.

    Returns the level's figures and the trace ``[(t [s], V [mm^3], p [kPa])]``.
    """
    start = time.perf_counter()
    domain = Domain.from_meshdata(lv_ellipsoid(h=h) if comm.rank == 0 else None, comm)
    v0 = cavity_volume(domain, None, "endo", axis=AXIS, base_point=BASE_POINT)
    passive = HolzapfelOgden.holzapfel_ogden_2009() + VolumetricPenalty(kappa=KAPPA, kind="log")
    law = passive + ActiveStress(Ta=0.0)  # Ta set from the table at every step
    fibres = partial(land2015_fibres, alpha_endo=-60.0, alpha_epi=60.0, t_tol=0.5)
    model = Model(
        Material(law, fibres=fibres, parameters={"Ta": active_tension()}),
        Fixed("base"),
        Inertia(DENSITY),
        ViscousDamping(ETA),
        Cavity("endo", volume=cavity_volume_curve(v0), axis=AXIS, base_point=BASE_POINT),
    )
    problem = HyperelasticProblem(
        domain,
        model,
        formulation="mixed",
        integrator=GeneralisedAlpha(rho_inf=RHO_INF),
        petsc_options_prefix=f"bench_dynamics_{str(h).replace('.', '_')}_",
    )
    # Start at rest: the consistent initial acceleration (about 0 here, since
    # V(t) and Ta(t) start with zero rate), the pressure that balances HO's
    # reference stress (S = a I at F = I) and the cavity multiplier.
    problem.initial_conditions()
    comm.barrier()
    setup_s = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)

    trace = [(0.0, v0, 0.0)]
    step_s: list[float] = []
    clock = [time.perf_counter()]

    def on_step(result) -> None:
        now = time.perf_counter()
        step_s.append(now - clock[0])
        scalars = problem.scalars()
        trace.append((result.time, scalars["endo_volume_mm3"], scalars["endo_pressure_kPa"]))
        clock[0] = time.perf_counter()  # the bookkeeping above is not the step's

    begin = time.perf_counter()
    clock[0] = begin
    result = simulate(problem, t_end, dt, on_step=on_step)
    run_s = comm.allreduce(time.perf_counter() - begin, op=MPI.MAX)
    step_s = [comm.allreduce(s, op=MPI.MAX) for s in step_s]
    steps = result.steps
    iterations = [s.iterations for s in steps]
    assembly = comm.allreduce(sum(s.assembly_seconds for s in steps), op=MPI.MAX)
    solve = comm.allreduce(sum(s.solve_seconds for s in steps), op=MPI.MAX)
    pressures = np.array([p for _, _, p in trace[1:]])
    level = Level(
        h=h,
        cells=domain.mesh.topology.index_map(3).size_global,
        dofs=problem.num_dofs,
        steps=len(steps),
        step_s_median=statistics.median(step_s),
        first_step_s=step_s[0],
        newton_mean=float(np.mean(iterations)),
        newton_max=int(max(iterations)),
        assembly_s=assembly,
        solve_s=solve,
        setup_s=setup_s,
        run_s=run_s,
        v0_ml=v0 / 1e3,
        v_max_ml=max(v for _, v, _ in trace) / 1e3,
        p_min_kpa=float(pressures.min()),
        p_max_kpa=float(pressures.max()),
        p_end_kpa=float(pressures[-1]),
    )
    problem.close()
    return level, trace


def _mmhg(p: float) -> float:
    return p / units.MMHG_IN_KPA


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=float, nargs="+", default=list(LEVELS), help="mesh sizes h [mm]")
    parser.add_argument("--t-end", type=float, default=T_END, help="end time [s] (default 0.2)")
    parser.add_argument("--dt", type=float, default=DT, help="time step [s] (default 0.005)")
    parser.add_argument("--trace", action="store_true", help="print t, V, p of every step")
    parser.add_argument("--json", help="write the table, the pressure-volume traces and provenance here")
    args = parser.parse_args(argv)
    comm = MPI.COMM_WORLD
    say = print if comm.rank == 0 else (lambda *a, **k: None)

    say(
        f"dynamic LV (Land 2015 ellipsoid), HO 2009 + Ta twitch to {TA_MAX:g} kPa, volume-driven cavity "
        f"(+{FILL:.0%}), generalised-alpha rho_inf={RHO_INF}, dt={args.dt * 1e3:g} ms to "
        f"{args.t_end * 1e3:g} ms, {comm.size} rank(s)"
    )
    levels, traces = [], []
    for h in args.levels:
        level, trace = run(h, t_end=args.t_end, dt=args.dt, comm=comm)
        levels.append(level)
        traces.append(trace)
        if args.trace:
            say(f"h = {h:g} mm: {'t [ms]':>7} {'V [mL]':>8} {'p [kPa]':>8} {'p [mmHg]':>9}")
            for t, v, p in trace:
                say(f"{'':>12} {t * 1e3:>7.1f} {v / 1e3:>8.4f} {p:>8.3f} {_mmhg(p):>9.2f}")

    say(
        f"{'h [mm]':>6} {'cells':>7} {'unknowns':>9} {'steps':>5} {'s/step':>7} {'newton':>10} "
        f"{'assembly':>8} {'solve':>6} {'setup s':>7} {'total s':>7}  cavity p [kPa] (mmHg)"
    )
    for lv in levels:
        busy = lv.assembly_s + lv.solve_s
        say(
            f"{lv.h:>6.2f} {lv.cells:>7} {lv.dofs:>9} {lv.steps:>5} {lv.step_s_median:>7.3f} "
            f"{lv.newton_mean:>5.2f} / {lv.newton_max:<2} "
            f"{lv.assembly_s / busy:>8.0%} {lv.solve_s / busy:>6.0%} "
            f"{lv.setup_s:>7.1f} {lv.run_s:>7.1f}  {lv.p_min_kpa:.2f} .. {lv.p_max_kpa:.2f} "
            f"({_mmhg(lv.p_min_kpa):.1f} .. {_mmhg(lv.p_max_kpa):.1f})"
        )
    lv = levels[-1]
    say(
        f"cavity: V0 = {lv.v0_ml:.3f} mL, filled to {lv.v_max_ml:.3f} mL; s/step is the median wall time "
        "of a step; newton is mean / max per step; assembly / solve split SolveResult.assembly_seconds "
        "and solve_seconds"
    )
    if args.json and comm.rank == 0:
        parameters = {
            "geometry": "lv_ellipsoid (Land et al. 2015)",
            "fibres": "land2015_fibres(alpha_endo=-60, alpha_epi=60, t_tol=0.5)",
            "law": "HolzapfelOgden.holzapfel_ogden_2009() + VolumetricPenalty(kappa=50, log) + ActiveStress",
            "formulation": "mixed P2/P1",
            "ta_max_kPa": TA_MAX,
            "fill": FILL,
            "density_kg_mm3": DENSITY,
            "eta_kPa_s": ETA,
            "rho_inf": RHO_INF,
            "dt_s": args.dt,
            "t_end_s": args.t_end,
            "levels_mm": args.levels,
        }
        report = {
            "levels": [asdict(lv) for lv in levels],
            "traces": {
                f"h={lv.h:g}": {"t_s": [t for t, _, _ in tr], "volume_mm3": [v for _, v, _ in tr],
                                "pressure_kPa": [p for _, _, p in tr]}
                for lv, tr in zip(levels, traces)
            },
            "provenance": provenance(parameters, {}, mpi_size=comm.size),
        }
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

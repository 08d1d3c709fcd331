"""Cardiac elastodynamics benchmark of Arostica et al. (2025), problem 1 (monoventricle).

Arostica R, Nolte D, Brown A, et al. (2025) "A software benchmark for cardiac
elastodynamics", Comput. Methods Appl. Mech. Engrg. 435: 117485,
doi 10.1016/j.cma.2024.117485.  Steps 0A (active stress only), 0B (endocardial
pressure only) and 1 (both) of the monoventricle, integrated over one beat
(T = 1 s), with the displacement of the two tracked material points and the
cavity volume recorded every 10 ms.  Usage::

    python benchmarks/cardiac_elastodynamics.py --json out.json     # the recorded run, ~60 min on 1 core
    python benchmarks/cardiac_elastodynamics.py --steps 1 --levels 9.5 --dt 0.002 --t-end 0.3

Set-up (the paper's SI values converted to organfem's mm, kPa, s, kg:
1 Pa = 1e-3 kPa, 1 Pa/m = 1e-6 kPa/mm, 1 Pa s/m = 1e-6 kPa s/mm,
1000 kg/m^3 = 1e-6 kg/mm^3):

* Geometry: :func:`organfem.meshing.arostica_ellipsoid`, long axis x, endo
  (r_short, r_long) = (25, 90) mm, epi (35, 97) mm, endocardial rim at
  x = 90 * 5/17 = 26.47 mm, epicardial rim at x = 97 * 5/20 = 24.25 mm, joined
  by a conical (non-planar) base; curved 10-node tetrahedra (``order=2``),
  so the P2 displacement lives on the exact-to-second-order geometry.
* Fibres: :func:`organfem.fibres.arostica_fibres` (helix -60 deg at the
  endocardium to +60 deg at the epicardium, the benchmark's rule), evaluated
  at the quadrature points (``t_tol=0.5`` lets through the points of
  straight-sided cells that lie just outside the ellipsoids, with ``--order 1``).
* Passive law: ``ModifiedHolzapfelOgden.arostica_2025()`` (HO 2009 with the
  benchmark's smooth fibre switch, k = 100) + ``VolumetricPenalty.arostica_2025()``
  (kappa/4 (J^2 - 1 - 2 ln J), kappa = 1e6 Pa = 1000 kPa); displacement
  formulation (compressible by penalty), P2, quadrature degree 4.  Viscous
  pseudo-potential eta/2 tr(Edot^2), eta = 100 Pa s = 0.1 kPa s
  (``ViscousDamping(0.1)``); density 1000 kg/m^3 (``Inertia(1e-6)``).
* Active stress (steps 0A and 1): ``S_a = tau f0 (x) f0`` with the Bestel
  tension ``tau`` of ``BestelActiveTension.arostica_2025()`` (sigma0 = 150
  kPa, alpha_max = 5 /s, alpha_min = -30 /s, t_sys = 0.16 s, t_dias = 0.484 s,
  gamma = 5 ms), advanced per quadrature point by its exact exponential
  integrator with the activation sampled at mid-step.
* Endocardial pressure (steps 0B and 1): a follower load ``Pressure("endo",
  p(t))`` (traction ``-p J F^-T N`` on the deformed surface) with ``p(t)``
  from the benchmark's own ODE, :func:`endo_pressure_rate` (the three terms
  summed, as published), integrated by
  :func:`endo_pressure` to solver tolerance (DOP853, rtol 1e-11) and sampled
  every 0.05 ms (linear interpolation error below 2e-5 kPa).  It starts at
  p(0) = 0, rises towards 7/24 kPa before t_sys_pre = 0.17 s, then towards
  16 + 7/11 = 16.6 kPa (reaching 16.07 kPa at 0.482 s) and falls back at the
  rate 29 /s after t_dias_pre = 0.484 s.
* Boundary: epicardium, normal spring 1e8 Pa/m = 100 kPa/mm and normal
  dashpot 5e3 Pa s/m = 5e-3 kPa s/mm (``Spring("epi", 100, normal_only=True,
  damping=5e-3)``); base, full spring 1e5 Pa/m = 0.1 kPa/mm and dashpot
  5e-3 kPa s/mm.  No Dirichlet condition.
* Time: generalised-alpha with rho_inf = 2/3, the alpha_m = 0.2,
  alpha_f = 0.4 of the benchmark's reference code (finsberg/cardiac_benchmark,
  ``problem.py``; organfem's form is that of Arnold & Bruls 2007, with the
  loads at the end of the step), dt = 1 ms as published (also
  2 ms for the time-step study), T = 1 s, from rest
  (``initial_conditions``: u = v = 0, consistent acceleration, which is 0
  with no load at t = 0); Newton with MUMPS LU (``newton-mumps``).
* Outputs every 10 ms (101 samples over 1 s): displacement [mm] at the
  reference positions p0 = (25, 30, 0) mm (mid-wall, 0.11 mm apex-side of the
  base) and p1 = (0, 30, 0) mm (equator, mid-wall), and the cavity volume
  [mm^3] as the benchmark's reference code computes it
  (finsberg/cardiac_benchmark, ``docs/volume.md``): ``V = -int_endo y n_y da``
  over the deformed endocardium, ``cavity_volume(domain, u, "endo",
  axis=(0, 1, 0), base_point=(0, 0, 0))``.  The field ``(0, y, 0)`` has unit
  divergence and no flux through any plane ``x = const``, so V is the volume
  between the endocardium and the plane of its rim wherever the rim moves
  along the axis, as long as the rim stays in a plane normal to x (it does
  at rest, where V = 168.26 and 168.28 mL on the curved h = 9.5 and 7 mm
  meshes against 168.29 mL exact; where the rim tilts or warps, this
  definition, like the reference code's, does not see it).
* Meshes: curved tetrahedra need a mesh size for which gmsh's second-order
  mesh has no inverted cell: h = 9.5, 8.5, 7 and below work, h = 8 and 10 do
  not (``--order 1`` takes straight tetrahedra at any h, whose facets are
  chords of the surfaces: the cavity is then 2.7 % small at h = 10 mm).

The runs form an L: every mesh level at the largest time step, and the
coarsest level at every time step (``--levels 9.5 7 --dt 0.002 0.001``, the
default: (9.5 mm, 2 ms), (7 mm, 2 ms), (9.5 mm, 1 ms)); the JSON's
``t``, ``p0``, ``p1``, ``volume`` of each step are the finest mesh's curves,
every run's curves are under ``runs``; the printed table gives per step and run:
cells, unknowns, s/step (median wall time), Newton iterations per step,
peak |u(p0)| and its time, and the largest differences of the p0 and p1
curves between levels and between time steps.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np
from scipy.integrate import solve_ivp

from organfem._dolfinx import MPI
from organfem.fibres import arostica_fibres
from organfem.io import provenance
from organfem.materials import (
    ActiveStress,
    BestelActiveTension,
    ModifiedHolzapfelOgden,
    VolumetricPenalty,
)
from organfem.mechanics import (
    Domain,
    GeneralisedAlpha,
    HyperelasticProblem,
    Inertia,
    Material,
    Model,
    Pressure,
    Spring,
    Table,
    ViscousDamping,
    cavity_volume,
    probe,
    simulate,
)
from organfem.meshing import arostica_ellipsoid

__all__ = [
    "PRESSURE_PARAMETERS",
    "STEPS",
    "StepRun",
    "build",
    "curve_difference",
    "differences",
    "endo_pressure",
    "endo_pressure_rate",
    "main",
    "run",
]

#: The benchmark's steps: (active tension, endocardial pressure).
STEPS = {"0A": (True, False), "0B": (False, True), "1": (True, True)}
POINTS = np.array([[25.0, 30.0, 0.0], [0.0, 30.0, 0.0]])  # p0, p1 [mm]
AXIS, BASE_POINT = (0.0, 1.0, 0.0), (0.0, 0.0, 0.0)  # V = -int y n_y da (see the docstring)
DENSITY = 1.0e-6  # kg/mm^3 (1000 kg/m^3)
ETA = 0.1  # kPa s (100 Pa s)
EPI_SPRING, EPI_DASHPOT = 100.0, 5.0e-3  # kPa/mm, kPa s/mm (1e8 Pa/m, 5e3 Pa s/m)
BASE_SPRING, BASE_DASHPOT = 0.1, 5.0e-3  # kPa/mm, kPa s/mm (1e5 Pa/m, 5e3 Pa s/m)
RHO_INF = 2.0 / 3.0  # alpha_m = 0.2, alpha_f = 0.4 of the reference code
T_END = 1.0  # s
SAMPLE = 0.01  # s between recorded samples
LEVELS = (9.5, 7.0)  # mesh sizes h [mm]
DTS = (0.002, 0.001)  # s

#: The pressure ODE's parameters, SI (s, 1/s) and kPa.
PRESSURE_PARAMETERS = dict(
    alpha_max=5.0, alpha_min=-30.0, gamma=0.005, t_sys_pre=0.17, t_dias_pre=0.484,
    alpha_pre=5.0, alpha_mid=1.0, sigma_pre=7.0, sigma_mid=16.0,
)  # fmt: skip


def _s_plus(d, gamma):
    return 0.5 * (1.0 + np.tanh(d / gamma))


def _s_minus(d, gamma):
    return 0.5 * (1.0 - np.tanh(d / gamma))


def endo_pressure_rate(t: float, p: float, **overrides) -> float:
    """dp/dt [kPa/s] of the benchmark's endocardial pressure at time ``t`` [s].

    ``dp/dt = -|b| p + sigma_mid |b|_+ + sigma_pre |g_pre|_+`` with
    ``b = a_pre(t) + alpha_pre g_pre(t) + alpha_mid``, ``g_pre = S-(t -
    t_dias_pre)``, ``a_pre = alpha_max f_pre + alpha_min (1 - f_pre)``,
    ``f_pre = S+(t - t_sys_pre) S-(t - t_dias_pre)``, ``S+-(d) = (1 +-
    tanh(d / gamma)) / 2`` (Arostica et al. 2025, problem 1).  The three
    terms are summed.

    Args:
        t: time [s].
        p: pressure [kPa].
        overrides: parameters to replace in :data:`PRESSURE_PARAMETERS`.
    """
    c = {**PRESSURE_PARAMETERS, **overrides}
    g = _s_minus(t - c["t_dias_pre"], c["gamma"])
    f = _s_plus(t - c["t_sys_pre"], c["gamma"]) * g
    a = c["alpha_max"] * f + c["alpha_min"] * (1.0 - f)
    b = a + c["alpha_pre"] * g + c["alpha_mid"]
    return -abs(b) * p + c["sigma_mid"] * max(b, 0.0) + c["sigma_pre"] * max(g, 0.0)


def endo_pressure(t_end: float = T_END, *, sample: float = 5.0e-5) -> Table:
    """The endocardial pressure p(t) [kPa] on [0, t_end], from p(0) = 0.

    Integrated with DOP853 (rtol 1e-11, atol 1e-12 kPa, steps at most gamma/5
    so that no switch is stepped over) and tabulated every ``sample`` [s].
    Piecewise-linear interpolation then errs by at most ``sample^2/8 max|p''|``:
    |p''| peaks at 6.3e4 kPa/s^2 (at t_dias_pre, where the pressure turns),
    so 2e-5 kPa at the default 0.05 ms (1.9e-5 kPa measured against a
    0.01 ms table).
    """
    n = max(int(math.ceil(t_end / sample - 1e-9)), 1)
    times = np.linspace(0.0, n * sample, n + 1)  # covers [0, t_end]
    sol = solve_ivp(
        lambda t, y: [endo_pressure_rate(t, y[0])],
        (0.0, float(times[-1])), [0.0], method="DOP853", t_eval=times,
        rtol=1e-11, atol=1e-12, max_step=PRESSURE_PARAMETERS["gamma"] / 5,
    )  # fmt: skip
    if not sol.success:  # pragma: no cover - a smooth scalar ODE
        raise RuntimeError(f"endo_pressure: {sol.message}")
    return Table(sol.t, sol.y[0])


@dataclass
class StepRun:
    """One benchmark step at one mesh size and time step, with its recorded curves."""

    step: str
    h: float
    dt: float
    t_end: float
    cells: int
    dofs: int
    steps: int
    step_s_median: float
    first_step_s: float
    newton_mean: float
    newton_max: int
    setup_s: float
    run_s: float
    t: list
    p0: list
    p1: list
    volume: list

    @property
    def peak_p0(self) -> tuple[float, float]:
        """(max |u(p0)| [mm], its time [s]) over the samples."""
        norms = np.linalg.norm(np.asarray(self.p0), axis=1)
        k = int(np.argmax(norms))
        return float(norms[k]), float(self.t[k])


def build(
    step: str, h: float, *, order: int = 2, t_end: float = T_END, prefix: str = "arostica_",
    comm=MPI.COMM_WORLD,
):  # fmt: skip
    """The problem of benchmark step ``step`` ("0A", "0B", "1") at mesh size ``h`` [mm]. Collective.

    Returns ``(domain, problem)``; the problem is at rest at t = 0
    (``initial_conditions`` called).
    """
    if step not in STEPS:
        raise ValueError(f"step={step!r} must be one of {sorted(STEPS)}")
    active, pressure = STEPS[step]
    mesh = arostica_ellipsoid(h=h, order=order) if comm.rank == 0 else None
    domain = Domain.from_meshdata(mesh, comm)
    law = ModifiedHolzapfelOgden.arostica_2025() + VolumetricPenalty.arostica_2025()
    if active:
        law = law + ActiveStress(Ta=0.0)  # Ta = the Bestel tension of each point
    terms = [
        Material(law, fibres=partial(arostica_fibres, t_tol=0.5),
                 internal=BestelActiveTension.arostica_2025() if active else None),
        Inertia(DENSITY),
        ViscousDamping(ETA),
        Spring("epi", stiffness=EPI_SPRING, damping=EPI_DASHPOT, normal_only=True),
        Spring("base", stiffness=BASE_SPRING, damping=BASE_DASHPOT),
    ]  # fmt: skip
    if pressure:
        terms.append(Pressure("endo", endo_pressure(t_end + 0.01)))
    problem = HyperelasticProblem(
        domain, Model(*terms), formulation="displacement", degree=2,
        integrator=GeneralisedAlpha(rho_inf=RHO_INF), petsc_options_prefix=prefix,
    )  # fmt: skip
    problem.initial_conditions()
    return domain, problem


def run(
    step: str, h: float, dt: float, *, order: int = 2, t_end: float = T_END,
    sample: float = SAMPLE, comm=MPI.COMM_WORLD, progress=None,
) -> StepRun:  # fmt: skip
    """Integrate benchmark step ``step`` at mesh size ``h`` [mm], time step ``dt`` [s]. Collective.

    Records the displacement [mm] of p0 and p1 and the cavity volume [mm^3]
    at t = 0 and every ``sample`` [s] (which ``dt`` must divide) up to ``t_end``.
    """
    per_sample = sample / dt
    if abs(per_sample - round(per_sample)) > 1e-9:
        raise ValueError(f"dt={dt!r} s must divide the sampling interval {sample!r} s")
    start = time.perf_counter()
    tag = f"arostica_{step}_{h:g}_{dt * 1e3:g}".replace(".", "_")
    domain, problem = build(step, h, order=order, t_end=t_end, prefix=tag + "_", comm=comm)
    setup_s = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
    t_s, p0, p1, vol = [], [], [], []

    def record(t: float) -> None:
        u = problem.displacement()
        values = probe(u, POINTS)
        t_s.append(round(t, 9))
        p0.append(values[0].tolist())
        p1.append(values[1].tolist())
        vol.append(cavity_volume(domain, u, "endo", axis=AXIS, base_point=BASE_POINT))

    record(0.0)
    step_s: list[float] = []
    clock = [time.perf_counter()]

    def on_step(result) -> None:
        step_s.append(time.perf_counter() - clock[0])
        k = result.time / sample
        if abs(k - round(k)) < 1e-6:
            record(result.time)
            if progress is not None:
                progress(f"  {step} h={h:g} dt={dt * 1e3:g} ms: t = {result.time:.3f} s, "
                         f"|u(p0)| = {np.linalg.norm(p0[-1]):.3f} mm, V = {vol[-1] / 1e3:.2f} mL, "
                         f"{statistics.median(step_s):.2f} s/step")  # fmt: skip
        clock[0] = time.perf_counter()

    begin = time.perf_counter()
    result = simulate(problem, t_end, dt, on_step=on_step)
    run_s = comm.allreduce(time.perf_counter() - begin, op=MPI.MAX)
    iterations = [s.iterations for s in result.steps]
    out = StepRun(
        step=step, h=h, dt=dt, t_end=t_end,
        cells=domain.mesh.topology.index_map(3).size_global, dofs=problem.num_dofs,
        steps=len(result.steps),
        step_s_median=statistics.median(step_s), first_step_s=step_s[0],
        newton_mean=float(np.mean(iterations)), newton_max=int(max(iterations)),
        setup_s=setup_s, run_s=run_s, t=t_s, p0=p0, p1=p1, volume=vol,
    )  # fmt: skip
    problem.close()
    return out


def curve_difference(a: StepRun, b: StepRun) -> dict[str, float]:
    """Largest differences between two runs' curves on their common samples.

    ``p0_mm``, ``p1_mm``: max over samples of the vector difference |u_a - u_b|
    [mm]; ``volume_mm3``: max |V_a - V_b|; ``peak_p0_mm``: difference of the
    peaks of |u(p0)|.
    """
    n = min(len(a.t), len(b.t))
    if not np.allclose(a.t[:n], b.t[:n]):
        raise ValueError("the runs were not sampled at the same times")
    d = {
        f"{name}_mm": float(
            np.linalg.norm(np.subtract(getattr(a, name)[:n], getattr(b, name)[:n]), axis=1).max()
        )
        for name in ("p0", "p1")
    }
    d["volume_mm3"] = float(np.abs(np.subtract(a.volume[:n], b.volume[:n])).max())
    d["peak_p0_mm"] = abs(a.peak_p0[0] - b.peak_p0[0])
    return d


def _plan(levels, dts) -> list[tuple[float, float]]:
    """(h, dt) of the runs: the coarsest level at every dt, then the finer levels at the largest dt."""
    coarse, big_dt = max(levels), max(dts)
    runs = [(coarse, dt) for dt in sorted(dts, reverse=True)]
    runs += [(h, big_dt) for h in sorted(levels, reverse=True) if (h, big_dt) not in runs]
    return runs[:1] + runs[len(dts):] + runs[1:len(dts)]  # levels before the smaller steps


def differences(runs: list[StepRun]) -> dict[str, dict[str, float]]:
    """Curve differences of one step's runs: between consecutive levels at the
    largest dt, and between each smaller dt and the largest at the coarsest level."""
    by = {(r.h, r.dt): r for r in runs}
    levels = sorted({r.h for r in runs}, reverse=True)
    dts = sorted({r.dt for r in runs}, reverse=True)
    out = {}
    for a, b in zip(levels, levels[1:]):
        if (a, dts[0]) in by and (b, dts[0]) in by:
            out[f"h {a:g} vs {b:g} mm (dt {dts[0] * 1e3:g} ms)"] = curve_difference(
                by[(a, dts[0])], by[(b, dts[0])])  # fmt: skip
    for dt in dts[1:]:
        if (levels[0], dts[0]) in by and (levels[0], dt) in by:
            out[f"dt {dts[0] * 1e3:g} vs {dt * 1e3:g} ms (h {levels[0]:g} mm)"] = curve_difference(
                by[(levels[0], dts[0])], by[(levels[0], dt)])  # fmt: skip
    return out


def _report(runs: dict[str, list[StepRun]], args, comm) -> dict:
    parameters = {
        "benchmark": "Arostica et al. 2025, CMAME 435:117485, problem 1 (monoventricle)",
        "geometry": f"arostica_ellipsoid(order={args.order})",
        "fibres": "arostica_fibres (-60/+60 deg), t_tol=0.5",
        "law": "ModifiedHolzapfelOgden.arostica_2025() + VolumetricPenalty.arostica_2025() [+ ActiveStress]",
        "active": "BestelActiveTension.arostica_2025()", "pressure": PRESSURE_PARAMETERS,
        "formulation": "displacement P2", "density_kg_mm3": DENSITY, "eta_kPa_s": ETA,
        "epi_spring_kPa_mm": EPI_SPRING, "epi_dashpot_kPa_s_mm": EPI_DASHPOT,
        "base_spring_kPa_mm": BASE_SPRING, "base_dashpot_kPa_s_mm": BASE_DASHPOT,
        "integrator": f"GeneralisedAlpha(rho_inf={RHO_INF:.6g})", "points_mm": POINTS.tolist(),
        "volume": "cavity_volume(endo, axis=(0,1,0), base_point=(0,0,0)): -int y n_y da",
        "levels_mm": args.levels, "dt_s": args.dt, "t_end_s": args.t_end, "sample_s": SAMPLE,
    }  # fmt: skip
    report: dict = {"levels_mm": sorted(args.levels, reverse=True), "dt_s": sorted(args.dt, reverse=True),
                    "order": args.order}  # fmt: skip
    for step, rs in runs.items():
        if not rs:
            continue
        # The recorded curves: the finest level at the largest dt (the finest
        # mesh run), or the finest run so far.
        fine = min(rs, key=lambda r: (r.h, -r.dt))
        report[f"step_{step}"] = {
            "h": fine.h, "dt": fine.dt, "t": fine.t, "p0": fine.p0, "p1": fine.p1, "volume": fine.volume,
            "runs": [asdict(r) for r in rs], "differences": differences(rs),
        }  # fmt: skip
    report["provenance"] = provenance(parameters, {}, mpi_size=comm.size)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=list(STEPS),
                        help="benchmark steps (default: 0A 0B 1)")
    parser.add_argument("--levels", type=float, nargs="+", default=list(LEVELS), help="mesh sizes h [mm]")
    parser.add_argument("--dt", type=float, nargs="+", default=list(DTS), help="time steps [s]")
    parser.add_argument("--t-end", type=float, default=T_END, help="end time [s] (default 1)")
    parser.add_argument("--order", type=int, default=2, choices=(1, 2),
                        help="geometry order of the mesh (2: curved tetrahedra, where gmsh makes them "
                             "without inverted cells: h = 9.5, 8.5, 7, not 8 or 10)")
    parser.add_argument("--json", help="write the curves, the table and provenance here (after every run)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)  # fmt: skip
    comm = MPI.COMM_WORLD
    say = print if comm.rank == 0 else (lambda *a, **k: None)
    progress = None if args.quiet else (lambda s: say(s, flush=True))
    plan = _plan(args.levels, args.dt)
    say(f"Arostica et al. (2025) monoventricle, steps {' '.join(args.steps)}; runs (h [mm], dt [ms]): "
        + ", ".join(f"({h:g}, {dt * 1e3:g})" for h, dt in plan) + f"; T = {args.t_end:g} s", flush=True)  # fmt: skip

    runs: dict[str, list[StepRun]] = {step: [] for step in args.steps}
    for h, dt in plan:
        for step in args.steps:
            runs[step].append(run(step, h, dt, order=args.order, t_end=args.t_end, comm=comm,
                                  progress=progress))  # fmt: skip
            if args.json and comm.rank == 0:  # rewritten after every run: a killed run keeps its finished ones
                with open(args.json, "w") as f:
                    json.dump(_report(runs, args, comm), f, separators=(",", ":"))

    say(f"{'step':>4} {'h [mm]':>6} {'dt [ms]':>7} {'cells':>6} {'unknowns':>8} {'T [s]':>5} "
        f"{'s/step':>6} {'newton':>9} {'peak |u(p0)| [mm]':>17} {'at t [s]':>8} {'min V [mL]':>10}")  # fmt: skip
    for step, rs in runs.items():
        for r in rs:
            peak, at = r.peak_p0
            say(f"{step:>4} {r.h:>6g} {r.dt * 1e3:>7g} {r.cells:>6} {r.dofs:>8} {r.t_end:>5g} "
                f"{r.step_s_median:>6.2f} {r.newton_mean:>5.2f} / {r.newton_max:<2} {peak:>17.3f} {at:>8.2f} "
                f"{min(r.volume) / 1e3:>10.2f}")  # fmt: skip
    say("largest differences over the common samples: |du(p0)|, |du(p1)| [mm], |dV| [mL], d peak|u(p0)| [mm]")
    for step, rs in runs.items():
        for what, d in differences(rs).items():
            say(f"{step:>4} {what:<32} {d['p0_mm']:>8.3f} {d['p1_mm']:>8.3f} {d['volume_mm3'] / 1e3:>8.3f} "
                f"{d['peak_p0_mm']:>8.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

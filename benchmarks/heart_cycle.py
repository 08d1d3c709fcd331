"""Heartbeats of the adult LV coupled to the closed loop: cost per beat at two mesh sizes.

The model is the scenario's (``solvers/heart_cycle.py``: Holzapfel-Ogden
myocardium with the benchmark's volumetric penalty, Bestel active tension,
inertia, viscous damping, springs at the base and epicardium, the LV cavity
coupled to the closed loop of Regazzoni et al. 2022), built with the
scenario's own functions.  At each mesh size the LV starts at rest in
mid-diastole (t = 0.45 s), fills until the first contraction (0.8 s) and beats
``--beats`` times; the table gives, per size: cells, unknowns, the wall time
of the last beat (``beat_s``), Newton iterations per step (mean, max), the
split of the solver's time into assembly (forms and the JAX material
kernel and the coupling's 0D steps, ``SolveResult.assembly_seconds``) and
linear solves (MUMPS, ``solve_seconds``), and the last beat's figures: EDV, ESV, EF, peak LV pressure, EDP and
the drift of the blood volume.  Usage::

    python benchmarks/heart_cycle.py                    # h = 8 and 6 mm, dt = 5 ms, 1 beat
    python benchmarks/heart_cycle.py --json out.json
    mpirun -n 2 python benchmarks/heart_cycle.py --levels 8

The JSON holds ``{"levels": [...], "coarse": {...}, "beat_s", "unknowns",
"newton_per_step", "EDV_mL", "ESV_mL", "EF", "peak_lv_mmHg", "edp_mmHg",
"volume_drift_mL", "provenance": ...}``, the top-level figures those of the
first (coarse) level, with EF as a fraction.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from organfem import circulation, units
from organfem._dolfinx import MPI
from organfem.io import provenance
from organfem.mechanics import Domain, simulate
from organfem.meshing import lv_ellipsoid
from organfem.viz import beat_metrics

__all__ = ["main", "run"]

SCENARIO = runpy.run_path(str(Path(__file__).resolve().parents[1] / "solvers" / "heart_cycle.py"),
                          run_name="heart_cycle_benchmark")
LEVELS = (8.0, 6.0)  # mesh sizes h [mm]: about 1e4 unknowns (the coarse LV), then finer
DT = 0.005  # s
SIGMA0 = 140.0  # kPa, the scenario's default contractility


@dataclass(frozen=True)
class Level:
    """One run at one mesh size; figures of its last beat."""

    h: float
    cells: int
    unknowns: int
    steps_per_beat: int
    beat_s: float
    step_s_median: float
    newton_per_step: float
    newton_max: int
    assembly_s: float
    solve_s: float
    EDV_mL: float
    ESV_mL: float
    EF: float
    peak_lv_mmHg: float
    edp_mmHg: float
    volume_drift_mL: float


def run(h: float, *, beats: int = 1, dt: float = DT, comm=MPI.COMM_WORLD) -> Level:
    """Build the LV at mesh size ``h`` [mm] and run it through ``beats`` beats. Collective."""
    data = lv_ellipsoid(h=h, **SCENARIO["GEOMETRY"]) if comm.rank == 0 else None
    plane, _ = comm.bcast(data.plane_of("base") if comm.rank == 0 else None, root=0)
    domain = Domain.from_meshdata(data, comm)
    loop = circulation.ClosedLoop.regazzoni_2022()
    period = float(loop.period)
    _, law, active = SCENARIO["material"](SIGMA0, period)
    problem = SCENARIO["make_problem"](domain, SCENARIO["IDEALISED_FIBRES"], plane, loop, law, active,
                                       prefix=f"bench_heart_{str(h).replace('.', '_')}_")
    beat_start = period * beats
    trace, stamps = [], []

    def on_step(result) -> None:
        s = problem.scalars()
        trace.append((result, s["LV_volume_mm3"], s["LV_pressure_kPa"], s["blood_volume_mm3"]))
        stamps.append(time.perf_counter())

    simulate(problem, period * (1 + beats), dt, on_step=on_step)
    problem.close()
    t = np.array([r[0].time for r in trace])
    beat = np.flatnonzero(t > beat_start + 1e-9)  # the steps of the last beat
    steps = [trace[i][0] for i in beat]
    last = t >= t[beat[0] - 1] - 1e-12  # its samples, with the state it starts from
    volume, pressure = np.array([r[1] for r in trace])[last] / 1e3, np.array([r[2] for r in trace])[last]
    blood = np.array([r[3] for r in trace]) / 1e3
    figures = beat_metrics(volume, pressure / units.MMHG_IN_KPA, time=t[last])
    step_s = np.diff(np.asarray(stamps)[beat[0] - 1 :])
    return Level(
        h=h,
        cells=domain.mesh.topology.index_map(3).size_global,
        unknowns=problem.num_dofs,
        steps_per_beat=len(steps),
        beat_s=comm.allreduce(float(step_s.sum()), op=MPI.MAX),
        step_s_median=float(np.median(step_s)),
        newton_per_step=float(np.mean([s.iterations for s in steps])),
        newton_max=int(max(s.iterations for s in steps)),
        assembly_s=comm.allreduce(sum(s.assembly_seconds for s in steps), op=MPI.MAX),
        solve_s=comm.allreduce(sum(s.solve_seconds for s in steps), op=MPI.MAX),
        EDV_mL=figures.edv_ml,
        ESV_mL=figures.esv_ml,
        EF=figures.ef,
        peak_lv_mmHg=figures.peak_pressure_mmhg,
        edp_mmHg=figures.edp_mmhg,
        volume_drift_mL=float(np.ptp(blood)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=float, nargs="+", default=list(LEVELS), help="mesh sizes h [mm]")
    parser.add_argument("--beats", type=int, default=1, help="beats after the first filling")
    parser.add_argument("--dt", type=float, default=DT, help="time step [s] (default 0.005)")
    parser.add_argument("--json", help="write the table and provenance here")
    args = parser.parse_args(argv)
    comm = MPI.COMM_WORLD
    say = print if comm.rank == 0 else (lambda *a, **k: None)
    say(f"heart cycle: adult LV + closed loop (Regazzoni 2022), dt = {args.dt * 1e3:g} ms, "
        f"{args.beats} beat(s) after filling, {comm.size} rank(s)")
    levels = [run(h, beats=args.beats, dt=args.dt, comm=comm) for h in args.levels]
    say(f"{'h mm':>5} {'cells':>6} {'unknowns':>8} {'steps':>5} {'beat s':>7} {'s/step':>6} "
        f"{'newton':>9} {'assembly':>8} {'solve':>6} {'EDV':>6} {'ESV':>6} {'EF %':>5} "
        f"{'peak':>6} {'EDP':>5} {'drift mL':>8}")
    for lv in levels:
        busy = lv.assembly_s + lv.solve_s
        say(f"{lv.h:>5.1f} {lv.cells:>6} {lv.unknowns:>8} {lv.steps_per_beat:>5} {lv.beat_s:>7.1f} "
            f"{lv.step_s_median:>6.2f} {lv.newton_per_step:>4.2f} / {lv.newton_max:<2} "
            f"{lv.assembly_s / busy:>8.0%} {lv.solve_s / busy:>6.0%} "
            f"{lv.EDV_mL:>6.1f} {lv.ESV_mL:>6.1f} {100 * lv.EF:>5.1f} {lv.peak_lv_mmHg:>6.1f} "
            f"{lv.edp_mmHg:>5.1f} {lv.volume_drift_mL:>8.1e}")
    say("beat s: wall time of the last beat; newton: mean / max per step; assembly / solve: "
        "share of the solver's time (assembly includes the JAX material kernel and the 0D "
        "steps of the coupling); pressures in mmHg")
    if args.json and comm.rank == 0:
        coarse = asdict(levels[0])
        report = {
            "levels": [asdict(lv) for lv in levels],
            "coarse": coarse,
            **{key: coarse[key] for key in ("beat_s", "unknowns", "newton_per_step", "EDV_mL", "ESV_mL",
                                            "EF", "peak_lv_mmHg", "edp_mmHg")},
            "volume_drift_mL": coarse["volume_drift_mL"],
            "provenance": provenance({"levels_mm": args.levels, "dt_s": args.dt, "beats": args.beats,
                                      "sigma0_kPa": SIGMA0}, {}, mpi_size=comm.size),
        }
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

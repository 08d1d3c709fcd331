"""TAVI planning: wall time of one valve deployment and of a sizing/depth sweep.

The root is the parametric adult aortic root (:func:`organfem.meshing.aortic_root`,
default geometry, curved P2 tetrahedra) at mesh size ``--h`` (default 3 mm:
about 21k unknowns).  The script times

- meshing the root (rank 0 only, done once and shared by every deployment);
- one deployment (:func:`organfem.tavi.deploy`, ``--single``, default the
  S3-26 at 4 mm below the annulus) on all ranks of ``MPI.COMM_WORLD``:
  ``deployment_s``, target < 300 s;
- the sweep (:func:`organfem.tavi.sweep`) of every device of ``--devices``
  (default S3-23, S3-26, S3-29) at every depth of ``--depths`` (default 2, 4,
  6 mm): ``sweep_s``, target < 1800 s for the 3 x 3 sweep.  Under
  ``mpiexec -n N`` the sweep splits the communicator into ``--groups``
  groups (default one per rank) that deploy their share of the scenarios at
  the same time.

The table gives per scenario the contact pressure index on the septal band
(CPI, %), the eccentricity of the frame's inflow, the leak area, Newton
iterations and seconds (the deployment's own ``seconds``: everything from
the landmarks to the metrics), and where those seconds went:

- ``setup``: landmarks, distributing the mesh, building the problem (form
  compilation, first use of the material kernel);
- ``expansion``: the pseudo-time expansion of the frame (Newton), split into
  ``assembly`` (residual and Jacobian, with the material kernel) and
  ``linear`` (the rest of Newton: MUMPS factorisations and solves, line
  search) over the converged steps; work on steps that were cut is in
  ``expansion`` only;
- ``metrics``: gathering the solution to rank 0, the clinical metrics and
  freeing the problem.

The phases are timed by wrapping, for the duration of the run only, the
``simulate`` that :mod:`organfem.tavi.deploy` calls and the ``deploy`` that
:func:`organfem.tavi.sweep` calls (no library code changes; the overhead is
two clock reads per deployment).  The single deployment runs first and pays
any first-time compilation (FFCx forms, JAX kernels) on every rank, so the
sweep's figures are those of a warm process.  Usage::

    python benchmarks/tavi.py --quick                            # h = 4 mm, S3-26 at 2 and 6 mm
    mpiexec -n 2 python benchmarks/tavi.py --quick
    python benchmarks/tavi.py --json tavi.json                   # h = 3 mm: 1 deployment + the 3 x 3 sweep
    mpiexec -n 2 python benchmarks/tavi.py --json tavi_np2.json  # the sweep in 2 groups of 1 rank
    python benchmarks/tavi.py --skip-single --devices S3-26 --depths 4,6 --h 3.5

Measured on the 2-core development machine (h = 3 mm, 20 880 unknowns, 8
steps, nothing else running):

- one deployment (S3-26 at 4 mm: CPI 41.5 %, 108 Newton iterations): 83.3 s
  serial (assembly 29 s, linear 31 s, cut steps 17 s, setup 7 s), 50.6 s on
  2 ranks;
- the 3 x 3 sweep: 704.7 s serial, 412.1 s under ``mpiexec -n 2`` (2
  groups, 1.65x); the same metrics and Newton counts.  Per scenario 0.8 s
  (S3-23: no contact) to 198 s (S3-29 at 6 mm: 245 Newton iterations, 30
  steps).

Balloon-expandable frames (S3) are rigid at nominal size, so their inflow
eccentricity is 0 by construction; self-expanding ones (EV) give a nonzero
one.

The JSON (rank 0, written atomically after the single deployment and after
the sweep) holds ``{"deployment_s", "sweep_s", "unknowns",
"newton_iterations", "ranks", "groups", "h_mm", "order", "steps",
"meshing_s", "mesh", "single": {...}, "scenarios": [{"device", "depth_mm",
"cpi", "eccentricity", "leak_area_mm2", "newton_iterations", "seconds",
"phases", ...}], "targets": {...}, "provenance"}``; the top-level
``unknowns`` and ``newton_iterations`` are those of the single deployment
(of the first scenario with ``--skip-single``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
import time
import traceback

import numpy as np
from organfem._dolfinx import MPI
from organfem.io import write_atomically

__all__ = ["main", "run", "Phases"]

#: Default mesh size [mm], element order, devices, depths [mm] and expansion steps.
H = 3.0
ORDER = 2
DEVICES = "S3-23,S3-26,S3-29"
DEPTHS = "2,4,6"
SINGLE = "S3-26@4"
STEPS = 8
#: --quick: a coarser root and one device at two depths.
QUICK_H = 4.0
QUICK_DEVICES = "S3-26"
QUICK_DEPTHS = "2,6"
#: Targets [s]: one deployment, and the full sweep (default devices x depths at h = 3 mm).
DEPLOYMENT_TARGET_S = 300.0
SWEEP_TARGET_S = 1800.0


# ------------------------------------------------------------- utilities
def say(comm, *args) -> None:
    """Print on rank 0 of ``comm`` only."""
    if comm.rank == 0:
        print(*args, flush=True)


def write_json(comm, path: str | None, report: dict) -> None:
    """Write ``report`` to ``path`` atomically, on rank 0 only."""
    if not path or comm.rank != 0:
        return
    text = json.dumps(report, indent=2, default=_jsonable)
    write_atomically(path, lambda temporary: temporary.write_text(text), "benchmark JSON")


def _jsonable(x):
    if isinstance(x, np.generic | np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def _finite(x):
    """``x`` as a float, or None when missing or not finite (JSON has no NaN)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _floats(text: str) -> list[float]:
    return [float(x) for x in str(text).split(",") if x.strip()]


def parse_single(text: str) -> tuple[str, float]:
    """``"S3-26@4"`` -> ``("S3-26", 4.0)``."""
    name, sep, depth = str(text).partition("@")
    if not sep:
        raise argparse.ArgumentTypeError(f"--single {text!r}: expected DEVICE@DEPTH, e.g. S3-26@4")
    return name.strip(), float(depth)


# ------------------------------------------------------------ the phases
class Phases:
    """Phase timings of each deployment (see the module notes). A context manager.

    Inside the ``with`` block, :func:`organfem.tavi.sweep` calls
    :meth:`deploy` (which times the whole call) and every deployment's
    expansion goes through a timed ``simulate``; both are restored on exit.
    ``records`` holds, on the first rank of each deployment's communicator,
    one dict per finished deployment.
    """

    def __init__(self) -> None:
        self.records: list[dict] = []
        self._runs: dict[str, dict] = {}

    def __enter__(self) -> Phases:
        # organfem.tavi rebinds the attribute "deploy" to the function: take the modules themselves.
        self._deploy_module = importlib.import_module("organfem.tavi.deploy")
        self._sweep_module = importlib.import_module("organfem.tavi.sweep")
        self._simulate = self._deploy_module.simulate
        self._deploy = self._sweep_module.deploy
        self._deploy_module.simulate = self._timed_simulate
        self._sweep_module.deploy = self.deploy
        return self

    def __exit__(self, *exc) -> bool:
        self._deploy_module.simulate = self._simulate
        self._sweep_module.deploy = self._deploy
        return False

    def _timed_simulate(self, problem, *args, **kwargs):
        start = time.perf_counter()
        run = self._simulate(problem, *args, **kwargs)
        end = time.perf_counter()
        self._runs[problem.prefix] = {
            "start": start,
            "end": end,
            "assembly_s": float(sum(s.assembly_seconds for s in run.steps)),
            "linear_s": float(sum(s.solve_seconds for s in run.steps)),
        }
        return run

    def deploy(self, mesh, device, placement, **kwargs):
        """:func:`organfem.tavi.deploy`, timed by phase. Collective."""
        comm = kwargs.get("comm", MPI.COMM_WORLD)
        prefix = kwargs.get("prefix", "tavi_")
        start = time.perf_counter()
        try:
            deployment = self._deploy(mesh, device, placement, **kwargs)
        finally:
            run = self._runs.pop(prefix, None)
        end = time.perf_counter()
        record = {"device": device.name, "depth_mm": float(placement.depth), "total_s": end - start}
        if run is not None:
            record |= {
                "setup_s": run["start"] - start,
                "expansion_s": run["end"] - run["start"],
                "assembly_s": run["assembly_s"],
                "linear_s": run["linear_s"],
                "metrics_s": end - run["end"],
            }
            record["other_s"] = max(record["expansion_s"] - run["assembly_s"] - run["linear_s"], 0.0)
        if comm.rank == 0:
            self.records.append(record)
        return deployment


PHASE_KEYS = ("setup_s", "expansion_s", "assembly_s", "linear_s", "other_s", "metrics_s")


# --------------------------------------------------------------- the runs
def make_mesh(comm, h: float, order: int):
    """The default adult root on rank 0 (None elsewhere), its meshing time and size."""
    from organfem.meshing import aortic_root
    from organfem.mechanics import on_rank0

    start = time.perf_counter()
    mesh = on_rank0(comm, lambda: aortic_root(h=h, order=order))
    seconds = time.perf_counter() - start
    info = None
    if comm.rank == 0:
        info = {"cells": int(mesh.num_cells), "points": int(mesh.num_points),
                "displacement_dofs": 3 * int(mesh.num_points)}  # fmt: skip
    return mesh, comm.bcast(seconds, root=0), comm.bcast(info, root=0)


def deployment_row(d, phases: dict | None = None) -> dict:
    """The JSON row of one deployment (``d``: a :class:`organfem.tavi.Deployment`)."""
    row = {
        "device": d.device,
        "depth_mm": float(d.placement.depth),
        "cpi": _finite(d.contact.cpi),
        "eccentricity": _finite(d.eccentricity),
        "leak_area_mm2": _finite(d.leak_area),
        "leak_ml_per_beat": _finite(d.leak.volume_ml),
        "leak_grade": d.leak.grade,
        "septal_peak_kPa": _finite(d.contact.peak_kPa),
        "max_penetration_mm": _finite(d.max_penetration),
        "unknowns": int(d.unknowns),
        "newton_iterations": int(d.newton_iterations),
        "steps": int(d.steps),
        "seconds": float(d.seconds),
        "status": "ok",
    }
    if phases is not None:
        row["phases"] = {k: phases[k] for k in PHASE_KEYS if k in phases}
    return row


def run_single(comm, mesh, name: str, depth: float, *, steps: int, phases: Phases) -> dict:
    """One deployment on all of ``comm``, timed. Collective."""
    from organfem.devices import Placement, device
    from organfem.errors import OrganfemError

    dev = device(name)
    comm.Barrier()
    start = time.perf_counter()
    try:
        d = phases.deploy(mesh if comm.rank == 0 else None, dev, Placement(depth), comm=comm,
                          steps=steps, prefix="tavi_bench_single_")  # fmt: skip
    except OrganfemError as err:
        wall = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
        return {"device": dev.name, "depth_mm": depth, "status": "failed", "error": str(err), "wall_s": wall}
    wall = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
    record = phases.records[-1] if (comm.rank == 0 and phases.records) else None
    return deployment_row(d, record) | {"wall_s": wall, "ranks": comm.size}


def run_sweep(comm, mesh, devices: str, depths: list[float], *, steps: int, groups: int | None,
              phases: Phases) -> tuple[list[dict] | None, float, int]:
    """The sweep, timed; the ranked rows on rank 0 (None elsewhere). Collective."""
    from organfem.devices import devices as lookup
    from organfem.tavi import scenarios, sweep

    cases = scenarios(lookup(devices), depths)
    used_groups = min(comm.size, len(cases)) if groups is None else groups
    first = len(phases.records)
    comm.Barrier()
    start = time.perf_counter()
    outcomes = sweep(mesh if comm.rank == 0 else None, cases, comm=comm, groups=groups, steps=steps)
    wall = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
    gathered = comm.gather(phases.records[first:], root=0)
    if comm.rank != 0:
        return None, wall, used_groups
    timings = {(r["device"], r["depth_mm"]): r for part in gathered for r in part}
    rows = []
    for o in outcomes:
        key = (o.scenario.device.name, float(o.scenario.placement.depth))
        if o.deployment is None:
            rows.append({"device": key[0], "depth_mm": key[1], "status": "failed", "error": o.error,
                         "rank": o.rank})  # fmt: skip
            continue
        rows.append(deployment_row(o.deployment, timings.get(key)) | {"rank": o.rank, "reasons": o.reasons})
    return rows, wall, used_groups


# ------------------------------------------------------------- the report
def table(comm, title: str, rows: list[dict]) -> None:
    """The per-scenario table (rank 0)."""
    say(comm, f"\n{title}")
    say(comm, f"{'scenario':>14} {'CPI [%]':>8} {'ecc.':>7} {'leak [mm2]':>10} {'Newton':>6} {'steps':>5} "
        f"{'seconds':>8}   {'setup':>6} {'expans.':>7} {'= asm.':>6} {'+ lin.':>6} {'+ other':>7} {'metrics':>7}")  # fmt: skip
    for r in rows:
        name = f"{r['device']} @ {r['depth_mm']:g} mm"
        if r.get("status") != "ok":
            say(comm, f"{name:>14}  failed: {str(r.get('error'))[:100]}")
            continue

        def f(x, fmt):
            return "-" if x is None else format(x, fmt)

        p = r.get("phases") or {}
        say(comm, f"{name:>14} {f(None if r['cpi'] is None else 100 * r['cpi'], '8.1f')} "
            f"{f(r['eccentricity'], '7.4f')} {f(r['leak_area_mm2'], '10.2f')} {r['newton_iterations']:>6} "
            f"{r['steps']:>5} {r['seconds']:>8.1f}   {f(p.get('setup_s'), '6.1f')} {f(p.get('expansion_s'), '7.1f')} "
            f"{f(p.get('assembly_s'), '6.1f')} {f(p.get('linear_s'), '6.1f')} {f(p.get('other_s'), '7.1f')} "
            f"{f(p.get('metrics_s'), '7.1f')}")  # fmt: skip


def targets(report: dict, *, full_single: bool, full_sweep: bool) -> dict:
    """Targets with met / not met; ``comparable`` says whether the run is the one they are set for."""
    def verdict(value, limit, comparable):
        if value is None:
            return {"target_s": limit, "value_s": None, "met": None, "comparable": comparable}
        return {"target_s": limit, "value_s": value, "met": bool(value < limit), "comparable": comparable}

    return {
        "deployment": verdict(report.get("deployment_s"), DEPLOYMENT_TARGET_S, full_single),
        "sweep": verdict(report.get("sweep_s"), SWEEP_TARGET_S, full_sweep),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the figures here (rank 0, atomically, after each stage)")
    parser.add_argument("--h", type=float, help=f"mesh size [mm] (default {H:g}; --quick {QUICK_H:g})")
    parser.add_argument("--order", type=int, default=ORDER, help=f"element order (default {ORDER})")
    parser.add_argument("--devices", help=f"devices of the sweep, comma-separated (default {DEVICES}; "
                        f"--quick {QUICK_DEVICES})")  # fmt: skip
    parser.add_argument("--depths", help=f"implant depths [mm] of the sweep (default {DEPTHS}; --quick {QUICK_DEPTHS})")
    parser.add_argument("--single", type=parse_single, default=parse_single(SINGLE),
                        help=f"the single deployment, DEVICE@DEPTH (default {SINGLE})")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"pseudo-time steps of the expansion (default {STEPS})")
    parser.add_argument("--groups", type=int, help="concurrent deployments in the sweep (default: one per rank)")
    parser.add_argument("--skip-single", action="store_true", help="time the sweep only")
    parser.add_argument("--skip-sweep", action="store_true", help="time the single deployment only")
    parser.add_argument("--quick", action="store_true",
                        help=f"check the script: h = {QUICK_H:g} mm, {QUICK_DEVICES} at {QUICK_DEPTHS} mm")
    args = parser.parse_args(argv)
    h = args.h if args.h is not None else (QUICK_H if args.quick else H)
    device_names = args.devices or (QUICK_DEVICES if args.quick else DEVICES)
    depths = _floats(args.depths or (QUICK_DEPTHS if args.quick else DEPTHS))

    comm = MPI.COMM_WORLD
    from organfem.devices import devices as lookup

    device_names = ",".join(d.name for d in lookup(device_names))  # validate before meshing
    full_single = h == H and args.order == ORDER and args.steps == STEPS and args.single == parse_single(SINGLE)
    full_sweep = h == H and args.order == ORDER and args.steps == STEPS and device_names == DEVICES and depths == _floats(DEPTHS)
    report: dict = {
        "quick": args.quick, "ranks": comm.size, "h_mm": h, "order": args.order, "steps": args.steps,
        "devices": device_names.split(","), "depths_mm": depths,
        "deployment_s": None, "sweep_s": None, "unknowns": None, "newton_iterations": None,
        "single": None, "groups": None, "scenarios": [],
    }  # fmt: skip
    if comm.rank == 0:
        try:
            from organfem.io import provenance

            report["provenance"] = provenance(
                {k: report[k] for k in ("h_mm", "order", "steps", "devices", "depths_mm", "quick")}
                | {"single": list(args.single), "groups": args.groups}, {}, mpi_size=comm.size)  # fmt: skip
        except Exception as error:  # noqa: BLE001
            report["provenance"] = {"error": str(error)}

    say(comm, f"TAVI benchmark: {comm.size} rank(s), h = {h:g} mm, order {args.order}, {args.steps} steps")
    mesh, meshing_s, info = make_mesh(comm, h, args.order)
    report |= {"meshing_s": meshing_s, "mesh": info}
    say(comm, f"meshing: {meshing_s:.2f} s, {info['cells']} cells, {info['points']} points "
        f"({info['displacement_dofs']} displacement unknowns)")  # fmt: skip
    total_start = time.perf_counter()

    with Phases() as phases:
        if not args.skip_single:
            name, depth = args.single
            say(comm, f"\none deployment: {name} at {depth:g} mm on {comm.size} rank(s) ...")
            single = run_single(comm, mesh, name, depth, steps=args.steps, phases=phases)
            report["single"] = single
            report["deployment_s"] = single["wall_s"]
            if single.get("status") == "ok":
                report["unknowns"] = single["unknowns"]
                report["newton_iterations"] = single["newton_iterations"]
                table(comm, f"one deployment on {comm.size} rank(s): {single['wall_s']:.1f} s wall", [single])
            else:
                say(comm, f"  failed after {single['wall_s']:.1f} s: {single['error']}")
            report["targets"] = targets(report, full_single=full_single, full_sweep=full_sweep)
            write_json(comm, args.json, report)

        if not args.skip_sweep:
            n = len(device_names.split(",")) * len(depths)
            say(comm, f"\nsweep: {device_names} at {', '.join(f'{z:g}' for z in depths)} mm ({n} scenarios) ...")
            rows, sweep_s, groups = run_sweep(comm, mesh, device_names, depths, steps=args.steps,
                                              groups=args.groups, phases=phases)  # fmt: skip
            report |= {"sweep_s": sweep_s, "groups": groups}
            if comm.rank == 0:
                report["scenarios"] = rows
                ok = [r for r in rows if r.get("status") == "ok"]
                if report["unknowns"] is None and ok:
                    report["unknowns"] = ok[0]["unknowns"]
                    report["newton_iterations"] = ok[0]["newton_iterations"]
                busy = sum(r["seconds"] for r in ok)
                report["sweep_sum_of_deployments_s"] = busy
                report["sweep_speedup"] = busy / sweep_s if sweep_s > 0 else None
                table(comm, f"sweep, ranked best first: {sweep_s:.1f} s wall on {comm.size} rank(s) in "
                      f"{groups} group(s); {len(ok)} of {len(rows)} deployed", rows)  # fmt: skip
                say(comm, f"sum of the deployments' seconds {busy:.1f} s; "
                    f"concurrency {report['sweep_speedup']:.2f}x over {groups} group(s)")  # fmt: skip
                failed = [r for r in rows if r.get("status") != "ok"]
                if failed:
                    say(comm, f"{len(failed)} scenario(s) failed (see above)")

    report["elapsed_s"] = meshing_s + comm.allreduce(time.perf_counter() - total_start, op=MPI.MAX)
    report["targets"] = targets(report, full_single=full_single, full_sweep=full_sweep)
    say(comm, "\ntargets" + ("" if full_sweep else " (set for h = 3 mm, order 2, 8 steps and the 3 x 3 sweep; "
                             "this run differs, so they are indicative only)") + ":")  # fmt: skip
    for key, what in (("deployment", "one deployment"), ("sweep", "the sweep")):
        t = report["targets"][key]
        state = "not run" if t["met"] is None else ("met" if t["met"] else "NOT met")
        value = "-" if t["value_s"] is None else f"{t['value_s']:.1f} s"
        say(comm, f"  {what:<15} {value:>9} < {t['target_s']:.0f} s: {state}")
    say(comm, f"total {report['elapsed_s']:.0f} s (meshing included)")
    write_json(comm, args.json, report)
    return 0


def run(argv: list[str] | None = None) -> int:
    """:func:`main`; under MPI an error on one rank aborts every rank instead of leaving them waiting."""
    comm = MPI.COMM_WORLD
    try:
        return main(argv)
    except Exception:
        if comm.size == 1:
            raise
        traceback.print_exc()
        sys.stderr.flush()
        comm.Abort(1)
        return 1


if __name__ == "__main__":
    sys.exit(run())

"""Batched passive inflations of the adult LV: ``organfem.batch`` (pure JAX) against sequential DOLFINx runs.

The scenario is the passive filling of the adult LV ellipsoid
(:data:`organfem.meshing.ADULT_LV`, Land et al. 2015 fibres of -60/+60
degrees) with the Holzapfel-Ogden (2009) myocardium and the volumetric
penalty of Arostica et al. (2025), the base fixed, a follower pressure on the
endocardium ramped in 8 load steps to an end-diastolic pressure, and the
cavity volume recorded at 25, 50, 75 and 100 % of it (a pressure-volume
curve).  The N scenarios of a batch differ deterministically in stiffness
(one scale s in [1.0, 1.5] applied to both ``a`` and ``a_f``) and in
end-diastolic pressure (1.0-1.6 kPa, 7.5-12 mmHg).  Per mesh size
(``--sizes``, default the coarse LV h = 8 mm, about 10^4 unknowns, and
h = 6 mm) the script times:

- ``organfem.batch`` on the CPU (one :class:`~organfem.batch.Solver`,
  compiled once; the compile is timed separately as ``compile_s`` by cheap
  warm-up solves of 1 scenario and of one chunk): one scenario
  (``single_s``), a batch of 10 (``batch10_s``) and of 100 (``batch100_s``),
  each with its assembly / linear-solve split and Newton iterations;
- the same on the GPU when JAX sees one (``"gpu": null`` otherwise);
- the same scenarios run one after another through the DOLFINx path
  (:class:`organfem.mechanics.HyperelasticProblem`, the same discrete
  equations, Newton with a critical-point line search and MUMPS):
  ``--dolfinx-runs`` of them (default 10) timed, and the
  figure for 100 extrapolated from them (``100 x`` the mean of the runs
  after the first, which pays the form compilation as the JAX compile is
  paid by the warm-up; ``dolfinx_sequential100_extrapolated_from`` says
  from how many); skipped (null) where DOLFINx cannot be imported;
- on the coarse mesh, one scenario through each linear-solver route of
  :data:`organfem.batch.ROUTES` (each non-default route in a child process
  under ``--route-timeout``): wall time, Newton iterations, assembly and
  solve time, time per linear solve (also measured alone on the first
  Newton system, with its relative residual), and whether it converged.
  The dense route is skipped on the CPU above 5000 unknowns (an 8 n^2-byte
  matrix and an O(n^3) LU per Newton iteration: at 10^4 unknowns 0.75 GB and
  about 10 s per solve).

The agreement with DOLFINx is ``max_rel_diff_vs_dolfinx``: the largest
``|V_jax - V_dolfinx| / V_dolfinx`` at the end-diastolic pressure over the
DOLFINx runs (the first scenarios of the batch of 10).  Memory per scenario
is estimated from the sizes of the arrays of one lane of the compiled
assembly (cell matrices, the Voigt tangents, matrix values) and of the
stored result; the size of the sparse LU factor is not exposed by sparsax
and is not included.  The peak resident set size after each stage
(``resource.getrusage``) is reported beside it.  Note on timing: sparsax
caches LU factors content-addressed on the matrix values, so the warm-up
scenarios differ from the timed ones and the caches are cleared before every
timed run.  Usage::

    python benchmarks/batch.py --quick               # smoke test: h = 8 mm, N = 1 and 10, 2 DOLFINx runs
    python benchmarks/batch.py --json out.json       # the full run (hours on 2 cores; see the report)
    python benchmarks/batch.py --sizes 8 --batches 1,10 --routes umfpack,klu

The JSON holds ``{"unknowns", "cpu": {"single_s", "batch10_s",
"batch100_s", ...}, "dolfinx_sequential100_s",
"dolfinx_sequential100_extrapolated_from", "max_rel_diff_vs_dolfinx",
"gpu": {...} or null, "routes": [...], "sizes": [...], "provenance"}``, the
top-level figures those of the first (coarse) size; ``sizes`` holds every
size.  It is rewritten (atomically) after every stage, so a killed run keeps
what it finished.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main", "scenarios", "build"]

SIZES = (8.0, 6.0)  # mesh sizes h [mm]: about 1e4 unknowns (the coarse LV), then finer
BATCHES = (1, 10, 100)
LEVELS = (0.25, 0.5, 0.75, 1.0)  # recorded fractions of the end-diastolic pressure
STEPS = 8
# Healthy to stiffened myocardium (a heart with diastolic dysfunction).  Below
# the healthy stiffness (scale 0.7-0.77) the DOLFINx path's ramp stalled at 3 %
# of the pressure (DIVERGED_MAX_IT after 8 cuts) where organfem.batch converged.
STIFFNESS = (1.0, 1.5)  # range of the scale of a and a_f
PRESSURE = (1.0, 1.6)  # kPa, end-diastolic pressure range (7.5-12 mmHg)
GOLDEN = 0.6180339887498949
DENSE_CPU_LIMIT = 5000  # unknowns above which the dense route is skipped on the CPU


# --------------------------------------------------------------- the model
def law():
    from organfem.materials import HolzapfelOgden, VolumetricPenalty

    return HolzapfelOgden.holzapfel_ogden_2009() + VolumetricPenalty.arostica_2025()


def scenarios(n: int, *, offset: float = 0.0) -> list[tuple[float, float]]:
    """``n`` deterministic (stiffness scale, pressure [kPa]) pairs.

    The scale runs evenly over :data:`STIFFNESS`; the pressure follows a
    golden-ratio sequence over :data:`PRESSURE`, so that the two are not
    correlated.  One scenario is the nominal one (s = 1, p = 1.3 kPa).
    ``offset`` shifts both (the warm-up scenarios, distinct from the timed ones).
    """
    if n == 1:
        s, f = np.array([1.0]), np.array([0.5])
    else:
        s = np.linspace(*STIFFNESS, n)
        f = (np.arange(n) * GOLDEN) % 1.0
    p = PRESSURE[0] + (PRESSURE[1] - PRESSURE[0]) * f
    return [(float(a) * (1 + offset), float(b) * (1 + offset)) for a, b in zip(s, p, strict=True)]


def scaled_law(base, s: float):
    from organfem.materials import with_parameters

    ho = base.terms[0] if hasattr(base, "terms") else base
    return with_parameters(base, a=ho.a * s, a_f=ho.a_f * s)


def mesh(h: float):
    """The adult LV at size ``h`` [mm] with helix fibres (+60/-60 deg) per cell."""
    from organfem.fibres import ellipsoid_helix_fibres
    from organfem.meshing import ADULT_LV, lv_ellipsoid

    m = lv_ellipsoid(h=h, **ADULT_LV)
    return m.with_fibres(ellipsoid_helix_fibres(m.points[m.cells].mean(axis=1), ADULT_LV))


def build(h: float):
    """The mesh and the batched :class:`~organfem.batch.Problem` at size ``h``."""
    from organfem.batch import Cavity, Fixed, Problem, Space
    from organfem.meshing import ADULT_LV

    m = mesh(h)
    space = Space.from_meshdata(m, degree=2)
    problem = Problem(
        space, fixed=[Fixed("base")], pressure="endo",
        cavity=Cavity("endo", axis=(0, 0, 1), base_point=(0, 0, ADULT_LV["z_base"])),
    )  # fmt: skip
    return m, problem


def jax_scenarios(pairs):
    from organfem.batch import Scenario

    base = law()
    return [Scenario(scaled_law(base, s), pressure=p) for s, p in pairs]


# ------------------------------------------------------------- utilities
def peak_rss_mb() -> float:
    """Peak resident set size of this process so far [MB] (Linux: ru_maxrss in kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def clear_factor_cache() -> None:
    """Drop sparsax's value-keyed LU factors, so that no timed run reuses a warm-up's."""
    try:
        import sparsax

        sparsax.clear_cache()
    except ImportError:
        pass


def memory_estimate(problem, levels: int) -> dict:
    """Bytes per scenario of one lane of the compiled Newton iteration (an estimate).

    Counted: the cell matrices and their gathered copy (2 (3n)^2 per cell), the
    Voigt tangent D, B and D B at the quadrature points (cells are assembled
    in blocks of at most ``organfem.batch.problem.CELL_BLOCK``), the matrix values
    (nnz, assembled and the copy passed to the solver), the residual and
    displacement, and the stored result (K levels x unknowns).  Not counted:
    the sparse LU factor (sparsax does not expose its size) and XLA's
    temporaries beyond these.
    """
    from organfem.batch.problem import CELL_BLOCK

    space = problem.space
    m, q, n, _ = space.gradients.shape
    m = min(m, CELL_BLOCK)
    d = 3 * n
    cell = 2 * m * d * d
    points = m * q * (36 + 2 * 6 * d + 9)
    values = 2 * problem.nnz
    vectors = 4 * problem.num_free
    result = levels * problem.num_free
    total = 8 * (cell + points + values + vectors + result)
    return {
        "method": "estimate from array sizes (float64), per scenario lane; LU factor not included",
        "cell_matrices_mb": 8 * cell / 1e6,
        "quadrature_tangents_mb": 8 * points / 1e6,
        "matrix_values_mb": 8 * values / 1e6,
        "result_mb": 8 * result / 1e6,
        "total_mb": total / 1e6,
    }


def write_json(path: str | None, report: dict) -> None:
    if not path:
        return
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2, default=_jsonable)
    os.replace(tmp, path)


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def say(*args) -> None:
    print(*args, flush=True)


# --------------------------------------------------------- organfem.batch
def timed_solve(solver, pairs, *, volumes=True) -> dict:
    """One timed :meth:`Solver.solve` of ``pairs``; wall time includes the volumes."""
    clear_factor_cache()
    batch = jax_scenarios(pairs)
    t0 = time.perf_counter()
    res = solver.solve(batch, levels=LEVELS, steps=STEPS)
    v = solver.volumes(res) if volumes else None
    wall = time.perf_counter() - t0
    return {
        "n": len(pairs),
        "wall_s": wall,
        "assembly_s": res.assembly_s,
        "solve_s": res.solve_s,
        "newton_total": int(res.iterations.sum()),
        "newton_mean": float(res.iterations.mean()),
        "newton_max": int(res.iterations.max()),
        "cuts_total": int(res.cuts.sum()),
        "per_scenario_s": wall / len(pairs),
        "peak_rss_mb": peak_rss_mb(),
        "volumes_mm3": None if v is None else v.tolist(),
        "pairs": pairs,
        "route_used": solver.route,
    }


def warm_up(solver, lanes: list[int]) -> float:
    """Compile the solver for each chunk shape by a cheap solve (a tiny pressure, one step).

    The pressure is 1 Pa: Newton from the reference configuration of this
    law (a = 0.059 kPa, fibre terms without stiffness at rest) needs cuts
    already at 0.01 kPa, and the warm-up should only compile.
    """
    t0 = time.perf_counter()
    for n in sorted(set(lanes)):
        pairs = [(s, 0.001) for s, _ in scenarios(n, offset=0.013)]
        res = solver.solve(jax_scenarios(pairs), levels=(1.0,), steps=1)
        solver.volumes(res)
        solver.volumes(type(res)(np.zeros((n, len(LEVELS), res.u.shape[2])), *[getattr(res, f) for f in
                       ("levels", "iterations", "increments", "cuts", "assembly_s", "solve_s")]))
    return time.perf_counter() - t0


def run_jax(problem, batches, *, route=None, chunk=None, device=None, label="cpu") -> dict:
    """Compile once, then time one scenario and the batches on ``device``."""
    import jax

    from organfem.batch import Solver

    context = jax.default_device(device) if device is not None else _null()
    with context:
        solver = Solver(problem, route=route, chunk=chunk)
        lanes = [min(solver.chunk, n) for n in batches]
        compile_s = warm_up(solver, lanes)
        out = {
            "device": str(device or jax.devices()[0]),
            "route": solver.route,
            "chunk": solver.chunk,
            "compile_s": compile_s,
            "runs": {},
        }
        say(f"  [{label}] route {solver.route}, chunk {solver.chunk}: compile (warm-up) {compile_s:.1f} s")
        for n in batches:
            run = timed_solve(solver, scenarios(n))
            out["runs"][str(n)] = run
            key = "single_s" if n == 1 else f"batch{n}_s"
            out[key] = run["wall_s"]
            say(f"  [{label}] N = {n:>3}: {run['wall_s']:8.1f} s (assembly {run['assembly_s']:.1f}, "
                f"solve {run['solve_s']:.1f}), Newton {run['newton_total']} (max {run['newton_max']}/scenario), "
                f"cuts {run['cuts_total']}")  # fmt: skip
            yield out
    return out


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ------------------------------------------------------------------ routes
def route_child(route: str, h: float, timeout_note: float) -> int:
    """Child process: one scenario through ``route``; JSON lines on stdout."""
    import jax
    import jax.numpy as jnp
    import scipy.sparse as sp

    from organfem.batch import Solver
    from organfem.batch.solve import stack
    from organfem.errors import ConvergenceError

    _, problem = build(h)
    solver = Solver(problem, route=route, chunk=1)
    t0 = time.perf_counter()
    warm_up(solver, [1])
    compile_s = time.perf_counter() - t0
    # One linear solve of the first Newton system alone (u = 0, first load step).
    (s, p), = scenarios(1)
    with jax.enable_x64(True):
        one = stack(jax_scenarios([(s, p)]))
        R, values = solver._assemble(solver.data, jnp.zeros((1, problem.num_free)), one, jnp.asarray([1.0 / STEPS]))
        solver._linear(values, -R).block_until_ready()  # compiled already; factor cached by values
        clear_factor_cache()
        t0 = time.perf_counter()
        x = np.asarray(solver._linear(values, -R))
        linear_alone_s = time.perf_counter() - t0
    A = sp.csr_matrix((np.asarray(values[0]), (problem.rows, problem.cols)), shape=(problem.num_free,) * 2)
    b = -np.asarray(R[0])
    rel = float(np.linalg.norm(A @ x[0] - b) / np.linalg.norm(b))
    print(json.dumps({"route": route, "compile_s": compile_s, "linear_alone_s": linear_alone_s,
                      "linear_rel_residual": rel}), flush=True)  # fmt: skip
    try:
        run = timed_solve(solver, [(s, p)])
        run.update(converged=True, error=None)
    except ConvergenceError as error:
        run = {"converged": False, "error": str(error)}
    if run.get("converged"):
        run["per_linear_solve_s"] = run["solve_s"] / max(run["newton_total"], 1)
    print(json.dumps({"route": route, **run}), flush=True)
    return 0


def run_routes(h: float, routes, *, timeout: float, unknowns: int, inline: dict | None, platform="cpu"):
    """One scenario through each route, each in a child process with a time limit."""
    rows = []
    for route in routes:
        if route == "dense" and platform == "cpu" and unknowns > DENSE_CPU_LIMIT:
            rows.append({"route": route, "skipped": (
                f"{unknowns} unknowns > {DENSE_CPU_LIMIT} on the CPU: a dense matrix of "
                f"{8 * unknowns**2 / 1e9:.2f} GB and an O(n^3) LU ({2 / 3 * unknowns**3 / 1e9:.0f} GFLOP) "
                "per Newton iteration")})  # fmt: skip
            say(f"  route {route:>8}: skipped ({unknowns} unknowns > {DENSE_CPU_LIMIT})")
            yield rows
            continue
        if inline is not None and route == inline.get("route"):
            row = {"route": route, "from": "the single-scenario CPU run above", "converged": True,
                   "compile_s": inline["compile_s"], **inline["runs"]["1"]}  # fmt: skip
            row["per_linear_solve_s"] = row["solve_s"] / max(row["newton_total"], 1)
            rows.append(row)
            _say_route(row)
            yield rows
            continue
        cmd = [sys.executable, str(Path(__file__).resolve()), "--route-child", route, "--sizes", str(h)]
        row: dict = {"route": route}
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            out, err = proc.stdout, proc.stderr
            if proc.returncode != 0:
                row["error"] = f"exit {proc.returncode}: " + err.strip().splitlines()[-1] if err.strip() else ""
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            row["error"] = f"timed out after {timeout:.0f} s (the whole child: mesh, compile, probe, solve)"
            row["converged"] = False
        for line in out.splitlines():
            if line.startswith("{"):
                row.update(json.loads(line))
        row["child_wall_s"] = time.perf_counter() - t0
        rows.append(row)
        _say_route(row)
        yield rows


def _say_route(row: dict) -> None:
    if "skipped" in row:
        return
    wall = row.get("wall_s")
    per = row.get("per_linear_solve_s")
    say(f"  route {row['route']:>8}: "
        + (f"{wall:7.1f} s, Newton {row['newton_total']}, assembly {row['assembly_s']:.1f} s, "
           f"solve {row['solve_s']:.1f} s, {per:.3f} s/linear solve" if wall is not None else "no full solve")
        + (f"; first system alone {row['linear_alone_s']:.3f} s (rel. residual {row['linear_rel_residual']:.1e})"
           if "linear_alone_s" in row else "")
        + (f"; {row['error']}" if row.get("error") else ""))  # fmt: skip


# ----------------------------------------------------------------- DOLFINx
def run_dolfinx(m, pairs):
    """The scenarios ``pairs`` one after another through the DOLFINx path."""
    from organfem._dolfinx import MPI
    from organfem.meshing import ADULT_LV
    from organfem.mechanics import Domain, HyperelasticProblem, Material, Model, Pressure, cavity_volume, ramp
    from organfem.mechanics import Fixed as DFixed

    from organfem.errors import ConvergenceError

    base = law()
    runs = []
    for i, (s, p) in enumerate(pairs):
        t0 = time.perf_counter()
        domain = Domain.from_meshdata(m, MPI.COMM_WORLD)
        material = Material(scaled_law(base, s), fibres=domain.fibres)
        fe = HyperelasticProblem(domain, Model(material, DFixed("base"), Pressure("endo", p)),
                                 formulation="displacement", degree=2, petsc_options_prefix=f"batchbench{i}_")
        error, steps, volume = None, [], float("nan")
        try:
            result = ramp(fe, STEPS)
            steps = result.steps
            volume = cavity_volume(domain, fe.displacement(), "endo", axis=(0, 0, 1),
                                   base_point=(0, 0, ADULT_LV["z_base"]))
        except ConvergenceError as exc:  # recorded; the time spent counts
            error = str(exc)
        finally:
            unknowns = fe.num_dofs
            fe.close()
        wall = time.perf_counter() - t0
        runs.append({
            "s": s, "pressure_kpa": p, "wall_s": wall, "volume_mm3": float(volume), "unknowns": unknowns,
            "converged": error is None, "error": error,
            "newton": int(sum(x.iterations for x in steps)), "steps": len(steps),
            "assembly_s": float(sum(x.assembly_seconds for x in steps)),
            "solve_s": float(sum(x.solve_seconds for x in steps)),
        })  # fmt: skip
        r = runs[-1]
        say(f"  [dolfinx] run {i + 1}/{len(pairs)}: {wall:6.1f} s, Newton {r['newton']} "
            f"in {len(steps)} steps, " + (f"V = {volume:.1f} mm^3" if error is None else f"FAILED: {error[:160]}"))
        yield runs


# -------------------------------------------------------------------- main
def run_size(h: float, args, report: dict, entry: dict):
    """Everything at one mesh size; yields after every stage (for the JSON)."""
    import jax

    m, problem = build(h)
    entry.update(h=h, cells=problem.space.num_cells, unknowns=problem.num_free, nnz=problem.nnz,
                 memory_per_scenario=memory_estimate(problem, len(LEVELS)))  # fmt: skip
    say(f"h = {h:g} mm: {problem.space.num_cells} cells, {problem.num_free} unknowns, {problem.nnz} nonzeros")
    # organfem.batch on the CPU.
    cpu = jax.devices("cpu")[0]
    first = h == args.sizes[0]
    batches = args.batches if first else args.fine_batches
    for out in run_jax(problem, batches, route=args.route, chunk=args.chunk, device=cpu, label="cpu"):
        entry["cpu"] = out
        if 100 not in batches and out.get("batch10_s") is not None:
            out["batch100_extrapolated_s"] = 10 * out["batch10_s"]
        yield
    # DOLFINx, one after another, the first scenarios of the batch of 10.
    entry["dolfinx"] = None
    dolfinx_runs = args.dolfinx_runs if first else args.fine_dolfinx_runs
    if dolfinx_runs > 0:
        try:
            import organfem._dolfinx  # noqa: F401

            have = True
        except Exception as error:  # noqa: BLE001 - a GPU node without DOLFINx
            entry["dolfinx"] = {"skipped": f"DOLFINx not importable: {error}"}
            have = False
        if have:
            pairs = scenarios(max(10, dolfinx_runs))[:dolfinx_runs]
            for runs in run_dolfinx(m, pairs):
                entry["dolfinx"] = _dolfinx_summary(runs, entry)
                yield
    # The GPU, when there is one.
    entry["gpu"] = None
    accelerators = [d for d in jax.devices() if d.platform != "cpu"]
    if accelerators:
        try:
            route, chunk = _gpu_choice(problem, accelerators[0], args)
            for out in run_jax(problem, args.batches, route=route, chunk=chunk, device=accelerators[0], label="gpu"):
                entry["gpu"] = out
                yield
        except Exception as error:  # noqa: BLE001 - report, keep the CPU figures
            entry["gpu"] = {**(entry["gpu"] or {}), "error": f"{type(error).__name__}: {error}"}
            say(f"  [gpu] failed: {entry['gpu']['error']}")
            yield
    # The linear-solver routes, coarse mesh only.
    if h == args.sizes[0] and args.routes:
        inline = entry["cpu"] if "1" in entry["cpu"]["runs"] else None
        for rows in run_routes(h, args.routes, timeout=args.route_timeout, unknowns=problem.num_free, inline=inline):
            entry["routes"] = rows
            yield


def _gpu_choice(problem, device, args):
    if args.gpu_route:
        return args.gpu_route, args.gpu_chunk
    n = problem.num_free
    try:
        limit = device.memory_stats()["bytes_limit"]
    except Exception:  # noqa: BLE001
        limit = 80e9
    lanes = int(0.4 * limit // (3 * 8 * n * n))  # matrix, LU copy, scatter temporary
    if lanes >= 10:
        return "dense", args.gpu_chunk or min(100, lanes)
    return "gmres", args.gpu_chunk or 100


def _dolfinx_summary(runs, entry) -> dict:
    walls = np.array([r["wall_s"] for r in runs])
    later = walls[1:] if len(walls) > 1 else walls
    summary = {
        "runs": runs,
        "first_run_s": float(walls[0]),
        "median_s": float(np.median(later)),
        "sequential_total_s": float(walls.sum()),
        "sequential100_s": float(100 * later.mean()),
        "sequential100_method": "100 x the mean wall time of the runs after the first (the first pays "
        "the form compilation, reported as first_run_s)" if len(walls) > 1 else "100 x the one run",
        "extrapolated_from": len(runs),
        "assembly_s": float(sum(r["assembly_s"] for r in runs)),
        "solve_s": float(sum(r["solve_s"] for r in runs)),
        "newton_total": int(sum(r["newton"] for r in runs)),
    }
    batch10 = entry.get("cpu", {}).get("runs", {}).get("10")
    if batch10 is not None:
        ok = [i for i, r in enumerate(runs) if r["converged"]]
        vj = np.array([batch10["volumes_mm3"][i][-1] for i in ok])
        vd = np.array([runs[i]["volume_mm3"] for i in ok])
        summary["max_rel_diff_vs_dolfinx"] = float(np.max(np.abs(vj - vd) / vd)) if ok else None
        summary["compared_runs"] = len(ok)
    summary["failed_runs"] = sum(not r["converged"] for r in runs)
    return summary


def table(entry: dict) -> None:
    """The summary table of one size."""
    say(f"\nh = {entry['h']:g} mm, {entry['unknowns']} unknowns "
        f"(memory per scenario, estimate: {entry['memory_per_scenario']['total_mb']:.0f} MB + LU factor)")  # fmt: skip
    say(f"{'':>22} {'N':>4} {'wall [s]':>9} {'s/scen.':>8} {'assembly':>9} {'solve':>8} {'Newton':>7} {'rss [MB]':>9}")
    for label in ("cpu", "gpu"):
        out = entry.get(label)
        if not out or "runs" not in out:
            continue
        name = f"batch {label} {out['route']}/{out['chunk']}"
        for n, r in out["runs"].items():
            say(f"{name:>22} {n:>4} {r['wall_s']:>9.1f} {r['per_scenario_s']:>8.2f} {r['assembly_s']:>9.1f} "
                f"{r['solve_s']:>8.1f} {r['newton_total']:>7} {r['peak_rss_mb']:>9.0f}")  # fmt: skip
        say(f"{'':>22} compile (warm-up) {out['compile_s']:.1f} s")
    d = entry.get("dolfinx")
    if d and "runs" in d:
        say(f"{'dolfinx sequential':>22} {len(d['runs']):>4} {d['sequential_total_s']:>9.1f} {d['median_s']:>8.2f} "
            f"{d['assembly_s']:>9.1f} {d['solve_s']:>8.1f} {d['newton_total']:>7}")  # fmt: skip
        say(f"{'':>22} 100 sequential (extrapolated from {d['extrapolated_from']}): {d['sequential100_s']:.0f} s; "
            f"first run {d['first_run_s']:.1f} s")  # fmt: skip
        if "max_rel_diff_vs_dolfinx" in d:
            say(f"{'':>22} max |V_jax - V_dolfinx| / V_dolfinx at EDP: {d['max_rel_diff_vs_dolfinx']:.2e}")
        for label in ("cpu", "gpu"):
            out = entry.get(label) or {}
            if "batch100_s" in out:
                say(f"{'':>22} speed-up of the {label} batch of 100 over 100 sequential DOLFINx runs: "
                    f"{d['sequential100_s'] / out['batch100_s']:.2f}x")  # fmt: skip
    if entry.get("routes"):
        say(f"\n{'route':>8} {'wall [s]':>9} {'Newton':>7} {'assembly':>9} {'solve':>8} {'s/lin.':>8} "
            f"{'alone [s]':>9} {'rel.res':>8}  converged")  # fmt: skip
        for r in entry["routes"]:
            if "skipped" in r:
                say(f"{r['route']:>8}  skipped: {r['skipped']}")
                continue
            f = lambda k, fmt: format(r[k], fmt) if r.get(k) is not None else "-"  # noqa: E731
            say(f"{r['route']:>8} {f('wall_s', '9.1f'):>9} {f('newton_total', 'd'):>7} {f('assembly_s', '9.1f'):>9} "
                f"{f('solve_s', '8.1f'):>8} {f('per_linear_solve_s', '8.3f'):>8} {f('linear_alone_s', '9.3f'):>9} "
                f"{f('linear_rel_residual', '8.1e'):>8}  {r.get('converged', '-')}"
                + (f" ({r['error'][:90]})" if r.get("error") else ""))  # fmt: skip


def summary(report: dict) -> dict:
    """The top-level figures of the issue, from the first (coarse) size."""
    if not report["sizes"]:
        return report
    e = report["sizes"][0]
    cpu = e.get("cpu") or {}
    d = e.get("dolfinx") or {}
    gpu = e.get("gpu")
    report.update(
        unknowns=e.get("unknowns"),
        cpu={k: cpu.get(k) for k in ("single_s", "batch10_s", "batch100_s", "compile_s", "route", "chunk")}
        | {"split": {n: {"assembly_s": r["assembly_s"], "solve_s": r["solve_s"]} for n, r in cpu.get("runs", {}).items()}},
        gpu=None if gpu is None else {k: v for k, v in gpu.items() if k != "runs"}
        | {"split": {n: {"assembly_s": r["assembly_s"], "solve_s": r["solve_s"]} for n, r in gpu.get("runs", {}).items()}},
        dolfinx_sequential100_s=d.get("sequential100_s"),
        dolfinx_sequential100_extrapolated_from=d.get("extrapolated_from"),
        dolfinx_sequential100_method=d.get("sequential100_method"),
        max_rel_diff_vs_dolfinx=d.get("max_rel_diff_vs_dolfinx"),
        memory_per_scenario=e.get("memory_per_scenario"),
        routes=e.get("routes"),
    )  # fmt: skip
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the figures here (atomically, after every stage)")
    parser.add_argument("--sizes", default=",".join(f"{h:g}" for h in SIZES),
                        help="mesh sizes h [mm], comma-separated (default 8,6); routes on the first")  # fmt: skip
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)), help="batch sizes N (default 1,10,100)")
    parser.add_argument("--dolfinx-runs", type=int, default=10, help="sequential DOLFINx runs (default 10; 0: none)")
    parser.add_argument("--route", help="linear solver of the CPU runs (default: the Solver's, UMFPACK)")
    parser.add_argument("--chunk", type=int, help="scenarios per compiled call (default: the Solver's, 1 on CPU)")
    parser.add_argument("--fine-batches", default="1,10",
                        help="batch sizes N at the sizes after the first (default 1,10; the batch of "
                        "100 is then extrapolated as 10 x the batch of 10, and marked so)")
    parser.add_argument("--fine-dolfinx-runs", type=int, default=3,
                        help="sequential DOLFINx runs at the sizes after the first (default 3)")
    parser.add_argument("--routes", help="routes compared on the coarse mesh with one scenario, comma-separated "
                        "(default: all of organfem.batch.ROUTES; '' for none)")
    parser.add_argument("--route-timeout", type=float, default=900.0, help="seconds per route child (default 900)")
    parser.add_argument("--gpu-route", help="linear solver on the GPU (default: dense if it fits, else gmres)")
    parser.add_argument("--gpu-chunk", type=int, help="scenarios per compiled call on the GPU")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: the first size only, N = 1 and 10, 2 DOLFINx runs, sparse direct routes only")
    parser.add_argument("--route-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sizes = [float(x) for x in str(args.sizes).split(",") if x]
    args.batches = [int(x) for x in str(args.batches).split(",") if x]
    args.fine_batches = [int(x) for x in str(args.fine_batches).split(",") if x]
    if args.routes is None:
        from organfem.batch import ROUTES

        args.routes = ",".join(ROUTES)
    args.routes = [x for x in str(args.routes).split(",") if x]
    if args.route_child:
        return route_child(args.route_child, args.sizes[0], args.route_timeout)
    if args.quick:
        args.sizes, args.batches = args.sizes[:1], [1, 10]
        args.dolfinx_runs = min(args.dolfinx_runs, 2)
        args.routes = [r for r in args.routes if r not in ("gmres", "dense")]

    report: dict = {"sizes": [], "quick": args.quick, "levels": list(LEVELS), "steps": STEPS,
                    "stiffness_scale_range": list(STIFFNESS), "pressure_range_kpa": list(PRESSURE)}  # fmt: skip
    try:
        from organfem.io import provenance

        report["provenance"] = provenance(
            {"sizes_mm": args.sizes, "batches": args.batches, "dolfinx_runs": args.dolfinx_runs,
             "route": args.route, "chunk": args.chunk, "routes": args.routes, "quick": args.quick}, {})  # fmt: skip
    except Exception as error:  # noqa: BLE001
        report["provenance"] = {"error": str(error)}
    start = time.perf_counter()
    for h in args.sizes:
        entry: dict = {}
        report["sizes"].append(entry)
        for _ in run_size(h, args, report, entry):
            report["elapsed_s"] = time.perf_counter() - start
            write_json(args.json, summary(report))
        table(entry)
    report["elapsed_s"] = time.perf_counter() - start
    write_json(args.json, summary(report))
    say(f"\ntotal {report['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

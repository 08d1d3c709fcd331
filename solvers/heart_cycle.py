"""A beating left ventricle: active contraction coupled to a closed-loop circulation.

This literate script runs heartbeats of a human-sized left ventricle whose
myocardium contracts and relaxes in time, with the blood moving through the
closed-loop circulation of Regazzoni et al. (2022), until the beats repeat.
It runs unchanged in serial or under MPI::

    python solvers/heart_cycle.py --out results/heart_cycle
    mpirun -n 2 python solvers/heart_cycle.py --out results/heart_cycle
    organfem run heart-cycle --beats 3
    organfem run heart-cycle --mesh lv.h5      # a mesh made by `organfem mesh`
    organfem run heart-cycle --help            # every option, with its default

The run starts in mid-diastole (t = 0.45 s of the 0.8 s beat) from the
unloaded ventricle at rest, fills until the first contraction at t = 0.8 s,
and then beats ``--beats`` times.  Each beat gets its pressure-volume loop
(``pv_loop_beat<k>.png``) and its figures: EDV, ESV, SV, EF, peak and
end-diastolic LV pressure, aortic systolic and diastolic pressure, cardiac
output, fibre stretch and strain, long-axis shortening and wall thickening,
in ``beats.json`` and printed as a table.  ``heart_cycle.vtkhdf`` holds, at
every time step, the displacement, fibre stress, fibre stretch and active
tension fields, and every 0D state of the circulation as scalars, with the
run's provenance (parameters and input hashes, never a path or file name);
``heart_cycle.gif`` animates the last beat coloured by fibre stress, and
``organfem report`` makes the clinician's report of it.

It saves its state after every time step in ``checkpoint/``: run the same
command again and an interrupted run resumes (``--restart`` starts over).
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path

import numpy as np

from organfem import units
from organfem._dolfinx import MPI

# 1. Geometry: a truncated prolate ellipsoid of adult size, unloaded:
#    endocardial radii 24 mm (short) and 70 mm (long), a 10 mm wall (adult LV
#    wall 6-11 mm and end-diastolic diameter 42-58 mm: Lang et al. 2015,
#    J Am Soc Echocardiogr 28:1-39, table 2), base plane 10 mm above the
#    equator; its cavity holds about 102 mL unloaded and fills to about
#    130 mL at end-diastole.  Or the user's mesh (tags endo, epi, base).
from organfem.meshing import ADULT_LV, MeshData, lv_ellipsoid
from organfem.mechanics import Domain

# 2. Fibres: helix +60 deg (endo) to -60 deg (epi) (Streeter), analytic on
#    the ellipsoid (as solvers/lv_inflation.py); LDRB fibres on a user mesh.
from organfem.fibres import land2015_fibres, load_lv_mesh

# 3. Material: Holzapfel-Ogden (2009) passive myocardium, nearly
#    incompressible through the volumetric penalty of the cardiac benchmark
#    (kappa = 1 MPa, Arostica et al. 2025), and an active fibre stress
#    S_a = tau f0 (x) f0 whose tension tau follows the Bestel model per
#    point (rates alpha_max = 5/s, alpha_min = -30/s and switch width 5 ms
#    of the benchmark), contracting from 30 ms to 350 ms of each beat.
from organfem.materials import ActiveStress, BestelActiveTension, HolzapfelOgden, VolumetricPenalty

# 4. The rest of the model: inertia, viscous damping, the base held along
#    its normal by stiff springs and elsewhere by soft springs and dashpots
#    (the base spring and dashpot of the benchmark), the epicardium on soft
#    normal springs (the pericardium); the LV cavity coupled to the closed
#    loop of Regazzoni et al. (2022), its chamber replaced by the finite-
#    element LV.  A mesh imaged under pressure is first unloaded (Bols et al.
#    2013, organfem.mechanics.unload): the passive wall, incompressible, base held.
from organfem import circulation
from organfem.mechanics import (
    Chamber,
    Circulation,
    Fixed,
    GeneralisedAlpha,
    HyperelasticProblem,
    Inertia,
    Material,
    Model,
    Pressure,
    Spring,
    ViscousDamping,
    cavity_volume,
    mean_value,
    on_rank0,
    probe,
    simulate,
    unload,
    wall_thickness,
)

# 5. Results, checkpoints, the PV loop, the animation and the report.
from organfem.io import ResultsWriter, input_label, read_results, start_run
from organfem.report import heart_cycle_spec
from organfem.viz import animate, beat_metrics, pv_loop

NAME = "heart-cycle"
GEOMETRY = ADULT_LV
IDEALISED_FIBRES = partial(land2015_fibres, alpha_endo=-60.0, alpha_epi=60.0, t_tol=0.5,
                           endo=(GEOMETRY["r_short_endo"], GEOMETRY["r_long_endo"]),
                           epi=(GEOMETRY["r_short_epi"], GEOMETRY["r_long_epi"]))
DENSITY = 1.0e-6  # kg/mm^3 (1000 kg/m^3, the benchmark's)
ETA = 0.1  # kPa s, viscosity of the benchmark (100 Pa s)
BASE_NORMAL_SPRING = 100.0  # kPa/mm: holds the base in its plane (0.2 mm at peak pressure)
BASE_SPRING, EPI_SPRING = 0.1, 0.1  # kPa/mm (1e5 Pa/m, the benchmark's base spring)
DASHPOT = 5e-3  # kPa s/mm (5e3 Pa s/m, the benchmark's)
T_SYS, T_DIAS = 0.03, 0.35  # s within the beat: onset of contraction and of relaxation
T_START = 0.45  # s: mid-diastole, the LV relaxed and the atria not yet contracting
UNLOAD_TOL = 0.05  # mm: re-inflating the unloaded reference returns the imaged points this close
RHO_INF = 0.5  # generalised-alpha spectral radius: damps the step-to-step ringing of the multiplier


def parser() -> argparse.ArgumentParser:
    """The scenario's options (``organfem run heart-cycle --help``)."""
    options = argparse.ArgumentParser(
        prog=f"organfem run {NAME}" if __name__ != "__main__" else None,
        description="Heartbeats of a left ventricle (Holzapfel-Ogden myocardium, Bestel "
        "active tension) coupled to the closed-loop circulation of Regazzoni et al. (2022): "
        "the idealised adult LV, or --mesh FILE. Rerun the same command to resume an "
        "interrupted run from its checkpoint.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    options.add_argument("--out", default="results/heart_cycle", help="output folder")
    options.add_argument("--mesh", metavar="FILE",
                         help="LV mesh (.h5 from `organfem mesh`, facet tags endo/epi/base) "
                         "instead of the idealised one")
    options.add_argument("--mesh-pressure", default="0 mmHg",
                         help="LV pressure at which the mesh was imaged (e.g. the end-diastolic "
                         "pressure of the scan); above 0 the unloaded reference is computed "
                         "first (backward displacement, Bols et al. 2013) and the beats start "
                         "from it")
    options.add_argument("--mesh-size", default="8 mm",
                         help="tetrahedron size of the idealised LV (ignored with --mesh)")
    options.add_argument("--beats", type=int, default=5,
                         help="beats after the first filling (the last is the periodic state)")
    options.add_argument("--dt", default="5 ms", help="time step")
    options.add_argument("--contractility", default="140 kPa",
                         help="sigma0 of the active tension: the tension approached in systole")
    options.add_argument("--restart", action="store_true",
                         help="discard the checkpoint of an earlier run in --out and start over")
    options.add_argument("--no-render", action="store_true", help="skip the PNGs and the GIF")
    return options


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.beats < 1:
        parser().error(f"--beats {args.beats}: give at least 1 beat")
    comm = MPI.COMM_WORLD
    say = print if comm.rank == 0 else (lambda *a, **k: None)
    h, dt = units.length(args.mesh_size), units.time(args.dt)
    p_imaged = units.pressure(args.mesh_pressure)
    if p_imaged < 0 or (p_imaged > 0 and not args.mesh):
        parser().error(f"--mesh-pressure {args.mesh_pressure}: give a pressure >= 0 with --mesh "
                       "(the idealised LV is unloaded)")
    sigma0 = units.pressure(args.contractility, plausible=(0.0, 1000.0))  # a tension, up to 1 MPa
    out = Path(args.out)
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)

    # --- 0D circulation: the closed loop and its beat ---------------------------
    loop = circulation.ClosedLoop.regazzoni_2022()
    period = float(loop.period)
    t_end = period * (1 + args.beats)  # the first filling, then the beats

    # --- 1-2. geometry and fibres -------------------------------------------------
    inputs = {"mesh": args.mesh} if args.mesh else {}
    if args.mesh:
        label = input_label(args.mesh, "mesh") if Path(args.mesh).is_file() else "--mesh"
        data, fibre_rule = on_rank0(comm, lambda: load_lv_mesh(args.mesh, label=label)) or (None, None)
        say(f"mesh:   {label}; fibres {fibre_rule}")
    else:
        data = on_rank0(comm, lambda: lv_ellipsoid(h=h, **GEOMETRY))
        fibre_rule = "analytic helix +60/-60 deg (Land et al. 2015 rule)"
    fibre_rule = comm.bcast(fibre_rule, root=0)

    # --- 3. material ----------------------------------------------------------------
    passive, law, active = material(sigma0, period)

    # --- the run's record and its checkpoint ------------------------------------------
    parameters = {
        "scenario": "heart_cycle",
        "mesh": "user mesh" if args.mesh else "adult LV ellipsoid",
        "mesh_size_mm": None if args.mesh else h,
        "beats": args.beats,
        "dt_s": dt,
        "imaged_pressure_kPa": p_imaged,
        "t_start_s": T_START,
        "period_s": period,
        "material": repr(passive),
        "active": repr(active),
        "fibres": fibre_rule,
        "circulation": "ClosedLoop.regazzoni_2022(), LV replaced by the finite-element LV",
        "formulation": "displacement P2",
    }

    resume = comm.bcast(on_rank0(comm, lambda: start_run(out / "checkpoint", parameters, inputs,
                                                         restart=args.restart)), root=0)
    if resume:
        say("resuming: the output folder holds this run's checkpoint (--restart starts over)")

    # An imaged geometry is loaded by the pressure of the scan: find the
    # unloaded reference whose passive inflation to that pressure gives it
    # back (the mesh's fibres, stored per cell, follow their cells).  It is
    # kept with the checkpoint, so a resumed run starts from the same one.
    if p_imaged > 0:
        saved = out / "checkpoint" / "unloaded_mesh.h5"
        if resume and comm.bcast(MeshData.is_file(saved) if comm.rank == 0 else None, root=0):
            data = on_rank0(comm, lambda: MeshData.load(saved))
            say("unloaded reference: the one this run computed before (in its checkpoint)")
        else:
            data = _unloaded(data, passive, p_imaged, comm, say)
            on_rank0(comm, lambda: data.save(saved))
    # The base plane closes the cavity (its normal points away from the apex);
    # the epicardial apex, the point farthest below it, and points of the
    # base mark the long axis.
    plane, off, apex, base = comm.bcast(on_rank0(comm, lambda: _landmarks(data)), root=0)
    if off > 1e-3:
        say(f"warning: the base is not flat (up to {off:.2g} mm off its plane); the cavity "
            "volumes are approximate")
    domain = Domain.from_meshdata(data, comm)
    fibres = domain.fibres if args.mesh else IDEALISED_FIBRES

    # --- 4. the problem -------------------------------------------------------------
    problem = make_problem(domain, fibres, plane, loop, law, active)
    say(f"LV mesh: {problem.num_dofs} unknowns on {comm.size} rank(s); "
        f"unloaded cavity {problem.scalars()['LV_volume_mm3'] / 1e3:.1f} mL")

    # Long axis: base plane to the epicardial apex; wall thickness: wall
    # volume over mean surface area (organfem.mechanics.wall_thickness).
    def long_axis(u) -> float:
        x = np.vstack([apex, base]) + probe(u, np.vstack([apex, base]))
        return float(np.mean(x[1:] @ plane.normal) - x[0] @ plane.normal)

    say(f"{'t [s]':>7} {'V_LV [mL]':>9} {'p_LV [mmHg]':>11} {'p_Ao [mmHg]':>11} "
        f"{'p_LA [mmHg]':>11} {'newton':>6}")
    path = out / "heart_cycle.vtkhdf"
    mmhg = units.MMHG_IN_KPA
    report = heart_cycle_spec(since=t_end - period)
    with ResultsWriter(path, domain.mesh, parameters=parameters, inputs=inputs,
                       report=report.as_dict(), resume=resume) as writer:

        def record(t: float, iterations: int) -> None:
            u = problem.displacement()
            stretch = problem.fibre_stretch()
            scalars = problem.scalars()
            scalars.update({
                "newton_iterations": iterations,
                "long_axis_mm": long_axis(u),
                "wall_thickness_mm": wall_thickness(domain, u),
                "mean_fibre_stretch": mean_value(stretch),
            })  # fmt: skip
            say(f"{t:>7.3f} {scalars['LV_volume_mm3'] / 1e3:>9.2f} "
                f"{scalars['LV_pressure_kPa'] / mmhg:>11.1f} "
                f"{scalars['circulation_p_AR_SYS_kPa'] / mmhg:>11.1f} "
                f"{scalars['circulation_p_LA_kPa'] / mmhg:>11.1f} {iterations:>6}")
            writer.write(t, {"displacement": u, "fibre_stress": problem.fibre_stress(),
                             "fibre_stretch": stretch, "active_tension": problem.internal_variable("Ta")},
                         scalars)

        try:
            if not writer.times:
                record(T_START, 0)
            # To the end of the filling, then beat by beat: every beat starts and
            # ends on a step (a step cut shifts the later steps off the grid).
            for end in period * np.arange(1, args.beats + 2):
                simulate(problem, end, dt, checkpoint=out / "checkpoint", results=writer,
                         on_step=lambda step: record(step.time, step.iterations))
        finally:
            problem.close()

    # --- 5. per-beat figures, PV loops, animation ---------------------------------
    if comm.rank == 0:
        results = read_results(path)  # read once: the figures and the animation
        beats = _beat_figures(results, period, args.beats, out, render=not args.no_render)
        _write_json(out / "beats.json", beats)
        _print_beats(say, beats)
        say(f"results: {path}")
        if not args.no_render:
            last = np.flatnonzero(np.asarray(results.times) >= t_end - period - 1e-9)
            gif = animate(results, out / "heart_cycle.gif", field="fibre_stress", steps=last[::2])
            say(f"animation: {gif}")
    return 0


def material(sigma0: float, period: float):
    """The passive law, the full law and the active tension model (step 3)."""
    passive = HolzapfelOgden.holzapfel_ogden_2009() + VolumetricPenalty.arostica_2025()
    law = passive + ActiveStress(Ta=0.0)  # Ta is the Bestel tension, per point
    active = BestelActiveTension(sigma0=sigma0, alpha_max=5.0, alpha_min=-30.0, t_sys=T_SYS,
                                 t_dias=T_DIAS, gamma=0.005, period=period)
    return passive, law, active


def supports() -> tuple[Spring, ...]:
    """The springs and dashpots holding the ventricle (step 4)."""
    return (
        Spring("base", stiffness=BASE_NORMAL_SPRING, normal_only=True),
        Spring("base", stiffness=BASE_SPRING, damping=DASHPOT),
        Spring("epi", stiffness=EPI_SPRING, damping=DASHPOT, normal_only=True),
    )


def make_problem(domain, fibres, plane, loop, law, active, prefix: str = "heart_cycle_"):
    """The coupled problem (step 4), at rest at ``T_START``. Collective."""
    model = Model(
        Material(law, fibres=fibres, internal=active),
        Inertia(DENSITY),
        ViscousDamping(ETA),
        *supports(),
        Circulation(loop, {"LV": Chamber("endo", axis=plane.normal, base_point=plane.point)}),
    )
    problem = HyperelasticProblem(domain, model, integrator=GeneralisedAlpha(rho_inf=RHO_INF),
                                  petsc_options_prefix=prefix)
    problem.initial_conditions(time=T_START)
    return problem


def _unloaded(data, passive, pressure: float, comm, say):
    """The unloaded reference of the imaged mesh ``data`` at the LV ``pressure``
    [kPa], inflated quasi-statically: the passive wall, incompressible (mixed
    u-p; the penalty of the beats, kappa = 1 MPa over a matrix of 0.06 kPa,
    stalls Newton's method at a fraction of a mmHg on some meshes without
    the inertia of the beats), with its base held (on the springs of step 4
    alone a quasi-static inflation stalled near 7 mmHg).  Aitken-relaxed:
    an iterate of the plain fixed point on the phantom LV stalled at
    0.6 mmHg.  Collective; the mesh is returned on rank 0."""
    plane, _ = comm.bcast(on_rank0(comm, lambda: data.plane_of("base")), root=0)

    def loaded(domain):
        model = Model(Material(passive, fibres=domain.fibres), Fixed("base"), Pressure("endo", pressure))
        return HyperelasticProblem(domain, model, formulation="mixed",
                                   petsc_options_prefix="heart_cycle_unload_")

    def volume(domain, u):
        return cavity_volume(domain, u, "endo", axis=plane.normal, base_point=plane.point)

    result = unload(data, loaded, levels=8, tol=UNLOAD_TOL, volume=volume, comm=comm, aitken=True)
    say(f"unloaded: cavity {result.reference_volumes[-1] / 1e3:.1f} mL (imaged {result.imaged_volume / 1e3:.1f}"
        f" mL at {pressure / units.MMHG_IN_KPA:.1f} mmHg) after {result.iterations} inflations; the "
        f"re-inflated geometry is within {result.errors[-1]:.2g} mm of the imaged one")
    return result.mesh


def _landmarks(data, most: int = 64):
    """The base plane and its flatness [mm] (``MeshData.plane_of``), the
    epicardial vertex farthest below it, and up to ``most`` vertices of the
    base, spread over it [mm]."""
    plane, off = data.plane_of("base")
    x = data.points[np.unique(data.facets_of("epi"))]
    base = data.points[np.unique(data.facets_of("base"))]
    return plane, off, x[np.argmin((x - plane.point) @ plane.normal)], base[:: max(1, len(base) // most)]


def _beat_figures(results, period: float, beats: int, out: Path, *, render: bool) -> list[dict]:
    """Figures of each full beat from the results' scalars (and its PV loop PNG)."""
    t = np.asarray(results.times)
    s = {name: np.asarray(v) for name, v in results.scalars.items()}
    mmhg = units.MMHG_IN_KPA
    rows = []
    for k in range(1, beats + 1):
        inside = (t >= k * period - 1e-9) & (t <= (k + 1) * period + 1e-9)
        if inside.sum() < 3:
            continue
        volume, pressure = s["LV_volume_mm3"][inside] / 1e3, s["LV_pressure_kPa"][inside] / mmhg
        aortic = s["circulation_p_AR_SYS_kPa"][inside] / mmhg
        if render:
            _, figures = pv_loop(volume, pressure, out / f"pv_loop_beat{k}.png", time=t[inside],
                                 title=f"Left ventricular pressure-volume loop, beat {k}",
                                 metrics={"aortic systolic [mmHg]": float(aortic.max()),
                                          "aortic diastolic [mmHg]": float(aortic.min())})
        else:
            figures = beat_metrics(volume, pressure, time=t[inside])
        ed, es = np.argmax(volume), np.argmin(volume)
        axis, wall = s["long_axis_mm"][inside], s["wall_thickness_mm"][inside]
        stretch = s["mean_fibre_stretch"][inside]
        blood = s["blood_volume_mm3"][inside] / 1e3
        rows.append({
            "beat": k,
            "EDV_mL": figures.edv_ml, "ESV_mL": figures.esv_ml, "SV_mL": figures.sv_ml,
            "EF": figures.ef, "peak_lv_mmHg": figures.peak_pressure_mmhg, "edp_mmHg": figures.edp_mmhg,
            "aortic_systolic_mmHg": float(aortic.max()), "aortic_diastolic_mmHg": float(aortic.min()),
            "cardiac_output_L_per_min": figures.cardiac_output_l_per_min,
            "fibre_stretch_ES_over_ED": float(stretch[es] / stretch[ed]),
            "fibre_strain_ES": float((stretch[es] ** 2 / stretch[ed] ** 2 - 1) / 2),
            "long_axis_shortening": float(1 - axis[es] / axis[ed]),
            "wall_thickening": float(wall[es] / wall[ed] - 1),
            "blood_volume_drift_mL": float(blood.max() - blood.min()),
        })  # fmt: skip
    return rows


def _write_json(path: Path, beats: list[dict]) -> None:
    from organfem.io import write_atomically

    text = json.dumps({"beats": beats}, indent=2)
    write_atomically(path, lambda temporary: temporary.write_text(text), "beat figures")


def _print_beats(say, beats: list[dict]) -> None:
    say(f"{'beat':>4} {'EDV mL':>7} {'ESV mL':>7} {'SV mL':>6} {'EF %':>5} {'peak':>6} {'EDP':>5} "
        f"{'Ao s/d mmHg':>12} {'CO L/min':>8} {'fibre':>6} {'LAS %':>6} {'WT %':>5}")
    for b in beats:
        say(f"{b['beat']:>4} {b['EDV_mL']:>7.1f} {b['ESV_mL']:>7.1f} {b['SV_mL']:>6.1f} "
            f"{100 * b['EF']:>5.1f} {b['peak_lv_mmHg']:>6.1f} {b['edp_mmHg']:>5.1f} "
            f"{b['aortic_systolic_mmHg']:>5.0f}/{b['aortic_diastolic_mmHg']:<6.0f} "
            f"{b['cardiac_output_L_per_min']:>8.2f} {b['fibre_stretch_ES_over_ED']:>6.3f} "
            f"{100 * b['long_axis_shortening']:>6.1f} {100 * b['wall_thickening']:>5.1f}")
    say("peak and EDP are the LV's [mmHg]; fibre: mean fibre stretch at end-systole over "
        "end-diastole; LAS: long-axis shortening; WT: wall thickening")


if __name__ == "__main__":
    sys.exit(main())

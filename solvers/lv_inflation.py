"""Passive inflation of an idealised left ventricle (the organfem main job).

This literate script is the reference scenario: it reads top to bottom like
the data flow of a twin, and runs unchanged in serial or under MPI::

    python solvers/lv_inflation.py --out results/lv_inflation
    mpirun -n 2 python solvers/lv_inflation.py --out results/lv_inflation
    organfem run lv-inflation --pressure "15 mmHg"

It writes ``lv_inflation.vtkhdf`` (displacement, fibre stress, fibres, per
load step, with the run's provenance) and ``lv_inflation.png`` (the deformed
ventricle coloured by displacement), and prints the pressure-volume curve.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path


from organfem import units
from organfem._dolfinx import MPI, dolfinx

# 1. Geometry: the truncated prolate ellipsoid of Land et al. (2015), built
#    with gmsh on rank 0 and distributed, with facets tagged endo/epi/base.
from organfem.meshing import lv_ellipsoid
from organfem.mechanics import Domain

# 2. Fibres: rule-based helix angle, a right-handed helix of 60 deg at the
#    endocardium to a left-handed one at the epicardium (Streeter), from the
#    ellipsoidal coordinates.  Land et al. measure the angle the other way
#    round, so this is alpha_endo=-60, alpha_epi=+60 in their formula
#    (= +60/-60 in the convention of Bayer et al. 2012 and ldrb_fibres).
from organfem.fibres import land2015_fibres

# 3. Material: Holzapfel-Ogden (2009) passive myocardium, incompressible
#    (mixed u-p formulation with a log barrier on J, see benchmarks/land2015.py).
from organfem.materials import HolzapfelOgden, VolumetricPenalty

# 4. Loads and constraints: cavity pressure on the endocardium, base fixed.
from organfem.mechanics import Fixed, HyperelasticProblem, Pressure, cavity_volume, ramp

# 5. Results and render.
from organfem.io import ResultsWriter
from organfem.viz import render


Z_BASE = 5.0  # base plane [mm]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Passive inflation of an idealised LV with Holzapfel-Ogden myocardium."
    )
    parser.add_argument("--out", default="results/lv_inflation", help="output folder")
    parser.add_argument(
        "--pressure", default="2 kPa", help="end-diastolic cavity pressure, e.g. '2 kPa' or '15 mmHg'"
    )
    parser.add_argument("--mesh-size", default="2.5 mm", help="tetrahedron size, e.g. '2.5 mm'")
    parser.add_argument("--steps", type=int, default=8, help="load steps (pseudo-time 0 to 1)")
    parser.add_argument("--no-render", action="store_true", help="skip the PNG")
    args = parser.parse_args(argv)
    comm = MPI.COMM_WORLD
    say = print if comm.rank == 0 else (lambda *a, **k: None)
    p_ed, h = units.pressure(args.pressure), units.length(args.mesh_size)
    out = Path(args.out)
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)

    # --- 1. geometry -------------------------------------------------------
    domain = Domain.from_meshdata(lv_ellipsoid(h=h) if comm.rank == 0 else None, comm)

    # --- 2. fibres ---------------------------------------------------------
    fibres = partial(land2015_fibres, alpha_endo=-60.0, alpha_epi=60.0, t_tol=0.5)

    # --- 3. material -------------------------------------------------------
    passive = HolzapfelOgden.holzapfel_ogden_2009()
    law = passive + VolumetricPenalty(kappa=50.0, kind="log")

    # --- 4. the problem ----------------------------------------------------
    # The pressure is a plain number: the quasi-static ramp raises it linearly
    # over the pseudo-time 0..1 (p = t p_ed).  If Newton fails, the error names
    # the pressures reached and missed in kPa and mmHg.
    problem = HyperelasticProblem(
        domain,
        law,
        constraints=[Fixed("base")],
        loads=[Pressure("endo", p_ed)],
        fibres=fibres,
        formulation="mixed",
        petsc_options_prefix="lv_inflation_",
    )
    say(f"LV mesh h = {h:g} mm: {problem.num_dofs} unknowns on {comm.size} rank(s)")

    # Fibre direction at the mesh vertices, for the results file.
    V1 = dolfinx.fem.functionspace(domain.mesh, ("Lagrange", 1, (3,)))
    fibre = dolfinx.fem.Function(V1, name="fibre")
    fibre.interpolate(lambda x: fibres(x.T)[:, 0, :].T)

    parameters = {
        "scenario": "lv_inflation",
        "end_diastolic_pressure_kPa": p_ed,
        "mesh_size_mm": h,
        "load_steps": args.steps,
        "material": repr(passive),
        "formulation": "mixed",
    }
    volume0 = cavity_volume(domain, None, "endo", base_point=(0, 0, Z_BASE))
    say(f"{'p [kPa]':>8} {'p [mmHg]':>9} {'V [ml]':>8} {'newton':>6}")
    say(f"{0.0:>8.3f} {0.0:>9.2f} {volume0 / 1e3:>8.3f} {0:>6}")
    path = out / "lv_inflation.vtkhdf"
    with ResultsWriter(path, domain.mesh, parameters=parameters, static={"fibre": fibre}) as writer:

        def record(step):
            u = problem.displacement()
            volume = cavity_volume(domain, u, "endo", base_point=(0, 0, Z_BASE))
            p = problem.scalars()["endo_pressure_kPa"]  # the pressure applied at step.time
            say(f"{p:>8.3f} {p / units.MMHG_IN_KPA:>9.2f} {volume / 1e3:>8.3f} {step.iterations:>6}")
            writer.write(
                step.time,
                {"displacement": u, "fibre_stress": problem.fibre_stress()},
                {"pressure_kPa": p, "cavity_volume_mm3": volume},
            )

        try:
            ramp(problem, args.steps, on_step=record)
        finally:
            problem.close()

    if comm.rank == 0:
        say(f"results: {path}")
        if not args.no_render:
            png = render(path, out / "lv_inflation.png", field="displacement", title="LV inflation")
            say(f"render:  {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Passive inflation of a left ventricle: the idealised one, or your own mesh.

This literate script is the reference scenario: it reads top to bottom like
the data flow of a twin, and runs unchanged in serial or under MPI::

    python solvers/lv_inflation.py --out results/lv_inflation
    mpirun -n 2 python solvers/lv_inflation.py --out results/lv_inflation
    organfem run lv-inflation --pressure "15 mmHg"
    organfem run lv-inflation --mesh lv.h5      # a mesh made by `organfem mesh`
    organfem run lv-inflation --help            # every option, with its default

Without ``--mesh`` it inflates the truncated ellipsoid of Land et al. (2015)
with their analytic fibres; with ``--mesh`` a tagged LV mesh (facet tags
``endo``, ``epi``, ``base``) with the fibres stored in it (LDRB fibres are
computed when it has none).  It writes ``lv_inflation.vtkhdf`` (displacement,
fibre stress, fibres, per load step, with the run's provenance: parameters
and the SHA-256 of the mesh file, never its path or name) and
``lv_inflation.png`` (the deformed ventricle coloured by displacement), and
prints the pressure-volume curve.

It saves its state after every load step in ``checkpoint/`` of the output
folder.  Run the same command again and an interrupted run resumes from its
last step (a finished one is left as it is); ``--restart`` starts over.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np

from organfem import units
from organfem._dolfinx import MPI, dolfinx

# 1. Geometry: the truncated prolate ellipsoid of Land et al. (2015), built
#    with gmsh on rank 0 and distributed, with facets tagged endo/epi/base;
#    or the user's mesh file (MeshData, as `organfem mesh` writes it).
from organfem.meshing import lv_ellipsoid
from organfem.mechanics import Domain

# 2. Fibres: rule-based helix angle, a right-handed helix of 60 deg at the
#    endocardium to a left-handed one at the epicardium (Streeter), from the
#    ellipsoidal coordinates.  Land et al. measure the angle the other way
#    round, so this is alpha_endo=-60, alpha_epi=+60 in their formula
#    (= +60/-60 in the convention of Bayer et al. 2012 and ldrb_fibres, which
#    serves a user's mesh that carries no fibres).
from organfem.fibres import land2015_fibres, load_lv_mesh

# 3. Material: Holzapfel-Ogden (2009) passive myocardium, incompressible
#    (mixed u-p formulation with a log barrier on J, see benchmarks/land2015.py).
from organfem.materials import HolzapfelOgden, VolumetricPenalty

# 4. Loads and constraints: cavity pressure on the endocardium, base fixed.
from organfem.mechanics import (
    Fixed,
    HyperelasticProblem,
    Pressure,
    cavity_volume,
    on_rank0,
    ramp,
)

# 5. Results (inputs named by their hash only), checkpoints and render.
from organfem.io import ResultsWriter, input_label, start_run
from organfem.viz import render

# 6. The report (`organfem report`): what it shows is declared with the results.
from organfem.report import inflation_spec

REPORT = inflation_spec(
    "Passive inflation of the left ventricle",
    "The cavity pressure of the idealised left ventricle of Land et al. (2015) or the "
    "mesh given is raised to the end-diastolic pressure in load steps; the passive "
    "myocardium (Holzapfel-Ogden 2009, nearly incompressible) stretches and the cavity "
    "fills. The base is held fixed. Shown: the deformed ventricle coloured by fibre "
    "stress, the end-diastolic pressure and volume, and the passive pressure-volume "
    "relation.",
)
NAME = "lv-inflation"


def parser() -> argparse.ArgumentParser:
    """The scenario's options (``organfem run lv-inflation --help``)."""
    options = argparse.ArgumentParser(
        prog=f"organfem run {NAME}" if __name__ != "__main__" else None,
        description="Passive inflation of a left ventricle with Holzapfel-Ogden myocardium: "
        "the idealised LV of Land et al. (2015), or --mesh FILE. Rerun the same command to "
        "resume an interrupted run from its checkpoint.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    options.add_argument("--out", default="results/lv_inflation", help="output folder")
    options.add_argument("--mesh", metavar="FILE",
                         help="LV mesh (.h5 from `organfem mesh`, facet tags endo/epi/base) "
                         "instead of the idealised one")
    options.add_argument("--pressure", default="2 kPa",
                         help="end-diastolic cavity pressure, e.g. '2 kPa' or '15 mmHg'")
    options.add_argument("--mesh-size", default="2.5 mm",
                         help="tetrahedron size of the idealised LV (ignored with --mesh)")
    options.add_argument("--steps", type=int, default=8, help="load steps (pseudo-time 0 to 1)")
    options.add_argument("--restart", action="store_true",
                         help="discard the checkpoint of an earlier run in --out and start over")
    options.add_argument("--no-render", action="store_true", help="skip the PNG")
    return options


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    comm = MPI.COMM_WORLD
    say = print if comm.rank == 0 else (lambda *a, **k: None)
    p_ed, h = units.pressure(args.pressure), units.length(args.mesh_size)
    out = Path(args.out)
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)

    # --- 1-2. geometry and fibres -----------------------------------------
    # The user's mesh (on rank 0), or the idealised LV and its analytic fibres.
    inputs = {"mesh": args.mesh} if args.mesh else {}
    if args.mesh:
        label = input_label(args.mesh, "mesh") if Path(args.mesh).is_file() else "--mesh"
        data, fibre_rule = on_rank0(comm, lambda: load_lv_mesh(args.mesh, label=label)) or (
            None, None)
        say(f"mesh:   {label}; fibres {fibre_rule}")
    else:
        data = on_rank0(comm, lambda: lv_ellipsoid(h=h))
        fibre_rule = "Land et al. (2015) analytic, helix +60/-60 deg"
    # The base plane (least-squares plane of the base facets): the cavity is
    # closed by it, so its volume is exact for a flat base.
    plane, off = comm.bcast(data.plane_of("base") if comm.rank == 0 else None, root=0)
    if off > 1e-3:
        say(f"warning: the base is not flat (up to {off:.2g} mm off its plane); the cavity "
            "volumes are approximate")
    fibre_rule = comm.bcast(fibre_rule, root=0)
    domain = Domain.from_meshdata(data, comm)
    if args.mesh:
        fibres = domain.fibres
    else:
        fibres = partial(land2015_fibres, alpha_endo=-60.0, alpha_epi=60.0, t_tol=0.5)

    # --- 3. material -------------------------------------------------------
    passive = HolzapfelOgden.holzapfel_ogden_2009()
    law = passive + VolumetricPenalty(kappa=50.0, kind="log")

    # --- the run's record and its checkpoint ---------------------------------
    # Parameters never hold a path or file name (they may name the patient):
    # the mesh file is recorded by its SHA-256, under "inputs".
    parameters = {
        "scenario": "lv_inflation",
        "mesh": "user mesh" if args.mesh else "Land et al. (2015) ellipsoid",
        "end_diastolic_pressure_kPa": p_ed,
        "mesh_size_mm": None if args.mesh else h,
        "load_steps": args.steps,
        "material": repr(passive),
        "fibres": fibre_rule,
        "formulation": "mixed",
    }

    resume = comm.bcast(on_rank0(comm, lambda: start_run(out / "checkpoint", parameters, inputs,
                                                         restart=args.restart)), root=0)
    if resume:
        say("resuming: the output folder holds this run's checkpoint (--restart starts over)")

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
    say(f"LV mesh: {problem.num_dofs} unknowns on {comm.size} rank(s)")

    # Fibre direction for the results file: at the vertices for the analytic
    # field, per cell for a mesh's own fibres.
    if args.mesh:
        cells = np.arange(domain.fibres.num_cells, dtype=np.int32)
        fibre = (cells, domain.fibres.bases[:, 0])
    else:
        V1 = dolfinx.fem.functionspace(domain.mesh, ("Lagrange", 1, (3,)))
        fibre = dolfinx.fem.Function(V1, name="fibre")
        fibre.interpolate(lambda x: fibres(x.T)[:, 0, :].T)

    volume = lambda u: cavity_volume(domain, u, "endo", axis=plane.normal,  # noqa: E731
                                     base_point=plane.point)
    say(f"{'p [kPa]':>8} {'p [mmHg]':>9} {'V [ml]':>8} {'newton':>6}")
    path = out / "lv_inflation.vtkhdf"
    with ResultsWriter(path, domain.mesh, parameters=parameters, inputs=inputs,
                       static={"fibre": fibre}, report=REPORT.as_dict(),
                       resume=resume) as writer:

        def record(t, iterations):
            u = problem.displacement()
            v = volume(u)
            p = problem.scalars()["endo_pressure_kPa"]  # the pressure applied at pseudo-time t
            say(f"{p:>8.3f} {p / units.MMHG_IN_KPA:>9.2f} {v / 1e3:>8.3f} {iterations:>6}")
            writer.write(
                t,
                {"displacement": u, "fibre_stress": problem.fibre_stress()},
                {"pressure_kPa": p, "cavity_volume_mm3": v, "newton_iterations": iterations},
            )

        try:
            # The unloaded reference, pseudo-time 0 (no pressure yet): the
            # start of the pressure-volume curve (already in the results of a
            # resumed run).
            if not writer.times:
                problem.set_time(0.0, ramped=True)
                record(0.0, 0)
            # The state is saved after every step; a rerun resumes from the
            # last save, and the results writer drops steps written after it.
            done = ramp(problem, args.steps, checkpoint=out / "checkpoint", results=writer,
                        on_step=lambda step: record(step.time, step.iterations))
        finally:
            problem.close()
    if resume and not done.steps:
        say("nothing to do: the run had finished; its results are unchanged")

    if comm.rank == 0:
        say(f"results: {path}")
        if not args.no_render:
            png = render(path, out / "lv_inflation.png", field="displacement", title="LV inflation")
            say(f"render:  {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""From a label map to a passively inflated, patient-shaped left ventricle.

The image-based twin in one literate script: label map -> tagged LV mesh ->
rule-based fibres -> Holzapfel-Ogden inflation to end-diastolic pressure ->
results and renders.  Runs unchanged in serial or under MPI (meshing and
fibres on rank 0, the solve on all ranks)::

    python solvers/image_to_lv_inflation.py --out results/image_lv
    python solvers/image_to_lv_inflation.py --image heart_labels.nii.gz --labels mmwhs
    mpirun -n 2 python solvers/image_to_lv_inflation.py --out results/image_lv

Without ``--image`` it meshes a built-in synthetic label map: the truncated
ellipsoidal LV of :func:`organfem.imaging.phantoms.lv_phantom` (MM-WHS codes
205 myocardium, 500 blood pool), on oblique image axes.  It writes
``mesh.h5`` (tags and fibres), ``image_lv.vtkhdf`` (displacement, fibre
stress, fibres, per load step, with provenance) and renders ``tags.png``,
``fibres.png`` and ``image_lv.png``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from organfem import units
from organfem._dolfinx import MPI, dolfinx

# 1. Image: a label map in LPS millimetres (NIfTI, NRRD, MetaImage or DICOM).
from organfem.imaging import parse_labels, read_image
from organfem.imaging.phantoms import lv_phantom

# 2. Mesh: LV myocardium with endo/epi/base tags and a planar base cut.
from organfem.meshing import lv_mesh

# 3. Fibres: Laplace-Dirichlet rule-based (Bayer et al. 2012), +60/-60 deg.
from organfem.fibres import ldrb_fibres

# 4. Material, loads, constraints and the solve.
from organfem.materials import HolzapfelOgden, VolumetricPenalty
from organfem.mechanics import Domain, Fixed, HyperelasticProblem, Pressure, cavity_volume, ramp

# 5. Results and renders.
from organfem.io import ResultsWriter
from organfem.viz import render, render_mesh


def _image_and_labels(args):
    """The label map and its label names (rank 0 only)."""
    if args.image is None:
        from scipy.spatial.transform import Rotation

        direction = Rotation.from_euler("xyz", [20, -30, 45], degrees=True).as_matrix()
        phantom = lv_phantom((72, 72, 72), direction=direction, axis=(0.3, 0.2, 1.0))
        return phantom.image, phantom.labels, "built-in LV phantom"
    return read_image(args.image), parse_labels(args.labels), Path(args.image).name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Label map -> LV mesh -> fibres -> Holzapfel-Ogden inflation."
    )
    parser.add_argument("--image", help="label map file or DICOM folder (default: built-in)")
    parser.add_argument("--labels", default="mmwhs", help="label preset or name=value list")
    parser.add_argument("--myocardium", default="lv_myocardium", help="myocardium label name")
    parser.add_argument("--blood-pool", default="lv_blood_pool", help="LV blood-pool label name")
    parser.add_argument("--out", default="results/image_lv", help="output folder")
    parser.add_argument("--pressure", default="2 kPa", help="end-diastolic pressure")
    parser.add_argument("--mesh-size", default="6 mm", help="target edge length")
    parser.add_argument("--steps", type=int, default=6, help="load steps (pseudo-time 0 to 1)")
    parser.add_argument("--no-render", action="store_true", help="skip the PNGs")
    args = parser.parse_args(argv)
    comm = MPI.COMM_WORLD
    say = print if comm.rank == 0 else (lambda *a, **k: None)
    p_ed, h = units.pressure(args.pressure), units.length(args.mesh_size)
    out = Path(args.out)

    # --- 1-3. image -> mesh -> fibres, on rank 0 ----------------------------
    data, plane = None, None
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        image, labels, source = _image_and_labels(args)
        made = lv_mesh(image, labels, myocardium=args.myocardium, blood_pool=args.blood_pool,
                       size=h, source=source)
        say(f"mesh from {source}:\n{made.quality}")
        data = made.mesh.with_fibres(ldrb_fibres(made.mesh, alpha_endo=60.0, alpha_epi=-60.0))
        data.save(out / "mesh.h5")
        plane = made.planes["base"]
    plane = comm.bcast(plane, root=0)
    domain = Domain.from_meshdata(data, comm)

    # --- 4. the problem -------------------------------------------------------
    # The pressure is a plain number: the quasi-static ramp raises it linearly
    # over the pseudo-time 0..1 (p = t p_ed).  If Newton fails, the error names
    # the pressures reached and missed in kPa and mmHg.
    passive = HolzapfelOgden.holzapfel_ogden_2009()
    law = passive + VolumetricPenalty(kappa=50.0, kind="log")
    problem = HyperelasticProblem(
        domain,
        law,
        constraints=[Fixed("base")],
        loads=[Pressure("endo", p_ed)],
        fibres=domain.fibres,
        formulation="mixed",
        petsc_options_prefix="image_lv_",
    )
    say(f"{problem.num_dofs} unknowns on {comm.size} rank(s)")

    # The fibre direction per cell, for the results file.
    V0 = dolfinx.fem.functionspace(domain.mesh, ("DG", 0, (3,)))
    fibre = dolfinx.fem.Function(V0, name="fibre")
    cells = np.arange(domain.fibres.num_cells, dtype=np.int32)
    fibre.x.array.reshape(-1, 3)[V0.dofmap.list[cells, 0]] = domain.fibres.bases[:, 0]

    volume = lambda u: cavity_volume(domain, u, "endo", axis=plane.normal,  # noqa: E731
                                     base_point=plane.point)
    parameters = {
        "scenario": "image_to_lv_inflation",
        # Never the path (it may name the patient): a file's SHA-256 is in inputs.
        "image": "user label map" if args.image else "built-in LV phantom",
        "end_diastolic_pressure_kPa": p_ed,
        "mesh_size_mm": h,
        "load_steps": args.steps,
        "material": repr(passive),
        "fibres": "LDRB (Bayer 2012), helix +60/-60 deg",
    }
    inputs = {"labels": args.image} if args.image and Path(args.image).is_file() else {}
    say(f"{'p [kPa]':>8} {'p [mmHg]':>9} {'V [ml]':>8} {'newton':>6}")
    path = out / "image_lv.vtkhdf"
    with ResultsWriter(path, domain.mesh, parameters=parameters, inputs=inputs,
                       static={"fibre": fibre}) as writer:

        def record(t, iterations):
            u = problem.displacement()
            v = volume(u)
            p = problem.scalars()["endo_pressure_kPa"]  # the pressure applied at pseudo-time t
            say(f"{p:>8.3f} {p / units.MMHG_IN_KPA:>9.2f} {v / 1e3:>8.3f} {iterations:>6}")
            writer.write(t, {"displacement": u, "fibre_stress": problem.fibre_stress()},
                         {"pressure_kPa": p, "cavity_volume_mm3": v})

        try:
            # The unloaded reference, pseudo-time 0 of the ramp (no pressure
            # yet): the start of the pressure-volume curve.
            problem.set_time(0.0, ramped=True)
            record(0.0, 0)
            ramp(problem, args.steps, on_step=lambda step: record(step.time, step.iterations))
        finally:
            problem.close()

    # --- 5. renders -----------------------------------------------------------
    if comm.rank == 0:
        say(f"results: {path}")
        if not args.no_render:
            for png in (
                render_mesh(out / "mesh.h5", out / "tags.png", show="tags"),
                render_mesh(out / "mesh.h5", out / "fibres.png", show="fibres"),
                render(path, out / "image_lv.png", field="displacement",
                       title="Image-based LV inflation"),
            ):
                say(f"render:  {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

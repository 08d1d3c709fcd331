"""From a label map (or your own mesh) to a passively inflated, patient-shaped left ventricle.

The image-based twin in one literate script: label map -> tagged LV mesh ->
rule-based fibres -> Holzapfel-Ogden inflation to end-diastolic pressure ->
results and renders.  Runs unchanged in serial or under MPI (meshing and
fibres on rank 0, the solve on all ranks)::

    python solvers/image_to_lv_inflation.py --out results/image_lv
    python solvers/image_to_lv_inflation.py --image heart_labels.nii.gz --labels mmwhs
    organfem run image-to-lv-inflation --image dicom_labels/   # a DICOM series folder
    organfem run image-to-lv-inflation --mesh lv.h5            # made by `organfem mesh`
    mpirun -n 2 python solvers/image_to_lv_inflation.py --out results/image_lv
    organfem run image-to-lv-inflation --help                  # every option, with its default

Without ``--image`` or ``--mesh`` it meshes a built-in synthetic label map:
the truncated ellipsoidal LV of :func:`organfem.imaging.phantoms.lv_phantom`
(MM-WHS codes 205 myocardium, 500 blood pool), on oblique image axes.  With
``--mesh`` it skips meshing (and the fibres, when the mesh has them).  It
writes ``mesh.h5`` (tags and fibres), ``image_lv.vtkhdf`` (displacement,
fibre stress, fibres, per load step, with provenance) and renders
``tags.png``, ``fibres.png`` and ``image_lv.png``.

Privacy: a file or folder name may name the patient, so inputs are never
named by their path, neither in what is printed nor in the results: they are
"label map sha256:1a2b3c4d" in messages and their full SHA-256 (for a DICOM
folder: over its files' contents, :func:`organfem.io.sha256_folder`) in the
results' ``inputs``.

It saves its state after every load step in ``checkpoint/`` of the output
folder.  Run the same command again and an interrupted run resumes from its
last step, without meshing again (a finished one is left as it is);
``--restart`` starts over.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from organfem import units
from organfem._dolfinx import MPI
from organfem.errors import ImageError, ParameterError, without_path

# 1. Image: a label map in LPS millimetres (NIfTI, NRRD, MetaImage or DICOM).
from organfem.imaging import parse_labels, read_image
from organfem.imaging.phantoms import lv_phantom

# 2. Mesh: LV myocardium with endo/epi/base tags and a planar base cut (or
#    the user's mesh file, as `organfem mesh` writes it).
from organfem.meshing import MeshData, lv_mesh

# 3. Fibres: Laplace-Dirichlet rule-based (Bayer et al. 2012), +60/-60 deg.
from organfem.fibres import ldrb_fibres, load_lv_mesh

# 4. Material, loads, constraints and the solve.
from organfem.materials import HolzapfelOgden, VolumetricPenalty
from organfem.mechanics import (
    Domain,
    Fixed,
    HyperelasticProblem,
    Pressure,
    cavity_volume,
    on_rank0,
    ramp,
)

# 5. Results (inputs named by their hash only), checkpoints and renders.
from organfem.io import ResultsWriter, input_label, resume_run, save_run, sha256_input
from organfem.viz import render, render_mesh

# 6. The report (`organfem report`): what it shows is declared with the results.
from organfem.report import inflation_spec

REPORT = inflation_spec(
    "Passive inflation of an image-based left ventricle",
    "The cavity pressure of a left ventricle meshed from a label map (or the mesh given) "
    "is raised to the end-diastolic pressure in load steps; the passive myocardium "
    "(Holzapfel-Ogden 2009, nearly incompressible) stretches and the cavity fills. The "
    "base is held fixed. Shown: the deformed ventricle coloured by fibre stress, the end-"
    "diastolic pressure and volume, and the passive pressure-volume relation.",
)
NAME = "image-to-lv-inflation"
FIBRES = "LDRB (Bayer 2012), helix +60/-60 deg"


def parser() -> argparse.ArgumentParser:
    """The scenario's options (``organfem run image-to-lv-inflation --help``)."""
    options = argparse.ArgumentParser(
        prog=f"organfem run {NAME}" if __name__ != "__main__" else None,
        description="Label map -> LV mesh -> fibres -> Holzapfel-Ogden inflation; or a mesh "
        "file -> inflation. Rerun the same command to resume an interrupted run from its "
        "checkpoint.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    source = options.add_mutually_exclusive_group()
    source.add_argument("--image", metavar="FILE_OR_FOLDER",
                        help="label map file or DICOM folder (default: a built-in phantom)")
    source.add_argument("--mesh", metavar="FILE",
                        help="LV mesh (.h5 from `organfem mesh`, facet tags endo/epi/base) "
                        "instead of meshing an image")
    options.add_argument("--labels", default="mmwhs", help="label preset or name=value list")
    options.add_argument("--myocardium", default="lv_myocardium", help="myocardium label name")
    options.add_argument("--blood-pool", default="lv_blood_pool", help="LV blood-pool label name")
    options.add_argument("--out", default="results/image_lv", help="output folder")
    options.add_argument("--pressure", default="2 kPa", help="end-diastolic pressure")
    options.add_argument("--mesh-size", default="6 mm",
                         help="target edge length of the mesh (ignored with --mesh)")
    options.add_argument("--steps", type=int, default=6, help="load steps (pseudo-time 0 to 1)")
    options.add_argument("--restart", action="store_true",
                         help="discard the checkpoint of an earlier run in --out and start over")
    options.add_argument("--no-render", action="store_true", help="skip the PNGs")
    return options


def image_and_labels(args, label: str, say):
    """The label map and its label names (rank 0).  Errors name the input by
    ``label`` (its role and hash), not by its path."""
    if args.image is None:
        from scipy.spatial.transform import Rotation

        direction = Rotation.from_euler("xyz", [20, -30, 45], degrees=True).as_matrix()
        phantom = lv_phantom((72, 72, 72), direction=direction, axis=(0.3, 0.2, 1.0))
        return phantom.image, phantom.labels
    try:
        image = read_image(args.image)
    except ImageError as err:
        raise without_path(err, args.image, label) from None
    say(f"image:  {label}, {'x'.join(map(str, image.shape))} voxels")
    return image, parse_labels(args.labels)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    comm = MPI.COMM_WORLD
    say = print if comm.rank == 0 else (lambda *a, **k: None)
    p_ed, h = units.pressure(args.pressure), units.length(args.mesh_size)
    out = Path(args.out)
    passive = HolzapfelOgden.holzapfel_ogden_2009()

    # --- the run's inputs, parameters and checkpoint ---------------------------
    # Inputs by role: a label map file, a DICOM folder or a mesh file.  They are
    # recorded by their SHA-256 only, and named in messages by role and hash.
    if args.mesh:
        inputs, what = {"mesh": args.mesh}, "user mesh"
    elif args.image and Path(args.image).is_dir():
        inputs, what = {"dicom_series": args.image}, "user label map (DICOM series)"
    elif args.image:
        inputs, what = {"label_map": args.image}, "user label map"
    else:
        inputs, what = {}, "built-in LV phantom"
    meshing = not args.mesh
    parameters = {
        "scenario": "image_to_lv_inflation",
        # Never a path or file name (it may name the patient).
        "input": what,
        "labels": args.labels if args.image else None,
        "myocardium": args.myocardium if meshing else None,
        "blood_pool": args.blood_pool if meshing else None,
        "end_diastolic_pressure_kPa": p_ed,
        "mesh_size_mm": h if meshing else None,
        "load_steps": args.steps,
        "material": repr(passive),
        "fibres": FIBRES if meshing else f"from the mesh file, else {FIBRES}",
    }

    # --- 1-3. image -> mesh -> fibres, on rank 0 ----------------------------
    # A resumed run takes the mesh it saved (mesh.h5) and does not mesh again.
    def prepare():
        out.mkdir(parents=True, exist_ok=True)
        for role, path in inputs.items():
            if not Path(path).exists():
                raise ParameterError(f"--{'mesh' if role == 'mesh' else 'image'}: no such file "
                                     "or folder")
        hashes = {role: sha256_input(path) for role, path in inputs.items()}
        run = {"parameters": parameters, "inputs": hashes}
        resume, before = resume_run(out / "checkpoint", run, restart=args.restart)
        saved = out / "mesh.h5"
        if resume and not (saved.is_file() and before.get("mesh_h5") == sha256_input(saved)):
            say("starting over: the mesh of the checkpointed run is gone or was changed")
            resume, _ = resume_run(out / "checkpoint", run, restart=True)
        if resume:
            say("resuming: the output folder holds this run's checkpoint and mesh "
                "(--restart starts over)")
            data = MeshData.load(saved)
        else:
            if args.mesh:
                label = input_label(args.mesh, "mesh")
                data, rule = load_lv_mesh(args.mesh, label=label)
                say(f"mesh:   {label}; fibres {rule}")
            else:
                source = input_label(args.image, "label map") if args.image else what
                image, labels = image_and_labels(args, source, say)
                made = lv_mesh(image, labels, myocardium=args.myocardium,
                               blood_pool=args.blood_pool, size=h, source=source)
                say(f"mesh from {source}:\n{made.quality}")
                data = made.mesh.with_fibres(
                    ldrb_fibres(made.mesh, alpha_endo=60.0, alpha_epi=-60.0))
            data.save(saved)
        save_run(out / "checkpoint", run | {"mesh_h5": sha256_input(saved)})
        plane, off = data.plane_of("base")
        if off > 1e-3:
            say(f"warning: the base is not flat (up to {off:.2g} mm off its plane); the "
                "cavity volumes are approximate")
        return data, resume, plane

    data, resume, plane = on_rank0(comm, prepare) or (None, None, None)
    resume, plane = comm.bcast((resume, plane), root=0)
    domain = Domain.from_meshdata(data, comm)

    # --- 4. the problem -------------------------------------------------------
    # The pressure is a plain number: the quasi-static ramp raises it linearly
    # over the pseudo-time 0..1 (p = t p_ed).  If Newton fails, the error names
    # the pressures reached and missed in kPa and mmHg.
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

    # The fibre direction per cell (this rank's cells), for the results file.
    cells = np.arange(domain.fibres.num_cells, dtype=np.int32)
    fibre = (cells, domain.fibres.bases[:, 0])

    # The cavity is cut by the base plane: its volume is exact for that cut.
    volume = lambda u: cavity_volume(domain, u, "endo", axis=plane.normal,  # noqa: E731
                                     base_point=plane.point)
    say(f"{'p [kPa]':>8} {'p [mmHg]':>9} {'V [ml]':>8} {'newton':>6}")
    path = out / "image_lv.vtkhdf"
    with ResultsWriter(path, domain.mesh, parameters=parameters, inputs=inputs,
                       static={"fibre": fibre}, report=REPORT.as_dict(),
                       resume=resume) as writer:

        def record(t, iterations):
            u = problem.displacement()
            v = volume(u)
            p = problem.scalars()["endo_pressure_kPa"]  # the pressure applied at pseudo-time t
            say(f"{p:>8.3f} {p / units.MMHG_IN_KPA:>9.2f} {v / 1e3:>8.3f} {iterations:>6}")
            writer.write(t, {"displacement": u, "fibre_stress": problem.fibre_stress()},
                         {"pressure_kPa": p, "cavity_volume_mm3": v,
                          "newton_iterations": iterations})

        try:
            # The unloaded reference, pseudo-time 0 of the ramp (no pressure
            # yet): the start of the pressure-volume curve (already in the
            # results of a resumed run).
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

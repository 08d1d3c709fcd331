"""The ``organfem`` command.

    organfem run lv-inflation [scenario options]   run a scenario of solvers/
    organfem run --list                            list the scenarios
    organfem render results.vtkhdf [--field ...]   PNG of a results file
    organfem info results.vtkhdf                   steps, scalars and provenance
    organfem deidentify SRC_FOLDER DST_FOLDER      copy DICOM files without patient identifiers
    organfem mesh labels.nii.gz --out mesh.h5      label map -> tagged tetrahedra (+ LV fibres)
    organfem render mesh.h5 [--show fibres]        PNG of a mesh's tags, cells or fibres

Scenarios are the literate scripts in ``solvers/`` (next to the package in a
source checkout or the Docker image; set ``ORGANFEM_SOLVERS`` to point
elsewhere).  Each runs unchanged under ``mpirun -n N organfem run ...``.
Logging goes to rank 0 only.
"""

from __future__ import annotations

import argparse
import logging
import os
import runpy
import sys
from pathlib import Path

__all__ = ["main", "scenarios"]

log = logging.getLogger("organfem")


def _solvers_dir() -> Path:
    env = os.environ.get("ORGANFEM_SOLVERS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "solvers"


def scenarios() -> dict[str, Path]:
    """Scenario name (``lv-inflation``) -> script path."""
    folder = _solvers_dir()
    if not folder.is_dir():
        return {}
    return {
        p.stem.replace("_", "-"): p for p in sorted(folder.glob("*.py")) if not p.stem.startswith("_")
    }


def _rank() -> int:
    # Read from the environment so that `organfem --help` does not start MPI.
    for var in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK"):
        if var in os.environ:
            return int(os.environ[var])
    return 0


def _setup_logging(verbose: bool) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    if _rank() != 0:
        level = logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _run(args: argparse.Namespace, rest: list[str]) -> int:
    available = scenarios()
    if args.list or not args.scenario:
        if _rank() == 0:
            print("scenarios (from %s):" % _solvers_dir())
            for name, path in available.items():
                doc = (path.read_text().split('"""')[1].strip().splitlines() or [""])[0]
                print(f"  {name:<24} {doc}")
        return 0
    path = Path(args.scenario)
    if not path.suffix == ".py":
        if args.scenario not in available:
            print(
                f"organfem run: unknown scenario {args.scenario!r}; available: "
                f"{', '.join(available) or 'none (set ORGANFEM_SOLVERS)'}",
                file=sys.stderr,
            )
            return 2
        path = available[args.scenario]
    namespace = runpy.run_path(str(path), run_name="organfem_scenario")
    return int(namespace["main"](rest) or 0)


def _render(args: argparse.Namespace) -> int:
    from .meshing import MeshData
    from .viz import render, render_mesh

    out = args.out or str(Path(args.results).with_suffix(".png"))
    if MeshData.is_file(args.results):
        png = render_mesh(args.results, out, show=args.show, clip=args.clip)
    else:
        png = render(args.results, out, field=args.field, step=args.step, scale=args.scale)
    print(png)
    return 0


def _mesh(args: argparse.Namespace) -> int:
    import json

    from . import units
    from .errors import ParameterError
    from .imaging import parse_labels, read_image
    from .meshing import QualityThresholds, labels_mesh, lv_mesh, vessel_mesh

    if args.xdmf and Path(args.xdmf).with_suffix(".h5").resolve() == Path(args.out).resolve():
        raise ParameterError(
            f"--xdmf {args.xdmf} keeps its data in {Path(args.xdmf).with_suffix('.h5')}, the "
            f"--out file; give the XDMF file another name"
        )
    source = Path(args.image).name
    image = read_image(args.image)
    labels = parse_labels(args.labels)
    size = units.length(args.size)
    log.info("image     %s: %s voxels of %s mm", source, "x".join(map(str, image.shape)),
             "x".join(f"{s:.3g}" for s in image.spacing))
    common = dict(
        size=size, mesher=args.mesher, source=source,
        smoothing_iterations=args.smoothing_iterations,
        thresholds=QualityThresholds(min_dihedral_deg=args.min_dihedral,
                                     max_volume_error=args.max_volume_error),
    )
    if args.anatomy == "lv":
        made = lv_mesh(image, labels, myocardium=args.myocardium, blood_pool=args.blood_pool,
                       base_offset=units.length(args.base_offset), **common)
    elif args.anatomy == "vessel":
        made = vessel_mesh(image, labels, vessel=args.vessel, **common)
    else:
        names = args.names.split(",") if args.names else list(labels)
        made = labels_mesh(image, labels, names=names, **common)
    mesh = made.mesh
    if args.anatomy == "lv" and not args.no_fibres:
        from .fibres import ldrb_fibres

        mesh = mesh.with_fibres(
            ldrb_fibres(mesh, alpha_endo=args.alpha_endo, alpha_epi=args.alpha_epi)
        )
        log.info("fibres    LDRB, helix %+g / %+g deg (endo / epi)", args.alpha_endo,
                 args.alpha_epi)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    mesh.save(out)
    if args.xdmf:
        from ._dolfinx import MPI
        from .mechanics import Domain

        Domain.from_meshdata(mesh, MPI.COMM_SELF).write_xdmf(args.xdmf)
    print(f"{out}: {mesh.num_cells:,} tetrahedra, facet tags "
          + ", ".join(f"{k} ({(mesh.facet_values == v).sum():,})"
                      for k, v in mesh.facet_names.items())
          + ", cell tags " + ", ".join(mesh.cell_names))
    print(made.quality)
    print("volume change before correction: " + ", ".join(
        f"{k} {100 * v:+.3f} %" for k, v in made.volume_change.items()))
    if args.report:
        report = made.quality.as_dict() | {
            "seconds": dict(made.seconds),
            "volume_change_before_correction": dict(made.volume_change),
        }
        Path(args.report).write_text(json.dumps(report, indent=2))
    return 0


def _info(args: argparse.Namespace) -> int:
    from .io import read_results

    results = read_results(args.results)
    print(f"{results.path}: {len(results.times)} steps, t = {results.times.tolist()}")
    for name, values in results.scalars.items():
        print(f"  {name}: {values.tolist()}")
    for key, value in sorted(results.attributes.items()):
        print(f"  {key} = {value}")
    return 0


def _deidentify(args: argparse.Namespace) -> int:
    from .imaging.dicom import deidentify

    # Counts only: never print header values (or the paths, which may carry names).
    report = deidentify(
        args.src, args.dst, salt=args.salt,
        retain_patient_characteristics=args.retain_patient_characteristics,
    )  # fmt: skip
    print(report.summary())
    if report.burned_in_annotation:
        print(
            f"warning: {report.burned_in_annotation} file(s) declare burned-in annotation; "
            "their pixels may show identifying text: check them by eye"
        )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="organfem",
        allow_abbrev=False,
        description="organfem: patient-specific organ digital twins (cardiac mechanics on "
        "DOLFINx, materials in JAX). Run a scenario, then render or inspect its results.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        allow_abbrev=False,
        help="run a scenario (options after the name go to the scenario)",
        description="Run a scenario script of solvers/ by name or path. Options after the "
        "name are the scenario's own; see `organfem run NAME --help`. Use under "
        "`mpirun -n N` for parallel runs.",
    )
    run.add_argument("scenario", nargs="?", help="scenario name (e.g. lv-inflation) or a .py path")
    run.add_argument("--list", action="store_true", help="list the scenarios and exit")

    render = sub.add_parser(
        "render",
        help="render a results file to PNG",
        description="Off-screen PNG of the deformed geometry of one step of a results file, "
        "coloured by a field (vector fields by magnitude).",
    )
    render.add_argument("results", help="a .vtkhdf results file or a mesh .h5 file")
    render.add_argument("--out", help="PNG path (default: next to the input)")
    render.add_argument("--show", default="tags", choices=("tags", "cells", "fibres"),
                        help="for a mesh file: what to colour (default: tags)")
    render.add_argument("--clip", action="store_true",
                        help="for a mesh file: cut it open along the long axis")
    render.add_argument("--field", default="displacement", help="field to colour by")
    render.add_argument("--step", type=int, default=-1, help="step index (default: last)")
    render.add_argument("--scale", type=float, default=1.0, help="displacement warp factor")

    mesh = sub.add_parser(
        "mesh",
        allow_abbrev=False,
        help="mesh a label map: tagged tetrahedra (and LV fibres) saved as HDF5",
        description="Turn a label map (NIfTI, NRRD, MetaImage, or a DICOM folder) into a "
        "tagged tetrahedral mesh in the image's LPS millimetres, print its quality report and "
        "save it with MeshData.save. --anatomy lv: endo/epi/base tags, a planar base through "
        "the valve openings and LDRB fibres; vessel: wall/inlet/outlet_k; labels: one cell "
        "tag per label.",
    )
    mesh.add_argument("image", help="label map file or DICOM folder")
    mesh.add_argument("--labels", default="mmwhs",
                      help="preset (mmwhs, totalseg-heartchambers, totalseg-total) and/or "
                      "name=value pairs, e.g. 'lv_myocardium=1,lv_blood_pool=2'")
    mesh.add_argument("--out", required=True, help="mesh file to write (.h5)")
    mesh.add_argument("--anatomy", default="lv", choices=("lv", "vessel", "labels"))
    mesh.add_argument("--size", default="3 mm", help="target edge length, e.g. '2.5 mm'")
    mesh.add_argument("--myocardium", default="lv_myocardium", help="lv: myocardium label")
    mesh.add_argument("--blood-pool", default="lv_blood_pool", help="lv: blood-pool label")
    mesh.add_argument("--base-offset", default="0 mm",
                      help="lv: move the base plane towards the apex by this much")
    mesh.add_argument("--vessel", default="aorta", help="vessel: the vessel label")
    mesh.add_argument("--names", help="labels: comma-separated label names to mesh")
    mesh.add_argument("--no-fibres", action="store_true", help="lv: skip the fibres")
    mesh.add_argument("--alpha-endo", type=float, default=60.0, help="lv: endo helix [deg]")
    mesh.add_argument("--alpha-epi", type=float, default=-60.0, help="lv: epi helix [deg]")
    mesh.add_argument("--mesher", default="auto", choices=("auto", "gmsh", "ftetwild"))
    mesh.add_argument("--smoothing-iterations", type=int, default=16)
    mesh.add_argument("--min-dihedral", type=float, default=5.0,
                      help="fail if the smallest dihedral angle is below this [deg]")
    mesh.add_argument("--max-volume-error", type=float, default=0.05,
                      help="fail if the volume differs from the label's by more (fraction)")
    mesh.add_argument("--report", help="also write the quality report to this JSON file")
    mesh.add_argument("--xdmf", help="also write the mesh and its tags as XDMF (for plain "
                      "DOLFINx and ParaView)")

    info = sub.add_parser("info", help="print the steps, scalars and provenance of a results file")
    info.add_argument("results", help="a .vtkhdf results file")

    deid = sub.add_parser(
        "deidentify",
        help="copy a folder of DICOM files with patient identifiers removed",
        description="De-identify the DICOM files of SRC_FOLDER (and its sub-folders) into the "
        "new folder DST_FOLDER following the DICOM PS3.15 Annex E Basic Application Level "
        "Confidentiality Profile: identifying attributes and private tags removed or emptied, "
        "UIDs replaced consistently, geometry and pixel data unchanged. Non-DICOM files are "
        "skipped. Prints counts only.",
    )
    deid.add_argument("src", metavar="SRC_FOLDER", help="folder with the identifiable files")
    deid.add_argument("dst", metavar="DST_FOLDER", help="folder to create (must not exist)")
    deid.add_argument(
        "--salt",
        help="secret mixed into the new UIDs; reuse it to de-identify several folders of one "
        "study consistently (default: random per run)",
    )
    deid.add_argument(
        "--retain-patient-characteristics",
        action="store_true",
        help="keep sex, age, size and weight (PS3.15 Retain Patient Characteristics Option)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``organfem`` console script."""
    args, rest = _parser().parse_known_args(argv)
    if rest and args.command != "run":
        _parser().error(f"unrecognised arguments: {' '.join(rest)}")
    _setup_logging(args.verbose)
    from .errors import OrganfemError

    try:
        if args.command == "run":
            return _run(args, rest)
        if args.command == "render":
            return _render(args)
        if args.command == "deidentify":
            return _deidentify(args)
        if args.command == "mesh":
            return _mesh(args)
        return _info(args)
    except OrganfemError as error:
        log.error("%s", error)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""The ``organfem`` command.

    organfem run lv-inflation [scenario options]   run a scenario of solvers/
    organfem run --list                            list the scenarios
    organfem render results.vtkhdf [--field ...]   PNG of a results file
    organfem info results.vtkhdf                   steps, scalars and provenance
    organfem report results.vtkhdf [--pdf r.pdf]   self-contained HTML (and PDF) report
    organfem deidentify SRC_FOLDER DST_FOLDER      copy DICOM files without patient identifiers
    organfem mesh labels.nii.gz --out mesh.h5      label map -> tagged tetrahedra (+ LV fibres)
    organfem render mesh.h5 [--show fibres]        PNG of a mesh's tags, cells or fibres
    organfem whatif table.csv --out DIR            batch of LV inflations in pure JAX (CPU/GPU)

Scenarios are the literate scripts in ``solvers/`` (next to the package in a
source checkout or the Docker image; set ``ORGANFEM_SOLVERS`` to point
elsewhere).  Each runs unchanged under ``mpirun -n N organfem run ...``.
Logging goes to rank 0 only.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
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
    # organfem's own progress at INFO; other libraries (JAX, pyacvd, ...) only
    # warn, unless --verbose.
    level = logging.DEBUG if verbose else logging.INFO
    if _rank() != 0:
        level = logging.WARNING
    logging.basicConfig(level=level if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("organfem").setLevel(level)


def _run(args: argparse.Namespace, rest: list[str]) -> int:
    if args.help:
        if not args.scenario:
            args.run_parser.print_help()
            return 0
        # `organfem run NAME --help`: the scenario's own options.
        rest = ["--help", *rest]
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
    from .io import read_results
    from .meshing import MeshData
    from .viz import render, render_mesh

    source = Path(args.results)
    unfinished = source.name.endswith(".partial")
    if unfinished:  # run.vtkhdf.partial -> run.partial.png, not mistaken for the final render
        default = source.with_name(source.name[: -len(".partial")]).with_suffix(".partial.png")
    else:
        default = source.with_suffix(".png")
    out = args.out or str(default)
    if MeshData.is_file(args.results):
        png = render_mesh(args.results, out, show=args.show, clip=args.clip)
    else:
        if unfinished:  # on stderr: stdout is the PNG path
            print(_unfinished_notice(read_results(source)), file=sys.stderr)
        png = render(args.results, out, field=args.field, step=args.step, scale=args.scale)
    print(png)
    return 0


def _unfinished_notice(results) -> str:
    """One line saying that ``results`` is the partial file of an unfinished run."""
    count = len(results.times)
    last = f" (last t = {results.times[-1]:g})" if count else ""
    return (
        f"unfinished run: {results.path.name} holds {count} step{'s' if count != 1 else ''}"
        f" written so far{last}; the run was interrupted, failed or is still running"
    )


def _numbers(text: str, count: int, what: str) -> list[float]:
    from .errors import ParameterError

    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != count or not all(map(math.isfinite, values)):
        raise ParameterError(f"{what} {text!r}: expected {count} numbers in mm separated by "
                             "commas (a point: 'x,y,z'; a plane: 'x,y,z;nx,ny,nz')")
    return values


def _plane(text: str, what: str):
    from .meshing import Plane

    values = _numbers(text, 6, what)
    return Plane(values[:3], values[3:])


def _mesh(args: argparse.Namespace) -> int:
    import json

    from . import units
    from .errors import OrganfemError, ParameterError, without_path
    from .imaging import parse_labels, read_image
    from .io import input_label, write_atomically
    from .meshing import QualityThresholds, labels_mesh, lv_mesh, vessel_mesh

    if args.xdmf and Path(args.xdmf).with_suffix(".h5").resolve() == Path(args.out).resolve():
        raise ParameterError(
            f"--xdmf {args.xdmf} keeps its data in {Path(args.xdmf).with_suffix('.h5')}, the "
            f"--out file; give the XDMF file another name"
        )
    # Everything that can be checked without the image is checked first.
    size = units.length(args.size)
    if not size > 0:
        raise ParameterError(f"--size {args.size!r}: the element size must be a positive length")
    labels = parse_labels(args.labels)
    min_wall = units.length(args.min_wall)
    if min_wall < 0:
        raise ParameterError(f"--min-wall {args.min_wall!r}: expected a length >= 0 mm")
    base = None if args.base_plane.strip().lower() == "auto" else _plane(args.base_plane,
                                                                          "--base-plane")
    caps = [_plane(text, "--caps") for text in args.caps or ()]
    inlet = _numbers(args.inlet, 3, "--inlet") if args.inlet else None
    # Messages name the input by its role and hash: its path may name the patient.
    source = input_label(args.image, "label map") if Path(args.image).exists() else "label map"
    try:
        image = read_image(args.image)
    except OrganfemError as err:
        raise without_path(err, args.image, source) from None
    log.info("image     %s: %s voxels of %s mm", source, "x".join(map(str, image.shape)),
             "x".join(f"{s:.3g}" for s in image.spacing))
    common = dict(
        size=size, mesher=args.mesher, source=source, max_cells=args.max_cells,
        smoothing_iterations=args.smoothing_iterations,
        thresholds=QualityThresholds(min_dihedral_deg=args.min_dihedral,
                                     max_volume_error=args.max_volume_error),
    )
    if args.anatomy == "lv":
        made = lv_mesh(image, labels, myocardium=args.myocardium, blood_pool=args.blood_pool,
                       base=base, base_offset=units.length(args.base_offset),
                       min_wall=min_wall or None, **common)
    elif args.anatomy == "vessel":
        made = vessel_mesh(image, labels, vessel=args.vessel, caps=caps, inlet=inlet, **common)
    elif args.anatomy == "aortic-root":
        from .meshing import aortic_root_mesh

        ct = None
        if args.ct:
            ct_source = input_label(args.ct, "CT") if Path(args.ct).exists() else "CT"
            try:
                ct = read_image(args.ct)
            except OrganfemError as err:
                raise without_path(err, args.ct, ct_source) from None
        points = {
            key: _numbers(getattr(args, key), 3, f"--{key.replace('_', '-')}") if getattr(args, key) else None
            for key in ("septum", "left_ostium", "right_ostium")
        }
        common.pop("thresholds")
        root = aortic_root_mesh(
            image, labels, ct=ct, annulus=None if args.annulus is None else _plane(args.annulus, "--annulus"),
            wall_thickness=units.length(args.wall), calcium_threshold=args.calcium_hu, **points,
            thresholds=QualityThresholds(min_dihedral_deg=args.min_dihedral,
                                         max_volume_error=args.max_volume_error), **common,
        )
        print(root.summary())
        made = root.made
    else:
        names = args.names.split(",") if args.names else list(labels)
        made = labels_mesh(image, labels, names=names, cuts=caps, **common)
    mesh = root.mesh if args.anatomy == "aortic-root" else made.mesh
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
    if made.base_method is not None:
        plane = made.planes["base"]
        print(f"base plane: point ({', '.join(f'{v:.1f}' for v in plane.point)}) mm, normal "
              f"({', '.join(f'{v:.3f}' for v in plane.normal)}) from {made.base_method}; "
              f"{made.base_tilt_deg:.1f} deg from the long axis; removed "
              + ", ".join(f"{100 * v:.1f} % of {k}" for k, v in made.removed.items()))
    if made.wall is not None:
        print(made.wall.summary())
    print(made.quality)
    print("volume change before correction: " + ", ".join(
        f"{k} {100 * v:+.3f} %" for k, v in made.volume_change.items()))
    if args.report:
        report = made.quality.as_dict() | {
            "seconds": dict(made.seconds),
            "volume_change_before_correction": dict(made.volume_change),
            "removed_by_cuts": dict(made.removed),
            "planes": {k: {"point_mm": p.point.tolist(), "normal": p.normal.tolist()}
                       for k, p in made.planes.items()},
        }
        if made.wall is not None:
            report["wall"] = {"leaks": [{"centre_mm": c.tolist(), "area_mm2": a}
                                        for c, a in made.wall.leaks],
                              "min_wall_mm": made.wall.min_wall,
                              "added_volume_mm3": made.wall.added_volume}
        text = json.dumps(report, indent=2)
        write_atomically(args.report, lambda temporary: temporary.write_text(text),
                         "quality report")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .errors import ParameterError
    from .report import report_content

    if args.no_html and not args.pdf:
        raise ParameterError("--no-html needs --pdf: there would be nothing to write")
    content = report_content(args.results)
    if content.unfinished:
        print(f"unfinished run: the report shows the {len(content.times)} step(s) written so "
              "far", file=sys.stderr)
    if not args.no_html:
        from .report.html import write_html

        results = Path(args.results)
        default = results.with_name(results.name.removesuffix(".partial")).with_suffix(".html")
        print(write_html(content, Path(args.out) if args.out else default))
    if args.pdf:
        from .report.pdf import write_pdf

        print(write_pdf(content, Path(args.pdf)))
    return 0


def _whatif(args: argparse.Namespace) -> int:
    import csv
    import io as text_io
    import json

    import numpy as np

    from . import units
    from .batch import read_whatifs, run_whatifs
    from .errors import ParameterError
    from .io import input_label, provenance, write_atomically
    from .units import MMHG_IN_KPA
    from .viz import pv_curves

    whatifs = read_whatifs(args.table)
    size = units.length(args.size)
    if args.mesh:
        from .fibres import ldrb_fibres, load_lv_mesh

        mesh, rule = load_lv_mesh(args.mesh, label=input_label(args.mesh, "mesh"))

        def fibres(endo, epi):
            return ldrb_fibres(mesh, alpha_endo=endo, alpha_epi=epi)

        label = "user mesh"
    else:
        from .fibres import ellipsoid_helix_fibres
        from .meshing import ADULT_LV, lv_ellipsoid

        if not size > 0:
            raise ParameterError(f"--size {args.size!r}: the element size must be a positive length")
        mesh = lv_ellipsoid(h=size, **ADULT_LV)
        centroids = mesh.points[mesh.cells].mean(axis=1)

        def fibres(endo, epi):  # centroids of coarse cells near the apex lie off the wall
            return ellipsoid_helix_fibres(
                centroids, ADULT_LV, helix_endo=endo, helix_epi=epi, t_tol=2.0
            )

        mesh = mesh.with_fibres(fibres(60.0, -60.0))
        rule = "analytic helix +60/-60 deg"
        label = f"adult LV ellipsoid, h = {size:g} mm"
    scar = None
    if args.scar_tag and args.scar_sphere:
        raise ParameterError("give --scar-tag or --scar-sphere, not both")
    if args.scar_tag:
        names = mesh.cell_names or {}
        if args.scar_tag not in names:
            raise ParameterError(f"--scar-tag {args.scar_tag!r}: the mesh's cell tags are {sorted(names)}")
        scar = np.asarray(mesh.cell_values) == names[args.scar_tag]
    elif args.scar_sphere:
        x, y, z, r = _numbers(args.scar_sphere, 4, "--scar-sphere")
        centroids = mesh.points[mesh.cells].mean(axis=1)
        scar = np.linalg.norm(centroids - [x, y, z], axis=1) <= r
        if not scar.any():
            raise ParameterError(f"--scar-sphere {args.scar_sphere!r}: no cell centre lies in the sphere")
    changes_fibres = any((w.helix_endo, w.helix_epi) != (60.0, -60.0) for w in whatifs)
    log.info("what-if   %d scenario(s) on the %s (fibres: %s)", len(whatifs), label, rule)
    results = run_whatifs(
        mesh, whatifs, fibres=fibres if changes_fibres else None, scar=scar,
        degree=args.degree, levels=args.levels, steps=args.steps,
    )  # fmt: skip
    rows = results.rows()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def write_csv(path):
        buffer = text_io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        path.write_text(buffer.getvalue())

    write_atomically(out / "whatif.csv", write_csv, "what-if table")
    curves = {
        w.name: (np.concatenate([[results.unloaded_volume], results.volumes[i]]),
                 np.concatenate([[0.0], results.pressures[i] / MMHG_IN_KPA]))
        for i, w in enumerate(results.whatifs)
    }  # fmt: skip
    pv_curves(curves, out / "whatif_pv.png", title="What-if: end-diastolic pressure-volume curves")
    inputs = {"table": args.table, **({"mesh": args.mesh} if args.mesh else {})}
    parameters = {
        "geometry": label, "degree": args.degree, "levels": args.levels, "steps": args.steps,
        "scar_cells": int(scar.sum()) if scar is not None else 0, "unknowns": results.unknowns,
    }  # fmt: skip
    record = {
        "scenarios": rows,
        "errors": {w.name: e for w, e in zip(results.whatifs, results.errors, strict=True) if e},
        "curves": {name: {"volume_mL": v.tolist(), "pressure_mmHg": p.tolist()}
                   for name, (v, p) in curves.items()},
        "seconds": results.seconds,
        "provenance": provenance(parameters, inputs),
    }  # fmt: skip
    write_atomically(out / "whatif.json",
                     lambda path: path.write_text(json.dumps(record, indent=1, default=float)),
                     "what-if summary")  # fmt: skip
    print(f"{'name':<16} {'EDP':>6} {'EDV':>7} {'filling':>8} {'compliance':>11} {'apex':>7}")
    print(f"{'':<16} {'mmHg':>6} {'mL':>7} {'mL':>8} {'mL/mmHg':>11} {'mm':>7}")
    for row in rows:
        print(f"{row['name'][:16]:<16} {row['EDP_mmHg']:6.1f} {row['EDV_mL']:7.1f} "
              f"{row['filling_mL']:8.1f} {row['ED_compliance_mL_per_mmHg']:11.2f} "
              f"{row['apex_shift_mm']:7.1f}")  # fmt: skip
    print(f"{len(rows)} scenario(s), {results.unknowns} unknowns, {results.seconds:.1f} s; "
          f"written: {out / 'whatif.csv'}, {out / 'whatif.json'}, {out / 'whatif_pv.png'}")
    failed = [(w.name, e) for w, e in zip(results.whatifs, results.errors, strict=True) if e]
    for name, error in failed:
        log.error("what-if %r failed (its figures are NaN): %s", name, error)
    return 1 if failed else 0


def _info(args: argparse.Namespace) -> int:
    from .io import read_results

    results = read_results(args.results)
    if results.unfinished:
        print(_unfinished_notice(results))
    print(f"{results.path}: {len(results.times)} steps, t = {results.times.tolist()}")
    for name, values in results.scalars.items():
        print(f"  {name}: {values.tolist()}")
    for key, value in sorted(results.attributes.items()):
        print(f"  {key} = {value}")
    return 0


def _deidentify(args: argparse.Namespace) -> int:
    from .errors import ParameterError
    from .imaging.deidentify import deidentify, list_series

    # Counts only: never print header values, UIDs or paths (which may carry names).
    if args.list_series:
        infos = list_series(args.src)
        for info in infos:
            print(info)
        print(f"{len(infos)} series; de-identify one with --series K")
        return 0
    if args.dst is None:
        raise ParameterError("deidentify: DST_FOLDER is required (unless --list-series)")
    report = deidentify(
        args.src, args.dst, salt=args.salt, series=args.series,
        retain_patient_characteristics=args.retain_patient_characteristics,
    )  # fmt: skip
    print(report.summary())
    if report.burned_in_annotation or report.burned_in_possible:
        print(
            f"WARNING: {report.burned_in_annotation} file(s) declare burned-in annotation and "
            f"{report.burned_in_possible} (secondary captures, ultrasound) may carry it. Text "
            "burned into the pixels is NOT removed: check these images by eye before sharing."
        )
    return 1 if report.files_failed else 0


def _tavi(args: argparse.Namespace) -> int:
    from . import units
    from ._dolfinx import MPI
    from .devices import RadialForce, devices
    from .errors import ParameterError
    from .io import input_label
    from .mechanics import on_rank0
    from .meshing import MeshData, aortic_root, root_landmarks
    from .tavi import scenarios, sweep, write_plan

    comm = MPI.COMM_WORLD
    chosen = devices(args.devices)
    if args.radial_force:
        force = RadialForce.read_csv(args.radial_force)
        chosen = tuple(d.with_radial_force(force) if d.radial_force is not None else d for d in chosen)
    depths = units.lengths(args.depths)
    cases = scenarios(chosen, depths, tilt=args.tilt, tilt_towards=args.tilt_towards)
    size = units.length(args.size)
    if not size > 0:
        raise ParameterError(f"--size {args.size!r}: the element size must be a positive length")
    out = Path(args.out)

    def load():
        out.mkdir(parents=True, exist_ok=True)
        if args.root:
            label = input_label(args.root, "root mesh") if Path(args.root).exists() else "root mesh"
            try:
                mesh = MeshData.load(args.root)
            except OSError as err:
                raise ParameterError(f"{label}: cannot read it ({err.strerror})") from None
        else:
            mesh = aortic_root(h=size)
        return mesh, root_landmarks(mesh)

    loaded = on_rank0(comm, load)
    mesh, landmarks = loaded if loaded is not None else (None, None)
    inputs = {"root": args.root} if args.root else {}
    if args.radial_force:
        inputs["radial_force"] = args.radial_force
    outcomes = sweep(mesh, cases, comm=comm, groups=args.groups, out=None if args.no_results else out,
                     steps=args.steps, inputs=inputs)
    if comm.rank != 0:
        return 0
    parameters = {"devices": [d.name for d in chosen], "depths_mm": depths, "tilt_deg": args.tilt,
                  "tilt_towards_deg": args.tilt_towards, "steps": args.steps,
                  "root": "user mesh" if args.root else f"parametric adult root, h = {size:g} mm"}
    results = None if args.no_results else {c.name: out / f"{c.name}.vtkhdf" for c in cases}
    written = write_plan(outcomes, out, landmarks=landmarks, parameters=parameters, inputs=inputs,
                         results=results)
    print(f"{'rank':>4}  {'device':<7} {'depth':>6}  {'CPI':>5}  {'ecc.':>6}  {'leak':>9}  {'leak/beat':>16}")
    for o in outcomes:
        r = o.row()
        if r["status"] != "ok":
            print(f"{'-':>4}  {r['device']:<7} {r['depth_mm']:>4g} mm  failed: {r['reasons']}")
            continue
        ecc = "n/a" if r["eccentricity"] is None else f"{r['eccentricity']:.3f}"
        print(f"{r['rank']:>4}  {r['device']:<7} {r['depth_mm']:>4g} mm  {r['cpi_percent']:>4.0f}%  {ecc:>6}  "
              f"{r['leak_area_mm2']:>5.1f} mm2  {r['leak_ml_per_beat']:>5.1f} mL ({r['leak_grade']})")
    for o in outcomes:
        if o.rank is not None:
            print(f"#{o.rank} {o.scenario.name}: {o.reasons}")
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 1 if any(o.deployment is None for o in outcomes) else 0


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
        add_help=False,  # -h after a scenario's name is the scenario's (see _run)
        help="run a scenario (options after the name go to the scenario)",
        description="Run a scenario script of solvers/ by name or path. Options after the "
        "name are the scenario's own; see `organfem run NAME --help`. Use under "
        "`mpirun -n N` for parallel runs.",
    )
    run.add_argument("scenario", nargs="?", help="scenario name (e.g. lv-inflation) or a .py path")
    run.add_argument("--list", action="store_true", help="list the scenarios and exit")
    run.add_argument("-h", "--help", action="store_true",
                     help="show this help, or with a scenario name that scenario's options")
    run.set_defaults(run_parser=run)

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

    from .imaging.labels import LABEL_PRESETS
    from .meshing.from_image import MAX_CELLS

    mesh = sub.add_parser(
        "mesh",
        allow_abbrev=False,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="mesh a label map: tagged tetrahedra (and LV fibres) saved as HDF5",
        description="Turn a label map (NIfTI, NRRD, MetaImage, or a DICOM folder) into a "
        "tagged tetrahedral mesh in the image's LPS millimetres, print its quality report and "
        "save it with MeshData.save. --anatomy lv: endo/epi/base tags, a planar base through "
        "the valves (the blood pool's contacts with the left atrium and the aorta, or the "
        "large openings of its wall) and LDRB fibres; vessel: wall/inlet/outlet_k, with flat "
        "caps at the image border, at --caps planes and where the vessel ends inside the "
        "image; labels: one cell tag per label. Planes are 'x,y,z;nx,ny,nz' in LPS mm.",
    )
    # Points and planes may start with a minus sign ("-30,15,35;0,0,1"): let
    # argparse take such a word as a value, as it does plain negative numbers.
    mesh._negative_number_matcher = re.compile(r"^-\.?\d")
    mesh.add_argument("image", help="label map file or DICOM folder")
    mesh.add_argument("--labels", default="mmwhs",
                      help=f"preset ({', '.join(LABEL_PRESETS)}) and/or name=value pairs, "
                      "e.g. 'lv_myocardium=1,lv_blood_pool=2'")
    mesh.add_argument("--out", required=True, help="mesh file to write (.h5)")
    mesh.add_argument("--anatomy", default="lv", choices=("lv", "vessel", "labels", "aortic-root"))
    mesh.add_argument("--size", default="3 mm", help="target edge length, e.g. '2.5 mm'")
    mesh.add_argument("--max-cells", type=int, default=MAX_CELLS,
                      help="refuse a size that would make more tetrahedra than this")
    mesh.add_argument("--myocardium", default="lv_myocardium",
                      help="lv: myocardium label (a preset's 'myocardium' also serves)")
    mesh.add_argument("--blood-pool", default="lv_blood_pool", help="lv: blood-pool label")
    mesh.add_argument("--base-plane", default="auto",
                      help="lv: the base plane 'x,y,z;nx,ny,nz' (point in LPS mm, normal "
                      "towards the valves), or 'auto' to find it from the labels")
    mesh.add_argument("--base-offset", default="0 mm",
                      help="lv: move the base plane towards the apex by this much")
    mesh.add_argument("--min-wall", default="2 mm",
                      help="lv: thicken the wall below the base to at least this where the "
                      "blood pool comes closer to the outside (holes, zero-thickness "
                      "patches); 0 refuses a leaking wall instead")
    mesh.add_argument("--vessel", default="aorta", help="vessel: the vessel label")
    mesh.add_argument("--caps", action="append", metavar="PLANE",
                      help="vessel, labels: a cut plane 'x,y,z;nx,ny,nz' (normal towards the "
                      "part cut away); repeat for several")
    mesh.add_argument("--inlet", metavar="POINT",
                      help="vessel: 'x,y,z' in mm; the cap nearest it is the inlet "
                      "(default: the largest cap)")
    mesh.add_argument("--ct", help="aortic-root: the CT (same grid as the labels) for calcium")
    mesh.add_argument("--calcium-hu", type=float, default=850.0,
                      help="aortic-root: calcium threshold [HU] (Jilaihawi et al. 2014)")
    mesh.add_argument("--wall", default="2 mm", help="aortic-root: wall thickness")
    mesh.add_argument("--annulus", metavar="PLANE",
                      help="aortic-root: the annulus plane 'x,y,z;nx,ny,nz' (normal towards the "
                      "aorta); default: found from the aorta / LV blood-pool contact")
    mesh.add_argument("--septum", metavar="POINT",
                      help="aortic-root: a point towards the membranous septum 'x,y,z' "
                      "(default: towards the RV blood pool)")
    mesh.add_argument("--left-ostium", metavar="POINT", help="aortic-root: left coronary ostium 'x,y,z'")
    mesh.add_argument("--right-ostium", metavar="POINT", help="aortic-root: right coronary ostium 'x,y,z'")
    mesh.add_argument("--names", help="labels: comma-separated label names to mesh "
                      "(default: all of --labels)")
    mesh.add_argument("--no-fibres", action="store_true", help="lv: skip the fibres")
    mesh.add_argument("--alpha-endo", type=float, default=60.0, help="lv: endo helix [deg]")
    mesh.add_argument("--alpha-epi", type=float, default=-60.0, help="lv: epi helix [deg]")
    mesh.add_argument("--mesher", default="auto", choices=("auto", "gmsh", "ftetwild"))
    mesh.add_argument("--smoothing-iterations", type=int, default=16,
                      help="SurfaceNets constrained smoothing iterations")
    mesh.add_argument("--min-dihedral", type=float, default=5.0,
                      help="fail if the smallest dihedral angle is below this [deg]")
    mesh.add_argument("--max-volume-error", type=float, default=0.05,
                      help="fail if the volume differs from the label's by more (fraction)")
    mesh.add_argument("--report", help="also write the quality report to this JSON file")
    mesh.add_argument("--xdmf", help="also write the mesh and its tags as XDMF (for plain "
                      "DOLFINx and ParaView)")

    report = sub.add_parser(
        "report",
        allow_abbrev=False,
        help="a self-contained HTML report of a results file (and a PDF)",
        description="Write the report of a results file: one HTML file that works offline "
        "(3-D view of the deformed anatomy with a step slider, field selector, reference "
        "outline and clipping plane; key figures; plots; provenance; verification status; "
        "limits) and, with --pdf, the same content as a PDF with static views from three "
        "directions. Reads only the results file.",
    )
    report.add_argument("results", help="a .vtkhdf results file (or its .partial)")
    report.add_argument("--out", help="HTML file to write (default: next to the results, "
                        ".html)")
    report.add_argument("--pdf", help="also write the PDF report to this file")
    report.add_argument("--no-html", action="store_true", help="write only the PDF")

    whatif = sub.add_parser(
        "whatif",
        help="run a table of LV inflation scenarios as one batch (pure JAX, CPU or GPU)",
        description="Inflate a left ventricle once per row of a CSV table (columns: name, "
        "pressure [mmHg] (or another pressure unit), and optionally stiffness, scar_stiffness "
        "(multipliers of the passive Holzapfel-Ogden stiffness), helix_endo [deg], helix_epi "
        "[deg]) in one batched, differentiable JAX solve. Writes whatif.csv, whatif.json and "
        "the PV curves whatif_pv.png to --out.",
    )
    whatif.add_argument("table", help="the what-if table (CSV)")
    whatif.add_argument("--out", default="whatif", help="output folder (default: whatif)")
    whatif.add_argument("--mesh", help="an LV mesh (.h5, tags endo, epi, base; LDRB fibres if "
                        "it has none); default: an adult LV ellipsoid")
    whatif.add_argument("--size", default="12 mm",
                        help="element size of the ellipsoid (default: 12 mm)")
    whatif.add_argument("--degree", type=int, choices=(1, 2), default=2,
                        help="displacement degree (default: 2)")
    whatif.add_argument("--scar-tag", help="cell tag of the scar region in --mesh")
    whatif.add_argument("--scar-sphere", metavar="X,Y,Z,R",
                        help="the scar region: cells whose centre lies in this sphere [mm]")
    whatif.add_argument("--levels", type=int, default=6,
                        help="pressures recorded along each inflation (default: 6)")
    whatif.add_argument("--steps", type=int, default=8, help="load increments (default: 8)")

    tavi = sub.add_parser(
        "tavi",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="deploy transcatheter valves in an aortic root: every device at every depth, ranked",
        description="Deploy each device of --devices at each implant depth of --depths in the "
        "aortic root (a mesh from `organfem mesh --anatomy aortic-root`, or the parametric adult "
        "root), by contact mechanics, and compare: contact pressure index on the septal band "
        "(conduction risk), frame shape, paravalvular leak channels and an orifice estimate of "
        "the leak, wall stress, coronary clearance. Writes tavi_table.csv, tavi_summary.json, "
        "tavi_contact.png, tavi_tradeoffs.png and one results file per scenario to --out. Under "
        "`mpirun -n N` scenarios run N at a time on split communicators. Devices: S3-20, S3-23, "
        "S3-26, S3-29 (balloon-expandable), EV-23, EV-26, EV-29, EV-34 (self-expanding).",
    )
    tavi.add_argument("root", nargs="?", help="root mesh (.h5) with the aortic-root tags; "
                      "default: the parametric adult root")
    tavi.add_argument("--devices", default="S3-23,S3-26,S3-29", help="comma-separated device names")
    tavi.add_argument("--depths", default="2,4,6 mm", help="implant depths below the annulus")
    tavi.add_argument("--out", default="tavi", help="output folder")
    tavi.add_argument("--size", default="3 mm", help="element size of the parametric root")
    tavi.add_argument("--tilt", type=float, default=0.0, help="frame axis tilt from the root axis [deg]")
    tavi.add_argument("--tilt-towards", type=float, default=0.0,
                      help="direction of the tilt from the septal band, counterclockwise seen "
                      "from the aorta [deg]")
    tavi.add_argument("--steps", type=int, default=8, help="expansion steps")
    tavi.add_argument("--groups", type=int, help="deployments at once under MPI (default: one per rank)")
    tavi.add_argument("--radial-force", metavar="CSV", help="radial force table of the self-expanding "
                      "devices (columns 'diameter [mm]', 'cof [N]', optional 'rrf [N]')")
    tavi.add_argument("--no-results", action="store_true",
                      help="skip the per-scenario results files (and the contact maps)")

    info = sub.add_parser("info", help="print the steps, scalars and provenance of a results file")
    info.add_argument("results", help="a .vtkhdf results file")

    deid = sub.add_parser(
        "deidentify",
        help="copy a folder of DICOM files with patient identifiers removed",
        description="De-identify the DICOM files of SRC_FOLDER (and its sub-folders, with or "
        "without preamble) into the new folder DST_FOLDER following the DICOM PS3.15 Annex E "
        "Basic Application Level Confidentiality Profile, every row of Table E.1-1 (DICOM "
        "2026c), in nested sequences and file meta too: identifying attributes removed, "
        "emptied or replaced by dummies, UIDs replaced consistently, private attributes and "
        "public attributes outside the table and a short known-safe list removed; geometry "
        "and pixel data unchanged. Text burned into the pixels is NOT removed (such files are "
        "counted). Non-DICOM files are skipped; files that fail are left out and numbered. "
        "Prints counts only; exits 1 if any file failed.",
    )
    deid.add_argument("src", metavar="SRC_FOLDER", help="folder with the identifiable files")
    deid.add_argument("dst", metavar="DST_FOLDER", nargs="?",
                      help="folder to create (must not exist)")
    deid.add_argument(
        "--salt",
        help="secret mixed into the new UIDs; reuse it to de-identify several folders of one "
        "study consistently (default: random per run)",
    )
    deid.add_argument(
        "--retain-patient-characteristics",
        action="store_true",
        help="keep sex, age, size, weight, ethnic group, smoking and pregnancy status (PS3.15 "
        "Retain Patient Characteristics Option)",
    )
    deid.add_argument("--series", type=int, metavar="K",
                      help="de-identify only the K-th series (numbers from --list-series)")
    deid.add_argument("--list-series", action="store_true",
                      help="list the series of SRC_FOLDER (modality, files, size; no UIDs or "
                      "text) and exit")
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
        if args.command == "report":
            return _report(args)
        if args.command == "whatif":
            return _whatif(args)
        if args.command == "tavi":
            return _tavi(args)
        return _info(args)
    except OrganfemError as error:
        log.error("%s", error)
        return 1
    except KeyboardInterrupt as interrupt:
        # Ctrl-C: one line (where it stopped, what was kept), no traceback.
        # organfem.errors.Interrupted says where; handlers on the way out
        # (the results writer) add notes.  Only rank 0 speaks under MPI.
        parts = [str(interrupt) or "interrupted", *getattr(interrupt, "__notes__", ())]
        message = f"organfem: {'; '.join(parts)}"
        if _rank() == 0:
            print(message, file=sys.stderr, flush=True)
        # Under mpirun another rank may sit in a collective call that this
        # one will never join (a blocked MPI call does not see Ctrl-C), and
        # the job would hang: rank 0 ends every rank once it has spoken; the
        # others wait for it a little, then do it themselves.
        mpi = sys.modules.get("mpi4py.MPI")
        if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
            world = mpi.COMM_WORLD
            if world.size > 1:
                sys.stdout.flush()
                if world.rank != 0:
                    import time

                    time.sleep(5.0)  # rank 0 aborts the job in the meantime
                    print(f"{message} (rank {world.rank})", file=sys.stderr, flush=True)
                world.Abort(130)
        return 130  # 128 + SIGINT, as a shell reports a job ended by Ctrl-C
    except BrokenPipeError:  # `organfem info ... | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:  # a file error the library did not turn into its own
        where = f": {Path(error.filename).name}" if error.filename else ""
        log.error("%s%s", error.strerror or error, where, exc_info=args.verbose)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""Time and size of the report of a large result, against the issue's targets.

Writes a synthetic results file (a DOLFINx box of about ``--cells``
tetrahedra, or with ``--shape tube`` a thin-walled tube whose boundary holds
a large share of the cells, as a ventricle's does), with ``--steps`` steps of
a P1 displacement and a DG0 fibre stress that change per step, the scalars of
a pressure-volume loop and a stored :class:`~organfem.report.ReportSpec`.
Then it times :func:`organfem.report.report_content`,
:func:`organfem.report.html.write_html` and, where it exists,
:func:`organfem.report.pdf.write_pdf`, and prints a table of seconds and MB
against the targets (report under 10 s, HTML under 20 MB)::

    python benchmarks/report.py --cells 100000 --steps 20 --json out.json

The JSON holds the case (cells, surface triangles, steps) and one entry per
stage: ``seconds`` and, for the files, ``megabytes``, with the targets and
whether each was met.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from organfem._dolfinx import MPI, dolfinx
from organfem.io import ResultsWriter
from organfem.report import Field, Figure, Plot, ReportSpec, report_content
from organfem.report.html import write_html

__all__ = ["TARGET_SECONDS", "TARGET_MEGABYTES", "write_synthetic_results", "main"]

#: The issue's targets: report generation time [s] and HTML size [MB].
TARGET_SECONDS = 10.0
TARGET_MEGABYTES = 20.0


def _box_divisions(cells: int, shape: str) -> tuple[list[list[float]], list[int]]:
    """Box corners [mm] and divisions with about ``cells`` tetrahedra (6 per hexahedron)."""
    hexes = max(cells / 6.0, 1.0)
    if shape == "tube":  # 2 cells through the wall, the rest around and along
        around = max(int(round(np.sqrt(hexes / 2.0 * 2.5))), 8)
        along = max(int(round(hexes / 2.0 / around)), 2)
        return [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], [2, around, along]
    n = max(int(round(hexes ** (1.0 / 3.0))), 1)
    return [[0.0, 0.0, 0.0], [60.0, 60.0, 60.0]], [n, n, n]


def write_synthetic_results(path: Path, *, cells: int = 100_000, steps: int = 20,
                            shape: str = "box") -> dict[str, int]:
    """Write the benchmark's results file; return its numbers of cells and steps.  Collective."""
    corners, divisions = _box_divisions(cells, shape)
    mesh = dolfinx.mesh.create_box(MPI.COMM_WORLD, corners, divisions,
                                   dolfinx.mesh.CellType.tetrahedron)
    if shape == "tube":  # (wall, angle, height) in the unit cube -> a tube of radius 25-28 mm
        x = mesh.geometry.x
        radius = 25.0 + 3.0 * x[:, 0]
        angle = 2.0 * np.pi * 0.98 * x[:, 1]
        height = 80.0 * x[:, 2]
        x[:, 0], x[:, 1], x[:, 2] = radius * np.cos(angle), radius * np.sin(angle), height
    u = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,))))
    stress = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("DG", 0)))
    spec = ReportSpec(
        title="synthetic inflation (benchmark)",
        summary="A synthetic result of the size of a fine patient mesh, for timing the report.",
        fields=(Field("displacement", "displacement", "mm"),
                Field("fibre_stress", "fibre stress", "kPa")),
        figures=(Figure("end-diastolic pressure", "pressure_kPa", "max", "kPa"),
                 Figure("end-diastolic volume", "cavity_volume_mm3", "last", "mL", 1e-3),
                 Figure("volume change", "cavity_volume_mm3", "range", "mL", 1e-3)),
        plots=(Plot("pressure-volume", "cavity_volume_mm3", ("pressure_kPa",),
                    "volume [mL]", "pressure [kPa]", 1e-3),
               Plot("pressure over time", "time", ("pressure_kPa",), "time [s]",
                    "pressure [kPa]")),
        anatomy="generic",
        steps="load step",
        time_unit="s",
    )
    parameters = {"scenario": "report_benchmark", "shape": shape, "steps": steps}
    with ResultsWriter(path, mesh, parameters=parameters, report=spec.as_dict()) as out:
        for k in range(1, steps + 1):
            s = k / steps
            u.interpolate(lambda x, s=s: np.stack([0.05 * s * x[0], -0.03 * s * x[1],
                                                   0.1 * s * x[2] + np.sin(0.1 * x[0]) * s]))
            stress.interpolate(lambda x, s=s: s * (10.0 + np.sin(0.1 * x[0]) * x[2] * 0.2))
            out.write(s, {"displacement": u, "fibre_stress": stress},
                      {"pressure_kPa": 2.0 * s, "cavity_volume_mm3": 1e5 * (1.0 + 0.4 * s),
                       "newton_iterations": float(3 + k % 3)})
    total = mesh.comm.allreduce(mesh.topology.index_map(3).size_local, op=MPI.SUM)
    return {"cells": int(total), "steps": steps}


def _timed(function: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--shape", choices=("box", "tube"), default="box")
    parser.add_argument("--keep", help="folder to keep the results file and reports in")
    parser.add_argument("--json", help="write the table as JSON to this file")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        results = folder / "report_benchmark.vtkhdf"
        case, seconds_written = _timed(
            lambda: write_synthetic_results(results, cells=args.cells, steps=args.steps,
                                            shape=args.shape))
        content, seconds_content = _timed(report_content, results)
        html, seconds_html = _timed(write_html, content, folder / "report_benchmark.html")
        case |= {"surface_triangles": int(len(content.geometry.triangles)),
                 "surface_points": int(len(content.geometry.points)), "shape": args.shape}
        rows: dict[str, dict[str, Any]] = {
            "results file (not part of the report)": {"seconds": seconds_written},
            "report_content": {"seconds": seconds_content},
            "write_html": {"seconds": seconds_html, "megabytes": html.stat().st_size / 2**20},
        }
        total = seconds_content + seconds_html
        if importlib.util.find_spec("organfem.report.pdf") is not None:
            from organfem.report.pdf import write_pdf

            pdf, seconds_pdf = _timed(write_pdf, content, folder / "report_benchmark.pdf")
            rows["write_pdf"] = {"seconds": seconds_pdf, "megabytes": pdf.stat().st_size / 2**20}
        rows["report_content + write_html"] = {
            "seconds": total, "target_seconds": TARGET_SECONDS, "met": total < TARGET_SECONDS}
        rows["write_html"] |= {"target_megabytes": TARGET_MEGABYTES,
                               "met": rows["write_html"]["megabytes"] < TARGET_MEGABYTES}
        if MPI.COMM_WORLD.rank != 0:
            return 0
        print(f"{case['cells']:,} tetrahedra ({args.shape}), {case['steps']} steps, surface "
              f"{case['surface_triangles']:,} triangles on {case['surface_points']:,} points")
        print(f"{'stage':40s} {'seconds':>8s} {'MB':>7s}  target")
        for name, row in rows.items():
            mb = f"{row['megabytes']:7.2f}" if "megabytes" in row else " " * 7
            target = []
            if "target_seconds" in row:
                target.append(f"< {row['target_seconds']:g} s")
            if "target_megabytes" in row:
                target.append(f"< {row['target_megabytes']:g} MB")
            met = ("  met" if row["met"] else "  MISSED") if "met" in row else ""
            print(f"{name:40s} {row['seconds']:8.2f} {mb}  {', '.join(target)}{met}")
        if args.json:
            Path(args.json).write_text(json.dumps({"case": case, "stages": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

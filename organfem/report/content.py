"""A report's content, from a results file only: figures, plots, geometry, provenance.

:func:`report_content` reads a results file (nothing else: no input file,
no patient data) and returns a :class:`ReportContent` that the HTML and PDF
writers lay out.  The 3-D part is :class:`ReportGeometry`: the boundary
surface of the mesh once, its displacement and the declared fields at every
step, as float32 arrays on the surface's points.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..io import Results, read_results
from .spec import Field, ReportSpec, generic_spec

__all__ = [
    "LIMITS",
    "PlotData",
    "ReportContent",
    "ReportGeometry",
    "report_content",
    "verification_status",
]

#: The plain statement of what a report is and is not.
LIMITS = (
    "organfem is research software. It is not a medical device and is not approved for "
    "diagnosis or treatment decisions. The results are those of a computer model of the "
    "patient's anatomy under stated assumptions (material parameters, loads, boundary "
    "conditions, a mesh of finite size); they have the uncertainties of the segmentation, "
    "of those assumptions and of the discretisation, and have not been validated against "
    "measurements of this patient. A qualified clinician must interpret them together with "
    "all other clinical information."
)


@dataclasses.dataclass(frozen=True)
class PlotData:
    """One plot's numbers, in display units."""

    title: str
    x_label: str
    y_label: str
    x: np.ndarray
    series: tuple[tuple[str, np.ndarray], ...]


@dataclasses.dataclass(frozen=True)
class ReportGeometry:
    """The boundary surface of the result at every step, on the surface's points.

    Attributes:
        points: reference (undeformed) positions [mm], float32 (n, 3).
        triangles: surface triangles, int32 (m, 3).
        displacement: per step [mm], float32 (S, n, 3), or None.
        fields: per declared field, display values per step, float32 (S, n)
            (vectors by magnitude; cell data averaged onto the points).
        fields_meta: the :class:`~organfem.report.spec.Field` of each entry of ``fields``.
        cells: number of cells of the volume mesh.
    """

    points: np.ndarray
    triangles: np.ndarray
    displacement: np.ndarray | None
    fields: Mapping[str, np.ndarray]
    fields_meta: Mapping[str, Field]
    cells: int


@dataclasses.dataclass(frozen=True)
class ReportContent:
    """What a report shows (see :func:`report_content`).

    Attributes:
        spec: what the scenario declared (or a generic spec).
        times: the step times, shape (S,).
        figures: key figures as ``(label, value text, unit)``.
        plots: the plots' numbers.
        geometry: the 3-D part.
        provenance: software versions, creation time, MPI ranks: ``{name: text}``.
        inputs: SHA-256 of each input by role.
        parameters: the run's parameters.
        mesh: mesh size and quality: ``{name: text}``.
        convergence: Newton iterations per step (empty if not recorded).
        verification: the benchmarks this build reproduces (see
            :func:`verification_status`).
        unfinished: whether the run did not finish (a ``.partial`` file).
        limits: the plain statement of the report's limits.
    """

    spec: ReportSpec
    times: np.ndarray
    figures: tuple[tuple[str, str, str], ...]
    plots: tuple[PlotData, ...]
    geometry: ReportGeometry
    provenance: Mapping[str, str]
    inputs: Mapping[str, str]
    parameters: Mapping[str, Any]
    mesh: Mapping[str, str]
    convergence: np.ndarray
    verification: tuple[Mapping[str, str], ...]
    unfinished: bool
    limits: str = LIMITS


def verification_status() -> tuple[Mapping[str, str], ...]:
    """The published benchmarks and closed forms this build reproduces, with their figures.

    Read from ``organfem/report/verification.json``, kept with the tests that
    check each entry (``test``), so a report states what the code it came
    from was verified against.
    """
    text = resources.files("organfem.report").joinpath("verification.json").read_text()
    return tuple(json.loads(text)["benchmarks"])


def _reduce(values: np.ndarray, how: str) -> float:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan")
    return float({"first": finite[0], "last": finite[-1], "max": finite.max(),
                  "min": finite.min(), "range": finite.max() - finite.min()}[how])


def _scalar(results: Results, name: str, what: str) -> np.ndarray:
    if name == "time":
        return np.asarray(results.times, dtype=float)
    if name not in results.scalars:
        raise ParameterError(
            f"report {what}: the results file has no scalar {name!r}; it has "
            f"{', '.join(results.scalars) or 'none'}"
        )
    return np.asarray(results.scalars[name], dtype=float)


def _surface(grid):
    """Boundary surface triangles with their points' and faces' ids in ``grid``."""
    surface = grid.extract_surface(pass_pointid=True, pass_cellid=True,
                                   algorithm="dataset_surface").triangulate()
    triangles = np.asarray(surface.regular_faces, dtype=np.int32)
    point_ids = np.asarray(surface.point_data["vtkOriginalPointIds"], dtype=np.int64)
    cell_ids = np.asarray(surface.cell_data["vtkOriginalCellIds"], dtype=np.int64)
    return surface, triangles, point_ids, cell_ids


def _on_points(values: np.ndarray, triangles: np.ndarray, n: int) -> np.ndarray:
    """Face values averaged onto the points of the surface."""
    total = np.zeros(n)
    count = np.zeros(n)
    for k in range(3):
        np.add.at(total, triangles[:, k], values)
        np.add.at(count, triangles[:, k], 1.0)
    return total / np.maximum(count, 1.0)


def _magnitude(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.linalg.norm(values, axis=1) if values.ndim == 2 else values


def _geometry(results: Results, spec: ReportSpec) -> tuple[ReportGeometry, tuple[Field, ...]]:
    steps = max(len(results.times), 1)
    first = results.mesh(0)
    surface, triangles, point_ids, cell_ids = _surface(first)
    n = point_ids.size
    available = set(first.point_data) | set(first.cell_data)
    fields = tuple(f for f in spec.fields if f.name in available)
    displacement = (np.zeros((steps, n, 3), np.float32)
                    if "displacement" in first.point_data else None)
    values = {f.name: np.zeros((steps, n), np.float32) for f in fields}
    for step in range(steps):
        grid = first if step == 0 else results.mesh(step)
        if displacement is not None:
            displacement[step] = np.asarray(grid.point_data["displacement"])[point_ids]
        for f in fields:
            if f.name in grid.point_data:
                v = _magnitude(np.asarray(grid.point_data[f.name])[point_ids])
            else:
                v = _on_points(_magnitude(np.asarray(grid.cell_data[f.name])[cell_ids]),
                               triangles, n)
            values[f.name][step] = v * f.scale
    geometry = ReportGeometry(
        points=np.asarray(first.points, np.float32)[point_ids],
        triangles=triangles,
        displacement=displacement,
        fields=values,
        fields_meta={f.name: f for f in fields},
        cells=int(first.n_cells),
    )
    return geometry, fields


def _mesh_summary(results: Results) -> dict[str, str]:
    import pyvista

    from ..meshing import tet_measures

    grid = results.mesh(0)
    out = {"cells": f"{grid.n_cells:,}", "points": f"{grid.n_points:,}"}
    types = set(np.unique(np.asarray(grid.celltypes)).tolist())
    if types == {int(pyvista.CellType.TETRA)}:
        tets = np.asarray(grid.cells_dict[int(pyvista.CellType.TETRA)])
        m = tet_measures(np.asarray(grid.points), tets)
        out |= {
            "cell type": "tetrahedra",
            "edge length [mm]": f"min {m['min_edge'].min():.2f}, mean "
                                f"{m['mean_edge'].mean():.2f}, max {m['max_edge'].max():.2f}",
            "smallest dihedral angle [deg]": f"{m['min_dihedral'].min():.1f}",
            "volume [mL]": f"{m['volume'].sum() / 1e3:.2f}",
        }
    return out


def report_content(results: str | Path | Results) -> ReportContent:
    """Everything a report shows, from one results file.

    Reads only the results file: its steps, scalars, provenance record and the
    report description the scenario stored (``ResultsWriter(report=...)``;
    without one, every field and scalar is shown).

    Raises:
        ParameterError: if the report description names a scalar the file lacks.
        MeshError: if the file cannot be read.
    """
    if not isinstance(results, Results):
        results = read_results(results)
    stored = results.report
    if stored:
        spec = ReportSpec.from_dict(stored)
    else:
        grid = results.mesh(0)
        names = [n for n in (*grid.point_data, *grid.cell_data)
                 if not n.startswith("vtk") and n != "fibre"]
        title = str(results.parameters.get("scenario", "organfem run")).replace("_", " ")
        spec = generic_spec(title, names, list(results.scalars))
    times = np.asarray(results.times, dtype=float)

    def steps(since: float | None) -> np.ndarray:
        return np.ones(times.shape, bool) if since is None else times >= since

    figures = []
    for figure in spec.figures:
        chosen = steps(figure.since)
        value = _reduce(_scalar(results, figure.scalar, f"figure {figure.label!r}")[chosen],
                        figure.reduce) * figure.scale
        figures.append((figure.label, f"{value:.{figure.digits}g}", figure.unit))
    plots = []
    for plot in spec.plots:
        chosen = steps(plot.since)
        x = _scalar(results, plot.x, f"plot {plot.title!r}")[chosen] * plot.x_scale
        series = tuple((name, _scalar(results, name, f"plot {plot.title!r}")[chosen] * plot.y_scale)
                       for name in plot.y)
        plots.append(PlotData(plot.title, plot.x_label, plot.y_label, x, series))
    geometry, fields = _geometry(results, spec)
    spec = dataclasses.replace(spec, fields=fields)
    attributes = results.attributes
    provenance = {key: str(attributes[key]) for key in
                  ("organfem", "dolfinx", "basix", "ufl", "petsc", "petsc4py", "jax", "numpy",
                   "h5py", "python", "created_utc", "mpi_size", "resumes") if key in attributes}
    convergence = np.asarray(results.scalars.get("newton_iterations", np.zeros(0)), float)
    return ReportContent(
        spec=spec,
        times=times,
        figures=tuple(figures),
        plots=tuple(plots),
        geometry=geometry,
        provenance=provenance,
        inputs=results.input_hashes,
        parameters=results.parameters,
        mesh=_mesh_summary(results),
        convergence=convergence,
        verification=verification_status(),
        unfinished=results.unfinished,
    )

"""The interactive report: one self-contained HTML file that works offline.

:func:`write_html` lays out a :class:`~organfem.report.ReportContent` as a
single HTML page with everything embedded: plotly.js (from the installed
``plotly`` package, once), the small viewer script
(``organfem/report/static/viewer.js``) and the data.  The page loads nothing
else (no fonts, no CDN, no images by URL; a Content-Security-Policy in the
page forbids it) and needs no server: it opens from disk in any current
browser, with the network off.

What the page shows:

* an interactive 3-D view of the deformed anatomy coloured by a chosen field,
  with a step slider, the reference (undeformed) outline, a clipping plane
  along a chosen axis, a colour bar with units and the anatomical orientation
  labelled (base/apex and anterior/posterior for a ventricle; S/I, R/L, A/P
  otherwise);
* the limits of the report (research software, not a medical device);
* the key figures with units, the plots (with the current step marked),
  the solver's convergence history;
* provenance (software versions, input hashes, parameters, mesh size and
  quality) and the benchmarks this build reproduces.

The 3-D data is embedded as base64 arrays: reference positions as float32,
triangles as uint32, per-step displacements as int16 with one scale per step
(a resolution of 1/32767 of the step's largest component), per-step field
values as uint16 over each field's range across all steps (1/65534 of it;
65535 marks a missing value).  If those arrays would exceed
:data:`VIEW_BUDGET_BYTES`, the surface is decimated for the 3-D view only
(vertex removal, so the kept vertices carry their exact values) and the page
says so; figures and plots always use the full results.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OutputError, ParameterError
from ..io import write_atomically
from .content import ReportContent, ReportGeometry
from .spec import Field

__all__ = ["VIEW_BUDGET_BYTES", "render_html", "write_html"]

log = logging.getLogger(__name__)

#: Largest size [bytes] of the 3-D view's embedded arrays (base64 text); a
#: larger surface is decimated for the view.  With plotly.js (about 5 MB) and
#: the rest of the page this keeps a report under 20 MB.
VIEW_BUDGET_BYTES = 12 * 2**20

_FEATURE_ANGLE = 60.0  # deg between face normals above which an edge is drawn in the outline
_MISSING = 65535  # uint16 code of a missing (non-finite) field value
_LEVELS = 65534  # uint16 codes 0.._LEVELS span a field's range
_PAD = 0.15  # margin of the 3-D box, in extents of the body (labels sit inside it)
_SIGNED_SHARE = 0.1  # smaller side of a signed field's range, relative to the larger
_EYE_DISTANCE = 2.1  # camera distance in plotly's scene units (the box's largest side is 1)
_GENERIC_ELEVATION = 15.0  # deg: the coronal view raised a little, to show depth
_PLOTLY_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "showLink": False,
    # plotly.js 4 offers to upload a chart to Plotly Cloud ("Share chart..."): never.
    "showSendToCloud": False,
    "plotlyServerURL": "",
    # Plotly's own default camera is not the anatomical one: "reset view" replaces it.
    "modeBarButtonsToRemove": ["sendChartToCloud", "resetCameraDefault3d"],
    "toImageButtonOptions": {"format": "png", "filename": "organfem-report", "scale": 2},
}
# The page may use what it carries and nothing else.
_CSP = ("default-src 'none'; script-src 'unsafe-inline'; "
        "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
        "worker-src blob:; connect-src 'none'; form-action 'none'; base-uri 'none'")
_PROVENANCE_LABELS = {
    "organfem": "organfem",
    "dolfinx": "DOLFINx",
    "basix": "Basix",
    "ufl": "UFL",
    "petsc": "PETSc",
    "petsc4py": "petsc4py",
    "jax": "JAX",
    "numpy": "NumPy",
    "h5py": "h5py",
    "python": "Python",
    "created_utc": "results written (UTC)",
    "mpi_size": "MPI ranks",
    "resumes": "resumed runs",
}


def write_html(content: ReportContent, path: str | Path) -> Path:
    """Write the report of ``content`` as one self-contained HTML file.

    The file is written to a temporary file next to ``path`` and moved onto
    it when complete (mode ``0o666`` less the umask, as for any file the user
    creates), so a report already at ``path`` stays intact if writing fails.

    Args:
        content: what the report shows (:func:`organfem.report.report_content`).
        path: the HTML file to write; its folder must exist.

    Returns:
        ``path``.

    Raises:
        ParameterError: if the folder of ``path`` does not exist.
        OutputError: if the file cannot be written (the message names the
            file, not its folder, and says why).
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise ParameterError(f"report {path.name}: its folder does not exist; create it first")
    if path.is_dir():
        raise OutputError(f"cannot write report {path.name}: a folder of that name is in the way")
    text = render_html(content).encode("utf-8")
    write_atomically(path, lambda temporary: temporary.write_bytes(text), "report")
    log.info("report %s: %.1f MB", path.name, len(text) / 2**20)
    return path


def render_html(content: ReportContent) -> str:
    """The report's HTML text (what :func:`write_html` writes)."""
    import jinja2
    import plotly.offline

    from .. import __version__

    view, notes = _view_data(content)
    data = {
        "title": content.spec.title,
        "view": view,
        "plots": _plots_data(content),
        "convergence": _convergence_data(content),
        "config": _PLOTLY_CONFIG,
    }
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                                     keep_trailing_newline=True)
    template = environment.from_string(_package_text("templates/report.html.j2"))
    return template.render(
        csp=_CSP,
        title=content.spec.title,
        summary=content.spec.summary,
        limits=content.limits,
        unfinished=content.unfinished,
        steps=len(content.times),
        step_word=content.spec.steps,
        figures=content.figures,
        has_plots=bool(content.plots),
        has_convergence=bool(content.convergence.size),
        software=_software_rows(content.provenance),
        inputs=[(role, digest[:12], digest) for role, digest in sorted(content.inputs.items())],
        parameters=[(key, _text(value)) for key, value in sorted(content.parameters.items())],
        mesh=list(content.mesh.items()),
        verification=content.verification,
        notes=notes,
        has_fields=bool(view["fields"]),
        has_steps=len(content.times) > 1,
        clip_axes=[axis["name"] for axis in view["clip_axes"]],
        fields=[(f["label"], f["unit"]) for f in view["fields"]],
        orientation=view["orientation"],
        organfem_version=__version__,
        plotly_version=plotly.offline.get_plotlyjs_version(),
        written=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        plotly_js=_script_text(plotly.offline.get_plotlyjs()),
        viewer_js=_script_text(_package_text("static/viewer.js")),
        data_json=_json_in_script(data),
    )


# --------------------------------------------------------------------------- text helpers


def _package_text(name: str) -> str:
    return resources.files("organfem.report").joinpath(name).read_text(encoding="utf-8")


def _script_text(code: str) -> str:
    """JavaScript safe inside ``<script>``: no closing tag or comment opener in it."""
    return code.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def _json_in_script(data: Any) -> str:
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _software_rows(provenance: Mapping[str, str]) -> list[tuple[str, str]]:
    rows = [(_PROVENANCE_LABELS[k], provenance[k]) for k in _PROVENANCE_LABELS if k in provenance]
    rows += [(k, v) for k, v in provenance.items() if k not in _PROVENANCE_LABELS]
    return rows


def _b64(array: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def _finite_list(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, float).ravel()]


# --------------------------------------------------------------------------- 2-D plots


def _plots_data(content: ReportContent) -> list[dict[str, Any]]:
    steps = len(content.times)
    return [
        {
            "title": plot.title,
            "x_label": plot.x_label,
            "y_label": plot.y_label,
            "x": _finite_list(plot.x),
            "series": [{"name": name.replace("_", " "), "y": _finite_list(y)}
                       for name, y in plot.series],
            "per_step": len(plot.x) == steps and all(len(y) == steps for _, y in plot.series),
        }
        for plot in content.plots
    ]


def _convergence_data(content: ReportContent) -> dict[str, Any] | None:
    """Newton iterations against the step number (1, 2, ...), or None if not recorded."""
    iterations = np.asarray(content.convergence, float)
    if iterations.size == 0:
        return None
    return {"x": list(range(1, iterations.size + 1)), "y": _finite_list(iterations),
            "x_label": content.spec.steps, "y_label": "Newton iterations"}


# --------------------------------------------------------------------------- 3-D view


def _view_bytes(n: int, m: int, steps: int, fields: int, displaced: bool) -> int:
    raw = 12 * n + 12 * m + (6 * steps * n if displaced else 0) + 2 * fields * steps * n
    return raw * 4 // 3


def _decimated(points: np.ndarray, triangles: np.ndarray, fraction: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """About ``fraction`` of the triangles, on a subset of the points (their ids)."""
    import pyvista

    surface = pyvista.PolyData.from_regular_faces(points.astype(np.float64), triangles)
    surface.point_data["organfem_id"] = np.arange(len(points), dtype=np.int64)
    reduction = float(np.clip(1.0 - fraction, 0.0, 0.99))
    out = surface.decimate_pro(reduction, preserve_topology=True)
    if out.n_cells > 1.25 * fraction * len(triangles):  # topology blocked it: allow splits
        out = surface.decimate_pro(reduction, preserve_topology=False, splitting=True)
    ids = np.asarray(out.point_data["organfem_id"], dtype=np.int64)
    return ids, np.asarray(out.regular_faces, dtype=np.int64)


def _feature_edges(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Edges of the surface on its border or where it folds more than 60 degrees, (k, 2)."""
    if len(triangles) == 0:
        return np.zeros((0, 2), np.int64)
    corners = points[triangles].astype(np.float64)
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-300)
    edges = np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    faces = np.repeat(np.arange(len(triangles)), 3)
    unique, inverse, counts = np.unique(edges, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    first = np.zeros(len(unique), np.int64)
    second = np.full(len(unique), -1, np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    first[:] = faces[order[starts]]
    two = counts == 2
    second[two] = faces[order[starts[two] + 1]]
    sharp = np.zeros(len(unique), bool)
    cosine = np.einsum("ij,ij->i", normals[first[two]], normals[second[two]])
    sharp[two] = cosine < np.cos(np.deg2rad(_FEATURE_ANGLE))
    return unique[(counts != 2) | sharp]


def _quantised_displacement(displacement: np.ndarray) -> dict[str, Any]:
    largest = np.abs(np.nan_to_num(displacement, nan=0.0)).reshape(len(displacement), -1)
    scale = largest.max(axis=1) / 32767.0 if largest.size else np.zeros(len(displacement))
    scale = np.where(scale > 0, scale, 1.0)
    codes = np.rint(np.nan_to_num(displacement, nan=0.0) / scale[:, None, None])
    return {"data": _b64(np.clip(codes, -32767, 32767), "<i2"), "scale": scale.tolist()}


def _quantised_field(name: str, meta: Field, values: np.ndarray) -> dict[str, Any]:
    finite = np.isfinite(values)
    lo = float(values[finite].min()) if finite.any() else 0.0
    hi = float(values[finite].max()) if finite.any() else 0.0
    span = hi - lo
    codes = np.zeros(values.shape, np.float64)
    if span > 0:
        codes[finite] = np.rint((values[finite] - lo) / span * _LEVELS)
    codes[~finite] = _MISSING
    # Values of both signs in good measure (a stress) get a diverging map centred on zero.
    signed = lo < 0.0 < hi and min(-lo, hi) >= _SIGNED_SHARE * max(-lo, hi)
    unit = meta.unit
    return {
        "name": name,
        "label": meta.label,
        "unit": unit,
        "title": f"{meta.label} [{unit}]" if unit else meta.label,
        "lo": lo,
        "hi": hi,
        "levels": _LEVELS,
        "missing": _MISSING,
        "colorscale": "RdBu" if signed else "Viridis",
        "reversescale": signed,
        "cmid": 0.0 if signed else None,
        "data": _b64(codes, "<u2"),
    }


def _view_data(content: ReportContent) -> tuple[dict[str, Any], list[str]]:
    geometry: ReportGeometry = content.geometry
    notes: list[str] = []
    points = np.asarray(geometry.points, np.float64)
    triangles = np.asarray(geometry.triangles, np.int64)
    steps = max(len(content.times), 1)
    displacement = (None if geometry.displacement is None
                    else np.asarray(geometry.displacement, np.float64)[:steps])
    fields = {name: np.asarray(values, np.float64)[:steps]
              for name, values in geometry.fields.items()}
    orientation = _orientation(content, points, triangles)
    size = _view_bytes(len(points), len(triangles), steps, len(fields), displacement is not None)
    ids = np.arange(len(points))
    shown = triangles
    if size > VIEW_BUDGET_BYTES and len(triangles) > 0:
        ids, shown = _decimated(points, triangles, 0.9 * VIEW_BUDGET_BYTES / size)
        notes.append(
            f"The 3-D view shows a decimated surface ({len(shown):,} of {len(triangles):,} "
            "triangles; the kept vertices carry their exact values) to keep this file small. "
            "The key figures and plots use the full results."
        )
        log.info("report: surface decimated for the 3-D view, %d of %d triangles",
                 len(shown), len(triangles))
    points = points[ids]
    displacement = None if displacement is None else displacement[:, ids]
    fields = {name: values[:, ids] for name, values in fields.items()}
    edges = _feature_edges(points, shown)

    # One box for every step, so that the view does not jump with the slider.
    deformed = points[None] if displacement is None else points[None] + displacement
    if len(points):
        lo = np.minimum(np.nanmin(deformed, axis=(0, 1)), points.min(axis=0))
        hi = np.maximum(np.nanmax(deformed, axis=(0, 1)), points.max(axis=0))
    else:
        lo, hi = np.zeros(3), np.ones(3)
    extent = float(np.max(hi - lo)) or 1.0
    lo, hi = lo - _PAD * extent, hi + _PAD * extent
    span = hi - lo
    aspect = span / span.max()
    centre = 0.5 * (lo + hi)

    def scene(point: np.ndarray) -> list[float]:  # data to plotly's normalised scene coordinates
        return ((np.asarray(point) - centre) / span.max()).tolist()

    eye = orientation["direction"] * _EYE_DISTANCE + (orientation["target"] - centre) / span.max()
    clip_axes = []
    for name, vector in orientation["clip_axes"]:
        along = deformed.reshape(-1, 3) @ vector if len(points) else np.zeros(1)
        clip_axes.append({"name": name, "vector": vector.tolist(),
                          "lo": float(np.nanmin(along)), "hi": float(np.nanmax(along))})
    time_unit = f" {content.spec.time_unit}" if content.spec.time_unit else ""
    step_labels = [f"{content.spec.steps} {k + 1} of {len(content.times)}, "
                   f"t = {t:.4g}{time_unit}" for k, t in enumerate(content.times)]
    view = {
        "n_points": int(len(points)),
        "n_triangles": int(len(shown)),
        "steps": int(len(content.times)),
        "step_labels": step_labels or ["reference"],
        "points": _b64(points, "<f4"),
        "triangles": _b64(shown, "<u4"),
        "edges": _b64(edges, "<u4"),
        "displacement": None if displacement is None else _quantised_displacement(displacement),
        "fields": [_quantised_field(name, geometry.fields_meta[name], values)
                   for name, values in fields.items()],
        "range": {k: [float(lo[i]), float(hi[i])] for i, k in enumerate("xyz")},
        "aspect": {k: float(aspect[i]) for i, k in enumerate("xyz")},
        "camera": {
            "eye": dict(zip("xyz", map(float, eye), strict=True)),
            "up": dict(zip("xyz", map(float, orientation["up"]), strict=True)),
            "center": dict(zip("xyz", scene(orientation["target"]), strict=True)),
        },
        "labels": [{"text": text, "hover": hover, "x": float(p[0]), "y": float(p[1]),
                    "z": float(p[2])} for text, hover, p in orientation["labels"]],
        "axis_titles": orientation["axis_titles"],
        "clip_axes": clip_axes,
        "orientation": orientation["caption"],
    }
    return view, notes


def _orientation(content: ReportContent, points: np.ndarray, triangles: np.ndarray
                 ) -> dict[str, Any]:
    """Camera, orientation labels and clip axes of the view (LPS coordinates, mm)."""
    from ..viz.orientation import coronal_view, find_base, lv_view, principal_view

    axis_titles = {"x": "x [mm], + left", "y": "y [mm], + posterior", "z": "z [mm], + superior"}
    if len(points) < 4:
        return {"direction": np.array([0.0, -1.0, 0.0]), "up": np.array([0.0, 0.0, 1.0]),
                "target": points.mean(axis=0) if len(points) else np.zeros(3), "labels": [],
                "clip_axes": [("z", np.array([0.0, 0.0, 1.0]))], "axis_titles": axis_titles,
                "caption": "no surface to show"}
    low, high = points.min(axis=0), points.max(axis=0)
    extent = float(np.max(high - low)) or 1.0
    target = 0.5 * (low + high)
    if content.spec.anatomy == "lv":
        import pyvista

        surface = pyvista.PolyData.from_regular_faces(points, triangles)
        base = find_base(surface)
        view = principal_view(points) if base is None else lv_view(points, base)
        vertical, side = view.vertical, view.section_normal
        along = (points - points.mean(axis=0)) @ vertical
        radial = points - points.mean(axis=0) - along[:, None] * vertical
        radius = float(np.linalg.norm(radial, axis=1).max())
        if base is None:
            bottom = points.mean(axis=0) + along.min() * vertical
            top = points.mean(axis=0) + along.max() * vertical
            ends = [("long axis \u2191", "the principal axis of the body; no flat base found",
                     top + 0.1 * extent * vertical)]
        else:
            bottom, top = view.apex, view.base_centre
            ends = [("base", "base of the ventricle", top + 0.1 * extent * vertical),
                    ("apex", "apex of the ventricle", bottom - 0.08 * extent * vertical)]
        middle = 0.5 * (bottom + top)
        front, back = (("anterior", "posterior") if "anterior" in view.label
                       else ("left", "right"))
        labels = [*ends,
                  (front, f"the {front} side", middle + 1.15 * radius * side),
                  (back, f"the {back} side", middle - 1.15 * radius * side)]
        # Each axis points towards the camera's side: the default cut keeps the far part.
        clip_axes = [("long axis (apex \u2192 base)", vertical),
                     (f"{back} \u2192 {front}", side),
                     ("across the view (left \u2192 right of the image)", view.right)]
        target = middle
        caption = (f"{view.label[:1].upper()}{view.label[1:]}. Drag to rotate, scroll to "
                   "zoom; \u201creset view\u201d returns here.")
        return {"direction": view.direction, "up": view.up, "target": target, "labels": labels,
                "clip_axes": clip_axes, "axis_titles": axis_titles, "caption": caption}
    coronal = coronal_view()
    angle = np.deg2rad(_GENERIC_ELEVATION)
    direction = np.cos(angle) * coronal.direction + np.sin(angle) * coronal.up
    up = -np.sin(angle) * coronal.direction + np.cos(angle) * coronal.up
    pad = 0.07 * extent
    x, y, z = target
    labels = [("S", "superior", np.array([x, y, high[2] + pad])),
              ("I", "inferior", np.array([x, y, low[2] - pad])),
              ("R", "the patient's right", np.array([low[0] - pad, y, z])),
              ("L", "the patient's left", np.array([high[0] + pad, y, z])),
              ("A", "anterior", np.array([x, low[1] - pad, z])),
              ("P", "posterior", np.array([x, high[1] + pad, z]))]
    clip_axes = [("inferior \u2192 superior (z)", np.array([0.0, 0.0, 1.0])),
                 ("posterior \u2192 anterior (y)", np.array([0.0, -1.0, 0.0])),
                 ("right \u2192 left (x)", np.array([1.0, 0.0, 0.0]))]
    caption = (f"Patient coordinates (LPS): seen from anterior, {_GENERIC_ELEVATION:g} deg "
               "above, superior up, the patient's right on the left. S/I superior/inferior, "
               "R/L right/left, A/P anterior/posterior. Drag to rotate, scroll to zoom; "
               "\u201creset view\u201d returns here.")
    return {"direction": direction, "up": up, "target": target, "labels": labels,
            "clip_axes": clip_axes, "axis_titles": axis_titles, "caption": caption}

"""The PDF report of a results file, for the patient record.

:func:`write_pdf` lays out a :class:`~organfem.report.content.ReportContent`
(everything :func:`~organfem.report.content.report_content` read from the
results file, and nothing else) on A4 portrait pages made with matplotlib.
Text stays text (TrueType fonts, embedded as subsets), so the report can be
searched and read back (``pdftotext``); the three views of the anatomy are
images rendered off-screen with PyVista.

* **Page 1**: the title, a banner if the run did not finish, the statement
  of the report's limits (research software, not a medical device), the
  scenario's summary, the key figures with their units, and the deformed
  anatomy at the last step written, coloured by the first declared field,
  from three standard directions, under one colour bar titled with the
  field's unit.  A ventricle (``anatomy="lv"``) is seen side-on from
  anterior and from the patient's left, base up and apex down, and from
  its base (short axis); other anatomy in the coronal (from anterior),
  sagittal (from the patient's left) and axial (from above) views.
  Letters at the edges of each view name the patient directions there (A,
  P, L, R, S, I, in the LPS patient coordinates of :mod:`organfem.imaging`).
* **Page 2**: the scenario's plots and the solver's convergence history.
* **Page 3**: provenance (software versions, when and on how many MPI ranks
  the run was made, the SHA-256 of each input, the parameters, the mesh's
  size and quality) and the verification of the build (the benchmarks and
  closed forms its test suite checks, with their figures).

A section that does not fit the rest of a page continues on the next; every
page has a footer with the software's version and the page number.  The
PDF's metadata hold a title and the creating software, never an author, a
user, a host or a path.  Rendering is not collective: call it on one rank.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ParameterError
from ..io import write_atomically
from .content import ReportContent

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..viz.orientation import View

__all__ = ["write_pdf", "PAGE_SIZE", "VIEW_PIXELS", "FIELD_CMAP"]

log = logging.getLogger(__name__)

#: Page size [in]: A4 portrait (210 x 297 mm).
PAGE_SIZE: tuple[float, float] = (210.0 / 25.4, 297.0 / 25.4)
#: Size [px] of the square off-screen render of each view (before cropping).
VIEW_PIXELS = 720
#: Colour map of the field on the anatomy (sequential, as in :mod:`organfem.viz.render`).
FIELD_CMAP = "viridis"

_W, _H = PAGE_SIZE
_MARGIN = 0.6  # [in] left, right, top
_BOTTOM = 0.75  # [in] bottom margin, the footer below it
_TEXT_W = _W - 2 * _MARGIN
_SANS = "DejaVu Sans"  # shipped with matplotlib: the same metrics everywhere
_MONO = "DejaVu Sans Mono"
_BODY = 9.0  # [pt]
_SMALL = 7.5
_LEADING = 1.32  # line height / font size
_INK = "#1a1a1a"
_GREY = "#5a5a5a"
_RULE = "#b0b0b0"
_SHADE = "#f1f3f5"
_LIMITS_FACE, _LIMITS_EDGE = "#fff4d6", "#c98a00"
_BANNER_FACE, _BANNER_EDGE = "#fde2e1", "#b3261e"
_UNCOLOURED = "#c9c1b6"  # the anatomy when no field is declared
_NAN_COLOUR = "#999999"
_REFERENCE = "#4d4d4d"  # the unloaded shape, drawn as faint lines
_AMBIENT = 0.25

# Patient directions in LPS: +x left, +y posterior, +z superior.
_ANTERIOR = np.array([0.0, -1.0, 0.0])
_LEFT = np.array([1.0, 0.0, 0.0])
_SUPERIOR = np.array([0.0, 0.0, 1.0])
_AXES = (("L", "R", "the patient's left", "the patient's right"),
         ("P", "A", "posterior", "anterior"),
         ("S", "I", "superior", "inferior"))  # fmt: skip
_MIN_HORIZONTAL = 0.3  # |a side made orthogonal to the long axis| below which it is not used
_OBLIQUE = 0.38  # a direction's second component at or above this (22 deg) is named too


def write_pdf(content: ReportContent, path: str | os.PathLike) -> Path:
    """Write the PDF report of ``content`` to ``path`` (A4 portrait pages).

    Args:
        content: What the report shows (:func:`organfem.report.report_content`).
        path: The PDF file to write (``.pdf``) in an existing folder.  It is
            written to a temporary file in the same folder, then renamed, so
            a file already at ``path`` is replaced only by a complete report;
            the file's mode follows the umask.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ParameterError: if ``path`` does not end in ``.pdf`` or its folder
            does not exist.
        OutputError: if the file cannot be written (named by its file name
            only: a folder may name the patient).
    """
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    path = Path(path)
    if path.suffix.lower() != ".pdf":
        raise ParameterError(f"PDF report {path.name!r}: the file name must end in .pdf")
    if not path.parent.is_dir():
        raise ParameterError(f"PDF report {path.name!r}: its folder does not exist")
    style = {"pdf.fonttype": 42, "font.family": "sans-serif", "font.sans-serif": [_SANS],
             "font.monospace": [_MONO], "font.size": _BODY, "axes.titlesize": 10.0,
             "axes.labelsize": _BODY, "xtick.labelsize": _SMALL, "ytick.labelsize": _SMALL,
             "legend.fontsize": _SMALL, "text.usetex": False}  # fmt: skip
    with matplotlib.rc_context(style):
        pages = _pages(content)
        metadata: dict[str, Any] = {"Title": content.spec.title,
                                    "Subject": "organfem simulation report",
                                    "Creator": f"organfem {_version()}"}  # fmt: skip
        if "SOURCE_DATE_EPOCH" not in os.environ:  # else matplotlib uses it
            metadata["CreationDate"] = datetime.datetime.now(datetime.UTC)

        def write(temporary: Path) -> None:
            with PdfPages(temporary, metadata=metadata) as pdf:
                for page in pages:
                    pdf.savefig(page)

        write_atomically(path, write, "PDF report")
    return path


def _version() -> str:
    from .. import __version__

    return __version__


# -- pages ------------------------------------------------------------------


def _pages(content: ReportContent) -> list[Figure]:
    """The report's pages (matplotlib figures), in order, with their footers."""
    doc = _Document()
    _first_page(doc, content)
    doc.new_page()
    _plots_page(doc, content)
    doc.new_page()
    _provenance_page(doc, content)
    doc.finish(content)
    return doc.pages


def _steps_text(content: ReportContent) -> str:
    """The last step written, e.g. "load step 5 of 5, t = 1" (step 0 is the initial state)."""
    count = len(content.times)
    if count == 0:
        return "no steps written"
    time = float(content.times[-1])
    unit = f" {content.spec.time_unit}" if content.spec.time_unit else ""
    if count == 1:
        return f"the initial state, t = {time:g}{unit}"
    last = "(the last written)" if content.unfinished else f"of {count - 1}"
    return f"{content.spec.steps} {count - 1} {last}, t = {time:g}{unit}"


def _first_page(doc: _Document, content: ReportContent) -> None:
    spec = content.spec
    doc.paragraph(spec.title, size=16.0, weight="bold", after=0.04)
    created = content.provenance.get("created_utc", "unknown")
    doc.paragraph(f"Simulation report of a run of organfem {content.provenance.get('organfem', '')}"
                  f" made {created} (UTC); last step shown: {_steps_text(content)}.",
                  size=_SMALL, colour=_GREY, after=0.12)  # fmt: skip
    if content.unfinished:
        doc.boxed(_unfinished_text(content), face=_BANNER_FACE, edge=_BANNER_EDGE,
                  heading="UNFINISHED RUN", colour=_BANNER_EDGE)  # fmt: skip
    doc.boxed(content.limits, face=_LIMITS_FACE, edge=_LIMITS_EDGE,
              heading="Research software, not a medical device", colour="#7a5200")  # fmt: skip
    if spec.summary:
        doc.heading("What was simulated")
        doc.paragraph(spec.summary)
    doc.heading("Key figures")
    if content.figures:
        doc.table(("quantity", "value", "unit"), [list(f) for f in content.figures],
                  (0.4, 0.15, 0.15), align=("left", "right", "left"))  # fmt: skip
    else:
        doc.paragraph("The scenario declares no key figures.", colour=_GREY)
    _views_block(doc, content)


def _unfinished_text(content: ReportContent) -> str:
    done = max(len(content.times) - 1, 0)
    return (f"The simulation did not finish. This report shows the {done} {content.spec.steps}(s) "
            "completed before it stopped; the figures and views are those of the last step "
            "written, not of the intended end of the run.")  # fmt: skip


def _plots_page(doc: _Document, content: ReportContent) -> None:
    doc.heading("Plots")
    if not content.plots:
        doc.paragraph("The scenario declares no plots.", colour=_GREY)
    for plot in content.plots:
        ax = doc.axes(3.1, bottom_pad=0.45, left_pad=0.7)
        n = len(plot.x)
        for name, y in plot.series:
            m = min(n, len(y))
            ax.plot(plot.x[:m], y[:m], "o-", markersize=3.5, linewidth=1.4,
                    label=name.replace("_", " "))  # fmt: skip
        ax.set_title(plot.title, parse_math=False)
        ax.set_xlabel(plot.x_label, parse_math=False)
        ax.set_ylabel(plot.y_label, parse_math=False)
        ax.grid(True, color="#e0e0e0", linewidth=0.6)
        if len(plot.series) > 1:
            ax.legend(frameon=False)
        doc.space(0.15)
    doc.heading("Solver convergence")
    iterations = np.asarray(content.convergence, dtype=float)
    if iterations.size == 0:
        doc.paragraph("The results file records no Newton iteration counts.", colour=_GREY)
        return
    steps = np.arange(iterations.size)
    finite = iterations[np.isfinite(iterations)]
    summary = (f"Newton iterations per {content.spec.steps} (step 0 is the initial state): "
               f"{int(finite.sum())} in all, at most {int(finite.max()) if finite.size else 0} "
               "in one step.")  # fmt: skip
    if iterations.size <= 40:
        summary += " Per step: " + ", ".join(
            "-" if not np.isfinite(v) else f"{int(v)}" for v in iterations) + "."
    doc.paragraph(summary)
    ax = doc.axes(2.3, bottom_pad=0.45, left_pad=0.7)
    ax.bar(steps, np.nan_to_num(iterations), color="#4c72b0", width=0.7)
    ax.set_xlabel(f"{content.spec.steps} (number)", parse_math=False)
    ax.set_ylabel("Newton iterations", parse_math=False)
    ax.set_title("Convergence history", parse_math=False)
    ax.grid(True, axis="y", color="#e0e0e0", linewidth=0.6)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _format(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    if isinstance(value, int | np.integer | str):
        return str(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


#: Units that end a parameter's name ("end_diastolic_pressure_kPa").
_UNITS = ("kPa", "Pa", "MPa", "mmHg", "mm", "mm2", "mm3", "mL", "m", "s", "ms", "deg", "rad",
          "Hz", "bpm", "kg", "g")


def _parameter_name(name: str) -> str:
    """``end_diastolic_pressure_kPa`` -> ``end diastolic pressure [kPa]``."""
    words = str(name).split("_")
    if len(words) > 1 and words[-1] in _UNITS:
        return f"{' '.join(words[:-1])} [{words[-1]}]"
    return " ".join(words)


_RUN_KEYS = {"created_utc": "run created (UTC)", "mpi_size": "MPI ranks",
             "resumes": "resumed from checkpoints"}  # fmt: skip


def _provenance_page(doc: _Document, content: ReportContent) -> None:
    doc.heading("Provenance")
    doc.paragraph("Everything in this report was read from the results file of the run; the "
                  "report did not read the run's inputs, which are identified below by their "
                  "SHA-256 checksums only.", colour=_GREY, size=_SMALL)  # fmt: skip
    software = [[k, v] for k, v in content.provenance.items() if k not in _RUN_KEYS]
    run = [[label, content.provenance[k]] for k, label in _RUN_KEYS.items()
           if k in content.provenance]
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    run.append(["report written (UTC)", f"{now} by organfem {_version()}"])
    small = 8.0
    doc.subheading("Run")
    doc.table(None, run, (0.3, 0.7), size=small)
    doc.subheading("Software of the run")
    half = (len(software) + 1) // 2
    pairs = [software[k] + (software[k + half] if k + half < len(software) else ["", ""])
             for k in range(half)]  # fmt: skip
    doc.table(("package", "version", "package", "version"), pairs, (0.15, 0.35, 0.15, 0.35),
              size=small)  # fmt: skip
    doc.subheading("Inputs (SHA-256)")
    if content.inputs:
        doc.table(("role", "SHA-256"), [[k, v] for k, v in content.inputs.items()], (0.2, 0.8),
                  mono=(1,), size=small)  # fmt: skip
    else:
        doc.paragraph("No input files: the run used built-in geometry only.", colour=_GREY,
                      size=small)  # fmt: skip
    doc.subheading("Parameters")
    if content.parameters:
        doc.table(("parameter", "value"),
                  [[_parameter_name(k), _format(v)] for k, v in content.parameters.items()],
                  (0.3, 0.7), size=small)  # fmt: skip
    else:
        doc.paragraph("The results file records no parameters.", colour=_GREY, size=small)
    doc.subheading("Mesh")
    mesh = dict(content.mesh)
    mesh.setdefault("cells", f"{content.geometry.cells:,}")
    mesh["boundary surface shown"] = (f"{len(content.geometry.points):,} points, "
                                      f"{len(content.geometry.triangles):,} triangles")
    doc.table(None, [[k, v] for k, v in mesh.items()], (0.3, 0.7), size=small)
    doc.heading("Verification of the software")
    doc.paragraph(f"What the test suite of organfem {_version()} checks the code against: "
                  "published benchmarks and closed-form solutions, each with the figure it "
                  "reaches and the test that checks it. This verifies the software; it does not "
                  "validate the model of this patient.", size=_SMALL, colour=_GREY)  # fmt: skip
    if content.verification:
        rows = [[v.get("name", ""), v.get("reference", ""), v.get("figure", ""),
                 v.get("test", "")] for v in content.verification]  # fmt: skip
        doc.table(("benchmark", "reference", "figure reached", "test"), rows,
                  (0.21, 0.3, 0.27, 0.22), size=_SMALL)  # fmt: skip
    else:
        doc.paragraph("No verification record is available.", colour=_GREY)


# -- the three views ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Shot:
    """One static view: its camera, its caption and the words at its edges."""

    view: View
    caption: str
    edges: tuple[str, str, str, str]  # top, bottom, left, right


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def _letters(vector: np.ndarray) -> str:
    """Patient directions of a unit vector in LPS letters, main one first ("A", "AL")."""
    order = np.argsort(-np.abs(vector))
    letters = [(_AXES[i][0] if vector[i] > 0 else _AXES[i][1]) for i in order
               if abs(vector[i]) >= _OBLIQUE or i == order[0]]  # fmt: skip
    return "".join(letters)


def _side(vector: np.ndarray) -> str:
    """Where a camera in direction ``vector`` is, in words: "anterior", or "anterior (oblique,
    towards the patient's left)"."""
    order = np.argsort(-np.abs(vector))
    names = [(_AXES[i][2] if vector[i] > 0 else _AXES[i][3]) for i in order
             if abs(vector[i]) >= _OBLIQUE or i == order[0]]  # fmt: skip
    if len(names) == 1:
        return names[0]
    return f"{names[0]} (oblique, towards {' and '.join(names[1:])})"


def _edges(view: View, top: str | None = None, bottom: str | None = None
           ) -> tuple[str, str, str, str]:  # fmt: skip
    right = view.right
    return (top or _letters(view.up), bottom or _letters(-view.up), _letters(-right),
            _letters(right))  # fmt: skip


def _lv_shots(points: np.ndarray, triangles: np.ndarray) -> list[_Shot]:
    """Side-on from anterior and from the left, base up; and from the base."""
    import pyvista

    from ..viz.orientation import View, find_base, lv_view, principal_axis

    faces = np.column_stack([np.full(len(triangles), 3), triangles]).ravel()
    base = find_base(pyvista.PolyData(np.asarray(points, float), faces))
    if base is not None:
        vertical = lv_view(points, base, elevation=0.0).vertical
        top, bottom, upright = "base", "apex", "base up, apex down"
        end = "from the base (short axis), looking towards the apex"
    else:  # no flat base found: the principal axis, its thin end (an apex) down
        vertical = principal_axis(points)
        top, bottom, upright = None, None, "long (principal) axis up"
        end = "along the long (principal) axis, from its thick end"
    sides = [_unit(s - (s @ vertical) * vertical) for s in (_ANTERIOR, _LEFT, _SUPERIOR)
             if np.linalg.norm(s - (s @ vertical) * vertical) >= _MIN_HORIZONTAL]
    first = sides[0]
    second = np.cross(vertical, first)
    if second @ _LEFT < -1e-9 or (abs(second @ _LEFT) <= 1e-9 and second @ _SUPERIOR < 0):
        second = -second
    shots = []
    for direction in (first, second):
        view = View(direction=direction, up=vertical, vertical=vertical,
                    label=f"seen from {_side(direction)}")  # fmt: skip
        shots.append(_Shot(view, f"Seen from {_side(direction)}, side-on; {upright}.",
                           _edges(view, top, bottom)))  # fmt: skip
    view = View(direction=vertical, up=first, vertical=vertical, label=end)
    shots.append(_Shot(view, f"Seen {end}; {_side(first)} up.", _edges(view)))
    return shots


def _generic_shots() -> list[_Shot]:
    """Coronal (from anterior), sagittal (from the left) and axial (from above) views."""
    from ..viz.orientation import View, coronal_view

    coronal = coronal_view()
    sagittal = View(direction=_LEFT.copy(), up=_SUPERIOR.copy(), vertical=_SUPERIOR.copy(),
                    label="sagittal: seen from the patient's left, superior up")  # fmt: skip
    axial = View(direction=_SUPERIOR.copy(), up=_ANTERIOR.copy(), vertical=_SUPERIOR.copy(),
                 label="axial: seen from above, anterior up")  # fmt: skip
    return [
        _Shot(coronal, "Coronal view, seen from anterior: superior up, the patient's right "
                       "on the left.", _edges(coronal)),
        _Shot(sagittal, "Sagittal view, seen from the patient's left: superior up, anterior "
                        "on the left.", _edges(sagittal)),
        _Shot(axial, "Axial view, seen from above: anterior up, the patient's right on the "
                     "right.", _edges(axial)),
    ]  # fmt: skip


def _colour_range(values: np.ndarray | None) -> tuple[float, float] | None:
    if values is None:
        return None
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    # The 1st to 99th percentile: a few hot spots (at a fixed base, a kink of
    # the wall) would otherwise squeeze the rest of the surface into one colour.
    low, high = (float(v) for v in np.percentile(finite, [1.0, 99.0]))
    if high <= low:
        pad = abs(low) * 0.05 or 1.0
        low, high = low - pad, high + pad
    return low, high


def _render(points: np.ndarray, reference: np.ndarray, triangles: np.ndarray,
            values: np.ndarray | None, clim: tuple[float, float] | None,
            shots: Sequence[_Shot]) -> list[np.ndarray]:  # fmt: skip
    """Off-screen PyVista renders of the surface, one RGB image (h, w, 3) per shot,
    cropped to what is drawn."""
    import pyvista

    from ..viz import offscreen_plotter

    faces = np.column_stack([np.full(len(triangles), 3), triangles]).ravel()
    surface = pyvista.PolyData(np.asarray(points, float), faces)
    outline = pyvista.PolyData(np.asarray(reference, float), faces)
    if values is not None:
        surface.point_data["values"] = np.asarray(values, float)
    plotter = offscreen_plotter((VIEW_PIXELS, VIEW_PIXELS))  # on white
    try:
        common = {"smooth_shading": True, "split_sharp_edges": True, "ambient": _AMBIENT,
                  "diffuse": 1.0 - _AMBIENT, "specular": 0.1, "show_scalar_bar": False}
        if values is None:
            plotter.add_mesh(surface, color=_UNCOLOURED, **common)
        else:
            plotter.add_mesh(surface, scalars="values", cmap=FIELD_CMAP, clim=clim,
                             nan_color=_NAN_COLOUR, **common)  # fmt: skip
        plotter.add_mesh(outline, style="wireframe", color=_REFERENCE, opacity=0.25,
                         line_width=1)  # fmt: skip
        plotter.enable_parallel_projection()
        both = np.vstack([surface.points, outline.points])
        images = []
        for shot in shots:
            plotter.camera_position = shot.view.camera_position(both)
            plotter.reset_camera()
            images.append(_crop(np.asarray(plotter.screenshot(return_img=True))))
        return images
    finally:
        plotter.close()


def _crop(image: np.ndarray, pad: int = 6) -> np.ndarray:
    """``image`` cut to the box of its non-white pixels, plus ``pad`` pixels."""
    ink = np.any(image[..., :3] < 245, axis=-1)
    if not ink.any():
        return image
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    r0, r1 = max(rows[0] - pad, 0), min(rows[-1] + pad + 1, image.shape[0])
    c0, c1 = max(cols[0] - pad, 0), min(cols[-1] + pad + 1, image.shape[1])
    return image[r0:r1, c0:c1]


def _views_block(doc: _Document, content: ReportContent) -> None:
    """Three views of the last step, their captions and one colour bar."""
    geometry = content.geometry
    field = content.spec.fields[0] if content.spec.fields else None
    if field is not None and field.name not in geometry.fields:
        field = None
    values = geometry.fields[field.name][-1] if field is not None else None
    reference = np.asarray(geometry.points, float)
    deformed = reference.copy()
    if geometry.displacement is not None and len(geometry.displacement):
        deformed = reference + np.asarray(geometry.displacement[-1], float)
    if field is not None:
        unit = f" {field.unit}" if field.unit else ""
        what = (f"coloured by {field.label}" + (f" [{field.unit}]" if field.unit else "")
                + (f" (colour scale: 1st to 99th percentile of the surface's values; they "
                   f"range from {np.nanmin(values):.3g} to {np.nanmax(values):.3g}{unit})"
                   if values is not None and np.isfinite(values).any() else ""))
    else:
        what = "(the scenario declares no field to colour by)"
    shape = ("deformed at true scale" if geometry.displacement is not None
             else "undeformed (the results hold no displacement)")  # fmt: skip
    doc.heading("The anatomy at the last step")
    doc.paragraph(f"The boundary surface at the last step written ({_steps_text(content)}), "
                  f"{shape}, {what}; faint grey lines: the reference (undeformed) shape. "
                  "Letters at the edges name the patient directions there: A anterior, P "
                  "posterior, L and R the patient's left and right, S superior, I inferior.",
                  size=_SMALL, colour=_GREY)  # fmt: skip
    lv = content.spec.anatomy == "lv"
    shots = _lv_shots(reference, geometry.triangles) if lv else _generic_shots()
    clim = _colour_range(values)
    try:
        images = _render(deformed, reference, geometry.triangles, values, clim, shots)
    except Exception as err:  # no off-screen OpenGL: the rest of the report still stands
        log.warning("the PDF report's 3-D views could not be rendered: %s", err)
        doc.boxed(f"The 3-D views could not be drawn on this computer ({type(err).__name__}: "
                  "no off-screen OpenGL?). Render the results with `organfem render`.",
                  face=_BANNER_FACE, edge=_BANNER_EDGE)  # fmt: skip
        return
    bar = None
    if field is not None and clim is not None:
        bar = (clim, f"{field.label} [{field.unit}]" if field.unit else field.label)
    _draw_views(doc, shots, images, bar)


def _draw_views(doc: _Document, shots: Sequence[_Shot], images: Sequence[np.ndarray],
                bar: tuple[tuple[float, float], str] | None) -> None:  # fmt: skip
    """The views side by side, edge letters and captions, and the colour bar
    ``(clim, title)`` upright on their right."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    gap, edge, column = 0.2, 0.17, 0.8  # [in] between views; edge letters; colour bar
    slot = (_TEXT_W - column - 3 * gap) / 3
    captions = [doc.wrap(f"{k}. {s.caption}", slot - 0.05, _SMALL)
                for k, s in enumerate(shots, start=1)]  # fmt: skip
    line = _SMALL * _LEADING / 72
    caption_h = max(len(c) for c in captions) * line
    box = slot - 2 * edge
    tall = 1.3 * box  # a ventricle is taller than wide
    doc.need(tall + 2 * edge + caption_h + 0.05)
    fig, top = doc.fig, doc.y
    for k, (shot, image) in enumerate(zip(shots, images, strict=True)):
        x = _MARGIN + k * (slot + gap)
        ax = fig.add_axes(((x + edge) / _W, (_H - top - edge - tall) / _H, box / _W, tall / _H))
        ax.imshow(image, interpolation="none")
        ax.set_axis_off()
        centre, middle = x + slot / 2, top + edge + tall / 2
        t, b, left, right = shot.edges
        doc.text(centre, top + 0.02, t, size=_SMALL, weight="bold", ha="center")
        doc.text(centre, top + edge + tall + 0.02, b, size=_SMALL, weight="bold", ha="center")
        doc.text(x + 0.02, middle, left, size=_SMALL, weight="bold", va="center")
        doc.text(x + slot - 0.02, middle, right, size=_SMALL, weight="bold", ha="right",
                 va="center")  # fmt: skip
        y = top + tall + 2 * edge + 0.02
        for text in captions[k]:
            doc.text(centre, y, text, size=_SMALL, ha="center")
            y += line
    if bar is not None:
        clim, title = bar
        x = _MARGIN + _TEXT_W - column + 0.05
        heading = doc.wrap(title, column - 0.05, _SMALL, weight="bold")
        y = top + edge
        for text in heading:
            doc.text(x, y, text, size=_SMALL, weight="bold")
            y += line
        height = tall - (y - top - edge) - 0.1
        cax = fig.add_axes((x / _W, (_H - y - 0.1 - height) / _H, 0.16 / _W, height / _H))
        colour_bar = fig.colorbar(ScalarMappable(Normalize(*clim), colormaps[FIELD_CMAP]),
                                  cax=cax, orientation="vertical")  # fmt: skip
        colour_bar.ax.tick_params(labelsize=_SMALL)
    doc.y = top + tall + 2 * edge + caption_h + 0.12


# -- layout -----------------------------------------------------------------


class _Document:
    """Pages laid out from the top down, in inches; a block that does not fit
    the rest of a page starts the next."""

    def __init__(self) -> None:
        self.pages: list[Figure] = []
        self.fig: Figure
        self.y = 0.0  # [in] from the top of the page
        self.new_page()

    # pages and space
    def new_page(self) -> None:
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=PAGE_SIZE)
        self.pages.append(self.fig)
        self.y = _MARGIN

    def need(self, height: float) -> None:
        """Start a new page unless ``height`` [in] fits on this one."""
        if self.y + height > _H - _BOTTOM and self.y > _MARGIN + 1e-9:
            self.new_page()

    def space(self, height: float) -> None:
        self.y += height

    # text
    def text(self, x: float, y: float, s: str, *, size: float = _BODY, family: str = _SANS,
             weight: str = "normal", colour: str = _INK, ha: str = "left", va: str = "top",
             fig: Figure | None = None) -> None:  # fmt: skip
        """``s`` at (x, y) [in] from the page's top left corner."""
        (fig or self.fig).text(x, _H - y, s, transform=(fig or self.fig).dpi_scale_trans,
                               fontsize=size, family=family, weight=weight, color=colour,
                               ha=ha, va=va, parse_math=False)  # fmt: skip

    def wrap(self, text: str, width: float, size: float, family: str = _SANS,
             weight: str = "normal") -> list[str]:  # fmt: skip
        """``text`` broken into lines no wider than ``width`` [in] (long words split)."""
        measure = _measurer(size, family, weight)
        limit = width * 72.0
        lines: list[str] = []
        for paragraph in str(text).split("\n"):
            line = ""
            for word in paragraph.split():
                candidate = f"{line} {word}" if line else word
                if measure(candidate) <= limit:
                    line = candidate
                    continue
                if line:
                    lines.append(line)
                while measure(word) > limit and len(word) > 1:
                    cut = len(word) - 1
                    while cut > 1 and measure(word[:cut]) > limit:
                        cut -= 1
                    breaks = [k + 1 for k in range(cut - 1) if word[k] in "/_-.,;"]
                    if breaks and breaks[-1] > cut // 3:  # after a separator, if not too early
                        cut = breaks[-1]
                    lines.append(word[:cut])
                    word = word[cut:]
                line = word
            lines.append(line)
        return lines

    def paragraph(self, text: str, *, size: float = _BODY, weight: str = "normal",
                  colour: str = _INK, family: str = _SANS, after: float = 0.08) -> None:
        step = size * _LEADING / 72
        for line in self.wrap(text, _TEXT_W, size, family, weight):
            self.need(step)
            self.text(_MARGIN, self.y, line, size=size, weight=weight, colour=colour,
                      family=family)  # fmt: skip
            self.y += step
        self.y += after

    def heading(self, text: str) -> None:
        self.need(0.75)  # a heading never ends a page
        self.y += 0.1
        self.text(_MARGIN, self.y, text, size=11.5, weight="bold")
        self.y += 11.5 * _LEADING / 72 + 0.04

    def subheading(self, text: str) -> None:
        self.need(0.55)
        self.y += 0.04
        self.text(_MARGIN, self.y, text, size=_BODY + 0.5, weight="bold", colour="#333333")
        self.y += (_BODY + 0.5) * _LEADING / 72 + 0.02

    def boxed(self, text: str, *, face: str, edge: str, heading: str | None = None,
              colour: str = _INK) -> None:  # fmt: skip
        """A framed paragraph (the limits, the unfinished banner), with a bold first line."""
        from matplotlib.patches import Rectangle

        pad = 0.1
        inner = _TEXT_W - 2 * pad
        head = self.wrap(heading, inner, 10.5, weight="bold") if heading else []
        lines = self.wrap(text, inner, _BODY)
        head_step, step = 10.5 * _LEADING / 72, _BODY * _LEADING / 72
        height = 2 * pad + len(head) * head_step + len(lines) * step + (0.03 if head else 0)
        self.need(height)
        self.fig.add_artist(Rectangle((_MARGIN, _H - self.y - height), _TEXT_W, height,
                                      transform=self.fig.dpi_scale_trans, facecolor=face,
                                      edgecolor=edge, linewidth=1.5))  # fmt: skip
        y = self.y + pad
        for line in head:
            self.text(_MARGIN + pad, y, line, size=10.5, weight="bold", colour=colour)
            y += head_step
        y += 0.03 if head else 0
        for line in lines:
            self.text(_MARGIN + pad, y, line)
            y += step
        self.y += height + 0.12

    def table(self, header: Sequence[str] | None, rows: Sequence[Sequence[str]],
              widths: Sequence[float], *, align: Sequence[str] | None = None,
              mono: Sequence[int] = (), size: float = _BODY) -> None:  # fmt: skip
        """Rows of wrapped cells; ``widths`` are fractions of the text width.

        ``header`` (bold, over a rule, repeated on a new page) or None;
        ``mono`` the columns set in a monospace font; ``align`` "left" or
        "right" per column.
        """
        from matplotlib.lines import Line2D
        from matplotlib.patches import Rectangle

        pad_x, pad_y = 0.05, 0.03
        step = size * _LEADING / 72
        columns = [w * _TEXT_W for w in widths]
        total = sum(columns)
        align = tuple(align or ("left",) * len(columns))

        def cells(row: Sequence[str], weight: str) -> list[list[str]]:
            return [self.wrap(str(cell), width - 2 * pad_x, size,
                              _MONO if k in mono and weight == "normal" else _SANS, weight)
                    for k, (cell, width) in enumerate(zip(row, columns, strict=True))]

        def draw(wrapped: list[list[str]], weight: str, shade: bool) -> None:
            height = max(len(c) for c in wrapped) * step + 2 * pad_y
            if shade:
                self.fig.add_artist(Rectangle((_MARGIN, _H - self.y - height), total, height,
                                              transform=self.fig.dpi_scale_trans,
                                              facecolor=_SHADE, edgecolor="none"))
            x = _MARGIN
            for k, (lines, width) in enumerate(zip(wrapped, columns, strict=True)):
                family = _MONO if k in mono and weight == "normal" else _SANS
                right = align[k] == "right"
                for j, line in enumerate(lines):
                    self.text(x + width - pad_x if right else x + pad_x,
                              self.y + pad_y + j * step, line, size=size, family=family,
                              weight=weight, ha="right" if right else "left")
                x += width
            self.y += height

        def draw_header() -> None:
            if header is None:
                return
            draw(cells(header, "bold"), "bold", False)
            self.fig.add_artist(Line2D((_MARGIN, _MARGIN + total), (_H - self.y,) * 2,
                                       transform=self.fig.dpi_scale_trans, color=_RULE,
                                       linewidth=0.8))

        wrapped_header = cells(header, "bold") if header is not None else [[""]]
        head_h = max(len(c) for c in wrapped_header) * step + 2 * pad_y if header else 0.0
        first = cells(rows[0], "normal") if rows else [[""]]
        self.need(head_h + max(len(c) for c in first) * step + 2 * pad_y)
        draw_header()
        for n, row in enumerate(rows):
            wrapped = first if n == 0 else cells(row, "normal")
            height = max(len(c) for c in wrapped) * step + 2 * pad_y
            if self.y + height > _H - _BOTTOM:
                self.new_page()
                draw_header()
            draw(wrapped, "normal", n % 2 == 1)
        self.y += 0.1

    def axes(self, height: float, *, bottom_pad: float = 0.4, left_pad: float = 0.6) -> Any:
        """Matplotlib axes ``height`` [in] tall (with room for labels) across the text width."""
        total = height + bottom_pad + 0.3
        self.need(total)
        bottom = _H - self.y - 0.3 - height
        ax = self.fig.add_axes((( _MARGIN + left_pad) / _W, bottom / _H,
                                (_TEXT_W - left_pad - 0.1) / _W, height / _H))  # fmt: skip
        self.y += total
        return ax

    def finish(self, content: ReportContent) -> None:
        """Footers (and the unfinished banner's reminder) on every page."""
        count = len(self.pages)
        for number, page in enumerate(self.pages, start=1):
            footer = (f"{content.spec.title} · organfem {_version()} · research software, not "
                      f"a medical device · page {number} of {count}")  # fmt: skip
            self.text(_W / 2, _H - _BOTTOM + 0.3, footer, size=6.5, colour=_GREY,
                      ha="center", fig=page)  # fmt: skip
            if content.unfinished and number > 1:
                self.text(_W - _MARGIN, _MARGIN - 0.3, "UNFINISHED RUN", size=8.0,
                          weight="bold", colour=_BANNER_EDGE, ha="right", fig=page)  # fmt: skip


def _measurer(size: float, family: str, weight: str) -> Callable[[str], float]:
    """Width [pt] of a line of text in this font."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    prop = FontProperties(family=family, size=size, weight=weight)

    def measure(s: str) -> float:
        return float(text_to_path.get_text_width_height_descent(s, prop, ismath=False)[0])

    return measure

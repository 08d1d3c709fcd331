"""Off-screen renders of results: deformed geometry coloured by a field.

What a render shows, so that a clinician can read it:

* **Orientation.**  A ventricle (a body whose boundary has one flat face,
  its base: :func:`organfem.viz.orientation.find_base`) is drawn base up and
  apex down, seen from anterior; anything else in the coronal view (from
  anterior, superior up, the patient's right on the left).  Results files
  carry no facet tags, so the base is found from the geometry; the
  reference (undeformed) mesh decides.  A line under the title names the
  view, and a triad in the lower left shows the patient axes (L, P, S).
* **Units.**  The colour bar's title is the field's name and unit, looked
  up from the name (:mod:`organfem.viz.labels`: displacement [mm], fibre
  stress [kPa], ...) unless ``unit=`` is given; unknown fields get none.
* **Fibres.**  A 3-component field named ``fibre`` (or ``f0``, ``fibres``,
  ``fiber``) is shown as its helix angle [deg] about the ventricle's long
  axis, on a diverging colour map from -90 (blue) to 90 (red) degrees (see
  :func:`organfem.fibres.helix_angle`; the transmural direction is taken
  as radial from the axis, as the file has no wall surfaces).
* **Shading.**  The surface is lit with point normals (smooth shading),
  split at sharp edges such as the rim of the base.

Rendering is not collective: call it on one rank (rank 0 after a run), or in a
separate process on the finished results file.  It needs an off-screen
OpenGL context (EGL or OSMesa in the VTK wheel); no display is used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from organfem.errors import ParameterError
from organfem.fibres import helix_angle
from organfem.io import read_results, write_atomically
from organfem.viz.labels import bar_title, field_label
from organfem.viz.orientation import (
    View,
    _annotate,
    coronal_view,
    find_base,
    lv_view,
    principal_axis,
)

if TYPE_CHECKING:
    import pyvista

__all__ = ["render", "offscreen_plotter", "HELIX_CMAP", "HELIX_GLYPH_CMAP", "HELIX_TITLE"]

_BACKGROUND = "white"
_TEXT = "black"
_ZOOM = 0.8  # leave room for the title and the scalar bar
_AMBIENT = 0.25  # light everywhere, so that shading does not hide the colour scale
_CMAP = "viridis"  # sequential: magnitudes, stresses
#: Diverging map of a helix angle on a surface: blue negative (left-handed,
#: epicardial), red positive (right-handed, endocardial), light at 0.
HELIX_CMAP = "RdBu_r"
#: The same for fibre glyphs (lines over a faint grey surface): blue
#: negative, red positive, dark at 0 so that circumferential fibres show.
HELIX_GLYPH_CMAP = "berlin"
#: Colour-bar title of a helix angle.
HELIX_TITLE = "helix angle [deg]"
_FIBRE_FIELDS = ("fibre", "fibres", "f0", "fiber", "fibers")
_NAN_COLOUR = (0.6, 0.6, 0.6)  # helix angle undefined (on the axis)


def _scalar_bar_args(title: str, fmt: str, **extra) -> dict:
    """A horizontal colour bar under the picture."""
    return {
        "title": title,
        "color": _TEXT,
        "vertical": False,
        "position_x": 0.2,
        "position_y": 0.04,
        "width": 0.6,
        "height": 0.08,
        "fmt": fmt,
        "nan_annotation": False,
        **extra,
    }


def _view_of(grid: Any) -> View:
    """The default view of a results grid: a ventricle's if it has a base."""
    base = find_base(grid)
    return coronal_view() if base is None else lv_view(np.asarray(grid.points), base)


def render(
    source: str | Path | pyvista.DataSet,
    out_png: str | Path,
    *,
    field: str = "displacement",
    step: int = -1,
    warp: bool = True,
    scale: float = 1.0,
    show_reference: bool = True,
    window_size: tuple[int, int] = (1200, 900),
    camera: str | Sequence[Sequence[float]] | None = None,
    title: str | None = None,
    unit: str | None = None,
    clim: tuple[float, float] | None = None,
) -> Path:
    """Render one step of a results file (or a dataset) to a PNG.

    The geometry is drawn deformed by the ``displacement`` point field (times
    ``scale``), smoothly shaded, and coloured by ``field``: its magnitude for
    a vector field, its value for a scalar field (point or cell data, e.g.
    fibre stress), the helix angle for a fibre field.  A scalar bar shows the
    field's name and unit.  The reference configuration can be drawn as a
    faint wireframe.  The default camera puts a ventricle base up and apex
    down, anything else in the coronal view (see the module docstring).

    Args:
        source: A results file (see :func:`organfem.io.read_results`) or a
            PyVista dataset carrying the arrays.
        out_png: The image to write (``.png``); written atomically (a
            temporary file in the same folder, then renamed).
        field: Point or cell array to colour by.
        step: Step of a results file; negative counts from the end.  Ignored
            for a dataset.
        warp: Draw the deformed configuration x + scale * displacement.
        scale: Displacement magnification factor (1 = true deformation).
        show_reference: Also draw the undeformed mesh as a wireframe.
        window_size: Image size in pixels, (width, height).
        camera: A PyVista camera position (``"iso"``, ``"xy"``, ... or
            ``[position, focal_point, view_up]``); default the anatomical
            view above (and then the image says which it is).
        title: Text at the top; default the field name and the step's time.
        unit: Unit shown on the scalar bar, e.g. ``"mm"`` or ``"kPa"``;
            default from the field's name (:func:`organfem.viz.labels.field_unit`),
            none for a name not known there; ``""`` for none.
        clim: Colour range (min, max); default the field's range (-90 to 90
            for a helix angle).  Fix it to compare several renders.

    Returns:
        The path of the written PNG.

    Raises:
        ParameterError: For a missing field, a field of more than 3
            components, a missing displacement with ``warp=True``, or a path
            that does not end in ``.png``.
    """
    import pyvista

    out_png = _output_path(out_png, "render")
    if not np.isfinite(scale):
        raise ParameterError(f"scale must be finite, got {scale!r}")
    grid = read_results(source).mesh(step) if isinstance(source, str | Path) else source
    if not isinstance(grid, pyvista.DataSet):
        raise ParameterError(
            "render source must be a results path or a pyvista.DataSet,"
            f" got {type(source).__name__}"
        )

    view = _view_of(grid)
    values, label, on_points = _colour_values(grid, field)
    helix = label == HELIX_TITLE
    if helix:
        values = _helix_values(grid, field, on_points, view)
        unit = None
        clim = (-90.0, 90.0) if clim is None else clim
    elif unit is None:
        name, unit = field_label(field)
        label = label.replace(field, name, 1)  # "pressure_kPa" -> "pressure" [kPa]
    # A deep copy: a shallow one shares the points with ``grid``, and warping
    # it would move the caller's dataset and the reference drawing too.
    deformed = grid.cast_to_unstructured_grid().copy(deep=True)
    if warp:
        displacement = grid.point_data.get("displacement")
        if displacement is None or np.shape(displacement)[1:] != (3,):
            raise ParameterError(
                "warp=True needs a 3-component point field 'displacement'; pass warp=False"
            )
        deformed.points = np.asarray(grid.points) + scale * np.asarray(displacement)
    title_of_bar = label if helix else bar_title(label, unit)
    deformed.clear_data()
    if on_points:
        deformed.point_data[title_of_bar] = values
    else:
        deformed.cell_data[title_of_bar] = values
    surface = deformed.extract_surface(algorithm=None)

    if title is None:
        time = grid.field_data.get("Time")
        title = field if time is None or len(time) == 0 else f"{field}, t = {float(time[0]):g}"

    plotter = offscreen_plotter(window_size)
    try:
        plotter.add_mesh(
            surface,
            scalars=title_of_bar,
            preference="point" if on_points else "cell",
            cmap=HELIX_CMAP if helix else _CMAP,
            clim=clim,
            nan_color=_NAN_COLOUR,
            show_edges=False,
            smooth_shading=True,
            split_sharp_edges=True,
            ambient=_AMBIENT,
            diffuse=1.0 - _AMBIENT,
            scalar_bar_args=_scalar_bar_args(
                title_of_bar, "%.0f" if helix else "%.3g", **({"n_labels": 7} if helix else {})
            ),
        )
        if show_reference:
            plotter.add_mesh(
                grid.extract_surface(algorithm=None),
                style="wireframe",
                color="dimgray",
                opacity=0.5,
                line_width=1,
            )
        _annotate(plotter, title, view if camera is None else None, window_size, bar=True)
        plotter.camera_position = view.camera_position(grid.points) if camera is None else camera
        plotter.reset_camera()
        plotter.camera.zoom(_ZOOM)
        return _write_png_atomically(plotter, out_png)
    finally:
        plotter.close()


def _helix_values(grid: Any, field: str, on_points: bool, view: View) -> np.ndarray:
    """The helix angle [deg] of the fibre field ``field`` about the long axis.

    A ventricle's long axis and base centre, else the principal axis through
    the centroid; the transmural direction is radial from that axis.
    """
    data = grid.point_data[field] if on_points else grid.cell_data[field]
    where = np.asarray(grid.points if on_points else grid.cell_centers().points, dtype=float)
    if view.base_centre is not None:
        axis, centre = view.vertical, view.base_centre
    else:
        axis, centre = principal_axis(grid.points), np.asarray(grid.points).mean(axis=0)
    return helix_angle(where, np.asarray(data, dtype=float), axis, centre)


def _output_path(out: str | Path, what: str, suffix: str = ".png") -> Path:
    """``out`` as a Path, checked to end in ``suffix`` and to lie in an existing folder."""
    out = Path(out)
    if out.suffix.lower() != suffix:
        raise ParameterError(f"{what} output {str(out)!r} must end in {suffix}")
    if not out.parent.is_dir():
        raise ParameterError(f"folder of {what} output {str(out)!r} does not exist")
    return out


def offscreen_plotter(window_size: Sequence[int], *, shape: tuple[int, int] = (1, 1)) -> pyvista.Plotter:
    """An off-screen plotter of ``window_size`` (width, height) pixels on white,
    with ``shape`` (rows, columns) panels.

    The caller closes it (``plotter.close()``).
    """
    import pyvista

    if not os.environ.get("DISPLAY"):
        # Without a display VTK tries X first, warns "bad X server connection"
        # and falls back to EGL; ask for EGL straight away.
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    plotter = pyvista.Plotter(off_screen=True, window_size=list(window_size), shape=shape, border=False)
    try:
        plotter.set_background(_BACKGROUND)
    except BaseException:
        plotter.close()
        raise
    return plotter


def _colour_values(grid: Any, field: str) -> tuple[np.ndarray, str, bool]:
    """The scalars to colour by, their label and whether they are point data."""
    if field in grid.point_data:
        data, on_points = np.asarray(grid.point_data[field]), True
    elif field in grid.cell_data:
        data, on_points = np.asarray(grid.cell_data[field]), False
    else:
        available = sorted({*grid.point_data.keys(), *grid.cell_data.keys()})
        raise ParameterError(f"field {field!r} is not in the data; available: {available}")
    if data.ndim == 1:
        return data.astype(np.float64), field, on_points
    if data.ndim == 2 and data.shape[1] == 3 and field.lower() in _FIBRE_FIELDS:
        return data, HELIX_TITLE, on_points  # the caller turns it into angles
    if data.ndim == 2 and data.shape[1] <= 3:
        return np.linalg.norm(data, axis=1), f"{field} magnitude", on_points
    raise ParameterError(
        f"field {field!r} has {data.shape[1:]} components per entry; render takes scalar or"
        " vector fields (write a scalar such as a stress component or invariant)"
    )


def _write_png_atomically(plotter: Any, out_png: Path) -> Path:
    return write_atomically(out_png, lambda temporary: plotter.screenshot(str(temporary)),
                            "render")

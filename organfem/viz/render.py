"""Off-screen renders of results: deformed geometry coloured by a field.

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
from organfem.io import read_results

if TYPE_CHECKING:
    import pyvista

__all__ = ["render"]

_BACKGROUND = "white"
_TEXT = "black"
_ZOOM = 0.8  # leave room for the title and the scalar bar


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
        **extra,
    }


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
    ``scale``) and coloured by ``field``: its magnitude for a vector field, its
    value for a scalar field (point or cell data, e.g. fibre stress).  A scalar
    bar shows the field's name and unit.  The reference configuration can be
    drawn as a faint wireframe.

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
            ``[position, focal_point, view_up]``); default isometric.
        title: Text at the top; default the field name and the step's time.
        unit: Unit shown on the scalar bar, e.g. ``"mm"`` or ``"kPa"``.
        clim: Colour range (min, max); default the field's range.  Fix it to
            compare several renders.

    Returns:
        The path of the written PNG.

    Raises:
        ParameterError: For a missing field, a field of more than 3
            components, a missing displacement with ``warp=True``, or a path
            that does not end in ``.png``.
    """
    import pyvista

    out_png = _png_path(out_png, "render")
    if not np.isfinite(scale):
        raise ParameterError(f"scale must be finite, got {scale!r}")
    grid = read_results(source).mesh(step) if isinstance(source, str | Path) else source
    if not isinstance(grid, pyvista.DataSet):
        raise ParameterError(
            "render source must be a results path or a pyvista.DataSet,"
            f" got {type(source).__name__}"
        )

    values, label, on_points = _colour_values(grid, field)
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
    bar_title = f"{label} [{unit}]" if unit else label
    if on_points:
        deformed.point_data[bar_title] = values
    else:
        deformed.cell_data[bar_title] = values

    if title is None:
        time = grid.field_data.get("Time")
        title = field if time is None or len(time) == 0 else f"{field}, t = {float(time[0]):g}"

    plotter = _offscreen_plotter(window_size)
    try:
        plotter.add_mesh(
            deformed,
            scalars=bar_title,
            preference="point" if on_points else "cell",
            cmap="viridis",
            clim=clim,
            show_edges=False,
            scalar_bar_args=_scalar_bar_args(bar_title, "%.3g"),
        )
        if show_reference:
            plotter.add_mesh(
                grid.extract_surface(algorithm=None),
                style="wireframe",
                color="dimgray",
                opacity=0.5,
                line_width=1,
            )
        plotter.add_text(title, position="upper_edge", font_size=14, color=_TEXT)
        plotter.camera_position = camera if camera is not None else "iso"
        plotter.reset_camera()
        plotter.camera.zoom(_ZOOM)
        return _write_png_atomically(plotter, out_png)
    finally:
        plotter.close()


def _png_path(out_png: str | Path, what: str) -> Path:
    """``out_png`` as a Path, checked to end in .png and to lie in an existing folder."""
    out_png = Path(out_png)
    if out_png.suffix.lower() != ".png":
        raise ParameterError(f"{what} output {str(out_png)!r} must end in .png")
    if not out_png.parent.is_dir():
        raise ParameterError(f"folder of {what} output {str(out_png)!r} does not exist")
    return out_png


def _offscreen_plotter(window_size: Sequence[int]) -> pyvista.Plotter:
    """An off-screen plotter of ``window_size`` (width, height) pixels on white.

    The caller closes it (``plotter.close()``).
    """
    import pyvista

    if not os.environ.get("DISPLAY"):
        # Without a display VTK tries X first, warns "bad X server connection"
        # and falls back to EGL; ask for EGL straight away.
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    plotter = pyvista.Plotter(off_screen=True, window_size=list(window_size))
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
    if data.ndim == 2 and data.shape[1] <= 3:
        return np.linalg.norm(data, axis=1), f"{field} magnitude", on_points
    raise ParameterError(
        f"field {field!r} has {data.shape[1:]} components per entry; render takes scalar or"
        " vector fields (write a scalar such as a stress component or invariant)"
    )


def _write_png_atomically(plotter: Any, out_png: Path) -> Path:
    temporary = out_png.with_name(f".{out_png.stem}.partial.png")
    try:
        plotter.screenshot(str(temporary))
        os.replace(temporary, out_png)
    finally:
        temporary.unlink(missing_ok=True)
    return out_png

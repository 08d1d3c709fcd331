"""Animations of results: every step, deformed and coloured by a field, as a GIF.

Each frame is drawn the way :func:`organfem.viz.render` draws one step (the
same anatomical view: a ventricle base up, apex down, seen from anterior;
the same colour bar with the field's unit; the reference mesh as a faint
wireframe), with two differences that make the frames comparable:

* **One colour range** for all steps: the 1st to 99th percentile of the
  field over every step (-90 to 90 degrees for a fibre field's helix angle).
* **One camera** for all steps, fitted to the reference and to every
  deformed step, so that the body moves in the picture and the picture
  does not move around the body.

The frames are written with Pillow (a dependency of matplotlib), so no
video library is needed.  Rendering is off screen and not collective: call
it on one rank, or in a separate process on the finished results file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from organfem.errors import OutputError, ParameterError
from organfem.io import read_results, write_atomically
from organfem.io.reader import Results
from organfem.viz.labels import bar_title, field_label
from organfem.viz.orientation import _annotate
from organfem.viz.render import (
    _AMBIENT,
    _CMAP,
    _NAN_COLOUR,
    _ZOOM,
    HELIX_CMAP,
    HELIX_TITLE,
    _colour_values,
    _helix_values,
    offscreen_plotter,
    _output_path,
    _scalar_bar_args,
    _view_of,
)

__all__ = ["animate"]

_PERCENTILES = (1.0, 99.0)


def animate(
    results: str | Path | Results,
    out_gif: str | Path,
    *,
    field: str = "fibre_stress",
    fps: float = 10,
    scale: float = 1.0,
    window_size: tuple[int, int] = (800, 600),
    show_reference: bool = True,
    steps: Sequence[int] | None = None,
) -> Path:
    """Animate the steps of a results file to a GIF, one frame per step.

    Each frame shows the geometry deformed by the ``displacement`` point
    field (times ``scale``) and coloured by ``field`` (its magnitude for a
    vector field, the helix angle for a fibre field), on a colour range
    fixed over all steps (1st to 99th percentile) with a colour bar that
    names the field and its unit (:mod:`organfem.viz.labels`), in the view
    of :func:`organfem.viz.render`; the title gives the step's time [s].

    Args:
        results: A results file or :class:`organfem.io.Results`
            (see :func:`organfem.io.read_results`); it must have steps.
        out_gif: The animation to write (``.gif``), in an existing folder;
            written atomically (a temporary file in the same folder, then
            renamed), with the mode the umask gives.
        field: Point or cell array to colour by, e.g. ``"fibre_stress"`` [kPa].
        fps: Frames per second (> 0).
        scale: Displacement magnification factor (1 = true deformation).
        window_size: Frame size in pixels, (width, height).
        show_reference: Also draw the undeformed mesh as a wireframe.
        steps: Indices of the steps to show, in order (e.g. the last beat,
            every second step); every step if None.  The reference is step 0.

    Returns:
        The path of the written GIF.

    Raises:
        ParameterError: For a file without steps, a missing field or
            displacement, a bad ``fps``/``scale``, or a path that does not
            end in ``.gif`` or whose folder does not exist.
        OutputError: If the file cannot be written.
    """
    from PIL import Image

    out_gif = _output_path(out_gif, "animation", ".gif")
    if not (np.isfinite(fps) and fps > 0):
        raise ParameterError(f"fps must be a positive number, got {fps!r}")
    if not np.isfinite(scale):
        raise ParameterError(f"scale must be finite, got {scale!r}")
    if not isinstance(results, Results):
        results = read_results(results)
    if results.times.shape[0] == 0:
        raise ParameterError(f"results file {results.path} has no steps to animate")

    count = results.times.shape[0]
    chosen = list(range(count)) if steps is None else [int(i) for i in steps]
    if not chosen or any(not -count <= i < count for i in chosen):
        raise ParameterError(f"steps must be indices among the {count} steps of {results.path}")
    grids = [results.mesh(step) for step in chosen]
    reference = results.mesh(0)
    view = _view_of(reference)
    frames, bar, on_points, helix = _frames(grids, field, view, scale)
    if helix:
        clim = (-90.0, 90.0)
    else:
        finite = np.concatenate([values[np.isfinite(values)] for _, values in frames])
        if finite.size == 0:
            raise ParameterError(f"field {field!r} has no finite values in {results.path}")
        low, high = (float(v) for v in np.percentile(finite, _PERCENTILES))
        if not high > low:  # a constant field: any range around it
            low, high = low - 0.5 * (abs(low) or 1.0), high + 0.5 * (abs(high) or 1.0)
        clim = (low, high)

    images = []
    plotter = offscreen_plotter(window_size)
    try:
        _annotate(plotter, "", view, window_size, bar=True)
        width, height = window_size
        size = max(7, round(height / 50))
        heading = plotter.add_text("", position=(width / 2, height - 0.3 * size),
                                   font_size=size, color="black", name="title")  # fmt: skip
        heading.GetTextProperty().SetJustificationToCentered()
        heading.GetTextProperty().SetVerticalJustificationToTop()
        if show_reference:
            plotter.add_mesh(reference.extract_surface(algorithm=None), style="wireframe",
                             color="dimgray", opacity=0.5, line_width=1)  # fmt: skip
        camera = _fixed_camera(plotter, view, reference, [surface for surface, _ in frames])
        for time, (surface, _) in zip(results.times[chosen], frames, strict=True):
            heading.SetInput(f"{field}, t = {float(time):.3g} s")
            plotter.add_mesh(
                surface,
                name="body",
                scalars=bar,
                preference="point" if on_points else "cell",
                cmap=HELIX_CMAP if helix else _CMAP,
                clim=clim,
                nan_color=_NAN_COLOUR,
                smooth_shading=True,
                split_sharp_edges=True,
                ambient=_AMBIENT,
                diffuse=1.0 - _AMBIENT,
                reset_camera=False,
                scalar_bar_args=_scalar_bar_args(bar, "%.0f" if helix else "%.3g"),
            )
            plotter.camera_position = camera
            plotter.render()
            images.append(np.asarray(plotter.screenshot(return_img=True))[..., :3].copy())
    finally:
        plotter.close()

    pictures = [
        Image.fromarray(image).convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
        for image in images
    ]
    return write_atomically(
        out_gif,
        lambda temporary: pictures[0].save(temporary, format="GIF", save_all=True,
                                           append_images=pictures[1:],
                                           duration=round(1000.0 / fps), loop=0),
        "animation",
    )  # fmt: skip


def _frames(
    grids: Sequence[Any], field: str, view: Any, scale: float
) -> tuple[list[tuple[Any, np.ndarray]], str, bool, bool]:
    """Each step's deformed surface carrying the colour values, and how to show them.

    Returns the (surface, values) of each step, the colour bar's title,
    whether the values are point data and whether they are helix angles.
    """
    frames = []
    bar, on_points, helix = "", True, False
    for grid in grids:
        values, label, on_points = _colour_values(grid, field)
        helix = label == HELIX_TITLE
        if helix:
            values, bar = _helix_values(grid, field, on_points, view), label
        else:
            name, unit = field_label(field)
            bar = bar_title(label.replace(field, name, 1), unit)
        displacement = grid.point_data.get("displacement")
        if displacement is None or np.shape(displacement)[1:] != (3,):
            raise ParameterError(
                "animate needs a 3-component point field 'displacement' to deform by"
            )
        deformed = grid.cast_to_unstructured_grid().copy(deep=True)
        deformed.points = np.asarray(grid.points) + scale * np.asarray(displacement)
        deformed.clear_data()
        (deformed.point_data if on_points else deformed.cell_data)[bar] = values
        frames.append((deformed.extract_surface(algorithm=None), np.asarray(values)))
    return frames, bar, on_points, helix


def _fixed_camera(plotter: Any, view: Any, reference: Any, surfaces: Sequence[Any]) -> Any:
    """The view's camera, fitted to the reference and every deformed surface."""
    bounds = np.array([surface.bounds for surface in [reference, *surfaces]])
    union = np.empty(6)
    union[0::2], union[1::2] = bounds[:, 0::2].min(axis=0), bounds[:, 1::2].max(axis=0)
    plotter.camera_position = view.camera_position(reference.points)
    plotter.reset_camera(bounds=[float(b) for b in union])
    plotter.camera.zoom(_ZOOM)
    return plotter.camera_position

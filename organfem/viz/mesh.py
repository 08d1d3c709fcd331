"""Off-screen renders of a mesh: its tagged boundaries, cell tags or fibres.

:func:`render_mesh` draws a :class:`~organfem.meshing.MeshData` (or the HDF5
file written by :meth:`MeshData.save`) to a PNG, to check a mesh before a run:
are the boundaries tagged where the loads and constraints will go, are the
regions right, do the fibres wind the way they should.

Tags are drawn flat (unlit) in fixed colours, so the colour of a tag in the
image is exactly its colour in the legend:

* the k-th smallest tag value (of the facet tags, or of the cell tags) gets
  ``TAG_PALETTE[k % len(TAG_PALETTE)]``;
* boundary facets without a tag are ``UNTAGGED_COLOUR`` (light grey);
* with ``clip=True`` the cut face of the wall is ``SECTION_COLOUR`` (grey).

Rendering is not collective: call it on one rank, or in a separate process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from organfem.errors import ParameterError
from organfem.meshing import MeshData, boundary_facets
from organfem.meshing.mesh import _HEX_VTK, _QUAD_VTK
from organfem.viz.render import (
    _TEXT,
    _ZOOM,
    _offscreen_plotter,
    _png_path,
    _scalar_bar_args,
    _write_png_atomically,
)

if TYPE_CHECKING:
    import pyvista

__all__ = ["render_mesh", "TAG_PALETTE", "UNTAGGED_COLOUR", "SECTION_COLOUR", "SHOW_OPTIONS"]

logger = logging.getLogger(__name__)

#: Colours (RGB, 0-255) of tags in ascending order of tag value (Tableau 10
#: without its grey), reused cyclically beyond nine tags.
TAG_PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180),  # blue
    (255, 127, 14),  # orange
    (44, 160, 44),  # green
    (214, 39, 40),  # red
    (148, 103, 189),  # purple
    (140, 86, 75),  # brown
    (227, 119, 194),  # pink
    (188, 189, 34),  # olive
    (23, 190, 207),  # cyan
)
#: Colour of boundary facets that carry no facet tag.
UNTAGGED_COLOUR: tuple[int, int, int] = (211, 211, 211)
#: Colour of the cut face of the wall when ``clip=True``.
SECTION_COLOUR: tuple[int, int, int] = (150, 150, 150)
#: The values ``render_mesh(show=...)`` accepts.
SHOW_OPTIONS: tuple[str, ...] = ("tags", "cells", "fibres")

_LEGEND_BACKGROUND = (245, 245, 245)
_LEGEND_MARGIN = 0.02  # between the legend box and the window's right edge
_LEGEND_TOP = 0.92  # top of the legend box, below the title (fraction of the height)
_TEXT_RGB = (0, 0, 0)
_EDGES = (70, 70, 70)  # cell edges drawn over the flat tag colours (gives the shape)
_SURFACE = (150, 150, 150)  # boundary surface behind the fibre glyphs (lit) ...
_SURFACE_OPACITY = 0.3  # ... and its opacity
_FIBRE_CMAP = "viridis"
_FIBRE_LABEL = "f0 angle to short-axis plane [deg]"
_SKEW_MIN = 0.05  # |skewness| along the long axis below which it gives no direction
_SEED = 0  # subsample of fibre glyphs: the same mesh gives the same image


def render_mesh(
    source: str | os.PathLike | MeshData,
    out_png: str | os.PathLike,
    *,
    show: str = "tags",
    window_size: tuple[int, int] = (1024, 768),
    camera: str | Sequence[Sequence[float]] | None = None,
    title: str | None = None,
    max_glyphs: int = 4000,
    clip: bool = False,
) -> Path:
    """Render a mesh to a PNG: its facet tags, its cell tags or its fibres.

    ``show`` picks what is drawn:

    * ``"tags"``: the boundary facets coloured by facet tag, flat and with
      cell edges, the untagged boundary in light grey, and a legend listing
      each tag's name and value (colours: see the module docstring).
    * ``"cells"``: the surface of the cells coloured by cell tag, with a
      legend (useful when the mesh has several regions; combine with
      ``clip=True`` to see inside).
    * ``"fibres"``: the boundary as a faint semi-transparent surface and the
      fibre direction ``f0`` as a line through the centroid of at most
      ``max_glyphs`` cells (a fixed random subsample), coloured by the angle
      between ``f0`` and the short-axis plane (the plane normal to the long
      axis): 0 deg for a circumferential or transmural fibre, 90 deg for a
      longitudinal one.  It is not the helix angle of a local wall frame,
      which would need the wall's normal; the colour bar says which it is.

    The long axis is the principal axis of the vertex cloud with the largest
    variance, pointed so that the narrow end (the apex of a ventricle, whose
    vertices form the thin tail of their distribution) is at the bottom; when
    the distribution along it is symmetric its largest Cartesian component
    points up.  The default camera looks from the isometric direction with
    that axis vertical (for a mesh whose long axis is z this is PyVista's
    ``"iso"`` view), so a closed ventricle or a vessel is seen from above its
    side, into the base opening.

    Args:
        source: A :class:`~organfem.meshing.MeshData`, or the path of a file
            written by :meth:`MeshData.save`.
        out_png: The image to write (``.png``, in an existing folder);
            written atomically (temporary file in the same folder, renamed).
        show: ``"tags"``, ``"cells"`` or ``"fibres"``.
        window_size: Image size in pixels, (width, height).
        camera: A PyVista camera position (``"iso"``, ``"xy"``, ... or
            ``[position, focal_point, view_up]``); default as above.
        title: Text at the top; default the source's name and what is shown.
        max_glyphs: Most fibre glyphs to draw, >= 1 (``show="fibres"``).
        clip: Cut the mesh by the plane through the centroid of its vertices
            that contains the long axis and faces the default camera, and draw
            the half further from that camera, to show the wall and the
            inside.

    Returns:
        The path of the written PNG.

    Raises:
        ParameterError: For an unknown ``show``, ``show="fibres"`` on a mesh
            without fibres or with fibres of the wrong shape, a bad
            ``window_size`` or ``max_glyphs``, a source that is neither a path
            nor a MeshData, or an output path that does not end in ``.png`` or
            whose folder does not exist.  Errors about ``show`` and the fibres
            name the source (its path, or ``MeshData``).
        MeshError: If the file is not a readable MeshData file (names the path).
    """
    label = str(source) if isinstance(source, str | os.PathLike) else "MeshData"
    if show not in SHOW_OPTIONS:
        raise ParameterError(f"{label}: show={show!r} is not one of {list(SHOW_OPTIONS)}")
    _check_window_size(window_size)
    if isinstance(max_glyphs, bool) or not isinstance(max_glyphs, int | np.integer):
        raise ParameterError(f"max_glyphs={max_glyphs!r} must be an integer >= 1")
    if max_glyphs < 1:
        raise ParameterError(f"max_glyphs={max_glyphs!r} must be an integer >= 1")
    out_png = _png_path(out_png, "render_mesh")
    if isinstance(source, str | os.PathLike):
        data = MeshData.load(source)
    elif isinstance(source, MeshData):
        data = source
    else:
        raise ParameterError(
            f"render_mesh source must be a MeshData or the path of its .h5 file,"
            f" got {type(source).__name__}"
        )
    fibres = _fibres(data, label) if show == "fibres" else None

    frame = _principal_frame(data.points)
    centre = data.points.mean(axis=0)
    # The clip plane contains the long axis; its normal is the horizontal part
    # of the default viewing direction, so the half nearer the camera goes.
    clip_normal = (frame[0] + frame[1]) / np.sqrt(2.0)
    grid = _volume_grid(data)

    name = Path(source).name if isinstance(source, str | os.PathLike) else "mesh"
    if title is None:
        what = {"tags": "facet tags", "cells": "cell tags", "fibres": "fibres f0"}[show]
        title = f"{name}: {what} ({data.num_cells} {data.cell_type} cells)"

    plotter = _offscreen_plotter(window_size)
    try:
        if show == "tags":
            entries = _draw_facet_tags(plotter, data, grid, clip, centre, clip_normal)
            _add_legend(plotter, entries)
        elif show == "cells":
            entries = _draw_cell_tags(plotter, data, grid, clip, centre, clip_normal)
            _add_legend(plotter, entries)
        else:
            assert fibres is not None  # set above for show == "fibres"
            _draw_fibres(
                plotter, data, grid, fibres, frame[2], clip, centre, clip_normal, max_glyphs
            )
        # 12 pt suits the default 1024 x 768; smaller windows get smaller text.
        scale = min(window_size[0] / 1024, window_size[1] / 768)
        font_size = max(6, round(12 * scale))
        plotter.add_text(title, position="upper_edge", font_size=font_size, color=_TEXT)
        if camera is None:
            direction = frame.sum(axis=0) / np.sqrt(3.0)
            extent = float(np.ptp(data.points, axis=0).max()) or 1.0
            camera = [tuple(centre + 4.0 * extent * direction), tuple(centre), tuple(frame[2])]
        plotter.camera_position = camera
        plotter.reset_camera()
        # Leave room for the scalar bar of the fibres; the legend of the tags
        # sits in a corner, beside the mesh.
        plotter.camera.zoom(_ZOOM if show == "fibres" else 0.9)
        logger.debug("render_mesh: %s (%s) -> %s", label, show, out_png)
        return _write_png_atomically(plotter, out_png)
    finally:
        plotter.close()


def _check_window_size(window_size: Any) -> None:
    try:
        width, height = window_size
    except (TypeError, ValueError):
        raise ParameterError(
            f"window_size={window_size!r} must be (width, height) in pixels"
        ) from None
    for n in (width, height):
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ParameterError(
                f"window_size={window_size!r} must be two positive integers (width, height)"
            )


def _fibres(data: MeshData, label: str) -> np.ndarray:
    """The fibre bases of ``data``, shape (m, 3, 3), or a ParameterError."""
    fibres = data.fibres
    if fibres is None:
        raise ParameterError(
            f"{label}: show='fibres' needs a fibre field (MeshData.fibres, one (f0, s0, n0)"
            " basis per cell), but this mesh has none; add fibres before saving it, or use"
            " show='tags'"
        )
    fibres = np.asarray(fibres, dtype=float)
    if fibres.shape != (data.num_cells, 3, 3) or not np.isfinite(fibres).all():
        raise ParameterError(
            f"{label}: MeshData.fibres must be finite with shape ({data.num_cells}, 3, 3)"
            f" (one basis per cell), got shape {fibres.shape}"
        )
    return fibres


def _principal_frame(points: np.ndarray) -> np.ndarray:
    """Rows (u, v, w): a right-handed orthonormal frame with w the long axis.

    ``w`` is the principal axis of largest variance of ``points``, signed so
    that the thin tail of the distribution along it (skewness < 0) lies at
    the bottom, or, for a symmetric distribution, so that its largest
    component is positive.  ``u`` is the Cartesian axis least aligned with
    ``w``, made orthogonal to it, and ``v = w x u``.
    """
    x = points - points.mean(axis=0)
    _, vectors = np.linalg.eigh(x.T @ x)
    w = vectors[:, -1]
    along = x @ w
    spread = float(np.sqrt(np.mean(along**2)))
    skew = float(np.mean(along**3)) / spread**3 if spread > 0 else 0.0
    if abs(skew) > _SKEW_MIN:
        w = w if skew < 0 else -w
    elif w[np.argmax(np.abs(w))] < 0:
        w = -w
    u = np.eye(3)[np.argmin(np.abs(w))]
    u = u - (u @ w) * w
    u /= np.linalg.norm(u)
    return np.stack([u, np.cross(w, u), w])


def _volume_grid(data: MeshData) -> pyvista.UnstructuredGrid:
    import pyvista

    if data.cell_type == "tetrahedron":
        kind, cells = pyvista.CellType.TETRA, data.cells
    else:
        kind, cells = pyvista.CellType.HEXAHEDRON, data.cells[:, _HEX_VTK]
    grid = pyvista.UnstructuredGrid({kind: np.asarray(cells)}, np.array(data.points))
    grid.cell_data["cell tag"] = np.asarray(data.cell_values)
    return grid


def _facet_surface(data: MeshData, facets: np.ndarray) -> pyvista.PolyData:
    import pyvista

    facets = np.asarray(facets)
    if data.cell_type == "hexahedron":
        facets = facets[:, _QUAD_VTK]
    return pyvista.PolyData.from_regular_faces(np.array(data.points), facets)


def _rows_in(rows: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Whether each row of ``rows`` is in ``table``, as vertex sets; shape (len(rows),)."""
    if len(rows) == 0 or len(table) == 0:
        return np.zeros(len(rows), dtype=bool)
    both = np.sort(np.concatenate([rows, table]), axis=1)
    _, index = np.unique(both, axis=0, return_inverse=True)
    index = index.ravel()
    return np.isin(index[: len(rows)], index[len(rows) :])


def _tag_colours(names: Mapping[str, int]) -> list[tuple[str, int, tuple[int, int, int]]]:
    """(name, value, colour) of each tag, in ascending order of value."""
    ordered = sorted(names.items(), key=lambda item: item[1])
    return [
        (name, value, TAG_PALETTE[k % len(TAG_PALETTE)]) for k, (name, value) in enumerate(ordered)
    ]


def _rgb(colour: tuple[int, int, int]) -> tuple[float, float, float]:
    return (colour[0] / 255.0, colour[1] / 255.0, colour[2] / 255.0)


def _add_flat(plotter: Any, mesh: Any, colour: tuple[int, int, int]) -> None:
    """Draw ``mesh`` unlit in exactly ``colour``, with its cell edges."""
    if mesh.n_cells == 0:
        return
    plotter.add_mesh(
        mesh,
        color=_rgb(colour),
        lighting=False,
        show_edges=True,
        edge_color=_rgb(_EDGES),
        line_width=1,
    )


def _clipped(mesh: Any, clip: bool, centre: np.ndarray, normal: np.ndarray) -> Any:
    return mesh.clip(normal=normal, origin=centre, invert=True) if clip else mesh


def _draw_section(plotter: Any, grid: Any, centre: np.ndarray, normal: np.ndarray) -> list:
    section = grid.slice(normal=normal, origin=centre)
    if section.n_cells == 0:
        return []
    plotter.add_mesh(section, color=_rgb(SECTION_COLOUR), lighting=False)
    return [("cut section", SECTION_COLOUR)]


def _draw_facet_tags(
    plotter: Any,
    data: MeshData,
    grid: Any,
    clip: bool,
    centre: np.ndarray,
    normal: np.ndarray,
) -> list[tuple[str, tuple[int, int, int]]]:
    entries = []
    for name, value, colour in _tag_colours(data.facet_names):
        surface = _facet_surface(data, data.facets[data.facet_values == value])
        _add_flat(plotter, _clipped(surface, clip, centre, normal), colour)
        entries.append((f"{name} ({value})", colour))
    boundary = boundary_facets(data.cells, data.cell_type)
    untagged = boundary[~_rows_in(boundary, data.facets)]
    if len(untagged):
        surface = _clipped(_facet_surface(data, untagged), clip, centre, normal)
        _add_flat(plotter, surface, UNTAGGED_COLOUR)
        entries.append(("untagged boundary", UNTAGGED_COLOUR))
    if clip:
        entries += _draw_section(plotter, grid, centre, normal)
    return entries


def _draw_cell_tags(
    plotter: Any,
    data: MeshData,
    grid: Any,
    clip: bool,
    centre: np.ndarray,
    normal: np.ndarray,
) -> list[tuple[str, tuple[int, int, int]]]:
    surface = _clipped(grid, clip, centre, normal).extract_surface(algorithm=None)
    tags = np.asarray(surface.cell_data["cell tag"])
    entries = []
    for name, value, colour in _tag_colours(data.cell_names):
        _add_flat(plotter, surface.extract_cells(np.flatnonzero(tags == value)), colour)
        entries.append((f"{name} ({value})", colour))
    return entries


def _draw_fibres(
    plotter: Any,
    data: MeshData,
    grid: Any,
    fibres: np.ndarray,
    long_axis: np.ndarray,
    clip: bool,
    centre: np.ndarray,
    normal: np.ndarray,
    max_glyphs: int,
) -> None:
    import pyvista

    # No depth peeling: with the EGL context of the VTK wheel it drops
    # translucent surfaces altogether; unsorted blending is fine for one
    # faint surface.
    surface = _clipped(grid, clip, centre, normal).extract_surface(algorithm=None)
    plotter.add_mesh(surface, color=_rgb(_SURFACE), opacity=_SURFACE_OPACITY)

    centroids = data.points[data.cells].mean(axis=1)
    chosen = np.arange(data.num_cells)
    if clip:
        chosen = chosen[(centroids - centre) @ normal <= 0.0]
    # Glyphs about one glyph spacing long: (volume per glyph)^(1/3).
    volume = float(np.sum(data.cell_volumes()[chosen]))
    if len(chosen) > max_glyphs:
        rng = np.random.default_rng(_SEED)
        chosen = np.sort(rng.choice(chosen, size=max_glyphs, replace=False))
    half = 0.45 * (volume / max(1, len(chosen))) ** (1.0 / 3.0)
    f0 = fibres[chosen, 0, :]
    length = np.linalg.norm(f0, axis=1)
    f0 = f0 / np.where(length > 0, length, 1.0)[:, None]
    start = centroids[chosen] - half * f0
    end = centroids[chosen] + half * f0
    n = len(chosen)
    lines = np.column_stack([np.full(n, 2), np.arange(n), np.arange(n, 2 * n)]).ravel()
    glyphs = pyvista.PolyData(np.concatenate([start, end]), lines=lines)
    # |f0 . w| is the sine of the angle between f0 and the plane normal to w;
    # f0 and -f0 are the same fibre, hence the absolute value.
    angle = np.degrees(np.arcsin(np.clip(np.abs(f0 @ long_axis), 0.0, 1.0)))
    glyphs.cell_data[_FIBRE_LABEL] = angle
    plotter.add_mesh(
        glyphs,
        scalars=_FIBRE_LABEL,
        cmap=_FIBRE_CMAP,
        clim=(0.0, 90.0),
        line_width=3,
        lighting=False,  # the colour is the value, not the shading
        scalar_bar_args=_scalar_bar_args(_FIBRE_LABEL, "%.0f", n_labels=4),  # 0, 30, 60, 90
    )


def _add_legend(plotter: Any, entries: list[tuple[str, tuple[int, int, int]]]) -> None:
    """A legend box at the upper right: a square of each colour, black text.

    VTK draws an entry's text in the entry's colour; light colours such as
    the untagged grey would be unreadable on white.  So each entry gets no
    colour of its own (negative: VTK then uses the text property, black), and
    its square carries its colour as RGB cell scalars instead.
    """
    import pyvista

    if not entries:
        return
    width, height = 0.25, min(0.04 * len(entries) + 0.02, 0.5)  # fractions of the window
    legend = plotter.add_legend(
        labels=[[text, _rgb(colour)] for text, colour in entries],
        bcolor=_rgb(_LEGEND_BACKGROUND),
        size=(width, height),
        loc=None,
        face="rectangle",
    )
    # Placed here: PyVista's loc="upper right" offsets x by the height, not
    # the width, and pushes a short legend off the right edge.
    legend.SetPosition(1.0 - width - _LEGEND_MARGIN, _LEGEND_TOP - height)
    legend.SetPosition2(width, height)
    for i, (text, colour) in enumerate(entries):
        square = pyvista.wrap(legend.GetEntrySymbol(i)).copy()
        square.clear_data()
        square.cell_data["rgb"] = np.tile(np.array(colour, dtype=np.uint8), (square.n_cells, 1))
        legend.SetEntry(i, square, text, (-1.0, -1.0, -1.0))
    legend.GetEntryTextProperty().SetColor(*_rgb(_TEXT_RGB))

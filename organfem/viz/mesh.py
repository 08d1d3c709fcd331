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

Flat colours keep a tag readable against its legend; the cell edges drawn
over them give the shape.  The surface behind fibre glyphs is lit and
smoothly shaded (point normals, split at sharp edges such as the base rim).

Orientation (:mod:`organfem.viz.orientation`, :func:`mesh_view`): a mesh
with a ``base`` facet tag (or with an ``endo`` tag or fibres, and one flat
face, its base) is a ventricle, drawn base up and apex down, seen from
anterior and from a little above the base; any other mesh is drawn in the
coronal view of its patient (LPS) coordinates: from anterior, superior up,
the patient's right on the left, with S, I, R, L at the image's edges.  A
line under the title names the view; a triad in the lower left shows the
L, P, S axes.

Fibres are coloured by their helix angle [deg] (:func:`helix_angle_field`,
the convention of :func:`organfem.fibres.helix_angle`), on a diverging map
from -90 (blue: left-handed, epicardial) to 90 degrees (red: right-handed,
endocardial), dark at 0 so that circumferential fibres show on the faint
grey surface behind them.

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
from organfem.fibres import helix_angle, wall_normals
from organfem.meshing import MeshData, boundary_facets
from organfem.meshing.mesh import _HEX_VTK, _QUAD_VTK
from organfem.viz.orientation import (
    View,
    _annotate,
    coronal_view,
    find_base,
    lv_view,
    principal_axis,
    principal_view,
)
from organfem.viz.render import (
    _NAN_COLOUR,
    _ZOOM,
    HELIX_GLYPH_CMAP,
    HELIX_TITLE,
    offscreen_plotter,
    _output_path,
    _scalar_bar_args,
    _write_png_atomically,
)

if TYPE_CHECKING:
    import pyvista

__all__ = [
    "render_mesh",
    "mesh_view",
    "helix_angle_field",
    "TAG_PALETTE",
    "UNTAGGED_COLOUR",
    "SECTION_COLOUR",
    "SHOW_OPTIONS",
]

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
      ``max_glyphs`` cells (a fixed random subsample), coloured by the helix
      angle of ``f0`` [deg] (:func:`helix_angle_field`): about +60 at the
      endocardium and -60 at the epicardium for the default LDRB field,
      0 for a circumferential fibre, +/-90 for a longitudinal one.

    The default camera (:func:`mesh_view`): a ventricle (a ``base`` facet
    tag, or see there) base up and apex down, seen from anterior and
    :data:`~organfem.viz.orientation.LV_ELEVATION` degrees above its
    short-axis plane, so the base ring and the cavity are in view; any other
    mesh in the coronal view (from anterior, superior +z up, the patient's
    right -x on the left).  A line under the title says which.

    Args:
        source: A :class:`~organfem.meshing.MeshData`, or the path of a file
            written by :meth:`MeshData.save`.
        out_png: The image to write (``.png``, in an existing folder);
            written atomically (temporary file in the same folder, renamed).
        show: ``"tags"``, ``"cells"`` or ``"fibres"``.
        window_size: Image size in pixels, (width, height).
        camera: A PyVista camera position (``"iso"``, ``"xy"``, ... or
            ``[position, focal_point, view_up]``); default as above (and then
            the image names the view).
        title: Text at the top; default the source's name and what is shown.
        max_glyphs: Most fibre glyphs to draw, >= 1 (``show="fibres"``).
        clip: Cut the mesh by the plane through the centroid of its vertices
            that contains the vertical axis of the default view (the long
            axis of a ventricle, superior-inferior otherwise) and faces the
            default camera, and draw the half further from that camera, to
            show the wall and the inside.

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
    out_png = _output_path(out_png, "render_mesh")
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

    view = mesh_view(data)
    centre = data.points.mean(axis=0)
    # The clip plane contains the vertical axis; its normal is the horizontal
    # part of the default viewing direction, so the half nearer the camera goes.
    clip_normal = view.section_normal
    grid = _volume_grid(data)

    name = Path(source).name if isinstance(source, str | os.PathLike) else "mesh"
    if title is None:
        what = {"tags": "facet tags", "cells": "cell tags", "fibres": "fibre helix angle"}[show]
        title = f"{name}: {what} ({data.num_cells} {data.cell_type} cells)"

    plotter = offscreen_plotter(window_size)
    try:
        if show == "tags":
            entries = _draw_facet_tags(plotter, data, grid, clip, centre, clip_normal)
            _add_legend(plotter, entries)
        elif show == "cells":
            entries = _draw_cell_tags(plotter, data, grid, clip, centre, clip_normal)
            _add_legend(plotter, entries)
        else:
            assert fibres is not None  # set above for show == "fibres"
            angles = _helix_angles(data, fibres, view)
            _draw_fibres(plotter, data, grid, fibres, angles, clip, centre, clip_normal, max_glyphs)
        shown = view if camera is None else None  # a caller's camera: no view to name
        _annotate(plotter, title, shown, window_size, bar=show == "fibres")
        plotter.camera_position = view.camera_position(data.points) if camera is None else camera
        plotter.reset_camera()
        # Leave room for the scalar bar of the fibres; the legend of the tags
        # sits in a corner, beside the mesh.
        plotter.camera.zoom(_ZOOM if show == "fibres" else 0.9)
        logger.debug("render_mesh: %s (%s) -> %s", label, show, out_png)
        return _write_png_atomically(plotter, out_png)
    finally:
        plotter.close()


def mesh_view(mesh: MeshData) -> View:
    """The default view of ``render_mesh``: a ventricle's, or the coronal view.

    * A mesh with a ``base`` facet tag is a ventricle: base up, apex down,
      seen from anterior (:func:`organfem.viz.orientation.lv_view`, the long
      axis normal to the plane of the ``base`` vertices).
    * A mesh with an ``endo`` facet tag, or with fibres, whose boundary has
      one flat face (:func:`organfem.viz.orientation.find_base`: a
      ventricle cut at its base) is a ventricle with that face as its base.
    * A mesh with an ``endo`` tag but no flat face: its principal axis up
      (:func:`organfem.viz.orientation.principal_view`).
    * Any other mesh (vessels, whole-heart labels, a beam, also with
      fibres): :func:`organfem.viz.orientation.coronal_view`.
    """
    names = set(mesh.facet_names)
    if "base" in names and len(mesh.facets_of("base")):
        return lv_view(mesh.points, mesh.points[np.unique(mesh.facets_of("base"))])
    endo = "endo" in names and len(mesh.facets_of("endo")) > 0
    if endo or mesh.fibres is not None:
        base = find_base(_volume_grid(mesh))
        if base is not None:
            return lv_view(mesh.points, base)
        if endo:
            return principal_view(mesh.points)
    return coronal_view()


def helix_angle_field(mesh: MeshData, fibres: np.ndarray | None = None) -> np.ndarray:
    """The helix angle [deg] of each cell's fibre, as ``render_mesh`` colours it.

    :func:`organfem.fibres.helix_angle` at the cell centroids, about:

    * for a ventricle (see :func:`mesh_view`), its long axis through the
      centre of the base, with the transmural direction from the ``endo``
      and ``epi`` facets (:func:`organfem.fibres.wall_normals`) when both
      are tagged, else radial from the axis;
    * for any other mesh, the principal axis of its vertices through their
      centroid (:func:`organfem.viz.orientation.principal_axis`, e.g. a
      vessel's centre line), the transmural direction radial from it.

    Args:
        mesh: the mesh.
        fibres: bases per cell, shape (m, 3, 3); default ``mesh.fibres``.

    Returns:
        Angles in [-90, 90) degrees, shape (m,); NaN where undefined (see
        :func:`organfem.fibres.helix_angle`).

    Raises:
        ParameterError: if there are no fibres or they have the wrong shape.
    """
    if fibres is None:
        fibres = _fibres(mesh, "MeshData")
    return _helix_angles(mesh, np.asarray(fibres, dtype=float), mesh_view(mesh))


def _helix_angles(data: MeshData, fibres: np.ndarray, view: View) -> np.ndarray:
    centroids = data.points[data.cells].mean(axis=1)
    if view.base_centre is None:
        axis, centre, transmural = principal_axis(data.points), data.points.mean(axis=0), None
    else:
        axis, centre = view.vertical, view.base_centre
        tagged = {"endo", "epi"} <= set(data.facet_names)
        tagged = tagged and len(data.facets_of("endo")) and len(data.facets_of("epi"))
        transmural = wall_normals(data, centroids) if tagged else None
    return helix_angle(centroids, fibres, axis, centre, transmural=transmural)


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
    angles: np.ndarray,
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
    plotter.add_mesh(
        surface,
        color=_rgb(_SURFACE),
        opacity=_SURFACE_OPACITY,
        smooth_shading=True,
        split_sharp_edges=True,
    )

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
    glyphs.cell_data[HELIX_TITLE] = angles[chosen]
    plotter.add_mesh(
        glyphs,
        scalars=HELIX_TITLE,
        cmap=HELIX_GLYPH_CMAP,
        clim=(-90.0, 90.0),
        nan_color=_NAN_COLOUR,
        line_width=3,
        lighting=False,  # the colour is the value, not the shading
        scalar_bar_args=_scalar_bar_args(HELIX_TITLE, "%.0f", n_labels=7),  # -90, -60, ..., 90
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

"""Renders of TAVI what-ifs: contact pressure seen from the LVOT, and the trade-offs.

:func:`contact_maps` draws, for each deployment's results file, the
deformed root seen from the left ventricle up its axis (the view of the
frame's inflow an operator knows from the ventricular side), coloured by the
contact pressure [kPa] on one shared scale, so that scenarios compare at a
glance.  :func:`tradeoffs` plots paravalvular leak against the contact
pressure index (the trade-off of sizing and depth) and the frame's inflow
eccentricity per scenario.

Not collective: call on one rank.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from organfem.errors import ParameterError
from organfem.io import read_results, write_atomically
from organfem.viz.curves import _DPI
from organfem.viz.render import _output_path, _scalar_bar_args, _write_png_atomically, offscreen_plotter

__all__ = ["contact_maps", "tradeoffs"]

_PANEL = 360  # pixels per panel


def contact_maps(
    results: Mapping[str, str | Path],
    out_png: str | Path,
    *,
    centre: Sequence[float],
    axis: Sequence[float],
    reference: Sequence[float],
) -> Path:
    """One panel per results file: contact pressure on the lumen, seen from the LVOT.

    Args:
        results: panel title -> a deployment's ``.vtkhdf`` (its last step).
        out_png: the image, written atomically.
        centre, axis, reference: the annulus centre [mm], the root axis
            (toward the aorta) and the in-plane reference direction (the
            septal band), which points up in every panel.

    Raises:
        ParameterError: no results, or a file without ``contact_pressure``.
    """
    if not results:
        raise ParameterError("contact_maps: no results to draw")
    out_png = _output_path(out_png, "contact maps")
    c = np.asarray(centre, dtype=float)
    a = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    up = np.asarray(reference, dtype=float)
    up = up - (up @ a) * a
    up /= np.linalg.norm(up)
    surfaces = {}
    bottom = np.inf
    for title, path in results.items():
        grid = read_results(path).mesh(-1)
        if "contact_pressure" not in grid.point_data:
            raise ParameterError(f"contact_maps: results of {title!r} have no contact_pressure field")
        bottom = min(bottom, float(((np.asarray(grid.points) - c) @ a).min()))
        if "displacement" in grid.point_data:
            grid = grid.warp_by_vector("displacement")
        surface = grid.extract_surface(algorithm="dataset_surface").compute_normals(
            cell_normals=True, point_normals=False, auto_orient_normals=False)
        # Keep the lumen: faces whose outward normal points towards the axis.
        y = np.asarray(surface.cell_centers().points) - c
        radial = y - np.outer(y @ a, a)
        inward = np.einsum("ij,ij->i", np.asarray(surface.cell_data["Normals"]), radial) < 0
        surfaces[title] = surface.extract_cells(np.flatnonzero(inward)).extract_surface(algorithm="dataset_surface")
    top = max(float(np.max(g.point_data["contact_pressure"])) for g in surfaces.values())
    top = top if top > 0 else 1.0
    n = len(surfaces)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    plotter = offscreen_plotter((cols * _PANEL, rows * _PANEL + 60), shape=(rows, cols))
    for k, (title, surface) in enumerate(surfaces.items()):
        plotter.subplot(k // cols, k % cols)
        plotter.add_text(title, font_size=9, color="black")
        plotter.add_mesh(
            surface, scalars="contact_pressure", cmap="YlOrRd", clim=(0.0, top), smooth_shading=True,
            ambient=0.35,
            show_scalar_bar=(k == 0),
            scalar_bar_args=_scalar_bar_args("contact pressure [kPa]", "%.0f"),
        )
        # From the LVOT's cut, looking up the axis towards the aorta; the
        # septal band is at 12 o'clock.
        plotter.camera.position = tuple(c + (bottom - 25.0) * a)
        plotter.camera.focal_point = tuple(c + 10.0 * a)
        plotter.camera.up = tuple(up)
        plotter.camera.view_angle = 50.0
    try:
        return _write_png_atomically(plotter, out_png)
    finally:
        plotter.close()


def tradeoffs(rows: Sequence[Mapping[str, Any]], out_png: str | Path) -> Path:
    """Leak against CPI, and inflow eccentricity, one mark per deployed scenario.

    Args:
        rows: rows of the comparison table (:meth:`organfem.tavi.Outcome.row`);
            failed scenarios are skipped.
        out_png: the image, written atomically.
    """
    from matplotlib.figure import Figure

    done = [r for r in rows if r.get("status") == "ok"]
    if not done:
        raise ParameterError("tradeoffs: no deployed scenario to plot")
    out_png = _output_path(out_png, "trade-off plot")
    figure = Figure(figsize=(10, 4.2), dpi=_DPI, layout="constrained")
    left, right = figure.subplots(1, 2)
    for r in done:
        label = f"{r['device']} @ {r['depth_mm']:g} mm"
        left.plot(r["cpi_percent"], r["leak_ml_per_beat"], "o", markersize=7)
        left.annotate(label, (r["cpi_percent"], r["leak_ml_per_beat"]), fontsize=7,
                      xytext=(4, 3), textcoords="offset points")
    left.set_xlabel("contact pressure index on the septal band [%]")
    left.set_ylabel("paravalvular leak [mL/beat] (orifice estimate)")
    left.set_title("sealing against conduction risk")
    left.grid(True, alpha=0.3)
    labels = [f"{r['device']}\n{r['depth_mm']:g} mm" for r in done]
    ecc = [r["eccentricity"] if r["eccentricity"] is not None else np.nan for r in done]
    right.bar(range(len(done)), ecc, color="tab:blue")
    right.set_xticks(range(len(done)), labels, fontsize=7)
    right.set_ylabel("inflow eccentricity 1 - Dmin/Dmax")
    right.set_title("frame shape at the inflow")
    right.grid(True, axis="y", alpha=0.3)
    write_atomically(out_png, lambda temporary: figure.savefig(temporary, format="png"), "trade-off plot")
    return out_png

"""Pressure-volume curves of several scenarios on one plot (what-ifs, fits)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from organfem.errors import ParameterError
from organfem.io import write_atomically
from organfem.viz.pv_loop import _DPI, _FIGSIZE
from organfem.viz.render import _output_path

__all__ = ["pv_curves"]


def pv_curves(
    curves: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]],
    out_png: str | Path,
    *,
    title: str = "End-diastolic pressure-volume curves",
    reference: tuple[npt.ArrayLike, npt.ArrayLike, str] | None = None,
    measured: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> Path:
    """Plot pressure [mmHg] against volume [mL] for each named curve to a PNG.

    Args:
        curves: name -> (volumes [mL], pressures [mmHg]), each of shape (k,);
            every curve starts from the unloaded point it is given.
        out_png: the image (``.png``) in an existing folder; written atomically.
        title: text above the plot.
        reference: an optional dashed curve ``(volumes, pressures, label)``
            (e.g. the Klotz EDPVR).
        measured: optional measured points ``(volumes, pressures)``.

    Raises:
        ParameterError: no curves, mismatched arrays, or a bad path.
    """
    from matplotlib.figure import Figure

    if not curves:
        raise ParameterError("pv_curves: no curves to plot")
    out_png = _output_path(out_png, "PV curves")
    figure = Figure(figsize=_FIGSIZE, dpi=_DPI, layout="constrained")
    axes = figure.add_subplot()
    for name, (volume, pressure) in curves.items():
        volume = np.asarray(volume, dtype=np.float64)
        pressure = np.asarray(pressure, dtype=np.float64)
        if volume.shape != pressure.shape or volume.ndim != 1:
            raise ParameterError(
                f"pv_curves: curve {name!r} has {volume.shape} volumes and {pressure.shape} pressures"
            )
        axes.plot(volume, pressure, "o-", markersize=3, linewidth=1.8, label=name)
    if reference is not None:
        volume, pressure, label = reference
        axes.plot(volume, pressure, "k--", linewidth=1.2, label=label)
    if measured is not None:
        axes.plot(*measured, "kx", markersize=8, mew=2, label="measured")
    axes.set_xlabel("volume [mL]")
    axes.set_ylabel("pressure [mmHg]")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8, loc="upper left")
    write_atomically(out_png, lambda temporary: figure.savefig(temporary, format="png"), "PV curves")
    return out_png

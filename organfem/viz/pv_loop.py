"""The pressure-volume loop of one heartbeat: a plot and its figures.

A PV loop is volume [mL] on the x axis against pressure [mmHg] on the y
axis, traced once per beat (anticlockwise for a left ventricle: filling
along the bottom, isovolumic contraction up the right side, ejection along
the top, isovolumic relaxation down the left side).  :func:`pv_loop` draws
it with arrows for the direction, marks the end-diastolic and end-systolic
points, and prints the beat's figures (:class:`BeatMetrics`) in a box.

The figures follow :func:`organfem.circulation.chamber_metrics` (EDV the
largest and ESV the smallest volume over the samples, SV = EDV - ESV,
EF = SV / EDV, peak pressure the largest pressure, cardiac output
SV / period) and add the end-diastolic pressure, the pressure at the
largest volume (the lowest there: a loop's isovolumic contraction keeps the
largest volume while the pressure rises).  Here they are plain numpy figures of the arrays, in the
clinical units of the plot (mL, mmHg, L/min); ``chamber_metrics`` works on
a closed-loop trajectory in organfem's units (mm^3, kPa) and under JAX.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from organfem.errors import OutputError, ParameterError
from organfem.io import write_atomically
from organfem.viz.render import _output_path

__all__ = ["BeatMetrics", "beat_metrics", "pv_loop"]

_ARROWS = 4  # direction arrows along the loop
_FIGSIZE = (6.4, 4.8)  # inches
_DPI = 150
_AT_EDV = 1e-4  # volumes this fraction of the stroke volume below EDV count as EDV


@dataclasses.dataclass(frozen=True)
class BeatMetrics:
    """Figures of one beat of a chamber, in clinical units.

    Attributes:
        edv_ml: end-diastolic volume, the largest volume [mL].
        esv_ml: end-systolic volume, the smallest volume [mL].
        sv_ml: stroke volume ``edv_ml - esv_ml`` [mL].
        ef: ejection fraction ``sv_ml / edv_ml`` (dimensionless, 0 to 1).
        peak_pressure_mmhg: largest pressure [mmHg].
        edp_mmhg: end-diastolic pressure [mmHg]: the lowest pressure at the
            largest volume (within 1e-4 of the stroke volume), i.e. at the
            onset of isovolumic contraction.
        cardiac_output_l_per_min: ``sv_ml`` per beat duration [L/min], or
            ``None`` when the samples' times are not known.
    """

    edv_ml: float
    esv_ml: float
    sv_ml: float
    ef: float
    peak_pressure_mmhg: float
    edp_mmhg: float
    cardiac_output_l_per_min: float | None = None


def _as_series(values: npt.ArrayLike, name: str, n: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.shape[0] < 3:
        raise ParameterError(
            f"{name} must be a 1-D array of at least 3 samples, got shape {array.shape}"
        )
    if n is not None and array.shape[0] != n:
        raise ParameterError(f"{name} has {array.shape[0]} samples, expected {n} (one per volume)")
    if not np.all(np.isfinite(array)):
        raise ParameterError(f"{name} has non-finite values")
    return array


def beat_metrics(
    volume_ml: npt.ArrayLike,
    pressure_mmhg: npt.ArrayLike,
    *,
    time: npt.ArrayLike | None = None,
) -> BeatMetrics:
    """The figures of one beat from its volume and pressure samples.

    Args:
        volume_ml: chamber volume of each sample [mL], shape (n,), n >= 3.
        pressure_mmhg: chamber pressure of each sample [mmHg], shape (n,).
        time: time of each sample [s], shape (n,), increasing; the beat
            lasts ``time[-1] - time[0]`` (pass both ends of the beat, as
            :func:`organfem.circulation.beat_window` does).  Needed only
            for the cardiac output.

    Returns:
        The :class:`BeatMetrics`.

    Raises:
        ParameterError: for arrays of other shapes, non-finite values, a
            largest volume that is not positive, or times that do not increase.
    """
    volume = _as_series(volume_ml, "volume_ml")
    pressure = _as_series(pressure_mmhg, "pressure_mmhg", volume.shape[0])
    edv, esv = float(volume.max()), float(volume.min())
    if not edv > 0:
        raise ParameterError(f"the largest volume {edv!r} mL must be positive")
    output = None
    if time is not None:
        t = _as_series(time, "time", volume.shape[0])
        if not np.all(np.diff(t) > 0):
            raise ParameterError("time must increase from sample to sample")
        output = (edv - esv) / float(t[-1] - t[0]) * 60.0 / 1000.0  # mL/s -> L/min
    return BeatMetrics(
        edv_ml=edv,
        esv_ml=esv,
        sv_ml=edv - esv,
        ef=(edv - esv) / edv,
        peak_pressure_mmhg=float(pressure.max()),
        edp_mmhg=float(pressure[_end_diastole(volume, pressure)]),
        cardiac_output_l_per_min=output,
    )


def _end_diastole(volume: np.ndarray, pressure: np.ndarray) -> int:
    """Index of the end-diastolic sample: the lowest pressure at the largest volume.

    During isovolumic contraction the volume stays at its largest (to round-off
    or a valve's leak) while the pressure rises, so the plain ``argmax`` of the
    volume may land anywhere on that side of the loop; end diastole is its
    foot, the onset of contraction.  Samples within ``_AT_EDV`` of the stroke
    volume below the largest volume count as at the largest volume.
    """
    edv = volume.max()
    at_edv = np.flatnonzero(volume >= edv - _AT_EDV * (edv - volume.min()))
    return int(at_edv[np.argmin(pressure[at_edv])])


def _end_systole(volume: np.ndarray, pressure: np.ndarray) -> int:
    """Index of the end-systolic sample: the highest pressure at the smallest volume
    (the top of isovolumic relaxation, the loop's upper left corner)."""
    esv = volume.min()
    at_esv = np.flatnonzero(volume <= esv + _AT_EDV * (volume.max() - esv))
    return int(at_esv[np.argmax(pressure[at_esv])])


def _rows(figures: BeatMetrics, extra: Mapping[str, float | str] | None) -> list[str]:
    rows = [
        f"EDV  {figures.edv_ml:.1f} mL",
        f"ESV  {figures.esv_ml:.1f} mL",
        f"SV   {figures.sv_ml:.1f} mL",
        f"EF   {100 * figures.ef:.1f} %",
        f"peak pressure  {figures.peak_pressure_mmhg:.1f} mmHg",
        f"EDP  {figures.edp_mmhg:.1f} mmHg",
    ]
    if figures.cardiac_output_l_per_min is not None:
        rows.append(f"CO   {figures.cardiac_output_l_per_min:.2f} L/min")
    for name, value in (extra or {}).items():
        shown = f"{value:.4g}" if isinstance(value, int | float) else str(value)
        rows.append(f"{name}  {shown}")
    return rows


def pv_loop(
    volume_ml: npt.ArrayLike,
    pressure_mmhg: npt.ArrayLike,
    out_png: str | Path,
    *,
    time: npt.ArrayLike | None = None,
    title: str = "Left ventricular pressure-volume loop",
    metrics: Mapping[str, float | str] | None = None,
) -> tuple[Path, BeatMetrics]:
    """Plot the PV loop of one beat to a PNG and return its figures.

    Volume [mL] on x, pressure [mmHg] on y; the samples are joined in order
    (closed back to the first), arrows show the direction, the
    end-diastolic (largest volume) and end-systolic (smallest volume)
    points are marked and labelled with their volumes, and a box lists EDV,
    ESV, SV, EF, peak pressure and EDP (and cardiac output, with ``time``).

    Args:
        volume_ml: chamber volume of each sample of one beat [mL], shape (n,).
        pressure_mmhg: chamber pressure of each sample [mmHg], shape (n,).
        out_png: the image to write (``.png``), in an existing folder;
            written atomically (a temporary file in the same folder, then
            renamed), with the mode the umask gives.
        time: time of each sample [s], shape (n,), for the cardiac output
            (see :func:`beat_metrics`).
        title: text above the plot.
        metrics: further figures for the box, by label with their unit,
            e.g. ``{"aortic systolic [mmHg]": 118.0}``.

    Returns:
        The path of the written PNG and the beat's :class:`BeatMetrics`.

    Raises:
        ParameterError: for bad arrays (see :func:`beat_metrics`) or a path
            that does not end in ``.png`` or whose folder does not exist.
        OutputError: if the file cannot be written.
    """
    from matplotlib.figure import Figure  # drawn on an Agg canvas; pyplot is not used

    out_png = _output_path(out_png, "PV loop")
    figures = beat_metrics(volume_ml, pressure_mmhg, time=time)
    volume = np.asarray(volume_ml, dtype=np.float64)
    pressure = np.asarray(pressure_mmhg, dtype=np.float64)

    # A Figure without pyplot: no global state, no display, Agg canvas.
    figure = Figure(figsize=_FIGSIZE, dpi=_DPI, layout="constrained")
    axes = figure.add_subplot()
    axes.plot(np.append(volume, volume[0]), np.append(pressure, pressure[0]),
              color="tab:red", linewidth=2)  # fmt: skip
    n = volume.shape[0]
    for k in range(_ARROWS):
        i = (k * n) // _ARROWS + n // (2 * _ARROWS)
        j = (i + max(1, n // 50)) % n
        axes.annotate("", xy=(volume[j], pressure[j]), xytext=(volume[i], pressure[i]),
                      arrowprops={"arrowstyle": "-|>", "color": "tab:red", "lw": 2,
                                  "mutation_scale": 18})  # fmt: skip
    ed, es = _end_diastole(volume, pressure), _end_systole(volume, pressure)
    axes.plot(volume[ed], pressure[ed], "o", color="tab:blue", markersize=8, zorder=3)
    axes.plot(volume[es], pressure[es], "s", color="tab:green", markersize=8, zorder=3)
    axes.annotate(f"EDV {figures.edv_ml:.0f} mL", (volume[ed], pressure[ed]),
                  xytext=(-8, -16), textcoords="offset points", ha="right", color="tab:blue")  # fmt: skip
    axes.annotate(f"ESV {figures.esv_ml:.0f} mL", (volume[es], pressure[es]),
                  xytext=(8, -4), textcoords="offset points", va="top", color="tab:green")  # fmt: skip
    axes.text(0.02, 0.97, "\n".join(_rows(figures, metrics)), transform=axes.transAxes,
              va="top", ha="left", family="monospace", fontsize=8,
              bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85})  # fmt: skip
    axes.set_xlabel("volume [mL]")
    axes.set_ylabel("pressure [mmHg]")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    span = np.ptp(volume) or 1.0
    axes.set_xlim(volume.min() - 0.95 * span, volume.max() + 0.15 * span)  # room for the box

    write_atomically(out_png, lambda temporary: figure.savefig(temporary, format="png"),
                     "PV loop")
    return out_png, figures

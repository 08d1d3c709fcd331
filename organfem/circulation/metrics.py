"""Per-beat haemodynamic figures from a closed-loop :class:`~.closed_loop.Trajectory`.

A beat is a window of one heartbeat period of saved samples, counted from
the start of the run (beat 0 starts at the first sample); ``beat=-1`` is
the last whole beat.  The figures are JAX expressions of the trajectory's
arrays, so they can be differentiated (``jax.grad`` of a mean arterial
pressure with respect to a parameter); the window itself is fixed by the
(concrete) period and the trajectory's save interval.

Units: volumes mm^3, pressures kPa, flows mm^3/s (convert at the boundary
with :mod:`organfem.units`: 1 mL = 1000 mm^3, 1 mmHg = 0.1333 kPa).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..errors import ParameterError
from .closed_loop import CHAMBERS, Trajectory

__all__ = ["beat_window", "chamber_metrics", "arterial_pressures", "periodicity"]


def _samples_per_beat(trajectory: Trajectory, period: float) -> int:
    try:
        period = float(period)
    except TypeError:  # a tracer: the window must be known when tracing
        raise ParameterError("the period must be a number, not a traced value") from None
    n = round(period / trajectory.interval)
    if n < 1 or abs(n * trajectory.interval - period) > 1e-9 * period:
        raise ParameterError(
            f"the period {period!r} s is not a whole number of save intervals "
            f"{trajectory.interval!r} s"
        )
    return n


def beat_window(trajectory: Trajectory, period: float, beat: int = -1) -> slice:
    """Indices of the samples of one beat, both ends included (``n + 1`` samples).

    Args:
        trajectory: the run.
        period: heartbeat period [s] (a number), a whole number of save intervals.
        beat: which whole beat, from 0; negative counts from the last.

    Raises:
        ParameterError: the period does not fit the save interval, or the
            run has no such beat.
    """
    n = _samples_per_beat(trajectory, period)
    beats = (trajectory.t.shape[0] - 1) // n
    index = beat + beats if beat < 0 else beat
    if not 0 <= index < beats:
        raise ParameterError(f"beat {beat} is not in the run, which has {beats} whole beats")
    return slice(index * n, index * n + n + 1)


def chamber_metrics(trajectory: Trajectory, period: float, chamber: str = "LV",
                    beat: int = -1) -> dict[str, jax.Array]:
    """Volumes, ejection and pressure of a chamber over one beat.

    Returns:
        ``EDV``, ``ESV`` (largest and smallest volume, [mm^3]), ``SV``
        (their difference, [mm^3]), ``EF`` (``SV / EDV``, dimensionless),
        ``peak_pressure`` [kPa] and ``cardiac_output`` (``SV / period``,
        [mm^3/s]).  The extremes are over the saved samples.
    """
    if chamber not in CHAMBERS:
        raise ParameterError(f"unknown chamber {chamber!r}; the chambers are {CHAMBERS}")
    window = beat_window(trajectory, period, beat)
    V = trajectory["V_" + chamber][window]
    p = trajectory["p_" + chamber][window]
    edv, esv = jnp.max(V), jnp.min(V)
    return {
        "EDV": edv,
        "ESV": esv,
        "SV": edv - esv,
        "EF": (edv - esv) / edv,
        "peak_pressure": jnp.max(p),
        "cardiac_output": (edv - esv) / float(period),
    }


def arterial_pressures(trajectory: Trajectory, period: float, side: str = "SYS",
                       beat: int = -1) -> dict[str, jax.Array]:
    """Systolic, diastolic and mean pressure [kPa] of the systemic or pulmonary arteries.

    The mean is the time average over the beat (the trapezoidal rule, which
    for a periodic signal is the mean of the samples without the repeated
    endpoint).
    """
    if side not in ("SYS", "PUL"):
        raise ParameterError(f"side={side!r} must be 'SYS' or 'PUL'")
    p = trajectory["p_AR_" + side][beat_window(trajectory, period, beat)]
    return {"systolic": jnp.max(p), "diastolic": jnp.min(p), "mean": jnp.mean(p[:-1])}


def periodicity(trajectory: Trajectory, period: float) -> jax.Array:
    """Change of the state over the last beat, relative to its size (dimensionless).

    ``max_i |y_i(t_end) - y_i(t_end - T)| / max_{last beat} |y_i|``: zero
    on a periodic limit cycle.
    """
    window = beat_window(trajectory, period, -1)
    y = trajectory.y[window]
    return jnp.max(jnp.abs(y[-1] - y[0]) / jnp.max(jnp.abs(y), axis=0))

"""Magnitudes as functions of time: constants, ramps, tables and callables.

Every load, cavity pressure or volume, time-dependent law parameter and
moving obstacle carries its own magnitude ``f(t)`` (``t`` in s).  A plain
number is a constant; a :class:`Table` interpolates measured values (a
pressure trace, a volume curve), optionally periodic; any callable
``t -> float`` is accepted as it is.

Quasi-static paths (:func:`organfem.mechanics.ramp`) run in pseudo-time
``t`` from 0 to 1.  There, as in the static steps of commercial codes, a
magnitude given as a plain number ``c`` is ramped linearly, ``c t``; a
magnitude given as a function of time is evaluated at the pseudo-time.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import ParameterError

__all__ = ["TimeFunction", "Table", "Ramp", "as_time_function", "Magnitude"]

#: A magnitude as given by the user: a number, a :class:`Table`, a
#: :class:`Ramp` or any callable of time [s].
Magnitude = float | int | Callable[[float], float]


class TimeFunction:
    """A scalar function of time; subclasses implement :meth:`__call__`."""

    def __call__(self, t: float) -> float:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class _Constant(TimeFunction):
    value: float

    def __call__(self, t: float) -> float:
        return self.value


@dataclasses.dataclass(frozen=True)
class _Linear(TimeFunction):
    """``value * t``: a constant ramped over a quasi-static path."""

    value: float

    def __call__(self, t: float) -> float:
        return self.value * t


@dataclasses.dataclass(frozen=True)
class _Callable(TimeFunction):
    fn: Callable[[float], float]
    what: str

    def __call__(self, t: float) -> float:
        value = float(self.fn(float(t)))
        if not math.isfinite(value):
            raise ParameterError(f"{self.what}: the function of time gave {value} at t = {t:g} s")
        return value


@dataclasses.dataclass(frozen=True)
class Ramp(TimeFunction):
    """Linear ramp from 0 at ``start`` to ``value`` at ``end`` [s], constant after.

    Args:
        value: the final magnitude (in the unit of the quantity it drives).
        start, end: times [s] with ``end > start``.
    """

    value: float
    start: float = 0.0
    end: float = 1.0

    def __post_init__(self) -> None:
        if not self.end > self.start:
            raise ParameterError(
                f"Ramp: end={self.end!r} s must be after start={self.start!r} s"
            )

    def __call__(self, t: float) -> float:
        s = (t - self.start) / (self.end - self.start)
        return self.value * min(max(s, 0.0), 1.0)


@dataclasses.dataclass(frozen=True, eq=False)
class Table(TimeFunction):
    """Piecewise-linear interpolation of values given at increasing times.

    Outside ``[times[0], times[-1]]`` the end values are held, unless
    ``period`` is given: then the table repeats with that period [s] (a
    cardiac cycle), and ``times`` must span at most one period.

    Args:
        times: strictly increasing times [s], at least two.
        values: one value per time, in the unit of the driven quantity
            (kPa for pressures, mm^3 for volumes, ...).
        period: repeat period [s], or None.
    """

    times: np.ndarray
    values: np.ndarray
    period: float | None = None

    def __post_init__(self) -> None:
        t = np.asarray(self.times, dtype=np.float64).ravel()
        v = np.asarray(self.values, dtype=np.float64).ravel()
        if t.size < 2 or t.size != v.size:
            raise ParameterError(
                f"Table: need at least two times and one value per time; got {t.size} times "
                f"and {v.size} values"
            )
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(v))):
            raise ParameterError("Table: times and values must be finite numbers")
        if np.any(np.diff(t) <= 0):
            bad = int(np.argmax(np.diff(t) <= 0))
            raise ParameterError(
                f"Table: times must increase strictly; row {bad + 1} ({t[bad + 1]:g} s) does not "
                f"come after row {bad} ({t[bad]:g} s)"
            )
        if self.period is not None and not (t[-1] - t[0] <= self.period + 1e-12 and self.period > 0):
            raise ParameterError(
                f"Table: period={self.period!r} s must be > 0 and at least the table's span "
                f"{t[-1] - t[0]:g} s"
            )
        t.setflags(write=False)
        v.setflags(write=False)
        object.__setattr__(self, "times", t)
        object.__setattr__(self, "values", v)

    def __call__(self, t: float) -> float:
        if self.period is not None:
            t0 = self.times[0]
            t = t0 + (t - t0) % self.period
            # Close the cycle: interpolate from the last row back to the first.
            times = np.append(self.times, t0 + self.period)
            values = np.append(self.values, self.values[0])
            return float(np.interp(t, times, values))
        return float(np.interp(t, self.times, self.values))

    @classmethod
    def read(
        cls,
        path: str | os.PathLike,
        *,
        time: str = "t",
        value: str,
        time_unit: str = "s",
        convert: Callable[[str | float], float] | None = None,
        unit: str | None = None,
        period: float | None = None,
    ) -> Table:
        """Read a table from a CSV file with a header row.

        Args:
            path: the CSV file (comma-separated, header names in the first row).
            time: name of the time column.
            value: name of the value column.
            time_unit: ``"s"`` or ``"ms"``.
            convert: converts each value to organfem's units, e.g.
                :func:`organfem.units.pressure` with ``unit="mmHg"``.
            unit: the unit of the value column, appended to each value before
                ``convert`` (e.g. ``"mmHg"``, ``"mL"``).
            period: repeat period [s] (see :class:`Table`).

        Raises:
            ParameterError: naming the file (its base name), the column and the
                row of a missing column or a bad number.
        """
        path = Path(path)
        name = path.name
        scale = {"s": 1.0, "ms": 1e-3}.get(time_unit)
        if scale is None:
            raise ParameterError(f"Table.read: time_unit={time_unit!r} must be 's' or 'ms'")
        try:
            with path.open(newline="") as handle:
                rows = list(csv.reader(handle))
        except OSError as exc:
            raise ParameterError(f"Table.read: cannot read {name}: {exc.strerror}") from None
        if not rows:
            raise ParameterError(f"Table.read: {name} is empty")
        header = [h.strip() for h in rows[0]]
        for column in (time, value):
            if column not in header:
                raise ParameterError(
                    f"Table.read: {name} has no column {column!r}; its columns are {header}"
                )
        it, iv = header.index(time), header.index(value)
        times, values = [], []
        for k, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            try:
                t = float(row[it]) * scale
                raw = row[iv].strip()
                v = convert(f"{raw} {unit}" if unit else raw) if convert else float(raw)
            except (ValueError, IndexError, ParameterError) as exc:
                raise ParameterError(
                    f"Table.read: {name} row {k}: expected numbers in columns {time!r} and "
                    f"{value!r} ({exc})"
                ) from None
            times.append(t)
            values.append(v)
        return cls(np.array(times), np.array(values), period)


def as_time_function(value: Magnitude | TimeFunction, what: str, *, ramped: bool = False) -> TimeFunction:
    """The magnitude ``value`` as a :class:`TimeFunction`.

    Args:
        value: a number, a TimeFunction or a callable of time [s].
        what: what it drives, for error messages (e.g. ``"Pressure('endo')"``).
        ramped: treat a plain number ``c`` as ``c t`` (quasi-static paths).
    """
    if isinstance(value, bool):
        raise ParameterError(f"{what}: magnitude {value!r} must be a number or a function of time")
    if isinstance(value, int | float | np.floating | np.integer):
        if not math.isfinite(float(value)):
            raise ParameterError(f"{what}: magnitude {value!r} must be finite")
        return _Linear(float(value)) if ramped else _Constant(float(value))
    if isinstance(value, TimeFunction):
        return value
    if callable(value):
        return _Callable(value, what)
    raise ParameterError(
        f"{what}: magnitude {value!r} must be a number, a Table, a Ramp or a callable of time [s]"
    )


def check_vector(value: Sequence[float], what: str) -> tuple[float, float, float]:
    """A 3-vector of finite floats, or ParameterError naming ``what``."""
    try:
        out = tuple(float(x) for x in value)
    except TypeError:
        raise ParameterError(f"{what}: expected 3 numbers, got {value!r}") from None
    if len(out) != 3 or not all(math.isfinite(x) for x in out):
        raise ParameterError(f"{what}: expected 3 finite numbers, got {value!r}")
    return out  # type: ignore[return-value]

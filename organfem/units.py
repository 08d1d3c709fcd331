"""Units at the boundary: organfem computes in mm, kPa, s (and mN, mm^3).

Inputs may carry a unit as a string (``"15 mmHg"``, ``"2 kPa"``); convert them
once, where they enter, with :func:`pressure` or :func:`length`.
"""

from __future__ import annotations

import re

from .errors import ParameterError

__all__ = ["MMHG_IN_KPA", "pressure", "length", "volume", "time"]

#: 1 mmHg = 133.322387415 Pa (conventional millimetre of mercury).
MMHG_IN_KPA = 0.133322387415

_PRESSURE = {"kpa": 1.0, "pa": 1e-3, "mmhg": MMHG_IN_KPA, "mpa": 1e3, "cmh2o": 0.0980665}
_LENGTH = {"mm": 1.0, "cm": 10.0, "m": 1e3, "um": 1e-3}
_VOLUME = {"mm3": 1.0, "ml": 1e3, "cm3": 1e3, "l": 1e6, "ul": 1.0}
_TIME = {"s": 1.0, "ms": 1e-3}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z0-9]*)\s*$")


def _convert(value: float | str, table: dict[str, float], default: str, what: str) -> float:
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value))
    unit = match.group(2).lower() if match else None
    if match is None or (unit and unit not in table):
        raise ParameterError(
            f"{what} {value!r}: expected a number with an optional unit among {sorted(table)}"
        )
    return float(match.group(1)) * table[unit or default]


def pressure(value: float | str) -> float:
    """Pressure in kPa from a number (kPa) or a string such as ``"15 mmHg"``."""
    return _convert(value, _PRESSURE, "kpa", "pressure")


def length(value: float | str) -> float:
    """Length in mm from a number (mm) or a string such as ``"1.5 cm"``."""
    return _convert(value, _LENGTH, "mm", "length")


def volume(value: float | str) -> float:
    """Volume in mm^3 from a number (mm^3) or a string such as ``"120 mL"``."""
    return _convert(value, _VOLUME, "mm3", "volume")


def time(value: float | str) -> float:
    """Time in s from a number (s) or a string such as ``"800 ms"``."""
    return _convert(value, _TIME, "s", "time")

"""Units at the boundary: organfem computes in mm, kPa, s (and mN, mm^3).

Inputs may carry a unit as a string (``"15 mmHg"``, ``"2 kPa"``); convert them
once, where they enter, with :func:`pressure`, :func:`length`, :func:`volume`
or :func:`time`.  A plain number is taken to be in organfem's unit already.

Unit symbols are case-sensitive, as SI demands: ``mPa`` is the millipascal
and ``MPa`` the megapascal, ``mm`` the millimetre and ``Mm`` the megametre
(not a length organfem takes).  Accepted, exactly as written:

=========  =====================================================================
pressure   ``kPa``, ``Pa``, ``MPa``, ``mPa``, ``mmHg``, ``cmH2O``
length     ``mm``, ``cm``, ``m``, ``µm`` (or ``um``)
volume     ``mm3`` (or ``mm^3``), ``cm3`` (or ``cm^3``), ``mL``, ``L``, ``µL``
           (or ``uL``); ``l`` for the litre is SI-accepted too (``ml``, ``µl``, ``ul``)
time       ``s``, ``ms``
=========  =====================================================================

``µ`` may be the micro sign (U+00B5) or the Greek mu (U+03BC).  A few case
variants carry no ambiguity, because the letter whose case differs is not an
SI prefix that changes meaning, and are accepted as well: ``kpa``, ``KPa``,
``KPA`` (there is no prefix ``K``), ``pa``, ``PA``, ``Mpa``, ``MPA`` (capital
``M`` is only ever mega), ``mmhg``, ``mmHG``, ``cmh2o``, ``cmH2o``.  Every
other spelling is refused with the list of accepted units, naming the
intended unit where a case-insensitive match points at one (``"MM"``: did you
mean ``mm``?) and both candidates where it points at two (``"mpa"``: ``mPa``
or ``MPa``?).

Pressures outside :data:`PLAUSIBLE_PRESSURE_KPA` are accepted with a
:class:`~organfem.errors.UnitWarning` naming the value in kPa and mmHg (see
:func:`pressure`); turn it into an error with ``-W error::organfem.errors.UnitWarning``
or :func:`warnings.simplefilter`.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping

from .errors import ParameterError, UnitWarning

__all__ = [
    "MMHG_IN_KPA",
    "PLAUSIBLE_PRESSURE_KPA",
    "PRESSURE_UNITS",
    "LENGTH_UNITS",
    "VOLUME_UNITS",
    "TIME_UNITS",
    "pressure",
    "length",
    "lengths",
    "volume",
    "time",
]

#: 1 mmHg = 133.322387415 Pa (conventional millimetre of mercury).
MMHG_IN_KPA = 0.133322387415

#: Range [kPa] of pressures :func:`pressure` takes without a warning.
#: Upper: 50 kPa (375 mmHg), above the highest pressures measured in a human
#: cavity: left-ventricular systolic pressure rarely exceeds 300 mmHg (40 kPa),
#: reached in severe aortic stenosis with hypertension.  Lower: -10 kPa
#: (-75 mmHg), below the diastolic suction of the ventricles (a few mmHg below
#: zero) and the pleural pressure of a forced inspiration against a closed
#: airway (Mueller manoeuvre, about -60 mmHg).  A value outside is most often
#: a unit mistake (MPa or Pa for kPa, a factor 1000); device pressures (a
#: balloon inflated to several atmospheres) are legitimately higher: pass
#: ``plausible=`` to :func:`pressure`.
PLAUSIBLE_PRESSURE_KPA = (-10.0, 50.0)

_MICRO = ("µ", "μ", "u")  # micro sign U+00B5, Greek mu U+03BC, ASCII stand-in

#: Pressure units and their value in kPa (canonical SI symbols).
PRESSURE_UNITS: Mapping[str, float] = {
    "kPa": 1.0,
    "Pa": 1e-3,
    "MPa": 1e3,
    "mPa": 1e-6,
    "mmHg": MMHG_IN_KPA,
    "cmH2O": 0.0980665,
}
#: Length units and their value in mm.
LENGTH_UNITS: Mapping[str, float] = {"mm": 1.0, "cm": 10.0, "m": 1e3, "µm": 1e-3}
#: Volume units and their value in mm^3.
VOLUME_UNITS: Mapping[str, float] = {
    "mm3": 1.0,
    "cm3": 1e3,
    "mL": 1e3,
    "L": 1e6,
    "µL": 1.0,
}
#: Time units and their value in s.
TIME_UNITS: Mapping[str, float] = {"s": 1.0, "ms": 1e-3}

_NAMES = {
    "kPa": "kilopascal", "Pa": "pascal", "MPa": "megapascal", "mPa": "millipascal",
    "mmHg": "millimetre of mercury", "cmH2O": "centimetre of water",
    "mm": "millimetre", "cm": "centimetre", "m": "metre", "µm": "micrometre",
    "mm3": "cubic millimetre", "cm3": "cubic centimetre", "mL": "millilitre",
    "L": "litre", "µL": "microlitre", "s": "second", "ms": "millisecond",
}  # fmt: skip

_KINDS = {"pressure": PRESSURE_UNITS, "length": LENGTH_UNITS, "volume": VOLUME_UNITS,
          "time": TIME_UNITS}

# Other accepted spellings -> canonical symbol (see the module docstring).
_ALIASES: dict[str, str] = {
    "kpa": "kPa", "KPa": "kPa", "KPA": "kPa",
    "pa": "Pa", "PA": "Pa",
    "Mpa": "MPa", "MPA": "MPa",
    "mmhg": "mmHg", "mmHG": "mmHg",
    "cmh2o": "cmH2O", "cmH2o": "cmH2O",
    **{f"{mu}m": "µm" for mu in _MICRO},
    "mm^3": "mm3", "cm^3": "cm3",
    "ml": "mL", "l": "L",
    **{f"{mu}{litre}": "µL" for mu in _MICRO for litre in "Ll"},
}  # fmt: skip

# Symbols of units organfem does not take, named in the refusal (capital M is mega).
_REFUSED = {"Mm": "megametre", "ML": "megalitre", "Ml": "megalitre", "Ms": "megasecond",
            "S": "siemens", "MS": "megasiemens", "Mm3": "cubic megametre"}

# A number (no nan or inf), then an optional unit: one word, not starting with a digit.
_QUANTITY = re.compile(
    r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\s\d.,;:+\-][^\s]*)?\s*$"
)


def _accepted(table: Mapping[str, float]) -> str:
    return ", ".join(table)


def _resolve(unit: str, table: Mapping[str, float], what: str, value: object) -> str:
    """The canonical symbol of ``unit`` in ``table``, or a ParameterError saying why not."""
    if unit in table:
        return unit
    if _ALIASES.get(unit) in table:
        return _ALIASES[unit]
    spellings = {*table, *(a for a, c in _ALIASES.items() if c in table)}
    candidates = sorted(
        {_ALIASES.get(s, s) for s in spellings if s.casefold() == unit.casefold()}
    )
    accepted = f"accepted units: {_accepted(table)} (case-sensitive, as in SI)"
    refused = ""
    if unit in _REFUSED:
        refused = f"{unit!r} is the {_REFUSED[unit]}, not a unit organfem takes"
    if len(candidates) > 1:
        named = " or ".join(f"{c!r} ({_NAMES[c]})" for c in candidates)
        hint = f"unit {unit!r} is ambiguous: {named}? Write the one you mean"
    elif candidates:
        hint = (
            f"{refused or f'unit {unit!r} is not {candidates[0]!r}'}: unit symbols are"
            f" case-sensitive; did you mean {candidates[0]!r} ({_NAMES[candidates[0]]})?"
        )
    else:
        symbol = _ALIASES.get(unit, unit)
        kinds = [kind for kind, other in _KINDS.items() if symbol in other]
        if refused:
            hint = refused
        elif kinds:
            hint = f"{unit!r} is a unit of {kinds[0]}, not of {what}"
        else:
            hint = f"unknown unit {unit!r}"
    raise ParameterError(f"{what} {value!r}: {hint}; {accepted}")


def _convert(value: float | str, table: Mapping[str, float], default: str, what: str) -> float:
    if isinstance(value, bool):
        raise ParameterError(
            f"{what} {value!r}: expected a number [{default}], got a bool; or give a string"
            f" with a unit among {_accepted(table)}"
        )
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            raise ParameterError(
                f"{what} {value!r} [{default}]: must be a finite number; accepted units:"
                f" {_accepted(table)}"
            )
        return number
    if not isinstance(value, str):
        # NumPy scalars and the like: their text is a plain number.
        try:
            return _convert(float(value), table, default, what)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    text = str(value)
    match = _QUANTITY.match(text)
    if match is None:
        raise ParameterError(
            f"{what} {value!r}: expected a finite number with an optional unit, such as"
            f" '2.5 {next(iter(table))}'; accepted units: {_accepted(table)}"
        )
    unit = match.group(2) or ""
    symbol = _resolve(unit, table, what, value) if unit else default
    return float(match.group(1)) * table[symbol]


def pressure(
    value: float | str,
    *,
    plausible: tuple[float, float] = PLAUSIBLE_PRESSURE_KPA,
) -> float:
    """Pressure in kPa from a number (kPa) or a string such as ``"15 mmHg"``.

    Args:
        value: A number in kPa, or a number and a unit among
            :data:`PRESSURE_UNITS` (see the module docstring for the accepted
            spellings).
        plausible: ``(low, high)`` [kPa]; a pressure outside is accepted with a
            :class:`~organfem.errors.UnitWarning`.  The default is
            :data:`PLAUSIBLE_PRESSURE_KPA` (physiological pressures); a device
            pressure (a balloon) passes its own range.

    Returns:
        The pressure in kPa.

    Raises:
        ParameterError: For text that is not a finite number with an accepted
            unit, naming the accepted units (and the intended one when only
            the case is wrong).

    Warns:
        UnitWarning: When the pressure lies outside ``plausible``, naming it
            in kPa and mmHg.
    """
    kpa = _convert(value, PRESSURE_UNITS, "kPa", "pressure")
    low, high = plausible
    if not low <= kpa <= high:
        side = "above" if kpa > high else "below"
        warnings.warn(
            f"pressure {value!r} = {kpa:.6g} kPa ({kpa / MMHG_IN_KPA:.6g} mmHg) is {side} the"
            f" plausible range {low:g} to {high:g} kPa ({low / MMHG_IN_KPA:.0f} to"
            f" {high / MMHG_IN_KPA:.0f} mmHg) of physiological pressures; check its"
            f" {'unit (MPa or Pa instead of kPa?)' if side == 'above' else 'sign and unit'}."
            " It is used as given.",
            UnitWarning,
            stacklevel=2,
        )
    return kpa


def length(value: float | str) -> float:
    """Length in mm from a number (mm) or a string such as ``"1.5 cm"``.

    Raises:
        ParameterError: For text that is not a finite number with a unit
            among :data:`LENGTH_UNITS` (or ``um``).
    """
    return _convert(value, LENGTH_UNITS, "mm", "length")


def lengths(text: str) -> list[float]:
    """Lengths in mm from a list such as ``"2,4,6 mm"`` or ``"2 mm, 0.4 cm"``.

    A unit after the last number applies to every number without its own;
    numbers without any unit are mm.

    Raises:
        ParameterError: For an empty list or an entry that is not a length.
    """
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    if not parts:
        raise ParameterError(f"lengths {text!r}: expected numbers with a unit, e.g. '2,4,6 mm'")
    last = parts[-1].split()
    unit = last[1] if len(last) == 2 else ""
    try:
        return [length(p if len(p.split()) == 2 else f"{p} {unit}".strip()) for p in parts]
    except ParameterError as err:
        raise ParameterError(f"lengths {text!r}: {err}") from None


def volume(value: float | str) -> float:
    """Volume in mm^3 from a number (mm^3) or a string such as ``"120 mL"``.

    Raises:
        ParameterError: For text that is not a finite number with a unit
            among :data:`VOLUME_UNITS` (or their accepted spellings).
    """
    return _convert(value, VOLUME_UNITS, "mm3", "volume")


def time(value: float | str) -> float:
    """Time in s from a number (s) or a string such as ``"800 ms"``.

    Raises:
        ParameterError: For text that is not a finite number with a unit
            among :data:`TIME_UNITS`.
    """
    return _convert(value, TIME_UNITS, "s", "time")

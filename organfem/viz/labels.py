"""Colour-bar titles: the unit of a field, from its name.

Results files store no units: organfem computes in one system (mm, kPa, s;
:mod:`organfem.units`), so a field's unit follows from what it is.  The
renders look the name up in :data:`FIELD_UNITS`, then try the suffixes of
:data:`UNIT_SUFFIXES` (the ``pressure_kPa``, ``cavity_volume_mm3`` naming of
the scalars), and show no unit for a name they do not know; pass ``unit=``
to :func:`organfem.viz.render` to set it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["FIELD_UNITS", "UNIT_SUFFIXES", "field_unit", "field_label", "bar_title"]

#: Unit of each known field name ("-" for a dimensionless one).
FIELD_UNITS: Mapping[str, str] = MappingProxyType(
    {
        "displacement": "mm",
        "velocity": "mm/s",
        "acceleration": "mm/s^2",
        "fibre_stress": "kPa",
        "fiber_stress": "kPa",
        "stress": "kPa",
        "cauchy_stress": "kPa",
        "von_mises": "kPa",
        "von_mises_stress": "kPa",
        "pressure": "kPa",
        "hydrostatic_pressure": "kPa",
        "active_tension": "kPa",
        "helix_angle": "deg",
        "helix angle": "deg",
        "fibre_strain": "-",
        "green_strain": "-",
        "strain": "-",
        "fibre_stretch": "-",
        "stretch": "-",
        "jacobian": "-",
        "volume_ratio": "-",
    }
)
#: Unit of a name that ends in ``_<suffix>`` (case as written).
UNIT_SUFFIXES: Mapping[str, str] = MappingProxyType(
    {
        "kPa": "kPa",
        "Pa": "Pa",
        "mmHg": "mmHg",
        "mm": "mm",
        "mm2": "mm^2",
        "mm3": "mm^3",
        "ml": "ml",
        "mL": "ml",
        "s": "s",
        "ms": "ms",
        "deg": "deg",
        "mm_per_s": "mm/s",
    }
)


def field_label(name: str) -> tuple[str, str | None]:
    """The name to show for the field called ``name`` and its unit (``None``: not known).

    A unit suffix moves into the unit: ``"pressure_kPa"`` shows as
    ``pressure [kPa]``.

    >>> field_label("displacement"), field_label("pressure_kPa"), field_label("region")
    (('displacement', 'mm'), ('pressure', 'kPa'), ('region', None))
    """
    if name in FIELD_UNITS:
        return name, FIELD_UNITS[name]
    for suffix in sorted(UNIT_SUFFIXES, key=len, reverse=True):
        if name.endswith("_" + suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix) - 1], UNIT_SUFFIXES[suffix]
    return name, None


def field_unit(name: str) -> str | None:
    """The unit of the field called ``name``, or ``None`` if it is not known.

    >>> field_unit("displacement"), field_unit("pressure_kPa"), field_unit("region")
    ('mm', 'kPa', None)
    """
    return field_label(name)[1]


def bar_title(label: str, unit: str | None) -> str:
    """``"label [unit]"``, or ``label`` alone when there is no unit."""
    return f"{label} [{unit}]" if unit else label

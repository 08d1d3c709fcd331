"""What a report shows: declared by the scenario, stored in its results file.

A scenario builds a :class:`ReportSpec` and hands ``spec.as_dict()`` to
:class:`organfem.io.ResultsWriter` (``report=``); ``organfem report`` reads
it back from the file with :meth:`ReportSpec.from_dict`.  One report builder
serves every scenario: the spec says which fields the 3-D view offers, which
key figures the table lists (each one number computed from a per-step
scalar), and which plots are drawn.  Scalars are named as the results file
names them (``pressure_kPa``, ``cavity_volume_mm3``); a figure or plot gives
its display unit and the factor from the stored unit to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ParameterError

__all__ = ["Field", "Figure", "Plot", "ReportSpec", "REDUCTIONS", "generic_spec", "heart_cycle_spec",
           "inflation_spec"]

#: How a key figure is computed from a per-step scalar.
REDUCTIONS = ("first", "last", "max", "min", "range")


@dataclasses.dataclass(frozen=True)
class Field:
    """A field the 3-D view can colour by.

    Attributes:
        name: the array's name in the results file (point or cell data).
        label: what the view calls it ("fibre stress").
        unit: its display unit ("kPa"); vectors are shown by magnitude.
        scale: factor from the stored unit to ``unit``.
    """

    name: str
    label: str
    unit: str = ""
    scale: float = 1.0


@dataclasses.dataclass(frozen=True)
class Figure:
    """A key figure: one number from a per-step scalar.

    Attributes:
        label: what it is ("end-diastolic volume").
        scalar: the per-step scalar's name in the results file.
        reduce: one of :data:`REDUCTIONS` (``range`` is max - min).
        unit: display unit.
        scale: factor from the stored unit to ``unit``.
        digits: significant digits shown.
        since: reduce over the steps at times >= ``since`` only (e.g. the
            last beat of a heart cycle); all steps if None.
    """

    label: str
    scalar: str
    reduce: str = "last"
    unit: str = ""
    scale: float = 1.0
    digits: int = 4
    since: float | None = None

    def __post_init__(self) -> None:
        if self.reduce not in REDUCTIONS:
            raise ParameterError(
                f"report figure {self.label!r}: reduce must be one of {REDUCTIONS}, "
                f"got {self.reduce!r}"
            )


@dataclasses.dataclass(frozen=True)
class Plot:
    """A plot of per-step scalars.

    Attributes:
        title: the plot's title.
        x: a scalar's name, or ``"time"`` for the step times.
        y: the scalars drawn against ``x``.
        x_label, y_label: axis labels with units ("volume [mL]").
        x_scale, y_scale: factors from the stored units to the axes'.
        since: plot the steps at times >= ``since`` only; all if None.
    """

    title: str
    x: str
    y: tuple[str, ...]
    x_label: str
    y_label: str
    x_scale: float = 1.0
    y_scale: float = 1.0
    since: float | None = None


@dataclasses.dataclass(frozen=True)
class ReportSpec:
    """Everything a scenario declares about its report.

    Attributes:
        title: the report's title.
        summary: one paragraph: what was simulated, for a clinical reader.
        fields: the fields the 3-D view offers, the first shown first.
        figures: the key figures, in table order.
        plots: the plots, in order.
        anatomy: ``"lv"`` (views base up, apex down), or ``"generic"``
            (anatomical LPS views).
        steps: what the steps are ("load step", "time").
        time_unit: unit of the step times ("" for a pseudo-time).
    """

    title: str
    summary: str
    fields: tuple[Field, ...] = ()
    figures: tuple[Figure, ...] = ()
    plots: tuple[Plot, ...] = ()
    anatomy: str = "generic"
    steps: str = "step"
    time_unit: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``ResultsWriter(report=...)``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportSpec:
        """The spec stored in a results file.

        Raises:
            ParameterError: naming the entry that does not fit.
        """
        try:
            return cls(
                title=str(data["title"]),
                summary=str(data.get("summary", "")),
                fields=tuple(Field(**f) for f in data.get("fields", ())),
                figures=tuple(Figure(**f) for f in data.get("figures", ())),
                plots=tuple(Plot(**(p | {"y": tuple(p["y"])})) for p in data.get("plots", ())),
                anatomy=str(data.get("anatomy", "generic")),
                steps=str(data.get("steps", "step")),
                time_unit=str(data.get("time_unit", "")),
            )
        except (KeyError, TypeError) as err:
            raise ParameterError(f"the results file's report description is malformed: {err}"
                                 ) from None


#: Display units of fields that organfem's scenarios write, by array name.
_KNOWN_FIELDS = {
    "displacement": ("displacement", "mm", 1.0),
    "fibre_stress": ("fibre stress", "kPa", 1.0),
    "contact_pressure": ("contact pressure", "kPa", 1.0),
    "velocity": ("velocity", "mm/s", 1.0),
}


def generic_spec(title: str, fields: Sequence[str], scalars: Sequence[str]) -> ReportSpec:
    """A spec for a results file that declares none: every field, every scalar plotted.

    Scalar names ending in a unit (``_kPa``, ``_mm3``) get that unit.
    """
    units = {"_kPa": ("kPa", 1.0), "_mm3": ("mL", 1e-3), "_mm": ("mm", 1.0), "_s": ("s", 1.0),
             "_mmHg": ("mmHg", 1.0)}

    def unit_of(name: str) -> tuple[str, str, float]:
        for suffix, (unit, scale) in units.items():
            if name.endswith(suffix):
                return name[: -len(suffix)].replace("_", " "), unit, scale
        return name.replace("_", " "), "", 1.0

    declared = []
    for name in fields:
        label, unit, scale = _KNOWN_FIELDS.get(name, (name.replace("_", " "), "", 1.0))
        declared.append(Field(name, label, unit, scale))
    figures, plots = [], []
    for name in scalars:
        label, unit, scale = unit_of(name)
        figures.append(Figure(f"{label} (last step)", name, "last", unit, scale))
        plots.append(Plot(label, "time", (name,), "step time", f"{label} [{unit}]" if unit
                          else label, 1.0, scale))
    return ReportSpec(title=title, summary="", fields=tuple(declared), figures=tuple(figures),
                      plots=tuple(plots))


#: 1 mmHg in kPa (as organfem.units.MMHG_IN_KPA; not imported, to keep this module light).
_MMHG_IN_KPA = 0.133322387415


def inflation_spec(title: str, summary: str) -> ReportSpec:
    """The report of a passive ventricular inflation (cavity pressure ramped).

    Results scalars ``pressure_kPa`` and ``cavity_volume_mm3`` per load step
    (and ``newton_iterations``); fields ``fibre_stress`` and ``displacement``.
    """
    per_mmhg = 1.0 / _MMHG_IN_KPA
    return ReportSpec(
        title=title,
        summary=summary,
        fields=(Field("fibre_stress", "fibre stress", "kPa"),
                Field("displacement", "displacement", "mm")),
        figures=(
            Figure("end-diastolic pressure", "pressure_kPa", "last", "mmHg", per_mmhg, 3),
            Figure("end-diastolic volume", "cavity_volume_mm3", "last", "mL", 1e-3),
            Figure("unloaded cavity volume", "cavity_volume_mm3", "first", "mL", 1e-3),
            Figure("volume increase", "cavity_volume_mm3", "range", "mL", 1e-3),
        ),
        plots=(Plot("pressure-volume relation (passive filling)", "cavity_volume_mm3",
                    ("pressure_kPa",), "cavity volume [mL]", "cavity pressure [mmHg]",
                    1e-3, per_mmhg),),
        anatomy="lv",
        steps="load step",
        time_unit="",
    )


def heart_cycle_spec(*, since: float) -> ReportSpec:
    """The report of heartbeats of an LV coupled to a closed-loop circulation.

    Results scalars ``LV_volume_mm3``, ``LV_pressure_kPa``, the circulation's
    states (``circulation_p_AR_SYS_kPa``, ...), ``long_axis_mm``,
    ``wall_thickness_mm``, ``mean_fibre_stretch`` and ``newton_iterations``
    per time step; fields ``fibre_stress``, ``fibre_stretch``,
    ``active_tension`` and ``displacement``.  Figures and the PV loop are of
    the steps at times >= ``since`` [s] (the last beat).
    """
    per_mmhg = 1.0 / _MMHG_IN_KPA
    return ReportSpec(
        title="Heartbeat of the left ventricle",
        summary="The left ventricle contracts and relaxes with each heartbeat while blood flows "
        "through a model of the whole circulation (atria, valves, arteries and veins of the "
        "body and the lungs). The heart wall is a finite-element model of the myocardium with "
        "its fibre architecture; the figures and the pressure-volume loop are those of the last "
        "beat simulated, when the beats repeat.",
        fields=(Field("fibre_stress", "fibre stress", "kPa"),
                Field("active_tension", "active tension", "kPa"),
                Field("fibre_stretch", "fibre stretch", ""),
                Field("displacement", "displacement", "mm")),
        figures=(
            Figure("end-diastolic volume", "LV_volume_mm3", "max", "mL", 1e-3, 4, since),
            Figure("end-systolic volume", "LV_volume_mm3", "min", "mL", 1e-3, 4, since),
            Figure("stroke volume", "LV_volume_mm3", "range", "mL", 1e-3, 4, since),
            Figure("peak LV pressure", "LV_pressure_kPa", "max", "mmHg", per_mmhg, 4, since),
            Figure("aortic systolic pressure", "circulation_p_AR_SYS_kPa", "max", "mmHg", per_mmhg,
                   4, since),
            Figure("aortic diastolic pressure", "circulation_p_AR_SYS_kPa", "min", "mmHg",
                   per_mmhg, 4, since),
            Figure("least wall thickness", "wall_thickness_mm", "min", "mm", 1.0, 3, since),
            Figure("greatest wall thickness", "wall_thickness_mm", "max", "mm", 1.0, 3, since),
        ),
        plots=(
            Plot("pressure-volume loop (last beat)", "LV_volume_mm3", ("LV_pressure_kPa",),
                 "LV volume [mL]", "LV pressure [mmHg]", 1e-3, per_mmhg, since),
            Plot("pressures over the beat", "time",
                 ("LV_pressure_kPa", "circulation_p_AR_SYS_kPa", "circulation_p_LA_kPa"),
                 "time [s]", "pressure [mmHg]", 1.0, per_mmhg),
            Plot("LV volume", "time", ("LV_volume_mm3",), "time [s]", "volume [mL]", 1.0, 1e-3),
        ),
        anatomy="lv",
        steps="time step",
        time_unit="s",
    )

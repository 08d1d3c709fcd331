"""0D blood circulation in pure JAX (imports neither DOLFINx nor PETSc).

Windkessel afterloads and the closed loop of Regazzoni et al. (2022): four
chambers, four valves, systemic and pulmonary arteries and veins.  Models
are pytrees of parameters, so a run can be ``jax.vmap``-ed over a batch of
them and differentiated for calibration::

    import jax
    from organfem import circulation as circ

    with jax.enable_x64(True):
        model = circ.ClosedLoop.regazzoni_2022()
        run = circ.simulate(model, circ.initial_state(), t_end=40.0, dt=1e-3)
        lv = circ.chamber_metrics(run, model.period)   # EDV, ESV, EF, ... [mm^3, kPa]

Units are organfem's: volumes mm^3, pressures kPa, flows mm^3/s, times s.
For a 3D-0D coupling a chamber's law can be swapped
(:meth:`ClosedLoop.with_chamber`, :class:`PrescribedPressure`) and the loop
advanced one implicit step at a time (:func:`implicit_step`,
:func:`implicit_step_volume`).
"""

from .closed_loop import (
    CHAMBERS,
    STATE_NAMES,
    STATE_UNITS,
    VALVES,
    VOLUME_NAMES,
    ChamberLaw,
    ClosedLoop,
    PrescribedPressure,
    TimeVaryingElastance,
    Trajectory,
    Valve,
    Vessel,
    chamber_pressures,
    implicit_step,
    implicit_step_volume,
    initial_state,
    rhs,
    simulate,
    state_dict,
    state_index,
    total_volume,
    valve_flows,
    volumes,
)
from .metrics import arterial_pressures, beat_window, chamber_metrics, periodicity
from .windkessel import Windkessel2, Windkessel3

__all__ = [
    "STATE_NAMES",
    "STATE_UNITS",
    "CHAMBERS",
    "VALVES",
    "VOLUME_NAMES",
    "ChamberLaw",
    "TimeVaryingElastance",
    "PrescribedPressure",
    "Valve",
    "Vessel",
    "ClosedLoop",
    "Trajectory",
    "state_index",
    "initial_state",
    "state_dict",
    "chamber_pressures",
    "valve_flows",
    "rhs",
    "volumes",
    "total_volume",
    "implicit_step",
    "implicit_step_volume",
    "simulate",
    "beat_window",
    "chamber_metrics",
    "arterial_pressures",
    "periodicity",
    "Windkessel2",
    "Windkessel3",
]

"""One state object for every unknown of a problem, with checkpoints.

:class:`State` holds the field unknowns (displacement, and pressure in the
mixed formulation), the integrator's history (velocity, acceleration, ...),
the global multipliers (cavity pressures under volume control), the
internal variables of every term, the time and the step.  The problem keeps
a committed copy: a failed step rolls back to it, a converged one commits.
A checkpoint is the committed state, written atomically by every rank
(:func:`organfem.io.save_checkpoint`): a run killed at any instant resumes
from the last complete one and reaches the same answer.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["State"]


@dataclasses.dataclass
class State:
    """Every unknown of a problem on this rank.

    Attributes:
        time: time of the state [s] (pseudo-time on quasi-static paths).
        step: converged steps since the start.
        dt: length of the last converged step [s] (0 before the first).
        fields: this rank's arrays (owned and ghost values): ``"w"`` all
            field unknowns; ``"u"``, ``"v"``, ``"a"`` displacement [mm],
            velocity [mm/s] and acceleration [mm/s^2]; ``"w_prev"`` the field
            unknowns one step earlier (predictor); integrator history.
        multipliers: global multipliers, the same on every rank (cavity
            pressures [kPa] under volume control).
        multipliers_prev: the multipliers one step earlier.
        internal: internal variables of the terms, ``"t<term>_<name>"`` ->
            array over this rank's quadrature points.
        controller: the step controller's memory (next step length, ...).
    """

    time: float = 0.0
    step: int = 0
    dt: float = 0.0
    fields: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    multipliers: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    multipliers_prev: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    internal: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    controller: dict[str, float] = dataclasses.field(default_factory=dict)

    def copy(self) -> State:
        """A deep copy."""
        return State(
            time=self.time,
            step=self.step,
            dt=self.dt,
            fields={k: np.array(v) for k, v in self.fields.items()},
            multipliers=np.array(self.multipliers),
            multipliers_prev=np.array(self.multipliers_prev),
            internal={k: np.array(v) for k, v in self.internal.items()},
            controller=dict(self.controller),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """This rank's arrays, flat, for a checkpoint."""
        out = {f"field_{k}": v for k, v in self.fields.items()}
        out.update({f"internal_{k}": v for k, v in self.internal.items()})
        out["multipliers"] = self.multipliers
        out["multipliers_prev"] = self.multipliers_prev
        return out

    def record(self) -> dict[str, Any]:
        """The scalars, the same on every rank, for a checkpoint."""
        return {
            "time": self.time,
            "step": self.step,
            "dt": self.dt,
            "controller": dict(self.controller),
        }

    @classmethod
    def from_checkpoint(cls, arrays: dict[str, np.ndarray], record: dict[str, Any]) -> State:
        fields = {k[len("field_") :]: v for k, v in arrays.items() if k.startswith("field_")}
        internal = {k[len("internal_") :]: v for k, v in arrays.items() if k.startswith("internal_")}
        return cls(
            time=float(record["time"]),
            step=int(record["step"]),
            dt=float(record["dt"]),
            fields=fields,
            multipliers=np.asarray(arrays["multipliers"], dtype=np.float64),
            multipliers_prev=np.asarray(arrays["multipliers_prev"], dtype=np.float64),
            internal=internal,
            controller=dict(record.get("controller", {})),
        )

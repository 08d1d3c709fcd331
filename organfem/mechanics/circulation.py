"""Cavities coupled to a 0D closed-loop circulation (3D-0D coupling).

A :class:`Circulation` term replaces chambers of a
:class:`organfem.circulation.ClosedLoop` (the LV, and the RV where the mesh
has one) by finite-element cavities.  Each coupled chamber's pressure is a
Lagrange multiplier solved with the displacement, and its equation ties the
cavity volume of the wall to the volume the circulation gives the chamber
at the end of the step::

    V_FE(u_{n+1}) = V_0D(p_{n+1}),

where ``V_0D(p)`` is the chamber's slot of one implicit step of the loop
(:func:`organfem.circulation.implicit_step`, backward Euler)
from the committed 0D state, taken with the chamber's pressure prescribed
as ``p``: the valve flows that ``p`` drives move the blood.  The other 0D
states are eliminated this way (a Schur complement of the monolithic
3D-0D system), so each Newton iteration of the mechanics solves the
coupled problem: the displacement, the cavity pressures and, through
``V_0D``, the whole loop; ``dV_0D/dp`` (by JAX forward differentiation of
the 0D Newton solve) enters the Jacobian.

Why this does not chatter:

* the coupling is strong (one Newton iteration for all unknowns), not a
  staggered exchange of pressures and volumes that oscillates when the
  0D side is stiff;
* in isovolumic phases both valves are closed, ``dV_0D/dp`` is the leak
  ``dt / R_max`` (about 0): the row is a volume constraint and the
  pressure is its multiplier, not a quotient of two small flows (the
  ill-conditioned inverse of :func:`organfem.circulation.implicit_step_volume`);
* a valve opens or closes inside the Newton iteration, where it should,
  as a smooth diode (:class:`organfem.circulation.Valve`), and the 0D steps
  are backward Euler (L-stable), so the flow through a valve that just
  switched is damped, not reflected back and forth from step to step.

Blood volume: every flow that leaves one compartment enters another in
the same implicit step, and the FE cavity holds exactly the chamber's 0D
volume at every converged step (to the Newton tolerance on the volume
row), so the total (with the FE volumes in place of the 0D ones) is
conserved to round-off and that tolerance.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .. import circulation as circ
from .._dolfinx import dolfinx
from ..errors import ConvergenceError, ParameterError
from .terms import Contribution, FormContext, Multiplier
from .volume import _CavityState, _derivative, _volume_form, check_closure

__all__ = ["Chamber", "Circulation"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Chamber:
    """The cavity of a finite-element chamber: its wall and its closure.

    The volume is :func:`~organfem.mechanics.cavity_volume` with ``axis`` and
    ``base_point`` (see there: exact for a chamber truncated by the plane
    through ``base_point`` normal to ``axis``).

    Args:
        tag: facet tag of the cavity wall (e.g. ``"endo"``).
        axis: normal of the truncation plane, or None for a closed cavity.
        base_point: a point of the truncation plane [mm].
    """

    tag: str
    axis: Sequence[float] | None = (0.0, 0.0, 1.0)
    base_point: Sequence[float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        check_closure(self, f"Chamber({self.tag!r})")


@dataclasses.dataclass(frozen=True)
class Circulation:
    """Chambers of a closed-loop circulation replaced by finite-element cavities.

    Args:
        loop: the 0D model (:class:`organfem.circulation.ClosedLoop`); the
            laws of the coupled chambers are not used.
        chambers: ``{"LV": Chamber("endo", ...)}``, and ``"RV"`` (or an
            atrium) where the mesh has it.
        initial: the 0D state at the start (12,), in mm^3, kPa, mm^3/s
            (:func:`organfem.circulation.initial_state`); the coupled
            chambers' volumes are replaced by the cavity volumes of the
            reference configuration (the change of blood volume is logged).

    The problem reports, after each step, the chambers' pressures [kPa] and
    volumes [mm^3] under the chamber names (``LV_pressure_kPa``,
    ``LV_volume_mm3``), every 0D state (``circulation_p_AR_SYS_kPa``, ...),
    the valve flows (``circulation_Q_AV_mm3_per_s``, ...) and the total blood
    volume (``blood_volume_mm3``).  The problem needs a direct solver
    (the ``newton-mumps`` preset, the default).
    """

    loop: circ.ClosedLoop
    chambers: Mapping[str, Chamber]
    initial: object = None

    def __post_init__(self) -> None:
        if not isinstance(self.loop, circ.ClosedLoop):
            raise ParameterError(f"Circulation: loop must be an organfem.circulation.ClosedLoop, not {self.loop!r}")
        if not self.chambers:
            raise ParameterError("Circulation: give at least one chamber, e.g. {'LV': Chamber('endo')}")
        for name, chamber in self.chambers.items():
            if name not in circ.CHAMBERS:
                raise ParameterError(f"Circulation: unknown chamber {name!r}; the chambers are {circ.CHAMBERS}")
            if not isinstance(chamber, Chamber):
                raise ParameterError(f"Circulation: chamber {name!r} must be a Chamber(tag, axis, base_point)")
        with jax.enable_x64(True):  # the default state in float64, not JAX's float32
            initial = circ.initial_state() if self.initial is None else self.initial
            initial = np.asarray(initial, dtype=np.float64)
        if initial.shape != (len(circ.STATE_NAMES),) or not np.isfinite(initial).all():
            raise ParameterError(
                f"Circulation: initial must be {len(circ.STATE_NAMES)} finite states "
                f"({', '.join(circ.STATE_NAMES)}), got shape {initial.shape}"
            )
        object.__setattr__(self, "initial", initial)
        object.__setattr__(self, "chambers", dict(self.chambers))

    def contribute(self, ctx: FormContext) -> Contribution:
        names = tuple(self.chambers)
        residual, multipliers, volumes = None, [], []
        pressures = []
        for name in names:
            chamber = self.chambers[name]
            ctx.domain.facets(chamber.tag)  # MissingTagError now, not at the first solve
            volume = _volume_form(ctx.domain, ctx.u, chamber.tag, chamber.axis, chamber.base_point,
                                  ctx.ds(chamber.tag))  # fmt: skip
            dV = _derivative(volume, ctx)
            p = ctx.constant(0.0)
            term = -p * dV
            residual = term if residual is None else residual + term
            # As a volume-driven cavity: -(V(u) - V_0D(p)) = 0, symmetric border.
            multipliers.append(Multiplier(name=name, constant=p, column=-dV, row=dV, functional=volume,
                                          target=None, sign=-1.0, unit="kPa"))  # fmt: skip
            volumes.append(_CavityState(ctx.domain.comm, dolfinx.fem.form(volume), p))
            pressures.append(p)
        coupling = _Coupling(self, names, [v.volume() for v in volumes], pressures)

        def report() -> dict[str, float]:
            out = {}
            for name, state in zip(names, volumes, strict=True):
                out.update(state.report(name)())
            out.update(coupling.report())
            return out

        return Contribution(
            residual=residual,
            multipliers=tuple(multipliers),
            targets=coupling.targets,
            at_time=coupling.at_time,
            state=coupling,
            report=report,
            output=coupling,
        )


@functools.partial(jax.jit, static_argnames=("names",))
def _chamber_step(loop, y, t, dt, pressures, *, names):
    """One backward-Euler 0D step from ``t`` over ``dt`` with the coupled
    chambers' pressures given: their volumes at the end of the step (k,), the
    derivative of those by the pressures (k, k), the new state and whether
    the 0D Newton solve converged.  (The pressures are the end-of-step ones,
    so a trapezoidal step would need the start-of-step pressures too.)"""
    slots = jnp.asarray([circ.CHAMBERS.index(name) for name in names])  # = state slots of V_<chamber>

    def volumes(p):
        model = loop
        for k, name in enumerate(names):
            model = model.with_chamber(name, circ.PrescribedPressure(p=p[k]))
        y1, converged = circ.implicit_step(model, y, t, dt)
        return y1[slots], (y1, converged)

    slope, (y1, converged) = jax.jacfwd(volumes, has_aux=True)(pressures)
    return y1[slots], slope, y1, converged


class _Coupling:
    """The 0D state of a :class:`Circulation` (a term state: committed with the
    mechanics, rolled back with it, checkpointed), and the chambers' targets."""

    def __init__(self, term: Circulation, names: tuple[str, ...], reference: list[float], constants):
        self.loop, self.names = term.loop, names
        self.slots = [circ.CHAMBERS.index(name) for name in names]
        self.constants = constants
        y = np.array(term.initial)
        with jax.enable_x64(True):
            before = float(circ.total_volume(jnp.asarray(y), self.loop))
            y[self.slots] = reference
            after = float(circ.total_volume(jnp.asarray(y), self.loop))
        if abs(after - before) > 1e-9 * abs(before):
            log.info(
                "circulation: the 0D volumes of %s are set to the cavity volumes of the mesh (%s mL); "
                "the blood volume changes from %.1f to %.1f mL",
                ", ".join(names), ", ".join(f"{v / 1e3:.1f}" for v in reference), before / 1e3, after / 1e3,
            )
        self.y = y  # committed 0D state
        self.time = 0.0  # the problem's time (set_time)
        self.step: tuple[float, float] | None = None  # (start time, dt) of the step being solved
        self._cache: tuple | None = None

    # -- the multipliers' targets ------------------------------------------

    def _solve(self, pressures: np.ndarray):
        key = (self.step, tuple(float(p) for p in pressures))
        if self._cache is None or self._cache[0] != key:
            t, dt = self.step
            with jax.enable_x64(True):
                volumes, slope, y1, converged = _chamber_step(
                    self.loop, jnp.asarray(self.y), t, dt, jnp.asarray(pressures, dtype=jnp.float64),
                    names=self.names,
                )  # fmt: skip
                volumes, slope, y1 = np.asarray(volumes), np.asarray(slope), np.asarray(y1)
            if not bool(converged) or not np.isfinite(y1).all():
                # NaN makes the mechanics' Newton fail, and the step is cut.
                volumes, slope = np.full(len(self.names), np.nan), np.full((len(self.names),) * 2, np.nan)
            self._cache = (key, volumes, slope, y1)
        return self._cache[1:]

    def targets(self, t: float, pressures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The chambers' volumes [mm^3] at the end of the step for the cavity
        pressures [kPa], and their derivative; before any step (the
        consistent start) the committed volumes, as a volume constraint."""
        if self.step is None:
            return self.y[self.slots].copy(), np.zeros((len(self.names),) * 2)
        volumes, slope, _ = self._solve(pressures)
        return volumes, slope

    # -- term state ----------------------------------------------------------

    def at_time(self, t: float, ramped: bool) -> None:
        self.time = float(t)

    def begin_step(self, t: float, dt: float) -> None:
        self.step = (float(t) - float(dt), float(dt))

    def commit(self) -> None:
        if self.step is None:
            return
        _, _, y1 = self._solve(np.array([float(c.value) for c in self.constants]))
        if not np.isfinite(y1).all():
            raise ConvergenceError(f"circulation: the 0D step to t = {sum(self.step):g} s did not converge")
        self.y, self.step = y1.copy(), None

    def arrays(self) -> dict[str, np.ndarray]:
        return {"y": self.y.copy()}

    def restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.y = np.array(arrays["y"], dtype=np.float64)
        self.step, self._cache = None, None

    # -- results -------------------------------------------------------------

    def pressures(self) -> np.ndarray:
        """Pressures of LA, LV, RA, RV [kPa] of the committed state: the
        cavity pressures of the coupled chambers, the laws' of the others."""
        y = jnp.asarray(self.y)
        with jax.enable_x64(True):
            p = np.array(circ.chamber_pressures(self.time, y, self.loop))
        p[self.slots] = [float(c.value) for c in self.constants]
        return p

    def report(self) -> dict[str, float]:
        """Every 0D state, the chamber pressures, the valve flows and the blood volume."""
        out = {}
        for name, value in zip(circ.STATE_NAMES, self.y, strict=True):
            unit = circ.STATE_UNITS[name[0]].replace("^", "").replace("/", "_per_")
            out[f"circulation_{name}_{unit}"] = float(value)
        with jax.enable_x64(True):
            y = jnp.asarray(self.y)
            p = self.pressures()
            flows = np.asarray(circ.valve_flows(jnp.asarray(p), y, self.loop))
            blood = float(circ.total_volume(y, self.loop))
        for name, value in zip(circ.CHAMBERS, p, strict=True):
            out[f"circulation_p_{name}_kPa"] = float(value)
        for name, value in zip(circ.VALVES, flows, strict=True):
            out[f"circulation_Q_{name}_mm3_per_s"] = float(value)
        out["blood_volume_mm3"] = blood
        return out

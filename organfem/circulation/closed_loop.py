"""Closed-loop 0D blood circulation of Regazzoni et al. (2022), in pure JAX.

Four chambers (left and right atrium and ventricle) with a pressure-volume
law each, four valves as smooth diodes, and the systemic and pulmonary
arteries and veins as R-C-L compartments (Regazzoni F, Salvador M, Africa PC,
Fedele M, Dede L, Quarteroni A (2022), "A cardiac electromechanical model
coupled with a lumped-parameter model for closed-loop blood circulation",
J. Comput. Phys. 457:111083)::

    dV_LA/dt = Q_VEN_PUL - Q_MV          dV_LV/dt = Q_MV - Q_AV
    dV_RA/dt = Q_VEN_SYS - Q_TV          dV_RV/dt = Q_TV - Q_PV
    C_AR_SYS  dp_AR_SYS/dt  = Q_AV - Q_AR_SYS
    C_VEN_SYS dp_VEN_SYS/dt = Q_AR_SYS - Q_VEN_SYS
    C_AR_PUL  dp_AR_PUL/dt  = Q_PV - Q_AR_PUL
    C_VEN_PUL dp_VEN_PUL/dt = Q_AR_PUL - Q_VEN_PUL
    L_AR_SYS  dQ_AR_SYS/dt  = p_AR_SYS - p_VEN_SYS - R_AR_SYS Q_AR_SYS
    L_VEN_SYS dQ_VEN_SYS/dt = p_VEN_SYS - p_RA - R_VEN_SYS Q_VEN_SYS
    L_AR_PUL  dQ_AR_PUL/dt  = p_AR_PUL - p_VEN_PUL - R_AR_PUL Q_AR_PUL
    L_VEN_PUL dQ_VEN_PUL/dt = p_VEN_PUL - p_LA - R_VEN_PUL Q_VEN_PUL

with the valve flows ``Q_MV = Q(p_LA, p_LV)``, ``Q_AV = Q(p_LV, p_AR_SYS)``,
``Q_TV = Q(p_RA, p_RV)``, ``Q_PV = Q(p_RV, p_AR_PUL)`` (:class:`Valve`) and
the chamber pressures from each chamber's law, by default a time-varying
elastance ``p = (E_B + E_A phi(t)) (V - V0)`` (:class:`TimeVaryingElastance`).

Units (organfem's mm, kPa, s): volumes mm^3, pressures kPa, flows mm^3/s,
resistances kPa s/mm^3, compliances mm^3/kPa, inertances kPa s^2/mm^3,
elastances kPa/mm^3, times s.  (1 mL = 1000 mm^3; 1 mmHg = 0.1333 kPa.)

The state ``y`` (12,) is laid out as :data:`STATE_NAMES`.  Everything here is
a pure function of ``(t, y, model)``: jit it, ``vmap`` it over a batch of
models (:class:`ClosedLoop` is a pytree of parameters), differentiate it.

Coupling to a finite-element chamber: a chamber's law is a field of
:class:`ClosedLoop` and can be swapped (:meth:`ClosedLoop.with_chamber`),
e.g. for a :class:`PrescribedPressure` holding the pressure the 3D model
computed; the right-hand side also takes the chamber pressures as a
function argument (``pressures=``).  :func:`implicit_step` advances one step
with the pressures given; :func:`implicit_step_volume` advances one step
with a chamber's volume given and returns the pressure that chamber must
have.  Both are implicit steps (backward Euler; the first also trapezoidal)
solved by Newton's method in JAX, jittable and differentiable.

Precision: the functions work in JAX's default float type.  Use float64
(``with jax.enable_x64(True):``) for calibration and accuracy: in float32
Newton's method stops at a tolerance of 1e-5 (:mod:`._integrate`) and the
blood volume drifts by about 1e-6 over ten beats, against 1e-14 in float64.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Protocol

import jax
import jax.numpy as jnp
import numpy as np

from .._pytree import Parameterised, pytree_dataclass
from ..errors import ConvergenceError, ParameterError
from ..units import MMHG_IN_KPA
from . import _integrate

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
]

#: Names of the 12 states, in the order of the state vector.
STATE_NAMES: tuple[str, ...] = (
    "V_LA", "V_LV", "V_RA", "V_RV",
    "p_AR_SYS", "p_VEN_SYS", "p_AR_PUL", "p_VEN_PUL",
    "Q_AR_SYS", "Q_VEN_SYS", "Q_AR_PUL", "Q_VEN_PUL",
)  # fmt: skip
#: Unit of each state, by the first letter of its name.
STATE_UNITS = {"V": "mm^3", "p": "kPa", "Q": "mm^3/s"}
#: The chambers, in the order of :func:`chamber_pressures`.
CHAMBERS: tuple[str, ...] = ("LA", "LV", "RA", "RV")
#: The valves (mitral, aortic, tricuspid, pulmonary), in the order of :func:`valve_flows`.
VALVES: tuple[str, ...] = ("MV", "AV", "TV", "PV")
#: The compartments holding blood, in the order of :func:`volumes`.
VOLUME_NAMES: tuple[str, ...] = CHAMBERS + ("AR_SYS", "VEN_SYS", "AR_PUL", "VEN_PUL")

_INDEX = {name: i for i, name in enumerate(STATE_NAMES)}
_VESSELS = ("AR_SYS", "VEN_SYS", "AR_PUL", "VEN_PUL")

# Unit conversions used by the named constructors (tables in mmHg, mL, s).
_ML = 1e3  # mm^3
_PRESSURE = MMHG_IN_KPA  # 1 mmHg in kPa
_RESISTANCE = MMHG_IN_KPA / _ML  # 1 mmHg s/mL in kPa s/mm^3
_COMPLIANCE = _ML / MMHG_IN_KPA  # 1 mL/mmHg in mm^3/kPa
_INERTANCE = MMHG_IN_KPA / _ML  # 1 mmHg s^2/mL in kPa s^2/mm^3
_ELASTANCE = MMHG_IN_KPA / _ML  # 1 mmHg/mL in kPa/mm^3

#: Newton stop test: typical magnitude of each state [mm^3, kPa, mm^3/s]
#: (1 mL, 1 mmHg, 1 mL/s), added to |y_i| so that a state passing through 0
#: (a flow) is converged to an absolute, not a relative, tolerance.
_NEWTON_SCALE = np.array([_ML] * 4 + [_PRESSURE] * 4 + [_ML] * 4)


def state_index(name: str) -> int:
    """Position of a state in the state vector, e.g. ``state_index("V_LV") == 1``."""
    try:
        return _INDEX[name]
    except KeyError:
        raise ParameterError(
            f"unknown state {name!r}; the states are {', '.join(STATE_NAMES)}"
        ) from None


class ChamberLaw(Protocol):
    """A chamber's pressure-volume law: any pytree with this method."""

    def pressure(self, t: jax.Array, V: jax.Array, period: jax.Array) -> jax.Array:
        """Chamber pressure [kPa] at time ``t`` [s] and volume ``V`` [mm^3].

        ``period`` is the heartbeat period [s] of the model.
        """
        ...


@pytree_dataclass
class TimeVaryingElastance(Parameterised):
    """Chamber pressure ``p = (E_B + E_A phi(t)) (V - V0)``.

    The activation (Regazzoni et al. 2022) rises as a half cosine
    during the contraction and falls as one during the relaxation that
    follows it, periodically with the heartbeat period ``T``::

        phi(t) = (1 - cos(pi s_C / T_C)) / 2   if 0 <= s_C < T_C,
                 (1 + cos(pi s_R / T_R)) / 2   else if 0 <= s_R < T_R,
                 0                             otherwise,
        s_C = (t - t_C) mod T,   s_R = (t - t_C - T_C) mod T.

    If ``T_C + T_R > T`` the two phases overlap and the contraction wins.

    Args:
        EA: active elastance, the amplitude of the activation [kPa/mm^3], >= 0.
        EB: passive (baseline) elastance [kPa/mm^3], > 0.
        V0: unstressed volume [mm^3], >= 0.
        tC: onset of the contraction within the beat [s].
        TC: duration of the contraction [s], > 0.
        TR: duration of the relaxation [s], > 0.
    """

    EA: float
    EB: float
    V0: float
    tC: float
    TC: float
    TR: float
    _positive = ("EB", "TC", "TR")
    _non_negative = ("EA", "V0")

    def activation(self, t: jax.Array, period: jax.Array) -> jax.Array:
        """Activation ``phi(t)`` in [0, 1] (dimensionless).

        Both phases are measured from one phase ``s_C`` (with the
        contraction first, ``s_R = s_C - T_C`` wherever the relaxation
        counts), so that round-off in ``t`` cannot put a time at the end of
        the contraction (``s_C`` just above ``T_C``) at the end of the beat
        instead of the start of the relaxation (``s_R`` just below ``T``),
        which two separate ``mod`` would do at some beats of a long run.
        """
        s = jnp.mod(t - self.tC, period)
        rise = (1 - jnp.cos(jnp.pi * s / self.TC)) / 2
        fall = (1 + jnp.cos(jnp.pi * (s - self.TC) / self.TR)) / 2
        return jnp.where(s < self.TC, rise, jnp.where(s - self.TC < self.TR, fall, 0.0))

    def elastance(self, t: jax.Array, period: jax.Array) -> jax.Array:
        """Elastance ``E_B + E_A phi(t)`` [kPa/mm^3]."""
        return self.EB + self.EA * self.activation(t, period)

    def pressure(self, t: jax.Array, V: jax.Array, period: jax.Array) -> jax.Array:
        """Chamber pressure [kPa] at volume ``V`` [mm^3]."""
        return self.elastance(t, period) * (V - self.V0)


@pytree_dataclass
class PrescribedPressure(Parameterised):
    """A chamber whose pressure is given from outside (e.g. a finite-element model).

    Args:
        p: the chamber pressure [kPa], whatever the volume.
    """

    p: float

    def pressure(self, t: jax.Array, V: jax.Array, period: jax.Array) -> jax.Array:
        """The prescribed pressure [kPa] (independent of ``t`` and ``V``)."""
        return self.p + jnp.zeros_like(V)


@pytree_dataclass
class Valve(Parameterised):
    """A valve as a smooth diode: flow ``Q = (p_up - p_down) / R(p_down - p_up)``.

    The resistance goes from ``R_min`` (open, forward pressure drop) to
    ``R_max`` (closed, backward drop) smoothly, log-linearly in a smooth
    step of the pressure difference::

        R = R_min (R_max / R_min)^H,   H = 1/2 + arctan((p_down - p_up) / w) / pi.

    Regazzoni et al. (2022) use the sharp diode (``w -> 0``); the smooth one
    of the ``circulation`` package (``w = 1/(100 pi)`` mmHg, its
    ``smooth_heavyside``) makes the right-hand side differentiable, which
    Newton's method and ``jax.grad`` need.

    Args:
        R_min: resistance of the open valve [kPa s/mm^3], > 0.
        R_max: resistance of the closed valve [kPa s/mm^3], > 0.
        width: pressure difference over which the valve switches [kPa], > 0.
    """

    R_min: float
    R_max: float
    width: float
    _positive = ("R_min", "R_max", "width")

    def resistance(self, p_up: jax.Array, p_down: jax.Array) -> jax.Array:
        """Resistance [kPa s/mm^3] for the upstream and downstream pressures [kPa]."""
        H = 0.5 + jnp.arctan((p_down - p_up) / self.width) / jnp.pi
        return self.R_min * jnp.exp(H * jnp.log(self.R_max / self.R_min))

    def flow(self, p_up: jax.Array, p_down: jax.Array) -> jax.Array:
        """Forward flow [mm^3/s] (negative: regurgitation through the closed valve)."""
        return (p_up - p_down) / self.resistance(p_up, p_down)


@pytree_dataclass
class Vessel(Parameterised):
    """An R-C-L compartment: a compliance whose pressure drives an inertial outflow.

    Args:
        R: resistance [kPa s/mm^3], > 0.
        C: compliance [mm^3/kPa], > 0.
        L: inertance [kPa s^2/mm^3], > 0.
    """

    R: float
    C: float
    L: float
    _positive = ("R", "C", "L")


@pytree_dataclass
class ClosedLoop(Parameterised):
    """Parameters of the closed loop: a pytree, so ``vmap``/``grad`` see them all.

    Args:
        period: heartbeat period [s], > 0.
        LA, LV, RA, RV: the chambers' pressure-volume laws
            (:class:`TimeVaryingElastance`, :class:`PrescribedPressure`, or any
            pytree with the :class:`ChamberLaw` method).
        MV, AV, TV, PV: the mitral, aortic, tricuspid and pulmonary valves.
        AR_SYS, VEN_SYS, AR_PUL, VEN_PUL: systemic and pulmonary arteries and veins.
    """

    period: float
    LA: ChamberLaw
    LV: ChamberLaw
    RA: ChamberLaw
    RV: ChamberLaw
    MV: Valve
    AV: Valve
    TV: Valve
    PV: Valve
    AR_SYS: Vessel
    VEN_SYS: Vessel
    AR_PUL: Vessel
    VEN_PUL: Vessel
    _positive = ("period",)

    @classmethod
    def regazzoni_2022(cls) -> ClosedLoop:
        """Regazzoni et al. (2022), J. Comput. Phys. 457:111083: its circulation table.

        Heart rate 75 beats/min (period 0.8 s).  The values (in the paper's
        mmHg, mL, s below, converted to organfem's units) are the paper's
        table as transcribed by two implementations of this model, which
        agree on all of them but the activation times: Thunderbolt.jl
        (``RSAFDQ2022LumpedCicuitModel``, citing the paper) and the
        ``circulation`` package before version 0.4 (citing the arXiv
        preprint 2011.15040, whose atria all contract at ``t_C = 0.8`` s
        for 0.17 s and relax in 0.17 s, and whose right ventricle contracts
        for 0.34 s).  The activation times here are Thunderbolt.jl's, with
        the right atrium's read in the order of the left's (onset 0.56 s,
        contraction 0.064 s, relaxation 0.64 s).  Version 0.4 of
        ``circulation`` ships recalibrated defaults (e.g. ``E_A`` of the LV
        4.482 mmHg/mL, ``C_VEN_SYS`` 11.363 mL/mmHg), not these.

        * arteries and veins: ``R_AR_SYS = 0.8``, ``R_VEN_SYS = 0.26``,
          ``R_AR_PUL = R_VEN_PUL = 0.1625`` mmHg s/mL; ``C_AR_SYS = 1.2``,
          ``C_VEN_SYS = 60``, ``C_AR_PUL = 10``, ``C_VEN_PUL = 16`` mL/mmHg;
          ``L_AR_SYS = 5e-3``, the other inertances 5e-4 mmHg s^2/mL;
        * valves: ``R_min = 0.0075``, ``R_max = 75006.2`` mmHg s/mL (1e6
          and 1e10 Pa s/m^3), switching over ``1/(100 pi)`` mmHg as in
          ``circulation`` (the paper's diode is sharp; :class:`Valve`);
        * chambers (``E_A``, ``E_B`` mmHg/mL; ``V0`` mL; ``t_C``, ``T_C``,
          ``T_R`` s): LA 0.07, 0.09; 4; 0.6, 0.104, 0.68.  RA 0.06, 0.07;
          4; 0.56, 0.064, 0.64.  RV 0.55, 0.05; 10; 0, 0.272, 0.12.
        * the left ventricle, a 3D electromechanical model in the paper,
          has the elastance both implementations use for the standalone
          loop: 2.75, 0.08; 5; 0, 0.34, 0.17.
        """
        valve = Valve(
            R_min=0.0075 * _RESISTANCE,
            R_max=75006.2 * _RESISTANCE,
            width=_PRESSURE / (100 * np.pi),
        )

        def chamber(EA, EB, V0, tC, TC, TR):  # mmHg/mL, mL, s
            return TimeVaryingElastance(
                EA=EA * _ELASTANCE, EB=EB * _ELASTANCE, V0=V0 * _ML, tC=tC, TC=TC, TR=TR
            )

        def vessel(R, C, L):  # mmHg s/mL, mL/mmHg, mmHg s^2/mL
            return Vessel(R=R * _RESISTANCE, C=C * _COMPLIANCE, L=L * _INERTANCE)

        return cls(
            period=0.8,
            LA=chamber(EA=0.07, EB=0.09, V0=4.0, tC=0.6, TC=0.104, TR=0.68),
            LV=chamber(EA=2.75, EB=0.08, V0=5.0, tC=0.0, TC=0.34, TR=0.17),
            RA=chamber(EA=0.06, EB=0.07, V0=4.0, tC=0.56, TC=0.064, TR=0.64),
            RV=chamber(EA=0.55, EB=0.05, V0=10.0, tC=0.0, TC=0.272, TR=0.12),
            MV=valve, AV=valve, TV=valve, PV=valve,
            AR_SYS=vessel(R=0.8, C=1.2, L=5e-3),
            VEN_SYS=vessel(R=0.26, C=60.0, L=5e-4),
            AR_PUL=vessel(R=0.1625, C=10.0, L=5e-4),
            VEN_PUL=vessel(R=0.1625, C=16.0, L=5e-4),
        )  # fmt: skip

    def chambers(self) -> tuple[ChamberLaw, ...]:
        """The chamber laws in the order of :data:`CHAMBERS`."""
        return tuple(getattr(self, name) for name in CHAMBERS)

    def valves(self) -> tuple[Valve, ...]:
        """The valves in the order of :data:`VALVES`."""
        return tuple(getattr(self, name) for name in VALVES)

    def vessels(self) -> tuple[Vessel, ...]:
        """The vessels in the order ``AR_SYS, VEN_SYS, AR_PUL, VEN_PUL``."""
        return tuple(getattr(self, name) for name in _VESSELS)

    def with_chamber(self, name: str, law: ChamberLaw) -> ClosedLoop:
        """A copy with chamber ``name`` (``"LA"``, ``"LV"``, ``"RA"``, ``"RV"``) given ``law``."""
        if name not in CHAMBERS:
            raise ParameterError(f"unknown chamber {name!r}; the chambers are {CHAMBERS}")
        return dataclasses.replace(self, **{name: law})


def initial_state(**values: float) -> jax.Array:
    """A state vector (12,) in organfem's units, from named values.

    Unnamed states take the values used as initial condition with this
    model by the ``circulation`` package (up to version 0.3): chamber
    volumes LA 65, LV 120, RA 65, RV 145 mL; pressures AR_SYS 80, VEN_SYS
    30, AR_PUL 35, VEN_PUL 24 mmHg; flows 0.  The loop is attracted to its
    limit cycle from any such state; only the total volume
    (:func:`total_volume`) is kept, so it sets the cycle.

    Args:
        values: states by name (:data:`STATE_NAMES`) in mm^3, kPa, mm^3/s.
    """
    default = dict(
        V_LA=65.0 * _ML, V_LV=120.0 * _ML, V_RA=65.0 * _ML, V_RV=145.0 * _ML,
        p_AR_SYS=80.0 * _PRESSURE, p_VEN_SYS=30.0 * _PRESSURE,
        p_AR_PUL=35.0 * _PRESSURE, p_VEN_PUL=24.0 * _PRESSURE,
        Q_AR_SYS=0.0, Q_VEN_SYS=0.0, Q_AR_PUL=0.0, Q_VEN_PUL=0.0,
    )  # fmt: skip
    for name in values:
        state_index(name)  # raises on an unknown name
    default.update(values)
    return jnp.asarray([default[name] for name in STATE_NAMES], dtype=float)


def state_dict(y: jax.Array) -> dict[str, jax.Array]:
    """The state vector (..., 12) as a dict of named arrays (...,)."""
    return {name: y[..., i] for i, name in enumerate(STATE_NAMES)}


def chamber_pressures(t: jax.Array, y: jax.Array, model: ClosedLoop) -> jax.Array:
    """Pressures of LA, LV, RA, RV [kPa] (4,) from the chambers' laws.

    This is the default ``pressures`` argument of :func:`rhs`: any function
    with this signature may replace it.
    """
    V = y[:4]
    return jnp.stack(
        [law.pressure(t, V[i], model.period) for i, law in enumerate(model.chambers())]
    )


def valve_flows(p: jax.Array, y: jax.Array, model: ClosedLoop) -> jax.Array:
    """Flows through MV, AV, TV, PV [mm^3/s] (4,) for chamber pressures ``p`` (4,)."""
    p_LA, p_LV, p_RA, p_RV = p[0], p[1], p[2], p[3]
    return jnp.stack([
        model.MV.flow(p_LA, p_LV),
        model.AV.flow(p_LV, y[_INDEX["p_AR_SYS"]]),
        model.TV.flow(p_RA, p_RV),
        model.PV.flow(p_RV, y[_INDEX["p_AR_PUL"]]),
    ])  # fmt: skip


Pressures = Callable[[jax.Array, jax.Array, ClosedLoop], jax.Array]


def rhs(t: jax.Array, y: jax.Array, model: ClosedLoop,
        pressures: Pressures = chamber_pressures) -> jax.Array:
    """Time derivative of the state, ``dy/dt`` (12,).

    Args:
        t: time [s].
        y: state (12,), laid out as :data:`STATE_NAMES`.
        model: the parameters.
        pressures: ``pressures(t, y, model) -> (4,)``, the chamber pressures
            [kPa] of LA, LV, RA, RV; by default each chamber's own law.
    """
    p = pressures(t, y, model)
    Q_MV, Q_AV, Q_TV, Q_PV = valve_flows(p, y, model)
    p_LA, p_RA = p[0], p[2]
    p_AR_SYS, p_VEN_SYS, p_AR_PUL, p_VEN_PUL = y[4], y[5], y[6], y[7]
    Q_AR_SYS, Q_VEN_SYS, Q_AR_PUL, Q_VEN_PUL = y[8], y[9], y[10], y[11]
    AR_SYS, VEN_SYS, AR_PUL, VEN_PUL = model.vessels()
    return jnp.stack([
        Q_VEN_PUL - Q_MV,
        Q_MV - Q_AV,
        Q_VEN_SYS - Q_TV,
        Q_TV - Q_PV,
        (Q_AV - Q_AR_SYS) / AR_SYS.C,
        (Q_AR_SYS - Q_VEN_SYS) / VEN_SYS.C,
        (Q_PV - Q_AR_PUL) / AR_PUL.C,
        (Q_AR_PUL - Q_VEN_PUL) / VEN_PUL.C,
        (p_AR_SYS - p_VEN_SYS - AR_SYS.R * Q_AR_SYS) / AR_SYS.L,
        (p_VEN_SYS - p_RA - VEN_SYS.R * Q_VEN_SYS) / VEN_SYS.L,
        (p_AR_PUL - p_VEN_PUL - AR_PUL.R * Q_AR_PUL) / AR_PUL.L,
        (p_VEN_PUL - p_LA - VEN_PUL.R * Q_VEN_PUL) / VEN_PUL.L,
    ])  # fmt: skip


def volumes(y: jax.Array, model: ClosedLoop) -> dict[str, jax.Array]:
    """Blood volume [mm^3] of each compartment (:data:`VOLUME_NAMES`).

    Chambers hold their state volume; vessels their stressed volume
    ``C p`` (the model has no unstressed vessel volume).  ``y`` may carry
    leading axes (a trajectory): each volume then has them.
    """
    out = {name: y[..., i] for i, name in enumerate(CHAMBERS)}
    for i, (name, vessel) in enumerate(zip(_VESSELS, model.vessels(), strict=True)):
        out[name] = vessel.C * y[..., 4 + i]
    return out


def total_volume(y: jax.Array, model: ClosedLoop) -> jax.Array:
    """Total blood volume [mm^3]: the sum of :func:`volumes`, conserved by the loop."""
    parts = volumes(y, model)
    return functools.reduce(jnp.add, (parts[name] for name in VOLUME_NAMES))


@functools.partial(jax.jit, static_argnames=("theta", "pressures", "tol", "max_iter"))
def implicit_step(model: ClosedLoop, y: jax.Array, t: jax.Array, dt: jax.Array, *,
                  theta: float = 1.0, pressures: Pressures = chamber_pressures,
                  tol: float | None = None,
                  max_iter: int = _integrate.NEWTON_MAX_ITER):
    """One implicit step from ``t`` to ``t + dt``, solved by Newton's method.

    ``y1 = y + dt (theta f(t + dt, y1) + (1 - theta) f(t, y))``: backward
    Euler for ``theta = 1`` (the default; L-stable, so the valves' fast
    time scales are damped), the trapezoidal rule for ``theta = 1/2``.
    Jitted; differentiable in ``model``, ``y``, ``t`` and ``dt`` by the
    implicit function theorem.

    For a 3D-0D coupling with a given chamber pressure, put a
    :class:`PrescribedPressure` in the model (:meth:`ClosedLoop.with_chamber`)
    or pass ``pressures``: the chamber volume then advances with the valve
    flows that pressure drives.

    Args:
        model: the parameters.
        y: state at ``t`` (12,).
        t: time [s].
        dt: step [s].
        theta: 1 (backward Euler) or 1/2 (trapezoidal); static.
        pressures: the chamber pressures (see :func:`rhs`); static.
        tol: Newton tolerance on the relative update of each state,
            ``|dy_i| / (|y_i| + s_i)`` with ``s`` 1 mL, 1 mmHg, 1 mL/s; by
            default 1e-10 in float64, 1e-5 in float32; static.
        max_iter: most Newton iterations.

    Returns:
        ``(y1, converged)``: the state at ``t + dt`` and whether Newton's
        method met ``tol``.
    """

    def f(s, z):
        return rhs(s, z, model, pressures)

    return _integrate.theta_step(
        f, t, y, dt, theta, scale=jnp.asarray(_NEWTON_SCALE, dtype=y.dtype),
        tol=tol, max_iter=max_iter,
    )


@functools.partial(jax.jit, static_argnames=("chamber", "pressures", "tol", "max_iter"))
def implicit_step_volume(model: ClosedLoop, y: jax.Array, t: jax.Array, dt: jax.Array,
                         volume: jax.Array, *, chamber: str = "LV", guess=None,
                         pressures: Pressures = chamber_pressures,
                         tol: float | None = None,
                         max_iter: int = _integrate.NEWTON_MAX_ITER):
    """One backward-Euler step with a chamber's volume at ``t + dt`` given.

    The chamber's pressure becomes the unknown in place of its volume: it
    is the pressure for which the valve flows move the chamber from its
    volume in ``y`` to ``volume`` over the step (its own law is not used).
    This is the 0D half of a 3D-0D coupling in which the finite-element
    chamber gives the volume and needs the pressure.  When both of the
    chamber's valves are closed (isovolumic phases) the pressure is
    determined only through the closed valves' leak (``1/R_max``), so a
    small error in ``volume`` moves it a lot: couple with the pressure
    given (:func:`implicit_step`) in those phases.

    Args:
        model: the parameters.
        y: state at ``t`` (12,).
        t: time [s].
        dt: step [s].
        volume: the chamber's volume at ``t + dt`` [mm^3].
        chamber: ``"LA"``, ``"LV"``, ``"RA"`` or ``"RV"``; static.
        guess: first guess of the chamber's pressure [kPa]; by default its
            law's pressure at ``t + dt`` and ``volume``.
        pressures: the other chambers' pressures (see :func:`rhs`); static.
        tol: Newton tolerance (see :func:`implicit_step`); static.
        max_iter: most Newton iterations.

    Returns:
        ``(y1, p, converged)``: the state at ``t + dt`` (with ``volume`` in
        the chamber's slot), the chamber's pressure [kPa] and whether
        Newton's method met ``tol``.
    """
    if chamber not in CHAMBERS:
        raise ParameterError(f"unknown chamber {chamber!r}; the chambers are {CHAMBERS}")
    c = CHAMBERS.index(chamber)
    i = _INDEX["V_" + chamber]
    volume = jnp.asarray(volume, dtype=y.dtype)

    def residual(z):
        y1 = z.at[i].set(volume)

        def given(s, w, m):
            return pressures(s, w, m).at[c].set(z[i])

        return y1 - y - dt * rhs(t + dt, y1, model, given)

    if guess is None:
        guess = pressures(t + dt, y.at[i].set(volume), model)[c]
    scale = jnp.asarray(_NEWTON_SCALE, dtype=y.dtype).at[i].set(_PRESSURE)
    z, converged = _integrate.newton(
        residual, y.at[i].set(guess), scale, tol=tol, max_iter=max_iter
    )
    return z.at[i].set(volume), z[i], converged


@pytree_dataclass
class Trajectory:
    """Saved states and derived quantities of a run (a pytree of arrays).

    Attributes:
        t: times [s] (m,).
        y: states (m, 12), laid out as :data:`STATE_NAMES`.
        p: chamber pressures of LA, LV, RA, RV [kPa] (m, 4).
        Q: flows through MV, AV, TV, PV [mm^3/s] (m, 4).
        failures: number of steps whose Newton solve did not converge.
        interval: time between saved states [s] (static).
    """

    t: jax.Array
    y: jax.Array
    p: jax.Array
    Q: jax.Array
    failures: jax.Array
    interval: float = jax.tree.static()

    def __getitem__(self, name: str) -> jax.Array:
        """A series by name: a state (``"V_LV"``), ``"p_LV"`` etc. or ``"Q_AV"`` etc."""
        if name in _INDEX:
            return self.y[..., _INDEX[name]]
        if name.startswith("p_") and name[2:] in CHAMBERS:
            return self.p[..., CHAMBERS.index(name[2:])]
        if name.startswith("Q_") and name[2:] in VALVES:
            return self.Q[..., VALVES.index(name[2:])]
        known = STATE_NAMES + tuple(f"p_{c}" for c in CHAMBERS) + tuple(f"Q_{v}" for v in VALVES)
        raise KeyError(f"unknown series {name!r}; the series are {', '.join(known)}")


def _steps(t_end: float, dt: float, save_every: int) -> int:
    """Number of steps of ``dt`` in ``t_end`` (a whole multiple of ``save_every``)."""
    n = round(t_end / dt)
    if n < 1 or abs(n * dt - t_end) > 1e-9 * max(t_end, dt):
        raise ParameterError(f"t_end={t_end!r} s is not a whole number of steps dt={dt!r} s")
    if save_every < 1 or n % save_every:
        raise ParameterError(f"save_every={save_every!r} must divide the {n} steps")
    return n


@functools.partial(
    jax.jit,
    static_argnames=("theta", "n_steps", "save_every", "method", "pressures", "tol", "max_iter"),
)
def _simulate(model, y0, t0, dt, *, theta, n_steps, save_every, method, pressures,
              tol, max_iter):
    def f(s, z):
        return rhs(s, z, model, pressures)

    if method == "rk4":

        def step(s, z):
            return _integrate.rk4_step(f, s, z, dt), True

    else:
        scale = jnp.asarray(_NEWTON_SCALE, dtype=y0.dtype)

        def step(s, z):
            return _integrate.theta_step(f, s, z, dt, theta, scale=scale, tol=tol,
                                         max_iter=max_iter)

    def observe(s, z):
        p = pressures(s, z, model)
        return p, valve_flows(p, z, model)

    return _integrate.integrate(step, observe, y0, t0, dt, n_steps, save_every)


def simulate(model: ClosedLoop, y0: jax.Array, t_end: float, dt: float, *,
             t0: float = 0.0, method: str = "implicit", theta: float = 1.0, save_every: int = 1,
             pressures: Pressures = chamber_pressures, tol: float | None = None,
             max_iter: int = _integrate.NEWTON_MAX_ITER) -> Trajectory:
    """Run the loop from ``t0`` for ``t_end`` seconds in fixed steps (``jax.lax.scan``).

    The compiled run is cached per number of steps, ``save_every``,
    ``method``, ``theta`` and ``pressures`` (and the structure of the
    model): new parameter values, initial states or ``dt`` do not
    recompile.  The run can be ``vmap``-ed over a batch of models or
    states and differentiated (``jax.grad``) with respect to them.

    Args:
        model: the parameters.
        y0: state at ``t0`` (12,), e.g. :func:`initial_state`.
        t_end: duration [s], a whole number of steps (a Python number).
        dt: step [s] (a Python number).
        t0: start time [s].
        method: ``"implicit"`` (theta method, Newton's method at each step;
            backward Euler by default) or ``"rk4"`` (classical Runge-Kutta,
            explicit; stable for the default parameters up to about
            ``dt = 1e-3`` s; use ``1e-4`` s for accuracy).
        theta: 1 (backward Euler, first order) or 1/2 (trapezoidal), for
            ``"implicit"``.  The trapezoidal rule is not L-stable and loses
            its second order at the valves' switches (the error falls 2.7
            times from dt = 1 to 0.5 ms, 6 times from 2 to 1 ms).
        save_every: save every this many steps.
        pressures: the chamber pressures (see :func:`rhs`).
        tol: Newton tolerance (``"implicit"``; see :func:`implicit_step`).
        max_iter: most Newton iterations per step (``"implicit"``).

    Returns:
        The :class:`Trajectory`, including the initial state.

    Raises:
        ParameterError: ``t_end`` is not a whole number of steps, or
            ``save_every`` does not divide them, or ``method`` is unknown.
        ConvergenceError: Newton's method failed at some step (checked only
            when the run is not traced, e.g. not under ``jax.grad``).
    """
    if method not in ("implicit", "rk4"):
        raise ParameterError(f"method={method!r} must be 'implicit' or 'rk4'")
    n = _steps(float(t_end), float(dt), save_every)
    interval = float(dt) * save_every
    # Python numbers and arrays alike as arrays of the default float type, so
    # that a model built from numbers and one sliced from a batch share the
    # compiled run (JAX keys its cache on weak types too).
    real = jnp.result_type(float)
    model, y0, t0, dt = jax.tree.map(
        lambda leaf: jnp.asarray(leaf, dtype=real), (model, y0, t0, dt)
    )
    t, y, (p, Q), failures = _simulate(
        model, y0, t0, dt, theta=float(theta), n_steps=n, save_every=save_every,
        method=method, pressures=pressures, tol=tol, max_iter=max_iter,
    )
    if not isinstance(failures, jax.core.Tracer) and int(failures):
        tol = _integrate.newton_tolerance(real) if tol is None else tol
        raise ConvergenceError(
            f"Newton's method did not converge to {tol:g} in {max_iter} iterations "
            f"at {int(failures)} of {n} steps of dt={interval / save_every:g} s; "
            "reduce dt (or raise tol, if it is near the round-off of the float type)"
        )
    return Trajectory(t=t, y=y, p=p, Q=Q, failures=failures, interval=interval)

"""Time integrators: velocity and acceleration as affine functions of ``u_{n+1}``.

Every integrator writes the end-of-step velocity and acceleration as

    v_{n+1} = c_v u_{n+1} + v*,    a_{n+1} = c_a u_{n+1} + a*,

with ``c_v``, ``c_a`` numbers and ``v*``, ``a*`` fields from the history, so
the residual is always the equation of motion at ``t_{n+1}`` and the
constraints (incompressibility, cavity volumes) hold at the end-of-step
state, never at interpolated states.

:class:`GeneralisedAlpha` is the form of Arnold & Bruls (2007, Multibody
Syst. Dyn. 18:185) of the Chung-Hulbert (1993, J. Appl. Mech. 60:371)
method: the equation of motion holds at ``t_{n+1}`` with the true
acceleration ``q''``, and an auxiliary acceleration ``a`` carries the
alpha-weighting,

    (1 - alpha_m) a_{n+1} + alpha_m a_n = (1 - alpha_f) q''_{n+1} + alpha_f q''_n,
    u_{n+1} = u_n + h v_n + h^2 (1/2 - beta) a_n + h^2 beta a_{n+1},
    v_{n+1} = v_n + h (1 - gamma) a_n + h gamma a_{n+1}.

It is second-order accurate for any spectral radius at infinity
``rho_inf`` in [0, 1]; ``rho_inf = 1`` is the trapezoidal rule (Newmark
beta = 1/4, gamma = 1/2: no numerical dissipation), ``rho_inf = 0``
annihilates the highest frequencies in one step.  Arnold and Bruls show
that this form keeps second order for the Lagrange multipliers of
constrained systems, where enforcing constraints at alpha-states does not.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import ParameterError

__all__ = ["Integrator", "QuasiStatic", "GeneralisedAlpha", "Newmark", "BackwardEuler", "BDF2"]


@dataclasses.dataclass(frozen=True)
class Coefficients:
    """``v = c_v u + v_star``, ``a = c_a u + a_star`` (arrays on the displacement space)."""

    c_v: float
    c_a: float
    v_star: np.ndarray
    a_star: np.ndarray


class Integrator:
    """Base class. History lives in the problem's state as named arrays:
    ``u``, ``v``, ``a`` (true acceleration) always, plus :attr:`history`."""

    #: extra arrays on the displacement space this integrator keeps
    history: tuple[str, ...] = ()
    #: whether inertia and damping terms see a velocity/acceleration
    dynamic: bool = True

    def coefficients(self, state: dict[str, np.ndarray], h: float, step: int, h_prev: float) -> Coefficients:
        raise NotImplementedError

    def finish(self, state: dict[str, np.ndarray], u_new: np.ndarray, h: float, step: int, h_prev: float) -> dict[str, np.ndarray]:
        """The history arrays after a converged step to ``u_new``."""
        raise NotImplementedError

    def describe(self) -> dict:
        return {"integrator": type(self).__name__, **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True)
class QuasiStatic(Integrator):
    """No inertia; velocities by backward differences, so that dashpots and
    viscosity act in slow (creeping) motion in time.

    Args:
        viscous: False on a pseudo-time path (:func:`ramp` uses it so): the
            velocity seen by dashpots and viscosity is zero, since a rate in
            pseudo-time means nothing.
    """

    viscous: bool = True
    dynamic = False

    def coefficients(self, state, h, step, h_prev):
        zero = np.zeros_like(state["u"])
        if not self.viscous:
            return Coefficients(0.0, 0.0, zero, zero)
        return Coefficients(1.0 / h, 0.0, -state["u"] / h, zero)

    def finish(self, state, u_new, h, step, h_prev):
        return {"u": u_new, "v": (u_new - state["u"]) / h, "a": np.zeros_like(u_new)}


@dataclasses.dataclass(frozen=True)
class GeneralisedAlpha(Integrator):
    """Generalised-alpha (Chung & Hulbert 1993) in the form of Arnold & Bruls (2007).

    Args:
        rho_inf: spectral radius at infinite frequency, in [0, 1]; 1 gives the
            trapezoidal rule (energy-conserving for linear systems).
    """

    rho_inf: float = 0.8
    history = ("a_aux",)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rho_inf <= 1.0:
            raise ParameterError(f"GeneralisedAlpha: rho_inf={self.rho_inf!r} must lie in [0, 1]")

    @property
    def parameters(self) -> tuple[float, float, float, float]:
        """``(alpha_m, alpha_f, beta, gamma)`` of Chung & Hulbert (1993), eq. (25)."""
        r = self.rho_inf
        am = (2 * r - 1) / (r + 1)
        af = r / (r + 1)
        gamma = 0.5 - am + af
        beta = 0.25 * (1 - am + af) ** 2
        return am, af, beta, gamma

    def coefficients(self, state, h, step, h_prev):
        am, af, beta, gamma = self.parameters
        u, v, a, aux = state["u"], state["v"], state["a"], state["a_aux"]
        # aux_{n+1} = (u_{n+1} - pred) / (h^2 beta), pred = u + h v + h^2 (1/2 - beta) aux
        pred = u + h * v + h * h * (0.5 - beta) * aux
        c_aux = 1.0 / (h * h * beta)
        v_star = v + h * (1 - gamma) * aux - h * gamma * c_aux * pred
        a_star = ((1 - am) * (-c_aux * pred) + am * aux - af * a) / (1 - af)
        return Coefficients(h * gamma * c_aux, (1 - am) * c_aux / (1 - af), v_star, a_star)

    def finish(self, state, u_new, h, step, h_prev):
        am, af, beta, gamma = self.parameters
        u, v, a, aux = state["u"], state["v"], state["a"], state["a_aux"]
        aux_new = (u_new - u - h * v - h * h * (0.5 - beta) * aux) / (h * h * beta)
        v_new = v + h * (1 - gamma) * aux + h * gamma * aux_new
        a_new = ((1 - am) * aux_new + am * aux - af * a) / (1 - af)
        return {"u": u_new, "v": v_new, "a": a_new, "a_aux": aux_new}


def Newmark(beta: float = 0.25, gamma: float = 0.5) -> Integrator:
    """The Newmark method with parameters ``beta``, ``gamma``.

    The default (1/4, 1/2), the trapezoidal rule, is :class:`GeneralisedAlpha`
    with ``rho_inf = 1`` (then ``alpha_m = alpha_f`` and the auxiliary and true
    accelerations coincide).
    """
    if (beta, gamma) == (0.25, 0.5):
        return GeneralisedAlpha(rho_inf=1.0)
    return _Newmark(beta, gamma)


@dataclasses.dataclass(frozen=True)
class _Newmark(GeneralisedAlpha):
    beta: float = 0.25
    gamma: float = 0.5
    rho_inf: float = 1.0

    def __post_init__(self) -> None:
        if not (self.beta > 0 and self.gamma >= 0.5):
            raise ParameterError(
                f"Newmark: beta={self.beta!r} must be > 0 and gamma={self.gamma!r} >= 1/2"
            )

    @property
    def parameters(self):
        return 0.0, 0.0, self.beta, self.gamma


@dataclasses.dataclass(frozen=True)
class BackwardEuler(Integrator):
    """First-order backward Euler for ``u`` and ``v`` (strongly dissipative)."""

    def coefficients(self, state, h, step, h_prev):
        u, v = state["u"], state["v"]
        return Coefficients(1.0 / h, 1.0 / h**2, -u / h, -u / h**2 - v / h)

    def finish(self, state, u_new, h, step, h_prev):
        v_new = (u_new - state["u"]) / h
        return {"u": u_new, "v": v_new, "a": (v_new - state["v"]) / h}


@dataclasses.dataclass(frozen=True)
class BDF2(Integrator):
    """Second-order backward differences with variable steps; backward Euler
    for the first step.  ``y'_{n+1} = (a0 y_{n+1} + a1 y_n + a2 y_{n-1}) / h``
    with ``w = h / h_prev``, ``a0 = (1 + 2w)/(1 + w)``, ``a1 = -(1 + w)``,
    ``a2 = w^2 / (1 + w)``, applied to ``u`` and to ``v``."""

    history = ("u_prev", "v_prev")

    @staticmethod
    def _weights(step: int, h: float, h_prev: float) -> tuple[float, float, float]:
        if step == 0 or h_prev <= 0:
            return 1.0, -1.0, 0.0
        w = h / h_prev
        return (1 + 2 * w) / (1 + w), -(1 + w), w * w / (1 + w)

    def coefficients(self, state, h, step, h_prev):
        a0, a1, a2 = self._weights(step, h, h_prev)
        v_star = (a1 * state["u"] + a2 * state["u_prev"]) / h
        a_star = (a0 * v_star + a1 * state["v"] + a2 * state["v_prev"]) / h
        return Coefficients(a0 / h, a0 * a0 / h**2, v_star, a_star)

    def finish(self, state, u_new, h, step, h_prev):
        a0, a1, a2 = self._weights(step, h, h_prev)
        v_new = (a0 * u_new + a1 * state["u"] + a2 * state["u_prev"]) / h
        a_new = (a0 * v_new + a1 * state["v"] + a2 * state["v_prev"]) / h
        return {"u": u_new, "v": v_new, "a": a_new, "u_prev": state["u"], "v_prev": state["v"]}

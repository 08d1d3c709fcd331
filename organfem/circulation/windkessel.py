"""Two- and three-element Windkessel models: arterial pressure from inflow.

The two-element Windkessel (Frank 1899) is a compliance ``C`` emptying
through a peripheral resistance ``R`` into a reservoir at ``p_out``::

    C dp/dt = Q(t) - (p - p_out) / R.

The three-element Windkessel (Westerhof et al. 1971) puts a characteristic
(proximal) resistance ``Rc`` in front of it: the state is the pressure
``p_c`` of the compliance and the inlet pressure is ``p = p_c + Rc Q``::

    C dp_c/dt = Q(t) - (p_c - p_out) / R.

Closed forms (used by the tests): for a constant inflow ``Q`` from
``p_c(0) = p0``, ``p_c(t) = p_out + Q R + (p0 - p_out - Q R) exp(-t / (R C))``;
the steady pressure is ``p_out + Q (Rc + R)``; the input impedance is
``Z(w) = Rc + R / (1 + i w R C)`` (``Rc = 0`` for two elements).

Units (organfem's mm, kPa, s): pressures kPa, flows mm^3/s, resistances
kPa s/mm^3, compliances mm^3/kPa.  The models are pytrees (``vmap`` over a
batch of them, ``grad`` with respect to their parameters).  For float64 run
under ``jax.enable_x64(True)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from .._pytree import Parameterised, pytree_dataclass
from ..errors import ParameterError
from . import _integrate

__all__ = ["Windkessel2", "Windkessel3"]

Inflow = Callable[[jax.Array], jax.Array]


class _Windkessel(Parameterised):
    """The shared behaviour: the state is the compliance pressure ``p_c`` (1,)."""

    R: float
    C: float
    p_out: float

    @property
    def proximal(self):
        """Resistance in front of the compliance [kPa s/mm^3] (0 for two elements)."""
        return 0.0

    @property
    def time_constant(self) -> jax.Array:
        """``R C`` [s], the decay time of the compliance pressure."""
        return self.R * self.C

    def rhs(self, t: jax.Array, x: jax.Array, Q: jax.Array) -> jax.Array:
        """``dp_c/dt`` [kPa/s] (1,) for the state ``x = (p_c,)`` and inflow ``Q`` [mm^3/s]."""
        return (Q - (x - self.p_out) / self.R) / self.C

    def pressure(self, x: jax.Array, Q: jax.Array) -> jax.Array:
        """Inlet pressure [kPa] for the state ``x`` (..., 1) and inflow ``Q`` [mm^3/s]."""
        return x[..., 0] + self.proximal * Q

    def impedance(self, omega: jax.Array) -> jax.Array:
        """Input impedance ``Z(omega)`` [kPa s/mm^3] (complex) at angular frequency [rad/s]."""
        return self.proximal + self.R / (1 + 1j * omega * self.R * self.C)

    def steady_pressure(self, Q: jax.Array) -> jax.Array:
        """Inlet pressure [kPa] at a constant inflow ``Q`` [mm^3/s] after the transient."""
        return self.p_out + Q * (self.proximal + self.R)

    def constant_inflow_pressure(self, Q: jax.Array, p0: jax.Array, t: jax.Array) -> jax.Array:
        """Closed form: inlet pressure [kPa] at ``t`` [s] for a constant inflow ``Q``
        [mm^3/s] from the compliance pressure ``p0`` [kPa] at ``t = 0``."""
        p_inf = self.p_out + Q * self.R
        return p_inf + (p0 - p_inf) * jnp.exp(-t / self.time_constant) + self.proximal * Q

    def implicit_step(self, x: jax.Array, Q0: jax.Array, Q1: jax.Array, dt: jax.Array,
                      theta=1.0) -> jax.Array:
        """One theta-method step of the state, solved exactly (the model is linear).

        For a 3D-0D coupling: the finite-element chamber gives the inflow at
        both ends of the step (``Q = -dV/dt`` of the ventricle).

        Args:
            x: state ``(p_c,)`` [kPa] at the start of the step.
            Q0: inflow at the start of the step [mm^3/s].
            Q1: inflow at the end of the step [mm^3/s].
            dt: step [s].
            theta: 1 (backward Euler) or 1/2 (trapezoidal).

        Returns:
            The state at the end of the step.
        """
        explicit = x + dt * (1 - theta) * self.rhs(0.0, x, Q0)
        forced = dt * theta * (Q1 + self.p_out / self.R) / self.C
        return (explicit + forced) / (1 + dt * theta / self.time_constant)

    def simulate(self, inflow: Inflow, p0: float, t_end: float, dt: float, *,
                 t0: float = 0.0, method: str = "rk4", theta=1.0,
                 save_every: int = 1) -> tuple[jax.Array, jax.Array]:
        """Inlet pressure over time for an inflow ``Q(t)``, in fixed steps.

        Args:
            inflow: ``Q(t)`` [mm^3/s], a JAX-traceable function of time [s]
                (static: pass the same function to reuse the compiled run).
            p0: compliance pressure ``p_c`` at ``t0`` [kPa].
            t_end: duration [s], a whole number of steps.
            dt: step [s].
            t0: start time [s].
            method: ``"rk4"`` (classical Runge-Kutta, order 4) or
                ``"implicit"`` (theta method: backward Euler, or trapezoidal
                with ``theta = 1/2``).
            theta: for ``"implicit"``.
            save_every: save every this many steps.

        Returns:
            ``(t, p)``: saved times [s] and inlet pressures [kPa], both (m + 1,).
        """
        if method not in ("rk4", "implicit"):
            raise ParameterError(f"method={method!r} must be 'rk4' or 'implicit'")
        n = round(t_end / dt)
        if n < 1 or abs(n * dt - t_end) > 1e-9 * max(t_end, dt) or n % save_every:
            raise ParameterError(
                f"t_end={t_end!r} s must be a whole number of steps dt={dt!r} s, "
                f"divisible by save_every={save_every!r}"
            )
        return _run(self, jnp.asarray([p0], dtype=float), t0, dt, theta, inflow=inflow,
                    n_steps=n, save_every=save_every, method=method)


@functools.partial(jax.jit, static_argnames=("inflow", "n_steps", "save_every", "method"))
def _run(model, x0, t0, dt, theta, *, inflow, n_steps, save_every, method):
    def f(t, x):
        return model.rhs(t, x, inflow(t))

    if method == "rk4":

        def step(t, x):
            return _integrate.rk4_step(f, t, x, dt), True

    else:

        def step(t, x):
            return model.implicit_step(x, inflow(t), inflow(t + dt), dt, theta), True

    def observe(t, x):
        return model.pressure(x, inflow(t))

    t, _, p, _ = _integrate.integrate(step, observe, x0, t0, dt, n_steps, save_every)
    return t, p


@pytree_dataclass
class Windkessel2(_Windkessel):
    """Two-element Windkessel: compliance ``C`` and peripheral resistance ``R``.

    Args:
        R: peripheral resistance [kPa s/mm^3], > 0.
        C: compliance [mm^3/kPa], > 0.
        p_out: pressure downstream of ``R`` (venous) [kPa].
    """

    R: float
    C: float
    p_out: float = 0.0
    _positive = ("R", "C")


@pytree_dataclass
class Windkessel3(_Windkessel):
    """Three-element Windkessel: ``Rc`` in series with ``C`` parallel to ``R``.

    Args:
        Rc: characteristic (proximal) resistance [kPa s/mm^3], >= 0.
        R: peripheral resistance [kPa s/mm^3], > 0.
        C: compliance [mm^3/kPa], > 0.
        p_out: pressure downstream of ``R`` (venous) [kPa].
    """

    Rc: float
    R: float
    C: float
    p_out: float = 0.0
    _positive = ("R", "C")
    _non_negative = ("Rc",)

    @property
    def proximal(self):
        """The characteristic resistance ``Rc`` [kPa s/mm^3]."""
        return self.Rc

"""Internal variables at quadrature points, advanced in time by a pure rule.

A model of internal variables (active tension driven by calcium, damage,
growth, ...) is an immutable dataclass registered as a JAX pytree, like the
laws: numeric fields are leaves, each a scalar or an array of shape (n,) with
one value per quadrature point; options are static metadata.  It implements
this protocol:

``sets: ClassVar[tuple[str, ...]]``
    The law parameters it drives, e.g. ``("Ta",)``.
``init(n) -> q``
    The initial state at ``n`` points: a dict of arrays of shape (n, ...).
``advance(q, inputs, dt) -> q_new``
    The state at the end of a step of length ``dt`` [s] from the state ``q``
    at its start.  Pure: no side effects, ``q`` is not modified, the same
    arguments give the same result (so a failed step is retried by calling it
    again from the committed ``q``).  ``inputs`` holds at least

    - ``"t"``: scalar, the time at the END of the step [s];
    - ``"stretch"``: shape (n,), the fibre stretch ``sqrt(I4f)`` at the last
      converged state (dimensionless), for stretch-dependent models.

    A model reads only the inputs it needs.
``parameters(q) -> {name: values}``
    The law parameters named in ``sets`` as arrays of shape (n,), ready for
    :func:`organfem.materials.with_parameters`.

A time step then reads::

    q = model.init(n)
    ...
    q_new = advance(model, q, {"t": t + dt, "stretch": stretch}, dt)
    law_now = with_parameters(law, **model.parameters(q_new))
    S, D = evaluate(law_now, e, R)

Units: times in s, tensions in kPa.
"""

from __future__ import annotations

import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ParameterError
from .._pytree import Parameterised, parameter_names, pytree_dataclass

__all__ = ["InternalVariables", "ActiveTensionODE", "BestelActiveTension", "advance"]


class InternalVariables(Parameterised):
    """Base of every model of internal variables (see the module docstring).

    Subclasses are frozen dataclasses registered as pytrees; ``_positive`` and
    ``_non_negative`` name the parameters validated at construction.
    """

    sets: ClassVar[tuple[str, ...]] = ()
    """Names of the law parameters that :meth:`parameters` returns."""

    def init(self, n: int) -> dict[str, jax.Array]:
        """Initial state at ``n`` points: arrays of shape (n, ...)."""
        raise NotImplementedError(f"{self.name} does not define init")

    def advance(
        self, q: dict[str, jax.Array], inputs: dict[str, jax.Array], dt: jax.Array
    ) -> dict[str, jax.Array]:
        """State at the end of a step of ``dt`` [s] from ``q`` at its start (pure).

        Args:
            q: state at the start of the step, arrays of shape (n, ...).
            inputs: ``"t"`` (scalar, time at the end of the step [s]),
                ``"stretch"`` ((n,), fibre stretch at the last converged
                state) and any others a model documents.
            dt: step length [s], > 0.
        """
        raise NotImplementedError(f"{self.name} does not define advance")

    def parameters(self, q: dict[str, jax.Array]) -> dict[str, jax.Array]:
        """Values of the law parameters in :attr:`sets`, shape (n,) each."""
        raise NotImplementedError(f"{self.name} does not define parameters")

    def _check_points(self, n: int) -> None:
        """Raise :class:`ParameterError` unless every array parameter has shape (n,)."""
        for field in parameter_names(self):
            shape = np.shape(getattr(self, field))
            if shape and shape != (n,):
                raise ParameterError(
                    f"{self.name}: parameter {field} has shape {shape}; expected a scalar "
                    f"or one value per point, shape ({n},)"
                )


@pytree_dataclass
class ActiveTensionODE(InternalVariables):
    """Active tension relaxing towards a switched target: ``tau dTa/dt = Tmax s(t) - Ta``.

    ``s(t) = 1`` for ``t_act <= t < t_act + duration`` and 0 otherwise, so
    ``Ta`` [kPa] rises as ``Tmax (1 - exp(-(t - t_act)/tau))`` from 0 at
    ``t_act`` and decays as ``exp(-(t - t_end)/tau)`` after
    ``t_end = t_act + duration``.  Each parameter is a scalar or an array of
    shape (n,): regional activation times, scar with ``Tmax = 0``.

    A step is integrated exactly for piecewise-constant ``s``: with ``s``
    sampled at the middle of the step, ``target = Tmax s(t - dt/2)``,

        Ta_new = target + (Ta_old - target) exp(-dt/tau),

    which is the exact solution whenever ``s`` is constant inside the step,
    i.e. whenever ``t_act`` and ``t_act + duration`` fall on step boundaries
    (whatever the step lengths).  Sampling at the middle rather than at the
    end ``t`` matters there: ``s(t)`` at a step ending exactly at ``t_act`` is
    already 1 although ``s`` is 0 throughout that step.  A switch inside a
    step is smeared over that step (first-order in ``dt`` there).

    Args:
        Tmax: peak active tension [kPa], >= 0.
        tau: time constant [s], > 0.
        t_act: activation time [s].
        duration: how long the target stays on [s], >= 0; for ever by default.
    """

    Tmax: float
    tau: float
    t_act: float = 0.0
    duration: float = math.inf
    sets = ("Ta",)
    _positive = ("tau",)
    _non_negative = ("Tmax", "duration")

    def init(self, n: int) -> dict[str, jax.Array]:
        """Relaxed state: ``Ta = 0`` at ``n`` points."""
        self._check_points(n)
        return {"Ta": jnp.zeros(n)}

    def advance(
        self, q: dict[str, jax.Array], inputs: dict[str, jax.Array], dt: jax.Array
    ) -> dict[str, jax.Array]:
        """``Ta`` at the end of the step (the exponential integrator above)."""
        middle = inputs["t"] - 0.5 * dt
        on = (middle >= self.t_act) & (middle < self.t_act + self.duration)
        target = jnp.where(on, self.Tmax, 0.0)
        # target + (Ta - target) e^{-dt/tau}, written with expm1 so that short
        # steps (dt << tau) lose no digits to cancellation.
        Ta = q["Ta"]
        return {"Ta": Ta + (Ta - target) * jnp.expm1(-dt / self.tau)}

    def parameters(self, q: dict[str, jax.Array]) -> dict[str, jax.Array]:
        """``{"Ta": q["Ta"]}``, shape (n,) [kPa]."""
        return {"Ta": q["Ta"]}


@pytree_dataclass
class BestelActiveTension(InternalVariables):
    """Active tension of Bestel, Clement & Sorine (2001), as in the cardiac benchmark.

    Per point, ``dtau/dt = -|a(t)| tau + sigma0 |a(t)|_+`` with the activation

        a(t) = alpha_max f(t) + alpha_min (1 - f(t)),
        f(t) = S+(t - delay - t_sys) S-(t - delay - t_dias),
        S+-(d) = (1 +- tanh(d / gamma)) / 2,

    so ``tau`` [kPa] rises towards ``sigma0`` at the rate ``alpha_max`` during
    systole (``f ~ 1``, ``a > 0``) and decays at the rate ``|alpha_min|``
    otherwise (``a < 0``).  It is the active tension ``T_a`` of
    :class:`~organfem.materials.ActiveStress` (``S_a = tau f0 (x) f0``, the
    benchmark's ``tau/2 (I4f - 1)``) or, for the Frank-Starling variant, of
    :class:`~organfem.materials.LengthDependentActiveStress`, which scales it
    by a function of the current fibre stretch (that dependence belongs in
    the law, whose tangent then includes it).  The form and the values of
    :meth:`arostica_2025` are those of Arostica et al. (2025).

    ``delay`` [s] is the activation map: it shifts the whole transient of a
    point (both switching times), so a region given ``delay = d`` follows the
    curve of ``delay = 0`` exactly ``d`` later (on the discrete level too when
    ``d`` is a whole number of equal steps: the same values, to rounding of
    the times).  Every parameter may be a scalar or an array of shape (n,),
    one value per point (``sigma0 = 0`` in a scar); through
    :class:`organfem.mechanics.Material` also
    :class:`~organfem.mechanics.Regions` or a callable of position.  The state
    is stored under ``"Ta"``, as for :class:`ActiveTensionODE`, so results
    read the same whichever model drives the tension.

    A step is integrated exactly when ``a`` is constant inside it: with ``a``
    sampled at the middle of the step, ``a_m = a(t - dt/2)``, the linear ODE
    gives

        tau_new = target + (tau - target) exp(-|a_m| dt),
        target = sigma0 if a_m > 0 else 0,

    (``sigma0 |a|_+ / |a|`` is ``sigma0`` or 0, so there is no 0/0 as
    ``a -> 0``), written with ``expm1`` so that short steps lose no digits.
    For the smooth ``a(t)`` the midpoint sampling makes the scheme
    second-order in ``dt``, with no stability limit.

    Args:
        sigma0: contractility, the tension approached in systole [kPa], >= 0.
        alpha_max: activation rate in systole [1/s] (> 0 to contract).
        alpha_min: activation rate in diastole [1/s] (< 0 to relax).
        t_sys: onset of systole [s].
        t_dias: onset of diastole [s].
        gamma: width of the smooth switches [s], > 0.
        delay: activation delay of the point [s], added to ``t_sys`` and
            ``t_dias``; 0 by default.
        period: heartbeat period [s]: with ``period > 0`` the activation
            repeats every period, ``a(t) = a((t - delay) mod period)`` with
            ``t_sys`` and ``t_dias`` inside the beat; 0 (default) for a
            single activation, as in the benchmark.
    """

    sigma0: float
    alpha_max: float
    alpha_min: float
    t_sys: float
    t_dias: float
    gamma: float
    delay: float = 0.0
    period: float = 0.0
    sets = ("Ta",)
    _positive = ("gamma",)
    _non_negative = ("sigma0", "period")

    @classmethod
    def arostica_2025(cls, *, delay=0.0) -> BestelActiveTension:
        """Arostica et al. (2025), "A software benchmark for cardiac elastodynamics",
        Comput. Methods Appl. Mech. Engrg. 435:117485, doi 10.1016/j.cma.2024.117485.

        sigma0 = 150 kPa, alpha_max = 5 /s, alpha_min = -30 /s,
        t_sys = 0.16 s, t_dias = 0.484 s, gamma = 0.005 s (the values also
        in the reference code ``finsberg/cardiac_benchmark``,
        ``activation_model.py``).

        Args:
            delay: activation delay [s], a scalar or one value per point.
        """
        return cls(
            sigma0=150.0, alpha_max=5.0, alpha_min=-30.0,
            t_sys=0.16, t_dias=0.484, gamma=0.005, delay=delay,
        )  # fmt: skip

    def activation(self, t: jax.Array) -> jax.Array:
        """``a(t)`` [1/s] at time ``t`` [s] (per point where parameters are)."""
        t = t - self.delay
        beat = jnp.where(self.period > 0, self.period, 1.0)
        t = jnp.where(self.period > 0, jnp.mod(t, beat), t)
        up = 0.5 * (1 + jnp.tanh((t - self.t_sys) / self.gamma))  # S+(t - t_sys)
        down = 0.5 * (1 - jnp.tanh((t - self.t_dias) / self.gamma))  # S-(t - t_dias)
        f = up * down
        return self.alpha_max * f + self.alpha_min * (1 - f)

    def init(self, n: int) -> dict[str, jax.Array]:
        """Relaxed state: ``Ta = tau = 0`` at ``n`` points."""
        self._check_points(n)
        return {"Ta": jnp.zeros(n)}

    def advance(
        self, q: dict[str, jax.Array], inputs: dict[str, jax.Array], dt: jax.Array
    ) -> dict[str, jax.Array]:
        """``tau`` at the end of the step (the exponential integrator above)."""
        a = self.activation(inputs["t"] - 0.5 * dt)
        target = jnp.where(a > 0, self.sigma0, 0.0)
        tau = q["Ta"]
        return {"Ta": tau + (tau - target) * jnp.expm1(-jnp.abs(a) * dt)}

    def parameters(self, q: dict[str, jax.Array]) -> dict[str, jax.Array]:
        """``{"Ta": tau}``, shape (n,) [kPa]."""
        return {"Ta": q["Ta"]}


@jax.jit
def _advance(model: InternalVariables, q, inputs, dt):
    return model.advance(q, inputs, dt)


def advance(
    model: InternalVariables,
    q: dict[str, np.ndarray],
    inputs: dict[str, np.ndarray],
    dt: float,
) -> dict[str, np.ndarray]:
    """One step of ``model`` from the state ``q``, in float64.

    Compiled once per model structure and array shapes (the model is an
    argument of the compiled function, so new parameter values, times and
    step lengths do not recompile).  Enables 64-bit JAX locally
    (``jax.enable_x64``, thread-local), like :func:`organfem.materials.evaluate`.

    Args:
        model: the model of internal variables.
        q: state at the start of the step, arrays of shape (n, ...).
        inputs: ``"t"``, the time at the end of the step [s] (scalar);
            ``"stretch"``, the fibre stretch ``sqrt(I4f)`` at the last
            converged state, shape (n,); any others the model documents.
        dt: step length [s], > 0.

    Returns:
        The state at the end of the step, NumPy float64 arrays with the keys
        and shapes of ``q``.

    Raises:
        ParameterError: ``dt`` is not > 0.
        ValueError: ``inputs`` has no ``"t"``.
    """
    if not dt > 0:
        raise ParameterError(f"advance: step dt={dt!r} s must be > 0")
    if "t" not in inputs:
        raise ValueError(
            f"advance: inputs must hold 't' (time at the end of the step), got {sorted(inputs)}"
        )

    def as64(tree):
        return jax.tree.map(lambda v: np.asarray(v, dtype=np.float64), tree)

    with jax.enable_x64(True):
        result = _advance(as64(model), as64(q), as64(inputs), np.float64(dt))
        return {name: np.asarray(value) for name, value in result.items()}

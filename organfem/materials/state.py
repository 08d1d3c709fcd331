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
from ._pytree import Parameterised, parameter_names, pytree_dataclass

__all__ = ["InternalVariables", "ActiveTensionODE", "advance"]


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

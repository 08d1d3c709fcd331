"""Fixed-step time integrators in pure JAX, shared by the 0D models.

Two one-step methods for ``dy/dt = f(t, y)``:

* :func:`rk4_step`, the classical explicit Runge-Kutta method (order 4);
* :func:`theta_step`, the implicit theta method (``theta = 1``: backward
  Euler, order 1, L-stable; ``theta = 1/2``: trapezoidal rule, order 2),
  solved by Newton's method with the Jacobian from ``jax.jacfwd``.

Both keep every *linear* invariant ``w . y`` of the ODE (one with
``w . f(t, y) = 0`` for all ``t, y``, such as a closed loop's blood volume)
to round-off: the explicit stages are linear combinations of ``f``, and
each Newton update ``dz = J^{-1} r`` has ``w . dz = w . r`` because
``w^T J = w^T``, so from the first iteration on ``w . z = w . y_n``.

The Newton solve is wrapped in ``jax.lax.custom_root``: derivatives of a
step with respect to parameters and to the previous state come from the
implicit function theorem (one linear solve), not from differentiating the
iterations, so ``jax.grad`` works through a ``while_loop`` and costs the
same whatever the number of iterations.

:func:`integrate` repeats a step ``n`` times in ``jax.lax.scan``, saving
every ``save_every``-th state.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = ["rk4_step", "newton_tolerance", "newton", "theta_step", "integrate"]

#: Default Newton tolerance on the relative update ``|dz_i| / (|z_i| + scale_i)``
#: in float64.  Newton converges quadratically, so one more iteration after
#: reaching it would gain nothing: the update is then at the level of round-off.
NEWTON_TOL = 1e-10
#: The same in float32 (about 100 ulp: 1e-10 is below its round-off).
NEWTON_TOL_FLOAT32 = 1e-5
#: Default cap on Newton iterations per step.
NEWTON_MAX_ITER = 30


def rk4_step(f: Callable, t, y: jax.Array, dt) -> jax.Array:
    """One step of the classical fourth-order Runge-Kutta method.

    Args:
        f: right-hand side ``f(t, y) -> dy/dt``.
        t: time at the start of the step.
        y: state at ``t``.
        dt: step size.

    Returns:
        The state at ``t + dt``.
    """
    k1 = f(t, y)
    k2 = f(t + dt / 2, y + (dt / 2) * k1)
    k3 = f(t + dt / 2, y + (dt / 2) * k2)
    k4 = f(t + dt, y + dt * k3)
    return y + (dt / 6) * (k1 + 2 * k2 + 2 * k3 + k4)


def newton_tolerance(dtype) -> float:
    """The default Newton tolerance for arrays of ``dtype``."""
    return NEWTON_TOL if jnp.finfo(dtype).eps < 1e-10 else NEWTON_TOL_FLOAT32


def newton(residual: Callable, guess: jax.Array, scale: jax.Array, *,
           tol: float | None = None, max_iter: int = NEWTON_MAX_ITER):
    """Solve ``residual(z) = 0`` by Newton's method, differentiable implicitly.

    Args:
        residual: a function of one array (n,) to an array (n,).
        guess: the first iterate (n,).
        scale: typical magnitude of each unknown (n,), in its own unit: the
            iteration stops when ``max_i |dz_i| / (|z_i| + scale_i) <= tol``.
        tol: relative tolerance on the Newton update; by default
            :data:`NEWTON_TOL` in float64, :data:`NEWTON_TOL_FLOAT32` in float32.
        max_iter: most iterations.

    Returns:
        ``(z, converged)``: the root and whether the tolerance was met (a
        boolean scalar; false also when an iterate is not finite).
    """
    tol = newton_tolerance(guess.dtype) if tol is None else tol

    def solve(g, z0):
        def unfinished(carry):
            _, k, err = carry
            return (err > tol) & (k < max_iter)  # false for NaN: stop

        def iterate(carry):
            z, k, _ = carry
            dz = jnp.linalg.solve(jax.jacfwd(g)(z), g(z))
            z = z - dz
            return z, k + 1, jnp.max(jnp.abs(dz) / (jnp.abs(z) + scale))

        start = (z0, jnp.asarray(0), jnp.asarray(jnp.inf, dtype=z0.dtype))
        z, _, err = jax.lax.while_loop(unfinished, iterate, start)
        return z, err <= tol

    def tangent_solve(g, v):  # g is linear: its Jacobian is the Newton matrix
        return jnp.linalg.solve(jax.jacfwd(g)(v), v)

    return jax.lax.custom_root(residual, guess, solve, tangent_solve, has_aux=True)


def theta_step(f: Callable, t, y: jax.Array, dt, theta=1.0, *, scale: jax.Array,
               tol: float | None = None, max_iter: int = NEWTON_MAX_ITER):
    """One step of the implicit theta method, solved by Newton's method.

    ``y1 = y + dt (theta f(t + dt, y1) + (1 - theta) f(t, y))``.

    Args:
        f: right-hand side ``f(t, y) -> dy/dt``.
        t: time at the start of the step.
        y: state at ``t`` (n,).
        dt: step size.
        theta: 1 for backward Euler, 1/2 for the trapezoidal rule.
        scale: typical magnitude of each state (n,) for the Newton stop test.
        tol: relative Newton tolerance (see :func:`newton`).
        max_iter: most Newton iterations.

    Returns:
        ``(y1, converged)``.
    """
    explicit = y + dt * (1 - theta) * f(t, y) if not _is_one(theta) else y

    def residual(z):
        return z - explicit - dt * theta * f(t + dt, z)

    return newton(residual, y, scale, tol=tol, max_iter=max_iter)


def _is_one(theta) -> bool:
    """Whether ``theta`` is the Python number 1 (backward Euler: skip ``f(t, y)``)."""
    return isinstance(theta, int | float) and theta == 1


def integrate(step: Callable, observe: Callable, y0: jax.Array, t0, dt, n_steps: int,
              save_every: int = 1):
    """Advance ``y`` by ``n_steps`` steps of ``step`` in ``jax.lax.scan``.

    Args:
        step: ``step(t, y) -> (y_next, converged)``, one step from ``t`` to
            ``t + dt``.
        observe: ``observe(t, y) -> pytree`` of derived quantities, recorded
            with each saved state.
        y0: state at ``t0``.
        t0: start time.
        dt: step size.
        n_steps: number of steps (a Python int, a multiple of ``save_every``).
        save_every: record every ``save_every``-th state.

    Returns:
        ``(t, y, observed, failures)``: saved times (m + 1,) with
        ``m = n_steps // save_every``, states (m + 1, n), the observed pytree
        with a leading axis m + 1, and the number of steps whose Newton solve
        did not converge (0 for explicit steps).  Times are ``t0 + k dt``
        with the integer step count ``k``, so they do not drift.
    """
    if n_steps % save_every:
        raise ValueError(f"n_steps={n_steps} is not a multiple of save_every={save_every}")

    def one(carry, _):
        k, y, failures = carry
        y, ok = step(t0 + k * dt, y)
        return (k + 1, y, failures + jnp.where(ok, 0, 1)), None

    def block(carry, _):
        carry, _ = jax.lax.scan(one, carry, None, length=save_every)
        k, y, _ = carry
        t = t0 + k * dt
        return carry, (t, y, observe(t, y))

    start = (jnp.asarray(0), y0, jnp.asarray(0))
    (_, _, failures), (ts, ys, obs) = jax.lax.scan(
        block, start, None, length=n_steps // save_every
    )
    t_start = jnp.asarray(t0, dtype=ts.dtype)
    first = observe(t_start, y0)
    ts = jnp.concatenate([t_start[None], ts])
    ys = jnp.concatenate([y0[None], ys])
    obs = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, obs)
    return ts, ys, obs, failures

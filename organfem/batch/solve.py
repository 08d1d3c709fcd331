"""Newton with load stepping for batches of scenarios, and adjoint gradients.

A batch of scenarios (:class:`Scenario`, one mesh) walks its load path in
lockstep: each scenario has its own load factor and increment, so one that
needs its step cut does not hold back the others' results, and every Newton
iteration is one ``vmap``-ed assembly and one batched sparse solve over a
chunk of scenarios.  A scenario whose Newton iterations diverge (a
non-finite residual) or do not converge in ``max_iterations`` goes back to
its last converged state and halves its increment, as the DOLFINx path does.

Gradients: :meth:`Solver.equilibrium` is a ``jax.custom_vjp`` function.  Its
backward pass is the adjoint of the converged equilibrium ``R(u, theta) =
0``: ``K^T lambda = du_bar`` (one transposed sparse solve per recorded load
level), then ``theta_bar = -(dR/dtheta)^T lambda`` by reverse-mode autodiff
of the residual, so that ``jax.grad`` of any output of the displacements
(cavity volume, a probe) costs about one extra linear solve.  The forward
pass runs the Newton iterations on the host, so call it outside ``jax.jit``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ConvergenceError, ParameterError
from ..units import MMHG_IN_KPA
from .linear import default_route, make_solver
from .problem import Problem, Scenario

__all__ = ["Solver", "Result", "stack"]

log = logging.getLogger(__name__)

#: An increment converged in at most this many Newton iterations lets a cut
#: increment grow back (doubling), as in :func:`organfem.mechanics.ramp`.
_EASY_ITERATIONS = 6

#: Newton diverges when the residual norm exceeds this multiple of the
#: increment's first one (the exponential fibre terms of HO-type laws
#: explode on an overshooting step long before the residual turns NaN).
_DIVERGED = 1e4

#: What sparsax raises when a factorisation fails (singular or indefinite).
_FACTORISATION_ERRORS = (jax.errors.JaxRuntimeError, ValueError)


def stack(scenarios: Sequence[Scenario]) -> Scenario:
    """One :class:`Scenario` whose every leaf has a leading batch axis.

    Raises:
        ParameterError: the scenarios differ in structure (another law, a
            parameter per cell in one and a scalar in another, fibres given
            in some only).
    """
    scenarios = list(scenarios)
    if not scenarios:
        raise ParameterError("stack: no scenarios")
    structure = jax.tree.structure(scenarios[0])
    shapes = [np.shape(x) for x in jax.tree.leaves(scenarios[0])]
    for i, s in enumerate(scenarios[1:], 1):
        if jax.tree.structure(s) != structure or [np.shape(x) for x in jax.tree.leaves(s)] != shapes:
            raise ParameterError(
                f"stack: scenario {i} differs in structure from scenario 0 (law terms, "
                "per-cell parameters or fibres); a batch shares one structure"
            )
    return jax.tree.map(lambda *x: np.stack([np.asarray(v, dtype=np.float64) for v in x]), *scenarios)


def _take(batch: Scenario, index: np.ndarray) -> Scenario:
    return jax.tree.map(lambda x: x[index], batch)


@dataclasses.dataclass(frozen=True)
class Result:
    """Converged displacements of a batch along its load path.

    Attributes:
        u: free displacements [mm], (N, K, num_free): scenario, level.
        levels: the load factors recorded (K,).
        iterations: Newton iterations per scenario (N,).
        increments: accepted load increments per scenario (N,).
        cuts: step cuts per scenario (N,).
        assembly_s, solve_s: wall time in assembly and in linear solves [s].
        errors: per scenario, None or why it failed (``solve(strict=False)``).
    """

    u: np.ndarray
    levels: np.ndarray
    iterations: np.ndarray
    increments: np.ndarray
    cuts: np.ndarray
    assembly_s: float
    solve_s: float
    errors: tuple = ()


class Solver:
    """Compiled assembly and linear solves of one :class:`Problem`.

    Args:
        problem: the problem.
        route: linear solver (:data:`organfem.batch.ROUTES`); default
            UMFPACK on CPU (SuperLU without sparsax), dense batched LU on an
            accelerator (see :mod:`organfem.batch.linear`).
        chunk: scenarios per compiled call, ``vmap``-ed together (memory:
            the cell matrices and ``nnz`` values per scenario).  Default 1 on
            CPU, where a batch gains nothing from ``vmap`` and a lane that has
            converged would still be assembled and factorised until its
            chunk's slowest lane is done; 100 on an accelerator, where the
            lanes run in parallel.
        rtol, atol: Newton converges when ``|R| <= max(atol, rtol |R_0|)``
            (``R_0`` the residual at the start of the increment) [kPa mm^2];
            the defaults are the DOLFINx path's (``snes_rtol``, ``snes_atol``).
        max_iterations: Newton iterations per increment before a cut.
        max_cuts: halvings of an increment before giving up.
    """

    def __init__(
        self,
        problem: Problem,
        *,
        route: str | None = None,
        chunk: int | None = None,
        rtol: float = 1e-9,
        atol: float = 1e-9,
        max_iterations: int = 30,
        max_cuts: int = 8,
    ):
        self.problem = problem
        accelerator = jax.devices()[0].platform != "cpu"
        self.route = route or default_route()
        self.chunk = int(chunk or (100 if accelerator else 1))
        if self.chunk < 1:
            raise ParameterError(f"Solver: chunk={chunk!r} must be >= 1")
        self.rtol, self.atol = float(rtol), float(atol)
        self.max_iterations, self.max_cuts = int(max_iterations), int(max_cuts)
        with jax.enable_x64(True):
            self.data = problem.data()
        self._assemble = jax.jit(jax.vmap(problem.residual_and_tangent, in_axes=(None, 0, 0, 0)))
        self._use(self.route)
        self._volume = jax.jit(jax.vmap(problem.volume, in_axes=(None, 0)))
        self._timing = [0.0, 0.0]

    def _use(self, route: str) -> None:
        p = self.problem
        self.route = route
        self._linear = jax.jit(make_solver(p.rows, p.cols, p.num_free, route))
        self._linear_t = jax.jit(make_solver(p.cols, p.rows, p.num_free, route))

    def _linear_solve(self, values, rhs) -> np.ndarray:
        return np.asarray(self._linear(values, rhs))

    # ------------------------------------------------------------ forward
    def solve(
        self,
        scenarios: Scenario | Sequence[Scenario],
        *,
        levels: Sequence[float] = (1.0,),
        steps: int = 8,
        strict: bool = True,
    ) -> Result:
        """Solve every scenario along its load path, recording ``levels``.

        Args:
            scenarios: one scenario or a list of them (one structure).
            levels: load factors in (0, 1] at which to keep the solution
                (e.g. the pressures of a pressure-volume curve); the path
                ends at the largest.
            steps: nominal increments from 0 to 1.
            strict: raise when a scenario fails; with ``strict=False`` the
                others go on, the failed one's levels not reached are NaN and
                :attr:`Result.errors` says why.

        Raises:
            ConvergenceError: (``strict``) a scenario's increment was cut
                ``max_cuts`` times; naming the scenario and the pressure
                reached, in kPa and mmHg.
        """
        batch = self._as_batch(scenarios)
        levels = np.unique(np.asarray(levels, dtype=np.float64))
        if levels.size == 0 or levels[0] <= 0 or levels[-1] > 1:
            raise ParameterError(f"solve: levels {levels.tolist()} must lie in (0, 1]")
        if steps < 1:
            raise ParameterError(f"solve: steps={steps!r} must be >= 1")
        n = len(jax.tree.leaves(batch)[0])
        nominal = 1.0 / steps
        lam = np.zeros(n)
        dlam = np.full(n, nominal)
        nxt = np.zeros(n, dtype=np.int64)  # index of the next level to record
        u = np.zeros((n, self.problem.num_free))
        u_prev, lam_prev = u.copy(), np.zeros(n)
        out = np.zeros((n, len(levels), self.problem.num_free))
        iterations = np.zeros(n, dtype=np.int64)
        increments = np.zeros(n, dtype=np.int64)
        cuts = np.zeros(n, dtype=np.int64)
        errors: list[str | None] = [None] * n
        self._timing = [0.0, 0.0]
        chunk = min(self.chunk, n)
        with jax.enable_x64(True):
            while True:
                active = np.flatnonzero(nxt < len(levels))
                if active.size == 0:
                    break
                for start in range(0, active.size, chunk):
                    idx = active[start : start + chunk]
                    target = np.minimum(lam[idx] + dlam[idx], levels[nxt[idx]])
                    # Secant predictor: extrapolate the last two converged states.
                    span = lam[idx] - lam_prev[idx]
                    slope = np.where(span > 0, (target - lam[idx]) / np.where(span > 0, span, 1.0), 0.0)
                    guess = u[idx] + slope[:, None] * (u[idx] - u_prev[idx])
                    new, ok, its = self._newton(batch, idx, guess, target, chunk)
                    iterations[idx] += its
                    for j, i in enumerate(idx):
                        if ok[j]:
                            u_prev[i], lam_prev[i] = u[i], lam[i]
                            u[i], lam[i] = new[j], target[j]
                            increments[i] += 1
                            if its[j] <= _EASY_ITERATIONS:
                                dlam[i] = min(nominal, 2 * dlam[i])
                            if np.isclose(lam[i], levels[nxt[i]], rtol=0, atol=1e-12):
                                out[i, nxt[i]] = u[i]
                                nxt[i] += 1
                        else:
                            cuts[i] += 1
                            dlam[i] /= 2
                            if dlam[i] < nominal / 2**self.max_cuts:
                                failure = self._failure(batch, i, lam[i], target[j])
                                if strict:
                                    raise failure
                                errors[i] = str(failure)
                                out[i, nxt[i] :] = np.nan
                                nxt[i] = len(levels)
                            log.debug("scenario %d: step cut at load factor %.4g", i, target[j])
        return Result(out, levels, iterations, increments, cuts, *self._timing, errors=tuple(errors))

    def _as_batch(self, scenarios) -> Scenario:
        return stack([scenarios] if isinstance(scenarios, Scenario) else scenarios)

    def _newton(self, batch, idx, u0, target, chunk):
        """Newton iterations for the scenarios ``idx`` from ``u0`` at load ``target``,
        padded to ``chunk`` lanes (one compiled shape)."""
        pad = chunk - len(idx)
        full = np.concatenate([idx, np.repeat(idx[-1:], pad)])
        scen = _take(batch, full)
        u = jnp.asarray(np.concatenate([u0, np.repeat(u0[-1:], pad, axis=0)]))
        load = jnp.asarray(np.concatenate([target, np.repeat(target[-1:], pad)]))
        done = np.zeros(chunk, dtype=bool)
        failed = np.zeros(chunk, dtype=bool)
        its = np.zeros(chunk, dtype=np.int64)
        r0 = None
        for _ in range(self.max_iterations + 1):
            t0 = time.perf_counter()
            R, values = self._assemble(self.data, u, scen, load)
            norms = np.asarray(jnp.linalg.norm(R, axis=1))
            self._timing[0] += time.perf_counter() - t0
            if r0 is None:
                r0 = norms
            failed |= ~(norms <= _DIVERGED * r0)  # also NaN
            done |= (norms <= np.maximum(self.atol, self.rtol * r0)) & ~failed
            if np.all(done | failed):
                break
            step = ~(done | failed)
            # Lanes that stopped (converged, diverged, padding) solve a copy of
            # a running lane's system, so that no NaN or singular matrix
            # reaches the factorisation; their updates are discarded.
            lane = jnp.asarray(np.where(step, np.arange(chunk), int(np.argmax(step))))
            t0 = time.perf_counter()
            try:
                du = self._linear_solve(values[lane], -R[lane])
            except _FACTORISATION_ERRORS as error:  # a singular tangent
                log.info("linear solve failed (%s); cutting the step", str(error).splitlines()[0])
                failed |= step
                break
            finally:
                self._timing[1] += time.perf_counter() - t0
            failed |= step & ~np.all(np.isfinite(du), axis=1)
            step &= ~failed
            its += step
            du = jnp.asarray(np.where(step[:, None], du, 0.0))
            u = u + du
        k = len(idx)
        return np.asarray(u)[:k], done[:k], its[:k]

    def _failure(self, batch, i, reached, tried) -> ConvergenceError:
        p = float(np.asarray(batch.pressure)[i])
        return ConvergenceError(
            f"scenario {i}: Newton did not converge beyond {reached * p:.4g} kPa "
            f"({reached * p / MMHG_IN_KPA:.4g} mmHg) of {p:.4g} kPa ({p / MMHG_IN_KPA:.4g} mmHg): "
            f"the increment to {tried * p:.4g} kPa was cut {self.max_cuts} times (load factor "
            f"{reached:.4g} reached); a softer path (more steps) or a stiffer volumetric term may help"
        )

    # ------------------------------------------------------------ outputs
    def volumes(self, result: Result) -> np.ndarray:
        """Cavity volumes [mm^3] of a result, (N, K)."""
        with jax.enable_x64(True):
            n, k, m = result.u.shape
            return np.asarray(self._volume(self.data, jnp.asarray(result.u.reshape(n * k, m)))).reshape(n, k)

    def reference_volume(self) -> float:
        """The cavity volume of the reference configuration [mm^3]."""
        with jax.enable_x64(True):
            return float(self.problem.volume(self.data, jnp.zeros(self.problem.num_free)))

    def probe(self, result: Result, points: np.ndarray) -> np.ndarray:
        """Displacements [mm] at reference ``points`` (p, 3), shape (N, K, p, 3)."""
        cells, values = self.problem.space.locate(points)
        nodes = self.problem.space.cell_nodes[cells]  # (p, n)
        full = np.zeros(result.u.shape[:2] + (self.problem.space.num_dofs,))
        full[..., self.problem.free] = result.u
        U = full.reshape(result.u.shape[:2] + (-1, 3))
        return np.einsum("pn,abpni->abpi", values, U[:, :, nodes])

    # ------------------------------------------------------------ gradients
    def equilibrium(self, scenario: Scenario, levels: Sequence[float] = (1.0,), *, steps: int = 8):
        """Free displacements (K, num_free) of one scenario at ``levels``,
        differentiable with respect to ``scenario`` by the adjoint method.

        Call it outside ``jax.jit`` (the Newton iterations run on the host);
        ``jax.grad`` / ``jax.jacrev`` of functions of it work.
        """
        levels = tuple(float(x) for x in np.unique(np.asarray(levels, dtype=np.float64)))
        solver = self

        @jax.custom_vjp
        def equilibrium(scenario):
            result = solver.solve(jax.tree.map(np.asarray, scenario), levels=levels, steps=steps)
            return jnp.asarray(result.u[0])

        def forward(scenario):
            u = equilibrium(scenario)
            return u, (u, scenario)

        def backward(residuals, u_bar):
            u, scenario = residuals
            return (solver._adjoint(scenario, levels, u, u_bar),)

        equilibrium.defvjp(forward, backward)
        with jax.enable_x64(True):
            return equilibrium(scenario)

    def _adjoint(self, scenario, levels, u, u_bar):
        """``-(dR/dtheta)^T lambda`` with ``K^T lambda = u_bar``, summed over levels."""
        with jax.enable_x64(True):
            load = jnp.asarray(levels)
            one = jax.tree.map(lambda x: jnp.broadcast_to(x, (len(levels),) + jnp.shape(x)), scenario)
            _, values = self._assemble(self.data, u, one, load)
            lam = self._linear_t(values, u_bar)

            def residuals(s):
                return jax.vmap(self.problem.residual, in_axes=(None, 0, None, 0))(self.data, u, s, load)

            _, pullback = jax.vjp(residuals, scenario)
            (grad,) = pullback(-lam)
            return grad

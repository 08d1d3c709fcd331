"""Walking a problem through time: quasi-static ramps and time integration.

Both drivers step the problem's one state (:mod:`.state`): a converged step
commits, a failed one rolls back and the step is cut; easy steps let it
grow back.  With a checkpoint folder the committed state is saved
atomically after every step (:func:`organfem.io.save_checkpoint`), and a
run started on a folder that holds a checkpoint resumes from it with the
same answer as a run that was never interrupted.  Failures are reported in
physical terms: the time, the cavity pressures (kPa and mmHg) and volumes
(mL) at which Newton failed; near a pressure maximum the message says so
and suggests volume control.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .. import units
from ..errors import ConvergenceError, Interrupted, ParameterError
from ..io import load_checkpoint, save_checkpoint
from .integrators import QuasiStatic
from .problem import HyperelasticProblem, SolveResult
from .state import State

__all__ = ["ramp", "RampResult", "simulate", "SimulationResult"]

log = logging.getLogger(__name__)

_EASY_ITERATIONS = 6


@dataclasses.dataclass(frozen=True)
class RampResult:
    """The converged steps of a path, in order, with their Newton counts."""

    steps: tuple[SolveResult, ...]

    @property
    def newton_iterations(self) -> int:
        """Newton iterations of the converged steps."""
        return sum(s.iterations for s in self.steps)


SimulationResult = RampResult


def _fingerprint(problem: HyperelasticProblem) -> dict:
    return {"ranks": problem.domain.comm.size, "dofs": problem.num_dofs}


def _save(folder: Path | None, problem: HyperelasticProblem, extra: dict) -> None:
    if folder is None:
        return
    state = problem.state
    state.controller.update(extra)
    record = {**state.record(), **_fingerprint(problem)}
    save_checkpoint(folder, problem.domain.comm, state.arrays(), record)


def _resume(folder: Path | None, problem: HyperelasticProblem) -> State | None:
    if folder is None:
        return None
    loaded = load_checkpoint(folder, problem.domain.comm)
    if loaded is None:
        return None
    arrays, record = loaded
    if record.get("dofs") != problem.num_dofs:
        raise ParameterError(
            f"the checkpoint was written for {record.get('dofs')} unknowns; this problem has "
            f"{problem.num_dofs} (another mesh, degree or formulation?)"
        )
    state = State.from_checkpoint(arrays, record)
    problem.restore(state)
    return state


def _caused_by_interrupt(error: BaseException | None) -> bool:
    """Whether ``error`` is, or comes from, a KeyboardInterrupt.

    Ctrl-C while PETSc runs a Python callback (residual, Jacobian) raises
    KeyboardInterrupt inside the callback; petsc4py hands it back from
    ``snes.solve`` as a ``PETSc.Error`` caused by it.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def _describe(scalars: dict[str, float]) -> str:
    """Cavity pressures [kPa, mmHg] and volumes [mL] of a state's scalars (no collective call)."""
    parts = []
    for name, value in scalars.items():
        if name.endswith("_pressure_kPa"):
            cavity = name[: -len("_pressure_kPa")]
            mmhg = value / units.MMHG_IN_KPA
            parts.append(f"{cavity} pressure {value:.4g} kPa ({mmhg:.4g} mmHg)")
        elif name.endswith("_volume_mm3"):
            parts.append(f"{name[: -len('_volume_mm3')]} volume {value / 1e3:.4g} mL")
    return ", ".join(parts)


class _Interruption:
    """Turns Ctrl-C during a path into :class:`Interrupted`, saying where the run
    stopped and what was kept.  The problem goes back to its last committed
    state (the one of the last checkpoint when there is one).  No collective
    call: under ``mpirun`` the ranks may be interrupted at different points.
    """

    def __init__(self, problem, folder, saved, history, where, label) -> None:
        self.problem, self.folder, self.history = problem, folder, history
        self.saved = saved  # time of the last checkpoint, None if none
        self.where, self.label = where, label

    def __enter__(self) -> _Interruption:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if error is None or isinstance(error, Interrupted) or not _caused_by_interrupt(error):
            return
        try:
            self.problem.rollback()
        except Exception:  # noqa: BLE001 - best effort; the message matters more
            pass
        message = f"interrupted at {self.where(self.problem.time)}"
        loads = _describe(self.history[-1]) if self.history else ""
        if loads:
            message += f"; last converged state: {loads}"
        if self.folder is None:
            message += "; no checkpoint was kept, so running again starts from the beginning"
        elif self.saved is None:
            message += "; no checkpoint yet (no step had converged)"
        else:
            message += (
                f"; the checkpoint at {self.label.format(self.saved)} is kept: start the same"
                " run again to resume from it"
            )
        raise Interrupted(message) from None


def _limit_point_hint(history: list[dict[str, float]]) -> str:
    """A pressure maximum is near when a pressure-driven cavity's compliance
    dV/dp has grown several-fold along the path (it tends to infinity at the
    maximum)."""
    if len(history) < 3:
        return ""
    names = [k[: -len("_volume_mm3")] for k in history[-1] if k.endswith("_volume_mm3")]
    for name in names:
        p = np.array([h.get(f"{name}_pressure_kPa", np.nan) for h in history])
        v = np.array([h.get(f"{name}_volume_mm3", np.nan) for h in history])
        dp, dv = np.diff(p), np.diff(v)
        ok = np.abs(dp) > 1e-14
        if ok.sum() < 2:
            continue
        compliance = dv[ok] / dp[ok]
        first, last = compliance[0], compliance[-1]
        if first > 0 and (last > 4 * first or last < 0):
            return (
                f". The cavity {name!r} is near a pressure maximum (limit point): its compliance "
                f"dV/dp rose from {first / 1e3:.3g} to {last / 1e3:.3g} mL/kPa along the path, "
                "and beyond the maximum no equilibrium exists at a higher pressure; drive the "
                f"cavity by volume instead (Cavity({name!r}, volume=...)), which passes it"
            )
    return ""


def _failure(
    problem: HyperelasticProblem,
    result: SolveResult,
    start: float,
    cuts: int,
    what: str,
    history: list[dict[str, float]],
) -> ConvergenceError:
    ramped = what == "pseudo-time"
    problem.set_time(result.time, ramped=ramped)
    loads = problem.describe_loads(target=True)
    problem.rollback()
    problem.set_time(problem.time, ramped=ramped)  # rollback sets unramped magnitudes
    at_start = problem.describe_loads()
    detail = (
        f"; det F = {result.min_det_f:.3g} <= 0 at the last iterate (inverted elements)"
        if not result.min_det_f > 0
        else ""
    )
    unit = "" if what == "pseudo-time" else " s"
    return ConvergenceError(
        f"Newton failed to reach {what} {result.time:.6g}{unit} from the converged {what} "
        f"{start:.6g}{unit} after {cuts} step cuts (last step {result.dt:.3g}{unit}): "
        f"{result.reason}, residual norm {result.residual_norm:.3e}{detail}. "
        f"Target: {loads or 'no pressure or cavity loads'}; last converged: {at_start or '-'}"
        f"{_limit_point_hint(history)}"
    )


def _target_loads(problem: HyperelasticProblem, t: float) -> str:
    """The loads the ramp asks for at pseudo-time ``t``, in physical units. Collective."""
    now = problem.time
    problem.set_time(t, ramped=True)
    try:
        return problem.describe_loads(target=True)
    finally:
        problem.set_time(now, ramped=True)


def ramp(
    problem: HyperelasticProblem,
    levels: Sequence[float] | int = 10,
    *,
    start: float = 0.0,
    max_cuts: int = 8,
    extrapolate: bool = True,
    on_step: Callable[[SolveResult], None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    results=None,
) -> RampResult:
    """Quasi-static path in pseudo-time ``t`` from ``start`` to 1.

    Magnitudes given as plain numbers are ramped linearly (``c t``), those
    given as functions of time are evaluated at ``t`` (see
    :mod:`organfem.mechanics.time`).  Each target is approached from the
    last converged state; when Newton fails the state rolls back and the
    increment is halved, up to ``max_cuts`` times in a row; easy steps let
    it grow back.  The initial guess of each step is the linear
    extrapolation of the last two converged states (a secant predictor).
    The path is quasi-static and rate-independent (no inertia, no viscous
    forces) whatever integrator the problem has, so it can preload a body
    that :meth:`~organfem.mechanics.HyperelasticProblem.initial_conditions`
    and :func:`simulate` then carry on in time from rest.  Collective.

    Args:
        problem: the problem; its committed state is the start.
        levels: increasing targets in (start, 1], or a number of equal steps.
        start: the pseudo-time of the current state.
        max_cuts: halvings allowed before giving up.
        extrapolate: use the secant predictor (else start from the last state).
        on_step: called with each converged step (e.g. to write results).
        checkpoint: a folder; the state is saved there after every step and a
            ramp started on it resumes from the last save.
        results: a :class:`organfem.io.ResultsWriter` opened with
            ``resume=True``: steps written after the state the ramp starts
            from are discarded (as in :func:`simulate`).

    Raises:
        ConvergenceError: naming the last converged and the unreached
            pseudo-time, the cavity pressures [kPa, mmHg] and volumes [mL]
            there, the SNES reason, and a pressure maximum when one is near.
        organfem.errors.Interrupted: on Ctrl-C (a ``KeyboardInterrupt``,
            also when it comes during a Newton solve), naming the
            pseudo-time reached, the loads there and the checkpoint kept.
            The problem is back at its last converged state.
    """
    if isinstance(levels, int):
        if levels < 1:
            raise ParameterError(f"levels={levels!r}: need at least one load step")
        targets = list(np.linspace(start, 1.0, levels + 1)[1:])
    else:
        targets = [float(t) for t in levels]
    if any(b <= a for a, b in zip([start, *targets], targets)):
        raise ParameterError(f"pseudo-times must increase from {start}: got {targets}")
    folder = Path(checkpoint) if checkpoint is not None else None
    resumed = _resume(folder, problem)
    levels_all = tuple(targets)
    if resumed is not None:
        log.info("resuming from a checkpoint at pseudo-time %.6g", resumed.time)
        targets = [t for t in targets if t > resumed.time + 1e-14]
    elif abs(problem.time - start) > 1e-14:
        raise ParameterError(
            f"the problem is at pseudo-time {problem.time:g}, not at start={start:g}: continue "
            f"with ramp(..., start={problem.time:g}) or build a new problem"
        )

    if results is not None:
        results.discard_after(problem.time)
    # A path is quasi-static and rate-independent, whatever the problem
    # integrates in time with.
    integrator, problem.integrator = problem.integrator, QuasiStatic(viscous=False)
    history: list[dict[str, float]] = [problem.scalars()]

    def where(t: float) -> str:
        done = sum(level <= t + 1e-14 for level in levels_all)
        return f"pseudo-time {t:.6g} of 1 ({done} of {len(levels_all)} load steps done)"

    saved = None if resumed is None else resumed.time
    interruption = _Interruption(problem, folder, saved, history, where, "pseudo-time {:.6g}")
    try:
        with interruption:
            return _ramp(
                problem, targets, max_cuts, extrapolate, on_step, folder, history, interruption
            )
    finally:
        problem.integrator = integrator


def _ramp(
    problem, targets, max_cuts, extrapolate, on_step, folder, history, interruption
) -> RampResult:
    steps: list[SolveResult] = []
    for target in targets:
        current = problem.time
        increment = target - current
        cuts = 0
        while problem.time < target - 1e-14:
            current = problem.time
            trial = min(current + increment, target)
            if not extrapolate:
                state = problem.state
                state.fields["w_prev"] = state.fields["w"].copy()
                state.multipliers_prev = state.multipliers.copy()
                problem.restore(state)
            result = problem.step(trial - current, ramped=True)
            if result.converged:
                steps.append(result)
                history.append(problem.scalars())
                # on_step (which writes results) before the checkpoint: a run
                # killed between the two resumes from the previous save and
                # ``results.discard_after`` drops the step written twice.
                if on_step is not None:
                    on_step(result)
                _save(folder, problem, {})
                if folder is not None:
                    interruption.saved = problem.time
                if cuts and result.iterations <= _EASY_ITERATIONS:
                    increment *= 2.0
                continue
            cuts += 1
            # Collective on every rank (whatever each rank's log level).
            loads = _target_loads(problem, trial) or "no pressure or cavity loads"
            log.info(
                "pseudo-time %.6g not reached (%s after %d iterations; target %s); "
                "cutting the step", trial, result.reason, result.iterations, loads,
            )  # fmt: skip
            if cuts > max_cuts:
                raise _failure(problem, result, current, max_cuts, "pseudo-time", history)
            increment *= 0.5
    return RampResult(tuple(steps))


def simulate(
    problem: HyperelasticProblem,
    t_end: float | str,
    dt: float | str,
    *,
    dt_min: float | None = None,
    dt_max: float | None = None,
    max_cuts: int = 10,
    on_step: Callable[[SolveResult], None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    results=None,
) -> RampResult:
    """Integrate in time from the committed state to ``t_end`` [s].

    Adaptive steps: a step whose Newton fails is rolled back and halved (at
    most ``max_cuts`` times in a row, and not below ``dt_min``); after a
    step that converged in few iterations the step grows by 1.5 again, up
    to ``dt_max``.  The last step is shortened to land on ``t_end``.
    Collective.

    Args:
        problem: the problem (its integrator decides quasi-static or dynamic).
        t_end: final time [s] (or a string such as ``"800 ms"``).
        dt: first (and nominal) step [s].
        dt_min: smallest step [s] (default ``dt / 64``): a run that needs
            smaller steps stops with a message rather than crawling.
        dt_max: largest step [s] (default ``dt``).
        max_cuts: halvings in a row before giving up.
        on_step: called with each converged step (e.g. to write results).
        checkpoint: a folder; the state (and the step controller) is saved
            there after every step, and a run started on a folder holding a
            checkpoint resumes from it.
        results: a :class:`organfem.io.ResultsWriter` opened with
            ``resume=True``: steps written after the state the run starts
            from (after the last checkpoint of a killed run) are discarded.

    Raises:
        ConvergenceError: naming the time at which Newton failed, the
            cavity pressures (kPa and mmHg) and volumes (mL) there, and a
            pressure maximum when one is near.
        organfem.errors.Interrupted: on Ctrl-C (a ``KeyboardInterrupt``,
            also when it comes during a Newton solve), naming the time
            reached, the loads there and the checkpoint kept.  The problem
            is back at its last converged state.
    """
    t_end, dt = units.time(t_end), units.time(dt)
    if not dt > 0:
        raise ParameterError(f"dt={dt!r} s must be > 0")
    dt_max = dt if dt_max is None else float(dt_max)
    dt_min = dt / 64 if dt_min is None else float(dt_min)
    if not 0 < dt_min <= dt <= dt_max:
        raise ParameterError(f"need 0 < dt_min ({dt_min:g} s) <= dt ({dt:g} s) <= dt_max ({dt_max:g} s)")
    folder = Path(checkpoint) if checkpoint is not None else None
    resumed = _resume(folder, problem)
    h = dt
    if resumed is not None:
        h = float(resumed.controller.get("next_dt", dt))
        log.info("resuming from a checkpoint at t = %.6g s", resumed.time)
    if results is not None:
        results.discard_after(problem.time)
    steps: list[SolveResult] = []
    history: list[dict[str, float]] = []
    history.append(problem.scalars())
    cuts = 0
    tolerance = 1e-12 * max(1.0, abs(t_end))
    interruption = _Interruption(
        problem, folder, None if resumed is None else resumed.time, history,
        lambda t: f"t = {t:.6g} s of {t_end:.6g} s ({problem.state.step} steps done)",
        "t = {:.6g} s",
    )  # fmt: skip
    with interruption:
        while problem.time < t_end - tolerance:
            current = problem.time
            step = min(h, t_end - current)
            if t_end - (current + step) < 0.01 * h:  # no sliver of a last step
                step = t_end - current
            result = problem.step(step)
            if result.converged:
                cuts = 0
                steps.append(result)
                history.append(problem.scalars())
                if result.iterations <= _EASY_ITERATIONS and h < dt_max:
                    h = min(1.5 * h, dt_max)
                # on_step (which writes the results) before the checkpoint: a run
                # killed between the two resumes from the previous checkpoint and
                # ``results.discard_after`` drops the step written twice; the other
                # order would lose the step from the results for good.
                if on_step is not None:
                    on_step(result)
                _save(folder, problem, {"next_dt": h})
                if folder is not None:
                    interruption.saved = problem.time
                continue
            cuts += 1
            log.info("t = %.6g s not reached (%s); cutting the step to %.3g s", result.time, result.reason, step / 2)
            if cuts > max_cuts or step / 2 < dt_min:
                raise _failure(problem, result, current, cuts, "time", history)
            h = step / 2
    return RampResult(tuple(steps))

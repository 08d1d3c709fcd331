"""Load stepping with automatic step cutting."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import ConvergenceError, ParameterError
from .problem import HyperelasticProblem, SolveResult

__all__ = ["ramp", "RampResult"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RampResult:
    """The converged load levels of a ramp, in order, with their Newton counts."""

    steps: tuple[SolveResult, ...]

    @property
    def newton_iterations(self) -> int:
        """Newton iterations of the converged steps."""
        return sum(s.iterations for s in self.steps)


def ramp(
    problem: HyperelasticProblem,
    levels: Sequence[float] | int = 10,
    *,
    start: float = 0.0,
    max_cuts: int = 8,
    extrapolate: bool = True,
    on_step: Callable[[SolveResult], None] | None = None,
) -> RampResult:
    """Walk the load level through ``levels``, cutting steps that fail.

    Each target level is approached from the last converged state; when
    Newton fails the state is restored and the increment halved, up to
    ``max_cuts`` times in a row.  Successful steps let the increment grow
    back.  With ``extrapolate``, the initial guess of each step is the linear
    extrapolation of the last two converged states (a secant predictor).
    Collective.

    Args:
        problem: the problem; its current state is the start.
        levels: increasing target levels in (start, ...], or a number of equal
            steps to 1.
        start: the load level of the current state.
        max_cuts: halvings allowed before giving up.
        extrapolate: use the secant predictor.
        on_step: called with each converged step (e.g. to write results).

    Raises:
        ConvergenceError: naming the last converged level and the level that
            could not be reached, with the SNES reason.
    """
    if isinstance(levels, int):
        if levels < 1:
            raise ParameterError(f"levels={levels!r}: need at least one load step")
        targets = list(np.linspace(start, 1.0, levels + 1)[1:])
    else:
        targets = [float(t) for t in levels]
    if any(b <= a for a, b in zip([start, *targets], targets)):
        raise ParameterError(f"load levels must increase from {start}: got {targets}")

    steps: list[SolveResult] = []
    current, previous = start, None
    state, previous_state = problem.state(), None
    for target in targets:
        increment = target - current
        cuts = 0
        while current < target - 1e-14:
            trial = min(current + increment, target)
            if extrapolate and previous is not None:
                slope = (trial - current) / (current - previous)
                problem.restore(state + slope * (state - previous_state))
            result = problem.solve(trial)
            if result.converged:
                previous, previous_state = current, state
                current, state = trial, problem.state()
                steps.append(result)
                if on_step is not None:
                    on_step(result)
                if cuts and result.iterations <= 6:
                    increment *= 2.0
                continue
            problem.restore(state)
            cuts += 1
            log.info(
                "load level %.6g not reached (%s after %d iterations); cutting the step",
                trial, result.reason, result.iterations,
            )  # fmt: skip
            if cuts > max_cuts:
                detail = (
                    f"; det F = {result.min_det_f:.3g} <= 0 at the last iterate (inverted elements)"
                    if not result.min_det_f > 0
                    else ""
                )
                raise ConvergenceError(
                    f"Newton failed to reach load level {trial:.6g} from the converged level "
                    f"{current:.6g} after {max_cuts} step cuts: {result.reason}, "
                    f"residual norm {result.residual_norm:.3e}{detail}"
                )
            increment *= 0.5
    return RampResult(tuple(steps))

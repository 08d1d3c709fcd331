"""Load stepping with automatic step cutting."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import ConvergenceError, ParameterError
from .problem import HyperelasticProblem, SolveResult

__all__ = ["ramp", "RampResult"]

_PROGRESS = "progress.json"


def _save_checkpoint(folder: Path, problem: HyperelasticProblem, level: float) -> None:
    """Write every rank's state, then (rank 0) the level: a crash leaves the last
    complete checkpoint in force.  Collective."""
    comm = problem.domain.comm
    if comm.rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
    comm.barrier()
    state = folder / f"rank{comm.rank}.npy"
    partial = state.with_suffix(".partial.npy")
    np.save(partial, problem.state())
    os.replace(partial, state)
    comm.barrier()
    if comm.rank == 0:
        record = {"level": level, "ranks": comm.size, "dofs": problem.num_dofs}
        partial = folder / (_PROGRESS + ".partial")
        partial.write_text(json.dumps(record))
        os.replace(partial, folder / _PROGRESS)
    comm.barrier()


def _load_checkpoint(folder: Path, problem: HyperelasticProblem) -> float | None:
    """Restore the state of a checkpoint and return its level (None if absent). Collective."""
    comm = problem.domain.comm
    progress = folder / _PROGRESS
    record = json.loads(progress.read_text()) if progress.exists() else None
    if record is None:
        return None
    if record["ranks"] != comm.size or record["dofs"] != problem.num_dofs:
        raise ParameterError(
            f"checkpoint {folder} was written by {record['ranks']} rank(s) for "
            f"{record['dofs']} unknowns; this run has {comm.size} rank(s) and "
            f"{problem.num_dofs} unknowns"
        )
    state = np.load(folder / f"rank{comm.rank}.npy")
    if state.shape != problem.state().shape:
        raise ParameterError(f"checkpoint {folder}: rank {comm.rank} holds another partition")
    problem.restore(state)
    return float(record["level"])

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
    checkpoint: str | os.PathLike | None = None,
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
        checkpoint: a folder; after each converged step the state and level
            are saved there (atomically), and a ramp started with a folder
            that holds a checkpoint resumes from it, skipping the levels
            already reached.  Resume with the same mesh and number of ranks.

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

    folder = Path(checkpoint) if checkpoint is not None else None
    resumed = _load_checkpoint(folder, problem) if folder is not None else None
    if resumed is not None:
        log.info("resuming from the checkpoint in %s at load level %.6g", folder, resumed)
        start = resumed
        targets = [t for t in targets if t > resumed + 1e-14]

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
                if folder is not None:
                    _save_checkpoint(folder, problem, current)
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

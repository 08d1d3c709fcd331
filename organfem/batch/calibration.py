"""Calibration of passive parameters to measured pressure-volume data.

Two entry points:

- :func:`fit_volumes`: a least-squares fit of any chosen parameters so that
  the simulated cavity volumes match measured volumes at measured pressures.
  The gradients come from the adjoint of the equilibrium
  (:meth:`Solver.equilibrium`, one transposed solve per pressure and output),
  the optimiser is SciPy's trust-region reflective least squares
  (``scipy.optimize.least_squares``, BSD-3-Clause), in the logarithms of the
  parameters so that they stay positive.
- :func:`klotz_targets` with :class:`KlotzEDPVR`: the volumes a single
  measured end-diastolic point (EDV, EDP) implies along the normalised
  end-diastolic pressure-volume relation of Klotz et al. (2006), to feed
  :func:`fit_volumes`.

Klotz S, Hay I, Dickstein ML, Yi GH, Wang J, Maurer MS, Kass DA, Burkhoff D
(2006). Single-beat estimation of end-diastolic pressure-volume relationship:
a novel method with potential for noninvasive application. Am J Physiol Heart
Circ Physiol 291:H403-H412.  Their construction, from one (V_m, P_m) with
pressures in mmHg:

- ``V0 = V_m (0.6 - 0.006 P_m)``: the volume at zero pressure;
- ``V30 = V0 + (V_m - V0) / (P_m / A_n)^(1 / B_n)``: the volume at 30 mmHg;
- the normalised volume ``EDV_n = (V - V0) / (V30 - V0)`` follows
  ``P = A_n EDV_n^B_n`` with ``A_n = 27.78 mmHg`` and ``B_n = 2.76``, the
  same in every heart they measured (human, dog, rat).  Through (V_m, P_m)
  this is ``V(P) = V0 + (V_m - V0) (P / P_m)^(1 / B_n)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ParameterError
from ..units import MMHG_IN_KPA
from .problem import Scenario
from .solve import Solver

__all__ = ["KlotzEDPVR", "klotz_targets", "Fit", "fit_volumes"]

#: Klotz et al. (2006): P = A_n EDV_n^B_n, A_n in mmHg.
KLOTZ_AN = 27.78
KLOTZ_BN = 2.76


@dataclasses.dataclass(frozen=True)
class KlotzEDPVR:
    """The Klotz et al. (2006) EDPVR through one measured point.

    Args:
        edv: end-diastolic volume V_m [mL].
        edp: end-diastolic pressure P_m [mmHg], in (0, 50].

    Raises:
        ParameterError: a volume or pressure out of range.
    """

    edv: float
    edp: float

    def __post_init__(self) -> None:
        if not self.edv > 0:
            raise ParameterError(f"KlotzEDPVR: EDV={self.edv!r} mL must be > 0")
        if not 0 < self.edp <= 50:
            raise ParameterError(f"KlotzEDPVR: EDP={self.edp!r} mmHg must lie in (0, 50] mmHg")

    @property
    def v0(self) -> float:
        """Volume at zero pressure [mL]: ``V_m (0.6 - 0.006 P_m)``."""
        return self.edv * (0.6 - 0.006 * self.edp)

    @property
    def v30(self) -> float:
        """Volume at 30 mmHg [mL]: ``V0 + (V_m - V0) / (P_m / A_n)^(1/B_n)``."""
        return self.v0 + (self.edv - self.v0) / (self.edp / KLOTZ_AN) ** (1 / KLOTZ_BN)

    def pressure(self, volume) -> np.ndarray:
        """``P = A_n ((V - V0) / (V30 - V0))^B_n`` [mmHg] at volumes [mL] >= V0."""
        edv_n = np.maximum((np.asarray(volume, dtype=float) - self.v0) / (self.v30 - self.v0), 0.0)
        return KLOTZ_AN * edv_n**KLOTZ_BN

    def volume(self, pressure) -> np.ndarray:
        """The inverse: ``V0 + (V30 - V0) (P / A_n)^(1/B_n)`` [mL] at pressures [mmHg] >= 0."""
        p = np.maximum(np.asarray(pressure, dtype=float), 0.0)
        return self.v0 + (self.v30 - self.v0) * (p / KLOTZ_AN) ** (1 / KLOTZ_BN)


def klotz_targets(edv: float, edp: float, pressures, *, v0: float | None = None) -> np.ndarray:
    """Volumes [mL] at ``pressures`` [mmHg] on the Klotz curve through (EDV, EDP).

    Args:
        edv: end-diastolic volume [mL].
        edp: end-diastolic pressure [mmHg].
        pressures: where to read the curve [mmHg].
        v0: the unloaded volume [mL] of the model (its reference mesh).  The
            curve's shape ``(P / P_m)^(1/B_n)`` is then kept between ``v0``
            and EDV, ``V(P) = v0 + (EDV - v0) (P / EDP)^(1/B_n)``; None uses
            Klotz's own ``V0 = EDV (0.6 - 0.006 EDP)``.

    Raises:
        ParameterError: ``v0`` not below EDV.
    """
    curve = KlotzEDPVR(edv, edp)
    if v0 is None:
        return curve.volume(pressures)
    if not 0 < v0 < edv:
        raise ParameterError(
            f"klotz_targets: the unloaded volume {v0:.4g} mL must lie below EDV = {edv:.4g} mL"
        )
    p = np.maximum(np.asarray(pressures, dtype=float), 0.0)
    return v0 + (edv - v0) * (p / edp) ** (1 / KLOTZ_BN)


@dataclasses.dataclass(frozen=True)
class Fit:
    """The result of :func:`fit_volumes`.

    Attributes:
        parameters: fitted values, by name.
        initial: the starting values.
        pressures: the measured pressures [kPa].
        measured, fitted: volumes [mL] at those pressures.
        rms: root-mean-square volume misfit [mL].
        sensitivity: ``d V_i / d ln theta_j`` [mL] at the fit, (K, P): the
            volume change per relative change of each parameter.
        standard_error: one-sigma uncertainty of each parameter from the
            linearised least-squares problem, ``s^2 (J^T J)^-1`` with ``s``
            the misfit's standard deviation (or ``sigma`` if given), by name.
        evaluations: solves done by the optimiser.
        success: whether the optimiser met its tolerances.
    """

    parameters: dict
    initial: dict
    pressures: np.ndarray
    measured: np.ndarray
    fitted: np.ndarray
    rms: float
    sensitivity: np.ndarray
    standard_error: dict
    evaluations: int
    success: bool


def fit_volumes(
    solver: Solver,
    scenario: Callable[[Mapping[str, jax.Array]], Scenario],
    initial: Mapping[str, float],
    pressures: Sequence[float],
    volumes: Sequence[float],
    *,
    steps: int = 8,
    sigma: float | None = None,
    xtol: float = 1e-8,
) -> Fit:
    """Fit named parameters so that the cavity volumes match measurements.

    Args:
        solver: the :class:`Solver` of a problem with a :class:`Cavity`.
        scenario: builds the scenario from a dict of parameter values (JAX
            scalars; e.g. ``lambda p: Scenario(with_parameters(law, a=p["a"]),
            pressure=1.0)``).  Its ``pressure`` is replaced by the largest
            measured pressure; the others are levels of the same load path.
        initial: starting values of the parameters (> 0), by name.
        pressures: measured cavity pressures [kPa], > 0.
        volumes: measured cavity volumes [mL] at those pressures.
        steps: nominal load increments of each solve.
        sigma: the measurement's standard deviation [mL] for the standard
            errors; None estimates it from the misfit.
        xtol: relative tolerance on the parameters.

    Raises:
        ParameterError: mismatched or non-positive inputs.
    """
    from scipy.optimize import least_squares

    names = list(initial)
    p = np.asarray(pressures, dtype=float)
    v = np.asarray(volumes, dtype=float)
    if p.shape != v.shape or p.ndim != 1 or p.size == 0:
        raise ParameterError(
            f"fit_volumes: {p.size} pressures and {v.size} volumes; give one volume per pressure"
        )
    if np.any(p <= 0) or np.any(v <= 0):
        raise ParameterError("fit_volumes: pressures [kPa] and volumes [mL] must be > 0")
    if any(not initial[n] > 0 for n in names):
        raise ParameterError(f"fit_volumes: initial values {dict(initial)} must be > 0")
    p_max = float(p.max())
    levels = p / p_max
    unique_levels = np.unique(levels)
    where = np.searchsorted(unique_levels, levels)

    def simulated(log_theta):
        values = {n: jnp.exp(log_theta[i]) for i, n in enumerate(names)}
        s = dataclasses.replace(scenario(values), pressure=p_max)
        u = solver.equilibrium(s, tuple(unique_levels), steps=steps)
        volumes_ml = jax.vmap(lambda x: solver.problem.volume(solver.data, x))(u) / 1e3
        return volumes_ml[where]

    cache: dict = {}

    def evaluate(x):
        key = tuple(np.round(x, 15))
        if key not in cache:
            cache.clear()
            with jax.enable_x64(True):
                # One forward solve, then the adjoint for every volume at once.
                sim, pullback = jax.vjp(simulated, jnp.asarray(x))
                (jac,) = jax.vmap(pullback)(jnp.eye(len(v)))
            cache[key] = (np.asarray(sim), np.asarray(jac))
            evaluations[0] += 1
        return cache[key]

    evaluations = [0]
    x0 = np.log([float(initial[n]) for n in names])
    result = least_squares(
        lambda x: evaluate(x)[0] - v, x0, jac=lambda x: evaluate(x)[1], method="trf", xtol=xtol
    )
    sim, jac = evaluate(result.x)
    residual = sim - v
    dof = max(len(v) - len(names), 1)
    s2 = sigma**2 if sigma is not None else float(residual @ residual) / dof
    try:
        cov_log = s2 * np.linalg.inv(jac.T @ jac)
    except np.linalg.LinAlgError:
        cov_log = np.full((len(names), len(names)), np.inf)
    fitted = {n: float(np.exp(result.x[i])) for i, n in enumerate(names)}
    return Fit(
        parameters=fitted,
        initial={n: float(initial[n]) for n in names},
        pressures=p,
        measured=v,
        fitted=sim,
        rms=float(np.sqrt(np.mean(residual**2))),
        sensitivity=jac,
        standard_error={n: fitted[n] * float(np.sqrt(cov_log[i, i])) for i, n in enumerate(names)},
        evaluations=evaluations[0],
        success=bool(result.success),
    )

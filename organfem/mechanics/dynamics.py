"""Inertia and damping terms.

Mass units follow from mm, kPa and s: a force of 1 mN = 1 kg mm/s^2, so
density is in kg/mm^3 (myocardium and blood: 1.06e-6 kg/mm^3 = 1060 kg/m^3).
"""

from __future__ import annotations

import dataclasses

from .._dolfinx import ufl
from ..errors import ParameterError
from .kinematics import deformation_gradient, voigt_strain
from .terms import Contribution, FormContext

__all__ = ["Inertia", "RayleighDamping", "ViscousDamping"]


@dataclasses.dataclass(frozen=True)
class Inertia:
    """Inertia ``rho0 d2u/dt2`` per reference volume.

    Args:
        density: reference density [kg/mm^3], > 0 (1.06e-6 for myocardium).
    """

    density: float

    def __post_init__(self) -> None:
        if not self.density > 0:
            raise ParameterError(
                f"Inertia: density={self.density!r} kg/mm^3 must be > 0 "
                "(myocardium: 1.06e-6 kg/mm^3 = 1060 kg/m^3)"
            )

    def contribute(self, ctx: FormContext) -> Contribution:
        rho = ctx.constant(float(self.density))
        return Contribution(residual=rho * ufl.inner(ctx.acceleration, ctx.v) * ctx.quadrature.dx)


@dataclasses.dataclass(frozen=True)
class RayleighDamping:
    """Rayleigh damping ``C = alpha M + beta K``.

    The mass part is ``alpha rho0 du/dt``; the stiffness part is the viscous
    stress ``beta D : dE/dt`` with ``D`` the current material tangent at the
    quadrature points (held fixed within a Newton iteration, as the
    stiffness-proportional damping of commercial codes).

    Args:
        density: reference density [kg/mm^3] for the mass part.
        alpha: mass-proportional coefficient [1/s], >= 0.
        beta: stiffness-proportional coefficient [s], >= 0 (needs a JAX
            material, whose tangent it uses).
    """

    density: float = 0.0
    alpha: float = 0.0
    beta: float = 0.0

    def __post_init__(self) -> None:
        if self.alpha < 0 or self.beta < 0 or self.density < 0 or self.alpha + self.beta <= 0:
            raise ParameterError(
                f"RayleighDamping: alpha={self.alpha!r} 1/s and beta={self.beta!r} s must be "
                f">= 0 and not both 0; density={self.density!r} kg/mm^3 must be >= 0"
            )
        if self.alpha > 0 and not self.density > 0:
            raise ParameterError("RayleighDamping: the mass part (alpha > 0) needs density > 0 kg/mm^3")

    def contribute(self, ctx: FormContext) -> Contribution:
        residual = None
        if self.alpha > 0:
            c = ctx.constant(float(self.alpha * self.density))
            residual = c * ufl.inner(ctx.velocity, ctx.v) * ctx.quadrature.dx
        if self.beta > 0:
            if ctx.material_tangent is None:
                raise ParameterError(
                    "RayleighDamping(beta > 0) needs a JAX material term before it in the model"
                )
            F = deformation_gradient(ctx.u)
            rate = voigt_strain(ufl.sym(F.T * ufl.grad(ctx.velocity)))
            test = voigt_strain(ufl.sym(F.T * ufl.grad(ctx.v)))
            beta = ctx.constant(float(self.beta))
            part = beta * ufl.inner(ctx.material_tangent * rate, test) * ctx.quadrature.dx
            residual = part if residual is None else residual + part
        return Contribution(residual=residual)


@dataclasses.dataclass(frozen=True)
class ViscousDamping:
    """Viscous pseudo-potential ``eta/2 tr(dE/dt^2)``: ``S_visc = eta dE/dt``.

    The viscous second Piola-Kirchhoff stress of cardiac mechanics
    benchmarks (e.g. Arostica et al. 2025, the cardiac-mechanics benchmark
    with ``eta = 0.1 kPa s``); objective, and dissipating
    ``eta |dE/dt|^2 >= 0``.

    Args:
        eta: viscosity [kPa s], > 0.
    """

    eta: float

    def __post_init__(self) -> None:
        if not self.eta > 0:
            raise ParameterError(f"ViscousDamping: eta={self.eta!r} kPa s must be > 0")

    def contribute(self, ctx: FormContext) -> Contribution:
        F = deformation_gradient(ctx.u)
        Edot = ufl.sym(F.T * ufl.grad(ctx.velocity))
        eta = ctx.constant(float(self.eta))
        residual = eta * ufl.inner(Edot, ufl.sym(F.T * ufl.grad(ctx.v))) * ctx.quadrature.dx
        return Contribution(residual=residual)

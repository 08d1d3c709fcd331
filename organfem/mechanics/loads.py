"""Boundary conditions and loads: small immutable terms of a model.

Each load carries its own magnitude as a function of time (a number, a
:class:`~organfem.mechanics.Table`, a :class:`~organfem.mechanics.Ramp` or
a callable of ``t`` [s]); in a quasi-static :func:`~organfem.mechanics.ramp`
plain numbers are ramped linearly over the pseudo-time.  Units: kPa, kPa/mm,
kPa s/mm, mm.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .._dolfinx import ufl
from ..errors import ParameterError
from .kinematics import deformation_gradient
from .terms import Contribution, FormContext, TimeConstant, normal
from .time import Magnitude, as_time_function, check_vector

__all__ = ["Fixed", "Displacement", "Pressure", "Spring", "BodyForce", "Load", "Constraint"]


@dataclasses.dataclass(frozen=True)
class Fixed:
    """Zero displacement on the facets tagged ``tag``.

    Args:
        tag: facet tag name.
        components: displacement components to fix (0=x, 1=y, 2=z); all if None.
    """

    tag: str
    components: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.components is not None:
            comps = tuple(self.components)
            if not comps or any(c not in (0, 1, 2) for c in comps) or len(set(comps)) != len(comps):
                raise ParameterError(
                    f"Fixed({self.tag!r}): components={self.components!r} must be distinct "
                    "values among 0, 1, 2"
                )
            object.__setattr__(self, "components", comps)

    def contribute(self, ctx: FormContext) -> Contribution:
        facets = ctx.domain.facets(self.tag)  # MissingTagError now, not at the first solve

        def bcs(problem) -> list:
            return problem.zero_displacement_bcs(facets, self.components)

        return Contribution(bcs=bcs)


@dataclasses.dataclass(frozen=True)
class Displacement:
    """Prescribed displacement [mm] of the facets tagged ``tag``, in time.

    Args:
        tag: facet tag name.
        value: three magnitudes (x, y, z) [mm], each a number or a function
            of time, or None for a free component: ``(Ramp(2.0), None, None)``
            pulls the facets 2 mm along x over 1 s and leaves y and z free.
            On a quasi-static :func:`~organfem.mechanics.ramp`, plain numbers
            are ramped from 0.
    """

    tag: str
    value: Sequence[Magnitude | None]

    def __post_init__(self) -> None:
        value = tuple(self.value)
        if len(value) != 3 or all(v is None for v in value):
            raise ParameterError(
                f"Displacement({self.tag!r}): value={self.value!r} must give 3 components "
                "(numbers, functions of time or None for free), not all None"
            )
        for axis, v in zip("xyz", value, strict=True):
            if v is not None:
                as_time_function(v, f"Displacement({self.tag!r}) {axis}")
        object.__setattr__(self, "value", value)

    def contribute(self, ctx: FormContext) -> Contribution:
        facets = ctx.domain.facets(self.tag)  # MissingTagError now
        given = [(i, v) for i, v in enumerate(self.value) if v is not None]
        held: list = []

        def bcs(problem) -> list:
            pairs = problem.component_bcs(facets, [i for i, _ in given])
            held.extend(value for _, value in pairs)
            return [bc for bc, _ in pairs]

        def at_time(t: float, ramped: bool) -> None:
            for function, (i, v) in zip(held, given, strict=True):
                what = f"Displacement({self.tag!r}) {'xyz'[i]}"
                function.x.array[:] = as_time_function(v, what, ramped=ramped)(t)

        return Contribution(bcs=bcs, at_time=at_time)


@dataclasses.dataclass(frozen=True)
class Pressure:
    """Follower pressure [kPa] on the facets tagged ``tag``.

    Positive pressure pushes against the outward normal of the solid (a cavity
    pressure on the endocardium inflates the chamber): the traction is
    ``-p J F^-T N`` per reference area.

    Args:
        tag: facet tag name.
        value: magnitude [kPa] as a number or a function of time.
    """

    tag: str
    value: Magnitude

    def contribute(self, ctx: FormContext) -> Contribution:
        magnitude = TimeConstant(ctx, self.value, f"Pressure({self.tag!r})")
        F = deformation_gradient(ctx.u)
        N = normal(ctx)
        residual = magnitude.constant * ufl.det(F) * ufl.inner(ufl.inv(F).T * N, ctx.v) * ctx.ds(self.tag)

        def report() -> dict[str, float]:
            return {f"{self.tag}_pressure_kPa": float(magnitude.constant.value)}

        return Contribution(residual=residual, at_time=magnitude.at_time, report=report)


@dataclasses.dataclass(frozen=True)
class Spring:
    """Robin spring and dashpot on the facets tagged ``tag``.

    Traction per reference area ``t = -k u - c du/dt`` (full), or with
    ``normal_only`` ``t = -(k u.N + c du/dt.N) N`` (e.g. the pericardium on
    the epicardium, Pfaller et al. 2019).

    Args:
        tag: facet tag name.
        stiffness: ``k`` [kPa/mm], >= 0.
        damping: ``c`` [kPa s/mm], >= 0 (a dashpot; needs a time integrator
            to have an effect).
        normal_only: resist only the normal component.
    """

    tag: str
    stiffness: float
    normal_only: bool = False
    damping: float = 0.0

    def __post_init__(self) -> None:
        if not self.stiffness >= 0 or not self.damping >= 0 or self.stiffness + self.damping <= 0:
            raise ParameterError(
                f"Spring({self.tag!r}): stiffness={self.stiffness!r} kPa/mm and "
                f"damping={self.damping!r} kPa s/mm must be >= 0, not both 0"
            )

    def contribute(self, ctx: FormContext) -> Contribution:
        ds = ctx.ds(self.tag)
        k = ctx.constant(float(self.stiffness))
        c = ctx.constant(float(self.damping))
        traction = k * ctx.u + c * ctx.velocity
        if self.normal_only:
            N = normal(ctx)
            residual = ufl.dot(traction, N) * ufl.dot(ctx.v, N) * ds
        else:
            residual = ufl.inner(traction, ctx.v) * ds
        return Contribution(residual=residual)


@dataclasses.dataclass(frozen=True)
class BodyForce:
    """Body force per unit reference volume [kPa/mm = mN/mm^3].

    Args:
        value: the direction and size, 3 numbers.
        scale: dimensionless magnitude as a number or a function of time;
            the force is ``scale(t) * value``.
    """

    value: Sequence[float]
    scale: Magnitude = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", check_vector(self.value, "BodyForce: value"))

    def contribute(self, ctx: FormContext) -> Contribution:
        magnitude = TimeConstant(ctx, self.scale, "BodyForce")
        b = ctx.constant(np.asarray(self.value, dtype=np.float64))
        residual = -magnitude.constant * ufl.inner(b, ctx.v) * ctx.quadrature.dx
        return Contribution(residual=residual, at_time=magnitude.at_time)


Constraint = Fixed | Displacement
Load = Pressure | Spring | BodyForce

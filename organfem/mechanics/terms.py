"""The protocol through which each part of a model enters the problem.

A model is a frozen set of terms (material, loads, constraints, damping,
inertia, cavities, contacts).  :class:`~organfem.mechanics.HyperelasticProblem`
asks each term for its :class:`Contribution` once, given a
:class:`FormContext` (the unknowns and the time as UFL objects), and never
looks inside a term: a new kind of term is a new class with a
``contribute(ctx)`` method.

All equations are written at the end-of-step state ``t_{n+1}``: the
velocity and acceleration of the context are the integrator's expressions
``v = c_v u + v*`` and ``a = c_a u + a*`` in the end-of-step displacement
``u`` (see :mod:`organfem.mechanics.integrators`), so constraints
(incompressibility, cavity volumes) hold at ``t_{n+1}``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .._dolfinx import dolfinx, ufl
from .time import as_time_function

__all__ = ["Term", "TermState", "FormContext", "Contribution", "Multiplier", "TimeConstant"]


@dataclasses.dataclass(frozen=True)
class FormContext:
    """What a term may build its forms from.

    Attributes:
        domain: the :class:`~organfem.mechanics.Domain`.
        quadrature: quadrature points of the volume integrals (``.dx``).
        u: the end-of-step displacement [mm] (UFL).
        v: its test function.
        test: the test function of all field unknowns (``v`` is its
            displacement part), for ``ufl.derivative(..., unknown, test)``.
        pressure: the incompressibility pressure [kPa] (mixed formulation),
            else None.
        velocity: ``du/dt`` at the end of the step [mm/s] (UFL).
        acceleration: ``d2u/dt2`` at the end of the step [mm/s^2] (UFL).
        time: the end-of-step time [s] as a DOLFINx Constant.
        unknown: the Function of all field unknowns (for ``ufl.derivative``).
        material_tangent: the quadrature-point tangent ``D`` (6x6 Voigt) of
            the JAX material, once a material term has contributed (for
            stiffness-proportional damping); None otherwise.
    """

    domain: Any
    quadrature: Any
    u: Any
    v: Any
    test: Any
    pressure: Any
    velocity: Any
    acceleration: Any
    time: Any
    unknown: Any
    material_tangent: Any = None

    def constant(self, value) -> dolfinx.fem.Constant:
        """A DOLFINx Constant on the mesh (scalar or vector)."""
        return dolfinx.fem.Constant(self.domain.mesh, value)

    def ds(self, tag: str):
        """Facet measure on ``tag`` with the quadrature degree of the volume
        integrals (two more on curved cells).

        For P2 displacements on straight cells, degree 4 integrates follower
        pressures and cavity volumes (products of the cofactor of F, of
        degree 2, and a P2 field) and their derivatives exactly; UFL's own
        estimate for them is degree 10-16 on the residual and more on the
        Jacobian, several times the work for nothing.
        """
        degree = self.quadrature.degree + 2 * (self.domain.geometry_degree - 1)
        return self.domain.ds(tag, degree=degree)


@dataclasses.dataclass(frozen=True)
class Multiplier:
    """A global scalar unknown (e.g. a cavity pressure under volume control).

    The problem adds one row and one column to the system:
    ``R_u += value * column(v)`` is already in the term's residual (with
    ``constant`` holding the value), ``column`` is its derivative by the
    multiplier, and the multiplier's own equation is
    ``sign * (assemble(functional) - target(t)) = 0`` with derivative
    ``sign * row(v)``.  For a symmetric saddle point, ``row == column`` and
    ``sign`` makes them agree.

    Attributes:
        name: e.g. ``"lv"``.
        constant: the DOLFINx Constant the residual reads the value from.
        column: linear form ``dR_u/dvalue`` in the test function.
        row: linear form ``d functional/du`` in the test function.
        functional: scalar form (e.g. the cavity volume [mm^3]).
        target: ``t -> value the functional must take``; None where the
            term's :attr:`Contribution.targets` gives it.
        sign: +1 or -1.
        unit: what the multiplier is, for messages (e.g. ``"kPa"``).
    """

    name: str
    constant: Any
    column: Any
    row: Any
    functional: Any
    target: Callable[[float], float] | None
    sign: float = 1.0
    unit: str = ""


@dataclasses.dataclass
class Contribution:
    """What one term adds to the problem.

    Attributes:
        residual: UFL form added to the residual (test function ``ctx.v``).
        jacobian: its Jacobian, only where UFL cannot derive it (a JAX
            material); otherwise ``ufl.derivative`` of ``residual``.
        bcs: Dirichlet conditions, as ``(space_of_ctx, dofs)`` builders:
            callables ``(problem) -> list[DirichletBC]``.
        multipliers: global scalar unknowns this term brings.
        targets: for multipliers whose targets depend on the multipliers
            themselves (cavities coupled to a 0D circulation, whose volumes
            at the end of the step follow from their pressures):
            ``(t, values (k,)) -> (targets (k,), d targets / d values (k, k))``
            for this term's ``k`` multipliers, in their order; it replaces
            each ``Multiplier.target``, and its derivative enters the
            multipliers' diagonal block of the Jacobian.
        at_time: ``(t, ramped) -> None``: set the term's Constants for the
            end-of-step time ``t`` (``ramped``: plain numbers are ramped).
        before_assembly: collective; called with the current iterate
            before every residual/Jacobian assembly; returns the smallest
            ``det F`` it saw (``inf`` if it does not look).
        state: internal variables (a :class:`TermState`), or None.
        report: ``() -> dict[str, float]``, scalars for results and logs.
        output: an object the term offers the user through
            :meth:`~organfem.mechanics.HyperelasticProblem.term_output` (e.g.
            a contact's report), or None.
    """

    residual: Any = None
    jacobian: Any = None
    bcs: Callable[[Any], list] | None = None
    multipliers: tuple[Multiplier, ...] = ()
    targets: Callable[[float, Any], tuple[Any, Any]] | None = None
    at_time: Callable[[float, bool], None] | None = None
    before_assembly: Callable[[], float] | None = None
    state: Any = None
    report: Callable[[], Mapping[str, float]] | None = None
    output: Any = None


class TermState(Protocol):
    """Internal variables of a term, kept in the problem's :class:`State`."""

    def begin_step(self, t: float, dt: float) -> None:
        """Advance the variables from the committed values to the end of a step."""
        ...

    def commit(self) -> None:
        """Make the advanced values the committed ones (the step converged)."""
        ...

    def arrays(self) -> Mapping[str, Any]:
        """The committed values, by name (this rank's arrays)."""
        ...

    def restore(self, arrays: Mapping[str, Any]) -> None:
        """Set the committed values (rollback, restart)."""
        ...


class Term(Protocol):
    """One part of a model: it contributes forms to the problem."""

    def contribute(self, ctx: FormContext) -> Contribution:
        """The term's forms and hooks, built once per problem."""
        ...


class TimeConstant:
    """A DOLFINx Constant that follows a magnitude's function of time.

    Args:
        ctx: the form context (for the mesh).
        value: a number, a TimeFunction or a callable of time [s].
        what: what it drives, for error messages.
    """

    def __init__(self, ctx: FormContext, value, what: str):
        self.constant = ctx.constant(0.0)
        self._plain = as_time_function(value, what)
        self._ramped = as_time_function(value, what, ramped=True)

    def at_time(self, t: float, ramped: bool) -> None:
        """Set the Constant to the magnitude at time ``t`` (``ramped``: on a
        quasi-static path, where plain numbers are ramped)."""
        self.constant.value = (self._ramped if ramped else self._plain)(t)


def form_sum(forms) -> Any:
    """Sum of the UFL forms that are not None (None if all are)."""
    forms = [f for f in forms if f is not None]
    if not forms:
        return None
    total = forms[0]
    for f in forms[1:]:
        total = total + f
    return total


def normal(ctx: FormContext):
    """Reference outward unit normal of the solid on the boundary (UFL)."""
    return ufl.FacetNormal(ctx.domain.mesh)

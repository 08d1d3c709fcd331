"""Frictionless contact of a tagged surface with rigid obstacles moving in time.

An obstacle is a signed distance ``g(x, t)`` [mm] of the current position
``x = X + u``: positive where the body may be, negative inside the
obstacle.  The penalty method (Wriggers, *Computational Contact Mechanics*,
2006, sec. 6.3) gives the contact pressure, a Cauchy pressure per current
area,

    p_c = eps <-g>,      t = p_c grad g   on the surface,

with ``<x> = max(x, 0)``; the residual is ``-int p_c grad g . v da`` with
``da = J |F^-T N| dA``.  UFL differentiates it, so Newton converges
quadratically away from the change of the active set.

Choice of the penalty ``eps`` [kPa/mm]: the penetration is ``p_c / eps``, so
the error in the contact pressure and shape is of order ``p_c / (eps L)``
for a body of size ``L``; ``eps`` between ``10 E/h`` and ``1000 E/h`` (``E``
a stiffness of the body [kPa], ``h`` the element size [mm]) keeps the
penetration under a few per cent of ``h`` without spoiling Newton's
conditioning.  Refine ``eps`` with the mesh (``eps ~ 1/h``) to converge.
PETSc's variational-inequality bounds cannot express these obstacles (a
cylinder is not a box in Cartesian components), hence the penalty.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np

from .._dolfinx import MPI, dolfinx, ufl
from ..errors import ParameterError
from .kinematics import deformation_gradient
from .terms import Contribution, FormContext, normal
from .time import Magnitude, as_time_function, check_vector

__all__ = ["Contact", "Plane", "Cylinder", "SignedDistance", "ContactReport"]



class _VectorOfTime:
    """A 3-vector given as constant numbers or a callable of time."""

    def __init__(self, value, what: str):
        self.what = what
        if callable(value):
            self.fn = value
            check_vector(value(0.0), what)
        else:
            fixed = check_vector(value, what)
            self.fn = lambda t: fixed

    def __call__(self, t: float) -> np.ndarray:
        return np.asarray(check_vector(self.fn(t), f"{self.what} at t = {t:g} s"))


class _Obstacle:
    """Base: ``distance(x, ctx) -> (g, update)``, g a UFL scalar of x."""

    def distance(self, x, ctx: FormContext):
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Plane(_Obstacle):
    """A rigid half-space: the body stays on the side ``normal`` points to.

    ``g = (x - point(t)) . n``.

    Args:
        point: a point of the plane [mm], 3 numbers or a callable of time.
        normal: the plane's normal (into the free side), 3 numbers.
    """

    point: Sequence[float] | Callable[[float], Sequence[float]]
    normal: Sequence[float]

    def __post_init__(self) -> None:
        n = np.asarray(check_vector(self.normal, "Plane: normal"))
        if not np.linalg.norm(n) > 0:
            raise ParameterError("Plane: normal must be non-zero")
        object.__setattr__(self, "normal", tuple(n / np.linalg.norm(n)))
        _VectorOfTime(self.point, "Plane: point")

    def distance(self, x, ctx):
        point = _VectorOfTime(self.point, "Plane: point")
        p = ctx.constant(np.zeros(3))

        def at_time(t: float) -> None:
            p.value[:] = point(t)

        return ufl.dot(x - p, ufl.as_vector(self.normal)), at_time


@dataclasses.dataclass(frozen=True)
class Cylinder(_Obstacle):
    """A rigid circular cylinder of radius ``radius(t)`` about a line.

    ``outside=True`` (default): the obstacle is the solid cylinder and the
    body stays outside it (a balloon or stent frame expanding a vessel),
    ``g = d - r``; ``outside=False``: the obstacle is everything beyond the
    radius and the body stays inside (a rigid sleeve), ``g = r - d``; ``d``
    is the distance of ``x`` from the axis through ``centre(t)``.

    Args:
        radius: [mm], a number or a function of time.
        axis: the axis direction, 3 numbers.
        centre: a point of the axis [mm], 3 numbers or a callable of time.
        outside: which side the body is on.
    """

    radius: Magnitude
    axis: Sequence[float] = (0.0, 0.0, 1.0)
    centre: Sequence[float] | Callable[[float], Sequence[float]] = (0.0, 0.0, 0.0)
    outside: bool = True

    def __post_init__(self) -> None:
        a = np.asarray(check_vector(self.axis, "Cylinder: axis"))
        if not np.linalg.norm(a) > 0:
            raise ParameterError("Cylinder: axis must be non-zero")
        object.__setattr__(self, "axis", tuple(a / np.linalg.norm(a)))
        _VectorOfTime(self.centre, "Cylinder: centre")
        as_time_function(self.radius, "Cylinder: radius")

    def distance(self, x, ctx):
        centre = _VectorOfTime(self.centre, "Cylinder: centre")
        c = ctx.constant(np.zeros(3))
        r = ctx.constant(0.0)
        a = ufl.as_vector(self.axis)

        def at_time(t: float) -> None:
            c.value[:] = centre(t)
            radius = as_time_function(self.radius, "Cylinder: radius")(t)
            if not radius > 0:
                raise ParameterError(f"Cylinder: radius {radius:g} mm at t = {t:g} s must be > 0")
            r.value = radius

        y = (x - c) - ufl.dot(x - c, a) * a
        d = ufl.sqrt(ufl.dot(y, y))
        return (d - r if self.outside else r - d), at_time


@dataclasses.dataclass(frozen=True)
class SignedDistance(_Obstacle):
    """Any rigid obstacle given by its signed distance, written in UFL.

    Args:
        fn: ``fn(x, t) -> g``: ``x`` is the current position (a UFL
            3-vector [mm]) and ``t`` the time (a UFL scalar [s]); ``g`` [mm] is
            positive where the body may be.  Use ``ufl`` operations, e.g.
            ``lambda x, t: ufl.sqrt(ufl.dot(x, x)) - (10 + 2 * t)`` (a sphere
            growing at 2 mm/s).
    """

    fn: Callable

    def distance(self, x, ctx):
        return self.fn(x, ctx.time), lambda t: None


@dataclasses.dataclass(frozen=True)
class ContactReport:
    """Contact of one surface at the current state.

    Attributes:
        force: total contact force on the body [mN], 3 numbers.
        area: current area in contact [mm^2].
        max_pressure: largest contact pressure [kPa].
        max_penetration: largest penetration [mm].
    """

    force: tuple[float, float, float]
    area: float
    max_pressure: float
    max_penetration: float


@dataclasses.dataclass(frozen=True)
class Contact:
    """Frictionless penalty contact of the facets ``tag`` with an obstacle.

    Args:
        tag: facet tag of the body's contact surface.
        obstacle: :class:`Plane`, :class:`Cylinder` or :class:`SignedDistance`.
        penalty: ``eps`` [kPa/mm], > 0; see the module notes for its choice.
        name: name in results (default: the tag).
    """

    tag: str
    obstacle: _Obstacle
    penalty: float
    name: str | None = None

    #: PETSc options this term suggests when the user gives none: the
    #: critical-point line search of the default preset stalls where contact
    #: begins (step lengths of 1e-3, 22 Newton iterations in a step on the
    #: tube of tests/test_contact.py), backtracking takes 11-13 there and 2
    #: per step after.
    petsc_options: ClassVar[dict] = {"snes_linesearch_type": "bt"}

    def __post_init__(self) -> None:
        if not isinstance(self.obstacle, _Obstacle):
            raise ParameterError(
                f"Contact({self.tag!r}): obstacle must be a Plane, Cylinder or SignedDistance"
            )
        if not (math.isfinite(self.penalty) and self.penalty > 0):
            raise ParameterError(f"Contact({self.tag!r}): penalty={self.penalty!r} kPa/mm must be > 0")
        if self.name is None:
            object.__setattr__(self, "name", self.tag)

    def contribute(self, ctx: FormContext) -> Contribution:
        domain = ctx.domain
        domain.facets(self.tag)  # MissingTagError now
        X = ufl.SpatialCoordinate(domain.mesh)
        x = ufl.variable(X + ctx.u)
        g, move = self.obstacle.distance(x, ctx)
        grad_g = ufl.diff(g, x)
        eps = ctx.constant(float(self.penalty))
        pressure = eps * ufl.max_value(-g, 0.0)
        F = deformation_gradient(ctx.u)
        N = normal(ctx)
        cofN = ufl.det(F) * ufl.inv(F).T * N
        da_dA = ufl.sqrt(ufl.dot(cofN, cofN))
        ds = ctx.ds(self.tag)
        residual = -pressure * ufl.dot(grad_g, ctx.v) * da_dA * ds
        report = _ContactOutput(ctx, self.tag, g, pressure, grad_g, da_dA)

        def at_time(t: float, ramped: bool) -> None:
            move(t)

        return Contribution(residual=residual, at_time=at_time, report=report.scalars(self.name),
                            output=report)


class _ContactOutput:
    """Contact force, area and pressure field of one surface."""

    def __init__(self, ctx, tag, g, pressure, grad_g, da_dA):
        domain = ctx.domain
        ds = ctx.ds(tag)
        self.comm = domain.comm
        active = ufl.conditional(ufl.lt(g, 0.0), 1.0, 0.0)
        self.force = [dolfinx.fem.form(pressure * grad_g[i] * da_dA * ds) for i in range(3)]
        self.area = dolfinx.fem.form(active * da_dA * ds)
        self.pressure_expr = pressure
        self.gap_expr = g
        self.mesh = domain.mesh
        self._space = None
        self._tag_dofs = None
        self.domain = domain
        self.tag = tag

    def _sum(self, form) -> float:
        return self.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

    def field(self, name: str = "contact_pressure") -> dolfinx.fem.Function:
        """Contact pressure [kPa] at the P1 nodes (zero off the surface). Collective."""
        if self._space is None:
            self._space = dolfinx.fem.functionspace(self.mesh, ("Lagrange", 1))
            fdim = self.mesh.topology.dim - 1
            self._tag_dofs = dolfinx.fem.locate_dofs_topological(
                self._space, fdim, self.domain.facets(self.tag)
            )
            points = self._space.element.interpolation_points
            self._pressure = dolfinx.fem.Expression(self.pressure_expr, points)
            self._gap = dolfinx.fem.Expression(self.gap_expr, points)
        out = dolfinx.fem.Function(self._space, name=name)
        out.interpolate(self._pressure)
        keep = np.zeros(out.x.array.size, dtype=bool)
        keep[self._tag_dofs] = True
        out.x.array[~keep] = 0.0
        out.x.scatter_forward()
        return out

    def report(self) -> ContactReport:
        force = tuple(self._sum(f) for f in self.force)
        p = self.field()
        gap = dolfinx.fem.Function(self._space)
        gap.interpolate(self._gap)
        local_p = p.x.array[self._tag_dofs]
        local_g = gap.x.array[self._tag_dofs]
        pmax = self.comm.allreduce(float(local_p.max()) if local_p.size else 0.0, op=MPI.MAX)
        pen = self.comm.allreduce(float(max(-local_g.min(), 0.0)) if local_g.size else 0.0, op=MPI.MAX)
        return ContactReport(force, self._sum(self.area), pmax, pen)  # type: ignore[arg-type]

    def scalars(self, name: str):
        def values() -> dict[str, float]:
            r = self.report()
            return {
                f"{name}_contact_force_x_mN": r.force[0],
                f"{name}_contact_force_y_mN": r.force[1],
                f"{name}_contact_force_z_mN": r.force[2],
                f"{name}_contact_area_mm2": r.area,
                f"{name}_contact_max_pressure_kPa": r.max_pressure,
            }

        return values

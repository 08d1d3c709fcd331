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
from .terms import Contribution, FormContext, Multiplier, normal
from .time import Magnitude, as_time_function, check_vector

__all__ = ["Contact", "Plane", "Cylinder", "Frame", "SignedDistance", "ContactReport"]



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

    def contact(self, x, ctx: FormContext, eps):
        """``(g, p_c, update, free)``: the gap, the contact pressure (``eps
        <-g>``), the update for a new time, and the obstacle's own unknowns
        (None: it moves as prescribed)."""
        g, move = self.distance(x, ctx)
        return g, eps * ufl.max_value(-g, 0.0), move, None


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


def _hinges(xs: Sequence[float], ys: Sequence[float], what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Knots, values and slope changes of a piecewise-linear table held constant outside."""
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    if x.ndim != 1 or x.shape != y.shape or x.size < 2:
        raise ParameterError(f"{what}: expected two equal-length lists of at least 2 numbers")
    if not (np.isfinite(x).all() and np.isfinite(y).all() and (np.diff(x) > 0).all()):
        raise ParameterError(f"{what}: abscissae must be finite and strictly increasing, values finite")
    slopes = np.diff(y) / np.diff(x)
    return x, y, np.diff(np.concatenate([[0.0], slopes, [0.0]]))


def _piecewise(value, knots, first, changes, relu):
    """``first + sum_k changes_k relu(value - knot_k)``: the table at ``value``."""
    out = first
    for knot, change in zip(knots, changes, strict=True):
        if change != 0.0:
            out = out + float(change) * relu(value - float(knot))
    return out


@dataclasses.dataclass(frozen=True)
class Frame(_Obstacle):
    """A device frame (a transcatheter valve's stent) expanding inside a vessel.

    The frame is a surface of revolution about ``axis``: from its inflow end
    at ``origin`` (axial position ``s = 0``) to ``s = H`` its radius is

        R(s, t) = R_c + expansion(t) (R_nom(s) - R_c),

    with ``R_nom(s)`` the nominal profile (``diameters`` at ``heights``,
    piecewise linear; a cylinder for two equal diameters) and ``R_c`` the
    crimped radius.  It pushes the tissue radially: the gap is ``g = rho -
    R(s_c, t)`` (``rho`` the distance from the axis, ``s_c`` = s clamped to
    [0, H]) and the contact pressure

        p = eps <-g> w(s),

    with ``w = 1`` along the frame, fading linearly to 0 over ``edge`` [mm]
    beyond each end (its last struts).  A frame's ends are open: tissue
    beyond them is not pushed along the axis, as it would be by the end
    faces of a solid obstacle, which plough a narrower LVOT below the frame
    (measured: 3.4 N of axial force and tissue bulging past the frame when
    a 29 mm frame met a 25 mm LVOT with rounded solid ends).

    A rigid frame (balloon-expandable: ``radial_pressure`` None) holds the
    tissue at ``R``: penalty contact.  A self-expanding frame pushes with at
    most the pressure its radial force allows at its current compression,
    ``p = min(eps <-g>, p_r(2 R_nom(s) - 2 rho)) w(s)`` (the minimum smoothed
    over 1 % of the law's largest pressure): ``radial_pressure`` is
    a table of compression ``c = D_nom(s) - D`` [mm] (``D = 2 rho``) against
    outward pressure [kPa], e.g. a chronic outward force curve divided by the
    frame's lateral area (:mod:`organfem.devices`).  Where the tissue resists
    more than that the frame yields and follows it.

    Args:
        heights: axial positions of the profile [mm] from the inflow end,
            increasing, first 0; the last is the frame height.
        diameters: nominal diameters there [mm], > 0.
        crimped_diameter: diameter at ``expansion = 0`` [mm], > 0.
        expansion: 0 (crimped) to 1 (nominal), a number or a function of
            time (e.g. ``Table([0, 1], [0.6, 1.0])``).
        origin: centre of the inflow end [mm], 3 numbers.
        axis: the frame's axis, inflow to outflow, 3 numbers.
        edge: length over which the push fades beyond each end [mm], > 0.
        radial_pressure: ``(compressions [mm], pressures [kPa])`` or None.
        lateral_stiffness: None: the frame's axis stays where it is put
            (held by the delivery system).  A number ``k`` [mN/mm]: the frame
            is free to move sideways (a balloon on a flexible catheter) and
            finds the offset ``c`` (2 unknowns, in the plane normal to its
            axis) where the tissue's net lateral push on it balances the
            catheter, ``F_lateral + k c = 0``; a small ``k`` (1 mN/mm against
            contact stiffnesses of ~1e6 mN/mm) only fixes ``c`` before
            contact.  Reported as ``<name>_offset_mm``.
    """

    heights: Sequence[float]
    diameters: Sequence[float]
    crimped_diameter: float
    expansion: Magnitude = 1.0
    origin: Sequence[float] = (0.0, 0.0, 0.0)
    axis: Sequence[float] = (0.0, 0.0, 1.0)
    edge: float = 1.0
    radial_pressure: tuple[Sequence[float], Sequence[float]] | None = None
    lateral_stiffness: float | None = None

    def __post_init__(self) -> None:
        heights, diameters, _ = _hinges(self.heights, self.diameters, "Frame: heights [mm], diameters [mm]")
        k = self.lateral_stiffness
        if k is not None and not (isinstance(k, int | float) and math.isfinite(k) and k > 0):
            raise ParameterError(f"Frame: lateral_stiffness={k!r} mN/mm must be > 0 (or None: a held axis)")
        if heights[0] != 0.0 or not (diameters > 0).all():
            raise ParameterError(
                f"Frame: heights must start at 0 mm (the inflow end), got {heights[0]:g} mm; "
                f"diameters must be > 0 mm, got {diameters.tolist()}"
            )
        if not 0 < self.crimped_diameter <= diameters.min():
            raise ParameterError(
                f"Frame: crimped_diameter={self.crimped_diameter!r} mm must be > 0 and at most "
                f"the smallest nominal diameter {diameters.min():g} mm"
            )
        if not (isinstance(self.edge, int | float) and math.isfinite(self.edge) and self.edge > 0):
            raise ParameterError(f"Frame: edge={self.edge!r} mm must be > 0")
        a = np.asarray(check_vector(self.axis, "Frame: axis"))
        if not np.linalg.norm(a) > 0:
            raise ParameterError("Frame: axis must be non-zero")
        object.__setattr__(self, "axis", tuple(a / np.linalg.norm(a)))
        object.__setattr__(self, "origin", tuple(check_vector(self.origin, "Frame: origin")))
        as_time_function(self.expansion, "Frame: expansion")
        if self.radial_pressure is not None:
            c, p, _ = _hinges(*self.radial_pressure, "Frame: radial_pressure (compression [mm], pressure [kPa])")
            if not (p >= 0).all():
                raise ParameterError(f"Frame: radial_pressure pressures must be >= 0 kPa, got {p.tolist()}")

    @property
    def height(self) -> float:
        """Frame height [mm]."""
        return float(self.heights[-1])

    def _profile(self, s, relu):
        h, d, changes = _hinges(self.heights, self.diameters, "Frame")
        return 0.5 * _piecewise(s, h, float(d[0]), changes, relu)

    def _radial_cap(self, compression, relu):
        c, p, changes = _hinges(*self.radial_pressure, "Frame: radial_pressure")
        return _piecewise(compression, c, float(p[0]), changes, relu)

    def lateral_directions(self) -> np.ndarray:
        """Two unit vectors normal to the axis (rows): the offset's components."""
        a = np.asarray(self.axis)
        e1 = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        e1 /= np.linalg.norm(e1)
        return np.array([e1, np.cross(a, e1)])

    def _local(self, x, expansion, eps, ops, shift=None):
        """Gap, pressure and local quantities, written once for UFL and numpy (``ops``).

        ``shift``: the frame's lateral offset (a 3-vector), or None."""
        dot, sqrt, relu, clamp = ops
        if ops is _NUMPY:
            y = x - np.asarray(self.origin) - (0.0 if shift is None else np.asarray(shift))
            s = y @ np.asarray(self.axis)
            radial = y - s[:, None] * np.asarray(self.axis)
            rho = np.linalg.norm(radial, axis=-1)
        else:
            a = ufl.as_vector(self.axis)
            y = x - ufl.as_vector(self.origin)
            if shift is not None:
                y = y - shift
            s = dot(y, a)
            radial = y - s * a
            rho = sqrt(dot(radial, radial))
        H = self.height
        r_nom = self._profile(clamp(s, 0.0, H), relu)
        if ops is _NUMPY:
            r_nom = np.broadcast_to(np.asarray(r_nom, dtype=float), s.shape).copy()
        r_c = 0.5 * self.crimped_diameter
        g = rho - (r_c + expansion * (r_nom - r_c))
        window = clamp(1.0 - (relu(-s) + relu(s - H)) / self.edge, 0.0, 1.0)
        pressure = eps * relu(-g)
        if self.radial_pressure is not None:
            # min(rigid, cap), smoothed over delta = 1 % of the largest
            # pressure of the law: Newton stalled at the kink where points
            # switch between the two (an Evolut-like frame in an oval root);
            # off the kink the difference is delta^2 / (4 |rigid - cap|).
            cap = self._radial_cap(2 * r_nom - 2 * rho, relu)
            delta = 0.01 * float(np.max(self.radial_pressure[1])) or 1e-6
            pressure = relu(0.5 * (pressure + cap - sqrt((pressure - cap) ** 2 + delta**2)))
        return g, pressure * window, rho, r_nom, s

    def contact(self, x, ctx, eps):
        expansion = ctx.constant(0.0)
        fn = as_time_function(self.expansion, "Frame: expansion")
        free = None
        shift = None
        if self.lateral_stiffness is not None:
            offsets = (ctx.constant(0.0), ctx.constant(0.0))
            variable = ufl.variable(ufl.as_vector(offsets))
            e = self.lateral_directions()
            shift = variable[0] * ufl.as_vector(e[0]) + variable[1] * ufl.as_vector(e[1])
            free = (variable, offsets, e, float(self.lateral_stiffness))
        g, pressure, *_ = self._local(x, expansion, eps, _UFL, shift)

        def at_time(t: float) -> None:
            expansion.value = fn(t)

        return g, pressure, at_time, free

    def evaluate(self, x: np.ndarray, expansion: float, penalty: float, offset=(0.0, 0.0)) -> dict[str, np.ndarray]:
        """The gap, pressure and frame geometry at current points, in numpy.

        The same expressions as the contact term assembles, for results and
        clinical metrics computed from node positions.

        Args:
            x: current positions [mm], shape (n, 3).
            expansion: 0 (crimped) to 1 (nominal).
            penalty: the contact's ``eps`` [kPa/mm].
            offset: the lateral offset along :meth:`lateral_directions` [mm].

        Returns:
            ``gap`` [mm], ``pressure`` [kPa], ``rho`` (distance from the
            axis) [mm], ``axial`` (position along the axis from the inflow
            end) [mm], ``nominal_radius`` [mm] (of the profile at that axial
            position, clamped to the frame), each of shape (n,).
        """
        x = np.asarray(x, dtype=float)
        shift = np.asarray(offset, dtype=float) @ self.lateral_directions()
        g, p, rho, r_nom, s = self._local(x, float(expansion), float(penalty), _NUMPY, shift)
        return {"gap": g, "pressure": p, "rho": rho, "axial": s, "nominal_radius": r_nom}


# (dot, sqrt, relu, clamp)
_UFL = (
    ufl.dot,
    ufl.sqrt,
    lambda v: ufl.max_value(v, 0.0),
    lambda v, lo, hi: ufl.min_value(ufl.max_value(v, lo), hi),
)
_NUMPY = (
    None,
    np.sqrt,
    lambda v: np.maximum(v, 0.0),
    np.clip,
)


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
        tag: facet tag of the body's contact surface, or several tags (a
            tuple) forming it together.
        obstacle: :class:`Plane`, :class:`Cylinder`, :class:`Frame` or
            :class:`SignedDistance`.
        penalty: ``eps`` [kPa/mm], > 0; see the module notes for its choice.
        name: name in results (default: the tag).
    """

    tag: str | tuple[str, ...]
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
                f"Contact({self.tag!r}): obstacle must be a Plane, Cylinder, Frame or SignedDistance"
            )
        if not (math.isfinite(self.penalty) and self.penalty > 0):
            raise ParameterError(f"Contact({self.tag!r}): penalty={self.penalty!r} kPa/mm must be > 0")
        if not isinstance(self.tag, str):
            object.__setattr__(self, "tag", tuple(self.tag))
        if self.name is None:
            object.__setattr__(self, "name", self.tag if isinstance(self.tag, str) else "contact")

    def contribute(self, ctx: FormContext) -> Contribution:
        domain = ctx.domain
        domain.facets(self.tag)  # MissingTagError now
        X = ufl.SpatialCoordinate(domain.mesh)
        x = ufl.variable(X + ctx.u)
        eps = ctx.constant(float(self.penalty))
        g, pressure, move, free = self.obstacle.contact(x, ctx, eps)
        grad_g = ufl.diff(g, x)
        F = deformation_gradient(ctx.u)
        N = normal(ctx)
        cofN = ufl.det(F) * ufl.inv(F).T * N
        da_dA = ufl.sqrt(ufl.dot(cofN, cofN))
        ds = ctx.ds(self.tag)
        traction = pressure * grad_g * da_dA  # on the body, per reference area
        residual = -ufl.dot(traction, ctx.v) * ds
        report = _ContactOutput(ctx, self.tag, g, pressure, grad_g, da_dA)
        scalars = report.scalars(self.name)

        def at_time(t: float, ramped: bool) -> None:
            move(t)

        if free is None:
            return Contribution(residual=residual, at_time=at_time, report=scalars, output=report)
        multipliers, targets = self._free_offset(ctx, traction, ds, free)
        offsets = free[1]

        def reported() -> dict[str, float]:
            return scalars() | {f"{self.name}_offset_{i + 1}_mm": float(c.value) for i, c in enumerate(offsets)}

        return Contribution(residual=residual, at_time=at_time, report=reported, output=report,
                            multipliers=multipliers, targets=targets)

    def _free_offset(self, ctx, traction, ds, free):
        """The frame's lateral offset as two multipliers: ``F_i + k c_i = 0``.

        ``F_i = int t . e_i dA`` is the push of the frame on the tissue along
        ``e_i``; the tissue pushes the frame back with ``-F``, the catheter
        with ``-k c``.  Rows: ``dF_i/du``; columns: ``dR_u/dc_i`` (the
        residual is ``-int t . v``); the block ``dF/dc + k I`` enters through
        the targets' derivative (the functional's own dependence on ``c`` is
        not seen by the multiplier protocol, so the target is linearised:
        value ``-k c``, slope ``-k I - dF/dc``).
        """
        variable, offsets, e, k = free
        comm = ctx.domain.comm
        multipliers = []
        dF_dc = []
        for i in range(2):
            force = ufl.dot(traction, ufl.as_vector(e[i])) * ds
            column = -ufl.dot(ufl.diff(traction, variable)[:, i], ctx.v) * ds
            multipliers.append(Multiplier(
                name=f"{self.name}_offset_{i + 1}", constant=offsets[i], column=column,
                row=ufl.derivative(force, ctx.unknown, ctx.test), functional=force, target=None,
                sign=1.0, unit="mm",
            ))  # fmt: skip
            dF_dc.append([dolfinx.fem.form(ufl.dot(ufl.diff(traction, variable)[:, j], ufl.as_vector(e[i])) * ds)
                          for j in range(2)])

        def targets(t: float, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            J = np.array([[comm.allreduce(dolfinx.fem.assemble_scalar(f), op=MPI.SUM) for f in row]
                          for row in dF_dc])
            return -k * np.asarray(values), -k * np.eye(2) - J

        return tuple(multipliers), targets


class _ContactOutput:
    """Contact force, area and pressure field of one surface."""

    def __init__(self, ctx, tag, g, pressure, grad_g, da_dA):
        domain = ctx.domain
        ds = ctx.ds(tag)
        self.comm = domain.comm
        active = ufl.conditional(ufl.gt(pressure, 0.0), 1.0, 0.0)
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
        pushed = local_g[local_p > 0]
        pen = self.comm.allreduce(float(max(-pushed.min(), 0.0)) if pushed.size else 0.0, op=MPI.MAX)
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

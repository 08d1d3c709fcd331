"""Cavities: the volume of a closed or truncated chamber, pressure- or volume-driven."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .. import units
from .._dolfinx import MPI, dolfinx, ufl
from ..errors import ParameterError
from .domain import Domain
from .kinematics import deformation_gradient
from .terms import Contribution, FormContext, Multiplier, TimeConstant
from .time import Magnitude, as_time_function, check_vector

__all__ = ["cavity_volume", "surface_area", "wall_thickness", "Cavity"]


def _volume_form(domain: Domain, u, tag: str, axis, base_point, ds=None):
    """UFL form of the cavity volume [mm^3] (see :func:`cavity_volume`)."""
    ds = domain.ds(tag) if ds is None else ds
    mesh = domain.mesh
    c = ufl.as_vector(np.asarray(base_point, dtype=np.float64))
    X = ufl.SpatialCoordinate(mesh)
    N = ufl.FacetNormal(mesh)
    if u is None:
        x, nda = X, N
    else:
        F = deformation_gradient(u)
        x, nda = X + u, ufl.det(F) * ufl.inv(F).T * N
    if axis is None:
        return -ufl.dot(x - c, nda) / 3 * ds
    e = np.asarray(axis, dtype=np.float64)
    e = ufl.as_vector(e / np.linalg.norm(e))
    return -ufl.dot(x - c, e) * ufl.dot(nda, e) * ds


def cavity_volume(
    domain: Domain,
    u,
    tag: str,
    *,
    axis: Sequence[float] | None = (0.0, 0.0, 1.0),
    base_point: Sequence[float] = (0.0, 0.0, 0.0),
) -> float:
    """Volume [mm^3] enclosed by the facets ``tag`` displaced by ``u``. Collective.

    With an ``axis`` e: ``V = -int_tag ((x - c) . e) (n . e) da`` over the
    deformed surface, with ``n da = J F^-T N dA`` and ``N`` the outward
    normal of the solid (which on an endocardium points into the cavity).
    The field ``e ((x - c) . e)`` has unit divergence, so this is exact for a
    closed cavity (any ``e``, ``c``) and for a chamber truncated by a plane
    through ``c`` normal to ``e`` (the flux through the plane vanishes), as
    long as the cut stays in that plane.

    With ``axis=None``: ``V = -1/3 int_tag (x - c) . n da``, exact for a
    closed cavity and for one bounded by planes through ``c`` (symmetry
    planes of an octant model, say), on which ``(x - c) . n = 0``.

    Args:
        domain: the mesh with tags.
        u: displacement (a Function or a UFL expression of one); None for the
            reference volume.
        tag: facet tag of the cavity wall (e.g. ``"endo"``).
        axis: unit normal ``e`` of the truncation plane, or None.
        base_point: a point ``c`` of the truncation plane(s) [mm].
    """
    form = dolfinx.fem.form(_volume_form(domain, u, tag, axis, base_point))
    return domain.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)


def surface_area(domain: Domain, u, tag: str) -> float:
    """Area [mm^2] of the facets ``tag`` displaced by ``u`` (None: the
    reference area), ``int |J F^-T N| dA``. Collective."""
    if u is None:
        return domain.measure(tag)
    F = deformation_gradient(u)
    nda = ufl.det(F) * ufl.inv(F).T * ufl.FacetNormal(domain.mesh)
    form = dolfinx.fem.form(ufl.sqrt(ufl.dot(nda, nda)) * domain.ds(tag))
    return domain.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)


def wall_thickness(domain: Domain, u, *, inner: str = "endo", outer: str = "epi") -> float:
    """Mean wall thickness [mm] between the facets ``inner`` and ``outer``
    displaced by ``u`` (None: the reference): the wall's volume over the
    mean of the two surfaces' areas.  For a spherical shell of inner radius
    ``a`` and thickness ``t`` this is ``t (1 - t^2 / (3 (2 a^2 + 2 a t + t^2)))``,
    within ``(t/a)^2 / 6`` of ``t``; the ratio of two states gives wall
    thickening. Collective."""
    J = 1.0 if u is None else ufl.det(deformation_gradient(u))
    form = dolfinx.fem.form(J * ufl.dx(domain=domain.mesh))
    volume = domain.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)
    return volume / (0.5 * (surface_area(domain, u, inner) + surface_area(domain, u, outer)))


@dataclasses.dataclass(frozen=True)
class Cavity:
    """A chamber bounded by the facets ``tag``: pressure- or volume-driven.

    Exactly one of ``pressure`` and ``volume`` is given.  Pressure-driven:
    the cavity pressure [kPa] is a given function of time and acts on the
    wall as ``-p dV`` (a follower load).  Volume-driven: the cavity volume
    [mm^3] is a given function of time and the cavity pressure is a
    Lagrange multiplier, one extra global unknown solved with the
    displacement in the same Newton iteration; it carries an inflation
    through a pressure maximum (limit point) where pressure control fails.
    Quantities with units may be strings: ``"15 mmHg"``, ``"120 mL"``.

    The volume is :func:`cavity_volume` with ``axis`` and ``base_point``;
    the load and the constraint are its exact derivative, so the coupled
    system is symmetric.

    In a dynamic run, a volume curve whose rate jumps (a kink of a
    piecewise-linear :class:`~organfem.mechanics.Table`, a start from rest
    at a finite rate) jolts the wall's inertia, and the cavity pressure
    answers with a decaying oscillation from step to step: on the Land et al.
    LV, +/- 0.07 kPa still after 12 steps with ``GeneralisedAlpha(rho_inf=0.8)``,
    gone after 6 with ``rho_inf=0.5``, none with ``rho_inf=0`` or
    :class:`~organfem.mechanics.BDF2`.  Give smooth curves (or a finer
    table) or a smaller ``rho_inf``.

    Args:
        tag: facet tag of the cavity wall (e.g. ``"endo"``).
        pressure: cavity pressure [kPa] as a number or a function of time.
        volume: cavity volume [mm^3] as a number or a function of time.
        name: the cavity's name in results and messages (default: the tag).
        axis: normal of the truncation plane (e.g. the LV base), or None for
            a closed cavity or one bounded by planes through ``base_point``.
        base_point: a point of the truncation plane(s) [mm].
    """

    tag: str
    pressure: Magnitude | str | None = None
    volume: Magnitude | str | None = None
    name: str | None = None
    axis: Sequence[float] | None = (0.0, 0.0, 1.0)
    base_point: Sequence[float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        label = f"Cavity({self.tag!r})"
        if (self.pressure is None) == (self.volume is None):
            raise ParameterError(f"{label}: give exactly one of pressure= [kPa] and volume= [mm^3]")
        if isinstance(self.pressure, str):
            object.__setattr__(self, "pressure", units.pressure(self.pressure))
        if isinstance(self.volume, str):
            object.__setattr__(self, "volume", units.volume(self.volume))
        check_closure(self, label)
        if self.name is None:
            object.__setattr__(self, "name", self.tag)
        value = self.pressure if self.pressure is not None else self.volume
        as_time_function(value, label)

    @property
    def volume_driven(self) -> bool:
        return self.volume is not None

    def contribute(self, ctx: FormContext) -> Contribution:
        ctx.domain.facets(self.tag)  # MissingTagError now, not at the first solve
        volume = _volume_form(ctx.domain, ctx.u, self.tag, self.axis, self.base_point, ctx.ds(self.tag))
        label = f"cavity {self.name!r}"
        # The pressure does work p dV: with the Lagrangian
        # L = Pi_int - p (V(u) - V_target), the residual gains -p dV/du[v].
        dV = _derivative(volume, ctx)
        if not self.volume_driven:
            pressure = TimeConstant(ctx, self.pressure, label)
            state = _CavityState(ctx.domain.comm, dolfinx.fem.form(volume), pressure.constant)
            return Contribution(
                residual=-pressure.constant * dV,
                at_time=pressure.at_time,
                report=state.report(self.name),
            )

        p = ctx.constant(0.0)
        state = _CavityState(ctx.domain.comm, dolfinx.fem.form(volume), p)
        reference = state.volume()  # the unknowns are zero while the problem is built
        given = as_time_function(self.volume, label)
        path = {"ramped": False}

        def at_time(t: float, ramped: bool) -> None:
            path["ramped"] = ramped

        def target(t: float) -> float:
            if path["ramped"] and not callable(self.volume):
                # A constant volume on a quasi-static path: from the
                # reference volume at t = 0 to the target at t = 1.
                return reference + (given(t) - reference) * t
            return given(t)

        # Multiplier equation -(V(u) - V_target) = 0: its derivative -dV is
        # the column of the residual by p, so the system stays symmetric.
        multiplier = Multiplier(
            name=self.name, constant=p, column=-dV, row=dV, functional=volume,
            target=target, sign=-1.0, unit="kPa",
        )  # fmt: skip
        return Contribution(
            residual=-p * dV,
            multipliers=(multiplier,),
            at_time=at_time,
            report=state.report(self.name),
        )


def check_closure(cavity, label: str) -> None:
    """Check a frozen cavity's ``axis`` (normalised; or None) and ``base_point`` in place."""
    if cavity.axis is not None:
        axis = np.asarray(check_vector(cavity.axis, f"{label}: axis"))
        if not np.linalg.norm(axis) > 0:
            raise ParameterError(f"{label}: axis must be a non-zero vector")
        object.__setattr__(cavity, "axis", tuple(axis / np.linalg.norm(axis)))
    object.__setattr__(cavity, "base_point", check_vector(cavity.base_point, f"{label}: base_point"))


def _derivative(functional, ctx: FormContext):
    """``d functional / du [v]`` as a linear form in the test function."""
    return ufl.derivative(functional, ctx.unknown, ctx.test)


class _CavityState:
    """The cavity's pressure and volume, for reports."""

    def __init__(self, comm, volume_form, pressure_constant):
        self.comm = comm
        self.form = volume_form
        self.p = pressure_constant

    def volume(self) -> float:
        return self.comm.allreduce(dolfinx.fem.assemble_scalar(self.form), op=MPI.SUM)

    def report(self, name: str):
        def values() -> dict[str, float]:
            return {f"{name}_pressure_kPa": float(self.p.value), f"{name}_volume_mm3": self.volume()}

        return values

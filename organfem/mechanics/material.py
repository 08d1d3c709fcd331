"""How a constitutive law enters the weak form.

:class:`QuadratureMaterial` is the production path: DOLFINx evaluates the
Green-Lagrange strain at the quadrature points, the JAX kernel of
:mod:`organfem.materials` returns the stress and tangent there, and two
material-agnostic forms, compiled once, assemble residual and Jacobian:

    R(u; v)      = int S_v . de_v(v) dX
    J(u; du, v)  = int (D de_v(du)) . de_v(v) + S : sym(grad du^T grad v) dX

with ``de_v(w) = voigt(sym(F^T grad w))``.  :class:`UFLMaterial` writes the
strain energy directly in UFL instead; it is kept as the baseline the JAX path
is measured against (``benchmarks/jax_vs_ufl.py``).
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from .. import materials
from .._dolfinx import MPI, basix, dolfinx, ufl
from ..errors import ParameterError
from .domain import CellFibres
from .kinematics import deformation_gradient, green_lagrange, voigt_strain, voigt_to_tensor
from .terms import Contribution, FormContext
from .time import Magnitude, as_time_function

__all__ = ["QuadratureSpace", "QuadratureMaterial", "UFLMaterial", "FibreField", "Material", "Regions"]

#: A fibre field: either a callable from physical points (n, 3) [mm] to local
#: bases (n, 3, 3), rows (f0, s0, n0), or per-cell bases (:class:`CellFibres`,
#: e.g. ``Domain.fibres``) that every quadrature point of a cell shares.
FibreField = Callable[[np.ndarray], np.ndarray] | CellFibres


class QuadratureSpace:
    """Quadrature points of a mesh at one degree, with helpers to fill data.

    Args:
        mesh: the mesh.
        degree: quadrature degree; forms using the data must integrate with
            the same degree (``dx`` below does).
    """

    def __init__(self, mesh: dolfinx.mesh.Mesh, degree: int):
        self.mesh = mesh
        self.degree = degree
        cell = mesh.basix_cell()
        self.points, self.weights = basix.make_quadrature(cell, degree)
        tdim = mesh.topology.dim
        imap = mesh.topology.index_map(tdim)
        self.cells = np.arange(imap.size_local, dtype=np.int32)
        self.dx = ufl.Measure(
            "dx", domain=mesh, metadata={"quadrature_degree": degree, "quadrature_rule": "default"}
        )

    @property
    def num_points(self) -> int:
        """Quadrature points per cell."""
        return self.points.shape[0]

    def function(self, shape: tuple[int, ...], name: str) -> dolfinx.fem.Function:
        """A quadrature function of value shape ``shape``."""
        element = basix.ufl.quadrature_element(
            self.mesh.basix_cell(), value_shape=shape, degree=self.degree
        )
        return dolfinx.fem.Function(dolfinx.fem.functionspace(self.mesh, element), name=name)

    def expression(self, expr) -> dolfinx.fem.Expression:
        """Compile ``expr`` for evaluation at these quadrature points."""
        return dolfinx.fem.Expression(expr, self.points)

    def evaluate(self, expression: dolfinx.fem.Expression) -> np.ndarray:
        """Values at the owned cells' points, shape (cells * points, *value_shape)."""
        values = expression.eval(self.mesh, self.cells)
        return values.reshape(self.cells.size * self.num_points, *values.shape[2:])

    def assign(self, f: dolfinx.fem.Function, values: np.ndarray) -> None:
        """Write per-point values (owned cells, point-major) into ``f``."""
        bs = f.function_space.dofmap.bs
        dofs = f.function_space.dofmap.list[self.cells].reshape(-1)
        f.x.array.reshape(-1, bs)[dofs] = values.reshape(dofs.size, bs)

    def coordinates(self) -> np.ndarray:
        """Physical coordinates of the points [mm], shape (cells * points, 3)."""
        return self.evaluate(self.expression(ufl.SpatialCoordinate(self.mesh)))

    def cell_average(self, values: np.ndarray) -> np.ndarray:
        """Quadrature-weighted mean per owned cell of point values (n, ...)."""
        v = values.reshape(self.cells.size, self.num_points, -1)
        w = self.weights / self.weights.sum()
        return np.einsum("cpk,p->ck", v, w).reshape(self.cells.size, *values.shape[1:])


def _fibre_basis(qs: QuadratureSpace, fibres: FibreField | None) -> dolfinx.fem.Function:
    """The local basis at the quadrature points of the owned cells.

    ``fibres`` is None (identity), a callable evaluated at the points, or
    :class:`CellFibres`, whose basis of each owned cell is repeated for that
    cell's points (points are cell-major over ``qs.cells``).
    """
    R = qs.function((3, 3), "fibre_basis")
    n = qs.cells.size * qs.num_points
    if fibres is None:
        basis = np.broadcast_to(np.eye(3), (n, 3, 3))
    elif isinstance(fibres, CellFibres):
        imap = qs.mesh.topology.index_map(qs.mesh.topology.dim)
        num_local = imap.size_local + imap.num_ghosts
        if fibres.num_cells != num_local:
            raise ParameterError(
                f"CellFibres has bases for {fibres.num_cells} cells but this rank's mesh has "
                f"{num_local} local cells (owned + ghosts); use the fibres of the Domain "
                f"the problem is built on"
            )
        basis = np.repeat(fibres.bases[qs.cells], qs.num_points, axis=0)
    elif callable(fibres):
        basis = fibres(qs.coordinates())
    else:
        raise ParameterError(
            f"fibres={fibres!r}: expected None, a callable x (n, 3) -> (n, 3, 3) or CellFibres"
        )
    basis = np.asarray(basis, dtype=np.float64)
    if basis.shape != (n, 3, 3) or not np.all(np.isfinite(basis)):
        raise ParameterError(
            f"fibre field gave shape {basis.shape} (or non-finite values); expected "
            f"({n}, 3, 3) finite rows (f0, s0, n0)"
        )
    gram = np.einsum("nij,nkj->nik", basis, basis)
    if np.max(np.abs(gram - np.eye(3))) > 1e-6:
        raise ParameterError("fibre field: rows (f0, s0, n0) must be orthonormal at every point")
    qs.assign(R, basis)
    R.x.scatter_forward()
    return R


class QuadratureMaterial:
    """A JAX law evaluated at quadrature points (the production path).

    Args:
        law: the constitutive law (see :mod:`organfem.materials`).
        qs: the quadrature points.
        fibres: local basis as a function of position, or per cell
            (:class:`CellFibres`); identity if None.
        fields: law parameters per point, arrays of shape (points,) in the
            order of ``qs`` (owned cells, point-major).
        internal: a model of internal variables (see
            :mod:`organfem.materials.state`) whose state lives at the points.
    """

    def __init__(
        self,
        law: materials.Law,
        qs: QuadratureSpace,
        fibres: FibreField | None,
        *,
        fields: Mapping[str, np.ndarray] = types.MappingProxyType({}),
        internal=None,
    ):
        self.law = law
        self.qs = qs
        self.R = _fibre_basis(qs, fibres)
        self._basis = self.R.x.array.reshape(-1, 9)[
            self.R.function_space.dofmap.list[qs.cells].reshape(-1)
        ].reshape(-1, 3, 3)
        self.S = qs.function((6,), "S")
        self.D = qs.function((6, 6), "D")
        n = self._basis.shape[0]
        self._out = (np.empty((n, 6)), np.empty((n, 6, 6)))
        # Threads for the JAX kernel: the cores this rank may use.
        self._workers = max(1, (os.cpu_count() or 1) // qs.mesh.comm.size)
        self._strain = None
        self._fields = dict(fields)
        self._scalars: dict[str, float] = {}
        self.internal = internal
        self._q = internal.init(n) if internal is not None else {}
        self._q = {k: np.asarray(v, dtype=np.float64) for k, v in self._q.items()}
        self._q_trial = dict(self._q)

    @property
    def num_points(self) -> int:
        return self._basis.shape[0]

    def residual(self, u, v):
        F = deformation_gradient(u)
        self._strain = self.qs.expression(
            ufl.as_vector([*voigt_strain(green_lagrange(u)), ufl.det(F)])
        )
        return ufl.inner(self.S, voigt_strain(ufl.sym(F.T * ufl.grad(v)))) * self.qs.dx

    def jacobian(self, u, du, v):
        F = deformation_gradient(u)
        de = voigt_strain(ufl.sym(F.T * ufl.grad(du)))
        dev = voigt_strain(ufl.sym(F.T * ufl.grad(v)))
        geometric = ufl.inner(voigt_to_tensor(self.S), ufl.sym(ufl.grad(du).T * ufl.grad(v)))
        return (ufl.inner(self.D * de, dev) + geometric) * self.qs.dx

    def set_parameters(self, values: Mapping[str, float]) -> None:
        """Law parameters that are functions of time, at the current time."""
        self._scalars = dict(values)

    def current_law(self) -> materials.Law:
        """The law with the time, per-point and internal-variable parameters of now."""
        values = {**self._scalars, **self._fields}
        if self.internal is not None:
            values.update(self.internal.parameters(self._q_trial))
        return materials.with_parameters(self.law, **values) if values else self.law

    def _strain_now(self) -> tuple[np.ndarray, np.ndarray]:
        values = self.qs.evaluate(self._strain)
        return values[:, :6], values[:, 6]

    def update(self) -> float:
        """Evaluate stress and tangent at the current displacement.

        Returns the smallest det F over this rank's quadrature points; stress
        and tangent are only meaningful where it is positive.
        """
        e, J = self._strain_now()
        S, D = materials.evaluate(
            self.current_law(), e, self._basis, workers=self._workers, out=self._out
        )
        self.qs.assign(self.S, S)
        self.qs.assign(self.D, D)
        return float(J.min()) if J.size else np.inf

    # -- internal variables: advanced once per step, committed with it ------

    def begin_step(self, t: float, dt: float) -> None:
        """Advance the internal variables from the committed state to ``t``
        (inputs from the current, last converged displacement)."""
        if self.internal is None:
            return
        e, _ = self._strain_now()
        f = self._basis[:, 0, :]
        E = np.stack(
            [
                np.stack([e[:, 0], e[:, 5] / 2, e[:, 4] / 2], -1),
                np.stack([e[:, 5] / 2, e[:, 1], e[:, 3] / 2], -1),
                np.stack([e[:, 4] / 2, e[:, 3] / 2, e[:, 2]], -1),
            ],
            1,
        )
        stretch = np.sqrt(1.0 + 2.0 * np.einsum("ni,nij,nj->n", f, E, f))
        self._q_trial = materials.advance(self.internal, self._q, {"t": t, "stretch": stretch}, dt)

    def commit(self) -> None:
        self._q = {k: np.array(v) for k, v in self._q_trial.items()}

    def rollback(self) -> None:
        self._q_trial = dict(self._q)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.array(v) for k, v in self._q.items()}

    def restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        for k in self._q:
            if k not in arrays or np.shape(arrays[k]) != self._q[k].shape:
                raise ParameterError(f"checkpoint: internal variable {k!r} is missing or of another shape")
            self._q[k] = np.array(arrays[k], dtype=np.float64)
        self.rollback()

    def internal_values(self, name: str) -> np.ndarray:
        """The committed internal variable ``name`` at this rank's points."""
        return np.array(self._q[name])

    def energy_density(self) -> np.ndarray:
        """Strain energy density [kPa] at this rank's points (hyperelastic laws)."""
        e, _ = self._strain_now()
        law = self.current_law()
        per_point = [np.ndim(x) > 0 for x in jax.tree.leaves(law)]
        treedef = jax.tree.structure(law)
        axes = jax.tree.unflatten(treedef, [0 if p else None for p in per_point])

        def psi(law, e, R):
            E = jnp.array(
                [[e[0], e[5] / 2, e[4] / 2], [e[5] / 2, e[1], e[3] / 2], [e[4] / 2, e[3] / 2, e[2]]]
            )
            return law.energy(E, R)

        with jax.enable_x64(True):
            values = jax.vmap(psi, in_axes=(axes, 0, 0))(law, e, self._basis)
        return np.asarray(values)

    def fibre_stretch(self, u) -> np.ndarray:
        """Fibre stretch ``|F f0|`` per owned cell (cell average, dimensionless)."""
        f = deformation_gradient(u) * self.R[0, :]
        return self.qs.cell_average(self.qs.evaluate(self.qs.expression(ufl.sqrt(ufl.dot(f, f)))))

    def fibre_cauchy_stress(self, u) -> np.ndarray:
        """Cauchy stress along the deformed fibre per owned cell [kPa]."""
        F = deformation_gradient(u)
        f = F * self.R[0, :]
        sigma = F * voigt_to_tensor(self.S) * F.T / ufl.det(F)
        expr = self.qs.expression(ufl.dot(f, sigma * f) / ufl.dot(f, f))
        return self.qs.cell_average(self.qs.evaluate(expr))

    def von_mises_stress(self, u) -> np.ndarray:
        """Von Mises equivalent of the Cauchy stress per owned cell [kPa]:
        ``sqrt(3/2 s:s)``, ``s`` the deviator of ``sigma = F S F^T / J``,
        averaged over each cell's quadrature points."""
        F = deformation_gradient(u)
        sigma = F * voigt_to_tensor(self.S) * F.T / ufl.det(F)
        dev = ufl.dev(sigma)
        expr = self.qs.expression(ufl.sqrt(1.5 * ufl.inner(dev, dev)))
        return self.qs.cell_average(self.qs.evaluate(expr))


class UFLMaterial:
    """A strain energy written in UFL: the baseline of the JAX path.

    Args:
        energy: ``psi(E, R)`` in UFL, with ``E`` the Green-Lagrange strain and
            ``R`` the local basis (rows f0, s0, n0) as a UFL 3x3 expression.
        qs: quadrature points (the same rule as the JAX path, for a fair
            comparison).
        fibres: local basis as a function of position, or per cell
            (:class:`CellFibres`); identity if None.
    """

    def __init__(self, energy: Callable, qs: QuadratureSpace, fibres: FibreField | None):
        self.energy = energy
        self.qs = qs
        self.R = _fibre_basis(qs, fibres)
        self._det = None

    def residual(self, u, v):
        E = ufl.variable(green_lagrange(u))
        S = ufl.diff(self.energy(E, self.R), E)
        F = deformation_gradient(u)
        self._det = self.qs.expression(ufl.det(F))
        return ufl.inner(S, ufl.sym(F.T * ufl.grad(v))) * self.qs.dx

    def jacobian(self, u, du, v):
        return None  # derived by ufl.derivative of the residual

    def update(self) -> float:
        J = self.qs.evaluate(self._det)
        return float(J.min()) if J.size else np.inf

    # No internal variables: the state hooks do nothing.
    def begin_step(self, t: float, dt: float) -> None:
        pass

    def commit(self) -> None:
        pass

    def arrays(self) -> dict[str, np.ndarray]:
        return {}

    def restore(self, arrays) -> None:
        pass


@dataclasses.dataclass(frozen=True)
class Regions:
    """A law parameter that takes one value per cell tag (scar, regions).

    Args:
        values: cell tag name -> parameter value.
        default: value on cells in none of the tags (None: every cell must
            be in one).
    """

    values: Mapping[str, float]
    default: float | None = None


def _point_field(name: str, spec, qs: QuadratureSpace, domain) -> np.ndarray:
    """Values of a per-point parameter at the points of ``qs``."""
    n = qs.cells.size * qs.num_points
    if isinstance(spec, Regions):
        cells = np.full(qs.cells.size, np.nan)
        tags = domain.cell_tags
        for tag, value in spec.values.items():
            marked = tags.indices[tags.values == domain.cell_names[tag]] if tag in domain.cell_names else None
            if marked is None:
                raise ParameterError(
                    f"Material field {name!r}: no cell tag {tag!r}; the mesh has {sorted(domain.cell_names)}"
                )
            marked = marked[marked < qs.cells.size]
            cells[marked] = float(value)
        if spec.default is not None:
            cells[np.isnan(cells)] = float(spec.default)
        missing = int(domain.comm.allreduce(int(np.isnan(cells).sum()), op=MPI.SUM))
        if missing:
            raise ParameterError(
                f"Material field {name!r}: {missing} cells are in none of the tags "
                f"{sorted(spec.values)}; give Regions(default=...)"
            )
        return np.repeat(cells, qs.num_points)
    if callable(spec):
        values = np.asarray(spec(qs.coordinates()), dtype=np.float64)
    else:
        values = np.asarray(spec, dtype=np.float64)
    if values.shape != (n,) or not np.all(np.isfinite(values)):
        raise ParameterError(
            f"Material field {name!r}: expected {n} finite values (one per quadrature point), "
            f"got shape {values.shape}"
        )
    return values


@dataclasses.dataclass(frozen=True)
class Material:
    """The constitutive term of a model.

    Args:
        law: a JAX law (:mod:`organfem.materials`), or an energy ``psi(E, R)``
            written in UFL (the baseline of ``benchmarks/jax_vs_ufl.py``).
        fibres: local basis (rows f0, s0, n0): a callable of position
            ``x (n, 3) [mm] -> (n, 3, 3)`` or per-cell bases such as
            ``domain.fibres``; identity if None.
        parameters: law parameters as functions of time, e.g.
            ``{"Ta": Table(...)}`` for an active tension [kPa]; plain
            numbers are ramped by :func:`~organfem.mechanics.ramp`.
        fields: law parameters that vary in space: a callable of position
            ``x (n, 3) [mm] -> (n,)`` or :class:`Regions` (one value per
            cell tag: scar, regional stiffness or activation).
        internal: a model of internal variables advanced per point in JAX
            (e.g. :class:`organfem.materials.ActiveTensionODE`); it sets the
            law parameters it names.  Its own parameters may also be given
            as :class:`Regions` or callables of position (regional
            activation times, ``Tmax = 0`` in a scar).
    """

    law: object
    fibres: object = None
    parameters: Mapping[str, Magnitude] = dataclasses.field(default_factory=dict)
    fields: Mapping[str, object] = dataclasses.field(default_factory=dict)
    internal: object = None

    def __post_init__(self) -> None:
        jax_law = isinstance(self.law, materials.Law)
        if not jax_law and not callable(self.law):
            raise ParameterError(
                f"Material: law={self.law!r} must be an organfem.materials law or a UFL energy psi(E, R)"
            )
        if not jax_law and (self.parameters or self.fields or self.internal is not None):
            raise ParameterError("Material: parameters, fields and internal need a JAX law")
        for name, value in self.parameters.items():
            as_time_function(value, f"Material parameter {name!r}")

    def contribute(self, ctx: FormContext) -> Contribution:
        qs = ctx.quadrature
        if not isinstance(self.law, materials.Law):
            material = UFLMaterial(self.law, qs, self.fibres)
            residual = material.residual(ctx.u, ctx.v)
            return Contribution(residual=residual, before_assembly=material.update,
                                state=material, output=material)
        fields = {name: _point_field(name, spec, qs, ctx.domain) for name, spec in self.fields.items()}
        internal = self.internal
        if internal is not None:
            # Parameters of the internal-variable model that vary in space
            # (regional activation times, scar): resolved per point here.
            spatial = {
                f.name: _point_field(f"{type(internal).__name__}.{f.name}", getattr(internal, f.name), qs, ctx.domain)
                for f in dataclasses.fields(internal)
                if not f.metadata.get("static", False)
                and (isinstance(getattr(internal, f.name), Regions) or callable(getattr(internal, f.name)))
            }
            if spatial:
                internal = dataclasses.replace(internal, **spatial)
        material = QuadratureMaterial(self.law, qs, self.fibres, fields=fields, internal=internal)
        if self.parameters or fields:
            # Fails now, with the law's own message, if a name is not a parameter.
            materials.with_parameters(self.law, **{k: 1.0 for k in self.parameters}, **fields)
        residual = material.residual(ctx.u, ctx.v)
        du = ufl.TrialFunction(ctx.test.ufl_function_space())
        du_u = ufl.split(du)[0] if ctx.pressure is not None else du
        jacobian = material.jacobian(ctx.u, du_u, ctx.v)
        given = dict(self.parameters)

        def at_time(t: float, ramped: bool) -> None:
            material.set_parameters(
                {k: as_time_function(v, f"Material parameter {k!r}", ramped=ramped)(t) for k, v in given.items()}
            )

        return Contribution(
            residual=residual,
            jacobian=jacobian,
            at_time=at_time,
            before_assembly=material.update,
            state=material,
            output=material,
        )

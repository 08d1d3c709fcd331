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

import os
from collections.abc import Callable

import numpy as np

from .. import materials
from .._dolfinx import basix, dolfinx, ufl
from ..errors import ParameterError
from .domain import CellFibres
from .kinematics import deformation_gradient, green_lagrange, voigt_strain, voigt_to_tensor

__all__ = ["QuadratureSpace", "QuadratureMaterial", "UFLMaterial", "FibreField"]

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
    """

    def __init__(self, law: materials.Law, qs: QuadratureSpace, fibres: FibreField | None):
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

    def update(self, law: materials.Law) -> float:
        """Evaluate stress and tangent at the current displacement.

        Returns the smallest det F over this rank's quadrature points; stress
        and tangent are only meaningful where it is positive.
        """
        values = self.qs.evaluate(self._strain)
        e, J = values[:, :6], values[:, 6]
        S, D = materials.evaluate(law, e, self._basis, workers=self._workers, out=self._out)
        self.qs.assign(self.S, S)
        self.qs.assign(self.D, D)
        return float(J.min()) if J.size else np.inf

    def fibre_cauchy_stress(self, u) -> np.ndarray:
        """Cauchy stress along the deformed fibre per owned cell [kPa]."""
        F = deformation_gradient(u)
        f = F * self.R[0, :]
        sigma = F * voigt_to_tensor(self.S) * F.T / ufl.det(F)
        expr = self.qs.expression(ufl.dot(f, sigma * f) / ufl.dot(f, f))
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

    def update(self, law=None) -> float:
        J = self.qs.evaluate(self._det)
        return float(J.min()) if J.size else np.inf

"""Quasi-static finite-strain hyperelasticity on DOLFINx, solved with PETSc SNES.

Total Lagrangian, displacement (``formulation="displacement"``: compressible
laws or a volumetric penalty in the law) or mixed displacement-pressure
Taylor-Hood (``formulation="mixed"``: exactly incompressible, ``J = 1``
enforced by a pressure ``p`` [kPa] of one degree lower).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

from .. import materials
from .._dolfinx import MPI, PETSc, basix, dolfinx, ufl
from ..errors import InvertedElementError, ParameterError
from .domain import Domain
from .kinematics import deformation_gradient
from .loads import BodyForce, Fixed, Pressure, Spring
from .material import FibreField, QuadratureMaterial, QuadratureSpace, UFLMaterial
from .solver import NEWTON_MUMPS

__all__ = ["HyperelasticProblem", "SolveResult"]

log = logging.getLogger(__name__)

_FORMULATIONS = ("displacement", "mixed")


@dataclasses.dataclass(frozen=True)
class SolveResult:
    """Outcome of one nonlinear solve at one load level."""

    level: float
    converged: bool
    iterations: int
    reason: str
    residual_norm: float
    min_det_f: float


def _reason_name(code: int) -> str:
    for name, value in vars(PETSc.SNES.ConvergedReason).items():
        if not name.startswith("_") and value == code:
            return name
    return str(code)


def _scaled_active(law: materials.Law, level: float) -> materials.Law:
    """The law with every active tension multiplied by ``level``."""
    if isinstance(law, materials.ActiveStress):
        return dataclasses.replace(law, Ta=law.Ta * level)
    if isinstance(law, materials.Sum):
        return materials.Sum(tuple(_scaled_active(t, level) for t in law.terms))
    return law


class HyperelasticProblem:
    """Large-deformation quasi-static equilibrium of a hyperelastic body.

    Physics (the law, loads, constraints) and discretisation (element degree,
    quadrature) are given here; :meth:`solve` solves at one load level and
    :func:`organfem.mechanics.ramp` walks the load path.

    Args:
        domain: the mesh with named tags.
        law: a JAX law (:mod:`organfem.materials`), evaluated at quadrature
            points, or a :class:`~organfem.mechanics.material.UFLMaterial`
            energy callable ``psi(E, R)`` for the UFL baseline.
        constraints: :class:`Fixed` conditions.
        loads: :class:`Pressure`, :class:`Spring` and :class:`BodyForce`;
            pressures, body forces and every active tension in ``law`` are
            multiplied by the load level, springs are not.
        fibres: local basis (rows f0, s0, n0): a callable of position
            ``x (n, 3) [mm] -> (n, 3, 3)`` evaluated at the quadrature points,
            or per-cell bases such as ``domain.fibres`` (from
            :attr:`MeshData.fibres <organfem.meshing.MeshData.fibres>`, e.g.
            :func:`organfem.fibres.ldrb_fibres`); identity if None.
        formulation: ``"displacement"`` or ``"mixed"`` (Taylor-Hood u-p).
        degree: displacement degree (1 or 2); the mixed pressure uses degree-1.
        quadrature_degree: quadrature degree of every volume integral.
        petsc_options: SNES/KSP/PC options (see :mod:`.solver`).
        petsc_options_prefix: unique options prefix, the same on all ranks.

    Collective on ``domain.comm``.
    """

    def __init__(
        self,
        domain: Domain,
        law: materials.Law | UFLMaterial,
        *,
        constraints: Sequence[Fixed] = (),
        loads: Sequence[Pressure | Spring | BodyForce] = (),
        fibres: FibreField | None = None,
        formulation: str = "displacement",
        degree: int = 2,
        quadrature_degree: int | None = None,
        petsc_options: dict | None = None,
        petsc_options_prefix: str = "organfem_",
    ):
        if formulation not in _FORMULATIONS:
            raise ParameterError(f"formulation={formulation!r} must be one of {_FORMULATIONS}")
        if degree not in (1, 2):
            raise ParameterError(f"degree={degree!r} must be 1 or 2")
        if formulation == "mixed" and degree < 2:
            raise ParameterError("the mixed formulation needs degree=2 (Taylor-Hood P2/P1)")
        self.domain = domain
        self.law = law
        self.formulation = formulation
        mesh = domain.mesh
        qdeg = quadrature_degree if quadrature_degree is not None else 2 * degree
        self.quadrature = QuadratureSpace(mesh, qdeg)
        cell = mesh.basix_cell()

        ue = basix.ufl.element("Lagrange", cell, degree, shape=(3,))
        if formulation == "mixed":
            pe = basix.ufl.element("Lagrange", cell, degree - 1)
            self.W = dolfinx.fem.functionspace(mesh, basix.ufl.mixed_element([ue, pe]))
            self.V, self._V_to_W = self.W.sub(0).collapse()
        else:
            self.W = dolfinx.fem.functionspace(mesh, ue)
            self.V, self._V_to_W = self.W, None
        self.w = dolfinx.fem.Function(self.W, name="state")
        w_, dw, tw = self.w, ufl.TrialFunction(self.W), ufl.TestFunction(self.W)
        if formulation == "mixed":
            u, p = ufl.split(w_)
            v, q = ufl.split(tw)
            du, _ = ufl.split(dw)
        else:
            u, v, du = w_, tw, dw

        if isinstance(law, materials.Law):
            self._material = QuadratureMaterial(law, self.quadrature, fibres)
        else:
            self._material = UFLMaterial(law, self.quadrature, fibres)

        self.level = dolfinx.fem.Constant(mesh, 0.0)
        F = deformation_gradient(u)
        J = ufl.det(F)
        N = ufl.FacetNormal(mesh)
        dx = self.quadrature.dx
        terms = []  # everything but the material: written in UFL, differentiated by UFL
        if formulation == "mixed":
            terms.append((-p * J * ufl.inner(ufl.inv(F).T, ufl.grad(v)) + q * (J - 1)) * dx)
        for load in loads:
            if isinstance(load, Pressure):
                ds = domain.ds(load.tag)
                value = dolfinx.fem.Constant(mesh, float(load.value))
                terms.append(self.level * value * J * ufl.inner(ufl.inv(F).T * N, v) * ds)
            elif isinstance(load, Spring):
                ds = domain.ds(load.tag)
                k = dolfinx.fem.Constant(mesh, float(load.stiffness))
                if load.normal_only:
                    terms.append(k * ufl.dot(u, N) * ufl.dot(v, N) * ds)
                else:
                    terms.append(k * ufl.inner(u, v) * ds)
            elif isinstance(load, BodyForce):
                b = dolfinx.fem.Constant(mesh, np.asarray(load.value, dtype=np.float64))
                terms.append(-self.level * ufl.inner(b, v) * dx)
            else:
                raise ParameterError(f"unsupported load {load!r}")

        residual = sum(terms, self._material.residual(u, v))
        jacobian = self._material.jacobian(u, du, v)
        if jacobian is None:
            jacobian = ufl.derivative(residual, w_, dw)
        elif terms:
            jacobian += ufl.derivative(sum(terms[1:], terms[0]), w_, dw)

        self.bcs = self._dirichlet(constraints)
        options = dict(NEWTON_MUMPS if petsc_options is None else petsc_options)
        self._problem = dolfinx.fem.petsc.NonlinearProblem(
            residual,
            self.w,
            bcs=self.bcs,
            J=jacobian,
            petsc_options_prefix=petsc_options_prefix,
            petsc_options=options,
        )
        if options.get("pc_type") == "gamg":
            self._problem.A.setNearNullSpace(self._rigid_body_modes())
        self._install_callbacks()
        self._current_law = law
        self.min_det_f = 1.0

    # -- set-up helpers -------------------------------------------------------

    def _dirichlet(self, constraints: Sequence[Fixed]) -> list:
        mesh = self.domain.mesh
        fdim = mesh.topology.dim - 1
        mesh.topology.create_connectivity(fdim, mesh.topology.dim)
        Wu = self.W.sub(0) if self.formulation == "mixed" else self.W
        bcs = []
        for c in constraints:
            facets = self.domain.facets(c.tag)
            for comp in c.components if c.components is not None else (None,):
                space = Wu if comp is None else Wu.sub(comp)
                if space is self.W:  # the whole (displacement-only) space
                    dofs = dolfinx.fem.locate_dofs_topological(space, fdim, facets)
                    bcs.append(dolfinx.fem.dirichletbc(np.zeros(3), dofs, space))
                    continue
                collapsed, _ = space.collapse()
                zero = dolfinx.fem.Function(collapsed)
                dofs = dolfinx.fem.locate_dofs_topological((space, collapsed), fdim, facets)
                bcs.append(dolfinx.fem.dirichletbc(zero, dofs, space))
        return bcs

    def _rigid_body_modes(self) -> PETSc.NullSpace:
        V = self.W
        x = V.tabulate_dof_coordinates()
        n = V.dofmap.index_map.size_local
        bs = V.dofmap.index_map_bs
        basis = [dolfinx.la.vector(V.dofmap.index_map, bs) for _ in range(6)]
        for i in range(3):
            basis[i].array.reshape(-1, 3)[:n, i] = 1.0
        xx = x[:n]
        for k, (a, b) in enumerate(((0, 1), (1, 2), (2, 0))):
            arr = basis[3 + k].array.reshape(-1, 3)
            arr[:n, a] = -xx[:, b]
            arr[:n, b] = xx[:, a]
        dolfinx.la.orthonormalize(basis)
        vecs = [PETSc.Vec().createWithArray(b.array[: n * bs], bsize=bs, comm=V.mesh.comm) for b in basis]
        return PETSc.NullSpace().create(vectors=vecs, comm=V.mesh.comm)

    def _install_callbacks(self) -> None:
        """Evaluate the material before each residual/Jacobian assembly."""
        problem = self._problem
        snes = problem.solver
        function_ctx = {"u": problem.u, "residual": problem.F, "jacobian": problem.J, "bcs": self.bcs}
        jacobian_ctx = {
            "u": problem.u,
            "jacobian": problem.J,
            "preconditioner": problem.preconditioner,
            "bcs": self.bcs,
        }
        comm = self.domain.comm
        self._evaluated = None

        def sync(x):
            dolfinx.la.petsc._ghost_update(x, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
            dolfinx.fem.petsc.assign(x, self.w)
            state = x.getArray(readonly=True)
            stale = self._evaluated is None or not np.array_equal(state, self._evaluated)
            # Collective decision: a rank whose part of x is unchanged must
            # still join the reduction below when another rank's part changed.
            if comm.allreduce(stale, op=MPI.LOR):
                local = self._material.update(self._current_law)
                self.min_det_f = comm.allreduce(local, op=MPI.MIN)
                self._evaluated = state.copy()

        def residual(snes_, x, b):
            sync(x)
            dolfinx.fem.petsc.assemble_residual(snes_, x, b, **function_ctx)
            if not self.min_det_f > 0:
                b.set(np.inf)  # rejected by the line search; reported by the stepper

        def jacobian(snes_, x, A, P):
            sync(x)
            dolfinx.fem.petsc.assemble_jacobian(snes_, x, A, P, **jacobian_ctx)

        snes.setFunction(residual, problem.b)
        snes.setJacobian(jacobian, problem.A, problem.P_mat)

    # -- public API -------------------------------------------------------------

    @property
    def snes(self) -> PETSc.SNES:
        """The PETSc SNES (for monitors and option inspection)."""
        return self._problem.solver

    @property
    def num_dofs(self) -> int:
        """Global number of unknowns."""
        imap = self.W.dofmap.index_map
        return imap.size_global * self.W.dofmap.index_map_bs

    def displacement(self) -> dolfinx.fem.Function:
        """The displacement [mm] as a function on its own (collapsed) space."""
        if self._V_to_W is None:
            return self.w
        u = dolfinx.fem.Function(self.V, name="displacement")
        u.x.array[:] = self.w.x.array[self._V_to_W]
        return u

    def state(self) -> np.ndarray:
        """A copy of the local unknowns (to restore after a failed step)."""
        return self.w.x.array.copy()

    def restore(self, state: np.ndarray) -> None:
        """Set the unknowns to a copy made by :meth:`state`."""
        self.w.x.array[:] = state
        self._evaluated = None

    def solve(self, level: float) -> SolveResult:
        """Solve at load ``level`` starting from the current state. Collective.

        Returns the outcome; does not raise when Newton fails (the caller
        decides whether to cut the step), but raises
        :class:`InvertedElementError` if the converged state has det F <= 0.
        """
        self.level.value = level
        if isinstance(self.law, materials.Law):
            self._current_law = _scaled_active(self.law, level)
        self._evaluated = None
        self._problem.solve()
        snes = self.snes
        code = snes.getConvergedReason()
        result = SolveResult(
            level=float(level),
            converged=code > 0,
            iterations=snes.getIterationNumber(),
            reason=_reason_name(code),
            residual_norm=float(snes.getFunctionNorm()),
            min_det_f=self.min_det_f,
        )
        if result.converged and not self.min_det_f > 0:
            raise InvertedElementError(
                f"converged state at load level {level:g} has det F = {self.min_det_f:g} <= 0"
            )
        log.debug("level %.4g: %s in %d iterations", level, result.reason, result.iterations)
        return result

    def fibre_stress(self) -> dolfinx.fem.Function:
        """Cell-averaged Cauchy stress along the deformed fibre [kPa] (DG0)."""
        if not isinstance(self._material, QuadratureMaterial):
            raise ParameterError("fibre stress is available for JAX laws only")
        u = ufl.split(self.w)[0] if self.formulation == "mixed" else self.w
        Q = dolfinx.fem.functionspace(self.domain.mesh, ("DG", 0))
        out = dolfinx.fem.Function(Q, name="fibre_stress")
        values = self._material.fibre_cauchy_stress(u)
        out.x.array[: values.size] = values
        out.x.scatter_forward()
        return out

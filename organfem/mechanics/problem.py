"""Finite-strain mechanics in time on DOLFINx, solved with PETSc SNES.

Total Lagrangian, displacement (``formulation="displacement"``: compressible
laws or a volumetric penalty in the law) or mixed displacement-pressure
Taylor-Hood (``formulation="mixed"``: exactly incompressible, ``J = 1``
enforced by a pressure ``p`` [kPa] of one degree lower).

The problem is assembled from a :class:`Model`, a frozen set of terms
(:mod:`organfem.mechanics.terms`), and an integrator
(:mod:`organfem.mechanics.integrators`).  It holds one :class:`State` with
commit and rollback; :func:`~organfem.mechanics.ramp` and
:func:`~organfem.mechanics.simulate` walk it through pseudo-time or time.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import time
import weakref
from collections.abc import Sequence

import numpy as np

from .. import materials, units
from .._dolfinx import MPI, PETSc, basix, dolfinx, ufl
from ..errors import InvertedElementError, ParameterError
from ._system import System
from .domain import Domain
from .dynamics import Inertia
from .integrators import Integrator, QuasiStatic
from .kinematics import deformation_gradient
from .material import FibreField, Material, QuadratureMaterial, QuadratureSpace
from .solver import NEWTON_MUMPS
from .state import State
from .terms import Contribution, FormContext, Term, form_sum

__all__ = ["HyperelasticProblem", "SolveResult", "Model"]

log = logging.getLogger(__name__)

_FORMULATIONS = ("displacement", "mixed")
_LIVE_PREFIXES: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


@dataclasses.dataclass(frozen=True)
class Model:
    """A frozen description of the physics: a tuple of terms.

    Terms are :class:`~organfem.mechanics.Material`, loads
    (:class:`~organfem.mechanics.Pressure`, ...), constraints
    (:class:`~organfem.mechanics.Fixed`), :class:`~organfem.mechanics.Inertia`,
    damping, :class:`~organfem.mechanics.Cavity` and
    :class:`~organfem.mechanics.Contact`; anything with a
    ``contribute(ctx)`` method (:class:`~organfem.mechanics.terms.Term`).
    Exactly one :class:`Material` is expected first or anywhere.
    """

    terms: tuple

    def __init__(self, *terms: Term):
        flat = []
        for term in terms:
            flat.extend(term if isinstance(term, list | tuple) else [term])
        for term in flat:
            if not callable(getattr(term, "contribute", None)):
                raise ParameterError(f"Model: {term!r} is not a model term (it has no contribute(ctx))")
        if not any(isinstance(t, Material) for t in flat):
            raise ParameterError("Model: needs a Material term (the constitutive law)")
        object.__setattr__(self, "terms", tuple(flat))

    def with_terms(self, *terms: Term) -> Model:
        """A new model with ``terms`` added."""
        return Model(*self.terms, *terms)


@dataclasses.dataclass(frozen=True)
class SolveResult:
    """Outcome of one Newton solve (one time step).

    Attributes:
        time: end-of-step time [s] (pseudo-time on a quasi-static path).
        dt: step length [s].
        converged: whether Newton converged.
        iterations: Newton iterations.
        reason: PETSc's converged/diverged reason.
        residual_norm: final residual norm.
        min_det_f: smallest det F at the last iterate.
        assembly_seconds, solve_seconds: wall time of assembly (with the
            material kernel) and of the linear solves in this step.
    """

    time: float
    dt: float
    converged: bool
    iterations: int
    reason: str
    residual_norm: float
    min_det_f: float
    assembly_seconds: float = 0.0
    solve_seconds: float = 0.0

    @property
    def level(self) -> float:
        """The pseudo-time of a quasi-static path (the load level of old)."""
        return self.time


def _reason_name(code: int) -> str:
    for name, value in vars(PETSc.SNES.ConvergedReason).items():
        if not name.startswith("_") and value == code:
            return name
    return str(code)


class HyperelasticProblem:
    """Large-deformation mechanics of a body in time, quasi-static or dynamic.

    Physics comes as a :class:`Model` of terms, or, for the common case, as a
    law with ``constraints``, ``loads`` and ``fibres`` (which become
    ``Model(Material(law, fibres), *constraints, *loads)``).  Discretisation
    (formulation, degree, quadrature) and the integrator are given here;
    :func:`~organfem.mechanics.ramp` and :func:`~organfem.mechanics.simulate`
    walk the state through pseudo-time or time.

    Args:
        domain: the mesh with named tags.
        model: a :class:`Model`, or a law (JAX law or UFL energy ``psi(E, R)``).
        constraints, loads, fibres: with a law: :class:`Fixed` conditions,
            loads (any terms), and the fibre field of the material.
        formulation: ``"displacement"`` or ``"mixed"`` (Taylor-Hood u-p).
        degree: displacement degree (1 or 2); the mixed pressure uses degree-1.
        quadrature_degree: quadrature degree of every volume integral.
        integrator: :class:`~organfem.mechanics.QuasiStatic` (default),
            :class:`~organfem.mechanics.GeneralisedAlpha`,
            :class:`~organfem.mechanics.BackwardEuler`, :class:`~organfem.mechanics.BDF2`.
        petsc_options: SNES/KSP/PC options (see :mod:`.solver`); by default
            ``NEWTON_MUMPS`` with the options terms suggest (a Contact asks for
            the backtracking line search).
        petsc_options_prefix: required; unique among live problems, the
            same on all ranks (the DOLFINx convention).

    Collective on ``domain.comm``.
    """

    def __init__(
        self,
        domain: Domain,
        model: Model | materials.Law | object,
        *,
        petsc_options_prefix: str,
        constraints: Sequence[Term] = (),
        loads: Sequence[Term] = (),
        fibres: FibreField | None = None,
        formulation: str = "displacement",
        degree: int = 2,
        quadrature_degree: int | None = None,
        integrator: Integrator | None = None,
        petsc_options: dict | None = None,
    ):
        if formulation not in _FORMULATIONS:
            raise ParameterError(f"formulation={formulation!r} must be one of {_FORMULATIONS}")
        if degree not in (1, 2):
            raise ParameterError(f"degree={degree!r} must be 1 or 2")
        if formulation == "mixed" and degree < 2:
            raise ParameterError("the mixed formulation needs degree=2 (Taylor-Hood P2/P1)")
        if not isinstance(petsc_options_prefix, str) or not petsc_options_prefix:
            raise ParameterError("petsc_options_prefix must be a non-empty string, unique per problem")
        if petsc_options_prefix in _LIVE_PREFIXES:
            gc.collect()  # a problem that is gone but not yet collected
        if petsc_options_prefix in _LIVE_PREFIXES:
            raise ParameterError(
                f"petsc_options_prefix={petsc_options_prefix!r} is already used by a live problem; "
                "give each problem its own prefix"
            )
        if not isinstance(model, Model):
            model = Model(Material(model, fibres), *constraints, *loads)
        elif constraints or loads or fibres is not None:
            raise ParameterError("with a Model, put constraints, loads and fibres in the model's terms")
        self.domain = domain
        self.model = model
        self.formulation = formulation
        self.integrator = integrator if integrator is not None else QuasiStatic()
        self.prefix = petsc_options_prefix
        mesh = domain.mesh
        qdeg = quadrature_degree if quadrature_degree is not None else 2 * degree
        self.quadrature = QuadratureSpace(mesh, qdeg)
        cell = mesh.basix_cell()

        ue = basix.ufl.element("Lagrange", cell, degree, shape=(3,))
        if formulation == "mixed":
            pe = basix.ufl.element("Lagrange", cell, degree - 1)
            self.W = dolfinx.fem.functionspace(mesh, basix.ufl.mixed_element([ue, pe]))
            self.V, to_W = self.W.sub(0).collapse()
            self._V_to_W = np.asarray(to_W, dtype=np.int64).ravel()
        else:
            self.W = dolfinx.fem.functionspace(mesh, ue)
            self.V, self._V_to_W = self.W, None
        self.w = dolfinx.fem.Function(self.W, name="state")
        tw, dw = ufl.TestFunction(self.W), ufl.TrialFunction(self.W)
        if formulation == "mixed":
            u, p = ufl.split(self.w)
            v, q = ufl.split(tw)
        else:
            u, p, v, q = self.w, None, tw, None

        # v_{n+1} = c_v u + v*, a_{n+1} = c_a u + a* (see integrators.py).
        self._c_v = dolfinx.fem.Constant(mesh, 0.0)
        self._c_a = dolfinx.fem.Constant(mesh, 0.0)
        self._v_star = dolfinx.fem.Function(self.V, name="v_star")
        self._a_star = dolfinx.fem.Function(self.V, name="a_star")
        self.time_constant = dolfinx.fem.Constant(mesh, 0.0)
        ctx = FormContext(
            domain=domain,
            quadrature=self.quadrature,
            u=u,
            v=v,
            test=tw,
            pressure=p,
            velocity=self._c_v * u + self._v_star,
            acceleration=self._c_a * u + self._a_star,
            time=self.time_constant,
            unknown=self.w,
        )
        # Materials first, so that damping terms can see the tangent.
        ordered = sorted(model.terms, key=lambda t: not isinstance(t, Material))
        self._terms: list[tuple[Term, Contribution]] = []
        for term in ordered:
            contribution = term.contribute(ctx)
            self._terms.append((term, contribution))
            material = contribution.output
            if isinstance(material, QuadratureMaterial) and ctx.material_tangent is None:
                ctx = dataclasses.replace(ctx, material_tangent=material.D)
        self._material = next(c.output for t, c in self._terms if isinstance(t, Material))

        residuals, jacobians = [], []
        if formulation == "mixed":
            F = deformation_gradient(u)
            J = ufl.det(F)
            incompressibility = (-p * J * ufl.inner(ufl.inv(F).T, ufl.grad(v)) + q * (J - 1)) * self.quadrature.dx
            residuals.append(incompressibility)
            jacobians.append(ufl.derivative(incompressibility, self.w, dw))
        for _, c in self._terms:
            if c.residual is None:
                continue
            residuals.append(c.residual)
            jacobians.append(c.jacobian if c.jacobian is not None else ufl.derivative(c.residual, self.w, dw))
        residual, jacobian = form_sum(residuals), form_sum(jacobians)
        self._residual_form = dolfinx.fem.form(residual)
        self._jacobian_form = dolfinx.fem.form(jacobian)
        self.bcs = []
        for _, c in self._terms:
            if c.bcs is not None:
                self.bcs.extend(c.bcs(self))
        self._multipliers = [m for _, c in self._terms for m in c.multipliers]
        # Terms whose multipliers' targets depend on the multipliers: their
        # slice of the multipliers and the function giving targets and derivatives.
        self._coupled_targets, start = [], 0
        for _, c in self._terms:
            if c.targets is not None:
                self._coupled_targets.append((slice(start, start + len(c.multipliers)), c.targets))
            start += len(c.multipliers)
        self._columns = [dolfinx.fem.form(m.column) for m in self._multipliers]
        self._rows = [
            col if m.row is m.column else dolfinx.fem.form(m.row)
            for m, col in zip(self._multipliers, self._columns, strict=True)
        ]
        self._functionals = [dolfinx.fem.form(m.functional) for m in self._multipliers]
        self._border = [dolfinx.fem.petsc.create_vector(self.W) for _ in self._multipliers]

        if petsc_options is None:
            # The default preset, with the options terms suggest (e.g. the
            # line search that gets contact going).
            options = dict(NEWTON_MUMPS)
            for term in model.terms:
                options.update(getattr(term, "petsc_options", {}))
        else:
            options = dict(petsc_options)
        if self._multipliers and options.get("pc_type") != "lu":
            raise ParameterError(
                "volume-driven cavities need a direct solver: use the 'newton-mumps' or "
                "'newton-tr-mumps' preset (pc_type lu)"
            )
        self._system = System(self.W, self._jacobian_form, len(self._multipliers))
        self._snes = self._create_snes(options)
        if options.get("pc_type") == "gamg":
            self._system.K.setNearNullSpace(self._rigid_body_modes())
        _LIVE_PREFIXES[petsc_options_prefix] = self
        self._closed = False

        self.min_det_f = 1.0
        self._multiplier_values = np.zeros(len(self._multipliers))
        self._evaluated = None
        self._time = 0.0
        self._timers = {"assembly": 0.0, "solve": 0.0}
        self._state = self._initial_state()
        self._committed = self._state.copy()
        self.set_time(0.0)

    # -- set-up helpers -------------------------------------------------------

    def zero_displacement_bcs(self, facets: np.ndarray, components) -> list:
        """Dirichlet conditions ``u = 0`` (all or some components) on ``facets``."""
        mesh = self.domain.mesh
        fdim = mesh.topology.dim - 1
        mesh.topology.create_connectivity(fdim, mesh.topology.dim)
        Wu = self.W.sub(0) if self.formulation == "mixed" else self.W
        bcs = []
        for comp in components if components is not None else (None,):
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

    def component_bcs(self, facets: np.ndarray, components: Sequence[int]) -> list[tuple]:
        """Dirichlet conditions on displacement components on ``facets``, each
        with its value [mm] held in a Function of the component's space (for
        terms that move it in time).  Returns ``(bc, value_function)`` pairs."""
        mesh = self.domain.mesh
        fdim = mesh.topology.dim - 1
        mesh.topology.create_connectivity(fdim, mesh.topology.dim)
        Wu = self.W.sub(0) if self.formulation == "mixed" else self.W
        out = []
        for comp in components:
            space = Wu.sub(comp)
            collapsed, _ = space.collapse()
            value = dolfinx.fem.Function(collapsed)
            dofs = dolfinx.fem.locate_dofs_topological((space, collapsed), fdim, facets)
            out.append((dolfinx.fem.dirichletbc(value, dofs, space), value))
        return out

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

    def _create_snes(self, options: dict) -> PETSc.SNES:
        system = self._system
        snes = PETSc.SNES().create(self.domain.comm)
        snes.setOptionsPrefix(self.prefix)
        opts = PETSc.Options()
        opts.prefixPush(self.prefix)
        for key, value in options.items():
            opts[key] = value
        opts.prefixPop()
        # PETSc keeps its callbacks alive out of reach of Python's garbage
        # collector: give it closures over a weak reference, so a problem
        # that goes out of scope is freed (and its options prefix with it).
        ref = weakref.ref(self)

        def residual(snes_, x, b):
            ref()._assemble_residual(snes_, x, b)

        def jacobian(snes_, x, A, P):
            ref()._assemble_jacobian(snes_, x, A, P)

        snes.setFunction(residual, system.b)
        snes.setJacobian(jacobian, system.A, system.A)
        snes.setFromOptions()
        self._options = options
        return snes

    # -- assembly callbacks -----------------------------------------------------

    def _sync(self, x: PETSc.Vec) -> None:
        """Make ``w``, the multipliers and the material follow ``x``. Collective."""
        start = time.perf_counter()
        values = self._system.to_function(x, self.w)
        for m, value in zip(self._multipliers, values, strict=True):
            m.constant.value = value
        self._multiplier_values = values
        state = self.w.x.array
        stale = self._evaluated is None or not np.array_equal(state, self._evaluated)
        # Collective decision: a rank whose part is unchanged must still join
        # the reductions below when another rank's part changed.
        if self.domain.comm.allreduce(stale, op=MPI.LOR):
            local = min((c.before_assembly() for _, c in self._terms if c.before_assembly), default=np.inf)
            self.min_det_f = self.domain.comm.allreduce(local, op=MPI.MIN)
            self._evaluated = state.copy()
        self._timers["assembly"] += time.perf_counter() - start

    def _assemble_residual(self, snes, x, b) -> None:
        self._sync(x)
        start = time.perf_counter()
        b_w = self._system.b_w
        with b_w.localForm() as local:
            local.set(0.0)
        dolfinx.fem.petsc.assemble_vector(b_w, self._residual_form)
        x0 = self.w.x.petsc_vec
        dolfinx.fem.petsc.apply_lifting(b_w, [self._jacobian_form], bcs=[self.bcs], x0=[x0], alpha=-1.0)
        b_w.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(b_w, self.bcs, x0=x0, alpha=-1.0)
        targets, _ = self._multiplier_targets()
        residuals = np.array(
            [
                m.sign * (self.domain.comm.allreduce(dolfinx.fem.assemble_scalar(f), op=MPI.SUM) - target)
                for m, f, target in zip(self._multipliers, self._functionals, targets, strict=True)
            ]
        )
        # Into ``b``: line searches (bt, l2) and trust regions pass work vectors.
        self._system.finish_residual(residuals, b)
        if not self.min_det_f > 0:
            b.set(np.inf)  # rejected by the line search; reported by the stepper
        self._timers["assembly"] += time.perf_counter() - start

    def _assemble_jacobian(self, snes, x, A, P) -> None:
        self._sync(x)
        start = time.perf_counter()
        K = self._system.K
        K.zeroEntries()
        dolfinx.fem.petsc.assemble_matrix(K, self._jacobian_form, self.bcs, diag=1.0)
        K.assemble()
        columns, rows = [], []
        for vec, col_form, row_form, m in zip(self._border, self._columns, self._rows, self._multipliers, strict=True):
            vectors = {}
            for key, form in (("column", col_form), ("row", row_form)):
                if form is col_form and "column" in vectors:
                    vectors[key] = vectors["column"]
                    continue
                with vec.localForm() as local:
                    local.set(0.0)
                dolfinx.fem.petsc.assemble_vector(vec, form)
                vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
                dolfinx.fem.petsc.set_bc(vec, self.bcs, alpha=0.0)
                vectors[key] = vec.getArray(readonly=True)[: self._system.n_owned].copy()
            columns.append(vectors["column"])
            rows.append(m.sign * vectors["row"])
        _, derivative = self._multiplier_targets()
        signs = np.array([m.sign for m in self._multipliers])
        self._system.finish_matrix(columns, rows, -signs[:, None] * derivative)
        self._timers["assembly"] += time.perf_counter() - start

    def _multiplier_targets(self) -> tuple[np.ndarray, np.ndarray]:
        """What each multiplier's functional must equal at the current time
        and multiplier values (m,), and its derivative by the multipliers
        (m, m), zero but for coupled terms."""
        m = len(self._multipliers)
        targets = np.array([mult.target(self._time) if mult.target else 0.0 for mult in self._multipliers])
        derivative = np.zeros((m, m))
        for part, coupled in self._coupled_targets:
            values, slope = coupled(self._time, self._multiplier_values[part])
            targets[part] = values
            derivative[part, part] = slope
        return targets, derivative

    # -- state ------------------------------------------------------------------

    def _u_array(self) -> np.ndarray:
        return self.w.x.array[self._V_to_W] if self._V_to_W is not None else self.w.x.array

    def _initial_state(self) -> State:
        zero = np.zeros(self._v_star.x.array.size)
        fields = {"w": self.w.x.array.copy(), "w_prev": self.w.x.array.copy(),
                  "u": zero.copy(), "v": zero.copy(), "a": zero.copy()}
        for name in self.integrator.history:
            fields[name] = zero.copy()
        internal = {}
        for i, (_, c) in enumerate(self._terms):
            if c.state is not None:
                internal.update({f"t{i}_{k}": v for k, v in c.state.arrays().items()})
        m = len(self._multipliers)
        return State(fields=fields, multipliers=np.zeros(m), multipliers_prev=np.zeros(m), internal=internal)

    @property
    def state(self) -> State:
        """The committed state (a copy): every unknown, the time and history."""
        return self._committed.copy()

    @property
    def time(self) -> float:
        """Time of the committed state [s]."""
        return self._committed.time

    def restore(self, state: State) -> None:
        """Make ``state`` the current and committed state. Collective."""
        ref = self._initial_state() if not self._committed.fields else self._committed
        for name, array in ref.fields.items():
            if name not in state.fields or state.fields[name].shape != array.shape:
                raise ParameterError(
                    f"state: field {name!r} is missing or has another size than this problem's "
                    f"({array.shape}); was it made for another mesh, degree or number of ranks?"
                )
        if state.multipliers.shape != ref.multipliers.shape:
            raise ParameterError(
                f"state: {state.multipliers.size} multipliers for a problem with {ref.multipliers.size}"
            )
        self._committed = state.copy()
        self.rollback()

    def commit(self) -> None:
        """Make the current unknowns the committed state (after a converged step)."""
        self._state.fields["w"] = self.w.x.array.copy()
        self._state.multipliers = np.array(self._multiplier_values)
        for i, (_, c) in enumerate(self._terms):
            if c.state is not None:
                c.state.commit()
                self._state.internal.update({f"t{i}_{k}": v for k, v in c.state.arrays().items()})
        self._committed = self._state.copy()

    def rollback(self) -> None:
        """Return to the committed state (after a failed step). Collective."""
        self._state = self._committed.copy()
        self.w.x.array[:] = self._state.fields["w"]
        self._multiplier_values = np.array(self._state.multipliers)
        for m, value in zip(self._multipliers, self._multiplier_values, strict=True):
            m.constant.value = value
        for i, (_, c) in enumerate(self._terms):
            if c.state is not None:
                prefix = f"t{i}_"
                c.state.restore({k[len(prefix):]: v for k, v in self._state.internal.items() if k.startswith(prefix)})
        self._evaluated = None
        self._time = self._state.time
        self.set_time(self._state.time)

    # -- stepping ---------------------------------------------------------------

    def set_time(self, t: float, *, ramped: bool = False) -> None:
        """Set every term's magnitudes to time ``t`` [s] (``ramped``: plain
        numbers are ramped, as on a quasi-static path)."""
        self._time = float(t)
        self.time_constant.value = float(t)
        for _, c in self._terms:
            if c.at_time is not None:
                c.at_time(float(t), ramped)
        self._evaluated = None

    def step(self, dt: float, *, ramped: bool = False) -> SolveResult:
        """One step of length ``dt`` from the committed state. Collective.

        On convergence the new state is committed; otherwise the problem is
        rolled back and the result says why (the caller cuts the step).

        Raises:
            InvertedElementError: if a converged state has det F <= 0.
        """
        if not dt > 0:
            raise ParameterError(f"time step dt={dt!r} s must be > 0")
        committed = self._committed
        h, h_prev = float(dt), committed.dt
        t_new = committed.time + h
        history = committed.fields
        coeffs = self.integrator.coefficients(history, h, committed.step, h_prev)
        self._c_v.value = coeffs.c_v
        self._c_a.value = coeffs.c_a
        self._v_star.x.array[:] = coeffs.v_star
        self._a_star.x.array[:] = coeffs.a_star
        self.set_time(t_new, ramped=ramped)
        for _, c in self._terms:
            if c.state is not None:
                c.state.begin_step(t_new, h)
        # Predictor.  Quasi-static: secant (linear extrapolation) of all
        # unknowns.  Dynamic: u + h v for the displacement, the pressure and
        # multipliers held.  An inertial transient makes accelerations and
        # multipliers alternate from step to step, and extrapolating them
        # spoils the guess: on a 84 mL LV filled by volume, u + h v + h^2/2 a
        # took 14-17 Newton iterations on alternate steps, u + h v takes 3-4.
        w, w_prev = history["w"], history["w_prev"]
        ratio = h / h_prev if committed.step > 0 and h_prev > 0 else 0.0
        slope = 0.0 if self.integrator.dynamic else ratio
        guess = w + slope * (w - w_prev)
        if self.integrator.dynamic and committed.step > 0:
            u_pred = history["u"] + h * history["v"]
            if self._V_to_W is not None:
                guess[self._V_to_W] = u_pred
            else:
                guess = u_pred
        lam = committed.multipliers + slope * (committed.multipliers - committed.multipliers_prev)
        self.w.x.array[:] = guess
        self._system.from_function(self.w, lam, self._system.x)
        self._evaluated = None
        self._timers = {"assembly": 0.0, "solve": 0.0}
        start = time.perf_counter()
        self._snes.solve(None, self._system.x)
        total = time.perf_counter() - start
        self._sync(self._system.x)
        snes = self._snes
        code = snes.getConvergedReason()
        result = SolveResult(
            time=t_new,
            dt=h,
            converged=code > 0,
            iterations=snes.getIterationNumber(),
            reason=_reason_name(code),
            residual_norm=float(snes.getFunctionNorm()),
            min_det_f=self.min_det_f,
            assembly_seconds=self._timers["assembly"],
            solve_seconds=max(total - self._timers["assembly"], 0.0),
        )
        if result.converged and not self.min_det_f > 0:
            self.rollback()
            raise InvertedElementError(
                f"converged state at t = {t_new:g} s has det F = {self.min_det_f:g} <= 0"
            )
        if not result.converged:
            self.rollback()
            return result
        u_new = self._u_array().copy()
        new_history = self.integrator.finish(history, u_new, h, committed.step, h_prev)
        state = self._state
        state.fields.update(new_history)
        state.fields["w_prev"] = w.copy()
        state.multipliers_prev = committed.multipliers.copy()
        state.time, state.dt, state.step = t_new, h, committed.step + 1
        self.commit()
        log.debug("t = %.6g s: %s in %d iterations", t_new, result.reason, result.iterations)
        return result

    def initial_conditions(self, *, displacement=None, velocity=None, time: float | None = None) -> None:
        """Start a run in time from the committed state. Collective.

        ``displacement`` [mm] and ``velocity`` [mm/s] are callables of
        ``x (3, n)`` as for ``Function.interpolate``, or Functions on the
        displacement space; by default the committed displacement is kept
        and the velocity is zero.  ``time`` [s] is the start time (default:
        the committed time).  The step count and the integrator's history
        start afresh, so a body preloaded by a quasi-static :func:`ramp`
        (e.g. inflated to its end-diastolic pressure) can then be integrated
        in time from rest.

        The acceleration ``a0`` and the multipliers (incompressibility
        pressure, volume-driven cavity pressures) are the consistent ones of
        the constrained equation of motion at the start: one linear solve of
        the full system with ``a = (u - u0) / eps^2`` for a tiny ``eps``,
        whose Jacobian is ``M / eps^2 + K`` with the constraint rows (the
        relative error of ``a0`` is ``(omega eps)^2``, below 1e-8 for
        frequencies under 1e5 rad/s).  Without inertia only the multipliers
        are set.
        """
        state = self._committed.copy()
        state.fields["v"] = np.zeros_like(state.fields["v"])  # a path's pseudo-velocity is not one
        for name, given in (("u", displacement), ("v", velocity)):
            if given is None:
                continue
            f = dolfinx.fem.Function(self.V)
            f.interpolate(given)
            state.fields[name] = f.x.array.copy()
            if name == "u":
                if self._V_to_W is not None:
                    state.fields["w"][self._V_to_W] = f.x.array
                else:
                    state.fields["w"][:] = f.x.array
        if time is not None:
            state.time = float(time)
        state.step, state.dt = 0, 0.0
        for name in self.integrator.history:
            state.fields[name] = np.zeros_like(state.fields["u"])
        state.fields["w_prev"] = state.fields["w"].copy()
        state.multipliers_prev = state.multipliers.copy()
        self._committed = state
        self.rollback()
        self._consistent_start()

    def _consistent_start(self, eps: float = 1e-7) -> None:
        """Acceleration and multipliers consistent with the equation of motion
        and the constraints at the committed (initial) state."""
        state = self._committed
        dynamic = self.integrator.dynamic and any(isinstance(t, Inertia) for t in self.model.terms)
        u0 = state.fields["u"]
        self._c_v.value = 0.0
        self._c_a.value = 1.0 / eps**2 if dynamic else 0.0
        self._v_star.x.array[:] = state.fields["v"]
        self._a_star.x.array[:] = -u0 / eps**2 if dynamic else 0.0
        self.set_time(state.time)
        system = self._system
        system.from_function(self.w, state.multipliers, system.x)
        self._evaluated = None
        self._assemble_residual(self._snes, system.x, system.b)
        self._assemble_jacobian(self._snes, system.x, system.A, system.A)
        ksp = self._snes.getKSP()
        ksp.setOperators(system.A)
        delta = system.x.duplicate()
        ksp.solve(system.b, delta)
        system.x.axpy(-1.0, delta)  # one Newton update: exact, the system is linear in (a, p, lambda)
        multipliers = system.to_function(system.x, self.w)
        delta.destroy()
        if dynamic:
            u = self._u_array()
            state.fields["a"] = (u - u0) / eps**2
            if "a_aux" in state.fields:
                state.fields["a_aux"] = state.fields["a"].copy()
        # Keep u0 and take the consistent pressure and multipliers.
        w = self.w.x.array.copy()
        if self._V_to_W is not None:
            w[self._V_to_W] = u0
        else:
            w[:] = u0
        state.fields["w"] = w
        state.fields["w_prev"] = w.copy()
        state.multipliers = np.array(multipliers)
        state.multipliers_prev = np.array(multipliers)
        self._committed = state.copy()
        self.rollback()

    # -- results ----------------------------------------------------------------

    @property
    def snes(self) -> PETSc.SNES:
        """The PETSc SNES (for monitors and option inspection)."""
        return self._snes

    @property
    def num_dofs(self) -> int:
        """Global number of unknowns (fields and multipliers)."""
        imap = self.W.dofmap.index_map
        return imap.size_global * self.W.dofmap.index_map_bs + len(self._multipliers)

    def displacement(self) -> dolfinx.fem.Function:
        """The displacement [mm] as a function on its own (collapsed) space."""
        u = dolfinx.fem.Function(self.V, name="displacement")
        u.x.array[:] = self._u_array()
        return u

    def velocity(self) -> dolfinx.fem.Function:
        """The velocity [mm/s] of the committed state."""
        v = dolfinx.fem.Function(self.V, name="velocity")
        v.x.array[:] = self._committed.fields["v"]
        return v

    def pressure(self) -> dolfinx.fem.Function | None:
        """The incompressibility pressure [kPa] (mixed formulation), else None."""
        if self.formulation != "mixed":
            return None
        P, to_W = self.W.sub(1).collapse()
        p = dolfinx.fem.Function(P, name="pressure")
        p.x.array[:] = self.w.x.array[np.asarray(to_W, dtype=np.int64).ravel()]
        return p

    def multipliers(self) -> dict[str, float]:
        """Global multipliers by name (cavity pressures [kPa] under volume control)."""
        return {m.name: float(v) for m, v in zip(self._multipliers, self._multiplier_values, strict=True)}

    def scalars(self) -> dict[str, float]:
        """Scalars of the current state: cavity pressures and volumes, contact
        forces and areas, ... (names carry their units). Collective."""
        out: dict[str, float] = {}
        for _, c in self._terms:
            if c.report is not None:
                out.update(c.report())
        return out

    def term_output(self, term: Term):
        """The output object a term made (e.g. a contact's report), or None."""
        for t, c in self._terms:
            if t is term:
                return c.output
        raise ParameterError(f"{term!r} is not a term of this problem's model")

    def describe_loads(self, *, target: bool = False) -> str:
        """The loads in physical units, for messages.

        With ``target``: what the current time asks for (pressures given as
        loads, target volumes of volume-driven cavities), not what the state
        has reached.
        """
        driven = {m.name for m in self._multipliers}
        scalars = self.scalars()
        parts = []
        for name, value in scalars.items():
            # Pressure loads and cavities; not a contact's largest pressure.
            if name.endswith("_pressure_kPa") and not name.endswith("_contact_max_pressure_kPa"):
                cavity = name[: -len("_pressure_kPa")]
                if target and cavity in driven:
                    continue
                parts.append(f"{cavity} pressure {value:.4g} kPa ({value / units.MMHG_IN_KPA:.4g} mmHg)")
            elif name.endswith("_volume_mm3") and not target:
                parts.append(f"{name[: -len('_volume_mm3')]} volume {value / 1e3:.4g} mL")
            elif name.endswith("_offset_1_mm") or name.endswith("_offset_2_mm"):
                parts.append(f"{name[: -len('_mm')]} {value:.3g} mm")
        if target:
            targets, _ = self._multiplier_targets()
            for m, value in zip(self._multipliers, targets, strict=True):
                if m.unit == "kPa":  # cavity pressures, driven by their volumes (not frame offsets)
                    parts.append(f"{m.name} volume {value / 1e3:.4g} mL")
        return "; ".join(parts)

    def strain_energy(self) -> float:
        """Strain energy [mJ = kPa mm^3] of the current state (JAX laws). Collective."""
        if not isinstance(self._material, QuadratureMaterial):
            raise ParameterError("strain_energy needs a JAX law")
        psi = self.quadrature.function((), "psi")
        self.quadrature.assign(psi, self._material.energy_density())
        form = dolfinx.fem.form(psi * self.quadrature.dx)
        return self.domain.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

    def kinetic_energy(self) -> float:
        """Kinetic energy [mJ] of the committed state. Collective."""
        rho = sum(t.density for t in self.model.terms if isinstance(t, Inertia))
        v = self.velocity()
        form = dolfinx.fem.form(0.5 * rho * ufl.inner(v, v) * self.quadrature.dx)
        return self.domain.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

    def _cell_function(self, name: str, values: np.ndarray) -> dolfinx.fem.Function:
        """A DG0 Function named ``name`` holding one value per owned cell."""
        Q = dolfinx.fem.functionspace(self.domain.mesh, ("DG", 0))
        out = dolfinx.fem.Function(Q, name=name)
        out.x.array[: values.size] = values
        out.x.scatter_forward()
        return out

    def _jax_material(self, what: str) -> QuadratureMaterial:
        if not isinstance(self._material, QuadratureMaterial):
            raise ParameterError(f"{what} is available for JAX laws only")
        return self._material

    def fibre_stress(self) -> dolfinx.fem.Function:
        """Cell-averaged Cauchy stress along the deformed fibre [kPa] (DG0)."""
        material = self._jax_material("fibre stress")
        u = ufl.split(self.w)[0] if self.formulation == "mixed" else self.w
        return self._cell_function("fibre_stress", material.fibre_cauchy_stress(u))

    def von_mises_stress(self) -> dolfinx.fem.Function:
        """Cell-averaged von Mises equivalent of the Cauchy stress [kPa] (DG0)."""
        material = self._jax_material("von Mises stress")
        u = ufl.split(self.w)[0] if self.formulation == "mixed" else self.w
        return self._cell_function("von_mises_stress", material.von_mises_stress(u))

    def fibre_stretch(self) -> dolfinx.fem.Function:
        """Cell-averaged fibre stretch ``|F f0|`` (DG0, dimensionless; the
        Green-Lagrange fibre strain is ``(stretch^2 - 1) / 2``)."""
        material = self._jax_material("fibre stretch")
        u = ufl.split(self.w)[0] if self.formulation == "mixed" else self.w
        return self._cell_function("fibre_stretch", material.fibre_stretch(u))

    def internal_variable(self, name: str) -> dolfinx.fem.Function:
        """Cell average of the internal variable ``name`` (DG0)."""
        material = self._jax_material("an internal variable")
        if material.internal is None:
            raise ParameterError("this problem's material has no internal variables")
        return self._cell_function(name, self.quadrature.cell_average(material.internal_values(name)))

    def close(self) -> None:
        """Free the PETSc objects and the options prefix (also done when the
        problem is garbage-collected)."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        if _LIVE_PREFIXES.get(self.prefix) is self:
            del _LIVE_PREFIXES[self.prefix]
        self._snes.destroy()
        self._system.destroy()
        options = PETSc.Options()
        for key in self._options:
            options.delValue(f"{self.prefix}{key}")

    def __del__(self) -> None:
        self.close()

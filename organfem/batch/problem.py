"""Quasi-static hyperelasticity on a :class:`Space`, assembled in pure JAX.

Total Lagrangian, displacement formulation: the residual is
``R(u) = int S : dE dV + p int J F^-T N . v dA + int k u . v dA`` (internal
stress, follower pressure on a tag, Robin springs), the same weak form as
:class:`organfem.mechanics.HyperelasticProblem` with
``formulation="displacement"`` and the same quadrature, so that both give one
discrete solution.  Near-incompressibility is the law's own volumetric term
(:class:`organfem.materials.VolumetricPenalty`).  Element residuals and
tangents are lifted over cells with ``vmap``; the tangent is
``B^T D B + G^T S G`` with ``D`` from the law's autodiff tangent
(:func:`organfem.materials.voigt_stress_and_tangent`); matrices are values on
one fixed sparsity pattern of the free dofs, so that a batch of scenarios is
a batch of value arrays.  Everything here is float64 (``jax.enable_x64``,
set locally by the public entry points, never globally).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .._pytree import pytree_dataclass
from ..errors import ParameterError
from ..materials import Law, voigt_stress_and_tangent
from .space import FacetSet, Space

__all__ = ["Fixed", "Spring", "Cavity", "Scenario", "Problem"]

#: Cells assembled together: the intermediates of one block (strain-
#: displacement matrices, tangents) take about 200 MB for P2, whatever the
#: size of the mesh; the blocks follow each other in a ``lax.scan``.
CELL_BLOCK = 4096


@dataclasses.dataclass(frozen=True)
class Fixed:
    """Zero displacement of the given components on the facets tagged ``tag``."""

    tag: str
    components: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        if not self.components or any(c not in (0, 1, 2) for c in self.components):
            raise ParameterError(f"Fixed({self.tag!r}): components {self.components!r} must be among 0, 1, 2")


@dataclasses.dataclass(frozen=True)
class Spring:
    """Robin spring: traction ``-k u`` (or ``-k (u.N) N``) per reference area.

    Args:
        tag: facet tag name.
        stiffness: ``k`` [kPa/mm], > 0.
        normal_only: resist only the normal component.
    """

    tag: str
    stiffness: float
    normal_only: bool = False

    def __post_init__(self) -> None:
        if not self.stiffness > 0:
            raise ParameterError(f"Spring({self.tag!r}): stiffness={self.stiffness!r} kPa/mm must be > 0")


@dataclasses.dataclass(frozen=True)
class Cavity:
    """The volume enclosed by the facets tagged ``tag`` (an output).

    With an ``axis`` e (a chamber truncated by a plane of normal e through
    ``base_point``): ``V = -int ((x - c).e)(n.e) da``; with ``axis=None`` (a
    closed surface): ``V = -1/3 int (x - c).n da``, ``n`` the solid's outward
    normal.  The same formulas as :func:`organfem.mechanics.cavity_volume`.
    """

    tag: str
    axis: tuple[float, float, float] | None = (0.0, 0.0, 1.0)
    base_point: tuple[float, float, float] = (0.0, 0.0, 0.0)


@pytree_dataclass
class Scenario:
    """What may differ between the scenarios of one batch (a JAX pytree).

    Attributes:
        law: the constitutive law; a parameter may hold one value per cell
            (shape (m,), :func:`organfem.materials.with_parameters`), e.g. a
            scar or a regional stiffness.
        pressure: the cavity pressure at the end of the load path [kPa].
        fibres: local bases per cell (m, 3, 3), rows (f0, s0, n0); None uses
            the mesh's (``Space.fibres``).
    """

    law: Law
    pressure: float = 0.0
    fibres: np.ndarray | None = None


def _voigt_B(G: jax.Array, F: jax.Array) -> jax.Array:
    """Strain-displacement matrix (6, 3n): ``dE_voigt = B du`` (node-major dofs).

    With ``dF = du_a (x) G_a``: ``dE_ij = (F^T dF)_(ij)`` symmetrised, Voigt
    order (11, 22, 33, 23, 13, 12) and engineering shears.
    """
    rows = [
        G[:, 0:1] * F[:, 0],
        G[:, 1:2] * F[:, 1],
        G[:, 2:3] * F[:, 2],
        G[:, 1:2] * F[:, 2] + G[:, 2:3] * F[:, 1],
        G[:, 0:1] * F[:, 2] + G[:, 2:3] * F[:, 0],
        G[:, 0:1] * F[:, 1] + G[:, 1:2] * F[:, 0],
    ]  # each (n, 3)
    return jnp.stack(rows).reshape(6, -1)


def _voigt_to_matrix(s: jax.Array) -> jax.Array:
    return jnp.array([[s[0], s[5], s[4]], [s[5], s[1], s[3]], [s[4], s[3], s[2]]])


def _strains(G: jax.Array, U: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Deformation gradients (m, q, 3, 3) and Voigt strains (m, q, 6) of all cells.

    G (m, q, n, 3) physical gradients, U (m, n, 3) cell displacements.
    """
    F = jnp.eye(3) + jnp.einsum("mna,mqni->mqai", U, G)
    E = 0.5 * (jnp.einsum("mqki,mqkj->mqij", F, F) - jnp.eye(3))
    e = jnp.stack(
        [E[..., 0, 0], E[..., 1, 1], E[..., 2, 2], 2 * E[..., 1, 2], 2 * E[..., 0, 2], 2 * E[..., 0, 1]],
        axis=-1,
    )
    return F, e


def _pointwise(fn, law: Law, e: jax.Array, R: jax.Array):
    """``fn(law, e, R)`` at every point (m, q): the law's per-cell leaves mapped with the cells."""
    m, q = e.shape[:2]
    axes = jax.tree.map(lambda leaf: 0 if jnp.ndim(leaf) else None, law)
    per_point = jax.tree.map(lambda leaf: jnp.repeat(leaf, q) if jnp.ndim(leaf) else leaf, law)
    out = jax.vmap(fn, in_axes=(axes, 0, 0))(per_point, e.reshape(m * q, 6), jnp.repeat(R, q, axis=0))
    return jax.tree.map(lambda x: x.reshape((m, q) + x.shape[1:]), out)


def _cells_B(G: jax.Array, F: jax.Array) -> jax.Array:
    m, q, n, _ = G.shape
    B = jax.vmap(_voigt_B)(G.reshape(m * q, n, 3), F.reshape(m * q, 3, 3))
    return B.reshape(m, q, 6, 3 * n)


def _cell_tangents(law: Law, R, G, w, U):
    """Residuals (m, 3n) and tangents (m, 3n, 3n) of all cells.

    ``K = sum_q w (B^T D B + G S G^T (x) I)``, contracted over points and
    Voigt components in one batched product per cell.
    """
    m, q, n, _ = G.shape
    F, e = _strains(G, U)
    S, D = _pointwise(voigt_stress_and_tangent, law, e, R)
    B = _cells_B(G, F)
    r = jnp.einsum("mq,mqsa,mqs->ma", w, B, S)
    DB = jnp.einsum("mqst,mqtb->mqsb", D * w[..., None, None], B)
    K = jnp.einsum("mka,mkb->mab", B.reshape(m, q * 6, 3 * n), DB.reshape(m, q * 6, 3 * n))
    S3 = jax.vmap(_voigt_to_matrix)(S.reshape(m * q, 6)).reshape(m, q, 3, 3)
    g = jnp.einsum("mqai,mqij,mqbj->mab", G, S3 * w[..., None, None], G)
    K = K + (g[:, :, None, :, None] * jnp.eye(3)[None, None, :, None, :]).reshape(m, 3 * n, 3 * n)
    return r, K


def _cell_residuals(law: Law, R, G, w, U):
    """Residuals (m, 3n) of all cells from the stress alone (differentiable in ``law``)."""
    F, e = _strains(G, U)
    S = _pointwise(lambda law, e, R: law.stress(e, R), law, e, R)
    return jnp.einsum("mq,mqsa,mqs->ma", w, _cells_B(G, F), S)


def _surface(facets: FacetSet, xf: jax.Array):
    """Points (q, 3) and area vectors ``n da`` (q, 3) of a facet with nodes ``xf`` (k, 3)."""
    x = facets.N @ xf
    t = jnp.einsum("qka,ki->qai", facets.dN, xf)
    return x, jnp.cross(t[:, 0], t[:, 1])


class Problem:
    """A quasi-static hyperelastic problem for batched, differentiable solves.

    Args:
        space: the displacement space (:class:`Space`).
        fixed: Dirichlet conditions (zero displacement).
        pressure: the facet tag of the follower pressure (the cavity), or None.
        springs: Robin springs.
        cavity: the cavity whose volume is an output, or None.

    The matrix is assembled on the free dofs only (fixed ones eliminated).

    Raises:
        ParameterError: an unknown tag, or no Dirichlet or spring support.
    """

    def __init__(
        self,
        space: Space,
        *,
        fixed: Sequence[Fixed] = (),
        pressure: str | None = None,
        springs: Sequence[Spring] = (),
        cavity: Cavity | None = None,
    ):
        if not fixed and not springs:
            raise ParameterError("Problem: give Fixed or Spring supports (rigid motions are free)")
        self.space = space
        self.fixed, self.springs, self.cavity = tuple(fixed), tuple(springs), cavity
        self.pressure_tag = pressure
        ndofs = space.num_dofs
        constrained = np.zeros(ndofs, dtype=bool)
        for bc in self.fixed:
            nodes = space.dofs_on(bc.tag)
            for c in bc.components:
                constrained[3 * nodes + c] = True
        self.free = np.flatnonzero(~constrained)
        index = np.full(ndofs, -1, dtype=np.int64)
        index[self.free] = np.arange(len(self.free))
        self._free_index = index
        cell_dofs = (3 * space.cell_nodes[:, :, None] + np.arange(3)).reshape(space.num_cells, -1)
        self._cell_dofs = cell_dofs
        # The pattern: every (row, col) pair of free dofs that share a cell.
        rows = index[cell_dofs][:, :, None]
        cols = index[cell_dofs][:, None, :]
        rows, cols = np.broadcast_arrays(rows, cols)
        keep = (rows >= 0) & (cols >= 0)
        nfree = np.int64(len(self.free))
        keys = rows[keep] * nfree + cols[keep]
        unique, slot = np.unique(keys, return_inverse=True)
        self.rows = (unique // nfree).astype(np.int32)
        self.cols = (unique % nfree).astype(np.int32)
        self._pattern_keys = unique
        m, nd = space.num_cells, cell_dofs.shape[1]
        self._block = min(m, CELL_BLOCK)
        self._blocks = -(-m // self._block)
        # Each cell matrix entry's position in the values (nnz, a dummy slot
        # for entries of fixed dofs and for the padding cells of the last block).
        slots = np.full(self._blocks * self._block * nd * nd, len(unique), dtype=np.int32)
        slots[np.flatnonzero(keep.reshape(-1))] = slot
        self._cell_slots = slots.reshape(self._blocks, self._block, nd * nd)
        self._pressure = space.facets(pressure) if pressure is not None else None
        self._cavity = space.facets(cavity.tag) if cavity is not None else None
        self._spring_sets = tuple(space.facets(s.tag) for s in self.springs)
        self._facet_slots = {}
        if self._pressure is not None:
            self._facet_slots["pressure"] = self._slots(self._pressure.nodes)
        for i, facets in enumerate(self._spring_sets):
            self._facet_slots[f"spring{i}"] = self._slots(facets.nodes)
        self._spring_matrix = self._springs()

    # ----------------------------------------------------------------- set-up
    @property
    def num_free(self) -> int:
        """Unknowns after the Dirichlet conditions."""
        return len(self.free)

    @property
    def nnz(self) -> int:
        """Stored entries of the free-dof matrix."""
        return len(self.rows)

    def _slots(self, facet_nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions in the flattened facet matrices of free entries, and their slots."""
        dofs = (3 * facet_nodes[:, :, None] + np.arange(3)).reshape(len(facet_nodes), -1)
        r = self._free_index[dofs][:, :, None]
        c = self._free_index[dofs][:, None, :]
        r, c = np.broadcast_arrays(r, c)
        keep = (r >= 0) & (c >= 0)
        keys = r[keep] * np.int64(self.num_free) + c[keep]
        slot = np.searchsorted(self._pattern_keys, keys)
        return np.flatnonzero(keep.reshape(-1)), slot

    def _springs(self) -> np.ndarray:
        """The springs' constant matrix, values (nnz,) on the pattern (NumPy)."""
        values = np.zeros(self.nnz)
        X = self.space.nodes
        for i, (spring, facets) in enumerate(zip(self.springs, self._spring_sets, strict=True)):
            keep, slot = self._facet_slots[f"spring{i}"]
            xf = X[facets.nodes]  # (f, k, 3)
            t = np.einsum("qka,fki->fqai", facets.dN, xf)
            nda = np.cross(t[:, :, 0], t[:, :, 1])  # (f, q, 3)
            area = np.linalg.norm(nda, axis=2)
            w = facets.weights * area  # (f, q)
            if spring.normal_only:
                n = nda / area[..., None]
                block = np.einsum("fq,qa,qb,fqi,fqj->faibj", w, facets.N, facets.N, n, n)
            else:
                block = np.einsum("fq,qa,qb,ij->faibj", w, facets.N, facets.N, np.eye(3))
            k = facets.N.shape[1]
            Ke = spring.stiffness * block.reshape(len(xf), 3 * k, 3 * k)
            np.add.at(values, slot, Ke.reshape(-1)[keep])
        return values

    def data(self) -> dict:
        """The mesh data the compiled functions take as arguments (JAX arrays)."""
        s = self.space
        d = {
            "nodes": jnp.asarray(s.nodes),
            "block_nodes": self._blocked(jnp.asarray(s.cell_nodes)),
            "gradients": self._blocked(jnp.asarray(s.gradients)),
            "weights": self._blocked(jnp.asarray(s.weights), zero=True),
            "fibres": jnp.asarray(s.fibres),
            "free": jnp.asarray(self.free),
            "cell_dofs": self._blocked(jnp.asarray(self._cell_dofs)),
            "cell_slots": jnp.asarray(self._cell_slots),
            "springs": jnp.asarray(self._spring_matrix),
        }
        if self._pressure is not None:
            keep, slot = self._facet_slots["pressure"]
            d["pressure_nodes"] = jnp.asarray(self._pressure.nodes)
            d["pressure_keep"] = jnp.asarray(keep)
            d["pressure_slot"] = jnp.asarray(slot)
        if self._cavity is not None:
            d["cavity_nodes"] = jnp.asarray(self._cavity.nodes)
        return d

    # --------------------------------------------------------------- kernels
    def full(self, data: dict, u: jax.Array) -> jax.Array:
        """Nodal displacements (num_nodes, 3) from the free unknowns (num_free,)."""
        full = jnp.zeros(self.space.num_dofs, dtype=u.dtype).at[data["free"]].set(u)
        return full.reshape(-1, 3)

    def _fibres(self, data: dict, scenario: Scenario) -> jax.Array:
        return data["fibres"] if scenario.fibres is None else scenario.fibres

    def _pressure_terms(self, data, U, p, tangent: bool):
        facets = self._pressure

        def residual(xf):
            x, nda = _surface(facets, xf)
            return (p * jnp.einsum("q,qa,qi->ai", facets.weights, facets.N, nda)).reshape(-1)

        xf = data["nodes"][data["pressure_nodes"]] + U[data["pressure_nodes"]]
        r = jax.vmap(residual)(xf)
        if not tangent:
            return r, None
        K = jax.vmap(jax.jacfwd(lambda x: residual(x.reshape(-1, 3))))(xf.reshape(len(xf), -1))
        return r, K

    def _blocked(self, x: jax.Array, *, zero: bool = False) -> jax.Array:
        """Per-cell values (m, ...) padded to whole blocks, (blocks, block, ...).

        The padding repeats the first cell; with ``zero`` it is zero (the
        quadrature weights, so that padding cells contribute nothing).
        """
        pad = self._blocks * self._block - len(x)
        if pad:
            fill = jnp.zeros_like(x[:1]) if zero else x[:1]
            x = jnp.concatenate([x, jnp.repeat(fill, pad, axis=0)])
        return x.reshape((self._blocks, self._block) + x.shape[1:])

    def _cells(self, data: dict, u: jax.Array, scenario: Scenario, tangent: bool):
        """Cell residuals scattered to all dofs (num_dofs,) and, with
        ``tangent``, the cell matrices summed into the values (nnz,), block
        by block (``lax.scan``)."""
        leaves, treedef = jax.tree.flatten(scenario.law)
        per_cell = [jnp.ndim(leaf) > 0 for leaf in leaves]
        blocked = [self._blocked(jnp.asarray(leaf)) for leaf, p in zip(leaves, per_cell, strict=True) if p]
        fibres = self._blocked(self._fibres(data, scenario))
        U = self.full(data, u)

        def block(carry, xs):
            R, values = carry
            law_leaves, Rb, G, w, nodes, dofs, slots = xs
            it = iter(law_leaves)
            law = jax.tree.unflatten(
                treedef, [next(it) if p else leaf for leaf, p in zip(leaves, per_cell, strict=True)]
            )
            if tangent:
                re, Ke = _cell_tangents(law, Rb, G, w, U[nodes])
                values = values + jax.ops.segment_sum(
                    Ke.reshape(-1), slots.reshape(-1), num_segments=self.nnz + 1
                )
            else:
                re = _cell_residuals(law, Rb, G, w, U[nodes])
            return (R.at[dofs].add(re), values), None

        init = (jnp.zeros(self.space.num_dofs, dtype=u.dtype), jnp.zeros(self.nnz + 1, dtype=u.dtype))
        xs = (blocked, fibres, data["gradients"], data["weights"], data["block_nodes"],
              data["cell_dofs"], data["cell_slots"])  # fmt: skip
        (R, values), _ = jax.lax.scan(block, init, xs)
        return R, values[: self.nnz]

    def residual_and_tangent(self, data: dict, u: jax.Array, scenario: Scenario, load: jax.Array):
        """Free residual (num_free,) and matrix values (nnz,) at load factor ``load``.

        ``load`` in [0, 1] scales the pressure (the pseudo-time of the path).
        Traceable; ``vmap`` it over scenarios.
        """
        R, values = self._cells(data, u, scenario, tangent=True)
        values = values + data["springs"]
        if self._pressure is not None:
            U = self.full(data, u)
            rp, Kp = self._pressure_terms(data, U, load * scenario.pressure, True)
            R = R.at[self._facet_dofs(data["pressure_nodes"])].add(rp)
            values = values + jax.ops.segment_sum(
                Kp.reshape(-1)[data["pressure_keep"]], data["pressure_slot"], num_segments=self.nnz
            )
        return R[data["free"]] + self._spring_residual(data, u), values

    def residual(self, data: dict, u: jax.Array, scenario: Scenario, load: jax.Array) -> jax.Array:
        """Free residual (num_free,), differentiable in ``u`` and ``scenario``."""
        R, _ = self._cells(data, u, scenario, tangent=False)
        if self._pressure is not None:
            rp, _ = self._pressure_terms(data, self.full(data, u), load * scenario.pressure, False)
            R = R.at[self._facet_dofs(data["pressure_nodes"])].add(rp)
        return R[data["free"]] + self._spring_residual(data, u)

    def _spring_residual(self, data: dict, u: jax.Array) -> jax.Array:
        if not self.springs:
            return jnp.zeros_like(u)
        rows, cols = jnp.asarray(self.rows), jnp.asarray(self.cols)
        return jax.ops.segment_sum(data["springs"] * u[cols], rows, num_segments=self.num_free)

    def _facet_dofs(self, nodes: jax.Array) -> jax.Array:
        return (3 * nodes[:, :, None] + jnp.arange(3)).reshape(len(nodes), -1)

    def fibre_stretch(self, data: dict, u: jax.Array, fibres: jax.Array) -> jax.Array:
        """Volume-weighted mean fibre stretch ``|F f0|`` over the mesh.

        ``fibres`` (m, 3, 3), rows (f0, s0, n0).
        """
        G = data["gradients"].reshape((-1,) + data["gradients"].shape[2:])  # padded cells: weight 0
        w = data["weights"].reshape(len(G), -1)
        F, _ = _strains(G, self.full(data, u)[data["block_nodes"].reshape(len(G), -1)])
        f0 = self._blocked(fibres).reshape(len(G), 3, 3)[:, 0]
        stretch = jnp.linalg.norm(jnp.einsum("mqij,mj->mqi", F, f0), axis=-1)
        return jnp.sum(w * stretch) / jnp.sum(w)

    def volume(self, data: dict, u: jax.Array) -> jax.Array:
        """Cavity volume [mm^3] in the configuration ``u`` (the :class:`Cavity`).

        Raises:
            ParameterError: the problem has no cavity.
        """
        if self._cavity is None:
            raise ParameterError("Problem: no cavity was given, so there is no volume to report")
        facets, cav = self._cavity, self.cavity
        X = data["nodes"][data["cavity_nodes"]] + self.full(data, u)[data["cavity_nodes"]]
        c = jnp.asarray(cav.base_point, dtype=X.dtype)

        def one(xf):
            x, nda = _surface(facets, xf)
            if cav.axis is None:
                return -jnp.sum(facets.weights * jnp.einsum("qi,qi->q", x - c, nda)) / 3
            e = jnp.asarray(cav.axis, dtype=X.dtype)
            e = e / jnp.linalg.norm(e)
            return -jnp.sum(facets.weights * ((x - c) @ e) * (nda @ e))

        return jnp.sum(jax.vmap(one)(X))

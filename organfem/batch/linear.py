"""Sparse linear solvers for batches of matrices on one pattern.

Every route solves ``A x = b`` for a batch: ``values`` (N, nnz) on the
pattern ``(rows, cols)`` and ``rhs`` (N, n), inside ``jax.jit``.

- ``"cholmod"``: SuiteSparse CHOLMOD (sparse Cholesky) through ``sparsax``
  (BSD-3-Clause), for symmetric positive definite tangents: hyperelastic
  laws with a follower pressure on a surface whose rim is held, as the LV
  with a fixed base.  CPU only.
- ``"umfpack"``: SuiteSparse UMFPACK (multifrontal LU) through ``sparsax``
  (BSD-3-Clause), an XLA FFI call; ``vmap`` becomes one native call that
  loops over the batch reusing the cached symbolic analysis.  CPU only.
  The default on CPU (see ``benchmarks/batch.py`` for the comparison).
- ``"klu"``: SuiteSparse KLU (left-looking LU, built for circuit matrices)
  through ``sparsax``.  CPU only.
- ``"superlu"``: SciPy's SuperLU (BSD-3-Clause) through ``jax.pure_callback``,
  one scenario after another; CPU only.  Always available: the SuiteSparse
  routes need the optional extra ``organfem[batch]`` (``sparsax`` bundles
  UMFPACK, GPL-2.0-or-later, and CHOLMOD, LGPL-2.1-or-later with GPL
  modules).
- ``"gmres"``: restarted GMRES (``jax.scipy.sparse.linalg.gmres``) with a
  nodal block-Jacobi preconditioner (the 3x3 diagonal blocks inverted):
  matrix-free in the pattern, so it runs on any JAX device.  It converges
  on compressible laws; on nearly incompressible ones (a penalty 10^4 times
  the shear modulus) it does not within 10 000 iterations, and returns NaN
  so that Newton cuts its step.
- ``"dense"``: the matrix scattered to dense and LU-factorised
  (``jnp.linalg.solve``, batched LAPACK/cuSOLVER ``getrf``).  Memory
  ``8 n^2`` bytes per scenario: for accelerators and small meshes.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ParameterError

__all__ = ["ROUTES", "make_solver", "default_route", "have_suitesparse"]

ROUTES = ("cholmod", "umfpack", "klu", "superlu", "gmres", "dense")


def have_suitesparse() -> bool:
    """Whether ``sparsax`` (the SuiteSparse routes) is installed."""
    import importlib.util

    return importlib.util.find_spec("sparsax") is not None


def default_route(device: jax.Device | None = None) -> str:
    """UMFPACK on CPU (SuperLU without sparsax); the dense batched LU on an accelerator."""
    platform = (device or jax.devices()[0]).platform
    if platform != "cpu":
        return "dense"
    return "umfpack" if have_suitesparse() else "superlu"


def make_solver(rows: np.ndarray, cols: np.ndarray, n: int, route: str, *, tol: float = 1e-12):
    """A jittable ``solve(values (N, nnz), rhs (N, n)) -> x (N, n)``.

    Args:
        rows, cols: the pattern (int32, sorted by row then column).
        n: the matrix size.
        route: one of :data:`ROUTES`.
        tol: relative residual of the Krylov route.

    Raises:
        ParameterError: an unknown route, or sparsax missing for a
            SuiteSparse route.
    """
    if route not in ROUTES:
        raise ParameterError(f"linear solver route {route!r}; expected one of {ROUTES}")
    rows = np.asarray(rows, dtype=np.int32)
    cols = np.asarray(cols, dtype=np.int32)
    if route in ("cholmod", "umfpack", "klu"):
        try:
            import sparsax
        except ImportError:
            raise ParameterError(
                f"the {route!r} linear solver needs sparsax (SuiteSparse): pip install "
                "'organfem[batch]'; or use route='superlu'"
            ) from None
        one = {"cholmod": sparsax.solve, "umfpack": sparsax.umf_solve, "klu": sparsax.lu_solve}[route]
        return jax.vmap(functools.partial(one, rows, cols))
    if route == "superlu":
        import scipy.sparse as sp
        import scipy.sparse.linalg as sla

        def host(raw_values, raw_rhs):
            # (..., nnz, 8) and (..., n, 8) bytes: any leading batch dimensions.
            values = np.ascontiguousarray(raw_values).view(np.float64)[..., 0].reshape(-1, len(rows))
            rhs = np.ascontiguousarray(raw_rhs).view(np.float64)[..., 0]
            shape = rhs.shape
            rhs = rhs.reshape(-1, n)
            out = np.empty(rhs.shape, dtype=np.float64)
            for k in range(len(rhs)):
                A = sp.csc_matrix((values[k], (rows, cols)), shape=(n, n))
                try:
                    out[k] = sla.splu(A).solve(rhs[k])
                except RuntimeError:  # exactly singular
                    out[k] = np.nan
            return out.reshape(shape).view(np.uint8)

        def superlu(values, rhs):
            # The callback's arguments and result pass through JAX in a thread
            # that does not see the caller's local enable_x64, which would
            # cast float64 to float32: they travel as bytes.
            as_bytes = lambda x: jax.lax.bitcast_convert_type(x, jnp.uint8)  # noqa: E731
            shape = jax.ShapeDtypeStruct(rhs.shape[:-1] + (8 * n,), jnp.uint8)
            raw = jax.pure_callback(host, shape, as_bytes(values), as_bytes(rhs), vmap_method="broadcast_all")
            return jax.lax.bitcast_convert_type(raw.reshape(rhs.shape + (8,)), jnp.float64)

        return superlu
    if route == "dense":

        def dense(values, rhs):
            A = jnp.zeros((n, n), dtype=values.dtype).at[rows, cols].add(values)
            return jnp.linalg.solve(A, rhs)

        return jax.vmap(dense)
    # GMRES with the inverse 3x3 nodal blocks as preconditioner.
    node_r, node_c = rows // 3, cols // 3
    in_block = np.flatnonzero(node_r == node_c)
    block_of = jnp.asarray(node_r[in_block])
    local = jnp.asarray((rows[in_block] % 3) * 3 + cols[in_block] % 3)
    nblocks = (n + 2) // 3
    rows_j, cols_j, in_block_j = jnp.asarray(rows), jnp.asarray(cols), jnp.asarray(in_block)

    def krylov(values, rhs):
        def matvec(x):
            return jax.ops.segment_sum(values * x[cols_j], rows_j, num_segments=n)

        blocks = jnp.zeros((nblocks, 9), dtype=values.dtype).at[block_of, local].add(values[in_block_j])
        blocks = blocks.reshape(nblocks, 3, 3)
        # A last block with fewer than 3 free dofs gets ones on its empty diagonal.
        diagonal = jnp.einsum("bii->bi", blocks)
        blocks = blocks + jnp.eye(3) * (diagonal == 0)[:, None, :]
        inverse = jnp.linalg.inv(blocks)

        pad = 3 * nblocks - n

        def precondition(x):
            xb = jnp.pad(x, (0, pad)).reshape(nblocks, 3)
            return jnp.einsum("bij,bj->bi", inverse, xb).reshape(-1)[:n]

        x, _ = jax.scipy.sparse.linalg.gmres(
            matvec, rhs, M=precondition, tol=tol, atol=0.0, restart=50, maxiter=200
        )
        # Not converged (a nearly incompressible tangent defeats block
        # Jacobi): NaN, so that Newton cuts the step rather than go astray.
        residual = jnp.linalg.norm(matvec(x) - rhs) / jnp.linalg.norm(rhs)
        return jnp.where(residual <= 1e3 * tol, x, jnp.nan)

    return jax.vmap(krylov)

"""Stress and consistent tangent of a law, pointwise and over quadrature points.

The pointwise functions take the deformation gradient; the batched kernel
takes Voigt strains, which is what the finite-element layer evaluates at its
quadrature points.  The batch is the pointwise :func:`voigt_stress_and_tangent`
lifted with ``jax.vmap`` and compiled once per law structure (the law is an
argument of the compiled function, so new parameter values do not recompile).
Parameters given per point (arrays of shape (n,)) are mapped over the points
with the strains; a law whose parameters are all scalars broadcasts them.
The pointwise functions are jitted too, compiled once per law structure.
:func:`evaluate` works in float64: it enables 64-bit JAX locally
(``jax.enable_x64``, thread-local) and never flips the global flag.
"""

from __future__ import annotations

import functools
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import jax
import numpy as np

from ..errors import ParameterError
from . import _autodiff
from ._tensor import det3, green_lagrange
from .laws import Law

__all__ = [
    "second_piola",
    "first_piola",
    "first_piola_tangent",
    "cauchy",
    "voigt_stress_and_tangent",
    "evaluate",
]

# On CPU the batch runs in chunks of this many points, so that the
# intermediates of a chunk stay in cache.  Every chunk (the last one padded)
# has the same shape: a law structure compiles once whatever the number of
# points.  Up to _IN_FLIGHT chunks are dispatched ahead, so that copying the
# results of one overlaps computing the next.  XLA runs the calls of one
# thread in order, so only several workers (threads) use several cores.
_CPU_CHUNK = 8192
_IN_FLIGHT = 4


@jax.jit
def second_piola(law: Law, F: jax.Array, R: jax.Array) -> jax.Array:
    """Second Piola-Kirchhoff stress ``S(F)`` [kPa], shape (3, 3)."""
    return law.second_piola(green_lagrange(F), R)


@jax.jit
def first_piola(law: Law, F: jax.Array, R: jax.Array) -> jax.Array:
    """First Piola-Kirchhoff stress ``P = F S`` [kPa], shape (3, 3)."""
    return F @ second_piola(law, F, R)


@jax.jit
def first_piola_tangent(law: Law, F: jax.Array, R: jax.Array) -> jax.Array:
    """Consistent tangent ``dP/dF`` [kPa], shape (3, 3, 3, 3), by autodiff."""
    return jax.jacfwd(first_piola, argnums=1)(law, F, R)


@jax.jit
def cauchy(law: Law, F: jax.Array, R: jax.Array) -> jax.Array:
    """Cauchy stress ``sigma = F S F^T / J`` [kPa], shape (3, 3)."""
    return F @ second_piola(law, F, R) @ F.T / det3(F)


@jax.jit
def voigt_stress_and_tangent(law: Law, e: jax.Array, R: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Voigt stress ``S_v`` (6,) and tangent ``D = dS_v/de`` (6, 6) at one point.

    ``e`` is the Green-Lagrange strain in Voigt form with engineering shears,
    so that ``dS_v = D de`` and ``S_v . de = S : dE``.  Both come from the
    law's single definition by forward-mode autodiff through its invariants
    (see :mod:`organfem.materials._autodiff`).
    """
    return _autodiff.stress_and_tangent(law, e, R)


# The batch lifts the pointwise kernel itself (not its jitted wrapper above),
# so the compiled program is the one XLA sees without a nested call.
_batched = jax.jit(jax.vmap(_autodiff.stress_and_tangent, in_axes=(None, 0, 0)))


@functools.cache
def _batched_per_point(treedef, per_point: tuple[bool, ...]):
    """The batch for laws with per-point parameters: those leaves are mapped too.

    Cached per law structure and choice of per-point leaves, so that new
    values (or a new number of points) do not rebuild it.
    """
    law_axes = jax.tree.unflatten(treedef, [0 if p else None for p in per_point])
    return jax.jit(jax.vmap(_autodiff.stress_and_tangent, in_axes=(law_axes, 0, 0)))


def _per_point_leaves(law: Law, n: int) -> tuple[bool, ...]:
    """Which leaves of ``law`` hold one value per point (leading dimension ``n``).

    Raises:
        ParameterError: a leaf is an array whose leading dimension is not ``n``.
    """
    flags = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(law)[0]:
        shape = np.shape(leaf)
        if shape and shape[0] != n:
            raise ParameterError(
                f"evaluate: parameter {law.name}{jax.tree_util.keystr(path)} has shape "
                f"{shape}; expected a scalar or one value per point, shape ({n},)"
            )
        flags.append(bool(shape))
    return tuple(flags)


def _check_shapes(e: np.ndarray, R: np.ndarray) -> None:
    if e.ndim != 2 or e.shape[1] != 6:
        raise ValueError(f"evaluate: strains e must have shape (n, 6), got {e.shape}")
    if R.shape != (e.shape[0], 3, 3):
        raise ValueError(
            f"evaluate: bases R must have shape ({e.shape[0]}, 3, 3) to match e, got {R.shape}"
        )


def _chunk(values: np.ndarray, start: int, stop: int, pad: int) -> np.ndarray:
    """Points ``start:stop`` of per-point values, the last one repeated ``pad`` times."""
    chunk = values[start:stop]
    if pad:
        chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
    return chunk


def evaluate(
    law: Law,
    e: np.ndarray,
    R: np.ndarray,
    *,
    device: jax.Device | None = None,
    chunk_size: int | None = None,
    workers: int = 1,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stress and tangent at many points, in float64.

    Args:
        law: the constitutive law (a pytree; not closed over, so changing its
            parameters does not recompile).  A parameter may be an array of
            shape (n,), one value per point (see
            :func:`~organfem.materials.with_parameters`); such parameters are
            mapped over the points with ``e`` and ``R``, scalar ones are
            shared by all points.
        e: Voigt Green-Lagrange strains, shape (n, 6).
        R: local bases (rows f0, s0, n0), shape (n, 3, 3).
        device: where to compute; JAX's default device if None.
        chunk_size: points per compiled call; by default 8192 on CPU (the
            intermediates fit in cache) and all points at once on
            accelerators.
        workers: threads that share the chunks, each keeping a core busy;
            leave at 1 when MPI ranks already occupy the cores.
        out: arrays ``(S, D)`` to write the results into (float64, shapes
            (n, 6) and (n, 6, 6)); reusing them across Newton iterations saves
            allocating and faulting in fresh memory on every call.

    Returns:
        ``S`` of shape (n, 6) [kPa] and ``D`` of shape (n, 6, 6) [kPa], as
        NumPy arrays (``out`` if given).

    Raises:
        ValueError: ``e``, ``R`` or ``out`` have the wrong shapes, or
            ``chunk_size`` or ``workers`` are below 1.
        ParameterError: a parameter of ``law`` is an array whose leading
            dimension is not n.
    """
    e = np.asarray(e, dtype=np.float64)
    R = np.asarray(R, dtype=np.float64)
    _check_shapes(e, R)
    n = e.shape[0]
    platform = (device or jax.devices()[0]).platform
    if chunk_size is None:
        chunk_size = _CPU_CHUNK if platform == "cpu" else max(n, 1)
    if chunk_size < 1:
        raise ValueError(f"evaluate: chunk_size={chunk_size} must be >= 1")
    if workers < 1:
        raise ValueError(f"evaluate: workers={workers} must be >= 1")
    law64 = jax.tree.map(lambda p: np.asarray(p, dtype=np.float64), law)
    per_point = _per_point_leaves(law64, n)
    if any(per_point):
        leaves, treedef = jax.tree.flatten(law64)
        batched = _batched_per_point(treedef, per_point)
    else:  # every parameter a scalar: the law is broadcast to all points
        batched = _batched
    S, D = (np.empty((n, 6)), np.empty((n, 6, 6))) if out is None else out
    for name, array, shape in (("S", S, (n, 6)), ("D", D, (n, 6, 6))):
        if not isinstance(array, np.ndarray) or array.shape != shape or array.dtype != np.float64:
            raise ValueError(
                f"evaluate: out {name} must be a float64 NumPy array of shape {shape}, got "
                f"{getattr(array, 'dtype', type(array).__name__)} {np.shape(array)}"
            )

    def collect(start: int, stop: int, result) -> None:
        S[start:stop] = np.asarray(result[0])[: stop - start]
        D[start:stop] = np.asarray(result[1])[: stop - start]

    def run(starts: range) -> None:
        pending: deque = deque()
        # Both contexts are thread-local: every worker enters them.
        with jax.enable_x64(True), jax.default_device(device):
            for start in starts:
                stop = min(start + chunk_size, n)
                ec, Rc = e[start:stop], R[start:stop]
                lawc = law64
                pad = chunk_size - (stop - start)
                if pad:  # pad with the reference state
                    ec = np.concatenate([ec, np.zeros((pad, 6))])
                    Rc = np.concatenate([Rc, np.broadcast_to(np.eye(3), (pad, 3, 3))])
                if any(per_point):  # and the parameters of the last point
                    lawc = jax.tree.unflatten(
                        treedef,
                        [
                            _chunk(leaf, start, stop, pad) if mapped else leaf
                            for leaf, mapped in zip(leaves, per_point, strict=True)
                        ],
                    )
                # NumPy arguments go straight to the compiled call (cheaper
                # than device_put), which dispatches asynchronously.
                pending.append((start, stop, batched(lawc, ec, Rc)))
                if len(pending) > _IN_FLIGHT:
                    collect(*pending.popleft())
            while pending:
                collect(*pending.popleft())

    starts = range(0, n, chunk_size)
    if workers == 1:
        run(starts)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, [starts[w::workers] for w in range(workers)]))
    return S, D

"""Stress and consistent tangent of a law, pointwise and over quadrature points.

The pointwise functions take the deformation gradient; the batched kernel
takes Voigt strains, which is what the finite-element layer evaluates at its
quadrature points.  Everything is float64: the kernel enables 64-bit JAX
locally (``jax.enable_x64``) and never flips the global flag.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._tensor import green_lagrange
from .laws import Law

__all__ = [
    "second_piola",
    "first_piola",
    "first_piola_tangent",
    "cauchy",
    "voigt_stress_and_tangent",
    "evaluate",
]


def second_piola(law: Law, F: jax.Array, R: jax.Array) -> jax.Array:
    """Second Piola-Kirchhoff stress ``S(F)`` [kPa], shape (3, 3)."""
    return law.second_piola(green_lagrange(F), R)


def first_piola(law: Law, F: jax.Array, R: jax.Array) -> jax.Array:
    """First Piola-Kirchhoff stress ``P = F S`` [kPa], shape (3, 3)."""
    return F @ second_piola(law, F, R)


def first_piola_tangent(law: Law, F: jax.Array, R: jax.Array) -> jax.Array:
    """Consistent tangent ``dP/dF`` [kPa], shape (3, 3, 3, 3), by autodiff."""
    return jax.jacfwd(first_piola, argnums=1)(law, F, R)


def cauchy(law: Law, F: jax.Array, R: jax.Array) -> jax.Array:
    """Cauchy stress ``sigma = F S F^T / J`` [kPa], shape (3, 3)."""
    return F @ second_piola(law, F, R) @ F.T / jnp.linalg.det(F)


def voigt_stress_and_tangent(law: Law, e: jax.Array, R: jax.Array):
    """Voigt stress ``S_v`` (6,) and tangent ``D = dS_v/de`` (6, 6) at one point.

    ``e`` is the Green-Lagrange strain in Voigt form with engineering shears,
    so that ``dS_v = D de`` and ``S_v . de = S : dE``.  One forward-mode pass
    per strain direction; ``S_v`` is their shared primal.
    """
    return jax.vmap(
        lambda t: jax.jvp(lambda x: law.stress(x, R), (e,), (t,)),
        out_axes=(None, 1),
    )(jnp.eye(6, dtype=e.dtype))


@jax.jit
def _batched(law: Law, e: jax.Array, R: jax.Array):
    return jax.vmap(voigt_stress_and_tangent, in_axes=(None, 0, 0))(law, e, R)


def evaluate(law: Law, e: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stress and tangent at many points, in float64.

    Args:
        law: the constitutive law (a pytree; not closed over, so changing its
            parameters does not recompile).
        e: Voigt Green-Lagrange strains, shape (n, 6).
        R: local bases (rows f0, s0, n0), shape (n, 3, 3).

    Returns:
        ``S`` of shape (n, 6) and ``D`` of shape (n, 6, 6), as NumPy arrays.
    """
    with jax.enable_x64(True):
        law64 = jax.tree.map(lambda p: jnp.asarray(p, dtype=jnp.float64), law)
        S, D = _batched(law64, jnp.asarray(e, jnp.float64), jnp.asarray(R, jnp.float64))
        return np.asarray(S), np.asarray(D)

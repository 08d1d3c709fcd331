"""Small 3x3 tensor helpers written elementwise.

Batched ``jnp.linalg`` calls on 3x3 matrices are slow on CPU under ``vmap``;
the closed-form expressions here keep every kernel a fusable elementwise loop.

Voigt order used throughout organfem: ``(11, 22, 33, 23, 13, 12)``.  Strains
carry engineering shears (``2 E23, 2 E13, 2 E12``), stresses do not, so
``S_v . dE_v = S : dE``.
"""

import jax.numpy as jnp

__all__ = [
    "VOIGT_PAIRS",
    "det3",
    "strain_to_voigt",
    "stress_from_voigt",
    "stress_to_voigt",
    "green_lagrange",
]

VOIGT_PAIRS = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def det3(A):
    """Determinant of a 3x3 matrix, by cofactor expansion."""
    return (
        A[0, 0] * (A[1, 1] * A[2, 2] - A[1, 2] * A[2, 1])
        - A[0, 1] * (A[1, 0] * A[2, 2] - A[1, 2] * A[2, 0])
        + A[0, 2] * (A[1, 0] * A[2, 1] - A[1, 1] * A[2, 0])
    )


def strain_to_voigt(E):
    """Voigt 6-vector (engineering shears) of a symmetric 3x3 strain."""
    return jnp.array([E[i, j] * (1 if i == j else 2) for i, j in VOIGT_PAIRS])


def stress_from_voigt(s):
    """Symmetric 3x3 stress from its Voigt 6-vector."""
    return jnp.array(
        [
            [s[0], s[5], s[4]],
            [s[5], s[1], s[3]],
            [s[4], s[3], s[2]],
        ]
    )


def stress_to_voigt(S):
    """Voigt 6-vector of a (symmetric) 3x3 stress."""
    return jnp.array([S[i, j] for i, j in VOIGT_PAIRS])


def green_lagrange(F):
    """Green-Lagrange strain ``E = (F^T F - I) / 2``."""
    return 0.5 * (F.T @ F - jnp.eye(3, dtype=F.dtype))

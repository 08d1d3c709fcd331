"""Invariants of ``C = I + 2E`` in the local basis, from Voigt strain components.

A law names the invariants its energy depends on (:attr:`Law.invariants`);
the kernel evaluates them here and differentiates through them.  Each is a
function ``(x, R) -> scalar`` of the six Voigt strain components
``x = (E11, E22, E33, 2 E23, 2 E13, 2 E12)``, passed as separate scalars so
that forward-mode derivatives with respect to one component skip the others,
and of the basis ``R`` whose rows are ``f0, s0, n0``.  All but ``I3`` are
linear in the strain, so their gradients are constant and their Hessians
vanish (the kernel detects this from the traced expressions); ``I3`` is a
cubic polynomial, cheaper to differentiate twice than ``J = sqrt(I3)``, which
laws take inside their energy.
"""

from collections.abc import Callable, Sequence

import jax

__all__ = ["INVARIANTS"]


def _aCb(x: Sequence[jax.Array], R: jax.Array, i: int, j: int) -> jax.Array:
    """``a . C b`` for rows ``a = R[i]``, ``b = R[j]`` of the basis."""
    a, b = R[i], R[j]
    return (
        a[0] * b[0] * (1 + 2 * x[0])
        + a[1] * b[1] * (1 + 2 * x[1])
        + a[2] * b[2] * (1 + 2 * x[2])
        + (a[1] * b[2] + a[2] * b[1]) * x[3]
        + (a[0] * b[2] + a[2] * b[0]) * x[4]
        + (a[0] * b[1] + a[1] * b[0]) * x[5]
    )


def _I1(x, R):
    return 3 + 2 * (x[0] + x[1] + x[2])


def _I3(x, R):
    c00, c11, c22 = 1 + 2 * x[0], 1 + 2 * x[1], 1 + 2 * x[2]
    c12, c02, c01 = x[3], x[4], x[5]
    return (
        c00 * (c11 * c22 - c12 * c12)
        - c01 * (c01 * c22 - c12 * c02)
        + c02 * (c01 * c12 - c11 * c02)
    )


def _pair(i: int, j: int) -> Callable:
    return lambda x, R: _aCb(x, R, i, j)


INVARIANTS: dict[str, Callable] = {
    "I1": _I1,  # tr C
    "I3": _I3,  # det C = J^2
    "I4f": _pair(0, 0),  # f0 . C f0, squared fibre stretch
    "I4s": _pair(1, 1),  # s0 . C s0
    "I4n": _pair(2, 2),  # n0 . C n0
    "I8fs": _pair(0, 1),  # f0 . C s0
    "I8fn": _pair(0, 2),  # f0 . C n0
    "I8sn": _pair(1, 2),  # s0 . C n0
}

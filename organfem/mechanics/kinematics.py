"""UFL kinematics shared by the quadrature-point (JAX) and UFL material paths."""

from __future__ import annotations

from .._dolfinx import ufl

__all__ = ["deformation_gradient", "green_lagrange", "voigt_strain", "voigt_to_tensor"]


def deformation_gradient(u):
    """``F = I + grad u``."""
    return ufl.Identity(len(u)) + ufl.grad(u)


def green_lagrange(u):
    """``E = (F^T F - I) / 2``."""
    F = deformation_gradient(u)
    return 0.5 * (F.T * F - ufl.Identity(len(u)))


def voigt_strain(A):
    """Voigt 6-vector (11, 22, 33, 23, 13, 12) of a symmetric tensor, engineering shears."""
    return ufl.as_vector([A[0, 0], A[1, 1], A[2, 2], 2 * A[1, 2], 2 * A[0, 2], 2 * A[0, 1]])


def voigt_to_tensor(s):
    """Symmetric 3x3 tensor from a Voigt stress 6-vector (no factors)."""
    return ufl.as_matrix([[s[0], s[5], s[4]], [s[5], s[1], s[3]], [s[4], s[3], s[2]]])

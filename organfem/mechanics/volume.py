"""Cavity volume of a closed or truncated chamber in the deformed state."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._dolfinx import MPI, dolfinx, ufl
from .domain import Domain
from .kinematics import deformation_gradient

__all__ = ["cavity_volume"]


def cavity_volume(
    domain: Domain,
    u,
    tag: str,
    *,
    axis: Sequence[float] = (0.0, 0.0, 1.0),
    base_point: Sequence[float] = (0.0, 0.0, 0.0),
) -> float:
    """Volume [mm^3] enclosed by the facets ``tag`` displaced by ``u``. Collective.

    ``V = -int_tag ((x - c) . e) (n . e) da`` over the deformed surface, with
    ``n da = J F^-T N dA`` and ``N`` the outward normal of the solid (which on an
    endocardium points into the cavity).  The field ``e ((x - c) . e)`` has unit
    divergence, so this is exact for a closed cavity (any ``e``, ``c``) and for
    a chamber truncated by a plane through ``c`` normal to ``e`` (the flux
    through the plane vanishes), as long as the cut stays in that plane.

    Args:
        domain: the mesh with tags.
        u: displacement (a Function or a UFL expression of one); None for the
            reference volume.
        tag: facet tag of the cavity wall (e.g. ``"endo"``).
        axis: unit normal ``e`` of the truncation plane.
        base_point: a point ``c`` of the truncation plane [mm].
    """
    mesh = domain.mesh
    e = np.asarray(axis, dtype=np.float64)
    e = ufl.as_vector(e / np.linalg.norm(e))
    c = ufl.as_vector(np.asarray(base_point, dtype=np.float64))
    X = ufl.SpatialCoordinate(mesh)
    N = ufl.FacetNormal(mesh)
    if u is None:
        x, nda = X, N
    else:
        F = deformation_gradient(u)
        x, nda = X + u, ufl.det(F) * ufl.inv(F).T * N
    form = dolfinx.fem.form(-ufl.dot(x - c, e) * ufl.dot(nda, e) * domain.ds(tag))
    return domain.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

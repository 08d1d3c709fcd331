"""Closed-form fibre fields: the Land et al. (2015) ellipsoid rule and constants.

A fibre field is an array of shape (n, 3, 3) whose rows at each point are the
fibre, sheet and sheet-normal unit vectors ``(f0, s0, n0)``, a right-handed
orthonormal basis (the ``R`` argument of :mod:`organfem.materials`).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConvergenceError, ParameterError

__all__ = [
    "land2015_fibres",
    "ellipsoid_helix_fibres",
    "constant_fibres",
    "ellipsoid_coordinates",
    "arostica_fibres",
    "vessel_fibres",
]

_NEWTON_TOL = 1e-12
_NEWTON_MAX_STEPS = 50


def _points(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ParameterError(f"points x: expected shape (n, 3), got {x.shape}")
    if not np.isfinite(x).all():
        raise ParameterError("points x: contain NaN or inf")
    return x


def _radii(name: str, value) -> tuple[float, float]:
    try:
        rs, rl = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={value!r}: expected (r_short, r_long) in mm") from None
    if not (rs > 0 and rl > 0):
        raise ParameterError(f"{name}={value!r}: radii must be > 0")
    return rs, rl


def ellipsoid_coordinates(
    x: np.ndarray,
    *,
    endo: tuple[float, float] = (7.0, 17.0),
    epi: tuple[float, float] = (10.0, 20.0),
    t_tol: float = 0.1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transmural and ellipsoidal coordinates ``(t, u, v)`` of points.

    Each point ``x`` lies on exactly one ellipsoid of the family
    ``rs(t) = rs_endo + (rs_epi - rs_endo) t``, ``rl(t) = rl_endo + (rl_epi -
    rl_endo) t`` (t = 0 endocardium, t = 1 epicardium), and there
    ``x = rs sin(u) cos(v)``, ``y = rs sin(u) sin(v)``, ``z = rl cos(u)`` with
    ``u`` in ``[0, pi]`` (``u = pi`` at the apex) and ``v`` in ``(-pi, pi]``.

    ``t`` solves ``F(t) = rho^2/rs(t)^2 + z^2/rl(t)^2 - 1 = 0`` (``rho^2 =
    x^2 + y^2``) by Newton's method, vectorised, to ``|dt| < 1e-12``.  F is
    decreasing and convex where both radii grow with t, so Newton started
    below the root climbs to it monotonically; the start is the larger of
    ``-t_tol`` and the lower bounds ``rs(t) >= rho``, ``rl(t) >= |z|``.

    Args:
        x: points [mm], shape (n, 3).
        endo, epi: ``(r_short, r_long)`` of the two bounding ellipsoids [mm];
            each radius of ``epi`` must exceed that of ``endo``.
        t_tol: accepted overshoot of ``t`` outside ``[0, 1]`` (points of
            flat-faced elements lie slightly outside the curved wall).

    Returns:
        ``(t, u, v)``, each of shape (n,).  ``v = 0`` on the axis (where it is
        undefined).

    Raises:
        ParameterError: for bad radii, or points with ``t`` outside
            ``[-t_tol, 1 + t_tol]`` (e.g. a mesh in metres, not mm).
        ConvergenceError: if Newton's method has not converged in 50 steps.
    """
    x = _points(x)
    rs0, rl0 = _radii("endo", endo)
    rs1, rl1 = _radii("epi", epi)
    drs, drl = rs1 - rs0, rl1 - rl0
    if not (drs > 0 and drl > 0):
        raise ParameterError(f"epi={epi!r} must be larger than endo={endo!r} in both radii")
    if not 0 <= t_tol < min(rs0 / drs, rl0 / drl):
        raise ParameterError(
            f"t_tol={t_tol!r} must be >= 0 and keep the radii positive at t = -t_tol"
        )
    rho2 = x[:, 0] ** 2 + x[:, 1] ** 2
    z2 = x[:, 2] ** 2

    def residual(t, rho2, z2):
        rs, rl = rs0 + drs * t, rl0 + drl * t
        return rho2 / rs**2 + z2 / rl**2 - 1.0, -2.0 * (rho2 * drs / rs**3 + z2 * drl / rl**3)

    t = np.full(len(x), -t_tol)
    outside = residual(t, rho2, z2)[0] < 0  # the root lies below -t_tol (or there is none)
    inside = ~outside
    r2, h2 = rho2[inside], z2[inside]
    ti = np.maximum.reduce([t[inside], (np.sqrt(r2) - rs0) / drs, (np.sqrt(h2) - rl0) / drl])
    for _ in range(_NEWTON_MAX_STEPS):
        f, df = residual(ti, r2, h2)  # df < 0: F(ti) >= 0 implies rho or z is non-zero
        step = -f / df
        ti = ti + step
        if np.max(np.abs(step), initial=0.0) < _NEWTON_TOL:
            break
    else:
        raise ConvergenceError(
            f"ellipsoid_coordinates: Newton did not converge in {_NEWTON_MAX_STEPS} steps"
        )
    t[inside] = ti
    bad = np.flatnonzero(outside | (t > 1 + t_tol))
    if bad.size:
        raise ParameterError(
            f"{bad.size} points lie outside the wall between endo={endo} and epi={epi} "
            f"(transmural coordinate beyond [-{t_tol}, {1 + t_tol}]); first: x[{bad[0]}] = "
            f"{x[bad[0]].tolist()} [mm]; is the mesh in mm?"
        )
    rs, rl = rs0 + drs * t, rl0 + drl * t
    u = np.arctan2(np.sqrt(rho2) / rs, x[:, 2] / rl)
    v = np.arctan2(x[:, 1], x[:, 0])
    return t, u, v


def land2015_fibres(
    x: np.ndarray,
    *,
    endo: tuple[float, float] = (7.0, 17.0),
    epi: tuple[float, float] = (10.0, 20.0),
    alpha_endo: float = 90.0,
    alpha_epi: float = -90.0,
    t_tol: float = 0.1,
) -> np.ndarray:
    """Fibre basis of Land et al. (2015) problem 3 at points of the ellipsoid wall.

    With ``(t, u, v)`` from :func:`ellipsoid_coordinates`, ``e_u``, ``e_v`` the
    unit vectors along ``dx/du`` and ``dx/dv``, and the helix angle
    ``alpha = alpha_endo + (alpha_epi - alpha_endo) t`` (``t`` clipped to
    ``[0, 1]``):

    * ``f0 = sin(alpha) e_u + cos(alpha) e_v`` -- longitudinal (``e_u``, from
      base towards apex) at the endocardium, circumferential (``e_v``) at
      mid-wall, ``-e_u`` at the epicardium for the default angles;
    * ``s0 = e_u x e_v``, the outward unit normal of the ellipsoid through the
      point (transmural); it is orthogonal to ``f0`` by construction;
    * ``n0 = f0 x s0``.

    The sheet directions do not enter the transversely isotropic Guccione law
    of the benchmark.  At the apex (``sin u = 0``) ``v`` is undefined; the
    basis there is the limit along the meridian ``v = 0`` (the half-plane
    ``y = 0, x > 0``): ``e_u = (-1, 0, 0)``, ``e_v = (0, 1, 0)``,
    ``s0 = (0, 0, -1)``.

    Args:
        x: points [mm], shape (n, 3).
        endo, epi: ``(r_short, r_long)`` of the bounding ellipsoids [mm].
        alpha_endo, alpha_epi: helix angles at endo- and epicardium [deg].
        t_tol: see :func:`ellipsoid_coordinates`.

    Returns:
        Orthonormal right-handed bases, shape (n, 3, 3), rows ``(f0, s0, n0)``.

    Raises:
        ParameterError: for bad input or points outside the wall.
    """
    t, u, v = ellipsoid_coordinates(x, endo=endo, epi=epi, t_tol=t_tol)
    rs = endo[0] + (epi[0] - endo[0]) * t
    rl = endo[1] + (epi[1] - endo[1]) * t
    cu, su, cv, sv = np.cos(u), np.sin(u), np.cos(v), np.sin(v)
    # dx/du = (rs cos u cos v, rs cos u sin v, -rl sin u); dx/dv = rs sin u (-sin v, cos v, 0)
    e_u = np.stack([rs * cu * cv, rs * cu * sv, -rl * su], axis=1)
    e_u /= np.linalg.norm(e_u, axis=1, keepdims=True)  # |dx/du| >= min(rs, rl) > 0
    e_v = np.stack([-sv, cv, np.zeros_like(v)], axis=1)  # divided by rs sin u analytically
    alpha = np.deg2rad(alpha_endo + (alpha_epi - alpha_endo) * np.clip(t, 0.0, 1.0))
    f0 = np.sin(alpha)[:, None] * e_u + np.cos(alpha)[:, None] * e_v
    s0 = np.cross(e_u, e_v)
    n0 = np.cross(f0, s0)
    return np.stack([f0, s0, n0], axis=1)


def constant_fibres(direction, n: int, *, sheet=None) -> np.ndarray:
    """The same orthonormal basis at ``n`` points.

    Args:
        direction: fibre direction, shape (3,), any non-zero length.
        n: number of points, >= 0.
        sheet: sheet direction, shape (3,); its component orthogonal to the
            fibre is used.  Default: the coordinate axis least aligned with the
            fibre (the first such), orthogonalised, so ``direction = (1, 0, 0)``
            gives ``s0 = (0, 1, 0)``, ``n0 = (0, 0, 1)``.

    Returns:
        Shape (n, 3, 3), rows ``(f0, s0, n0)`` with ``n0 = f0 x s0``.

    Raises:
        ParameterError: for a zero or malformed direction, a sheet parallel to
            the fibre, or a negative ``n``.
    """
    f0 = np.asarray(direction, dtype=float)
    if f0.shape != (3,) or not np.isfinite(f0).all() or not np.linalg.norm(f0) > 0:
        raise ParameterError(f"direction={direction!r}: expected a finite non-zero 3-vector")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ParameterError(f"n={n!r}: expected an integer >= 0")
    f0 = f0 / np.linalg.norm(f0)
    s0 = np.eye(3)[np.argmin(np.abs(f0))] if sheet is None else np.asarray(sheet, dtype=float)
    if s0.shape != (3,) or not np.isfinite(s0).all():
        raise ParameterError(f"sheet={sheet!r}: expected a finite 3-vector")
    s0 = s0 - (s0 @ f0) * f0
    if not np.linalg.norm(s0) > 1e-8:
        raise ParameterError(f"sheet={sheet!r} is parallel to the fibre direction {direction!r}")
    s0 = s0 / np.linalg.norm(s0)
    basis = np.stack([f0, s0, np.cross(f0, s0)])
    return np.broadcast_to(basis, (n, 3, 3)).copy()


def arostica_fibres(
    x: np.ndarray,
    *,
    endo: tuple[float, float] = (25.0, 90.0),
    epi: tuple[float, float] = (35.0, 97.0),
    alpha_endo: float = -60.0,
    alpha_epi: float = 60.0,
    t_tol: float = 0.1,
) -> np.ndarray:
    """Fibre basis of the Arostica et al. (2025) monoventricle (benchmark 1).

    The geometry is :func:`organfem.meshing.arostica_ellipsoid`: long axis x,
    ``x = rl(t) cos(mu)``, ``y = rs(t) sin(mu) cos(theta)``, ``z = rs(t)
    sin(mu) sin(theta)``, ``mu`` in ``[-pi, mu_base]``.  With ``e_mu``,
    ``e_theta`` the unit vectors along ``dx/dmu`` (from the apex towards the
    base) and ``dx/dtheta``, and ``alpha = alpha_endo + (alpha_epi -
    alpha_endo) t`` (``t`` clipped to ``[0, 1]``), the rule of the benchmark's
    reference implementation (finsberg/cardiac_benchmark, ``microstructure.py``,
    ``compute_system``):

    * ``f0 = sin(alpha) e_mu + cos(alpha) e_theta``,
    * ``s0 = e_mu x e_theta`` (the ellipsoid's normal, pointing into the cavity),
    * ``n0 = f0 x s0``.

    ``t`` here is the ellipsoidal coordinate of :func:`ellipsoid_coordinates`
    (the reference implementation takes ``t`` from a Laplace solve between
    endo- and epicardium instead; both are 0 and 1 on the two surfaces).

    Since ``e_mu = -e_u`` and ``e_theta = e_v`` for Land's coordinates of the
    axes rotated (x, y, z) -> (z, x, y), this is :func:`land2015_fibres` with
    the angles negated and ``s0``, ``n0`` reversed.  Measured with
    :func:`organfem.fibres.helix_angle` about the axis ``(1, 0, 0)`` (apex to
    base) the helix angle is ``+alpha``: -60 degrees at the endocardium, +60
    at the epicardium for the defaults.

    Args:
        x: points [mm], shape (n, 3).
        endo, epi: ``(r_short, r_long)`` of the bounding ellipsoids [mm].
        alpha_endo, alpha_epi: helix angles at endo- and epicardium [deg].
        t_tol: see :func:`ellipsoid_coordinates`.

    Returns:
        Orthonormal right-handed bases, shape (n, 3, 3), rows ``(f0, s0, n0)``.

    Raises:
        ParameterError: for bad input or points outside the wall.
    """
    x = _points(x)
    basis = land2015_fibres(
        x[:, [1, 2, 0]],  # long axis along the third coordinate, as Land's
        endo=endo,
        epi=epi,
        alpha_endo=-alpha_endo,
        alpha_epi=-alpha_epi,
        t_tol=t_tol,
    )[:, :, [2, 0, 1]]  # back to (x, y, z)
    basis[:, 1:] *= -1.0  # s0 = e_mu x e_theta = -(e_u x e_v)
    return basis


def ellipsoid_helix_fibres(
    x: np.ndarray,
    geometry: dict,
    *,
    helix_endo: float = 60.0,
    helix_epi: float = -60.0,
    t_tol: float = 0.5,
) -> np.ndarray:
    """Helix fibres on a truncated-ellipsoid LV in the convention of Bayer et al. (2012).

    :func:`land2015_fibres` with the angles negated, so that the helix angles
    mean what they mean for :func:`~organfem.fibres.ldrb_fibres` (about +60
    degrees at the endocardium, -60 at the epicardium in a healthy ventricle;
    see the module docstring of :mod:`organfem.fibres.ldrb`).

    Args:
        x: points in the wall [mm], shape (n, 3) (e.g. cell centroids).
        geometry: the keyword arguments of :func:`organfem.meshing.lv_ellipsoid`
            that shaped the mesh (e.g. :data:`organfem.meshing.ADULT_LV`).
        helix_endo, helix_epi: helix angles [deg].
        t_tol: transmural coordinates in ``[-t_tol, 1 + t_tol]`` are clipped
            to ``[0, 1]`` (points of straight cells lie slightly off the wall).

    Returns:
        Bases (n, 3, 3), rows (f0, s0, n0).
    """
    return land2015_fibres(
        x,
        endo=(geometry["r_short_endo"], geometry["r_long_endo"]),
        epi=(geometry["r_short_epi"], geometry["r_long_epi"]),
        alpha_endo=-helix_endo,
        alpha_epi=-helix_epi,
        t_tol=t_tol,
    )


def vessel_fibres(x: np.ndarray, *, centre, axis) -> np.ndarray:
    """Cylindrical bases about a vessel's axis: circumferential, axial, radial.

    The rows at each point are ``f0 = e_theta`` (circumferential), ``s0 =
    e_z`` (along ``axis``) and ``n0 = e_r`` (radially outward), right-handed
    (``e_theta x e_z = e_r``).  With them, the two collagen families of
    :class:`~organfem.materials.HolzapfelGasserOgden` lie at +/- its angle
    from the circumference in the (f0, s0) plane, as in the arterial wall
    (Holzapfel, Gasser & Ogden 2000, J. Elasticity 61:1, sec. 4).

    Args:
        x: points [mm], shape (n, 3); none on the axis.
        centre: a point of the axis [mm].
        axis: the axis direction (normalised here).

    Raises:
        ParameterError: for a zero axis or a point on the axis.
    """
    x = _points(x)
    c = np.asarray(centre, dtype=float).reshape(3)
    a = np.asarray(axis, dtype=float).reshape(3)
    if not np.linalg.norm(a) > 0:
        raise ParameterError(f"vessel_fibres: axis {a.tolist()} must be non-zero")
    a = a / np.linalg.norm(a)
    y = x - c
    radial = y - np.outer(y @ a, a)
    r = np.linalg.norm(radial, axis=1)
    if not (r > 1e-9 * max(1.0, float(np.abs(y).max()))).all():
        i = int(np.argmin(r))
        raise ParameterError(f"vessel_fibres: point {x[i].tolist()} mm lies on the axis")
    e_r = radial / r[:, None]
    e_z = np.broadcast_to(a, e_r.shape)
    e_theta = np.cross(e_z, e_r)
    return np.stack([e_theta, e_z, e_r], axis=1)

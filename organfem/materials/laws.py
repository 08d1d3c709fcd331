"""Constitutive laws of myocardium and soft tissue, each defined once in JAX.

Every law is an immutable dataclass registered as a JAX pytree: its numeric
parameters are pytree leaves (so ``jax.grad`` with respect to the law gives
parameter sensitivities), its options are static metadata.  A law is evaluated
on the Green-Lagrange strain ``E`` (3x3, reference configuration) and a local
basis ``R`` whose rows are the fibre, sheet and sheet-normal directions
``(f0, s0, n0)``.  Laws derived from a strain energy implement
:meth:`Law.energy`; the second Piola-Kirchhoff stress ``S = dpsi/dE`` and its
tangent ``dS/dE`` come from autodiff (see :mod:`organfem.materials.kernel`).
Laws that are not hyperelastic (active stress in the current configuration)
implement :meth:`Law.second_piola` directly.

Units: stresses and stiffness-like parameters in kPa, exponents dimensionless.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import ClassVar

import jax
import jax.numpy as jnp

from ..errors import ParameterError
from ._tensor import det3, strain_from_voigt, strain_to_voigt, stress_from_voigt, stress_to_voigt

__all__ = [
    "Law",
    "Sum",
    "NeoHookean",
    "Guccione",
    "HolzapfelOgden",
    "ActiveStress",
    "VolumetricPenalty",
]


def _law(cls):
    """Decorator: a frozen dataclass registered as a JAX pytree."""
    return jax.tree_util.register_dataclass(dataclasses.dataclass(frozen=True)(cls))


def _concrete(value) -> bool:
    return isinstance(value, numbers.Real) or (
        hasattr(value, "shape") and value.shape == () and not isinstance(value, jax.core.Tracer)
    )


def _identity(E):
    return jnp.eye(3, dtype=E.dtype)


def _local(E, R):
    """Strain in fibre coordinates: ``E_loc[i, j] = e_i . E e_j`` for rows e_i of R."""
    return R @ E @ R.T


class Law:
    """Base of every constitutive law.

    Subclasses list their parameters as dataclass fields; ``_positive`` and
    ``_non_negative`` name those validated at construction.
    """

    _positive: ClassVar[tuple[str, ...]] = ()
    _non_negative: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for names, ok, expected in (
            (self._positive, lambda v: v > 0, "> 0"),
            (self._non_negative, lambda v: v >= 0, ">= 0"),
        ):
            for name in names:
                value = getattr(self, name)
                if _concrete(value) and not ok(float(value)):
                    raise ParameterError(
                        f"{type(self).__name__}: parameter {name}={float(value)!r} "
                        f"must be {expected}"
                    )

    @property
    def name(self) -> str:
        """Short name used in tables and result files."""
        return type(self).__name__

    def energy(self, E: jax.Array, R: jax.Array) -> jax.Array:
        """Strain energy per unit reference volume [kPa].

        Args:
            E: Green-Lagrange strain, shape (3, 3).
            R: rows are the fibre, sheet and normal unit vectors, shape (3, 3).
        """
        raise NotImplementedError(f"{self.name} is not derived from a strain energy")

    def stress(self, e: jax.Array, R: jax.Array) -> jax.Array:
        """Second Piola-Kirchhoff stress in Voigt form [kPa], shape (6,).

        Args:
            e: Green-Lagrange strain in Voigt form, engineering shears, (6,).
            R: rows are the fibre, sheet and normal unit vectors, (3, 3).

        The default is the forward-mode gradient of :meth:`energy` with
        respect to ``e`` (forward mode keeps batched kernels fusable; reverse
        mode through 3x3 indexing is ten times slower on CPU).
        """
        return jax.jacfwd(lambda x: self.energy(strain_from_voigt(x), R))(e)

    def second_piola(self, E: jax.Array, R: jax.Array) -> jax.Array:
        """Second Piola-Kirchhoff stress ``S = dpsi/dE`` [kPa], shape (3, 3)."""
        return stress_from_voigt(self.stress(strain_to_voigt(E), R))

    def __add__(self, other: Law) -> Sum:
        if not isinstance(other, Law):
            return NotImplemented
        left = self.terms if isinstance(self, Sum) else (self,)
        right = other.terms if isinstance(other, Sum) else (other,)
        return Sum(left + right)


@_law
class Sum(Law):
    """Additive composition of laws: energies and stresses add up."""

    terms: tuple[Law, ...]

    @property
    def name(self) -> str:
        return "+".join(t.name for t in self.terms)

    def energy(self, E, R):
        return sum(t.energy(E, R) for t in self.terms)

    def stress(self, e, R):
        return sum(t.stress(e, R) for t in self.terms)


@_law
class NeoHookean(Law):
    """Compressible neo-Hookean solid (Ogden's form).

    ``psi = mu/2 (I1 - 3 - 2 ln J) + lmbda/2 (ln J)^2``.  In the reference
    state it reduces to linear elasticity with Lame constants ``mu``, ``lmbda``.

    Args:
        mu: shear modulus [kPa], > 0.
        lmbda: first Lame constant [kPa], >= 0.
    """

    mu: float
    lmbda: float
    _positive = ("mu",)
    _non_negative = ("lmbda",)

    @classmethod
    def from_young(cls, young: float, poisson: float) -> NeoHookean:
        """From Young's modulus [kPa] and Poisson's ratio in (-1, 0.5)."""
        if not -1.0 < poisson < 0.5:
            raise ParameterError(f"NeoHookean: poisson={poisson!r} must lie in (-1, 0.5)")
        mu = young / (2 * (1 + poisson))
        return cls(mu=mu, lmbda=young * poisson / ((1 + poisson) * (1 - 2 * poisson)))

    def energy(self, E, R):
        C = _identity(E) + 2 * E
        lnJ = 0.5 * jnp.log(det3(C))
        return 0.5 * self.mu * (jnp.trace(C) - 3 - 2 * lnJ) + 0.5 * self.lmbda * lnJ**2


@_law
class Guccione(Law):
    """Transversely isotropic Fung-type law of Guccione et al. (1991).

    ``psi = C/2 (exp(Q) - 1)`` with, in fibre coordinates,
    ``Q = bf E11^2 + bt (E22^2 + E33^2 + 2 E23^2) + 2 bfs (E12^2 + E13^2)``.
    Pair it with a volumetric penalty or the mixed (u, p) formulation.

    Args:
        C: stiffness [kPa], > 0.
        bf, bt, bfs: fibre, transverse and fibre-shear exponents, > 0.
    """

    C: float
    bf: float
    bt: float
    bfs: float
    _positive = ("C", "bf", "bt", "bfs")

    @classmethod
    def land2015_problem1(cls) -> Guccione:
        """Land et al. (2015) problems 1 and 3: C=2 kPa, bf=8, bt=2, bfs=4."""
        return cls(C=2.0, bf=8.0, bt=2.0, bfs=4.0)

    @classmethod
    def land2015_problem2(cls) -> Guccione:
        """Land et al. (2015) problem 2, isotropic: C=10 kPa, bf=bt=bfs=1."""
        return cls(C=10.0, bf=1.0, bt=1.0, bfs=1.0)

    def energy(self, E, R):
        El = _local(E, R)
        Q = (
            self.bf * El[0, 0] ** 2
            + self.bt * (El[1, 1] ** 2 + El[2, 2] ** 2 + 2 * El[1, 2] ** 2)
            + 2 * self.bfs * (El[0, 1] ** 2 + El[0, 2] ** 2)
        )
        return 0.5 * self.C * (jnp.exp(Q) - 1)


@_law
class HolzapfelOgden(Law):
    """Orthotropic law of Holzapfel and Ogden (2009), eq. (5.38).

    ``psi = a/(2b) (exp(b (I1-3)) - 1)
          + sum_{i=f,s} a_i/(2 b_i) (exp(b_i (I4i-1)_+^2) - 1)
          + a_fs/(2 b_fs) (exp(b_fs I8fs^2) - 1)``

    Fibre and sheet terms act only in extension (``I4 > 1``): collagen does not
    bear compression.  Invariants are of the full ``C``; pair the law with the
    mixed (u, p) formulation or a :class:`VolumetricPenalty`.

    Args:
        a, a_f, a_s, a_fs: stiffnesses [kPa], > 0 (``a_s``, ``a_fs`` may be 0).
        b, b_f, b_s, b_fs: exponents, > 0.
    """

    a: float
    b: float
    a_f: float
    b_f: float
    a_s: float = 0.0
    b_s: float = 1.0
    a_fs: float = 0.0
    b_fs: float = 1.0
    _positive = ("a", "b", "a_f", "b_f", "b_s", "b_fs")
    _non_negative = ("a_s", "a_fs")

    @classmethod
    def holzapfel_ogden_2009(cls) -> HolzapfelOgden:
        """Holzapfel & Ogden (2009), Phil. Trans. R. Soc. A 367:3445, Table 1.

        Fit to the simple-shear data of Dokos et al. (2002).
        """
        return cls(
            a=0.059, b=8.023, a_f=18.472, b_f=16.026,
            a_s=2.481, b_s=11.120, a_fs=0.216, b_fs=11.436,
        )  # fmt: skip

    @classmethod
    def goktepe_2011(cls) -> HolzapfelOgden:
        """Goktepe et al. (2011), Int. J. Numer. Meth. Biomed. Eng. 27:1, Table 1.

        Refit of the Dokos et al. (2002) shear data for finite elements.
        """
        return cls(
            a=0.496, b=7.209, a_f=15.193, b_f=20.417,
            a_s=3.283, b_s=11.176, a_fs=0.662, b_fs=9.466,
        )  # fmt: skip

    def energy(self, E, R):
        Cl = _local(_identity(E) + 2 * E, R)
        I1 = jnp.trace(Cl)

        def fibre(a, b, I4):
            stretch = jnp.maximum(I4 - 1, 0.0)
            return a / (2 * b) * (jnp.exp(b * stretch**2) - 1)

        return (
            self.a / (2 * self.b) * (jnp.exp(self.b * (I1 - 3)) - 1)
            + fibre(self.a_f, self.b_f, Cl[0, 0])
            + fibre(self.a_s, self.b_s, Cl[1, 1])
            + self.a_fs / (2 * self.b_fs) * (jnp.exp(self.b_fs * Cl[0, 1] ** 2) - 1)
        )


@_law
class ActiveStress(Law):
    """Active tension ``T_a`` [kPa] along the fibre.

    ``configuration="reference"``: ``S_a = T_a f0 (x) f0`` (Land et al. 2015),
    the stress of the energy ``T_a E_ff``.
    ``configuration="current"``: Cauchy stress ``sigma_a = T_a f (x) f / |f|^2``
    with ``f = F f0``, so ``S_a = J T_a f0 (x) f0 / I4f``; not hyperelastic.
    """

    Ta: float
    configuration: str = jax.tree.static(default="reference")
    _non_negative = ("Ta",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.configuration not in ("reference", "current"):
            raise ParameterError(
                f"ActiveStress: configuration={self.configuration!r} must be "
                "'reference' or 'current'"
            )

    def energy(self, E, R):
        if self.configuration != "reference":
            return super().energy(E, R)
        return self.Ta * _local(E, R)[0, 0]

    def stress(self, e, R):
        f0 = R[0]
        S = self.Ta * stress_to_voigt(jnp.outer(f0, f0))
        if self.configuration == "reference":
            return S
        C = jnp.eye(3, dtype=e.dtype) + 2 * strain_from_voigt(e)
        return S * jnp.sqrt(det3(C)) / (f0 @ C @ f0)


_PENALTIES = {
    # U(J) with U(1) = U'(1) = 0 and U''(1) = kappa.
    "quadratic": lambda J: 0.5 * (J - 1) ** 2,
    "log": lambda J: 0.5 * jnp.log(J) ** 2,
    "simo-taylor": lambda J: 0.25 * (J**2 - 1 - 2 * jnp.log(J)),
}


@_law
class VolumetricPenalty(Law):
    """Penalty ``kappa U(J)`` for near-incompressibility, ``U''(1) = 1``.

    Args:
        kappa: bulk-like modulus [kPa], > 0.
        kind: ``"quadratic"`` (``(J-1)^2/2``), ``"log"`` (``(ln J)^2/2``) or
            ``"simo-taylor"`` (``(J^2 - 1 - 2 ln J)/4``, Simo & Taylor 1991).
    """

    kappa: float
    kind: str = jax.tree.static(default="simo-taylor")
    _positive = ("kappa",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kind not in _PENALTIES:
            raise ParameterError(
                f"VolumetricPenalty: kind={self.kind!r} must be one of {sorted(_PENALTIES)}"
            )

    def energy(self, E, R):
        J = jnp.sqrt(det3(_identity(E) + 2 * E))
        return self.kappa * _PENALTIES[self.kind](J)

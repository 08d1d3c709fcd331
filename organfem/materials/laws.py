"""Constitutive laws of myocardium and soft tissue, each defined once in JAX.

Every law is an immutable dataclass registered as a JAX pytree: its numeric
parameters are pytree leaves (so ``jax.grad`` with respect to the law gives
parameter sensitivities), its options are static metadata.  A law is evaluated
on the Green-Lagrange strain ``E`` (reference configuration) and a local basis
``R`` whose rows are the fibre, sheet and sheet-normal directions
``(f0, s0, n0)``.

A hyperelastic law is defined once, by :meth:`Law.strain_energy` as a function
of the invariants of ``C = I + 2E`` it names in :attr:`Law.invariants`
(``I1``, ``I3``, ``I4f``, ``I4s``, ``I4n``, ``I8fs``, ``I8fn``, ``I8sn``; see
:mod:`organfem.materials._invariants`).  The energy ``psi(E, R)``, the second
Piola-Kirchhoff stress ``S = dpsi/dE`` and its tangent ``dS/dE`` all follow
from that one definition, the derivatives by autodiff.  Stress that is not
derived from an energy (active stress in the current configuration) is
defined by :meth:`Law.extra_stress`; its tangent also comes from autodiff.

A numeric parameter is a scalar or an array of shape (n,), one value per
quadrature point (:func:`with_parameters`); :func:`organfem.materials.evaluate`
maps per-point parameters over its points.

Units: stresses and stiffness-like parameters in kPa, exponents dimensionless.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ParameterError
from . import _autodiff
from ._invariants import INVARIANTS
from .._pytree import Parameterised, parameter_names, pytree_dataclass
from ._tensor import strain_to_voigt, stress_from_voigt, stress_to_voigt

__all__ = [
    "Law",
    "Sum",
    "NeoHookean",
    "Guccione",
    "HolzapfelOgden",
    "ModifiedHolzapfelOgden",
    "HolzapfelGasserOgden",
    "ActiveStress",
    "LengthDependentActiveStress",
    "VolumetricPenalty",
    "with_parameters",
]


_law = pytree_dataclass  # the decorator of every law (shared with .state)


class Law(Parameterised):
    """Base of every constitutive law.

    Subclasses list their parameters as dataclass fields; ``_positive`` and
    ``_non_negative`` name those validated at construction.  A hyperelastic
    law sets :attr:`invariants` and implements :meth:`strain_energy`; a law
    with stress not derived from an energy sets :attr:`hyperelastic` to
    ``False`` and implements :meth:`extra_stress`.
    """

    invariants: ClassVar[tuple[str, ...]] = ()
    """Names of the invariants :meth:`strain_energy` takes, in order."""

    @property
    def hyperelastic(self) -> bool:
        """Whether all of the stress derives from :meth:`strain_energy`."""
        return True

    def strain_energy(self, *invariants: jax.Array) -> jax.Array:
        """Strain energy per unit reference volume [kPa] from invariants.

        Args:
            invariants: the values of the invariants named in
                :attr:`invariants`, in that order (scalars, or arrays of one
                shape for many points).
        """
        raise NotImplementedError(f"{self.name} does not define a strain energy")

    def extra_stress(self, e: jax.Array, R: jax.Array) -> jax.Array:
        """Voigt stress [kPa] (6,) not derived from an energy (non-hyperelastic laws).

        Args:
            e: Green-Lagrange strain in Voigt form, engineering shears, (6,).
            R: rows are the fibre, sheet and normal unit vectors, (3, 3).
        """
        raise NotImplementedError(f"{self.name} has no stress besides its energy")

    def energy(self, E: jax.Array, R: jax.Array) -> jax.Array:
        """Strain energy per unit reference volume [kPa].

        Args:
            E: Green-Lagrange strain, shape (3, 3).
            R: rows are the fibre, sheet and normal unit vectors, shape (3, 3).
        """
        if not self.hyperelastic:
            raise NotImplementedError(f"{self.name} is not derived from a strain energy")
        e = strain_to_voigt(E)
        x = tuple(e[a] for a in range(6))
        return self.strain_energy(*(INVARIANTS[name](x, R) for name in self.invariants))

    def stress(self, e: jax.Array, R: jax.Array) -> jax.Array:
        """Second Piola-Kirchhoff stress in Voigt form [kPa], shape (6,).

        Args:
            e: Green-Lagrange strain in Voigt form, engineering shears, (6,).
            R: rows are the fibre, sheet and normal unit vectors, (3, 3).

        The energy part is ``sum_k dpsi/dI_k dI_k/de`` by forward-mode
        autodiff (see :mod:`organfem.materials._autodiff`), plus
        :meth:`extra_stress` for non-hyperelastic laws.
        """
        return _autodiff.stress(self, e, R)

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
    """Additive composition of laws: energies and stresses add up.

    Its invariants are the union of the terms' invariants, so shared ones
    (``I3`` of a law and of its volumetric penalty, say) are evaluated once.
    """

    terms: tuple[Law, ...]

    @property
    def name(self) -> str:
        return "+".join(t.name for t in self.terms)

    @property
    def invariants(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for t in self.terms for name in t.invariants))

    @property
    def hyperelastic(self) -> bool:
        return all(t.hyperelastic for t in self.terms)

    def strain_energy(self, *invariants: jax.Array) -> jax.Array:
        value = dict(zip(self.invariants, invariants, strict=True))
        return sum(
            t.strain_energy(*(value[name] for name in t.invariants))
            for t in self.terms
            if t.invariants
        )

    def extra_stress(self, e: jax.Array, R: jax.Array) -> jax.Array:
        return sum(t.extra_stress(e, R) for t in self.terms if not t.hyperelastic)


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
    invariants = ("I1", "I3")
    _positive = ("mu",)
    _non_negative = ("lmbda",)

    @classmethod
    def from_young(cls, young: float, poisson: float) -> NeoHookean:
        """From Young's modulus [kPa] and Poisson's ratio in (-1, 0.5)."""
        if not -1.0 < poisson < 0.5:
            raise ParameterError(f"NeoHookean: poisson={poisson!r} must lie in (-1, 0.5)")
        mu = young / (2 * (1 + poisson))
        return cls(mu=mu, lmbda=young * poisson / ((1 + poisson) * (1 - 2 * poisson)))

    def strain_energy(self, I1: jax.Array, I3: jax.Array) -> jax.Array:
        lnJ = 0.5 * jnp.log(I3)
        return 0.5 * self.mu * (I1 - 3 - 2 * lnJ) + 0.5 * self.lmbda * lnJ**2


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
    invariants = ("I4f", "I4s", "I4n", "I8sn", "I8fn", "I8fs")
    _positive = ("C", "bf", "bt", "bfs")

    @classmethod
    def land2015_problem1(cls) -> Guccione:
        """Land et al. (2015) problems 1 and 3: C=2 kPa, bf=8, bt=2, bfs=4."""
        return cls(C=2.0, bf=8.0, bt=2.0, bfs=4.0)

    @classmethod
    def land2015_problem2(cls) -> Guccione:
        """Land et al. (2015) problem 2, isotropic: C=10 kPa, bf=bt=bfs=1."""
        return cls(C=10.0, bf=1.0, bt=1.0, bfs=1.0)

    def strain_energy(
        self,
        I4f: jax.Array,
        I4s: jax.Array,
        I4n: jax.Array,
        I8sn: jax.Array,
        I8fn: jax.Array,
        I8fs: jax.Array,
    ) -> jax.Array:
        # Local strains: E_ii = (I4i - 1)/2, E_ij = I8ij/2 (orthonormal basis).
        Eff, Ess, Enn = (I4f - 1) / 2, (I4s - 1) / 2, (I4n - 1) / 2
        Esn, Efn, Efs = I8sn / 2, I8fn / 2, I8fs / 2
        Q = (
            self.bf * Eff**2
            + self.bt * (Ess**2 + Enn**2 + 2 * Esn**2)
            + 2 * self.bfs * (Efs**2 + Efn**2)
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
    mixed (u, p) formulation or a :class:`VolumetricPenalty`.  The isotropic
    term leaves ``S = a I`` in the reference state, a pure pressure that the
    incompressibility constraint absorbs.

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
    invariants = ("I1", "I4f", "I4s", "I8fs")
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

    def strain_energy(
        self, I1: jax.Array, I4f: jax.Array, I4s: jax.Array, I8fs: jax.Array
    ) -> jax.Array:
        def fibre(a, b, I4):
            stretch = jnp.maximum(I4 - 1, 0.0)
            return a / (2 * b) * (jnp.exp(b * stretch**2) - 1)

        return (
            self.a / (2 * self.b) * (jnp.exp(self.b * (I1 - 3)) - 1)
            + fibre(self.a_f, self.b_f, I4f)
            + fibre(self.a_s, self.b_s, I4s)
            + self.a_fs / (2 * self.b_fs) * (jnp.exp(self.b_fs * I8fs**2) - 1)
        )


@_law
class HolzapfelGasserOgden(Law):
    """Arterial wall with two dispersed collagen families (Gasser, Ogden &
    Holzapfel 2006, J. R. Soc. Interface 3:15, eqs. 2.6 and 2.8).

    ``psi = mu/2 (I1 - 3 - 2 ln J) + sum_{i=1,2} k1/(2 k2) (exp(k2 <E_i>^2) - 1)``,
    ``E_i = kappa (I1 - 3) + (1 - 3 kappa) (I4_i - 1)``,

    with the families ``a_1,2 = cos(angle) f0 +/- sin(angle) s0`` in the
    (f0, s0) plane, so ``I4_1,2 = c^2 I4f + s^2 I4s +/- 2 c s I8fs``; with
    :func:`organfem.fibres.vessel_fibres`, f0 is circumferential and s0
    axial, and ``angle`` is measured from the circumference as in the paper.
    Collagen bears no compression (``<E_i> = max(E_i, 0)``).  Two deliberate
    departures from the paper, both for the displacement formulation with a
    :class:`VolumetricPenalty`: the ground matrix is the compressible
    neo-Hookean of :class:`NeoHookean` (``lmbda = 0``), stress-free in the
    reference state, and the fibre terms use the full invariants.  Under
    incompressible deformations both reduce to the paper's law.

    Args:
        mu: ground-matrix shear modulus [kPa], > 0.
        k1: collagen stiffness [kPa], >= 0 (0: the neo-Hookean matrix alone).
        k2: collagen exponent, > 0.
        dispersion: ``kappa`` in [0, 1/3] (0: aligned fibres, 1/3: isotropic).
        angle: angle of the families from f0 [deg].
    """

    mu: float
    k1: float
    k2: float
    dispersion: float = 0.0
    angle: float = 0.0
    invariants = ("I1", "I3", "I4f", "I4s", "I8fs")
    _positive = ("mu", "k2")
    _non_negative = ("k1", "dispersion")

    def __post_init__(self) -> None:
        super().__post_init__()
        kappa = self.dispersion
        if isinstance(kappa, float | int) and not kappa <= 1 / 3:
            raise ParameterError(
                f"HolzapfelGasserOgden: dispersion={kappa!r} must lie in [0, 1/3]"
            )

    @classmethod
    def gasser_2006(cls) -> HolzapfelGasserOgden:
        """Gasser, Ogden & Holzapfel (2006), Table 1: adventitia of a human
        iliac artery (mu = 7.64 kPa, k1 = 996.6 kPa, k2 = 524.6, kappa =
        0.226, gamma = 49.98 deg), the paper's fit to Holzapfel et al. (2005)."""
        return cls(mu=7.64, k1=996.6, k2=524.6, dispersion=0.226, angle=49.98)

    def strain_energy(
        self, I1: jax.Array, I3: jax.Array, I4f: jax.Array, I4s: jax.Array, I8fs: jax.Array
    ) -> jax.Array:
        lnJ = 0.5 * jnp.log(I3)
        angle = jnp.deg2rad(self.angle)
        c, s = jnp.cos(angle), jnp.sin(angle)
        matrix = 0.5 * self.mu * (I1 - 3 - 2 * lnJ)
        energy = matrix
        for sign in (1.0, -1.0):
            I4 = c * c * I4f + s * s * I4s + sign * 2 * c * s * I8fs
            E = jnp.maximum(self.dispersion * (I1 - 3) + (1 - 3 * self.dispersion) * (I4 - 1), 0.0)
            energy = energy + self.k1 / (2 * self.k2) * (jnp.exp(self.k2 * E**2) - 1)
        return energy


@_law
class ModifiedHolzapfelOgden(Law):
    """Holzapfel-Ogden law of the cardiac elastodynamics benchmark (Arostica et al. 2025).

    ``psi = a/(2b) (exp(b (I1bar - 3)) - 1)
          + sum_{i=f,s} a_i/(2 b_i) chi(I4i) (exp(b_i (I4i - 1)^2) - 1)
          + a_fs/(2 b_fs) (exp(b_fs I8fs^2) - 1)``

    with the isochoric ``I1bar = J^(-2/3) I1``, the fibre and sheet terms of
    the full ``C`` (``I4f``, ``I4s``, ``I8fs``, not isochoric: the "modified
    anisotropy" of Nolan et al. 2014) and the smooth switch
    ``chi(I4) = 1 / (1 + exp(-k (I4 - 1)))`` in place of the kink ``(I4 - 1)_+``
    of :class:`HolzapfelOgden`: fibres and sheets in compression carry almost
    no stress (``chi(0.9) = 4.5e-5`` at ``k = 100``), and the energy is smooth,
    so Newton's method sees no jump of the tangent at ``I4 = 1``
    (``chi(1) = 1/2``).  The fibre-sheet term is not switched.

    The form is that of the benchmark's reference codes, which agree on it:
    svMultiPhysics' ``HolzapfelOgden-ModifiedAnisotropy`` (``stIso_HO_ma``: the
    switch multiplies ``exp(...) - 1``; the stress adds
    ``a_f/b_f chi'(I4f) (exp(...) - 1)`` to the usual term) and
    ``finsberg/cardiac_benchmark`` (``material.py``, ``I1 = J^(-2/3) tr C``).
    The isotropic term alone is isochoric, so ``S = 0`` in the reference
    state; pair the law with ``VolumetricPenalty.arostica_2025()`` (the
    benchmark's ``kappa/4 (J^2 - 1 - 2 ln J)``) or the mixed (u, p)
    formulation.  The energy takes ``I1`` and ``I3`` and forms ``I1bar``
    itself (like :class:`NeoHookean` forms ``ln J``), so the kernel
    differentiates through polynomial invariants only.

    Args:
        a, a_f, a_s, a_fs: stiffnesses [kPa], ``a``, ``a_f`` > 0, ``a_s``,
            ``a_fs`` >= 0.
        b, b_f, b_s, b_fs: exponents, > 0.
        k: steepness of the switch, > 0 (dimensionless; 100 in the benchmark).
    """

    a: float
    b: float
    a_f: float
    b_f: float
    a_s: float = 0.0
    b_s: float = 1.0
    a_fs: float = 0.0
    b_fs: float = 1.0
    k: float = 100.0
    invariants = ("I1", "I3", "I4f", "I4s", "I8fs")
    _positive = ("a", "b", "a_f", "b_f", "b_s", "b_fs", "k")
    _non_negative = ("a_s", "a_fs")

    @classmethod
    def arostica_2025(cls) -> ModifiedHolzapfelOgden:
        """Arostica et al. (2025), "A software benchmark for cardiac elastodynamics",
        Comput. Methods Appl. Mech. Engrg. 435:117485, doi 10.1016/j.cma.2024.117485.

        The benchmark's passive parameters (given there in Pa, here in kPa):
        a = 59 Pa, b = 8.023, a_f = 18472 Pa, b_f = 16.026, a_s = 2481 Pa,
        b_s = 11.12, a_fs = 216 Pa, b_fs = 11.436, k = 100; the values of
        Holzapfel & Ogden (2009), Table 1, with the switch's k.
        """
        return cls(
            a=0.059, b=8.023, a_f=18.472, b_f=16.026,
            a_s=2.481, b_s=11.12, a_fs=0.216, b_fs=11.436, k=100.0,
        )  # fmt: skip

    def switch(self, I4: jax.Array) -> jax.Array:
        """``chi(I4) = 1 / (1 + exp(-k (I4 - 1)))``, dimensionless, in (0, 1)."""
        return jax.nn.sigmoid(self.k * (I4 - 1))

    def strain_energy(
        self, I1: jax.Array, I3: jax.Array, I4f: jax.Array, I4s: jax.Array, I8fs: jax.Array
    ) -> jax.Array:
        def fibre(a, b, I4):
            return a / (2 * b) * self.switch(I4) * jnp.expm1(b * (I4 - 1) ** 2)

        I1bar = I1 * I3 ** (-1.0 / 3.0)  # J^(-2/3) I1 with J^2 = I3
        return (
            self.a / (2 * self.b) * jnp.expm1(self.b * (I1bar - 3))
            + fibre(self.a_f, self.b_f, I4f)
            + fibre(self.a_s, self.b_s, I4s)
            + self.a_fs / (2 * self.b_fs) * jnp.expm1(self.b_fs * I8fs**2)
        )


class _FibreTension(Law):
    """Active tension ``T_a`` along the fibre, times a factor of the fibre stretch.

    Shared by :class:`ActiveStress` (factor 1) and
    :class:`LengthDependentActiveStress`: the ``configuration`` option, and in
    the current configuration the Cauchy stress ``T_a h f (x) f / |f|^2``
    with ``f = F f0``, i.e. ``S_a = J T_a h f0 (x) f0 / I4f``.  Subclasses
    are laws with fields ``Ta`` and ``configuration``.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.configuration not in ("reference", "current"):
            raise ParameterError(
                f"{type(self).__name__}: configuration={self.configuration!r} must be "
                "'reference' or 'current'"
            )

    @property
    def invariants(self) -> tuple[str, ...]:
        return ("I4f",) if self.configuration == "reference" else ()

    @property
    def hyperelastic(self) -> bool:
        return self.configuration == "reference"

    def factor(self, stretch: jax.Array) -> jax.Array:
        """The factor ``h`` of the fibre stretch ``lambda`` (1: no length dependence)."""
        return jnp.ones_like(stretch)

    def extra_stress(self, e: jax.Array, R: jax.Array) -> jax.Array:
        if self.hyperelastic:
            return super().extra_stress(e, R)
        x = tuple(e[a] for a in range(6))
        I4f = INVARIANTS["I4f"](x, R)
        scale = self.factor(jnp.sqrt(I4f)) * jnp.sqrt(INVARIANTS["I3"](x, R)) / I4f
        return self.Ta * scale * stress_to_voigt(jnp.outer(R[0], R[0]))


@_law
class ActiveStress(_FibreTension):
    """Active tension ``T_a`` [kPa] along the fibre.

    ``configuration="reference"``: ``S_a = T_a f0 (x) f0`` (Land et al. 2015),
    the stress of the energy ``T_a E_ff``.
    ``configuration="current"``: Cauchy stress ``sigma_a = T_a f (x) f / |f|^2``
    with ``f = F f0``, so ``S_a = J T_a f0 (x) f0 / I4f``; not hyperelastic.
    """

    Ta: float
    configuration: str = jax.tree.static(default="reference")
    _non_negative = ("Ta",)

    def strain_energy(self, I4f: jax.Array) -> jax.Array:
        # T_a E_ff with E_ff = (I4f - 1)/2.
        return self.Ta * (I4f - 1) / 2


@_law
class LengthDependentActiveStress(_FibreTension):
    """Active tension along the fibre scaled by the fibre stretch (Frank-Starling).

    ``S_a = T_a h(lambda) f0 (x) f0`` with ``lambda = sqrt(I4f)`` and

        h(lambda) = max(0, 1 + beta0 (l + min(l, lambda_knee) - 1 - lambda_knee)),
        l = min(lambda, lambda_max),

    the length dependence of Land et al. (2017): ``h(1) = 1``; it rises with
    slope ``beta0`` above ``lambda_knee``, falls at twice that rate below it,
    is 0 below the slack stretch (:attr:`slack_stretch`) and constant above
    ``lambda_max``.  ``lambda_knee = 0`` and ``lambda_max = inf`` give the
    linear law ``1 + beta0 (lambda - 1)`` of Hunter, McCulloch & ter Keurs
    (1998).  ``T_a`` is the tension at ``lambda = 1``, e.g. the ``tau`` of
    :class:`organfem.materials.BestelActiveTension`.

    The stress depends on the current stretch, so the factor lives here, in
    the law, and autodiff puts ``T_a h'(lambda)`` into the tangent.
    ``configuration="reference"``: the stress above, that of the energy
    ``T_a integral_1^lambda h(l) l dl`` (a function of ``I4f`` only, so the
    law is hyperelastic and its tangent symmetric; the integral of the
    piecewise-quadratic ``h(l) l`` is exact, by Gauss-Legendre quadrature
    between the kinks).  ``configuration="current"``: Cauchy stress
    ``T_a h(lambda) f (x) f / |f|^2``, as in :class:`ActiveStress`.

    Args:
        Ta: active tension at ``lambda = 1`` [kPa], >= 0.
        beta0: slope of the factor per unit stretch, > 0.
        lambda_knee: stretch below which the slope doubles, >= 0.
        lambda_max: stretch above which the factor stays constant, > 0.
    """

    Ta: float
    beta0: float
    lambda_knee: float = 0.0
    lambda_max: float = math.inf
    configuration: str = jax.tree.static(default="reference")
    _positive = ("beta0", "lambda_max")
    _non_negative = ("Ta", "lambda_knee")

    @classmethod
    def land_2017(cls, Ta: float = 0.0, *, configuration: str = "reference"):
        """Land et al. (2017), J. Mol. Cell. Cardiol. 106:68-83, doi
        10.1016/j.yjmcc.2017.03.008: ``beta0 = 2.3``, knee 0.87, cap 1.2.

        Their ``h(lambda) = max(0, h'(min(lambda, 1.2)))`` with
        ``h'(lambda) = 1 + beta0 (lambda + min(lambda, 0.87) - 1.87)``,
        fitted to human cardiomyocytes; zero below ``lambda = 0.7176``, 1.46
        from ``lambda = 1.2`` on.
        """
        return cls(Ta=Ta, beta0=2.3, lambda_knee=0.87, lambda_max=1.2, configuration=configuration)

    @classmethod
    def hunter_1998(cls, Ta: float = 0.0, *, configuration: str = "reference"):
        """Hunter, McCulloch & ter Keurs (1998), Prog. Biophys. Mol. Biol.
        69:289-331: the linear ``1 + beta0 (lambda - 1)`` with ``beta0 = 1.45``
        (zero below ``lambda = 1 - 1/beta0 = 0.31``)."""
        return cls(Ta=Ta, beta0=1.45, configuration=configuration)

    @property
    def slack_stretch(self) -> jax.Array:
        """The stretch below which ``h = 0`` (the zero of the uncapped factor)."""
        beta, knee = self.beta0, self.lambda_knee
        return jnp.where(
            1 + beta * (knee - 1) > 0,  # h(knee) > 0: the zero lies on the steep branch
            (1 + knee - 1 / beta) / 2,
            1 - 1 / beta,
        )

    def factor(self, stretch: jax.Array) -> jax.Array:
        """``h(lambda)``, dimensionless, for fibre stretches ``lambda`` > 0."""
        l = jnp.minimum(stretch, self.lambda_max)
        knee = self.lambda_knee
        return jnp.maximum(0.0, 1 + self.beta0 * (l + jnp.minimum(l, knee) - 1 - knee))

    def strain_energy(self, I4f: jax.Array) -> jax.Array:
        # T_a integral_1^lambda h(l) l dl, so that dpsi/dI4f = T_a h / 2 and
        # S = 2 dpsi/dC = T_a h f0 (x) f0.  Between consecutive kinks of h
        # (slack, knee, cap; those outside the range clipped onto its ends)
        # h(l) l is a quadratic, which two-point Gauss-Legendre integrates
        # exactly; its nodes lie inside the pieces, never on a kink, so
        # autodiff takes the slope of h from the right piece.
        stretch = jnp.sqrt(I4f)
        above = stretch >= 1.0
        # where, not min/max: at lambda = 1 the moving end must be hi alone.
        lo, hi = jnp.where(above, 1.0, stretch), jnp.where(above, stretch, 1.0)
        kinks = jnp.sort(jnp.stack([self.slack_stretch, self.lambda_knee, self.lambda_max]))
        ends = [lo, *(jnp.clip(kinks[i], lo, hi) for i in range(3)), hi]
        integral = 0.0
        for left, right in zip(ends[:-1], ends[1:]):
            middle, half = (left + right) / 2, (right - left) / 2
            for node in (middle - half / math.sqrt(3), middle + half / math.sqrt(3)):
                integral = integral + half * node * self.factor(node)
        return self.Ta * jnp.where(above, integral, -integral)


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
    invariants = ("I3",)
    _positive = ("kappa",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kind not in _PENALTIES:
            raise ParameterError(
                f"VolumetricPenalty: kind={self.kind!r} must be one of {sorted(_PENALTIES)}"
            )

    @classmethod
    def arostica_2025(cls) -> VolumetricPenalty:
        """Arostica et al. (2025), CMAME 435:117485: ``kappa/4 (J^2 - 1 - 2 ln J)``
        with kappa = 1e6 Pa = 1000 kPa."""
        return cls(kappa=1.0e3, kind="simo-taylor")

    def strain_energy(self, I3: jax.Array) -> jax.Array:
        return self.kappa * _PENALTIES[self.kind](jnp.sqrt(I3))


def with_parameters(law: Law, **fields) -> Law:
    """The law with the named parameters replaced; ``law`` itself is unchanged.

    A value may be a scalar or an array of shape (n,), one value per
    quadrature point (scar, regional stiffness, regional activation), which
    :func:`organfem.materials.evaluate` maps over its points.  In a
    :class:`Sum` every term that has a parameter of that name gets the value,
    so ``Ta`` is replaced in ``HolzapfelOgden(...) + ActiveStress(Ta=0.0)``.
    The new values are validated like those given at construction; tracers
    pass through, so the result can be differentiated with respect to them.

    Args:
        law: the law to start from.
        **fields: parameter name to new value, in the law's units (kPa for
            stiffnesses and tensions, dimensionless exponents).

    Returns:
        A new law of the same structure.

    Raises:
        ParameterError: a name is not a parameter of any term of ``law``
            (options such as ``configuration`` are not parameters), or a new
            value is out of range.
    """
    values = {
        name: np.asarray(value, dtype=np.float64) if isinstance(value, list | tuple) else value
        for name, value in fields.items()
    }
    used: set[str] = set()

    def replace(term: Law) -> Law:
        if isinstance(term, Sum):
            return Sum(tuple(replace(t) for t in term.terms))
        mine = {name: v for name, v in values.items() if name in parameter_names(term)}
        used.update(mine)
        return dataclasses.replace(term, **mine) if mine else term

    result = replace(law)
    unknown = [name for name in fields if name not in used]
    if unknown:
        have = sorted({p for t in _terms(law) for p in parameter_names(t)})
        verb = "is not a parameter" if len(unknown) == 1 else "are not parameters"
        raise ParameterError(
            f"with_parameters: {', '.join(map(repr, unknown))} {verb} of {law.name} "
            f"(its parameters: {', '.join(have)})"
        )
    return result


def _terms(law: Law) -> tuple[Law, ...]:
    """The terms of a sum, nested sums flattened; ``(law,)`` for a single law."""
    if isinstance(law, Sum):
        return tuple(t for term in law.terms for t in _terms(term))
    return (law,)

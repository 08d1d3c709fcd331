"""A general strain state, Voigt conversions and comparisons for the tests of laws.

Shared by tests/test_materials.py and tests/test_cardiac_laws.py.

Local basis: the rows of a rotation matrix.  Strain given in fibre
coordinates (E_loc = R E R^T): the fibre is stretched (I4f - 1 = 0.16) and
the sheet compressed (I4s - 1 = -0.08), well clear of the kink of the
Holzapfel-Ogden fibre terms at I4 = 1, with all shears non-zero.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy.spatial.transform import Rotation

from organfem.materials import evaluate

R0 = Rotation.from_rotvec([0.3, -0.5, 0.8]).as_matrix()
E_LOCAL = np.array([[0.08, 0.03, -0.02], [0.03, -0.04, 0.01], [-0.02, 0.01, 0.02]])
E0 = R0.T @ E_LOCAL @ R0
Q = Rotation.from_rotvec([-0.7, 0.2, 0.4]).as_matrix()
F0 = np.eye(3) + np.array([[0.10, 0.05, -0.03], [-0.02, 0.08, 0.04], [0.06, -0.01, -0.05]])

# Central differences: error h^2/6 |f'''| + eps |f| / h; with h = 1e-6 both
# are below 1e-9 relative for these smooth laws at strains of order 0.1.
H = 1e-6
FD_RTOL = 1e-6

VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def stress_voigt(S: np.ndarray) -> np.ndarray:
    """Voigt stress (no factors), (..., 6)."""
    return np.stack([S[..., i, j] for i, j in VOIGT], axis=-1)


def voigt(E: np.ndarray) -> np.ndarray:
    """Voigt strain with engineering shears, (..., 6)."""
    return stress_voigt(E) * np.array([1.0, 1, 1, 2, 2, 2])


def from_voigt_strain(e: jax.Array) -> jax.Array:
    """Symmetric strain tensor from Voigt with engineering shears."""
    return jnp.array(
        [[e[0], e[5] / 2, e[4] / 2], [e[5] / 2, e[1], e[3] / 2], [e[4] / 2, e[3] / 2, e[2]]]
    )


def at(law, e: np.ndarray, R: np.ndarray | None = None):
    """``evaluate`` at Voigt strains e (n, 6), one basis for all (identity if None)."""
    R = np.eye(3) if R is None else R
    return evaluate(law, np.asarray(e, dtype=float), np.broadcast_to(R, (len(e), 3, 3)))


def close(actual, expected, rtol=1e-12):
    """Equal to ``rtol`` relative to the largest expected magnitude (at least 1)."""
    expected = np.asarray(expected)
    scale = max(np.abs(expected).max(), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)

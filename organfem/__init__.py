"""organfem: patient-specific organ digital twins.

Importing :mod:`organfem` is cheap and has no side effects: it does not import
DOLFINx, configure logging or change JAX flags.  The pure-JAX parts
(:mod:`organfem.materials`) work on machines without DOLFINx, such as GPU nodes.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("organfem")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

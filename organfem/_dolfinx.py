"""The one place that imports DOLFINx and PETSc.

``dolfinx_solver`` (the binary wheel of DOLFINx with PETSc, MUMPS and MPICH)
must be imported before ``dolfinx`` and ``petsc4py``; conda-forge installs
have no such module.  ``h5py`` is imported first because it and the wheel each
carry an HDF5 library, and a late h5py import after DOLFINx has run has been
seen to fail with "Not a datatype".  PETSc is initialised here, without its
signal handlers (see below).  Every other organfem module imports DOLFINx
names from here.
"""

import sys

import h5py  # noqa: F401  (load order, see above)

try:
    import dolfinx_solver  # noqa: F401
except ImportError:  # conda-forge or a source build: nothing to pre-load
    pass

import petsc4py

if "petsc4py.PETSc" not in sys.modules:  # else PETSc is initialised already
    # Leave signals to Python.  PETSc's handlers (SIGTERM, SIGSEGV, SIGFPE,
    # SIGPIPE, ...) would replace Python's: a closed pipe would abort the
    # run with a PETSc error instead of raising BrokenPipeError, and a fault
    # in any library would be reported as a PETSc error.  Ctrl-C (SIGINT)
    # stays Python's KeyboardInterrupt either way; see organfem.mechanics.stepping.
    # Options in PETSC_OPTIONS still apply.
    petsc4py.init(["-no_signal_handler"])

import basix
import basix.ufl
import dolfinx
import dolfinx.fem.petsc
import dolfinx.io
import dolfinx.mesh
import ufl
from dolfinx import default_scalar_type
from mpi4py import MPI
from petsc4py import PETSc

__all__ = ["MPI", "PETSc", "basix", "dolfinx", "ufl", "default_scalar_type"]

"""Results files (VTKHDF: fields over time, scalars, provenance), provenance records, checkpoints.

Importing this package does not import DOLFINx; :class:`ResultsWriter` does
when it is constructed, so results can be read and rendered on machines
without DOLFINx.
"""

from organfem.io._vtkhdf import VTKHDF_VERSION
from organfem.io.checkpoint import load_checkpoint, save_checkpoint
from organfem.io.provenance import provenance, sha256_file
from organfem.io.reader import Results, read_results
from organfem.io.writer import ResultsWriter

__all__ = [
    "VTKHDF_VERSION",
    "Results",
    "ResultsWriter",
    "load_checkpoint",
    "provenance",
    "read_results",
    "save_checkpoint",
    "sha256_file",
]

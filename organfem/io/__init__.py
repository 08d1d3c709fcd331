"""Results files (VTKHDF: fields over time, scalars, provenance), provenance records, checkpoints.

Importing this package does not import DOLFINx; :class:`ResultsWriter` does
when it is constructed, so results can be read and rendered on machines
without DOLFINx.
"""

from organfem.io._vtkhdf import VTKHDF_VERSION
from organfem.io.checkpoint import load_checkpoint, save_checkpoint
from organfem.io.files import write_atomically
from organfem.io.provenance import (
    input_label,
    provenance,
    sha256_file,
    sha256_folder,
    sha256_input,
)
from organfem.io.reader import Results, read_results
from organfem.io.runs import resume_run, save_run, start_run
from organfem.io.writer import ResultsWriter

__all__ = [
    "VTKHDF_VERSION",
    "Results",
    "ResultsWriter",
    "input_label",
    "load_checkpoint",
    "provenance",
    "read_results",
    "resume_run",
    "save_run",
    "start_run",
    "save_checkpoint",
    "sha256_file",
    "sha256_folder",
    "sha256_input",
    "write_atomically",
]

"""Results files (VTKHDF: fields over time, scalars, provenance) and provenance records.

Importing this package does not import DOLFINx; :class:`ResultsWriter` does
when it is constructed, so results can be read and rendered on machines
without DOLFINx.
"""

from organfem.io.provenance import provenance, sha256_file
from organfem.io.results import VTKHDF_VERSION, Results, ResultsWriter, read_results

__all__ = [
    "VTKHDF_VERSION",
    "Results",
    "ResultsWriter",
    "provenance",
    "read_results",
    "sha256_file",
]

"""What the clinician sees: a self-contained report of a results file (HTML and PDF).

The report reads only the results file (:func:`report_content`): what the
scenario declared its report shows (:class:`ReportSpec`, stored by
``ResultsWriter(report=...)``), the steps, scalars and provenance.  It never
reads the run's inputs, so it cannot carry patient identifiers.

* :func:`write_html`: one HTML file that works offline (every script and
  asset embedded): a 3-D view of the deformed anatomy with a field selector,
  a step slider, the reference outline, a clipping plane and a colour bar
  with units; the key figures, plots, provenance and limits.
* :func:`write_pdf`: the same content for the patient record, with static
  views from three standard directions.
"""

from .content import LIMITS, ReportContent, ReportGeometry, report_content, verification_status
from .html import write_html
from .pdf import write_pdf
from .spec import Field, Figure, Plot, ReportSpec, generic_spec, heart_cycle_spec, inflation_spec

__all__ = [
    "LIMITS",
    "Field",
    "Figure",
    "Plot",
    "ReportSpec",
    "ReportContent",
    "ReportGeometry",
    "generic_spec",
    "inflation_spec",
    "heart_cycle_spec",
    "report_content",
    "verification_status",
    "write_html",
    "write_pdf",
]

"""Medical images: reading with exact geometry, label maps, segmentation, DICOM privacy.

Everything here works without DOLFINx.  Physical coordinates are LPS
millimetres (see :mod:`organfem.imaging.image`).

* :mod:`~organfem.imaging.image`: the :class:`Image` value object, NIfTI /
  NRRD / MetaImage input and output;
* :mod:`~organfem.imaging.dicom`: reading a DICOM series;
* :mod:`~organfem.imaging.deidentify`: de-identifying a DICOM folder (DICOM
  PS3.15 Annex E, the whole of Table E.1-1), listing its series;
* :mod:`~organfem.imaging.labels`: named label conventions and checks;
* :mod:`~organfem.imaging.segment`: thresholds, region growing, morphology,
  resampling and a CT-angiography blood-pool recipe.
"""

from .deidentify import (
    BASIC_PROFILE_ACTIONS,
    PATIENT_CHARACTERISTICS,
    DeidentifyReport,
    SeriesInfo,
    deidentify,
    list_series,
)
from .dicom import read_dicom_series
from .image import LPS_TO_RAS, Image, check_geometry, read_image, write_image
from .labels import (
    CANONICAL_NAMES,
    LABEL_PRESETS,
    check_single_component,
    label_components,
    label_mask,
    parse_labels,
    resolve_label,
)
from .segment import (
    blood_pool_from_cta,
    fill_holes,
    largest_component,
    morphological_close,
    morphological_open,
    region_grow,
    resample_isotropic,
    smooth,
    threshold,
)

__all__ = [
    "Image",
    "read_image",
    "write_image",
    "check_geometry",
    "LPS_TO_RAS",
    "read_dicom_series",
    "deidentify",
    "list_series",
    "DeidentifyReport",
    "SeriesInfo",
    "BASIC_PROFILE_ACTIONS",
    "PATIENT_CHARACTERISTICS",
    "CANONICAL_NAMES",
    "LABEL_PRESETS",
    "parse_labels",
    "resolve_label",
    "label_mask",
    "label_components",
    "check_single_component",
    "resample_isotropic",
    "smooth",
    "threshold",
    "region_grow",
    "largest_component",
    "fill_holes",
    "morphological_open",
    "morphological_close",
    "blood_pool_from_cta",
]

"""Medical images: reading with exact geometry, label maps, segmentation, DICOM privacy.

Everything here works without DOLFINx.  Physical coordinates are LPS
millimetres (see :mod:`organfem.imaging.image`).

* :mod:`~organfem.imaging.image`: the :class:`Image` value object, NIfTI /
  NRRD / MetaImage input and output;
* :mod:`~organfem.imaging.dicom`: reading a DICOM series, de-identifying a
  DICOM folder (PS3.15 Annex E basic profile);
* :mod:`~organfem.imaging.labels`: named label conventions and checks;
* :mod:`~organfem.imaging.segment`: thresholds, region growing, morphology,
  resampling and a CT-angiography blood-pool recipe.
"""

from .dicom import (
    BASIC_PROFILE_ACTIONS,
    DeidentifyReport,
    deidentify,
    read_dicom_series,
)
from .image import LPS_TO_RAS, Image, read_image, write_image
from .labels import (
    CANONICAL_NAMES,
    LABEL_PRESETS,
    check_single_component,
    label_components,
    label_mask,
    parse_labels,
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
    "LPS_TO_RAS",
    "read_dicom_series",
    "deidentify",
    "DeidentifyReport",
    "BASIC_PROFILE_ACTIONS",
    "CANONICAL_NAMES",
    "LABEL_PRESETS",
    "parse_labels",
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

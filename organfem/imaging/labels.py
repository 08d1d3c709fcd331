"""Named label maps: which integer in a segmentation means which structure.

A label map is an integer :class:`~organfem.imaging.image.Image`; a *label
mapping* gives each structure a name and its integer value, e.g.
``{"lv_myocardium": 205, "lv_blood_pool": 500}``.  Canonical names
(:data:`CANONICAL_NAMES`) are shared by all presets, so meshing code can ask
for ``"lv_blood_pool"`` whichever tool produced the segmentation.

Presets (:data:`LABEL_PRESETS`) hold the codes of common public tools and
data sets; :func:`parse_labels` turns a command-line string such as
``"mmwhs,scar=7"`` into a mapping.  Value 0 is background.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from ..errors import ParameterError, SegmentationError
from .image import Image

__all__ = [
    "CANONICAL_NAMES",
    "MMWHS",
    "MMWHS_1_7",
    "TOTALSEG_HEARTCHAMBERS",
    "TOTALSEG_TOTAL",
    "LABEL_PRESETS",
    "parse_labels",
    "label_mask",
    "label_components",
    "check_single_component",
    "LABEL_ALIASES",
    "resolve_label",
]

#: Names of the cardiac structures used across organfem (blood pool = cavity).
CANONICAL_NAMES = (
    "lv_myocardium",
    "lv_blood_pool",
    "rv_blood_pool",
    "la_blood_pool",
    "ra_blood_pool",
    "aorta",
    "pulmonary_artery",
)

#: Multi-Modality Whole Heart Segmentation challenge (MM-WHS, MICCAI 2017)
#: label codes: Zhuang & Shen, "Multi-scale patch and multi-modality atlases
#: for whole heart segmentation of MRI", Med. Image Anal. 31 (2016) 77-87, and
#: Zhuang et al., "Evaluation of algorithms for multi-modality whole heart
#: segmentation", Med. Image Anal. 58 (2019) 101537.  "aorta" is the
#: ascending aorta (MM-WHS code 820), "pulmonary_artery" the pulmonary trunk.
MMWHS: Mapping[str, int] = MappingProxyType(
    {
        "lv_myocardium": 205,
        "la_blood_pool": 420,
        "lv_blood_pool": 500,
        "ra_blood_pool": 550,
        "rv_blood_pool": 600,
        "aorta": 820,
        "pulmonary_artery": 850,
    }
)

#: The MM-WHS codes renumbered 1-7 in ascending order of the original codes
#: (205 -> 1, 420 -> 2, 500 -> 3, 550 -> 4, 600 -> 5, 820 -> 6, 850 -> 7), the
#: order used when deep-learning codes train on MM-WHS and write their
#: predictions with consecutive class indices (e.g. MONAI- and nnU-Net-based
#: pipelines: ``{205: 1, 420: 2, 500: 3, 550: 4, 600: 5, 820: 6, 850: 7}``).
MMWHS_1_7: Mapping[str, int] = MappingProxyType(
    {name: index for index, (name, _) in
     enumerate(sorted(MMWHS.items(), key=lambda item: item[1]), start=1)}
)

#: TotalSegmentator task ``heartchambers_highres`` (Wasserthal et al.,
#: Radiol. Artif. Intell. 5 (2023) e230024), from ``class_map
#: ["heartchambers_highres"]`` in ``totalsegmentator/map_to_binary.py`` of
#: github.com/wasserth/TotalSegmentator: 1 heart_myocardium, 2
#: heart_atrium_left, 3 heart_ventricle_left, 4 heart_atrium_right, 5
#: heart_ventricle_right, 6 aorta, 7 pulmonary_artery.  Their
#: "heart_myocardium" is called "myocardium" here: the class map does not say
#: whether it includes the right-ventricular wall, so it is not equated with
#: "lv_myocardium".
TOTALSEG_HEARTCHAMBERS: Mapping[str, int] = MappingProxyType(
    {
        "myocardium": 1,
        "la_blood_pool": 2,
        "lv_blood_pool": 3,
        "ra_blood_pool": 4,
        "rv_blood_pool": 5,
        "aorta": 6,
        "pulmonary_artery": 7,
    }
)

#: Heart and great-vessel classes of the TotalSegmentator v2 task ``total``
#: (``class_map["total"]`` in ``totalsegmentator/map_to_binary.py``, same
#: source as above), names as there.  v2 has no pulmonary artery class in
#: ``total`` (v1 had it as 49); use ``heartchambers_highres`` for chambers.
TOTALSEG_TOTAL: Mapping[str, int] = MappingProxyType(
    {
        "heart": 51,
        "aorta": 52,
        "pulmonary_vein": 53,
        "brachiocephalic_trunk": 54,
        "subclavian_artery_right": 55,
        "subclavian_artery_left": 56,
        "common_carotid_artery_right": 57,
        "common_carotid_artery_left": 58,
        "brachiocephalic_vein_left": 59,
        "brachiocephalic_vein_right": 60,
        "atrial_appendage_left": 61,
        "superior_vena_cava": 62,
        "inferior_vena_cava": 63,
    }
)

#: Preset name -> label mapping, for :func:`parse_labels`.
LABEL_PRESETS: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        "mmwhs": MMWHS,
        "mmwhs-1-7": MMWHS_1_7,
        "totalseg-heartchambers": TOTALSEG_HEARTCHAMBERS,
        "totalseg-total": TOTALSEG_TOTAL,
    }
)

#: Canonical name -> names that may stand in for it when a mapping lacks it: a
#: whole-heart preset's ``myocardium`` serves as the LV myocardium (for the LV
#: mesher it is cut at the valve plane and only the part around the LV blood
#: pool is kept).
LABEL_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"lv_myocardium": ("myocardium",)}
)


def resolve_label(labels: Mapping[str, int], name: str) -> str:
    """``name`` if the mapping has it, else the first of its :data:`LABEL_ALIASES` it has.

    Returns ``name`` unchanged when neither is present (the caller's lookup
    then reports the missing name with the names that are defined).
    """
    if name in labels:
        return name
    return next((alias for alias in LABEL_ALIASES.get(name, ()) if alias in labels), name)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _add(out: dict[str, int], name: str, value, origin: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ParameterError(
            f"labels: bad name {name!r} in {origin}; names are letters, digits and _, "
            "not starting with a digit"
        )
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"labels: value of {name!r} in {origin} must be an integer, "
                             f"got {value!r}")  # fmt: skip
    value = int(value)
    if value <= 0:
        raise ParameterError(
            f"labels: value of {name!r} in {origin} must be positive (0 is background), "
            f"got {value}"
        )
    if name in out:
        raise ParameterError(f"labels: name {name!r} given twice (second time in {origin})")
    clash = [other for other, v in out.items() if v == value]
    if clash:
        raise ParameterError(
            f"labels: value {value} of {name!r} ({origin}) is already used by {clash[0]!r}"
        )
    out[name] = value


def parse_labels(spec: str | Mapping[str, int]) -> Mapping[str, int]:
    """A label mapping from a preset name, ``name=value`` pairs, or both.

    Examples: ``"mmwhs"``, ``"lv_myocardium=1,lv_blood_pool=2"``,
    ``"mmwhs,scar=7"``, or a mapping ``{"lv_myocardium": 1}``.  Entries are
    separated by commas; spaces around entries, names and values are ignored.

    Args:
        spec: the specification.

    Returns:
        An immutable mapping name -> positive integer, in the order given.

    Raises:
        ParameterError: for an empty entry, a malformed ``name=value``, an
            unknown preset (the message lists the presets), a name or value used
            twice, or a value that is not a positive integer.
    """
    out: dict[str, int] = {}
    if isinstance(spec, Mapping):
        for name, value in spec.items():
            _add(out, name, value, "the mapping")
    elif isinstance(spec, str):
        if not spec.strip():
            raise ParameterError("labels: empty specification; give a preset "
                                 f"({', '.join(LABEL_PRESETS)}) or name=value pairs")  # fmt: skip
        for entry in spec.split(","):
            entry = entry.strip()
            if not entry:
                raise ParameterError(
                    f"labels: empty entry in {spec!r} (doubled or trailing comma?)"
                )
            if "=" in entry:
                name, _, text = (part.strip() for part in entry.partition("="))
                if not re.fullmatch(r"[+-]?\d+", text):
                    raise ParameterError(
                        f"labels: {entry!r} in {spec!r}: expected name=integer"
                    )
                _add(out, name, int(text), repr(entry))
            elif entry in LABEL_PRESETS:
                for name, value in LABEL_PRESETS[entry].items():
                    _add(out, name, value, f"preset {entry!r}")
            else:
                raise ParameterError(
                    f"labels: {entry!r} is neither name=value nor a preset; presets: "
                    f"{', '.join(LABEL_PRESETS)}"
                )
    else:
        raise ParameterError(f"labels: expected a string or a mapping, got {type(spec).__name__}")
    return MappingProxyType(out)


def _present_values(array: np.ndarray, limit: int = 20) -> str:
    values = np.unique(array)
    shown = ", ".join(str(v.item()) for v in values[:limit])
    more = f", ... ({values.size} distinct values)" if values.size > limit else ""
    return f"[{shown}{more}]"


def label_mask(image: Image, labels: str | Mapping[str, int], name: str) -> np.ndarray:
    """Boolean mask of the voxels carrying the label ``name``.

    Args:
        image: the label map (integer values; floats are compared exactly).
        labels: a label mapping or a :func:`parse_labels` specification.
        name: the structure, a key of ``labels``.

    Returns:
        Boolean array of ``image.shape``.

    Raises:
        ParameterError: if ``name`` is not in ``labels`` (lists the names).
        SegmentationError: if no voxel carries the label; the message names
            the label, its value and the values present in the image.
    """
    labels = parse_labels(labels)
    if name not in labels:
        raise ParameterError(f"label {name!r} is not in the label mapping; known: "
                             f"{', '.join(labels) or 'none'}")  # fmt: skip
    value = labels[name]
    mask = np.asarray(image.array) == value
    if not mask.any():
        raise SegmentationError(
            f"label {name!r} (value {value}) is absent from the label map; values present: "
            f"{_present_values(image.array)} (is this the right label preset?)"
        )
    return mask


def _structure(connectivity: int) -> np.ndarray:
    from scipy import ndimage

    rank = {6: 1, 18: 2, 26: 3}.get(connectivity)
    if rank is None:
        raise ParameterError(f"connectivity must be 6, 18 or 26, got {connectivity!r}")
    return ndimage.generate_binary_structure(3, rank)


def label_components(
    mask: np.ndarray | Image, *, connectivity: int = 26
) -> tuple[int, np.ndarray]:
    """Connected pieces of a binary mask.

    Args:
        mask: boolean (or 0/nonzero) array of shape (nx, ny, nz), or an Image.
        connectivity: 26 (voxels touching by a face, edge or corner are
            connected; the default), 18 (face or edge) or 6 (face only).

    Returns:
        ``(count, sizes)``: the number of pieces and their voxel counts,
        largest first (int64 array of length ``count``).
    """
    from scipy import ndimage

    array = mask.array if isinstance(mask, Image) else np.asarray(mask)
    labelled, count = ndimage.label(array != 0, structure=_structure(connectivity))
    sizes = np.bincount(labelled.ravel())[1:]
    return int(count), np.sort(sizes)[::-1].astype(np.int64)


def check_single_component(
    mask: np.ndarray | Image,
    name: str,
    *,
    min_fraction: float = 0.0,
    connectivity: int = 26,
) -> None:
    """Raise unless a label forms one connected piece (up to tolerated specks).

    A *speck* is a piece with fewer than ``min_fraction`` times the voxels of
    the largest piece.  Specks are tolerated (the caller can drop them with
    :func:`organfem.imaging.segment.largest_component`); any second piece that
    is not a speck makes the label fragmented.  The default ``min_fraction=0``
    tolerates nothing.

    Args:
        mask: the label's mask (array or Image).
        name: the label's name, for the message.
        min_fraction: speck threshold relative to the largest piece, in [0, 1).
        connectivity: 6, 18 or 26 (see :func:`label_components`).

    Raises:
        SegmentationError: if the mask is empty, or fragmented; the message
            gives the number of pieces and their voxel counts.
        ParameterError: for ``min_fraction`` outside [0, 1).
    """
    if not 0.0 <= min_fraction < 1.0:
        raise ParameterError(f"min_fraction must be in [0, 1), got {min_fraction!r}")
    count, sizes = label_components(mask, connectivity=connectivity)
    if count == 0:
        raise SegmentationError(f"label {name!r} is empty (no voxels)")
    large = int(np.sum(sizes >= min_fraction * sizes[0]))
    if large > 1:
        listed = ", ".join(str(s) for s in sizes[:10]) + (" ..." if count > 10 else "")
        tolerance = (
            f"; pieces under {min_fraction:g} x the largest (< {min_fraction * sizes[0]:g} "
            f"voxels) are tolerated, {large} pieces are larger"
            if min_fraction > 0 else ""
        )  # fmt: skip
        raise SegmentationError(
            f"label {name!r} is fragmented: {count} pieces ({connectivity}-connectivity) "
            f"of {listed} voxels{tolerance}. Fix the segmentation, or keep the largest piece "
            "with organfem.imaging.largest_component"
        )

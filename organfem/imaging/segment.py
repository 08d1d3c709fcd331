"""Segmentation helpers on :class:`~organfem.imaging.image.Image` (SimpleITK inside).

Every function takes and returns an organfem ``Image``.  A *mask* is an
``Image`` whose array is uint8 with values 0 and 1 and whose geometry
(spacing, origin, direction) is identical to the input's; functions that take
a mask treat any nonzero value as foreground.  Lengths are millimetres,
intensities are in the image's units (Hounsfield units for CT read with
:func:`~organfem.imaging.dicom.read_dicom_series`), points are LPS mm.

:func:`blood_pool_from_cta` chains the helpers into a documented recipe for
a contrast-filled cavity of a CT angiogram.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ParameterError, SegmentationError
from .image import Image

__all__ = [
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

_INTERPOLATORS = ("linear", "nearest", "label")


def _mask_sitk(mask: Image):
    """A uint8 0/1 SimpleITK image of a mask."""
    return Image.to_sitk(mask.with_array((np.asarray(mask.array) != 0).astype(np.uint8)))


def _mask_image(like: Image, array: np.ndarray) -> Image:
    return like.with_array((np.asarray(array) != 0).astype(np.uint8))


def _from_sitk_mask(like: Image, sitk_image) -> Image:
    import SimpleITK as sitk

    return _mask_image(like, sitk.GetArrayFromImage(sitk_image).transpose(2, 1, 0))


def resample_isotropic(
    image: Image, spacing: float | None = None, *, interpolator: str = "linear"
) -> Image:
    """Resample to cubic voxels over the same physical extent.

    The centre of voxel (0, 0, 0) and the direction are kept.  Along each axis
    the new voxel count is ``floor((n - 1) * s / spacing) + 1``, so the last
    voxel centre lies at most one new voxel inside the old last centre, and
    exactly on it when ``(n - 1) * s / spacing`` is an integer.

    Args:
        image: the image.
        spacing: new voxel size [mm]; default the smallest current spacing.
        interpolator: ``"linear"`` (returns float32 for integer input, the
            input dtype for floats), ``"nearest"`` (keeps dtype and values) or
            ``"label"`` (SimpleITK's label-wise Gaussian interpolation: each
            output voxel takes the label whose smoothed indicator is largest;
            keeps integer labels and gives smoother boundaries than nearest).

    Returns:
        The resampled image.

    Raises:
        ParameterError: for a non-positive spacing or an unknown interpolator.
    """
    import SimpleITK as sitk

    if interpolator not in _INTERPOLATORS:
        raise ParameterError(f"interpolator must be one of {_INTERPOLATORS}, got {interpolator!r}")
    new = float(np.min(image.spacing)) if spacing is None else float(spacing)
    if not np.isfinite(new) or new <= 0:
        raise ParameterError(f"spacing must be a positive length in mm, got {spacing!r}")
    size = np.floor((np.array(image.shape) - 1) * image.spacing / new + 1e-9).astype(int) + 1
    source = image.to_sitk()
    dtype = image.array.dtype
    if interpolator == "linear":
        method = sitk.sitkLinear
        if not np.issubdtype(dtype, np.floating):
            source = sitk.Cast(source, sitk.sitkFloat32)
    elif interpolator == "nearest":
        method = sitk.sitkNearestNeighbor
    else:
        if not (np.issubdtype(dtype, np.integer) or dtype == bool):
            raise ParameterError(
                f"interpolator='label' needs an integer label map, got dtype {dtype}"
            )
        method = sitk.sitkLabelGaussian
    resampler = sitk.ResampleImageFilter()
    resampler.SetSize([int(v) for v in size])
    resampler.SetOutputOrigin([float(v) for v in image.origin])
    resampler.SetOutputSpacing([new] * 3)
    resampler.SetOutputDirection([float(v) for v in image.direction.ravel()])
    resampler.SetInterpolator(method)
    resampler.SetDefaultPixelValue(0.0)
    resampler.SetOutputPixelType(source.GetPixelID())
    out = resampler.Execute(source)
    result = Image.from_sitk(out)
    if dtype == bool:
        result = result.with_array(result.array != 0)
    return result


def smooth(image: Image, sigma_mm: float | Sequence[float]) -> Image:
    """Gaussian smoothing with standard deviation ``sigma_mm`` (physical units).

    Uses SimpleITK's recursive Gaussian (Deriche) filter, which takes the
    voxel spacing into account.  Returns float32 for integer input.

    Args:
        image: the image (at least 4 voxels along each axis).
        sigma_mm: standard deviation [mm], one value or one per axis.

    Raises:
        ParameterError: for a non-positive sigma.
    """
    import SimpleITK as sitk

    sigma = np.broadcast_to(np.asarray(sigma_mm, dtype=np.float64), (3,))
    if not np.all(np.isfinite(sigma)) or (sigma <= 0).any():
        raise ParameterError(f"sigma_mm must be positive, got {sigma_mm!r}")
    if min(image.shape) < 4:
        raise ParameterError(f"smooth needs at least 4 voxels per axis, image has {image.shape}")
    source = image.to_sitk()
    if not np.issubdtype(image.array.dtype, np.floating):
        source = sitk.Cast(source, sitk.sitkFloat32)
    return Image.from_sitk(sitk.SmoothingRecursiveGaussian(source, [float(s) for s in sigma]))


def _check_window(lower: float, upper: float) -> tuple[float, float]:
    lower, upper = float(lower), float(upper)
    if not (np.isfinite(lower) and np.isfinite(upper)) or lower > upper:
        raise ParameterError(
            f"intensity window must satisfy lower <= upper, got [{lower}, {upper}]"
        )
    return lower, upper


def threshold(image: Image, lower: float, upper: float) -> Image:
    """Mask of the voxels with ``lower <= value <= upper`` (inclusive).

    Raises:
        ParameterError: if ``lower > upper``.
    """
    lower, upper = _check_window(lower, upper)
    array = np.asarray(image.array)
    return _mask_image(image, (array >= lower) & (array <= upper))


def _bounds_text(image: Image) -> str:
    corners = image.index_to_physical(
        np.array([[i, j, k] for i in (0, image.shape[0] - 1) for j in (0, image.shape[1] - 1)
                  for k in (0, image.shape[2] - 1)], dtype=float)
    )  # fmt: skip
    return (
        f"voxel centres span x [{corners[:, 0].min():.1f}, {corners[:, 0].max():.1f}], "
        f"y [{corners[:, 1].min():.1f}, {corners[:, 1].max():.1f}], "
        f"z [{corners[:, 2].min():.1f}, {corners[:, 2].max():.1f}] mm (LPS)"
    )


def _seed_indices(image: Image, seeds_mm) -> list[tuple[int, int, int]]:
    seeds = np.atleast_2d(np.asarray(seeds_mm, dtype=np.float64))
    if seeds.ndim != 2 or seeds.shape[1] != 3 or seeds.shape[0] == 0:
        raise ParameterError(
            f"seeds_mm: expected LPS points of shape (n, 3), got {np.shape(seeds_mm)}"
        )
    index = np.rint(image.physical_to_index(seeds)).astype(np.int64)
    out = []
    for point, ijk in zip(seeds, index):
        if np.any(ijk < 0) or np.any(ijk >= np.array(image.shape)):
            raise ParameterError(
                f"seed {point.tolist()} mm (LPS) is outside the image: nearest index "
                f"{ijk.tolist()} for shape {image.shape}; {_bounds_text(image)}"
            )
        out.append(tuple(int(v) for v in ijk))
    return out


def region_grow(
    image: Image,
    seeds_mm,
    lower: float,
    upper: float,
    *,
    connectivity: int = 6,
) -> Image:
    """Mask of the voxels in ``[lower, upper]`` connected to the seeds.

    A flood fill (SimpleITK ``ConnectedThreshold``) from the voxels nearest
    to the seed points.  Face connectivity (6, the default) leaks less through
    thin diagonal contacts than full connectivity (26).

    Args:
        image: intensity image (e.g. HU).
        seeds_mm: LPS points [mm], shape (3,) or (n, 3).
        lower, upper: inclusive intensity window.
        connectivity: 6 or 26.

    Raises:
        ParameterError: for a seed outside the image or a bad window.
        SegmentationError: if a seed's voxel value is outside the window (the
            message gives the value).
    """
    import SimpleITK as sitk

    lower, upper = _check_window(lower, upper)
    if connectivity not in (6, 26):
        raise ParameterError(f"region_grow: connectivity must be 6 or 26, got {connectivity!r}")
    indices = _seed_indices(image, seeds_mm)
    for ijk, point in zip(indices, np.atleast_2d(np.asarray(seeds_mm, dtype=float))):
        value = float(image.array[ijk])
        if not lower <= value <= upper:
            raise SegmentationError(
                f"seed {point.tolist()} mm (LPS, voxel {list(ijk)}) has value {value:g}, outside "
                f"the window [{lower:g}, {upper:g}]: move the seed into the structure"
            )
    kind = sitk.ConnectedThresholdImageFilter
    out = sitk.ConnectedThreshold(
        image.to_sitk(),
        seedList=[list(ijk) for ijk in indices],
        lower=lower,
        upper=upper,
        replaceValue=1,
        connectivity=kind.FaceConnectivity if connectivity == 6 else kind.FullConnectivity,
    )
    return _from_sitk_mask(image, out)


def _components(mask: Image, connectivity: int):
    import SimpleITK as sitk

    if connectivity not in (6, 26):
        raise ParameterError(f"connectivity must be 6 or 26, got {connectivity!r}")
    labelled = sitk.ConnectedComponent(_mask_sitk(mask), connectivity == 26)
    return sitk.RelabelComponent(labelled, sortByObjectSize=True)


def largest_component(mask: Image, *, connectivity: int = 26) -> Image:
    """The largest connected piece of a mask (26-connectivity by default).

    Ties are broken by SimpleITK's ordering (first in scan order).

    Raises:
        SegmentationError: if the mask is empty.
    """
    import SimpleITK as sitk

    if not np.any(mask.array):
        raise SegmentationError("largest_component: the mask is empty")
    return _from_sitk_mask(mask, sitk.Equal(_components(mask, connectivity), 1))


def fill_holes(mask: Image) -> Image:
    """Fill the cavities of a mask: background regions not connected to the image border.

    Uses SimpleITK ``BinaryFillhole`` with face connectivity for the
    background, so a cavity that touches the outside only along an edge or a
    corner is still filled.  Works in 3D: a cavity is filled only if it is
    enclosed in all three dimensions.
    """
    import SimpleITK as sitk

    return _from_sitk_mask(mask, sitk.BinaryFillhole(_mask_sitk(mask), fullyConnected=False,
                                                     foregroundValue=1))  # fmt: skip


def _radius_voxels(image: Image, radius_mm: float) -> list[int]:
    """Kernel radius per axis: ``round(radius_mm / spacing)``."""
    radius = float(radius_mm)
    if not np.isfinite(radius) or radius <= 0:
        raise ParameterError(f"radius_mm must be positive, got {radius_mm!r}")
    voxels = np.rint(radius / image.spacing).astype(int)
    if not voxels.any():
        raise ParameterError(
            f"radius {radius:g} mm is under half a voxel along every axis (spacing "
            f"{image.spacing.tolist()} mm): the operation would do nothing"
        )
    return [int(v) for v in voxels]


def morphological_open(mask: Image, radius_mm: float) -> Image:
    """Binary opening (erode, then dilate) with a ball of radius ``radius_mm``.

    Removes pieces and protrusions thinner than about ``2 * radius_mm`` and
    cuts thin bridges.  The ball's radius in voxels is
    ``round(radius_mm / spacing)`` per axis, so it is round in millimetres on
    anisotropic grids.  The result is contained in the input.

    Raises:
        ParameterError: for a non-positive radius or one under half a voxel on
            every axis.
    """
    import SimpleITK as sitk

    out = sitk.BinaryMorphologicalOpening(_mask_sitk(mask), _radius_voxels(mask, radius_mm),
                                          sitk.sitkBall, 0.0, 1.0)  # fmt: skip
    return _from_sitk_mask(mask, out)


def morphological_close(mask: Image, radius_mm: float) -> Image:
    """Binary closing (dilate, then erode) with a ball of radius ``radius_mm``.

    Fills gaps and notches narrower than about ``2 * radius_mm``; the result
    contains the input.  Radius conversion as in :func:`morphological_open`;
    the image border is handled as if the mask continued outside it (ITK's
    safe border), so nothing is eroded at the border.
    """
    import SimpleITK as sitk

    out = sitk.BinaryMorphologicalClosing(_mask_sitk(mask), _radius_voxels(mask, radius_mm),
                                          sitk.sitkBall, 1.0, True)  # fmt: skip
    return _from_sitk_mask(mask, out)


def blood_pool_from_cta(
    image: Image,
    seed_mm,
    *,
    hu: tuple[float, float] = (150.0, 700.0),
    smooth_mm: float | None = 0.75,
    open_mm: float | None = 1.5,
    close_mm: float | None = 1.5,
) -> Image:
    """Mask of a contrast-filled cavity of a CT angiogram, grown from one seed.

    The recipe:

    1. :func:`smooth` with ``smooth_mm`` to suppress noise (skipped if None);
    2. :func:`region_grow` from ``seed_mm`` in the HU window ``hu``
       (contrast-enhanced blood is typically 150-700 HU; bone above ~700 HU);
    3. :func:`morphological_open` with ``open_mm`` to cut thin bridges to
       neighbouring bright structures (other chambers through thin valve
       planes, vessels, ribs), then keep the connected piece that contains the
       seed (skipped if None);
    4. :func:`morphological_close` with ``close_mm`` to smooth the surface and
       close notches left by trabeculae and papillary muscles (skipped if None);
    5. :func:`fill_holes` for enclosed cavities (catheters, calcium).

    Args:
        image: CT volume in HU.
        seed_mm: one LPS point [mm] inside the cavity.
        hu: inclusive HU window of contrast-enhanced blood.
        smooth_mm: Gaussian sigma [mm] or None.
        open_mm: opening radius [mm] or None.
        close_mm: closing radius [mm] or None.

    Returns:
        The cavity mask (uint8 Image, same geometry).

    Raises:
        ParameterError: for a seed outside the image or a bad parameter.
        SegmentationError: if the seed is outside the HU window after
            smoothing, or lies in a structure thinner than the opening.
    """
    import SimpleITK as sitk

    seed = np.asarray(seed_mm, dtype=np.float64)
    if seed.shape != (3,):
        raise ParameterError(f"seed_mm: expected one LPS point (3,), got shape {seed.shape}")
    smoothed = smooth(image, smooth_mm) if smooth_mm is not None else image
    mask = region_grow(smoothed, seed, *hu)
    if open_mm is not None:
        mask = morphological_open(mask, open_mm)
        (ijk,) = _seed_indices(mask, seed)
        if not mask.array[ijk]:
            raise SegmentationError(
                f"blood_pool_from_cta: the opening of radius {open_mm} mm removed the seed's "
                "voxel; the structure at the seed is thinner than the opening (use a smaller "
                "open_mm or move the seed)"
            )
        labelled = sitk.GetArrayFromImage(_components(mask, 26)).transpose(2, 1, 0)
        mask = _mask_image(mask, labelled == labelled[ijk])
    if close_mm is not None:
        mask = morphological_close(mask, close_mm)
    return fill_holes(mask)

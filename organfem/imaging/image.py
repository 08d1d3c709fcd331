"""`Image`: a 3D voxel array with its exact physical geometry.

Coordinates are **LPS millimetres** (DICOM and ITK convention: +x towards the
patient's Left, +y Posterior, +z Superior).  NIfTI files store RAS; SimpleITK
converts them to LPS on reading and back on writing, so an image read here
and a mesh made from it are always in the same LPS frame, and a mesh overlays
the image in any ITK-based viewer (3D Slicer shows RAS but reads LPS-tagged
data correctly).  :meth:`Image.affine_ras` gives the NIfTI/nibabel affine for
tools that work in RAS.

The voxel ``(i, j, k)`` (array index ``array[i, j, k]``, i fastest in the
file) has its centre at ``origin + direction @ (spacing * (i, j, k))``; the
columns of ``direction`` are the physical directions of the index axes.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import ImageError

__all__ = ["Image", "read_image", "write_image", "check_geometry", "LPS_TO_RAS", "SPACING_RANGE_MM"]

#: Diagonal flip between LPS and RAS coordinates (x and y change sign).
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])

#: File suffixes SimpleITK reads for us (a folder is read as a DICOM series).
IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd", ".dcm")


def _vector(name: str, value, shape) -> np.ndarray:
    try:
        out = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ImageError(f"Image.{name}: not numeric ({err})") from err
    if out.shape != shape or not np.isfinite(out).all():
        raise ImageError(f"Image.{name}: expected finite values of shape {shape}, got {value!r}")
    out.setflags(write=False)
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class Image:
    """A 3D scalar image with spacing, origin and direction (immutable).

    Attributes:
        array: voxel values, shape (nx, ny, nz), indexed ``[i, j, k]``.
        spacing: voxel size along i, j, k [mm], shape (3,), positive.
        origin: LPS position of the centre of voxel (0, 0, 0) [mm], shape (3,).
        direction: orthonormal (3, 3) matrix whose columns are the LPS
            directions of the i, j and k axes.

    Raises:
        ImageError: for a non-3D array, non-positive spacing or a direction
            matrix that is not orthonormal.
    """

    array: np.ndarray
    spacing: np.ndarray
    origin: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3))
    direction: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(3))

    def __post_init__(self) -> None:
        array = np.asarray(self.array)
        if array.ndim != 3 or min(array.shape) == 0:
            raise ImageError(f"Image.array: expected a non-empty 3D array, got shape {array.shape}")
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise ImageError(f"Image.array: expected numbers, got dtype {array.dtype}")
        array = np.array(array, copy=True)
        array.setflags(write=False)
        spacing = _vector("spacing", self.spacing, (3,))
        if (spacing <= 0).any():
            raise ImageError(f"Image.spacing: must be positive, got {spacing.tolist()} mm")
        origin = _vector("origin", self.origin, (3,))
        direction = _vector("direction", self.direction, (3, 3))
        if np.abs(direction.T @ direction - np.eye(3)).max() > 1e-4:
            raise ImageError(
                f"Image.direction: columns must be orthonormal, got {direction.tolist()}"
            )
        for name, value in (("array", array), ("spacing", spacing), ("origin", origin),
                            ("direction", direction)):
            object.__setattr__(self, name, value)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Number of voxels along i, j, k."""
        return self.array.shape

    @property
    def voxel_volume(self) -> float:
        """Volume of one voxel [mm^3]."""
        return float(np.prod(self.spacing))

    @property
    def affine(self) -> np.ndarray:
        """4x4 map from voxel index (i, j, k, 1) to LPS position [mm]."""
        out = np.eye(4)
        out[:3, :3] = self.direction * self.spacing
        out[:3, 3] = self.origin
        return out

    @property
    def affine_ras(self) -> np.ndarray:
        """4x4 map from voxel index to RAS position [mm] (the NIfTI/nibabel affine)."""
        flip = np.eye(4)
        flip[:3, :3] = LPS_TO_RAS
        return flip @ self.affine

    def index_to_physical(self, index: np.ndarray) -> np.ndarray:
        """LPS positions [mm] of (fractional) voxel indices, shape (n, 3) -> (n, 3)."""
        index = np.asarray(index, dtype=np.float64)
        return self.origin + (index * self.spacing) @ self.direction.T

    def physical_to_index(self, points: np.ndarray) -> np.ndarray:
        """Fractional voxel indices of LPS positions [mm], shape (n, 3) -> (n, 3)."""
        points = np.asarray(points, dtype=np.float64)
        return ((points - self.origin) @ self.direction) / self.spacing

    def sample(self, points: np.ndarray, *, outside=0) -> np.ndarray:
        """Value of the voxel containing each LPS point (nearest voxel centre).

        Points outside the image get ``outside``.  Shape (n, 3) -> (n,).
        """
        index = np.rint(self.physical_to_index(points)).astype(np.int64)
        inside = np.all((index >= 0) & (index < np.array(self.shape)), axis=1)
        out = np.full(index.shape[0], outside, dtype=self.array.dtype)
        i, j, k = index[inside].T
        out[inside] = self.array[i, j, k]
        return out

    def with_array(self, array: np.ndarray) -> Image:
        """An image with the same geometry and new voxel values (same shape)."""
        array = np.asarray(array)
        if array.shape != self.shape:
            raise ImageError(
                f"Image.with_array: shape {array.shape} differs from the image's {self.shape}"
            )
        return dataclasses.replace(self, array=array)

    def to_sitk(self):
        """The image as a :class:`SimpleITK.Image` (same geometry)."""
        import SimpleITK as sitk

        array = self.array.astype(np.uint8) if self.array.dtype == bool else self.array
        out = sitk.GetImageFromArray(np.ascontiguousarray(array.transpose(2, 1, 0)))
        out.SetSpacing([float(v) for v in self.spacing])
        out.SetOrigin([float(v) for v in self.origin])
        out.SetDirection([float(v) for v in self.direction.ravel()])
        return out

    @classmethod
    def from_sitk(cls, image) -> Image:
        """Convert a 3D, single-component :class:`SimpleITK.Image`."""
        import SimpleITK as sitk

        if image.GetDimension() != 3:
            raise ImageError(f"expected a 3D image, got {image.GetDimension()}D")
        if image.GetNumberOfComponentsPerPixel() != 1:
            raise ImageError(
                f"expected one value per voxel, got {image.GetNumberOfComponentsPerPixel()} "
                "(vector or RGB images are not supported)"
            )
        return cls(
            array=sitk.GetArrayFromImage(image).transpose(2, 1, 0),
            spacing=np.array(image.GetSpacing()),
            origin=np.array(image.GetOrigin()),
            direction=np.array(image.GetDirection()).reshape(3, 3),
        )


#: Plausible voxel sizes of organ images [mm]: from micro-CT (a few um) to the
#: thickest clinical slices (10-20 mm).  Outside this range the header is wrong
#: (a spacing in metres, or a placeholder such as 0 or 1000).
SPACING_RANGE_MM = (1e-3, 50.0)


def check_geometry(image: Image, source: str = "image") -> None:
    """Refuse voxel sizes no organ image has, before any work is done on it.

    Args:
        image: the image.
        source: the input's name for the message (a role, not a path).

    Raises:
        ImageError: naming ``source``, the spacing in mm and the accepted range.
    """
    low, high = SPACING_RANGE_MM
    spacing = np.asarray(image.spacing, dtype=float)
    if not np.all(np.isfinite(spacing)) or (spacing < low).any() or (spacing > high).any():
        raise ImageError(
            f"{source}: voxel spacing {np.round(spacing, 6).tolist()} mm is outside the "
            f"plausible range {low:g}-{high:g} mm of organ images; the file's header is "
            "wrong (a spacing in metres or a placeholder?): fix the spacing in the header"
        )


def _sitk_reason(err: RuntimeError) -> str:
    """The informative part of a SimpleITK exception message."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    lines = [
        re.sub(r"^(ITK ERROR|sitk::ERROR): (\w+\(0x[0-9a-f]+\): )?", "", line)
        for line in lines
        if not re.search(r"(Exception thrown in|\.(cxx|hxx|h):\d+:?$)", line)
        and not line.startswith("Reason: No such file or directory")  # stale errno
    ]  # fmt: skip
    return " ".join(lines) or "unknown reason"


def _check_nifti_payload(path: Path) -> None:
    """Raise if a NIfTI file holds fewer voxel bytes than its header declares.

    ITK's NIfTI reader silently fills the missing part of a truncated file
    with zeros, so the check is made here: the header gives the data offset
    and size, and a ``.gz`` file is decompressed to its end (which also
    verifies the gzip stream).
    """
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            header = handle.read(540)
            total = len(header)
            while chunk := handle.read(1 << 22):
                total += len(chunk)
    except (OSError, EOFError, zlib.error) as err:
        raise ImageError(f"{path}: truncated or corrupt compressed NIfTI file ({err})") from err
    for endian in "<>":
        if len(header) >= 348 and struct.unpack(endian + "i", header[:4])[0] == 348:
            dims = struct.unpack(endian + "8h", header[40:56])
            bitpix = struct.unpack(endian + "h", header[72:74])[0]
            offset = struct.unpack(endian + "f", header[108:112])[0]
            break
        if len(header) >= 540 and struct.unpack(endian + "i", header[:4])[0] == 540:
            bitpix = struct.unpack(endian + "h", header[14:16])[0]
            dims = struct.unpack(endian + "8q", header[16:80])
            offset = struct.unpack(endian + "q", header[168:176])[0]
            break
    else:
        raise ImageError(f"{path}: not a NIfTI file (no NIfTI-1 or NIfTI-2 header)")
    ndim = int(dims[0])
    if not 1 <= ndim <= 7 or any(d < 1 for d in dims[1 : ndim + 1]) or bitpix <= 0:
        raise ImageError(f"{path}: corrupt NIfTI header (dim {list(dims)}, bitpix {bitpix})")
    expected = int(offset) + int(np.prod(dims[1 : ndim + 1], dtype=np.int64)) * bitpix // 8
    if total < expected:
        raise ImageError(
            f"{path}: truncated NIfTI file: {total} bytes of header and voxel data, the header "
            f"declares {expected}"
        )


def read_image(path: str | os.PathLike) -> Image:
    """Read a NIfTI, NRRD or MetaImage file, or a folder holding one DICOM series.

    Geometry is kept exactly (LPS, see the module docstring).  DICOM header
    fields other than geometry and pixel data are never read into the result,
    so patient identifiers cannot leak from here into meshes or results.

    Raises:
        ImageError: naming the path, for a missing, unreadable, truncated or
            non-3D file.  NIfTI files are checked against the data size their
            header declares, because ITK fills the missing voxels of a
            truncated NIfTI file with zeros without an error.
    """
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file or folder")
    if path.is_dir():
        from .dicom import read_dicom_series

        image = read_dicom_series(path)
        check_geometry(image, str(path))
        return image
    import SimpleITK as sitk

    if path.name.endswith((".nii", ".nii.gz")):
        _check_nifti_payload(path)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as err:
        reason = _sitk_reason(err)
        raise ImageError(
            f"{path}: cannot be read as an image (NIfTI, NRRD, MetaImage or DICOM "
            f"expected; the file may be truncated or corrupt): {reason}"
        ) from err
    try:
        image = Image.from_sitk(image)
    except ImageError as err:
        raise ImageError(f"{path}: {err}") from err
    check_geometry(image, str(path))
    return image


def write_image(image: Image, path: str | os.PathLike) -> Path:
    """Write ``image`` to a NIfTI, NRRD or MetaImage file chosen by suffix, atomically."""
    import SimpleITK as sitk

    path = Path(path)
    name = path.name
    suffix = next((s for s in IMAGE_SUFFIXES if name.endswith(s)), None)
    if suffix not in (".nii", ".nii.gz", ".nrrd", ".mha"):
        raise ImageError(f"{path}: suffix must be one of .nii, .nii.gz, .nrrd, .mha")
    import contextlib

    from ..errors import OutputError

    if path.is_dir():
        raise OutputError(f"cannot write image {name}: a folder of that name is in the way")
    # A hidden temporary file beside ``path``, moved onto it when complete: a
    # file already there is intact until then.  Created with the umask.
    tmp = path.with_name(f".{name[: -len(suffix)]}.partial{suffix}")
    kept = "the file already there is unchanged" if path.exists() else "nothing was written"
    try:
        sitk.WriteImage(image.to_sitk(), str(tmp), useCompression=suffix in (".nii.gz", ".nrrd"))
        os.replace(tmp, path)
    except RuntimeError as err:  # SimpleITK names no errno: say what it says, without the folder
        reason = _sitk_reason(err).replace(str(tmp.parent), "").replace(tmp.name, name)
        raise OutputError(f"cannot write image {name}: {reason}; {kept}") from None
    except OSError as err:
        raise OutputError(f"cannot write image {name}: {OutputError.reason(err)}; {kept}") from None
    finally:
        with contextlib.suppress(OSError):  # e.g. a read-only file system
            tmp.unlink(missing_ok=True)
    return path

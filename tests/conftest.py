"""Meshes that several test files share, built once per session.

``MeshData`` is immutable (``with_fibres`` and ``with_tags`` return new
objects) and problems do not change the DOLFINx mesh of a ``Domain``, so
one instance of each serves every test.  Meshes are built on rank 0 and
distributed, as a script does under ``mpirun``.
"""

from __future__ import annotations

import pytest

from organfem._dolfinx import MPI
from organfem.meshing import MeshData, land_beam, lv_ellipsoid

COMM = MPI.COMM_WORLD


def _domain(mesh: MeshData | None):
    from organfem.mechanics import Domain

    return Domain.from_meshdata(mesh if COMM.rank == 0 else None, COMM)


@pytest.fixture(scope="session")
def beam_mesh() -> MeshData:
    """The 10 x 1 x 1 mm beam of Land et al. (2015) problem 1 at h = 0.5 mm:
    480 tetrahedra; facet tags x0, x1, y0, y1, z0, z1."""
    return land_beam(h=0.5)


@pytest.fixture(scope="session")
def beam(beam_mesh):
    """:func:`beam_mesh` as a distributed ``Domain``."""
    return _domain(beam_mesh)


@pytest.fixture(scope="session")
def coarse_beam():
    """The beam at h = 1 mm (another mesh than :func:`beam`), as a ``Domain``."""
    return _domain(land_beam(h=1.0) if COMM.rank == 0 else None)


@pytest.fixture(scope="session")
def hex_beam_mesh() -> MeshData:
    """The beam at h = 0.5 mm in hexahedra."""
    return land_beam(h=0.5, cell_type="hexahedron")


@pytest.fixture(scope="session")
def hex_beam(hex_beam_mesh):
    """:func:`hex_beam_mesh` as a distributed ``Domain``."""
    return _domain(hex_beam_mesh)


@pytest.fixture(scope="session")
def lv_coarse() -> MeshData:
    """The Land et al. (2015) truncated ellipsoid at h = 3 mm (about 1000
    tetrahedra, a wall one cell thick); facet tags endo, epi, base."""
    return lv_ellipsoid(h=3.0)


@pytest.fixture(scope="session")
def lv_coarse_domain(lv_coarse):
    """:func:`lv_coarse` as a distributed ``Domain``."""
    return _domain(lv_coarse)


def _write_dicom_label_series(image, folder, header) -> None:
    """Write a label map as a CT DICOM series (one file per slice k) carrying ``header``.

    Pixel (row j, column i) of slice k is voxel (i, j, k); the geometry is the
    image's.  ``header`` maps DICOM keywords to values (the identifiers a
    test then looks for in every output).
    """
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for k in range(image.shape[2]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality = "CT"
        for keyword, value in header.items():
            setattr(ds, keyword, value)
        ds.Rows, ds.Columns = image.shape[1], image.shape[0]
        ds.PixelSpacing = [float(image.spacing[1]), float(image.spacing[0])]
        ds.SliceThickness = float(image.spacing[2])
        ds.ImageOrientationPatient = [float(v) for v in image.direction[:, :2].T.ravel()]
        ds.ImagePositionPatient = [float(v) for v in image.index_to_physical([0, 0, k])]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept, ds.InstanceNumber = 1, 0, k + 1
        ds.PixelData = np.ascontiguousarray(image.array[:, :, k].T, dtype=np.uint16).tobytes()
        ds.save_as(folder / f"IM{k:04d}.dcm", enforce_file_format=True)


@pytest.fixture(scope="session")
def write_dicom_label_series():
    """The function ``(image, folder, header)`` that writes a label map as a DICOM series."""
    pytest.importorskip("pydicom")
    return _write_dicom_label_series

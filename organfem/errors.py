"""Domain-specific exceptions raised for user input and failed solves."""

__all__ = [
    "OrganfemError",
    "ParameterError",
    "MeshError",
    "MeshQualityError",
    "ImageError",
    "SegmentationError",
    "MissingTagError",
    "InvertedElementError",
    "ConvergenceError",
]


class OrganfemError(Exception):
    """Base class of every error organfem raises on purpose."""


class ParameterError(OrganfemError, ValueError):
    """A model or solver parameter is out of its admissible range."""


class MeshError(OrganfemError):
    """A mesh file is unreadable or inconsistent."""


class MeshQualityError(MeshError):
    """A generated mesh fails the quality thresholds it was asked to meet."""


class ImageError(OrganfemError):
    """An image file or folder is unreadable, truncated or has bad geometry."""


class SegmentationError(OrganfemError):
    """A label is absent, empty or fragmented, or a segmentation step failed."""


class MissingTagError(OrganfemError, KeyError):
    """A boundary or cell tag named by the user is not present in the mesh."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvertedElementError(OrganfemError):
    """The deformation gradient has det F <= 0 somewhere."""


class ConvergenceError(OrganfemError):
    """A nonlinear solve failed and could not be recovered by cutting the step."""

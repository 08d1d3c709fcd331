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
    "OutputError",
    "UnitWarning",
    "Interrupted",
    "without_path",
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


class OutputError(OrganfemError):
    """An output (results, checkpoint, mesh, image or render) could not be written.

    The message names the output by its role and file name (never its folder,
    which may name a patient), says in plain words what went wrong (the disk
    is full, the folder is not writable, a folder is in the way, ...) and
    what is left: outputs are written to a temporary file and moved onto
    their path only when complete, so a file already at that path is intact.
    """

    @staticmethod
    def reason(error: OSError) -> str:
        """An operating-system error in plain words, without the path it names."""
        import errno

        plain = {
            errno.ENOSPC: "the disk is full (no space left on device)",
            errno.EDQUOT: "the disk quota is exceeded",
            errno.EFBIG: "the file would exceed the largest file size allowed"
            " (a file system limit, or the shell's `ulimit -f`)",
            errno.EACCES: "permission denied (the folder is not writable by this user)",
            errno.EPERM: "the operation is not permitted",
            errno.EROFS: "the file system is read-only",
            errno.EISDIR: "a folder of that name is in the way",
            errno.ENOTDIR: "a part of the path is a file, not a folder",
            errno.ENOENT: "the folder does not exist",
            errno.EEXIST: "a file of that name is in the way",
            errno.EIO: "an input/output error of the disk or network file system",
            errno.ENAMETOOLONG: "the file name is too long",
        }
        return plain.get(error.errno or 0, error.strerror or type(error).__name__)


class UnitWarning(UserWarning):
    """A quantity was accepted but is implausible for its kind (e.g. a pressure
    of 2000 kPa, most likely a unit mistake); the message names the value."""


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C (SIGINT); the message says where it stopped and
    what was kept (the last checkpoint, the steps written so far).

    A :class:`KeyboardInterrupt`, not an :class:`OrganfemError`, so that code
    catching ``Exception`` lets it through.  Handlers on the way out may add
    what they kept with ``add_note`` (the results writer names its partial
    file); the ``organfem`` command prints the message and the notes on one
    line and exits with status 130.
    """


def without_path(error: OrganfemError, path, label: str) -> OrganfemError:
    """The same error with an input's path and file name replaced by ``label``.

    Library messages name the file they failed on; an input's path or name may
    identify the patient, so scenarios and the command line show its role and
    hash instead (``organfem.io.input_label``).
    """
    from pathlib import Path

    message = str(error)
    for text in sorted({str(path), str(Path(path)), str(Path(path).resolve()), Path(path).name},
                       key=len, reverse=True):
        if text:
            message = message.replace(text, label)
    try:
        return type(error)(message)
    except TypeError:  # an error class with other constructor arguments
        return OrganfemError(message)

"""The one exception tree of qrbench.

    QrbenchError
     ├── ParameterError      a parameter file, setting or argument is invalid (also a ValueError)
     ├── UnsafeTargetError   a load target is not on loopback and remote targets were not allowed
     ├── TargetError         the system under test could not be started or never became ready
     └── RunError            a study or run folder is missing, incomplete or unreadable

Messages are sentences that name the offending key, field or file and say what would be valid.
"""

__all__ = ["QrbenchError", "ParameterError", "UnsafeTargetError", "TargetError", "RunError"]


class QrbenchError(Exception):
    """Base class of every error qrbench raises on purpose."""


class ParameterError(QrbenchError, ValueError):
    """A parameter file, setting or argument is invalid."""


class UnsafeTargetError(QrbenchError):
    """A load target is not a loopback address and remote targets were not explicitly allowed."""


class TargetError(QrbenchError):
    """The system under test could not be started, or never became ready."""


class RunError(QrbenchError):
    """A run folder is missing, incomplete or unreadable."""

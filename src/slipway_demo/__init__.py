"""slipway-demo: the reference service that slipway releases."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

DIST_NAME = "slipway-demo"


def installed_version() -> str:
    """The version of the installed distribution (not a constant in the source)."""
    try:
        return _version(DIST_NAME)
    except PackageNotFoundError:
        return "0+unknown"

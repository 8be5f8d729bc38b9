"""presence-desktop: real-time agent presence for call-centre teams, over AWS AppSync Events."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("presence-desktop")
except _metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

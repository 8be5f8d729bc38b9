"""presence-desktop: real-time agent presence for call-centre teams, over AWS AppSync Events."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # ``__version__`` on first use (PEP 562): importlib.metadata's lookup scans every installed
    # distribution, a cost every start-up paid for a string only --version shows.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import metadata

    try:
        version = metadata.version("presence-desktop")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        version = "0.0.0+unknown"
    globals()["__version__"] = version
    return version

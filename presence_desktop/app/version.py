"""The installed version, looked up only when asked (package metadata costs start-up time)."""

from __future__ import annotations


def version() -> str:
    from presence_desktop import __version__

    return __version__

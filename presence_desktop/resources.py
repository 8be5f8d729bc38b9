"""Where the shipped resources (status catalogue, icons, desktop entry) live.

A source checkout or editable install reads the top-level ``resources/`` folder; a frozen
(PyInstaller) build carries the same folder next to the executable's data (``sys._MEIPASS``).
"""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """Return the folder holding ``statuses.json`` and the icons.

    Raises ``FileNotFoundError`` when no resources folder can be found.
    """
    candidates = []
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        candidates.append(Path(frozen) / "resources")
    candidates.append(Path(__file__).resolve().parent.parent / "resources")
    for candidate in candidates:
        if (candidate / "statuses.json").is_file():
            return candidate
    raise FileNotFoundError(f"no resources folder among {[str(c) for c in candidates]}")


def resource_path(name: str) -> Path:
    """Path of one resource file, e.g. ``resource_path("statuses.json")``."""
    return resources_dir() / name


_default_catalogue = None


def default_catalogue():
    """The status catalogue shipped in ``resources/statuses.json`` (loaded once).

    Returns a :class:`presence_desktop.domain.statuses.StatusCatalogue`; raises
    ``CatalogueError`` if the shipped file is malformed.
    """
    global _default_catalogue
    if _default_catalogue is None:
        from presence_desktop.domain.statuses import StatusCatalogue

        _default_catalogue = StatusCatalogue.load(resource_path("statuses.json"))
    return _default_catalogue

"""The shipped resources: the status catalogue (``statuses.json``, replaceable per deployment),
the icons and the desktop entry. They are package data, read with :mod:`importlib.resources`, so a
wheel, an editable install and a PyInstaller build (which collects them under the same package
path) find them the same way.
"""

from __future__ import annotations

from importlib import resources as _resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from presence_desktop.domain.statuses import StatusCatalogue


def resources_dir() -> Path:
    """The folder holding ``statuses.json`` and ``icons/``.

    Raises ``FileNotFoundError`` when the package data is missing (a broken install).
    """
    folder = Path(str(_resources.files(__name__)))
    if not (folder / "statuses.json").is_file():
        raise FileNotFoundError(f"no statuses.json in {folder}: the package data was not installed")
    return folder


def resource_path(name: str) -> Path:
    """Path of one resource file, e.g. ``resource_path("statuses.json")``."""
    return resources_dir() / name


_default_catalogue: StatusCatalogue | None = None


def default_catalogue() -> StatusCatalogue:
    """The status catalogue shipped in ``statuses.json`` (loaded once).

    Raises ``CatalogueError`` if the shipped file is malformed.
    """
    global _default_catalogue
    if _default_catalogue is None:
        from presence_desktop.domain.statuses import StatusCatalogue

        _default_catalogue = StatusCatalogue.load(resource_path("statuses.json"))
    return _default_catalogue

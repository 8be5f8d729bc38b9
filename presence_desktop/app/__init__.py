"""The composition root: the command line, the GUI run, the self-test, platform checks, profile import.

See README.md in this folder. ``presence_desktop.app.main`` is the ``presence-desktop`` entry point.
"""

from presence_desktop.app.cli import main

__all__ = ["main"]

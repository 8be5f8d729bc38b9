"""PyInstaller's entry script for the workstation build: the ``presence-desktop`` console script."""

import sys

from presence_desktop.app import main

if __name__ == "__main__":
    sys.exit(main())

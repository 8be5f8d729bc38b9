import sys

from presence_desktop.app.cli import main

sys.exit(main())

"""PySide6's import hook, made to stop caching every module's source.

PySide6 6.x (``shibokensupport/feature.py``, PYSIDE-2029) asks, for every module imported once Qt
is loaded (and, at its first import, for every module already loaded), whether it mentions
"PySide6", by ``inspect.getsource(module)``. That goes through :mod:`linecache`, which keeps the
full text of every such module for the life of the process: ~11-12 MB of RSS and ~40 ms of
start-up for the ~260 modules of this app (bench/ figures 4 and 5, tracemalloc and cProfile).

:func:`install` answers the same question by reading the file's bytes, without caching them,
and drops the source lines the hook has cached so far (they are re-read on demand, e.g. for a
traceback). Modules without a ``.py`` file (frozen builds, extensions) still get PySide's own
answer. When PySide6 changes this hook, :func:`install` leaves it alone.
"""

from __future__ import annotations

import linecache
import sys
from typing import Any

_MARK = "_presence_desktop_reads_bytes"


def install() -> bool:
    """Replace the hook's source check (idempotent). Loads PySide6.QtCore. Returns whether the
    check is (now) the cheap one."""
    import PySide6.QtCore  # noqa: F401 - loads shibokensupport.feature

    feature = sys.modules.get("shibokensupport.feature")
    upstream = getattr(feature, "_mod_uses_pyside", None)
    if upstream is None or not callable(upstream):
        return False
    if getattr(upstream, _MARK, False):
        return True

    def _mod_uses_pyside(module: Any) -> bool:
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            return upstream(module)
        try:
            with open(path, "rb") as fh:
                return b"PySide6" in fh.read()
        except OSError:
            return upstream(module)

    setattr(_mod_uses_pyside, _MARK, True)
    feature._mod_uses_pyside = _mod_uses_pyside
    drop_cached_sources()
    return True


def drop_cached_sources() -> None:
    """Forget the cached lines of source files on disk (``.py`` paths; entries for generated
    code, which could not be read again, stay)."""
    for name in [n for n in linecache.cache if isinstance(n, str) and n.endswith(".py") and not n.startswith("<")]:
        linecache.cache.pop(name, None)

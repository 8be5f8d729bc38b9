"""The one bridge from the Qt-free core to Qt: service announcements become signals.

:class:`QtBridge` is the :class:`~presence_desktop.client.service.ServiceListener` of a
:class:`~presence_desktop.client.service.PresenceService`. Signals are emitted with Qt's automatic
connection type, so a call from another thread is delivered on the GUI thread (queued); on the
GUI thread (qasync's loop) it is delivered directly. Windows connect to these signals; widgets
never see the service.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from presence_desktop.client.service import ConnectionState
from presence_desktop.domain.roster import Change


class QtBridge(QObject):
    rosterChanged = Signal(object)  # Change
    connectionChanged = Signal(object)  # ConnectionState
    ownStatusChanged = Signal()
    problemRaised = Signal(str)  # plain words for the user

    def roster_changed(self, change: Change) -> None:
        self.rosterChanged.emit(change)

    def connection_changed(self, state: ConnectionState) -> None:
        self.connectionChanged.emit(state)

    def own_status_changed(self) -> None:
        self.ownStatusChanged.emit()

    def problem(self, text: str) -> None:
        self.problemRaised.emit(text)

"""The connection banner: what the user reads while the app's own connection is down."""

import time

from presence_desktop.ui.widgets import ConnectionBanner


def test_an_attempt_in_progress_reads_reconnecting(qtbot, artifacts_dir):
    banner = ConnectionBanner()
    qtbot.addWidget(banner)
    now = time.time()
    # The client is connecting right now: no next-retry time exists (adapters pass None).
    banner.set_down(now - 12, None, "connecting", needs_sign_in=False)
    assert "Reconnecting…" in banner.label.text()
    banner.resize(700, banner.sizeHint().height())
    banner.grab().save(str(artifacts_dir / "banner-reconnecting.png"))
    # Waiting for the next attempt: the countdown.
    banner.set_down(now - 12, now + 4.5, "connection refused", needs_sign_in=False)
    assert "Next retry in 5 s." in banner.label.text()
    # The session was refused: retrying cannot help, so no "Reconnecting…".
    banner.set_down(now - 12, None, "sign in again: 401 unauthorized", needs_sign_in=True)
    assert "Reconnecting" not in banner.label.text()
    assert banner.sign_in_button.isVisibleTo(banner)
    assert "sign in again" in banner.label.text()
    banner.grab().save(str(artifacts_dir / "banner-sign-in-again.png"))


def test_the_sign_in_button_follows_the_typed_fact_not_the_words(qtbot):
    """Regression: the banner used to search the reason for "sign in again"/"unauthorized", so a
    namespace policy deny (errorType ``Unauthorized``) offered a sign-in that cannot help, and a
    refused session worded otherwise offered none."""
    banner = ConnectionBanner()
    qtbot.addWidget(banner)
    now = time.time()
    banner.set_down(now - 5, None, "subscription refused: Unauthorized: not in a team", needs_sign_in=False)
    assert not banner.sign_in_button.isVisibleTo(banner)
    assert "Reconnecting…" in banner.label.text()
    banner.set_down(now - 5, None, "subscription refused: token expired", needs_sign_in=True)
    assert banner.sign_in_button.isVisibleTo(banner)
    assert "Reconnecting" not in banner.label.text()




def test_a_client_that_stopped_reconnecting_over_oversized_frames_says_so(qtbot):
    banner = ConnectionBanner()
    qtbot.addWidget(banner)
    banner.set_down(time.time() - 30, None, "subscription refused: stopped reconnecting: the server sent a "
                    "message larger than 1024 KiB 3 times in a row", stopped=True)
    text = banner.label.text()
    assert "Reconnecting" not in text and "too large to read" in text
    assert not banner.sign_in_button.isVisibleTo(banner)

"""ui/runtime.run: SIGTERM / Ctrl+C quit the app at once, without a timer polling for them."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The watchdog's beat would also hand Python control: make it rare (20 s threshold -> a beat every
# 10 s), so only the signal wake-up can run the handler in time.
APP = r"""
import asyncio, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from presence_desktop.ui import runtime
runtime.LOOP_STALL_THRESHOLD_S = 20.0

async def start(rt):
    print("running", flush=True)
    await asyncio.Event().wait()

sys.exit(runtime.run(start, ["signal-test"], budget_s=1.0))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_quits_at_once_without_a_polling_timer(sig):
    proc = subprocess.Popen([sys.executable, "-c", APP], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "running", proc.stderr.read()
        time.sleep(0.3)  # idle: nothing else hands Python control for 10 s
        t = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=15)
        took = time.monotonic() - t
    finally:
        proc.kill()
    assert code == 0, proc.stderr.read()[-2000:]
    assert took < 4.0  # was up to 0.25 s with the old poke timer; without any wake-up, ~10 s

"""The loop-lag watchdog (client/loop_watchdog.py): a blocked loop is logged with what blocked it."""

import asyncio
import logging
import time

from presence_desktop.client.loop_watchdog import LoopLagWatchdog


def blocking_work_on_the_loop(seconds):
    time.sleep(seconds)  # a synchronous call on the loop's thread, as a slow slot would be


async def test_a_blocked_loop_is_logged_with_what_ran_and_for_how_long(caplog):
    """A GUI thread blocked 30 s was never logged: there was no loop-lag watchdog."""
    caplog.set_level(logging.WARNING, logger="presence_desktop.client.loop_watchdog")
    dog = LoopLagWatchdog(asyncio.get_running_loop(), threshold_s=0.2, interval_s=0.05)
    dog.start()
    try:
        await asyncio.sleep(0.3)
        assert dog.stalls == 0 and not caplog.records  # a loop that runs says nothing

        async def slow_handler():
            blocking_work_on_the_loop(0.8)

        await asyncio.create_task(slow_handler(), name="slow-handler")
        await asyncio.sleep(0.2)
    finally:
        dog.stop()
    assert dog.stalls == 1
    first, second = [r.getMessage() for r in caplog.records]
    assert "has not run for" in first and "blocking_work_on_the_loop" in first and "'slow-handler'" in first
    assert "ran again after a stall of" in second
    stall = float(second.rsplit("of ", 1)[1].split(" s")[0])
    assert 0.6 < stall < 2.0


async def test_by_default_it_beats_twice_per_threshold_not_ten_times_a_second():
    """Its beats run all the time the app is idle: at 0.1 s they cost more CPU than the idle roster
    (bench/README.md). The default is half the threshold (1 s in the app: two beats a second)."""
    loop = asyncio.get_running_loop()
    assert LoopLagWatchdog(loop, threshold_s=1.0).interval_s == 0.5
    dog = LoopLagWatchdog(loop, threshold_s=1.0)
    beats = []
    beat = dog._beat
    dog._beat = lambda: beats.append(time.monotonic()) or beat()
    dog.start()
    try:
        await asyncio.sleep(1.1)
    finally:
        dog.stop()
    assert 1 <= len(beats) <= 3  # was 11 (every 0.1 s)

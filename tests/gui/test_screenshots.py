"""The roster as people see it (issue 15): light, dark, 800 px, 1600 px and 200 % scale, each
in its own process (the scale and the screen apply from the start, as for the real app). The
pictures go to tests/artifacts/ and are looked at; the test checks what can be checked: the
window fits the screen it opens on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def shoot(tmp_path: Path, out: Path, *args: str, screen=(1920, 1200), scale: float | None = None) -> dict:
    config = tmp_path / f"screen-{screen[0]}x{screen[1]}.json"
    config.write_text(json.dumps({"screens": [{"name": "s1", "x": 0, "y": 0, "width": screen[0], "height": screen[1],
                                               "logicalDpi": 96, "dpr": 1}]}))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": f"offscreen:configfile={config}"}
    env.pop("QT_SCALE_FACTOR", None)
    if scale:
        env["QT_SCALE_FACTOR"] = str(scale)
    proc = subprocess.run([sys.executable, "-m", "tests.gui.shots", str(out), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"window (\d+)x(\d+) frame (\d+)x(\d+) screen (\d+)x(\d+) dpr ([\d.]+)", proc.stdout)
    assert m, proc.stdout
    w, h, fw, fh, sw, sh = map(int, m.groups()[:6])
    assert out.exists()
    return {"w": w, "h": h, "fw": fw, "fh": fh, "sw": sw, "sh": sh, "dpr": float(m.group(7))}


@pytest.mark.parametrize("name, args, screen", [
    ("roster-light", (), (1920, 1200)),
    ("roster-dark", ("--dark",), (1920, 1200)),
    ("roster-800px", ("--width", "800"), (1920, 1200)),
    ("roster-1600px", ("--width", "1600"), (1920, 1200)),
    ("roster-hostile-text", ("--hostile",), (1920, 1200)),
    ("roster-light-bars", ("--bars",), (1920, 1200)),
    ("roster-dark-bars", ("--dark", "--bars"), (1920, 1200)),
])
def test_roster_screenshots(tmp_path, artifacts_dir, name, args, screen):
    got = shoot(tmp_path, artifacts_dir / f"{name}.png", *args, screen=screen)
    assert got["fw"] <= got["sw"] and got["fh"] <= got["sh"]


def test_at_200_percent_the_window_opens_within_the_screen(tmp_path, artifacts_dir):
    """It opened 2080x1440 on a 1600x1000 screen (device pixels): 1040x720 logical at 2x."""
    got = shoot(tmp_path, artifacts_dir / "roster-200pct.png", screen=(1600, 1000), scale=2)
    assert got["dpr"] == 2.0 and (got["sw"], got["sh"]) == (800, 500)
    assert got["fw"] <= 800 and got["fh"] <= 500, got

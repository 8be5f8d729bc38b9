"""Build the relay's Lambda deployment package (a zip) for packaging/cloudformation/presence.yaml.

    python packaging/cloudformation/build_relay_zip.py [--arch arm64|x86_64] [--out dist] [--no-deps]

The zip holds the parts of the ``presence_desktop`` package the relay imports (``RELAY_PARTS``:
domain, net, events_api, relay, and of resources only the status catalogue it validates against; no
Qt app, client, devstack, icons, tests or caches), plus the relay's third-party dependencies (the
``relay`` extra of pyproject.toml) as Linux wheels for the Lambda architecture and Python version
(``pip install --platform manylinux2014_<arch> --only-binary=:all:``). boto3/botocore are left
out: the Lambda Python runtime ships them (the relay uses botocore only). The file is named ``relay-<sha256 prefix>.zip`` from its
content and built reproducibly (sorted entries, fixed timestamps), so the same sources give the
same S3 key and a changed build a new one (CloudFormation then updates the function).

Prints the zip's path. Raises ``SystemExit`` with pip's message when a dependency has no wheel.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "presence_desktop"
LAMBDA_PYTHON = "3.12"  # the template's Runtime: python3.12
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
PROVIDED_BY_RUNTIME = {"boto3", "botocore"}
# What the relay imports (tests/packaging/test_build_relay_zip.py runs the handler from the zip).
RELAY_PARTS = ("__init__.py", "py.typed", "domain", "net", "events_api", "relay", "resources/__init__.py",
               "resources/statuses.json")
FIXED_TIME = (2020, 1, 1, 0, 0, 0)
_SKIP_PARTS = {"__pycache__", ".pytest_cache"}


def relay_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """Requirement strings the relay needs at run time, minus what the Lambda runtime provides."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    wanted = list(project["optional-dependencies"]["relay"])
    seen: set[str] = set()
    result = []
    for requirement in wanted:
        name = _name(requirement)
        if name in PROVIDED_BY_RUNTIME or name in seen:
            continue
        seen.add(name)
        result.append(requirement)
    return result


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _files(base: Path) -> list[tuple[Path, str]]:
    out = []
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base)
        if path.is_dir() or _SKIP_PARTS.intersection(rel.parts) or path.suffix in {".pyc", ".pyo"}:
            continue
        out.append((path, rel.as_posix()))
    return out


def build(out_dir: Path, arch: str = "arm64", with_deps: bool = True) -> Path:
    """Build the zip into ``out_dir`` and return its path."""
    if arch not in PLATFORMS:
        raise ValueError(f"arch must be one of {sorted(PLATFORMS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="relay-zip-") as tmp:
        staging = Path(tmp) / "staging"
        staging.mkdir()
        if with_deps:
            cmd = [
                sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
                "--target", str(staging),
                "--platform", PLATFORMS[arch], "--implementation", "cp",
                "--python-version", LAMBDA_PYTHON, "--only-binary=:all:",
                *relay_requirements(),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"pip could not fetch the relay's dependencies:\n{proc.stderr.strip()}")
            for name in PROVIDED_BY_RUNTIME:  # pulled in transitively; the runtime has them
                for leftover in staging.glob(f"{name}*"):
                    shutil.rmtree(leftover, ignore_errors=True)
        for part in RELAY_PARTS:
            source, target = PACKAGE / part, staging / "presence_desktop" / part
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
        unnamed = Path(tmp) / "relay.zip"
        with zipfile.ZipFile(unnamed, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path, arcname in _files(staging):
                info = zipfile.ZipInfo(arcname, date_time=FIXED_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
        digest = hashlib.sha256(unnamed.read_bytes()).hexdigest()[:16]
        final = out_dir / f"relay-{arch}-{digest}.zip"
        shutil.move(str(unnamed), final)
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="arm64", help="must match RelayArchitecture")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--no-deps", action="store_true", help="only presence_desktop (offline; for tests)")
    args = parser.parse_args(argv)
    print(build(args.out, args.arch, with_deps=not args.no_deps))
    return 0


if __name__ == "__main__":
    sys.exit(main())

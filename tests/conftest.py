"""Shared fixtures. Each area keeps its fixtures in ``tests/fixtures/<area>.py`` (a pytest plugin),
so that the events server, Cognito, relay and devstack fixtures can be used by any test."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never let a developer's real AWS credentials or config leak into the tests.
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(_var, None)
os.environ.setdefault("AWS_CONFIG_FILE", os.devnull)
os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", os.devnull)

pytest_plugins = [
    "tests.fixtures.common",
    "tests.fixtures.cognito",
    "tests.fixtures.relay",
    "tests.fixtures.events",
]

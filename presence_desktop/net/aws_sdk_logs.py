"""Keep the AWS SDK's loggers from writing secrets: the one place that sets their level."""

from __future__ import annotations

import logging


def quiet_aws_sdk_logs() -> None:
    """Keep botocore/boto3 at INFO unless someone configured them on purpose: at DEBUG they log
    every canonical request and signature (``botocore.auth``), request headers
    (``botocore.endpoint``: ``X-Amz-Security-Token``, replayable SigV4 signatures) and request
    and response bodies (Cognito's SRP proofs and tokens). Call it before the first SDK client."""
    for name in ("botocore", "boto3"):
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.INFO)


__all__ = ["quiet_aws_sdk_logs"]

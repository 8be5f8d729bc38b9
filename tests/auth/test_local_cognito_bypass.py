"""The local Cognito must not hand out tokens without the SRP password proof, by any route."""

from __future__ import annotations

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.fixtures.cognito import srp_sign_in


@pytest.mark.parametrize(
    "challenge, responses",
    [
        ("NEW_PASSWORD_REQUIRED", {"NEW_PASSWORD": "Taken-over-1!"}),
        ("SMS_MFA", {"SMS_MFA_CODE": "123456"}),
        ("MFA_SETUP", {}),
        ("SOFTWARE_TOKEN_MFA", {"SOFTWARE_TOKEN_MFA_CODE": "123456"}),
        ("SELECT_MFA_TYPE", {"ANSWER": "SOFTWARE_TOKEN_MFA"}),
    ],
)
def test_the_srp_session_cannot_skip_the_password_proof(local_cognito, new_user, challenge, responses):
    victim = new_user()
    client = boto3.client("cognito-idp", region_name=local_cognito.region, endpoint_url=local_cognito.endpoint,
                          config=Config(signature_version=UNSIGNED))
    # Start an SRP sign-in for someone else's username: no password needed for this step.
    started = client.initiate_auth(AuthFlow="USER_SRP_AUTH", ClientId=local_cognito.client_id,
                                   AuthParameters={"USERNAME": victim.username, "SRP_A": "ab" * 192})
    assert started["ChallengeName"] == "PASSWORD_VERIFIER"
    # Answer another challenge with the session instead of the password proof.
    with pytest.raises(ClientError) as err:
        client.respond_to_auth_challenge(
            ClientId=local_cognito.client_id, ChallengeName=challenge, Session=started["Session"],
            ChallengeResponses={"USERNAME": victim.username, **responses},
        )
    assert err.value.response["Error"]["Code"] == "NotAuthorizedException"
    # Nothing changed: the victim still signs in with the own password.
    assert srp_sign_in(local_cognito, victim.username, victim.password)["id_token"]

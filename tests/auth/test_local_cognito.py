"""The local Cognito: real SRP check on top of moto, pool shape, JWKS, issuer, demo users."""

from __future__ import annotations

import base64
import json
import urllib.request

import jwt
import pytest
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP

from presence_desktop.devstack.cognito import LocalCognito
from tests.fixtures.cognito import srp_sign_in


def test_right_password_signs_in_with_groups_team_and_aws_issuer(local_cognito: LocalCognito) -> None:
    tokens = srp_sign_in(local_cognito, "agent-2")
    jwks = json.loads(urllib.request.urlopen(local_cognito.jwks_url, timeout=10).read())
    key = jwt.PyJWKSet.from_dict(jwks).keys[0].key
    claims = jwt.decode(tokens["id_token"], key, algorithms=["RS256"], audience=local_cognito.client_id,
                        issuer=local_cognito.issuer)
    assert local_cognito.issuer == f"https://cognito-idp.us-east-1.amazonaws.com/{local_cognito.user_pool_id}"
    assert claims["cognito:username"] == "agent-2"
    assert claims["cognito:groups"] == ["support_agents"]
    assert claims["custom:team_id"] == "team-2"


def test_supervisors_teams_are_in_the_id_token_only(local_cognito: LocalCognito) -> None:
    """custom:supervises (docs/teams.md) rides in the id token; the access token carries groups only."""
    tokens = srp_sign_in(local_cognito, "sup-1")
    id_claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    access_claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert id_claims["cognito:groups"] == ["supervisors"] and id_claims["custom:supervises"] == "team-1,team-2"
    assert access_claims["cognito:groups"] == ["supervisors"] and "custom:supervises" not in access_claims


@pytest.mark.parametrize("name, value", [("name", "Supervisor Bob"), ("preferred_username", "Supervisor Bob"),
                                         ("custom:team_id", "team-9"), ("custom:supervises", "team-1,team-2,team-3")])
def test_users_cannot_write_what_others_see_or_what_authorizes(local_cognito: LocalCognito, name, value) -> None:
    tokens = srp_sign_in(local_cognito, "agent-3")
    idp = local_cognito.admin_client()
    with pytest.raises(ClientError) as info:
        idp.update_user_attributes(AccessToken=tokens["access_token"], UserAttributes=[{"Name": name, "Value": value}])
    assert info.value.response["Error"]["Code"] == "NotAuthorizedException"
    user = idp.admin_get_user(UserPoolId=local_cognito.user_pool_id, Username="agent-3")
    attrs = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attrs.get(name) != value
    # What the app client does allow still works.
    idp.update_user_attributes(AccessToken=tokens["access_token"], UserAttributes=[{"Name": "zoneinfo", "Value": "Europe/Paris"}])


@pytest.mark.parametrize("password", ["Wrong-Password-1!", "", "x"])
def test_wrong_password_is_refused(local_cognito: LocalCognito, password: str) -> None:
    with pytest.raises(ClientError) as err:
        srp_sign_in(local_cognito, "agent-1", password or "nope")
    assert err.value.response["Error"]["Code"] == "NotAuthorizedException"


def test_other_users_password_is_refused(local_cognito: LocalCognito) -> None:
    with pytest.raises(ClientError) as err:
        srp_sign_in(local_cognito, "agent-1", local_cognito.user("agent-3").password)
    assert err.value.response["Error"]["Code"] == "NotAuthorizedException"


def test_tampered_proof_and_replayed_secret_block_are_refused(local_cognito: LocalCognito) -> None:
    u = local_cognito.user("agent-4")
    client = local_cognito.admin_client()
    srp = AWSSRP(u.username, u.password, local_cognito.user_pool_id, local_cognito.client_id, client=client)
    params = srp.get_auth_params()
    challenge = client.initiate_auth(AuthFlow="USER_SRP_AUTH", AuthParameters=params, ClientId=local_cognito.client_id)
    answer = srp.process_challenge(challenge["ChallengeParameters"], params)
    sig = bytearray(base64.b64decode(answer["PASSWORD_CLAIM_SIGNATURE"]))
    sig[0] ^= 1
    bad = dict(answer, PASSWORD_CLAIM_SIGNATURE=base64.b64encode(bytes(sig)).decode())
    with pytest.raises(ClientError) as err:
        client.respond_to_auth_challenge(ClientId=local_cognito.client_id, ChallengeName="PASSWORD_VERIFIER",
                                         ChallengeResponses=bad)
    assert err.value.response["Error"]["Code"] == "NotAuthorizedException"
    # the challenge is single-use: even the right proof cannot reuse it
    with pytest.raises(ClientError) as err:
        client.respond_to_auth_challenge(ClientId=local_cognito.client_id, ChallengeName="PASSWORD_VERIFIER",
                                         ChallengeResponses=answer)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_localised_timestamp_is_refused(local_cognito: LocalCognito) -> None:
    u = local_cognito.user("agent-5")
    client = local_cognito.admin_client()
    srp = AWSSRP(u.username, u.password, local_cognito.user_pool_id, local_cognito.client_id, client=client)
    srp.get_cognito_formatted_timestamp = lambda dt: "So Nov 29 20:05:13 UTC 2026"  # German day name
    params = srp.get_auth_params()
    challenge = client.initiate_auth(AuthFlow="USER_SRP_AUTH", AuthParameters=params, ClientId=local_cognito.client_id)
    answer = srp.process_challenge(challenge["ChallengeParameters"], params)
    with pytest.raises(ClientError) as err:
        client.respond_to_auth_challenge(ClientId=local_cognito.client_id, ChallengeName="PASSWORD_VERIFIER",
                                         ChallengeResponses=answer)
    assert err.value.response["Error"]["Code"] == "NotAuthorizedException"


def test_demo_users_and_ready_info(local_cognito: LocalCognito) -> None:
    info = local_cognito.ready_info()
    assert set(info["cognito"]) == {"endpoint", "region", "user_pool_id", "client_id", "jwks_url", "issuer", "password_policy"}
    assert info["cognito"]["endpoint"].startswith("http://127.0.0.1:")
    users = {u["username"]: u for u in info["users"]}
    assert users["sup-1"]["groups"] == ["supervisors"] and users["sup-1"]["team_id"] == "team-1"
    assert users["outsider"]["groups"] == [] and users["outsider"]["team_id"] is None
    agents = [u for n, u in users.items() if n.startswith("agent-")]
    assert len(agents) == 40
    assert {u["team_id"] for u in agents} == {"team-1", "team-2", "team-3", "team-4"}
    assert all(u["groups"] == ["support_agents"] for u in agents)
    client = local_cognito.admin_client().describe_user_pool_client(
        UserPoolId=local_cognito.user_pool_id, ClientId=local_cognito.client_id)["UserPoolClient"]
    assert "ClientSecret" not in client
    assert set(client["ExplicitAuthFlows"]) == {"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}


def test_outsider_token_has_no_groups(cognito_tokens) -> None:
    claims = jwt.decode(cognito_tokens("outsider")["id_token"], options={"verify_signature": False})
    assert "cognito:groups" not in claims
    assert claims["cognito:username"] == "outsider"


async def test_devstack_starts_cognito_and_writes_ready_file(tmp_path) -> None:
    from presence_desktop.devstack.stack import DevStack, StackOptions

    stack = DevStack(StackOptions(state_dir=tmp_path, tls=False, extra={"demo_agents": 3}))
    try:
        await stack._start_cognito()
        stack.write_ready_file(tmp_path / "ready.json")
        info = json.loads((tmp_path / "ready.json").read_text())
        assert info["cognito"]["user_pool_id"] == stack.cognito.user_pool_id
        assert [u["username"] for u in info["users"]] == ["sup-1", "sup-2", "mgr-1", "agent-1", "agent-2", "agent-3", "outsider"]
        sup = info["users"][0]
        tokens = srp_sign_in(stack.cognito, "sup-1", sup["password"])
        assert jwt.decode(tokens["id_token"], options={"verify_signature": False})["cognito:groups"] == ["supervisors"]
    finally:
        await stack.stop()
    assert stack.cognito is None


def test_id_token_carries_the_display_name_as_the_aws_app_client_reads_it(local_cognito: LocalCognito) -> None:
    """Regression: the local app client read only custom:team_id and email, so a user's `name`
    never reached the id token and the roster showed ids where the AWS stack shows names."""
    user = local_cognito.create_user("named-agent-1", groups=("support_agents",), team_id="team-3",
                                     attributes={"name": "Grace Hopper"})
    tokens = srp_sign_in(local_cognito, user.username, user.password)
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["name"] == "Grace Hopper"
    assert claims["custom:team_id"] == "team-3"


def _user_client(local_cognito: LocalCognito):
    import botocore.session
    from botocore import UNSIGNED
    from botocore.config import Config

    return botocore.session.get_session().create_client(
        "cognito-idp", region_name=local_cognito.region, endpoint_url=local_cognito.endpoint,
        config=Config(signature_version=UNSIGNED))


def test_an_agent_cannot_write_its_own_team_as_aws_refuses_it(local_cognito: LocalCognito) -> None:
    """moto ignored the app client's WriteAttributes: an agent set its own custom:team_id to
    another team, refreshed, and the relay served that team's roster. AWS refuses the write."""
    user = local_cognito.create_user("mover-1", groups=("support_agents",), team_id="team-1")
    tokens = srp_sign_in(local_cognito, user.username, user.password)
    idp = _user_client(local_cognito)
    with pytest.raises(ClientError) as err:
        idp.update_user_attributes(AccessToken=tokens["access_token"],
                                   UserAttributes=[{"Name": "custom:team_id", "Value": "team-2"}])
    assert err.value.response["Error"]["Code"] == "NotAuthorizedException"
    assert "unauthorized attribute" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError):  # one forbidden attribute refuses the whole call
        idp.update_user_attributes(AccessToken=tokens["access_token"], UserAttributes=[
            {"Name": "zoneinfo", "Value": "Europe/Berlin"}, {"Name": "custom:team_id", "Value": "team-2"}])
    with pytest.raises(ClientError):  # nor a name others would see (docs/teams.md)
        idp.update_user_attributes(AccessToken=tokens["access_token"], UserAttributes=[{"Name": "name", "Value": "Boss"}])
    idp.update_user_attributes(AccessToken=tokens["access_token"],
                               UserAttributes=[{"Name": "zoneinfo", "Value": "Europe/Berlin"}])
    refreshed = idp.initiate_auth(AuthFlow="REFRESH_TOKEN_AUTH", ClientId=local_cognito.client_id,
                                  AuthParameters={"REFRESH_TOKEN": tokens["refresh_token"]})["AuthenticationResult"]
    claims = jwt.decode(refreshed["IdToken"], options={"verify_signature": False})
    assert claims["custom:team_id"] == "team-1" and "name" not in claims


def test_the_id_token_carries_only_custom_attributes_the_app_client_may_read(local_cognito: LocalCognito) -> None:
    admin = local_cognito.admin_client()
    try:
        admin.add_custom_attributes(UserPoolId=local_cognito.user_pool_id, CustomAttributes=[
            {"Name": "secret_note", "AttributeDataType": "String", "Mutable": True}])
    except ClientError:
        pass  # added by an earlier run in this session
    user = local_cognito.create_user("noted-1", groups=("support_agents",), team_id="team-1",
                                     attributes={"custom:secret_note": "hidden"})
    claims = jwt.decode(srp_sign_in(local_cognito, user.username, user.password)["id_token"],
                        options={"verify_signature": False})
    assert "custom:secret_note" not in claims and claims["custom:team_id"] == "team-1"
    access = srp_sign_in(local_cognito, user.username, user.password)["access_token"]
    shown = {a["Name"]: a["Value"] for a in _user_client(local_cognito).get_user(AccessToken=access)["UserAttributes"]}
    assert "custom:secret_note" not in shown and shown["custom:team_id"] == "team-1" and "sub" in shown


def test_usernames_are_case_insensitive_as_the_template_declares(local_cognito: LocalCognito) -> None:
    """The template's pool is CaseSensitive: false; the local one matched usernames exactly."""
    user = local_cognito.create_user("case-agent-1", groups=("support_agents",), team_id="team-4")
    tokens = srp_sign_in(local_cognito, "CASE-Agent-1", user.password)
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["cognito:username"] == "case-agent-1"
    with pytest.raises(ClientError) as err:
        local_cognito.create_user("Case-Agent-1", groups=("support_agents",), team_id="team-4")
    assert err.value.response["Error"]["Code"] == "UsernameExistsException"


def test_the_pool_rules_come_from_the_template() -> None:
    from presence_desktop.devstack.cognito import FALLBACK_POOL_RULES, TEMPLATE, template_pool_rules

    assert TEMPLATE.exists()
    rules = template_pool_rules()
    assert "custom:team_id" in rules.read_attributes and "custom:team_id" not in rules.write_attributes
    assert rules.case_sensitive is False
    assert template_pool_rules(TEMPLATE.with_name("no-such-template.yaml")) == FALLBACK_POOL_RULES

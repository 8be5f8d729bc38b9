"""Wire format of the AppSync Events protocol (docs/appsync-events-protocol.md sections 2.1, 3)."""

import base64
import json

import pytest

from presence_desktop.events_api import protocol as p
from presence_desktop.events_api.channels import ChannelError


def test_auth_subprotocol_is_unpadded_base64url_of_compact_json():
    headers = {"host": "abc.appsync-api.eu-west-1.amazonaws.com", "x-api-key": "da2-xyz"}
    value = p.encode_auth_subprotocol(headers)
    assert value.startswith("header-")
    b64 = value[len("header-"):]
    assert "=" not in b64 and "+" not in b64 and "/" not in b64
    raw = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
    assert raw == b'{"host":"abc.appsync-api.eu-west-1.amazonaws.com","x-api-key":"da2-xyz"}'
    assert p.decode_auth_subprotocol(value) == headers


def test_auth_subprotocol_uses_urlsafe_alphabet():
    # '?>' encodes to '/' and '+' in standard base64; both are not HTTP token characters.
    value = p.encode_auth_subprotocol({"k": "??>>>"})
    assert "-" in value[7:] or "_" in value[7:]
    assert p.decode_auth_subprotocol(value) == {"k": "??>>>"}


def test_subprotocols_offer_the_event_protocol_first():
    assert p.subprotocols_for({"a": "b"})[0] == "aws-appsync-event-ws"
    assert p.subprotocols_for({"a": "b"})[1].startswith("header-")


@pytest.mark.parametrize("bad", ["nope", "header-!!!", "header-" + base64.urlsafe_b64encode(b"[1]").decode()])
def test_decode_auth_subprotocol_refuses_garbage(bad):
    with pytest.raises(p.ProtocolError):
        p.decode_auth_subprotocol(bad)


def test_client_frames_are_exact():
    assert p.connection_init_frame() == '{"type":"connection_init"}'
    assert json.loads(p.subscribe_frame("s1", "/ns/a", {"x-api-key": "k"})) == {
        "type": "subscribe", "id": "s1", "channel": "/ns/a", "authorization": {"x-api-key": "k"}}
    assert p.unsubscribe_frame("s1") == '{"type":"unsubscribe","id":"s1"}'
    assert json.loads(p.publish_frame("p1", "/ns/a", ['{"a":1}'], {"h": "v"})) == {
        "type": "publish", "id": "p1", "channel": "/ns/a", "events": ['{"a":1}'], "authorization": {"h": "v"}}


def test_signed_bodies_are_compact_and_keep_unicode():
    assert p.CONNECT_BODY == "{}"
    assert p.subscribe_body("/ns/a") == '{"channel":"/ns/a"}'
    assert p.publish_body("/ns/a", ['{"n":"é"}']) == '{"channel":"/ns/a","events":["{\\"n\\":\\"é\\"}"]}'


def test_serialize_events_limits():
    assert p.serialize_events([{"a": 1}, "x", 3]) == ['{"a":1}', '"x"', "3"]
    with pytest.raises(ValueError, match="1-5"):
        p.serialize_events([])
    with pytest.raises(ValueError, match="1-5"):
        p.serialize_events([1] * 6)
    with pytest.raises(ValueError, match="240"):
        p.serialize_events(["x" * (240 * 1024)])
    with pytest.raises(ValueError, match="serializable"):
        p.serialize_events([object()])
    with pytest.raises(ValueError):
        p.serialize_events("abc")


def test_channels_are_validated_via_channel_rules():
    assert p.validate_subscribe_channel("agent-presence/*").path == "/agent-presence/*"
    with pytest.raises(ChannelError):
        p.validate_publish_channel("/agent-presence/*")
    with pytest.raises(ChannelError):
        p.validate_subscribe_channel("/a b/c")


def test_decode_data_frame_and_parse_event():
    frame = p.decode_server_frame('{"type":"data","id":"s1","event":"{\\"v\\":1}"}')
    assert (frame.type, frame.id, frame.event) == ("data", "s1", {"v": 1})


def test_data_event_as_a_one_element_list_is_accepted():
    # The shape of one example on AWS's protocol page; AWS's clients read a string.
    frame = p.decode_server_frame('{"type":"data","id":"s1","event":["{\\"v\\":1}"]}')
    assert frame.event == {"v": 1}
    for bad in ('[]', '["{}","{}"]', '[{"v":1}]'):
        with pytest.raises(p.MalformedFrame, match="string 'event'"):
            p.decode_server_frame('{"type":"data","id":"s1","event":' + bad + '}')


def test_data_event_that_is_not_json_is_malformed_on_access():
    frame = p.decode_server_frame('{"type":"data","id":"s1","event":"not json"}')
    with pytest.raises(p.MalformedFrame, match="not JSON"):
        _ = frame.event


@pytest.mark.parametrize("raw, match", [
    ("{not json", "invalid JSON"),
    ("[1,2]", "not a JSON object"),
    ('{"id":"x"}', "type"),
    ('{"type":"surprise"}', "unknown frame type"),
    ('{"type":"data","event":"{}"}', "without an 'id'"),
    ('{"type":"data","id":"s"}', "string 'event'"),
    ('{"type":"subscribe_success","id":5}', "non-string"),
    (b"\x00\x01", "binary"),
])
def test_malformed_server_frames_raise_clear_errors(raw, match):
    with pytest.raises(p.MalformedFrame, match=match) as info:
        p.decode_server_frame(raw)
    assert len(info.value.raw_preview) <= 200


def test_malformed_preview_is_truncated():
    with pytest.raises(p.MalformedFrame) as info:
        p.decode_server_frame("{" + "x" * 10_000)
    assert len(info.value.raw_preview) == 200


@pytest.mark.parametrize("raw, expected", [
    ('{"type":"connection_ack","connectionTimeoutMs":10000}', 10000),
    ('{"type":"connection_ack","payload":{"connectionTimeoutMs":7000}}', 7000),
    ('{"type":"connection_ack"}', 300000),
    ('{"type":"connection_ack","connectionTimeoutMs":-5}', 300000),
    ('{"type":"connection_ack","connectionTimeoutMs":"9"}', 300000),
])
def test_connection_timeout_from_ack(raw, expected):
    assert p.decode_server_frame(raw).connection_timeout_ms == expected


def test_errors_are_parsed_and_auth_errors_recognized():
    frame = p.decode_server_frame(
        '{"type":"subscribe_error","id":"s","errors":[{"errorType":"Unauthorized","message":"no"}]}')
    assert frame.errors[0].error_type == "Unauthorized" and frame.is_auth_error
    other = p.decode_server_frame(
        '{"type":"subscribe_error","id":"s","errors":[{"errorType":"MaxSubscriptionsReachedError"}]}')
    assert not other.is_auth_error
    coded = p.decode_server_frame('{"type":"connection_error","errors":[{"errorType":"X","errorCode":401}]}')
    assert coded.is_auth_error


def test_bare_errors_object_is_an_error_frame():
    frame = p.decode_server_frame('{"errors":[{"errorType":"BadRequestException","message":"signature"}]}')
    assert frame.type == "error" and frame.is_auth_error


@pytest.mark.parametrize("http, realtime", [
    ("https://abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-1.amazonaws.com/event",
     "wss://abcdefghijklmnopqrstuvwxyz.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime"),
    ("https://x.appsync-api.cn-north-1.amazonaws.com.cn/event",
     "wss://x.appsync-realtime-api.cn-north-1.amazonaws.com.cn/event/realtime"),
    ("https://events.example.com/event", "wss://events.example.com/event/realtime"),
    ("https://127.0.0.1:8443/event", "wss://127.0.0.1:8443/event/realtime"),
    ("http://127.0.0.1:8080/event", "ws://127.0.0.1:8080/event/realtime"),
])
def test_realtime_url_for(http, realtime):
    assert p.realtime_url_for(http) == realtime


@pytest.mark.parametrize("bad", ["ftp://x/event", "https://x/graphql", "https://x/event?a=1", "/event"])
def test_realtime_url_for_refuses_other_urls(bad):
    with pytest.raises(ValueError):
        p.realtime_url_for(bad)


@pytest.mark.parametrize("obj, parts", [
    ({"type": "data", "id": "s1", "event": "{}"}, ("s1", "{}")),
    ({"type": "data", "id": "s1", "event": ["{}"]}, None),   # accepted, but by the full check
    ({"type": "data", "id": "", "event": "{}"}, None),
    ({"type": "data", "event": "{}"}, None),
    ({"type": "data", "id": 1, "event": "{}"}, None),
    ({"type": "data", "id": "s1", "event": {}}, None),
    ({"type": "ka"}, None),
    (["data"], None),
])
def test_data_frame_parts_takes_only_well_formed_data_frames(obj, parts):
    assert p.data_frame_parts(obj) == parts
    if parts is not None:
        frame = p.frame_from_object(obj)
        assert (frame.id, frame.event_text) == parts

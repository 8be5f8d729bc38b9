import pytest

from presence_desktop.events_api.channels import ChannelError, parse_channel


@pytest.mark.parametrize("raw, path", [("default/x", "/default/x"), ("/default/x", "/default/x"),
                                        ("/a/b/c/d/e", "/a/b/c/d/e"), ("/agent-presence/*", "/agent-presence/*")])
def test_valid_channels_normalize_to_a_leading_slash(raw, path):
    assert parse_channel(raw, allow_wildcard=True).path == path


@pytest.mark.parametrize("raw", ["", "/", "/a//b", "/a/b/c/d/e/f", "/-a/b", "/a/b-", "/a/b_c", "/a/" + "x" * 51,
                                 "/*", "/a/*/b", "/a/b*", 7])
def test_invalid_channels_are_refused(raw):
    with pytest.raises(ChannelError):
        parse_channel(raw, allow_wildcard=True)


def test_segment_of_50_chars_is_the_limit():
    assert parse_channel("/a/" + "x" * 50, allow_wildcard=False)


def test_wildcards_only_to_subscribe():
    with pytest.raises(ChannelError, match="only to subscribe"):
        parse_channel("/default/*", allow_wildcard=False)


def test_wildcard_matching_depth_is_a_switch():
    sub = parse_channel("/ns/a/*", allow_wildcard=True)
    deep = parse_channel("/ns/a/b/c", allow_wildcard=False)
    one = parse_channel("/ns/a/b", allow_wildcard=False)
    assert sub.matches(one) and sub.matches(deep)
    assert not sub.matches(deep, any_depth=False) and sub.matches(one, any_depth=False)
    assert not sub.matches(parse_channel("/ns/a", allow_wildcard=False))
    assert not sub.matches(parse_channel("/ns/ab/c", allow_wildcard=False))

"""The URL guard for webhooks and Slack (core/deliveries/outbound.py) and its settings, without a network."""
from __future__ import annotations

import re

import pytest

from core.deliveries import outbound
from core.ops.settings import SettingsError, load_settings


@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("192.168.0.1", "private"), ("fd12::1", "private"),
    ("169.254.169.254", "cloud metadata"), ("fd00:ec2::254", "cloud metadata"), ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"), ("::ffff:10.0.0.1", "private"), ("::ffff:127.0.0.1", "loopback"),
    ("0.0.0.0", "private"), ("100.64.0.1", "non-public"), ("224.0.0.1", "multicast"),
    ("240.0.0.1", "private"), ("8.8.8.8", None), ("2606:4700:4700::1111", None),
])
def test_address_kinds(address, kind):
    assert outbound.address_kind(address) == kind


@pytest.mark.parametrize("url, problem", [
    ("hooks.example.com/x", "absolute https:// URL"), ("ftp://example.com/", "absolute https:// URL"),
    ("https://u:p@example.com/", "user name or password"), ("https://example.com:99999/", "port"),
    ("https://example.com/a b", "spaces"), ("https://example.com/#frag", "fragment"),
    ("https://example.com/" + "a" * 2048, "at most 2048"),
], ids=["no-scheme", "ftp", "credentials", "bad-port", "space", "fragment", "too-long"])
def test_malformed_urls_are_refused_before_any_lookup(url, problem):
    assert problem in outbound.syntax_error(url)
    with pytest.raises(outbound.UnsafeUrl, match=re.escape(problem)) as raised:
        outbound.check(url, allow_loopback=True)
    assert not raised.value.transient


def test_http_and_loopback_only_with_the_development_setting():
    with pytest.raises(outbound.UnsafeUrl, match="must be an https:// URL"):
        outbound.check("http://127.0.0.1:9/x", allow_loopback=False)
    with pytest.raises(outbound.UnsafeUrl, match="resolves to 127.0.0.1, a loopback address"):
        outbound.check("https://127.0.0.1:9/x", allow_loopback=False)
    destination = outbound.check("http://127.0.0.1:9/x?a=1", allow_loopback=True)
    assert (destination.addresses, destination.port, destination.path) == (("127.0.0.1",), 9, "/x?a=1")
    with pytest.raises(outbound.UnsafeUrl, match="a private address"):  # the setting allows loopback only
        outbound.check("http://10.0.0.1/x", allow_loopback=True)


def test_the_loopback_setting_is_refused_in_production():
    assert load_settings({"WEBHOOK_ALLOW_LOOPBACK": "true"}).webhook_allow_loopback is True
    assert load_settings({}).webhook_allow_loopback is False
    with pytest.raises(SettingsError, match="WEBHOOK_ALLOW_LOOPBACK=true is for development only"):
        load_settings({"WEBHOOK_ALLOW_LOOPBACK": "true", "ENVIRONMENT": "production"})
    with pytest.raises(SettingsError, match="WEBHOOK_ALLOW_LOOPBACK must be true or false"):
        load_settings({"WEBHOOK_ALLOW_LOOPBACK": "maybe"})
    with pytest.raises(SettingsError, match="WEBHOOK_TIMEOUT"):
        load_settings({"WEBHOOK_TIMEOUT": "0"})

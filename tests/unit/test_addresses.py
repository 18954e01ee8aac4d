"""core/addresses.py: IPv6 forms that carry a non-public IPv4 address are refused, the IPv4 address
inside judged by the standard library's rules; the same forms around a public IPv4 address pass."""
from __future__ import annotations

import pytest

from core import addresses
from core.deliveries import outbound


@pytest.mark.parametrize("address, kind", [
    ("2002:7f00:1::", "6to4 loopback"),                      # 6to4 of 127.0.0.1 (issue 29's probe)
    ("2002:a00:1::1", "6to4 private"),                       # 6to4 of 10.0.0.1
    ("2002:a9fe:a9fe::", "6to4 cloud metadata"),             # 6to4 of 169.254.169.254
    ("2002:6440:1::", "6to4 non-public"),                    # 6to4 of 100.64.0.1 (shared)
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo loopback"),  # client 127.0.0.1 (stored inverted)
    ("2001:0:a00:1::", "Teredo private"),                    # Teredo server 10.0.0.1
    ("64:ff9b::7f00:1", "NAT64 loopback"), ("64:ff9b::a9fe:a9fe", "NAT64 cloud metadata"),
    ("64:ff9b::c0a8:1", "NAT64 private"), ("64:ff9b:1::808:808", "NAT64 local-use"),
    ("::7f00:1", "IPv4-compatible loopback"), ("::a00:1", "IPv4-compatible private"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "cloud metadata"),
    ("::", "private"), ("::1", "loopback"),
])
def test_ipv6_forms_of_non_public_ipv4_addresses_are_refused(address, kind):
    assert addresses.non_public_kind(address) == kind
    assert outbound.address_kind(address) == kind


@pytest.mark.parametrize("address", ["2002:808:808::1", "64:ff9b::808:808", "::ffff:8.8.8.8", "8.8.8.8",
                                     "2606:4700:4700::1111"])
def test_the_same_forms_of_a_public_ipv4_address_pass(address):
    assert addresses.non_public_kind(address) is None


def test_teredo_is_refused_even_around_public_addresses():
    # 2001::/32 lies in 2001::/23, which the standard library counts as not global.
    assert addresses.non_public_kind("2001:0:808:808:8000:63bf:f7f7:f7f7") == "private"


def test_embedded_addresses_are_found_in_each_form():
    found = addresses.embedded_ipv4(addresses.IPv6("2001:0:4136:e378:8000:63bf:80ff:fffe"))
    assert [(form, str(ip)) for form, ip in found] == [("Teredo", "65.54.227.120"), ("Teredo", "127.0.0.1")]
    assert addresses.embedded_ipv4(addresses.IPv6("2606:4700::1")) == []


def test_a_6to4_url_of_loopback_is_refused_even_where_loopback_is_allowed():
    with pytest.raises(outbound.UnsafeUrl, match=r"resolves to 2002:7f00:1::, a 6to4 loopback address"):
        outbound.check("https://[2002:7f00:1::]/", allow_loopback=True)

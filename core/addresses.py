"""Is an IP address one the service may connect to on a tenant's behalf? The rules of the SSRF guard
(core/deliveries/outbound.py), with no network involved.

An address is public when the standard library's `ipaddress` says it is global and not one of the
special kinds below. IPv6 has forms that carry an IPv4 address inside, and a packet to them can end at
that IPv4 address (through a 6to4 relay, a Teredo server, a NAT64 gateway, or a stack that treats
IPv4-mapped and IPv4-compatible addresses as IPv4): `2002:7f00:1::` is 6to4 for 127.0.0.1, and Python
calls it global. So the IPv4 address inside each such form is judged by the same rules, and the IPv6
address is refused when the IPv4 address would be.
"""
from __future__ import annotations

import ipaddress

IPv4, IPv6 = ipaddress.IPv4Address, ipaddress.IPv6Address

# Cloud metadata services, named as such in the error (all are non-public anyway).
METADATA_ADDRESSES = {ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")}
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")     # RFC 6052: the IPv4 address is the last 32 bits
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")    # RFC 8215: a network's own translators
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")             # RFC 4291 2.5.5.1, deprecated: ::a.b.c.d
_KINDS = ("loopback", "link_local", "private", "multicast", "unspecified", "reserved")


def embedded_ipv4(ip: IPv6) -> list[tuple[str, IPv4]]:
    """The IPv4 addresses an IPv6 address carries, each with the name of the form carrying it."""
    found = []
    if ip.ipv4_mapped is not None:
        found.append(("IPv4-mapped", ip.ipv4_mapped))
    if ip.sixtofour is not None:
        found.append(("6to4", ip.sixtofour))
    if ip.teredo is not None:
        server, client = ip.teredo
        found += [("Teredo", server), ("Teredo", client)]
    if ip in NAT64_WELL_KNOWN:
        found.append(("NAT64", IPv4(int(ip) & 0xFFFFFFFF)))
    if ip in IPV4_COMPATIBLE and int(ip) > 1:  # :: and ::1 are themselves, not IPv4 addresses
        found.append(("IPv4-compatible", IPv4(int(ip) & 0xFFFFFFFF)))
    return found


def _own_kind(ip) -> str | None:
    if ip in METADATA_ADDRESSES:
        return "cloud metadata"
    for kind in _KINDS:
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if ip.is_global else "non-public"


def non_public_kind(address: str) -> str | None:
    """Why an address is not public ("loopback", "private", "6to4 loopback" for 2002:7f00:1::),
    or None for a public one. A zone (`fe80::1%eth0`) is ignored; a malformed address raises ValueError."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, IPv6) and ip.ipv4_mapped is not None:
        return _own_kind(ip.ipv4_mapped)  # ::ffff:10.0.0.1 is 10.0.0.1 to the socket layer
    if isinstance(ip, IPv6) and ip in NAT64_LOCAL_USE:
        return "NAT64 local-use"  # where its IPv4 address sits depends on the network's prefix length
    if isinstance(ip, IPv6):
        for form, inner in embedded_ipv4(ip):
            kind = _own_kind(inner)
            if kind is not None:
                return f"{form} {kind}"
        if ip in NAT64_WELL_KNOWN:
            return None  # the gateway reaches the (public) IPv4 address; Python files 64:ff9b::/96 as reserved
    return _own_kind(ip)  # a public IPv4 address in the deprecated IPv4-compatible form stays "reserved"

"""Outbound HTTP to URLs that tenants chose (webhooks, Slack): the guard against server-side request forgery.

A tenant's URL must never make the service talk to itself, its network or the cloud's metadata
endpoint. So a URL is checked when a schedule is saved and again at every send:
- https only; no credentials in the URL;
- every address the host resolves to must be public: not loopback, private, link-local (which holds
  the metadata address 169.254.169.254), shared (100.64/10), multicast, reserved or unspecified;
- the request then connects to the address that was checked, not to a second lookup, so a DNS answer
  that changes between check and connect (DNS rebinding) cannot slip a private address in.
Redirects are never followed (http.client does not), a request has a short timeout and an overall
deadline, and at most `max_bytes` of the answer are read.

Development and tests can set WEBHOOK_ALLOW_LOOPBACK=true (refused in production): http and https to
loopback addresses are then allowed, and nothing else changes (a private address is still refused).
Only the standard library is used: pinning the checked address needs a connection class of our own,
which the usual clients make harder, not easier.
"""
from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from core import addresses

MAX_URL_LENGTH = 2048


class UnsafeUrl(ValueError):
    """The URL may not be called; the message says why, for the client or the delivery's last_error.
    `transient`: the host did not resolve, which may change (a refused address is not transient)."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Destination:
    """A URL that passed the check, with the addresses it resolved to (the request connects to these)."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    location: str | None = None


def address_kind(address: str) -> str | None:
    """Why an address is not public (e.g. "loopback", "private", "6to4 loopback"), or None for a
    public one: core.addresses judges it, and every IPv4 address an IPv6 form carries."""
    return addresses.non_public_kind(address)


def syntax_error(url: str) -> str | None:
    """What is wrong with a URL's form (no network involved), or None."""
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if any(ch.isspace() or ord(ch) < 32 or ch == "\x7f" for ch in url):
        return "must not contain spaces or control characters"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute https:// URL"
    if parts.username is not None or parts.password is not None:
        return "must not contain a user name or password"
    try:
        parts.port
    except ValueError:
        return "has a port that is not a number between 0 and 65535"
    if parts.fragment:
        return "must not contain a #fragment"
    return None


def check(url: str, *, allow_loopback: bool) -> Destination:
    """Resolve and check a URL; UnsafeUrl says why it may not be called."""
    problem = syntax_error(url)
    if problem:
        raise UnsafeUrl(problem)
    parts = urlsplit(url)
    if parts.scheme != "https" and not allow_loopback:
        raise UnsafeUrl("must be an https:// URL")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"host {host!r} does not resolve ({exc})", transient=True) from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeUrl(f"host {host!r} does not resolve", transient=True)
    for address in addresses:
        kind = address_kind(address)
        if kind is None:
            continue
        if not (allow_loopback and kind == "loopback"):
            raise UnsafeUrl(f"host {host!r} resolves to {address}, a {kind} address")
    if parts.scheme != "https" and any(address_kind(a) != "loopback" for a in addresses):
        raise UnsafeUrl("must be an https:// URL (http is allowed only to loopback, in development)")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Destination(url, parts.scheme, host, port, path, addresses)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address, whatever a new DNS lookup of the host would say."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address; the certificate is still verified against the URL's host name."""

    def __init__(self, host, port, address, timeout, context):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(destination: Destination, body: bytes, headers: dict[str, str], *, timeout: float,
         max_bytes: int) -> Response:
    """POST `body` to a checked destination: the first address that accepts a connection answers.

    Raises OSError (refused, timed out, TLS) or http.client.HTTPException (a malformed answer). The
    answer's body is cut at `max_bytes`; a 3xx is returned as it is, never followed.
    """
    deadline = time.monotonic() + timeout * 2  # the socket timeout bounds each step; this, the whole
    last_error: OSError | None = None
    for address in destination.addresses:
        if destination.scheme == "https":
            conn = _PinnedHTTPSConnection(destination.host, destination.port, address, timeout,
                                          ssl.create_default_context())
        else:
            conn = _PinnedHTTPConnection(destination.host, destination.port, address, timeout)
        try:
            try:
                conn.connect()
            except ConnectionRefusedError as exc:
                last_error = exc
                continue
            conn.request("POST", destination.path, body=body, headers=headers)
            answer = conn.getresponse()
            data = bytearray()
            while len(data) <= max_bytes and time.monotonic() < deadline:
                chunk = answer.read(min(8192, max_bytes + 1 - len(data)))
                if not chunk:
                    break
                data.extend(chunk)
            return Response(answer.status, bytes(data[:max_bytes]), answer.getheader("Location"))
        finally:
            conn.close()
    raise last_error or OSError("no address to connect to")

"""Remote image sources for :mod:`enrichment.images.intake`: guarded HTTP(S) and S3.

Image URLs come from catalogue data, which we do not control, so an HTTP fetch is
treated as a server-side request forgery risk:

* only the schemes in the policy, no userinfo (``user:pw@``) in the URL;
* the hostname is resolved once (every A/AAAA record, or the policy's resolver)
  and refused if any address is loopback, private (RFC 1918, fc00::/7), carrier-grade
  NAT (100.64/10), link-local (169.254/16 with the cloud metadata address, fe80::/10),
  multicast, unspecified or reserved, including such IPv4 addresses embedded in IPv6
  (``::ffff:a.b.c.d``, NAT64, 6to4). Numeric forms such as ``2130706433`` or
  ``0x7f.1`` are parsed the way the C library would and checked the same way;
* names such as ``localhost`` or ``metadata.google.internal`` are refused outright;
* the connection goes to the vetted address (the TCP connect is pinned, the Host
  header, TLS SNI and certificate check keep the hostname), so DNS rebinding between
  check and connect is impossible; proxies from the environment are ignored;
* redirects are followed by hand and every hop is checked again.

Each worker thread keeps one ``requests`` session and a small cache of pinned adapters
keyed by the vetted addresses, so consecutive images from one CDN reuse a keep-alive
connection; a connection is only reused for a host whose fresh check yielded the same
addresses. Transient failures (connect timeouts, connection errors, 429, 500/502/503/504)
are retried ``policy.http_retries`` times with jittered exponential backoff (Retry-After
honoured up to 5 s) while the fetch's overall ``timeout_seconds`` lasts; only then is the
image quarantined (policy: docs/retries.md).

Link-local, multicast, unspecified and reserved addresses stay refused even with
``allow_private_addresses``; only ``trusted_hosts`` (configured by the operator, not
read from data) can point a name at such an address.
"""

from __future__ import annotations

import functools
import ipaddress
import random
import re
import socket
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError
from urllib3.util import connection as urllib3_connection

from enrichment.images.policy import ImagePolicy, ImageRejected

if TYPE_CHECKING:
    from botocore.client import BaseClient

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CHUNK = 64 * 1024
_REDIRECT_CODES = (301, 302, 303, 307, 308)
_TRANSIENT_STATUS = (429, 500, 502, 503, 504)
_MAX_RETRY_WAIT = 5.0
_ADAPTERS_PER_THREAD = 16
_FORBIDDEN_NAMES = ("localhost", "metadata", "instance-data")
_FORBIDDEN_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")
# Not always flagged by the ipaddress module of every Python version:
_ALSO_RESERVED = tuple(
    ipaddress.ip_network(n) for n in ("192.0.0.0/24", "198.18.0.0/15", "2001:db8::/32", "100::/64")
)
_BAD_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


def address_problem(ip: IPAddress, allow_private: bool = False) -> str | None:
    """Why ``ip`` must not be contacted, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            problem = address_problem(embedded, allow_private)
            return f"{problem} (embedded in {ip})" if problem else None
        if ip.teredo:
            return "Teredo tunnel address"
    always = (
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
    )
    private = (
        ("loopback", ip.is_loopback),
        ("carrier-grade NAT", ip.version == 4 and ip in _CGNAT),
        ("site-local", ip.version == 6 and ip in _SITE_LOCAL),
        ("private", _is_private_range(ip)),
    )
    for label, hit in always:
        if hit:
            return f"{label} address {ip}"
    for label, hit in private:
        if hit:
            return None if allow_private else f"{label} address {ip}"
    if ip.is_reserved or not ip.is_global or any(ip in net for net in _ALSO_RESERVED):
        return f"reserved address {ip}"
    return None


def _is_private_range(ip: IPAddress) -> bool:
    """RFC 1918 and unique-local ranges (the part of is_private that may be allowed)."""
    if ip.version == 4:
        return any(
            ip in ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
        )
    return ip in ipaddress.ip_network("fc00::/7")


def _literal_address(host: str) -> IPAddress | None:
    """The address a numeric host denotes, including legacy forms like ``0x7f.1``."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _resolve(host: str, port: int, policy: ImagePolicy) -> list[IPAddress]:
    if policy.resolver is not None:
        raw = list(policy.resolver(host))
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, OSError) as exc:
            raise ImageRejected("dns_error", f"cannot resolve {host!r}: {exc}") from exc
        raw = [info[4][0] for info in infos]
    try:
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in raw]
    except ValueError as exc:
        raise ImageRejected("dns_error", f"resolver returned a bad address for {host!r}") from exc
    if not addresses:
        raise ImageRejected("dns_error", f"no address for {host!r}")
    return addresses


def _host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    for entry in allowed:
        entry = entry.lower().rstrip(".")
        if entry.startswith("."):
            if host.endswith(entry) or host == entry[1:]:
                return True
        elif host == entry:
            return True
    return False


def vet_url(url: str, policy: ImagePolicy) -> tuple[str, str, tuple[str, ...]]:
    """Check one HTTP(S) URL; return (normalised URL, host, vetted addresses to connect to)."""
    if _BAD_URL_CHARS.search(url):
        raise ImageRejected("invalid_url", "URL contains whitespace, control characters or '\\'")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or scheme not in policy.allowed_schemes:
        raise ImageRejected("forbidden_scheme", f"scheme {scheme or '(none)'!r} is not allowed")
    if "@" in parts.netloc:
        raise ImageRejected("forbidden_userinfo", "credentials in the URL are not allowed")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
        host = (parts.hostname or "").rstrip(".")
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except (ValueError, UnicodeError) as exc:
        raise ImageRejected("invalid_url", f"cannot parse {url!r}: {exc}") from exc
    if not host:
        raise ImageRejected("invalid_url", f"no host in {url!r}")
    if policy.allowed_hosts is not None and not _host_allowed(host, policy.allowed_hosts):
        raise ImageRejected("host_not_allowed", f"host {host!r} is not in the allowed hosts")
    trusted = dict(policy.trusted_hosts or {})
    if host in trusted:
        addresses = [ipaddress.ip_address(trusted[host])]
    else:
        literal = _literal_address(host)
        if (
            literal is None
            and not policy.allow_private_addresses
            and (host in _FORBIDDEN_NAMES or host.endswith(_FORBIDDEN_SUFFIXES))
        ):
            raise ImageRejected("forbidden_address", f"host name {host!r} is internal")
        addresses = [literal] if literal is not None else _resolve(host, port, policy)
        for candidate in addresses:
            problem = address_problem(candidate, policy.allow_private_addresses)
            if problem:
                raise ImageRejected("forbidden_address", f"{host!r} resolves to {problem}")
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    path = parts.path or "/"
    normalised = f"{scheme}://{netloc}{path}" + (f"?{parts.query}" if parts.query else "")
    return normalised, host, tuple(str(a) for a in addresses)


def _pinned_connection(
    base: type[HTTPConnection], addresses: tuple[str, ...]
) -> type[HTTPConnection]:
    """A connection class that connects only to ``addresses`` (tried in order)."""

    def _new_conn(self: HTTPConnection) -> socket.socket:
        error: OSError | None = None
        for address in addresses:
            try:
                return urllib3_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    self, f"connect to {self.host} ({address}) timed out"
                ) from exc
            except OSError as exc:
                error = exc
        raise NewConnectionError(self, f"cannot connect to {self.host} {addresses}: {error}")

    return type(f"Pinned{base.__name__}", (base,), {"_new_conn": _new_conn})


class _PinnedAdapter(HTTPAdapter):
    """Transport adapter whose connections all go to one vetted address."""

    def __init__(self, addresses: tuple[str, ...]) -> None:
        self._addresses = addresses
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)
        http_pool = type(
            "PinnedHTTPPool",
            (HTTPConnectionPool,),
            {"ConnectionCls": _pinned_connection(HTTPConnection, self._addresses)},
        )
        https_pool = type(
            "PinnedHTTPSPool",
            (HTTPSConnectionPool,),
            {"ConnectionCls": _pinned_connection(HTTPSConnection, self._addresses)},
        )
        self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}


class _Transient(ImageRejected):
    """A failure worth another attempt (same reason and detail as a plain rejection)."""

    def __init__(self, reason: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(reason, detail)
        self.retry_after = retry_after


_local = threading.local()


def _session(addresses: tuple[str, ...], policy: ImagePolicy) -> requests.Session:
    """This thread's session with the pinned adapter of ``addresses`` mounted.

    Adapters (and their keep-alive connections) are cached per thread by the vetted
    addresses; without ``reuse_connections`` every request gets a fresh session."""
    if not policy.reuse_connections:
        session = requests.Session()
        session.trust_env = False
        adapter = _PinnedAdapter(addresses)
    else:
        if not hasattr(_local, "session"):
            _local.session = requests.Session()
            _local.session.trust_env = False  # no proxies or .netrc credentials from env
            _local.adapters = OrderedDict()
        session, adapters = _local.session, _local.adapters
        adapter = adapters.pop(addresses, None) or _PinnedAdapter(addresses)
        adapters[addresses] = adapter
        while len(adapters) > _ADAPTERS_PER_THREAD:
            adapters.popitem(last=False)[1].close()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def fetch_http(url: str, policy: ImagePolicy) -> bytes:
    """Download ``url`` under ``policy``; raises ImageRejected for every failure.

    Transient failures are retried (module docstring) within the overall deadline."""
    deadline = time.monotonic() + policy.timeout_seconds
    for attempt in range(policy.http_retries + 1):
        try:
            return _fetch_once(url, policy, deadline)
        except _Transient as exc:
            wait = exc.retry_after
            if wait is None or wait > _MAX_RETRY_WAIT:
                wait = policy.retry_backoff_seconds * 2**attempt * random.uniform(0.5, 1.0)
            if attempt == policy.http_retries or time.monotonic() + wait >= deadline:
                raise ImageRejected(exc.reason, exc.detail) from exc
            time.sleep(wait)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _fetch_once(url: str, policy: ImagePolicy, deadline: float) -> bytes:
    """One attempt: follow redirects (each hop vetted again) and read the body."""
    headers = {
        "User-Agent": "enrichment-image-intake/0.1",
        "Accept": "image/jpeg,image/png,image/webp,image/gif",
        "Accept-Encoding": "identity",
    }
    current = url
    for hop in range(policy.max_redirects + 1):
        normalised, host, addresses = vet_url(current, policy)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ImageRejected("timeout", f"no time left before requesting {normalised}")
        session = _session(addresses, policy)
        connect = min(remaining, policy.timeout_seconds / (policy.http_retries + 1))
        try:
            response = session.get(
                normalised,
                headers=headers,
                stream=True,
                allow_redirects=False,
                timeout=(connect, remaining),
                verify=str(policy.ca_bundle) if policy.ca_bundle else True,
            )
        except requests.ConnectTimeout as exc:
            raise _Transient("timeout", f"{host}: {exc}") from exc
        except requests.Timeout as exc:
            raise ImageRejected("timeout", f"{host}: {exc}") from exc
        except requests.ConnectionError as exc:
            raise _Transient("connection_error", f"{host}: {exc}") from exc
        except requests.RequestException as exc:
            raise ImageRejected("connection_error", f"{host}: {exc}") from exc
        with response:
            status = response.status_code
            if status in _REDIRECT_CODES and "Location" in response.headers:
                if hop >= policy.max_redirects:
                    raise ImageRejected(
                        "too_many_redirects", f"more than {policy.max_redirects} redirects"
                    )
                current = urljoin(normalised, response.headers["Location"])
                continue
            if status in (404, 410):
                raise ImageRejected("not_found", f"HTTP {status} from {host}")
            if status in _TRANSIENT_STATUS:
                raise _Transient(
                    "http_error",
                    f"HTTP {status} from {host}",
                    _retry_after(response.headers.get("Retry-After")),
                )
            if not 200 <= status < 300 or status == 206:
                raise ImageRejected("http_error", f"HTTP {status} from {host}")
            return _read_body(response, policy, deadline, host)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _read_body(
    response: requests.Response, policy: ImagePolicy, deadline: float, host: str
) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
        raise ImageRejected("too_large", f"Content-Length {declared} > {policy.max_bytes} bytes")
    buffer = bytearray()
    try:
        while True:
            if time.monotonic() > deadline:
                raise ImageRejected(
                    "timeout", f"download from {host} exceeded {policy.timeout_seconds}s"
                )
            chunk = response.raw.read1(_CHUNK, decode_content=True)
            if not chunk:
                response.raw.release_conn()  # body complete: the connection can be reused
                return bytes(buffer)
            buffer += chunk
            if len(buffer) > policy.max_bytes:
                raise ImageRejected("too_large", f"body exceeds {policy.max_bytes} bytes")
    except ImageRejected:
        raise
    except (TimeoutError, Urllib3TimeoutError, requests.Timeout) as exc:
        raise ImageRejected("timeout", f"reading from {host}: {exc}") from exc
    except Exception as exc:  # urllib3/http.client errors while streaming a body
        raise _Transient("connection_error", f"reading from {host}: {exc}") from exc


_client_lock = threading.Lock()


@functools.lru_cache(maxsize=8)
def _s3_client(endpoint_url: str | None, timeout: float) -> BaseClient:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"max_attempts": 2, "mode": "standard"},
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    with _client_lock:  # boto3's default session is not thread-safe while creating clients
        return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


def fetch_s3(ref: str, policy: ImagePolicy) -> bytes:
    """Read ``s3://bucket/key`` (the key is taken verbatim) under ``policy``."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
    from botocore.exceptions import ConnectTimeoutError as S3ConnectTimeout
    from botocore.exceptions import ReadTimeoutError as S3ReadTimeout

    bucket, _, key = ref[len("s3://") :].partition("/")
    if not _BUCKET.match(bucket) or not key:
        raise ImageRejected("invalid_url", f"expected s3://bucket/key, got {ref!r}")
    client = _s3_client(policy.s3_endpoint_url, policy.timeout_seconds)
    try:
        response = client.get_object(Bucket=bucket, Key=key)
        body = response["Body"]
        try:
            if response.get("ContentLength", 0) > policy.max_bytes:
                raise ImageRejected(
                    "too_large", f"object is {response['ContentLength']} bytes > {policy.max_bytes}"
                )
            buffer = bytearray()
            while chunk := body.read(_CHUNK):
                buffer += chunk
                if len(buffer) > policy.max_bytes:
                    raise ImageRejected("too_large", f"object exceeds {policy.max_bytes} bytes")
            return bytes(buffer)
        finally:
            body.close()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "NoSuchBucket", "404", "NotFound"):
            raise ImageRejected("not_found", f"{ref}: {code}") from exc
        raise ImageRejected("s3_error", f"{ref}: {code or exc}") from exc
    except (S3ConnectTimeout, S3ReadTimeout) as exc:
        raise ImageRejected("timeout", f"{ref}: {exc}") from exc
    except EndpointConnectionError as exc:
        raise ImageRejected("connection_error", f"{ref}: {exc}") from exc
    except BotoCoreError as exc:
        raise ImageRejected("s3_error", f"{ref}: {exc}") from exc
    except (OSError, ValueError) as exc:  # stream errors surfaced by urllib3/http.client
        raise ImageRejected("connection_error", f"{ref}: {exc}") from exc

"""Integration tests for remote image sources: a real HTTP(S) server on 127.0.0.1 and a
local S3 server (moto), both in threads.

The HTTP server records every request it receives. SSRF tests assert that refused URLs
produce zero requests, and a guard around the connect call proves that no connection
to an internal address (10.x, 169.254.x) was even attempted. No test needs DNS.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from enrichment.images import remote as image_remote
from enrichment.images.intake import ImagePolicy, ImageRejected, fetch_image

pytestmark = pytest.mark.integration

SHOP = "images.shop.test"  # .test never resolves; reachable only through trusted_hosts


def jpeg(colour: tuple[int, int, int] = (10, 20, 200), size: tuple[int, int] = (32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Server:
    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)
    aborted: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
    handler.send_response(status)
    fields = {name.replace("_", "-"): value for name, value in headers.items()}
    fields.setdefault("Content-Length", str(len(body)))
    for name, value in fields.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def redirect(location: str) -> Route:
    return lambda h: send(h, 302, Location=location)


def start_server(tls: ssl.SSLContext | None = None) -> tuple[Server, ThreadingHTTPServer]:
    state = Server(port=0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.requests.append((self.path, self.headers.get("Host", "")))
            route = state.routes.get(self.path, lambda h: send(h, 404, b"missing"))
            try:
                route(self)
            except (BrokenPipeError, ConnectionResetError):
                state.aborted.set()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    state.port = httpd.server_address[1]
    threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return state, httpd


@pytest.fixture
def server() -> Iterator[Server]:
    state, httpd = start_server()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connect the HTTP source makes, recorded before it happens."""
    attempts: list[tuple[str, int]] = []
    real = image_remote.urllib3_connection.create_connection

    def guarded(address: tuple[str, int], *args: object, **kwargs: object) -> object:
        attempts.append(address)
        if not address[0].startswith("127."):
            raise AssertionError(f"test tried to contact {address}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(image_remote.urllib3_connection, "create_connection", guarded)
    return attempts


def refused(url: str, policy: ImagePolicy | None = None) -> ImageRejected:
    with pytest.raises(ImageRejected) as info:
        fetch_image(url, policy)
    return info.value


# --- happy path ------------------------------------------------------------------------------


def test_http_happy_path_on_loopback_when_private_is_allowed(
    server: Server, connects: list
) -> None:
    body = jpeg()
    server.routes["/ok.jpg"] = lambda h: send(h, 200, body, Content_Type="image/jpeg")
    loaded = fetch_image(server.url("/ok.jpg"), ImagePolicy(allow_private_addresses=True))
    assert loaded.format == "JPEG" and (loaded.width, loaded.height) == (32, 24)
    assert loaded.sha256 == hashlib.sha256(body).hexdigest()
    assert server.requests == [("/ok.jpg", f"127.0.0.1:{server.port}")]
    assert connects == [("127.0.0.1", server.port)]


def test_trusted_host_is_pinned_and_keeps_its_host_header(
    server: Server, connects: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.routes["/a.jpg"] = lambda h: send(h, 200, jpeg())
    looked_up: list[object] = []
    real = image_remote.socket.getaddrinfo
    monkeypatch.setattr(
        image_remote.socket, "getaddrinfo", lambda *a, **k: looked_up.append(a) or real(*a, **k)
    )
    policy = ImagePolicy(trusted_hosts={SHOP: "127.0.0.1"})
    assert fetch_image(server.url("/a.jpg", host=SHOP), policy).width == 32
    assert server.requests == [("/a.jpg", f"{SHOP}:{server.port}")]
    assert connects == [("127.0.0.1", server.port)]
    assert not [args for args in looked_up if args[0] == SHOP]


# --- SSRF: refused before any connection -------------------------------------------------------


def test_internal_targets_are_refused_and_never_contacted(
    server: Server, connects: list, tmp_path: Path
) -> None:
    server.routes["/x.jpg"] = lambda h: send(h, 200, jpeg())
    port = server.port
    cases = [
        (f"http://127.0.0.1:{port}/x.jpg", "forbidden_address"),
        (f"http://localhost:{port}/x.jpg", "forbidden_address"),
        (f"http://[::1]:{port}/x.jpg", "forbidden_address"),
        (f"http://2130706433:{port}/x.jpg", "forbidden_address"),
        (f"http://0x7f.1:{port}/x.jpg", "forbidden_address"),
        (f"http://[::ffff:127.0.0.1]:{port}/x.jpg", "forbidden_address"),
        ("http://169.254.169.254/latest/meta-data/", "forbidden_address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "forbidden_address"),
        ("http://10.0.0.1/", "forbidden_address"),
        ("http://100.64.0.1/", "forbidden_address"),
        (f"http://user:pw@127.0.0.1:{port}/x.jpg", "forbidden_userinfo"),
        (f"http://user@{SHOP}:{port}/x.jpg", "forbidden_userinfo"),
        (f"ftp://127.0.0.1:{port}/x.jpg", "forbidden_scheme"),
        (f"gopher://127.0.0.1:{port}/_GET%20/x.jpg", "forbidden_scheme"),
    ]
    for url, reason in cases:
        assert refused(url).reason == reason, url
    image = tmp_path / "x.jpg"
    image.write_bytes(jpeg())
    web_only = ImagePolicy(allowed_schemes=("http", "https"))
    assert refused(image.as_uri(), web_only).reason == "forbidden_scheme"
    assert refused(str(image), web_only).reason == "forbidden_scheme"
    assert server.requests == []
    assert connects == []


def test_allow_private_still_refuses_cloud_metadata(connects: list) -> None:
    policy = ImagePolicy(allow_private_addresses=True)
    assert refused("http://169.254.169.254/latest/meta-data/", policy).reason == "forbidden_address"
    assert refused("http://[fe80::1%25eth0]/", policy).reason == "forbidden_address"
    assert connects == []


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://127.0.0.1:{port}/secret.jpg", "forbidden_address"),
        ("http://localhost:{port}/secret.jpg", "forbidden_address"),
        ("http://2130706433:{port}/secret.jpg", "forbidden_address"),
        ("http://169.254.169.254/latest/meta-data/", "forbidden_address"),
        ("http://10.0.0.1/secret.jpg", "forbidden_address"),
        ("file:///etc/passwd", "forbidden_scheme"),
        ("http://evil.example.org/secret.jpg", "host_not_allowed"),
    ],
)
def test_redirect_to_internal_target_is_refused_at_the_second_hop(
    server: Server, connects: list, target: str, reason: str
) -> None:
    server.routes["/secret.jpg"] = lambda h: send(h, 200, jpeg())
    server.routes["/start.jpg"] = redirect(target.format(port=server.port))
    policy = ImagePolicy(
        trusted_hosts={SHOP: "127.0.0.1"},
        allowed_hosts=(SHOP, "127.0.0.1", "localhost", "2130706433", "169.254.169.254", "10.0.0.1"),
    )
    assert refused(server.url("/start.jpg", host=SHOP), policy).reason == reason
    assert server.requests == [("/start.jpg", f"{SHOP}:{server.port}")]
    assert connects == [("127.0.0.1", server.port)]


def test_redirects_within_the_trusted_host_are_followed(server: Server) -> None:
    server.routes["/old.jpg"] = redirect("/mid.jpg")
    server.routes["/mid.jpg"] = redirect(server.url("/new.jpg", host=SHOP))
    server.routes["/new.jpg"] = lambda h: send(h, 200, jpeg((200, 10, 10)))
    loaded = fetch_image(
        server.url("/old.jpg", host=SHOP), ImagePolicy(trusted_hosts={SHOP: "127.0.0.1"})
    )
    assert loaded.image.getpixel((1, 1))[0] > 180
    assert [path for path, _ in server.requests] == ["/old.jpg", "/mid.jpg", "/new.jpg"]


def test_redirect_loops_are_capped(server: Server) -> None:
    server.routes["/loop.jpg"] = redirect("/loop.jpg")
    policy = ImagePolicy(trusted_hosts={SHOP: "127.0.0.1"}, max_redirects=2)
    assert refused(server.url("/loop.jpg", host=SHOP), policy).reason == "too_many_redirects"
    assert len(server.requests) == 3


# --- HTTP failures ---------------------------------------------------------------------------

LOCAL = ImagePolicy(allow_private_addresses=True)


def test_http_status_codes_map_to_reasons(server: Server) -> None:
    server.routes["/gone.jpg"] = lambda h: send(h, 410)
    server.routes["/boom.jpg"] = lambda h: send(h, 500, b"oops")
    server.routes["/page.jpg"] = lambda h: send(h, 200, b"<html><body>Sorry</body></html>")
    assert refused(server.url("/missing.jpg"), LOCAL).reason == "not_found"
    assert refused(server.url("/gone.jpg"), LOCAL).reason == "not_found"
    assert refused(server.url("/boom.jpg"), LOCAL).reason == "http_error"
    error = refused(server.url("/page.jpg"), LOCAL)
    assert error.reason == "unsupported_format" and error.content_hash is not None


def test_declared_oversize_body_is_refused_before_reading(server: Server) -> None:
    server.routes["/huge.jpg"] = lambda h: send(
        h, 200, b"\xff\xd8\xff", Content_Length=str(50 * 2**20)
    )
    error = refused(
        server.url("/huge.jpg"), ImagePolicy(allow_private_addresses=True, max_bytes=2**20)
    )
    assert error.reason == "too_large" and error.content_hash is None


def test_streamed_body_is_cut_off_at_the_byte_cap(server: Server) -> None:
    def endless(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        chunk = b"\xff\xd8\xff" + b"\x00" * (64 * 1024 - 3)
        for _ in range(200):  # 12.5 MiB if nobody stops it
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        handler.wfile.write(b"0\r\n\r\n")

    server.routes["/stream.jpg"] = endless
    policy = ImagePolicy(allow_private_addresses=True, max_bytes=256 * 1024)
    assert refused(server.url("/stream.jpg"), policy).reason == "too_large"
    assert server.aborted.wait(10), "the server finished sending: the client read past the cap"


def test_slow_drip_hits_the_overall_deadline(server: Server) -> None:
    def drip(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        for _ in range(1000):
            handler.wfile.write(b"\xff")
            handler.wfile.flush()
            time.sleep(0.05)

    server.routes["/drip.jpg"] = drip
    started = time.monotonic()
    policy = ImagePolicy(allow_private_addresses=True, timeout_seconds=1.0)
    assert refused(server.url("/drip.jpg"), policy).reason == "timeout"
    assert time.monotonic() - started < 5


def test_silent_server_times_out(server: Server) -> None:
    server.routes["/silent.jpg"] = lambda h: time.sleep(3)
    policy = ImagePolicy(allow_private_addresses=True, timeout_seconds=0.5)
    assert refused(server.url("/silent.jpg"), policy).reason == "timeout"


def test_connection_refused_is_a_connection_error() -> None:
    state, httpd = start_server()
    httpd.shutdown()
    httpd.server_close()
    assert refused(state.url("/x.jpg"), LOCAL).reason == "connection_error"


# --- keep-alive and retries of transient failures ----------------------------------------------


def flaky(statuses: list[int], body: bytes, **headers: str) -> Route:
    """Answer with ``statuses`` in turn, then 200 with ``body``."""
    queue = list(statuses)
    return lambda h: send(h, queue.pop(0), b"busy", **headers) if queue else send(h, 200, body)


def test_transient_statuses_are_retried_then_the_image_loads(server: Server) -> None:
    server.routes["/busy.jpg"] = flaky([503, 429], jpeg(), Retry_After="0")
    policy = ImagePolicy(allow_private_addresses=True, retry_backoff_seconds=0.001)
    assert fetch_image(server.url("/busy.jpg"), policy).width == 32
    assert [path for path, _ in server.requests] == ["/busy.jpg"] * 3


def test_retries_are_bounded_and_other_errors_are_not_retried(server: Server) -> None:
    server.routes["/down.jpg"] = flaky([502] * 10, jpeg())
    server.routes["/bad.jpg"] = lambda h: send(h, 400, b"no")
    policy = ImagePolicy(allow_private_addresses=True, retry_backoff_seconds=0.001)
    error = refused(server.url("/down.jpg"), policy)
    assert (error.reason, error.detail) == ("http_error", "HTTP 502 from 127.0.0.1")
    assert len(server.requests) == 3  # 1 + policy.http_retries
    server.requests.clear()
    assert refused(server.url("/bad.jpg"), policy).reason == "http_error"
    assert refused(server.url("/missing.jpg"), policy).reason == "not_found"
    assert len(server.requests) == 2


def test_one_worker_reuses_its_connection_and_can_be_told_not_to(
    server: Server, connects: list
) -> None:
    server.routes["/a.jpg"] = lambda h: send(h, 200, jpeg())
    server.routes["/b.jpg"] = lambda h: send(h, 200, jpeg())
    for path in ("/a.jpg", "/b.jpg", "/a.jpg"):
        fetch_image(server.url(path), LOCAL)
    assert connects == [("127.0.0.1", server.port)]  # one keep-alive connection
    fresh = ImagePolicy(allow_private_addresses=True, reuse_connections=False)
    for path in ("/a.jpg", "/b.jpg"):
        fetch_image(server.url(path), fresh)
    assert len(connects) == 3


def test_a_kept_connection_never_outlives_the_address_check(server: Server, connects: list) -> None:
    server.routes["/a.jpg"] = lambda h: send(h, 200, jpeg())
    answers = iter(["127.0.0.1", "169.254.169.254"])  # the name moves to the metadata address
    policy = ImagePolicy(allow_private_addresses=True, resolver=lambda host: [next(answers)])
    assert fetch_image(server.url("/a.jpg", host="cdn.example.org"), policy).width == 32
    error = refused(server.url("/a.jpg", host="cdn.example.org"), policy)
    assert error.reason == "forbidden_address"
    assert connects == [("127.0.0.1", server.port)] and len(server.requests) == 1


# --- HTTPS through the pinned connection -------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key, issuer_name, issuer_key, ca: bool) -> x509.Certificate:  # noqa: ANN001
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(SHOP)]), critical=False
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca_cert = certificate("test CA", ca_key, ca_name, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(SHOP, key, ca_name, ca_key, ca=False)
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    state, httpd = start_server(tls=context)
    yield state, ca_file
    httpd.shutdown()
    httpd.server_close()


def test_https_verifies_the_hostname_not_the_pinned_address(
    tls_server: tuple[Server, Path],
) -> None:
    server, ca_file = tls_server
    server.routes["/a.jpg"] = lambda h: send(h, 200, jpeg())
    policy = ImagePolicy(trusted_hosts={SHOP: "127.0.0.1"}, ca_bundle=ca_file)
    assert fetch_image(server.url("/a.jpg", host=SHOP, scheme="https"), policy).width == 32
    assert server.requests == [("/a.jpg", f"{SHOP}:{server.port}")]
    wrong_name = ImagePolicy(trusted_hosts={"other.shop.test": "127.0.0.1"}, ca_bundle=ca_file)
    error = refused(server.url("/a.jpg", host="other.shop.test", scheme="https"), wrong_name)
    assert error.reason == "connection_error"
    unknown_ca = ImagePolicy(trusted_hosts={SHOP: "127.0.0.1"})
    assert (
        refused(server.url("/a.jpg", host=SHOP, scheme="https"), unknown_ca).reason
        == "connection_error"
    )
    assert len(server.requests) == 1


# --- S3 against a local moto server -------------------------------------------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[object, str]]:
    import boto3
    from moto.server import ThreadedMotoServer

    saved = {
        k: os.environ.get(k)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="catalog-images")
    yield client, endpoint
    moto.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def test_s3_happy_path(s3: tuple) -> None:
    client, endpoint = s3
    body = jpeg((0, 150, 0), size=(40, 30))
    client.put_object(Bucket="catalog-images", Key="sku/42 front.jpg", Body=body)
    loaded = fetch_image(
        "s3://catalog-images/sku/42 front.jpg", ImagePolicy(s3_endpoint_url=endpoint)
    )
    assert (loaded.format, loaded.width, loaded.height) == ("JPEG", 40, 30)
    assert loaded.sha256 == hashlib.sha256(body).hexdigest()


def test_s3_failures_map_to_reasons(s3: tuple) -> None:
    client, endpoint = s3
    policy = ImagePolicy(s3_endpoint_url=endpoint, max_bytes=4096)
    client.put_object(
        Bucket="catalog-images", Key="big.jpg", Body=b"\xff\xd8\xff" + b"\x00" * 10_000
    )
    client.put_object(Bucket="catalog-images", Key="notes.jpg", Body=b"just text")
    assert refused("s3://catalog-images/big.jpg", policy).reason == "too_large"
    assert refused("s3://catalog-images/no-such-key.jpg", policy).reason == "not_found"
    assert refused("s3://no-such-bucket/a.jpg", policy).reason == "not_found"
    assert refused("s3://catalog-images/notes.jpg", policy).reason == "unsupported_format"
    assert refused(
        "s3://catalog-images/big.jpg", ImagePolicy(allowed_schemes=("file",))
    ).reason == ("forbidden_scheme")


def test_s3_unreachable_endpoint_is_a_connection_error(s3: tuple) -> None:
    state, httpd = start_server()
    httpd.shutdown()
    httpd.server_close()
    policy = ImagePolicy(s3_endpoint_url=f"http://127.0.0.1:{state.port}", timeout_seconds=2)
    assert refused("s3://catalog-images/a.jpg", policy).reason == "connection_error"

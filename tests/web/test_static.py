"""The output folder over real HTTP: what feed readers and aggregators rely on (docs/contracts/http.md)."""

from __future__ import annotations

import gzip
import http.client
import os
from collections.abc import Callable, Iterator
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from syndicator.web.static import feed_files_app

BASE_URL = "https://feeds.example.org"
HUB_URL = "https://feeds.example.org/hub"
SECRET = b"TOP SECRET: outside the output folder"


def atom_feed(title: str, entries: int = 12) -> bytes:
    """Enough repeated structure for gzip to pay, as in a real feed."""
    items = "".join(
        f"<entry><id>https://example.org/actualites/{title}-{n}/</id>"
        f"<title>{title} {n}</title><updated>2024-05-0{n % 9 + 1}T10:00:00+02:00</updated>"
        f"<content type='html'>&lt;p&gt;Paragraphe {n} de {title}.&lt;/p&gt;</content></entry>"
        for n in range(entries)
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?>"
        f"<feed xmlns='http://www.w3.org/2005/Atom'><title>{title}</title>{items}</feed>"
    ).encode()


def rss_feed(title: str) -> bytes:
    items = "".join(
        f"<item><title>{title} {n}</title><guid>{title}-{n}</guid></item>" for n in range(12)
    )
    channel = f"<channel><title>{title}</title>{items}</channel>"
    return f"<?xml version='1.0'?><rss version='2.0'>{channel}</rss>".encode()


def json_feed(title: str) -> bytes:
    items = ",".join(f'{{"id":"{title}-{n}","title":"{title} {n}"}}' for n in range(12))
    version = "https://jsonfeed.org/version/1.1"
    return f'{{"version":"{version}","title":"{title}","items":[{items}]}}'.encode()


def write_atomically(path: Path, data: bytes, mtime_ns: int | None = None) -> None:
    """What the builder does: a hidden temporary file beside the target, then a rename."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_bytes(data)
    if mtime_ns is not None:
        os.utime(temporary, ns=(mtime_ns, mtime_ns))
    os.replace(temporary, path)


FILES: dict[str, bytes] = {
    "index.html": b"<!doctype html><html><head><title>Flux</title>"
    + b"<link rel='alternate' type='application/atom+xml' href='/atom.xml'></head>"
    + b"<body><ul><li><a href='/atom.xml'>Tout le site</a></li></ul></body></html>" * 4,
    "feeds.opml": b"<?xml version='1.0'?><opml version='2.0'><body>"
    + b"<outline type='rss' xmlUrl='https://feeds.example.org/rss.xml'/>" * 8
    + b"</body></opml>",
    "rss.xml": rss_feed("site"),
    "atom.xml": atom_feed("site"),
    "feed.json": json_feed("site"),
    "categories/presse/rss.xml": rss_feed("presse"),
    "categories/presse/atom.xml": atom_feed("presse"),
    "categories/presse/feed.json": json_feed("presse"),
    "tags/open-data/rss.xml": rss_feed("open-data"),
    "tags/open-data/atom.xml": atom_feed("open-data"),
    "tags/open-data/feed.json": json_feed("open-data"),
    # Stands for the feed page the builder writes there (README "Output"); that what the
    # builder writes is what is served is shown in tests/contracts/test_served_output.py.
    "tags/open-data/index.html": b"<!doctype html><title>open-data</title>",
    "tags/open-data/archive/1/atom.xml": atom_feed("open-data-archive"),
    "tiny.json": b"{}",
    ".atom.xml.tmp-4242": b"half a feed",
    ".git/config": b"[core]",
    "tags/.drafts/rss.xml": rss_feed("drafts"),
}


@pytest.fixture
def output_dir(tmp_path: Path) -> Path:
    """The folder, a secret beside it, and symlinks pointing in, out and at a hidden file."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    root = tmp_path / "out"
    for name, data in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "tags/leak").mkdir()
    (root / "tags/leak/rss.xml").symlink_to(tmp_path / "secret.txt")
    (root / "tags/alias").symlink_to(root / "tags/open-data", target_is_directory=True)
    (root / "tags/sneaky.xml").symlink_to(root / ".atom.xml.tmp-4242")
    return root


StartServer = Callable[..., str]


@pytest.fixture
def start_server(serve, output_dir: Path) -> StartServer:
    """``start_server(**options)`` → base URL of a server over ``output_dir``; options are the
    app's own, with production defaults except for the URLs."""

    def start(*, hub_url: str | None = HUB_URL, **options: int) -> str:
        return serve(feed_files_app(output_dir, base_url=BASE_URL, hub_url=hub_url, **options))

    return start


@pytest.fixture
def live(start_server: StartServer) -> str:
    return start_server()


@pytest.fixture
def client(live: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live, timeout=10) as http:
        yield http


IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}

FEEDS = [
    "/rss.xml",
    "/atom.xml",
    "/feed.json",
    "/categories/presse/rss.xml",
    "/tags/open-data/atom.xml",
    "/tags/open-data/archive/1/atom.xml",
]


def raw_request(
    live: str, target: str, headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """Send ``target`` byte for byte (httpx would normalise away the dot segments under test)
    and read the body undecoded."""
    address = urlsplit(live)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/feed.json", "application/feed+json; charset=utf-8"),
        ("/feeds.opml", "text/x-opml; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/categories/presse/feed.json", "application/feed+json; charset=utf-8"),
        ("/tags/open-data/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/tags/open-data/archive/1/atom.xml", "application/atom+xml; charset=utf-8"),
    ],
)
def test_each_kind_is_served_with_its_content_type(
    client: httpx.Client, path: str, content_type: str
) -> None:
    response = client.get(path, headers=IDENTITY)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content == FILES[path.lstrip("/")]
    assert response.headers["content-length"] == str(len(FILES[path.lstrip("/")]))


def test_root_serves_index_html(client: httpx.Client) -> None:
    response = client.get("/", headers=IDENTITY)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == FILES["index.html"]


def test_folder_serves_its_index_at_its_slash_url(client: httpx.Client) -> None:
    redirect = client.get("/tags/open-data", headers=IDENTITY)
    assert redirect.status_code == 301
    assert redirect.headers["location"] == "open-data/"
    response = client.get("/tags/open-data/", headers=IDENTITY)
    assert response.status_code == 200
    assert response.content == FILES["tags/open-data/index.html"]


def test_folder_without_index_is_not_listed(client: httpx.Client) -> None:
    assert client.get("/categories/presse/").status_code == 404


def test_missing_file_is_404(client: httpx.Client) -> None:
    assert client.get("/tags/nope/rss.xml").status_code == 404


def test_only_get_and_head_are_allowed(client: httpx.Client) -> None:
    response = client.post("/rss.xml", content=b"x")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_etag_revalidation_gives_304_without_body(client: httpx.Client) -> None:
    first = client.get("/atom.xml", headers=IDENTITY)
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = client.get("/atom.xml", headers={**IDENTITY, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert "content-length" not in again.headers or again.headers["content-length"] == "0"


def test_unknown_etag_gets_the_full_feed(client: httpx.Client) -> None:
    response = client.get("/atom.xml", headers={**IDENTITY, "If-None-Match": '"stale", "older"'})
    assert response.status_code == 200
    assert response.content == FILES["atom.xml"]


def test_if_modified_since_gives_304_until_the_file_is_replaced(
    client: httpx.Client, output_dir: Path
) -> None:
    first = client.get("/atom.xml", headers=IDENTITY)
    last_modified = first.headers["last-modified"]
    unchanged = client.get("/atom.xml", headers={**IDENTITY, "If-Modified-Since": last_modified})
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    later = os.stat(output_dir / "atom.xml").st_mtime_ns + 10 * 10**9
    write_atomically(output_dir / "atom.xml", atom_feed("site", entries=13), mtime_ns=later)

    changed = client.get("/atom.xml", headers={**IDENTITY, "If-Modified-Since": last_modified})
    assert changed.status_code == 200
    assert changed.content == atom_feed("site", entries=13)
    assert changed.headers["etag"] != first.headers["etag"]
    assert changed.headers["last-modified"] != last_modified


def test_old_etag_gets_new_content_after_an_atomic_replace(
    client: httpx.Client, output_dir: Path
) -> None:
    first = client.get("/rss.xml", headers=IDENTITY)
    write_atomically(output_dir / "rss.xml", b"<rss>new</rss>")
    response = client.get("/rss.xml", headers={**IDENTITY, "If-None-Match": first.headers["etag"]})
    assert response.status_code == 200
    assert response.content == b"<rss>new</rss>"


def test_etag_changes_even_when_size_and_mtime_do_not(
    client: httpx.Client, output_dir: Path
) -> None:
    """Two builds in one clock tick with entries of equal length: a stat-based ETag would stay."""
    path = output_dir / "atom.xml"
    old = path.read_bytes()
    first = client.get("/atom.xml", headers=IDENTITY)
    new = old.replace(b"Paragraphe 1 ", b"Paragraphe X ")
    assert new != old and len(new) == len(old)
    write_atomically(path, new, mtime_ns=os.stat(path).st_mtime_ns)

    response = client.get("/atom.xml", headers={**IDENTITY, "If-None-Match": first.headers["etag"]})
    assert response.status_code == 200
    assert response.content == new
    assert response.headers["etag"] != first.headers["etag"]
    assert response.headers["last-modified"] == first.headers["last-modified"]


def test_if_none_match_takes_precedence_over_if_modified_since(client: httpx.Client) -> None:
    future = formatdate(2_000_000_000, usegmt=True)
    conditions = {"If-None-Match": '"something-else"', "If-Modified-Since": future}
    response = client.get("/atom.xml", headers={**IDENTITY, **conditions})
    assert response.status_code == 200
    assert response.content == FILES["atom.xml"]


def test_gzip_when_asked_decompresses_to_the_file(live: str) -> None:
    status, headers, body = raw_request(live, "/atom.xml", headers=GZIP)
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()
    assert int(headers["content-length"]) == len(body) < len(FILES["atom.xml"])
    assert gzip.decompress(body) == FILES["atom.xml"]


@pytest.mark.parametrize("accept_encoding", [None, "identity", "gzip;q=0, identity", "br"])
def test_identity_unless_gzip_is_acceptable(live: str, accept_encoding: str | None) -> None:
    headers = {} if accept_encoding is None else {"Accept-Encoding": accept_encoding}
    status, response_headers, body = raw_request(live, "/atom.xml", headers=headers)
    assert status == 200
    assert "content-encoding" not in response_headers
    assert "accept-encoding" in response_headers["vary"].lower()
    assert body == FILES["atom.xml"]


def test_gzip_variant_has_its_own_etag_and_revalidates(client: httpx.Client) -> None:
    identity = client.get("/atom.xml", headers=IDENTITY).headers["etag"]
    compressed = client.get("/atom.xml", headers=GZIP)
    assert compressed.headers["content-encoding"] == "gzip"
    gzip_etag = compressed.headers["etag"]
    assert gzip_etag != identity
    again = client.get("/atom.xml", headers={**GZIP, "If-None-Match": gzip_etag})
    assert again.status_code == 304
    assert again.headers["etag"] == gzip_etag
    assert again.content == b""


def test_holder_of_the_identity_copy_is_told_it_is_current(client: httpx.Client) -> None:
    identity = client.get("/atom.xml", headers=IDENTITY).headers["etag"]
    response = client.get("/atom.xml", headers={**GZIP, "If-None-Match": identity})
    assert response.status_code == 304
    assert response.headers["etag"] == identity


def test_file_that_gzip_cannot_shrink_is_sent_as_is(live: str) -> None:
    status, headers, body = raw_request(live, "/tiny.json", headers=GZIP)
    assert status == 200
    assert "content-encoding" not in headers
    assert body == FILES["tiny.json"]


@pytest.mark.parametrize("accept_encoding", ["identity", "gzip"])
def test_head_announces_what_get_sends(client: httpx.Client, accept_encoding: str) -> None:
    headers = {"Accept-Encoding": accept_encoding}
    head = client.head("/atom.xml", headers=headers)
    get = client.get("/atom.xml", headers=headers)
    assert head.status_code == 200
    assert head.content == b""
    compared = ("content-type", "content-length", "content-encoding", "etag", "link", "vary")
    assert [head.headers.get(name) for name in compared] == [
        get.headers.get(name) for name in compared
    ]


@pytest.mark.parametrize("path", FEEDS)
def test_feeds_link_their_hub_and_themselves(client: httpx.Client, path: str) -> None:
    link = client.get(path).headers["link"]
    assert link == f'<{HUB_URL}>; rel="hub", <{BASE_URL}{path}>; rel="self"'


@pytest.mark.parametrize("path", ["/", "/index.html", "/feeds.opml"])
def test_pages_carry_no_feed_links(client: httpx.Client, path: str) -> None:
    assert "link" not in client.get(path).headers


def test_without_a_hub_only_the_self_link_is_sent(start_server: StartServer) -> None:
    live = start_server(hub_url=None)
    response = httpx.get(f"{live}/tags/open-data/feed.json", timeout=10)
    assert response.headers["link"] == f'<{BASE_URL}/tags/open-data/feed.json>; rel="self"'


def test_mounted_under_a_prefix_links_and_redirects_stay_right(serve, output_dir: Path) -> None:
    """How the API will host it: mounted by a Starlette (FastAPI) application."""
    feeds = feed_files_app(output_dir, base_url=f"{BASE_URL}/feeds", hub_url=HUB_URL)
    live = serve(Starlette(routes=[Mount("/feeds", app=feeds)]))
    with httpx.Client(base_url=live, timeout=10) as client:
        feed = client.get("/feeds/tags/open-data/atom.xml", headers=IDENTITY)
        assert feed.content == FILES["tags/open-data/atom.xml"]
        self_link = f'<{BASE_URL}/feeds/tags/open-data/atom.xml>; rel="self"'
        assert feed.headers["link"] == f'<{HUB_URL}>; rel="hub", {self_link}'
        folder = client.get("/feeds/tags/open-data", follow_redirects=True, headers=IDENTITY)
        assert folder.url.path == "/feeds/tags/open-data/"
        assert folder.content == FILES["tags/open-data/index.html"]
    status, _, body = raw_request(live, "/feeds/../secret.txt")
    assert status == 404
    assert SECRET not in body


def test_cache_control_is_public_with_the_configured_max_age(start_server: StartServer) -> None:
    live = start_server(max_age=123)
    with httpx.Client(base_url=live, timeout=10) as client:
        response = client.get("/rss.xml")
        assert response.headers["cache-control"] == "public, max-age=123"
        revalidated = client.get("/rss.xml", headers={"If-None-Match": response.headers["etag"]})
        assert revalidated.status_code == 304
        assert revalidated.headers["cache-control"] == "public, max-age=123"


@pytest.mark.parametrize("cache_bytes", [1, len(FILES["atom.xml"]) * 2])
def test_every_file_keeps_its_own_content_when_the_cache_is_full(
    start_server: StartServer, cache_bytes: int
) -> None:
    """Smaller than one feed (nothing kept) and room for about one (constant eviction)."""
    live = start_server(cache_bytes=cache_bytes)
    paths = ["/atom.xml", "/rss.xml", "/categories/presse/atom.xml", "/feed.json"] * 3
    with httpx.Client(base_url=live, timeout=10) as client:
        for path in paths:
            for headers in (IDENTITY, GZIP):
                assert client.get(path, headers=headers).content == FILES[path.lstrip("/")]


def test_default_max_age_is_one_minute(client: httpx.Client) -> None:
    assert client.get("/feeds.opml").headers["cache-control"] == "public, max-age=60"


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/tags/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/tags/%2E%2E/%2e%2e/secret.txt",
        "/tags/%2f..%2f..%2fsecret.txt",
        "/tags/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/tags\\..\\..\\secret.txt",
        "/rss.xml%00.html",
        "/tags/leak/rss.xml",
    ],
)
def test_nothing_outside_the_folder_is_reachable(live: str, target: str) -> None:
    status, _, body = raw_request(live, target)
    assert status in (400, 404)
    assert SECRET not in body


def test_absolute_paths_stay_inside_the_folder(live: str, output_dir: Path) -> None:
    secret = output_dir.parent / "secret.txt"
    for target in (str(secret), "/" + str(secret), "/%2f" + str(secret).lstrip("/")):
        status, _, body = raw_request(live, target)
        assert status in (400, 404), target
        assert SECRET not in body


def test_symlinks_within_the_folder_are_followed(client: httpx.Client) -> None:
    response = client.get("/tags/alias/atom.xml", headers=IDENTITY)
    assert response.status_code == 200
    assert response.content == FILES["tags/open-data/atom.xml"]


@pytest.mark.parametrize(
    "path", ["/.atom.xml.tmp-4242", "/.git/config", "/tags/.drafts/rss.xml", "/tags/sneaky.xml"]
)
def test_hidden_files_are_never_served(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert b"half a feed" not in response.content

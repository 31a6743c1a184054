"""First-load transfer size of the tracking page: HTML, CSS and JS, gzipped as served.

A customer page carries its CSS inline (portal/critical_css.py), so its weight is in the
HTML's figure; any stylesheet a page still links is fetched and counted as well.

The real app (create_app, in process through Starlette's TestClient) serves the
page to a signed-in customer; the stylesheets and scripts it links are fetched
the way a browser with an empty cache would, with `Accept-Encoding: gzip`. The
figures are response bodies as sent; headers are not counted.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from html.parser import HTMLParser

from starlette.testclient import TestClient

from bench import (
    BENCH_SECRET,
    Backend,
    get_demo_order,
    issue_code,
    list_backends,
    row,
    scratch_directory,
    seed_demo,
)
from portal.app import create_app
from portal.settings import Settings

BUDGET_BYTES = 50 * 1024


class SubresourceParser(HTMLParser):
    """The stylesheet, script and image URLs a browser fetches on first load."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "link" and "stylesheet" in (found.get("rel") or "").split():
            self._add(found.get("href"))
        elif tag in ("script", "img"):
            self._add(found.get("src"))

    def _add(self, url: str | None) -> None:
        if url and url not in self.urls:
            self.urls.append(url)


@dataclass(frozen=True)
class Transfer:
    url: str
    content_type: str
    raw_bytes: int
    sent_bytes: int
    encoding: str

    def describe(self) -> str:
        return (
            f"{self.url:<42} {self.content_type:<24} {self.raw_bytes:>8,} B raw"
            f" {self.sent_bytes:>8,} B sent ({self.encoding})"
        )


def fetch(client: TestClient, url: str) -> tuple[Transfer, bytes]:
    """The body as it crossed the wire, and decoded."""
    with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
        wire = b"".join(response.iter_raw())
        encoding = response.headers.get("content-encoding", "identity")
        content_type = response.headers.get("content-type", "").split(";")[0]
    body = gzip.decompress(wire) if encoding == "gzip" else wire
    return Transfer(url, content_type, len(body), len(wire), encoding), body


def first_load(backend: Backend) -> list[Transfer]:
    database = seed_demo(backend)
    try:
        order = get_demo_order(database)
        code = issue_code(database, order)
        settings = Settings(
            database_url=backend.url,
            secret_keys=(BENCH_SECRET,),
            embedded_worker=False,
            base_url="http://testserver",
        )
        with TestClient(create_app(settings, database)) as client:
            entered = client.get(f"/t/{code}", follow_redirects=False)
            if entered.status_code != 303:
                raise RuntimeError(f"/t/<code> answered {entered.status_code}")
            page, html = fetch(client, f"/orders/{order.public_no}")
            parser = SubresourceParser()
            parser.feed(html.decode("utf-8"))
            return [page] + [fetch(client, url)[0] for url in parser.urls]
    finally:
        database.dispose()


def run() -> list[str]:
    print("== tracking page first-load weight (gzip as served) ==")
    with scratch_directory() as directory:
        transfers = first_load(list_backends(directory)[0])
    for transfer in transfers:
        print(f"  {transfer.describe()}")
    raw = sum(t.raw_bytes for t in transfers)
    sent = sum(t.sent_bytes for t in transfers)
    share = sent / BUDGET_BYTES
    print(
        f"  total: {raw:,} B raw, {sent:,} B sent = {sent / 1024:.1f} KB of the "
        f"{BUDGET_BYTES // 1024} KB budget ({share:.0%}); 1 KB = 1024 B"
    )
    return [
        row(
            "page weight",
            f"first load, {len(transfers)} responses, gzip",
            f"{sent / 1024:.1f} KB sent ({raw / 1024:.1f} KB raw)",
            f"{share:.0%} of the {BUDGET_BYTES // 1024} KB budget",
        )
    ]


if __name__ == "__main__":
    print("\n".join(run()))

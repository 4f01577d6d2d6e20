"""URL filters: block-list file, host matching, URL normalisation, first-copy dedup."""

from __future__ import annotations

import pytest

from dataprep.urls import BLOCKED, DUPLICATE, UrlDeduper, blocked_by, load_blocklist, normalize_url, url_reasons
from tests.conftest import REPO

BLOCKLIST = REPO / "filters" / "url_blocklist.txt"


def test_shipped_blocklist_loads_and_matches_subdomains_only():
    blocklist = load_blocklist(BLOCKLIST)
    assert "xvideos.com" in blocklist and len(blocklist) >= 20
    assert blocked_by("https://WWW.XVideos.com/video/1", blocklist) == "xvideos.com"
    assert blocked_by("http://de.xhamster.com:8080/x", blocklist) == "xhamster.com"
    assert blocked_by("https://notxvideos.com/", blocklist) is None
    assert blocked_by("https://en.wikipedia.org/wiki/XVideos", blocklist) is None
    assert blocked_by("not a url", blocklist) is None


def test_blocklist_lines_that_are_not_domains_name_file_and_line(tmp_path):
    path = tmp_path / "block.txt"
    path.write_text("# comment\nexample.com  # trailing comment\nhttps://bad.example/path\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"block.txt:3: 'https://bad.example/path' is not a domain name"):
        load_blocklist(path)


@pytest.mark.parametrize(
    "url,expected",
    [
        ("HTTPS://Example.COM:443/", "https://example.com"),
        ("https://example.com", "https://example.com"),
        ("http://example.com:80/A/b?q=1#section", "http://example.com/A/b?q=1"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://user@Example.com/a", "https://user@example.com/a"),
    ],
)
def test_normalize_url(url, expected):
    assert normalize_url(url) == expected


def test_url_reasons_keep_first_copy_in_feed_order_across_batches():
    blocklist = load_blocklist(BLOCKLIST)
    dedup = UrlDeduper()
    first = url_reasons(["https://allenai.org/", "https://pornhub.com/x", None, "https://allenai.org"], blocklist, dedup)
    assert first == [None, BLOCKED, None, DUPLICATE]
    # a later batch (the next file in run order) sees what earlier ones kept; blocked URLs are not remembered
    second = url_reasons(["https://ALLENAI.org/#top", "https://pornhub.com/x", "https://allenai.org/reviz"], frozenset(), dedup)
    assert second == [DUPLICATE, None, None]

"""URL filters: block-list file, host matching, URL normalisation, first-copy dedup."""

from __future__ import annotations

import pytest
from conftest import REPO

from dataprep.urls import blocked_by, load_blocklist, normalize_url, url_key, url_keys

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


def test_url_keys_are_stable_and_equal_for_spellings_of_one_page():
    same = ["https://allenai.org/", "https://ALLENAI.org", "https://allenai.org:443/#top"]
    assert len({url_key(u) for u in same}) == 1
    assert url_key("https://allenai.org/reviz") != url_key(same[0])
    # xxh64 of the normalised URL: the same in every process and version (never Python's hash())
    assert url_key("https://allenai.org/") == 0x42661C1061A64DA6
    keys = url_keys([same[0], None, ""])
    assert str(keys.type) == "uint64" and keys.to_pylist()[1:] == [None, None]

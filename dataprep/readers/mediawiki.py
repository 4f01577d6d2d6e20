"""MediaWiki XML dumps (``pages-articles``): one page -> one plain-text article.

The XML is parsed as bytes by lxml, so the encoding the file declares (UTF-16 with a BOM
in the bgwiki sample, UTF-8 elsewhere) is honoured by the parser itself. Wikitext becomes
plain text with mwparserfromhell (``wikitext_to_text``): templates, references, tables,
files/images, categories and interlanguage links are dropped; link and heading text is kept.

Every page is accounted for: redirects are rejected rows with reason ``redirect``, pages
outside the wanted namespaces ``namespace``, pages with no text left ``no_text``.

Options: ``namespaces`` (list of namespace numbers to keep, default ``[0]``: articles).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from lxml import etree

from dataprep.readers.base import RAW_LIMIT, UNREADABLE_FILE, RawRecord, UnreadableFile, reader

# Tags whose content is not running prose.
_DROP_TAGS = {
    "ref",
    "references",
    "gallery",
    "table",
    "math",
    "chem",
    "score",
    "timeline",
    "imagemap",
    "graph",
    "mapframe",
}
# Namespaces whose links are never prose, in their canonical English names (the dump's own
# localised names are added from <siteinfo>).
_NON_TEXT_NS_KEYS = {"6", "14", "-2"}  # File, Category, Media
_NON_TEXT_PREFIXES = {"file", "image", "category", "media"}
_LANG_PREFIX = re.compile(r"^[a-z]{2,3}(-[a-z]+)*$")
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t]{2,}")  # where removed templates stood
# References are dropped before parsing too: a <ref> the parser cannot pair (odd nesting in
# long articles) would otherwise leave its markup in the text.
_REFS = re.compile(r"<ref\b[^>]*/>|<ref\b[^>]*>.*?</ref\s*>", re.IGNORECASE | re.DOTALL)
_EMPHASIS = re.compile(r"'{2,}")
# What removed pronunciation/date templates leave in a lead sentence: "Albedo () or", "(; 1809".
_EMPTY_PARENS = re.compile(r" ?\((?:\s|[;,])*\)")
_OPEN_PAREN_PUNCT = re.compile(r"\((?:\s|[;,])+")
# Rows of a table the parser could not pair (``{|`` ... ``|}`` with broken markup inside).
_TABLE_LINE = re.compile(r"^(\{\||\|\}|\|-|\|\+|\||!)")


@reader("mediawiki", extensions=(".xml",))
def read_mediawiki(stream: BinaryIO, path: str, options: dict[str, Any]) -> Iterator[RawRecord]:
    """One RawRecord per ``<page>``, numbered from 1 in file order."""
    namespaces = _namespaces_option(options, path)
    site = SiteInfo()
    try:
        events = etree.iterparse(stream, events=("end",), huge_tree=True, recover=False)
        row = 0
        for _, elem in events:
            tag = _local(elem.tag)
            if tag == "siteinfo":
                site = SiteInfo.from_element(elem)
            elif tag == "page":
                row += 1
                yield page_to_raw(row, elem, site, namespaces)
            else:
                continue
            elem.clear()  # keep memory flat on multi-GB dumps
            while elem.getprevious() is not None:
                del elem.getparent()[0]
    except etree.XMLSyntaxError as exc:
        raise UnreadableFile(path, UNREADABLE_FILE, f"not a well-formed MediaWiki XML dump ({exc})") from exc


def _namespaces_option(options: dict[str, Any], path: str) -> set[int]:
    unknown = set(options) - {"namespaces"}
    if unknown:
        raise ValueError(f"{path}: unknown mediawiki reader option(s) {sorted(unknown)}; known: namespaces")
    value = options.get("namespaces", [0])
    if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
        raise ValueError(f"{path}: options.namespaces must be a list of namespace numbers, e.g. [0]")
    return set(value)


class SiteInfo:
    """What ``<siteinfo>`` tells: the page URL prefix and localised non-prose namespace names."""

    def __init__(self, base_url: str | None = None, non_text_prefixes: set[str] | None = None) -> None:
        self.base_url = base_url
        self.non_text_prefixes = _NON_TEXT_PREFIXES | (non_text_prefixes or set())

    @classmethod
    def from_element(cls, elem: Any) -> SiteInfo:
        base = _child_text(elem, "base")
        prefixes = {
            (ns.text or "").strip().lower()
            for ns in elem.iter("{*}namespace")
            if ns.get("key") in _NON_TEXT_NS_KEYS and ns.text
        }
        return cls(base.rsplit("/", 1)[0] + "/" if base else None, prefixes)

    def url(self, title: str) -> str | None:
        return self.base_url + title.replace(" ", "_") if self.base_url else None


def page_to_raw(row: int, page: Any, site: SiteInfo, namespaces: set[int]) -> RawRecord:
    title = _child_text(page, "title")
    ns = int(_child_text(page, "ns") or 0)
    revision = _child(page, "revision")
    wikitext = _child_text(revision, "text") if revision is not None else ""
    raw = f"{title}\n\n{wikitext}"[:RAW_LIMIT]
    if _child(page, "redirect") is not None:
        target = _child(page, "redirect").get("title", "")  # type: ignore[union-attr]
        return RawRecord(row, None, "redirect", f"{title!r} redirects to {target!r}", raw)
    if ns not in namespaces:
        return RawRecord(row, None, "namespace", f"{title!r} is in namespace {ns}", raw)
    body = wikitext_to_text(wikitext, site.non_text_prefixes)
    if not body:
        return RawRecord(row, None, "no_text", f"{title!r} has no prose after removing markup", raw)
    fields: dict[str, Any] = {
        "text": f"{title}\n\n{body}",
        "title": title,
        "page_id": int(_child_text(page, "id") or 0),
        "ns": ns,
    }
    if revision is not None:
        fields["revision_id"] = int(_child_text(revision, "id") or 0)
        fields["timestamp"] = _child_text(revision, "timestamp")
    if url := site.url(title):
        fields["url"] = url
    return RawRecord(row, fields)


def wikitext_to_text(wikitext: str, non_text_prefixes: set[str] = _NON_TEXT_PREFIXES) -> str:
    """Plain prose from wikitext (see the module doc for what is kept)."""
    import mwparserfromhell

    code = mwparserfromhell.parse(_drop_links(_REFS.sub("", wikitext), non_text_prefixes))
    _prune(code, non_text_prefixes)
    text = _EMPHASIS.sub("", code.strip_code(normalize=True, collapse=True, keep_template_params=False))
    text = _OPEN_PAREN_PUNCT.sub("(", _EMPTY_PARENS.sub("", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(ln for ln in lines if not _TABLE_LINE.match(ln))).strip()


def _drop_links(wikitext: str, prefixes: set[str]) -> str:
    """Remove ``[[File:...]]``-style links by bracket depth, captions with nested links
    included: the parser leaves some of them as raw text."""
    out, pos = [], 0
    while (start := wikitext.find("[[", pos)) >= 0:
        head = wikitext[start + 2 : start + 40].lower()  # not the whole page: lower() can change lengths
        if ":" not in head or head.split(":", 1)[0].strip() not in prefixes:
            out.append(wikitext[pos : start + 1])  # step one: "[[[File:" holds a link at +1
            pos = start + 1
            continue
        depth, i = 0, start
        while i < len(wikitext):
            pair = wikitext[i : i + 2]
            depth += (pair == "[[") - (pair == "]]")
            i += 2 if pair in ("[[", "]]") else 1
            if depth == 0:
                break
        out.append(wikitext[pos:start])
        pos = i  # an unclosed link runs to the end of the page
    out.append(wikitext[pos:])
    return "".join(out)


def _prune(code: Any, non_text_prefixes: set[str]) -> None:
    """Drop non-prose nodes in one pass (``Wikicode.remove`` searches the tree per call:
    quadratic, 4 s on one long article)."""
    from mwparserfromhell.nodes import ExternalLink, Heading, Tag, Wikilink

    keep = []
    for node in code.nodes:
        if isinstance(node, Tag):
            if str(node.tag).strip().lower() in _DROP_TAGS:
                continue
            children = [node.contents]
        elif isinstance(node, Wikilink):
            if _non_text_link(str(node.title), non_text_prefixes):
                continue
            children = [node.text]
        elif isinstance(node, Heading):
            children = [node.title]
        elif isinstance(node, ExternalLink):
            children = [node.title]
        else:
            children = []  # text, templates (dropped by strip_code), comments, entities
        for child in children:
            if child is not None:
                _prune(child, non_text_prefixes)
        keep.append(node)
    code.nodes[:] = keep


def _non_text_link(title: str, non_text_prefixes: set[str]) -> bool:
    """File/category links and interlanguage links (``[[de:Anarchismus]]``) are not prose."""
    prefix, colon, _ = title.strip().lstrip(":").partition(":")
    if not colon:
        return False
    prefix = prefix.strip().lower()
    return prefix in non_text_prefixes or (not title.lstrip().startswith(":") and bool(_LANG_PREFIX.match(prefix)))


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(elem: Any, name: str) -> Any:
    return elem.find(f"{{*}}{name}")


def _child_text(elem: Any, name: str) -> str:
    child = _child(elem, name)
    return child.text or "" if child is not None else ""

"""Stack Exchange ``Posts.xml`` dumps: one question with its answers -> one document.

A thread is the unit worth training on, so each question (``PostTypeId=1``) becomes a
document: its title, its body, then every answer (accepted first, then by score, then by
id), each after an ``Answer:`` line. Bodies are HTML fragments, turned to text by
``dataprep.extract.html.fragment_to_text`` (code indentation kept).

Answers appear anywhere after their question in the file, so the whole file's posts are
held until its end (a site's Posts.xml; Stack Overflow's would need a pre-sorted split).
Records come out in file order of their row. Nothing is silent: an answer is listed in its
thread's ``answer_ids``; one whose question is not in the file is a rejected row
(``orphan_answer``), and other post types (tag wikis, nominations) are rejected rows
(``post_type``).

Options: ``site`` (host for document URLs, e.g. ``beer.stackexchange.com``; by default
taken from a file named ``<host>.Posts.xml`` when the host is a Stack Exchange one).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from lxml import etree

from dataprep.core.storage import strip_compression
from dataprep.extract.html import fragment_to_text
from dataprep.readers.base import RAW_LIMIT, UNREADABLE_FILE, RawRecord, UnreadableFile, reader

QUESTION, ANSWER = "1", "2"
_SE_HOST = re.compile(
    r"^(?:[\w-]+\.)*(?:stackexchange|stackoverflow|superuser|serverfault|askubuntu|mathoverflow)(?:\.com|\.net)?$"
)
_TAGS = re.compile(r"<([^>]+)>")


@dataclass
class _Thread:
    row: int
    question: dict[str, str]
    answers: list[dict[str, str]] = field(default_factory=list)


@reader("stackexchange", extensions=("posts.xml",))
def read_stackexchange(stream: BinaryIO, path: str, options: dict[str, Any]) -> Iterator[RawRecord]:
    """One RawRecord per question thread or rejected post, ordered by row number."""
    site = _site_option(options, path)
    threads: dict[str, _Thread] = {}
    answers: list[tuple[int, dict[str, str]]] = []
    out: list[RawRecord] = []
    for row, attrs in _rows(stream, path):
        kind = attrs.get("PostTypeId")
        if kind == QUESTION:
            threads[attrs.get("Id", "")] = _Thread(row, attrs)
        elif kind == ANSWER:
            answers.append((row, attrs))
        else:
            out.append(RawRecord(row, None, "post_type", f"post {attrs.get('Id')} has PostTypeId {kind}", _raw(attrs)))
    for row, attrs in answers:
        thread = threads.get(attrs.get("ParentId", ""))
        if thread is None:
            detail = f"answer {attrs.get('Id')} to question {attrs.get('ParentId')}, which is not in the file"
            out.append(RawRecord(row, None, "orphan_answer", detail, _raw(attrs)))
        else:
            thread.answers.append(attrs)
    out += [thread_to_raw(t, site) for t in threads.values()]
    yield from sorted(out, key=lambda r: r.row)


def _site_option(options: dict[str, Any], path: str) -> str | None:
    unknown = set(options) - {"site"}
    if unknown:
        raise ValueError(f"{path}: unknown stackexchange reader option(s) {sorted(unknown)}; known: site")
    if "site" in options:
        return str(options["site"])
    name = os.path.basename(strip_compression(path))
    prefix = name[: -len(".posts.xml")] if name.lower().endswith(".posts.xml") else ""
    if not _SE_HOST.match(prefix):
        return None
    return prefix if prefix.endswith((".com", ".net")) else prefix + ".com"


def _rows(stream: BinaryIO, path: str) -> Iterator[tuple[int, dict[str, str]]]:
    """``(row number, attributes)`` of each ``<row>``, streaming."""
    try:
        row = 0
        for _, elem in etree.iterparse(stream, events=("end",), tag="row", huge_tree=True):
            row += 1
            yield row, dict(elem.attrib)
            elem.clear()
            while elem.getprevious() is not None:
                del elem.getparent()[0]
    except etree.XMLSyntaxError as exc:
        raise UnreadableFile(path, UNREADABLE_FILE, f"not a well-formed Stack Exchange Posts.xml ({exc})") from exc


def _answer_order(question: dict[str, str]) -> Any:
    accepted = question.get("AcceptedAnswerId")
    return lambda a: (a.get("Id") != accepted, -int(a.get("Score") or 0), int(a.get("Id") or 0))


def thread_to_raw(thread: _Thread, site: str | None) -> RawRecord:
    q = thread.question
    answers = sorted(thread.answers, key=_answer_order(q))
    title = (q.get("Title") or "").strip()
    body = fragment_to_text(q.get("Body") or "")
    if not (title or body):
        return RawRecord(thread.row, None, "no_text", f"question {q.get('Id')} has no title and no body", _raw(q))
    parts = [p for p in (title, body) if p]
    parts += [f"Answer:\n{text}" for a in answers if (text := fragment_to_text(a.get("Body") or ""))]
    fields: dict[str, Any] = {
        "text": "\n\n".join(parts),
        "title": title,
        "question_id": int(q.get("Id") or 0),
        "tags": _TAGS.findall(q.get("Tags") or "") or (q.get("Tags") or "").strip("|").split("|"),
        "score": int(q.get("Score") or 0),
        "creation_date": q.get("CreationDate"),
        "answer_ids": [int(a.get("Id") or 0) for a in answers],
        "accepted_answer_id": int(q["AcceptedAnswerId"]) if q.get("AcceptedAnswerId") else None,
    }
    if site:
        fields["url"] = f"https://{site}/questions/{q.get('Id')}"
    return RawRecord(thread.row, fields)


def _raw(attrs: dict[str, str]) -> str:
    return " ".join(f'{k}="{v}"' for k, v in attrs.items())[:RAW_LIMIT]

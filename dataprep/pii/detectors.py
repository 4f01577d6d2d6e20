"""Detectors of personal data: each finds candidate strings cheaply, then validates them.

Precision comes from validation by the library of the field (``phonenumbers`` numbering
plans, ``python-stdnum`` checksums and ranges, ``ipaddress`` scopes), recall from candidate
patterns loose enough for the formats people write.

Speed comes from a gate in front of every detector. Python's ``re`` scans real text at only
~30-40 MB/s per pattern (measured here), so eight detectors run naively on every document
would stay below 5 MB/s. Each detector therefore declares ``gate``: a Rust-regex superset of
its candidates, run by polars over the whole column of texts at 300-2,500 MB/s. Only the
documents a gate passes (a few percent to ~15% of real text) see the Python pattern, and
only its candidates see the validators.

Every ``find`` returns ``(start, end)`` code-point offsets into the text it was given.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
import polars as pl
from stdnum import iban, isbn, luhn
from stdnum.br import cpf
from stdnum.ca import sin
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.in_ import aadhaar
from stdnum.it import codicefiscale
from stdnum.us import ssn as us_ssn

Offsets = list[tuple[int, int]]


def _context(text: str, start: int, pattern: re.Pattern[str], window: int = 32) -> bool:
    """Whether ``pattern`` occurs in the ``window`` characters before ``start``."""
    return pattern.search(text, max(0, start - window), start) is not None


def _bounded(text: str, start: int, end: int, inner: str = "") -> bool:
    """True if the span is not glued to a word, or to ``inner`` characters, on either side."""
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or before == "_" or before in inner or after.isalnum() or after == "_")


# --- email -------------------------------------------------------------------------------

_LOCAL_TAIL = re.compile(r"[\w.%+\-]{1,64}\Z")  # \w: Unicode local parts (RFC 6531)
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9\-])")


@dataclass(frozen=True)
class EmailDetector:
    """Addresses found from each ``@`` outwards: ``str.find`` visits only the ``@`` signs,
    instead of a regex trying a local part at every letter of the document."""

    type: str = "email"
    gate: str = "@"

    def find(self, text: str) -> Offsets:
        out: Offsets = []
        at = text.find("@")
        while at != -1:
            local = _LOCAL_TAIL.search(text, max(0, at - 64), at)
            domain = _DOMAIN.match(text, at + 1)
            if local and domain:
                start = local.start()
                while start < at and text[start] in ".-+":
                    start += 1
                if start < at and text[at - 1] != ".":
                    out.append((start, domain.end()))
            at = text.find("@", at + 1)
        return out


# --- IP addresses ------------------------------------------------------------------------

_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
# 2000::/3 is the only IPv6 space assigned to hosts, so a wanted address starts with four
# hex digits, the first 2 or 3; everything else a looser pattern finds ("a::b", "1::2"
# slices in code, "std::map") is reserved, local or not an address at all.
_IPV6 = re.compile(r"[23][0-9A-Fa-f]{3}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}")
_VERSION_BEFORE = re.compile(
    r"(?i)(?:\bv|version|release[sd]?|\bver\.?|build|revision|\brev\.?|patch|update[sd]?|upgrade[sd]?|"
    r"bump(?:ed)?|changelog|firmware|[<>~!^]=?|==|@|^#+)\s*[:=]?\s*\Z",
    re.MULTILINE,
)
_IP_WORDS = re.compile(r"(?i)(?:\bips?\b|address|addr|host|server|client|from|ping|connect|proxy|dns|route)\W{0,16}\Z")
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Private, loopback, link-local, documentation, shared and multicast ranges are not
    anyone's address (datatrove keeps them too); ``is_global`` alone counts multicast in."""
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class IpDetector:
    """IPv4 and IPv6 addresses in public ranges.

    Version strings are the classic trap: ``1.2.3.4`` in a changelog is a valid public
    address. A dotted quad is taken for a version when glued to more dots or letters
    (``v1.2.3.4``, ``1.2.3.4.5``, ``1.2.3.4-rc1``), when a version word or operator
    precedes it (``version``, ``>=``, ``==``, a ``##`` heading), or when all four numbers
    are below 20 (how versions count; a random public address is like that once in 27,000)
    and no address word (``IP``, ``host``, ``from``, ``ping``...) precedes it."""

    type: str = "ip"
    keep_non_public: bool = True
    gate: str = r"\d\.\d{1,3}\.\d{1,3}\.\d|[23][0-9A-Fa-f]{3}:[0-9A-Fa-f]{0,4}:"

    def find(self, text: str) -> Offsets:
        out: Offsets = []
        for m in _IPV4.finditer(text):
            s, e = m.span()
            if not _bounded(text, s, e, ".-") or text.startswith(("-", "."), e) and _glued_word(text, e):
                continue
            if _context(text, s, _VERSION_BEFORE, 24) or text.startswith("/", e):
                continue  # a version, or a network (192.0.3.0/24), not anyone's address
            if all(int(p) < 20 for p in m.group().split(".")) and not _context(text, s, _IP_WORDS, 32):
                continue
            if self._wanted(m.group()):
                out.append((s, e))
        for m in _IPV6.finditer(text):
            s, e = m.span()
            cand = m.group()
            if not _bounded(text, s, e, ":.") or sum(1 for g in cand.split(":") if g) < 3:
                continue  # "2004::" after a date, "2a00:1" ratios: an address has three groups at least
            try:
                ip = ipaddress.IPv6Address(cand)
            except ValueError:
                continue
            if ip in _GLOBAL_UNICAST and (not self.keep_non_public or _public(ip)):
                out.append((s, e))
        return out

    def _wanted(self, cand: str) -> bool:
        try:
            ip = ipaddress.IPv4Address(cand)
        except ValueError:
            return False
        return not self.keep_non_public or _public(ip)


def _glued_word(text: str, end: int) -> bool:
    """``1.2.3.4.5`` or ``1.2.3.4-beta``: the quad continues into a longer token."""
    return end + 1 < len(text) and (text[end + 1].isalnum())


# --- phone numbers -----------------------------------------------------------------------

_PHONE = re.compile(r"(?:\+|\(\+?)?\d[\d ().\-]{5,24}\d(?:(?: ?(?:x|ext\.?|#) ?)\d{1,5})?")
_EXTENSION = re.compile(r" ?(?:x|ext\.?|#) ?\d{1,5}\Z")
_PHONE_WORDS = re.compile(
    r"(?i)(?:tel|phone|fax|mobile?|mob|cell|call|dial|sms|whatsapp|telefon|t[ée]l[ée]phone|t[ée]l|tel[ée]fono|"
    r"m[óo]vil|handy|cellulare|portable|contact|reach)\b(?:\W+\w{1,4}){0,2}\W{0,6}\Z|[☎📞]\s*\Z"
)
_DATE = re.compile(
    r"(?:\d{4}[./\- ]\d{1,2}[./\- ]\d{1,2}|\d{1,2}[./\- ]\d{1,2}[./\- ]\d{2,4})(?:[ T]\d{1,2}(?:[.:]\d{2}){0,2})?"
)
_YEAR_RANGE = re.compile(r"(?:1[5-9]|20)\d\d ?[-–] ?(?:1[5-9]|20)\d\d")
_MONEY_BEFORE = re.compile(r"(?:[$€£¥₹₽]|\b(?:USD|EUR|GBP|CHF|JPY|INR|Rs\.?|R\$))\s?\Z")
_MONEY_AFTER = re.compile(r"\s?(?:[$€£¥₹₽%‰]|(?:USD|EUR|GBP|CHF|JPY|INR|zł|kr|Ft)\b)")
_ISBN_WORD = re.compile(r"(?i)\bisbn(?:-1[03])?\W{0,3}\Z")

DEFAULT_REGIONS = ("US", "GB", "CA", "AU", "IN", "DE", "FR", "IT", "ES", "NL", "BR", "JP", "PL")


@dataclass(frozen=True)
class PhoneDetector:
    """Phone numbers valid in libphonenumber's numbering plans: international (``+``/``00``)
    numbers in any country, national ones in ``regions`` (tried in order).

    Before libphonenumber sees a candidate (~20 µs per region), cheap checks turn away
    what only looks like a number: dates, year ranges, ISBNs, prices (currency beside it),
    decimals (``3.14159``), coordinates (``.`` mixed with other separators) and bare digit
    runs (code constants, timestamps) unless a phone word (``Tel:``, ``call``) precedes them.
    """

    type: str = "phone"
    regions: tuple[str, ...] = DEFAULT_REGIONS
    gate: str = _PHONE.pattern

    def find(self, text: str) -> Offsets:
        out: Offsets = []
        for m in _PHONE.finditer(text):
            s, e = m.span()
            cand = m.group()
            while cand and cand[-1] in ").-":  # trailing punctuation of the sentence
                cand, e = cand[:-1], e - 1
            if not _bounded(text, s, e, "$€£¥.,/-+_"):
                continue
            if text.startswith((",", "."), e) and e + 1 < len(text) and text[e + 1].isdigit():
                continue  # 1,234,567 or 12.345.678,90
            if self._plausible(text, s, e, cand) and _valid_phone(_EXTENSION.sub("", cand), self.regions):
                out.append((s, e))
        return out

    def _plausible(self, text: str, s: int, e: int, cand: str) -> bool:
        core = _EXTENSION.sub("", cand)
        digits = sum(c.isdigit() for c in core)
        if not 7 <= digits <= 15 or "  " in core or ".." in core or "--" in core:
            return False
        if "." in core and (" " in core or "-" in core or max(len(g) for g in core.split(".")) > 4):
            return False  # decimals, coordinates, 1.5 2.5 3.5 tables
        if _DATE.fullmatch(core) or _YEAR_RANGE.fullmatch(core) or _isbn13(core):
            return False
        if _context(text, s, _MONEY_BEFORE, 6) or _MONEY_AFTER.match(text, e) or _context(text, s, _ISBN_WORD, 12):
            return False
        groups = re.findall(r"\d+", core.replace("(0)", ""))  # +44 (0)20: the trunk zero people add
        if sum(len(g) == 1 for g in groups[1 if core.startswith("+") else 0 :]) > 1:
            return False  # 1 2 3 4 5 6 7: lists and tables, not phones
        if len(groups) == 4 and core.count(".") == 3 and core[0] != "+":
            return False  # an IP address (public ones are the IP detector's, the rest are kept)
        if core[0] in "+(":
            return True
        # bare digits (code constants, timestamps), thousands (705 844 406) and ranges
        # (868-1528) are phone numbers only after a phone word
        thousands = len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])
        ranged = len(groups) == 2 and "-" in core and max(map(len, groups)) <= 4
        return (len(groups) > 1 and not thousands and not ranged) or _context(text, s, _PHONE_WORDS, 24)


def _isbn13(core: str) -> bool:
    """An ISBN-13 (978/979, check digit right). ISBN-10 is only ruled out after the word
    ``ISBN``: one random 10-digit number in 11 has a valid ISBN-10 check digit."""
    digits = re.sub(r"\D", "", core)
    return len(digits) == 13 and digits.startswith(("978", "979")) and isbn.is_valid(digits)


def _valid_phone(number: str, regions: tuple[str, ...]) -> bool:
    if number.startswith("00"):
        number = "+" + number[2:]
    for region in (None,) if number.lstrip("(").startswith("+") else regions:
        try:
            parsed = phonenumbers.parse(number, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return True
    return False


# --- payment cards, IBANs, SSNs, national ids --------------------------------------------

_CARD = re.compile(r"\d(?:[ \-]?\d){11,18}")
# (first digits low, high, lengths): Visa, Mastercard (51-55, 2221-2720), Amex, Discover,
# JCB, Diners, UnionPay, Maestro, Mir, from the issuers' published IIN ranges.
_ISSUERS: tuple[tuple[int, int, tuple[int, ...]], ...] = (
    (4, 4, (13, 16, 19)),
    (51, 55, (16,)),
    (2221, 2720, (16,)),
    (34, 34, (15,)),
    (37, 37, (15,)),
    (6011, 6011, (16, 17, 18, 19)),
    (644, 649, (16, 17, 18, 19)),
    (65, 65, (16, 17, 18, 19)),
    (3528, 3589, (16, 17, 18, 19)),
    (300, 305, (14, 15, 16, 17, 18, 19)),
    (36, 36, (14, 15, 16, 17, 18, 19)),
    (38, 39, (14, 15, 16, 17, 18, 19)),
    (62, 62, (16, 17, 18, 19)),
    (5018, 5018, tuple(range(12, 20))),
    (5020, 5020, tuple(range(12, 20))),
    (5038, 5038, tuple(range(12, 20))),
    (56, 58, tuple(range(12, 20))),
    (6304, 6304, tuple(range(12, 20))),
    (6390, 6390, tuple(range(12, 20))),
    (6759, 6759, tuple(range(12, 20))),
    (6761, 6763, tuple(range(12, 20))),
    (2200, 2204, (16, 17, 18, 19)),
)
# How people group card digits: 4-4-4-4(-3), Amex/Diners 4-6-5 and 4-6-4, or no separator.
_CARD_GROUPS = re.compile(r"\d{4}(?:([ \-])\d{4}(?:\1\d{4}(?:\1\d{1,4}(?:\1\d{1,3})?)?)?|([ \-])\d{6}\2\d{4,5})")


def _issuer_known(digits: str) -> bool:
    n = len(digits)
    return any(lo <= int(digits[: len(str(lo))]) <= hi and n in lengths for lo, hi, lengths in _ISSUERS)


@dataclass(frozen=True)
class CardDetector:
    """Payment card numbers: Luhn-valid (python-stdnum), an issuer's prefix and length, and
    digits either unbroken or grouped as cards print them."""

    type: str = "card"
    gate: str = _CARD.pattern

    def find(self, text: str) -> Offsets:
        out: Offsets = []
        for m in _CARD.finditer(text):
            s, e = m.span()
            cand = m.group()
            if not _bounded(text, s, e, ".,-"):
                continue
            digits = re.sub(r"\D", "", cand)
            if not cand.isdigit() and not _CARD_GROUPS.fullmatch(cand):
                continue
            if 12 <= len(digits) <= 19 and _issuer_known(digits) and luhn.is_valid(digits):
                out.append((s, e))
        return out


_IBAN = re.compile(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?")


@dataclass(frozen=True)
class IbanDetector:
    """IBANs, compact or in groups of four, checked by python-stdnum (country length and
    the ISO 7064 mod 97 checksum). A candidate that runs into the next word is cut back
    group by group until it validates."""

    type: str = "iban"
    gate: str = r"[A-Z]{2}\d{2} ?[A-Z0-9]{4}"

    def find(self, text: str) -> Offsets:
        out: Offsets = []
        for m in _IBAN.finditer(text):
            s, e = m.span()
            if s and (text[s - 1].isalnum() or text[s - 1] == "_"):
                continue
            cand = m.group()
            while len(cand) >= 15:
                if iban.is_valid(cand) and _bounded(text, s, s + len(cand)):
                    out.append((s, s + len(cand)))
                    break
                cut = cand.rfind(" ")
                cand = cand[:cut] if cut > 0 else cand[:-1]
        return out


_SSN = re.compile(r"\d{3}([ \-])\d{2}\1\d{4}|\d{9}")
_SSN_WORDS = re.compile(r"(?i)(?:\bssn|social security(?: number| no\.?| #)?|\bss#)\W{0,6}\Z")


@dataclass(frozen=True)
class SsnDetector:
    """US social security numbers in valid ranges (python-stdnum: no area 000, 666 or 9xx,
    no group 00 or serial 0000, no known advertising numbers). Nine bare digits only after
    ``SSN``/``social security``: alone they are far more often something else."""

    type: str = "ssn"
    gate: str = r"\d{3}[ \-]\d{2}[ \-]\d{4}|(?i:ssn|social security|ss#)[^\n]{0,30}\d{9}"

    def find(self, text: str) -> Offsets:
        out: Offsets = []
        for m in _SSN.finditer(text):
            s, e = m.span()
            if not _bounded(text, s, e, ".,-"):
                continue
            if m.group().isdigit() and not _context(text, s, _SSN_WORDS, 24):
                continue
            if us_ssn.is_valid(m.group().replace(" ", "-")):
                out.append((s, e))
        return out


@dataclass(frozen=True)
class NationalId:
    """One kind of national id: its pattern, a Rust-regex gate (the pattern without
    back-references), its python-stdnum validator, and whether a keyword must precede it
    (formats too plain to tell apart from other numbers)."""

    name: str
    pattern: re.Pattern[str]
    gate: str
    valid: Callable[[str], bool]
    keyword: re.Pattern[str] | None = None


def _nid(name: str, pattern: str, valid: Callable[[str], bool], keyword: str | None = None) -> NationalId:
    gate = pattern.replace("([ \\-]?)", "[ \\-]?").replace("\\1", "[ \\-]?")
    return NationalId(name, re.compile(pattern), gate, valid, re.compile(keyword) if keyword else None)


NATIONAL_IDS: dict[str, NationalId] = {
    n.name: n
    for n in (
        _nid("it.codicefiscale", r"[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z]", codicefiscale.is_valid),
        _nid("es.dni", r"\d{8}-?[A-Z]", dni.is_valid),
        _nid("es.nie", r"[XYZ]-?\d{7}-?[A-Z]", nie.is_valid),
        _nid("br.cpf", r"\d{3}\.\d{3}\.\d{3}-\d{2}", cpf.is_valid),
        _nid("fr.nir", r"[12] ?\d{2} ?\d{2} ?(?:\d{2}|2A|2B) ?\d{3} ?\d{3} ?\d{2}", nir.is_valid),
        _nid(
            "in.aadhaar",
            r"[2-9]\d{3}([ \-]?)\d{4}\1\d{4}",
            aadhaar.is_valid,
            r"(?i)(?:aadhaa?r|\buid(?:ai)?)\b(?:\W{0,3}(?:no\.?|number|num\.?|#))?\W{0,6}\Z",
        ),
        _nid(
            "ca.sin",
            r"\d{3}([ \-]?)\d{3}\1\d{3}",
            sin.is_valid,
            r"(?i)(?:\bsin\b|social insurance|\bnas\b)(?:\W{0,3}(?:no\.?|number|num\.?|#))?\W{0,6}\Z",
        ),
    )
}


@dataclass(frozen=True)
class NationalIdDetector:
    """National ids that python-stdnum validates (checksums, dates, ranges)."""

    type: str = "national_id"
    kinds: tuple[str, ...] = tuple(NATIONAL_IDS)

    @property
    def gate(self) -> str:
        return "|".join(f"(?:{NATIONAL_IDS[k].gate})" for k in self.kinds)

    def find(self, text: str) -> Offsets:
        out: Offsets = []
        for kind in self.kinds:
            nid = NATIONAL_IDS[kind]
            for m in nid.pattern.finditer(text):
                s, e = m.span()
                if not _bounded(text, s, e, ".,-"):
                    continue
                if nid.keyword is not None and not _context(text, s, nid.keyword, 40):
                    continue
                if nid.valid(m.group()):
                    out.append((s, e))
        return out


@dataclass(frozen=True)
class Found:
    """A span with its type; offsets are code points of the text that was scanned."""

    start: int
    end: int
    type: str


@dataclass(frozen=True)
class DetectorSet:
    """Detectors in priority order: where spans of two types overlap, the earlier type wins
    (an IBAN's digits are not also a phone number). A detector's ``gate`` (Rust regex, or
    None for always) decides which documents it sees."""

    detectors: Sequence[Any] = field(default_factory=tuple)

    def find(self, text: str) -> list[Found]:
        return self.find_all([text])[0]

    def find_all(self, texts: Sequence[str]) -> list[list[Found]]:
        """Spans of every text: sorted, not overlapping."""
        column = pl.Series(texts, dtype=pl.String)
        per_doc: list[list[Found]] = [[] for _ in texts]
        for det in self.detectors:
            rows = _gated(det, column)
            for i in rows:
                for s, e in det.find(texts[i]):
                    per_doc[i].append(Found(s, e, det.type))
        return [_settle(found) for found in per_doc]


def _gated(det: Any, column: pl.Series) -> Sequence[int]:
    """Rows a detector must see: its ``gate_mask`` or ``gate`` (a Rust regex), else all."""
    if hasattr(det, "gate_mask"):
        return det.gate_mask(column).arg_true().to_list()
    if det.gate is None:
        return range(len(column))
    return column.str.contains(det.gate).arg_true().to_list()


def _settle(found: list[Found]) -> list[Found]:
    """Keep spans in priority order (the order found), dropping any that overlaps a kept one."""
    if len(found) < 2:
        return found
    kept: list[Found] = []
    starts: list[int] = []  # kept spans sorted by start; they never overlap each other
    for f in found:
        i = bisect.bisect_left(starts, f.start)
        if (i > 0 and kept[i - 1].end > f.start) or (i < len(kept) and kept[i].start < f.end):
            continue
        starts.insert(i, f.start)
        kept.insert(i, f)
    return kept

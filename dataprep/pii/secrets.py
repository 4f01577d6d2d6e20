"""Secrets in code and config text: API keys, tokens, private key blocks, passwords in URLs.

The patterns are detect-secrets' own (its regex plugins, as BigCode used for The Stack);
this module only adds what a redactor needs and a scanner of single lines does not:

* offsets, not strings (``finditer`` instead of the plugins' ``findall``);
* whole values: a private key is the block from ``-----BEGIN`` to ``-----END ...-----``
  (the plugin matches only the header), and a JWT keeps its signature (the plugin's
  pattern ends in a lazy ``*?`` that stops before it);
* a trigger per plugin: literal strings one of which every match contains. ``str.find``
  on them runs at memory speed, so the ~30 patterns run only on the rare documents that
  hold a trigger (plugins without one always run).

High-entropy-string plugins are left out on purpose: they flag every git hash, UUID and
checksum, which are hard negatives here, not secrets. The IP plugin is left to ``IpDetector``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl
from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.cloudant import CloudantDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.softlayer import SoftlayerDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

from dataprep.pii.detectors import Offsets

# plugin -> strings one of which every match contains (lower case: checked on the lowered
# text when the plugin's patterns ignore case). Read off the plugins' patterns.
_TRIGGERS: dict[type, tuple[str, ...]] = {
    ArtifactoryDetector: ("AKC", "AP"),
    AWSKeyDetector: ("A3T", "ABIA", "ACCA", "AKIA", "ASIA", "aws", "AWS", "Aws"),
    AzureStorageKeyDetector: ("AccountKey=",),
    BasicAuthDetector: ("://",),
    CloudantDetector: ("cl",),
    DiscordBotTokenDetector: (),
    GitHubTokenDetector: ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    GitLabTokenDetector: (
        "glpat-",
        "gldt-",
        "glft-",
        "glsoat-",
        "glrt-",
        "GR1348941",
        "glcbt-",
        "glimt-",
        "glptt-",
        "glagent-",
        "gloas-",
    ),  # fmt: skip
    IbmCloudIamDetector: ("key", "pwd", "pass", "token"),
    IbmCosHmacDetector: ("secret",),
    JwtTokenDetector: ("eyJ",),
    MailchimpDetector: ("-us",),
    NpmDetector: (":_authToken=",),
    OpenAIDetector: ("T3BlbkFJ",),
    PrivateKeyDetector: ("PRIVATE KEY", "PuTTY-User-Key-File-2"),
    PypiTokenDetector: ("pypi-AgE",),
    SendGridDetector: ("SG.",),
    SlackDetector: ("xox", "hooks.slack.com"),
    SoftlayerDetector: ("softlayer", "sl"),
    SquareOAuthDetector: ("sq0csp-",),
    StripeDetector: ("k_live_",),
    TelegramBotTokenDetector: (":",),
    TwilioKeyDetector: ("AC", "SK"),
}

# Plugins whose first capture group is the secret after a keyword (``aws_key = "..."``,
# ``://user:PASSWORD@``); elsewhere a group is only part of the token (``(ghp|gho)_...``).
_KINDS: dict[type, str] = {
    **dict.fromkeys(
        (BasicAuthDetector, CloudantDetector, IbmCloudIamDetector, IbmCosHmacDetector, NpmDetector, SoftlayerDetector),
        "group",
    ),
    AWSKeyDetector: "group",
    PrivateKeyDetector: "block",
    JwtTokenDetector: "token",
}
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_\-+/=.]*")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_PUTTY_END = re.compile(r"Private-MAC: *[0-9a-fA-F]+")
MAX_KEY_BLOCK = 20_000  # characters searched for the end of a private key block


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    triggers: tuple[str, ...]
    lower: bool  # triggers are checked on the lowered text
    kind: str  # "match", "group" (the first group is the value), "token" (lazy tail), "block" (to END)


def _rules() -> tuple[_Rule, ...]:
    rules = []
    for plugin, triggers in _TRIGGERS.items():
        for pattern in plugin().denylist:
            lower = bool(pattern.flags & re.IGNORECASE)
            kind = _KINDS.get(plugin, "match")
            rules.append(_Rule(pattern, tuple(t.lower() for t in triggers) if lower else triggers, lower, kind))
    return tuple(rules)


_RULES = _rules()


_LOOKAROUND = re.compile(r"\(\?<?[=!][^()]*\)")


def _rust(rule: _Rule) -> str:
    """The rule's pattern for Rust's engine: without look-arounds (it has none; dropping
    them only widens the match), case-folded where the plugin's is."""
    pattern = _LOOKAROUND.sub("", rule.pattern.pattern).replace("\\'", "'")
    return f"(?i:{pattern})" if rule.lower else f"(?:{pattern})"


# Gates, measured on 5.7 MB of real text: one Aho-Corasick pass (polars ``contains_any``)
# over the distinctive literals of most plugins (~1 GB/s); each plugin with short or no
# literals by its own Rust regex (600-3,000 MB/s each); the case-insensitive keyword
# plugins as one union (~220 MB/s). One union of every pattern ran at 9 MB/s.
def _by_literal(rule: _Rule) -> bool:
    """Whether a rule's literals are rare enough to gate it (``://``, ``AC``, ``:`` are not)."""
    return not rule.lower and bool(rule.triggers) and min(map(len, rule.triggers)) >= 3 and "://" not in rule.triggers


_LITERALS = sorted({t for r in _RULES if _by_literal(r) for t in r.triggers})
_OWN_GATES = [_rust(r) for r in _RULES if not r.lower and not _by_literal(r)]
_FOLDED_GATE = "|".join(_rust(r) for r in _RULES if r.lower)


@dataclass(frozen=True)
class SecretDetector:
    """detect-secrets' regex plugins over whole documents, with offsets of whole values."""

    type: str = "key"

    def gate_mask(self, column: pl.Series) -> pl.Series:
        mask = column.str.contains_any(_LITERALS) | column.str.contains(_FOLDED_GATE)
        for gate in _OWN_GATES:
            mask = mask | column.str.contains(gate)
        return mask

    def find(self, text: str) -> Offsets:
        out: Offsets = []
        lowered: str | None = None
        for rule in _RULES:
            if rule.triggers:
                if rule.lower and lowered is None:
                    lowered = text.lower()
                hay = lowered if rule.lower else text
                if not any(t in hay for t in rule.triggers):  # type: ignore[operator]
                    continue
            for m in rule.pattern.finditer(text):
                out.append(_value_span(text, m, rule.kind))
        return out


def _value_span(text: str, m: re.Match[str], kind: str) -> tuple[int, int]:
    if kind == "block":
        start = text.rfind("-----BEGIN", max(0, m.start() - 16), m.end())
        start = start if start != -1 else m.start()
        end_re = _PUTTY_END if m.group().startswith("PuTTY") else _PEM_END
        end = end_re.search(text, m.end(), m.end() + MAX_KEY_BLOCK)
        return start, end.end() if end else min(len(text), m.end() + MAX_KEY_BLOCK)
    if kind == "token":
        end = _TOKEN_TAIL.match(text, m.end()).end()  # type: ignore[union-attr]
        return m.start(), len(text[m.start() : end].rstrip(".")) + m.start()
    if kind == "group" and m.re.groups and m.group(1):
        return m.span(1)
    return m.span()

"""Secrets in code and config text: API keys, tokens, private key blocks, passwords in URLs.

The patterns are detect-secrets' own (its regex plugins, as BigCode used for The Stack);
this module only adds what a redactor needs and a scanner of single lines does not:

* offsets, not strings (``finditer`` instead of the plugins' ``findall``);
* whole values: a private key is the block from ``-----BEGIN`` to ``-----END ...-----``
  (the plugin matches only the header), and a JWT keeps its signature (the plugin's
  pattern ends in a lazy ``*?`` that stops before it);
* a gate per plugin (``PluginDetector``), so its patterns run only on the rare documents
  that can hold a match.

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

# plugin -> literals one of which every match contains, where they are rare in ordinary text
# (checked case-insensitively for plugins whose patterns ignore case). Read off the plugins'
# patterns. Plugins with none here (short literals such as "AC", "://", ":", or keywords such
# as "password") are gated by their own patterns instead.
_TRIGGERS: dict[type, tuple[str, ...]] = {
    ArtifactoryDetector: (),
    AWSKeyDetector: ("A3T", "ABIA", "ACCA", "AKIA", "ASIA", "aws"),
    AzureStorageKeyDetector: ("AccountKey=",),
    BasicAuthDetector: (),
    CloudantDetector: (),
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
    IbmCloudIamDetector: (),
    IbmCosHmacDetector: (),
    JwtTokenDetector: ("eyJ",),
    MailchimpDetector: (),
    NpmDetector: (":_authToken=",),
    OpenAIDetector: ("T3BlbkFJ",),
    PrivateKeyDetector: ("PRIVATE KEY", "PuTTY-User-Key-File-2"),
    PypiTokenDetector: ("pypi-AgE",),
    SendGridDetector: ("SG.",),
    SlackDetector: ("xox", "hooks.slack.com"),
    SoftlayerDetector: (),
    SquareOAuthDetector: ("sq0csp-",),
    StripeDetector: ("k_live_",),
    TelegramBotTokenDetector: (),
    TwilioKeyDetector: (),
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
    kind: str  # "match", "group" (the first group is the value), "token" (lazy tail), "block" (to END)


_LOOKAROUND = re.compile(r"\(\?<?[=!][^()]*\)")


def _rust(pattern: re.Pattern[str]) -> str:
    """A plugin pattern for Rust's engine (polars): without look-arounds (it has none;
    dropping them only widens the match), case-folded where the plugin's is."""
    body = _LOOKAROUND.sub("", pattern.pattern).replace("\\'", "'")
    return f"(?i:{body})" if pattern.flags & re.IGNORECASE else f"(?:{body})"


@dataclass(frozen=True)
class PluginDetector:
    """One detect-secrets plugin over whole documents, with offsets of whole values.

    Gated on its own, so its Python patterns run only on documents that can match: by an
    Aho-Corasick pass over its literals (polars ``contains_any``, ~1 GB/s), else by its
    patterns in Rust (200-3,000 MB/s each, measured on real text). Gating all plugins
    together cost more: one union of every pattern ran at 9 MB/s, and a document passing
    it ran every plugin's Python pattern (8-13 MB/s for the keyword plugins)."""

    plugin: str
    rules: tuple[_Rule, ...]
    literals: tuple[str, ...]
    folded: bool  # literals match in any case
    type: str = "key"

    def gate_mask(self, column: pl.Series) -> pl.Series:
        if self.literals:
            return column.str.contains_any(list(self.literals), ascii_case_insensitive=self.folded)
        return column.str.contains("|".join(_rust(r.pattern) for r in self.rules))

    def find(self, text: str) -> Offsets:
        return [_value_span(text, m, r.kind) for r in self.rules for m in r.pattern.finditer(text)]


def secret_detectors() -> tuple[PluginDetector, ...]:
    """One detector per plugin, in the table's order."""
    out = []
    for plugin, literals in _TRIGGERS.items():
        patterns = tuple(plugin().denylist)
        rules = tuple(_Rule(p, _KINDS.get(plugin, "match")) for p in patterns)
        folded = any(p.flags & re.IGNORECASE for p in patterns)
        out.append(PluginDetector(plugin.__name__, rules, literals, folded))
    return tuple(out)


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

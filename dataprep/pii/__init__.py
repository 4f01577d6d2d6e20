"""Personal data and secrets in text: detectors with validation, and redaction.

``build_detectors`` turns a list of types (and per-type settings) into a ``DetectorSet``
whose ``find(text)`` returns non-overlapping typed spans; ``redact`` replaces them. Types,
in the priority order that settles overlaps: ``key``, ``email``, ``iban``,
``national_id``, ``card``, ``ssn``, ``ip``, ``phone``, and with an NER model ``name``, ``address``.
"""

from __future__ import annotations

import phonenumbers

from dataprep.pii.detectors import (
    DEFAULT_REGIONS,
    NATIONAL_IDS,
    CardDetector,
    DetectorSet,
    EmailDetector,
    Found,
    IbanDetector,
    IpDetector,
    NationalIdDetector,
    PhoneDetector,
    SsnDetector,
)
from dataprep.pii.ner import NerDetector
from dataprep.pii.redact import PLACEHOLDERS, Replacer, redact
from dataprep.pii.secrets import secret_detectors

PATTERN_TYPES = ("key", "email", "iban", "national_id", "card", "ssn", "ip", "phone")
NER_TYPES = ("name", "address")
TYPES = PATTERN_TYPES + NER_TYPES


def build_detectors(
    types: tuple[str, ...] = PATTERN_TYPES,
    *,
    phone_regions: tuple[str, ...] = DEFAULT_REGIONS,
    keep_non_public_ips: bool = True,
    national_ids: tuple[str, ...] = tuple(NATIONAL_IDS),
    ner_model: str | None = None,
) -> DetectorSet:
    """The detectors of ``types`` in priority order; NER types need ``ner_model``."""
    unknown = sorted(set(types) - set(TYPES))
    if unknown:
        raise ValueError(f"unknown pii types {unknown}; known: {', '.join(TYPES)}")
    bad_regions = sorted(set(phone_regions) - phonenumbers.SUPPORTED_REGIONS)
    if bad_regions:
        raise ValueError(f"unknown phone regions {bad_regions}; use ISO 3166 codes such as US, GB, DE")
    bad_ids = sorted(set(national_ids) - set(NATIONAL_IDS))
    if bad_ids:
        raise ValueError(f"unknown national ids {bad_ids}; known: {', '.join(NATIONAL_IDS)}")
    make = {
        "email": EmailDetector,
        "iban": IbanDetector,
        "card": CardDetector,
        "ssn": SsnDetector,
        "ip": lambda: IpDetector(keep_non_public=keep_non_public_ips),
        "phone": lambda: PhoneDetector(regions=tuple(phone_regions)),
    }
    detectors: list[object] = []
    for t in TYPES:
        if t not in types:
            continue
        if t in NER_TYPES:
            if ner_model is None:
                raise ValueError(f"pii type {t!r} needs an NER model (ner.model: a spaCy pipeline folder)")
            ner = NerDetector(ner_model, t)
            ner.check()  # a missing spaCy or a bad model folder fails before any shard
            detectors.append(ner)
        elif t == "key":
            detectors += secret_detectors()
        elif t == "national_id":  # one detector per kind: each gated on its own pattern
            detectors += [NationalIdDetector(kinds=(k,)) for k in national_ids]
        else:
            detectors.append(make[t]())
    return DetectorSet(tuple(detectors))


__all__ = [
    "DEFAULT_REGIONS",
    "NATIONAL_IDS",
    "NER_TYPES",
    "PATTERN_TYPES",
    "PLACEHOLDERS",
    "TYPES",
    "DetectorSet",
    "Found",
    "Replacer",
    "build_detectors",
    "redact",
]

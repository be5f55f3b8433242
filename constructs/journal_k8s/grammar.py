"""The grammars of the values Kubernetes accepts, as one public module of plain patterns.

Every pattern is anchored (``^…$``) and written so that Python's ``re``, JSON Schema (Helm's Go
``regexp``), pydantic and RE2 read it alike: no look-around, no named groups. Match with
``re.fullmatch`` (``$`` alone also accepts a trailing newline). The library, the project's
values and checks, the Helm schema and the tests all import them from here.
"""

from __future__ import annotations

import re
from fractions import Fraction

_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DNS_LABEL = rf"^{_LABEL}$"
"""A DNS-1123 label (a Namespace's name): at most 63 lower-case letters, digits and '-'."""
DNS_1035_LABEL = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
"""A DNS-1035 label (a Service's name): a DNS-1123 label that starts with a letter."""
_PART = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_SUBDOMAIN = rf"^{_PART}(\.{_PART})*$"
"""A DNS-1123 subdomain (most objects' names); its 253-character limit is not a pattern."""
HOST = rf"^(\*\.)?({_LABEL}\.)*[a-z]([-a-z0-9]{{0,61}}[a-z0-9])?$"
"""An Ingress or HTTPRoute host: a DNS name (the last label starts with a letter, so never an IP
address), optionally with a wildcard ``*.`` in front."""

QUANTITY = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]|[eE][-+]?[0-9]{1,3})?$"
"""A Kubernetes quantity without a sign (``resource.ParseQuantity``): ``500m``, ``1Gi``, ``1e3``."""
WHOLE_QUANTITY = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[kMGTPE]|[eE]\+?[0-9]{1,3})?$"
"""A quantity of bytes: no milli suffix and no negative exponent (``memory: 1m`` is a mistake)."""
QUANTITY_SUFFIXES = {
    "": Fraction(1),
    "m": Fraction(1, 1000),
    **{s: Fraction(1000**i) for i, s in enumerate("kMGTPE", start=1)},
    **{f"{s}i": Fraction(1024**i) for i, s in enumerate("KMGTPE", start=1)},
}
"""The multiplier of each quantity suffix; any other suffix is a decimal exponent (``e3``)."""

_DOMAIN_PART = r"([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_PATH_PART = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"
IMAGE_REPOSITORY = rf"^({_DOMAIN_PART}(\.{_DOMAIN_PART})*(:[0-9]+)?/)?{_PATH_PART}(/{_PATH_PART})*$"
"""An image name of the distribution reference grammar: ``[registry[:port]/]path``."""
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}"
IMAGE_TAG = rf"^{_TAG}$|^({_DIGEST})$"
"""A tag, or a digest (``sha256:`` or ``sha512:``, as OCI registers them)."""
IMAGE_REFERENCE = rf"^{IMAGE_REPOSITORY[1:-1]}(:{_TAG}|@({_DIGEST}))$"
"""A whole image reference: ``repository:tag`` or ``repository@digest``."""

PATH_ELEMENT = r"^([-A-Za-z0-9._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+$"
"""One element of an HTTP prefix path: RFC 3986 path characters or ``%XX``; a path is ``/``
and elements joined by ``/`` (never ``.``, ``..`` or an encoded ``/``, see ``is_path``)."""

_NAME_PART = r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)"
LABEL_KEY = rf"^({_LABEL}(\.{_LABEL})*/)?{_NAME_PART}$"
"""A label or annotation key: an optional DNS subdomain prefix and ``/``, then a name of at
most 63 characters (letters, digits, ``-``, ``_``, ``.``; alphanumeric at both ends)."""
LABEL_VALUE = rf"^{_NAME_PART}?$"
"""A label value: empty, or a name as in ``LABEL_KEY`` (at most 63 characters)."""
SECRET_KEY = r"^[-._a-zA-Z0-9]{1,253}$"
"""A key of a Secret or ConfigMap."""
PERCENT = r"^([1-9][0-9]?|100)%$"
"""A whole percentage from 1% to 100% (a disruption budget's ``maxUnavailable``, ...)."""


def is_path(path: object) -> bool:
    """Whether ``path`` is an absolute prefix path Ingress and HTTPRoute both accept.

    The API server refuses ``//``, ``/./``, ``/../``, ``%2F`` and ``#`` in either, and paths
    over 1024 characters in an HTTPRoute; a trailing ``/`` is allowed.
    """
    if not isinstance(path, str) or not path.startswith("/") or len(path) > 1024:
        return False
    elements = path.split("/")[1:]
    if elements[-1] == "":
        elements.pop()  # "/" and a trailing slash
    return all(
        re.fullmatch(PATH_ELEMENT, e) and e not in (".", "..") and "%2f" not in e.lower()
        for e in elements
    )


def quantity_value(value: str) -> Fraction:
    """The exact amount a quantity of ``QUANTITY`` stands for, in base units.

    Raises:
        ValueError: ``value`` is not a quantity.
    """
    match = re.fullmatch(QUANTITY, value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    number, suffix = Fraction(match[1]), match[3] or ""
    if suffix in QUANTITY_SUFFIXES:
        return number * QUANTITY_SUFFIXES[suffix]
    return number * Fraction(10) ** int(suffix[1:])

"""The grammars of the values Kubernetes accepts, as one public module of plain patterns.

Every pattern is anchored (``^…$``) and written so that Python's ``re``, JSON Schema (Helm's Go
``regexp``), pydantic and RE2 read it alike: no look-around, no named groups. Match with
``re.fullmatch`` (``$`` alone also accepts a trailing newline). The library, the project's
values and checks, the Helm schema and the tests all import them from here.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction

DNS_LABEL_MAX = 63
"""The longest DNS label (DNS-1123 or DNS-1035), and the longest label value or name."""
DNS_SUBDOMAIN_MAX = 253
"""The longest DNS-1123 subdomain (most objects' names, hosts, label key prefixes)."""

_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DNS_LABEL = rf"^{_LABEL}$"
"""A DNS-1123 label (a Namespace's name): at most 63 lower-case letters, digits and '-'."""
_1035 = r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?"
DNS_1035_LABEL = rf"^{_1035}$"
"""A DNS-1035 label (a Service's name): a DNS-1123 label that starts with a letter."""
_PART = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_SUBDOMAIN = rf"^{_PART}(\.{_PART})*$"
"""A DNS-1123 subdomain (most objects' names); its length limit (``DNS_SUBDOMAIN_MAX``) is not
part of the pattern: see ``is_dns_subdomain``."""
HOST = rf"^(\*\.)?({_LABEL}\.)*{_1035}$"
"""An Ingress or HTTPRoute host: a DNS name (the last label starts with a letter, so never an IP
address), optionally with a wildcard ``*.`` in front."""

_NUMBER = r"([0-9]+(\.[0-9]*)?|\.[0-9]+)"
QUANTITY = rf"^{_NUMBER}(Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]|[eE][-+]?[0-9]{{1,3}})?$"
"""A Kubernetes quantity without a sign (``resource.ParseQuantity``): ``500m``, ``1Gi``, ``1e3``."""
WHOLE_QUANTITY = rf"^{_NUMBER}(Ki|Mi|Gi|Ti|Pi|Ei|[kMGTPE]|[eE]\+?[0-9]{{1,3}})?$"
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
IMAGE_REFERENCE = rf"^{IMAGE_REPOSITORY[1:-1]}(:{_TAG}|(:{_TAG})?@({_DIGEST}))$"
"""A whole image reference: ``repository:tag``, ``repository@digest`` or both
(``repository:tag@digest``, as Renovate pins them: the digest is what is pulled)."""

PATH_ELEMENT = r"^([-A-Za-z0-9._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+$"
"""One element of an HTTP prefix path: RFC 3986 path characters or ``%XX``; a path is ``/``
and elements joined by ``/`` (never ``.``, ``..`` or an encoded ``/``, see ``is_path``)."""

_NAME_PART = r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)"
LABEL_KEY = rf"^({_LABEL}(\.{_LABEL})*/)?{_NAME_PART}$"
"""A label or annotation key: an optional DNS subdomain prefix and ``/``, then a name of at
most 63 characters (letters, digits, ``-``, ``_``, ``.``; alphanumeric at both ends)."""
LABEL_VALUE = rf"^{_NAME_PART}?$"
"""A label value: empty, or a name as in ``LABEL_KEY`` (at most 63 characters)."""
_NAME_TEXT = (
    f"at most {DNS_LABEL_MAX} characters (alphanumerics, '-', '_', '.', starting and ending with "
    "an alphanumeric)"
)
LABEL_KEY_EXPECTED = (
    f"an optional DNS subdomain prefix (at most {DNS_SUBDOMAIN_MAX} characters) and '/', then a "
    f"name of {_NAME_TEXT}"
)
"""What ``is_label_key`` allows, as an error message says it."""
LABEL_VALUE_EXPECTED = f"a string of {_NAME_TEXT}"
"""What ``LABEL_VALUE`` allows, as an error message says it."""
SECRET_KEY = rf"^[-._a-zA-Z0-9]{{1,{DNS_SUBDOMAIN_MAX}}}$"
"""A key of a Secret or ConfigMap."""
PERCENT = r"^([1-9][0-9]?|100)%$"
"""A whole percentage from 1% to 100% (a disruption budget's ``maxUnavailable``, ...)."""
DURATION = r"^(0|(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
"""A Prometheus duration as the Prometheus Operator CRDs take it (``30s``, ``1m30s``); it
matches ``0`` and the empty text too, which ``duration_seconds`` reads as zero."""
HTTP_PATH = r"^/[!-~]{0,255}$"
"""A path Prometheus scrapes or a probe requests: ``/`` then at most 255 printable ASCII
characters (no space)."""


def is_dns_label(value: object, *, max_length: int = DNS_LABEL_MAX) -> bool:
    """Whether ``value`` is a DNS-1123 label of at most ``max_length`` characters."""
    return _fits(value, DNS_LABEL, max_length)


def is_dns_1035_label(value: object) -> bool:
    """Whether ``value`` is a DNS-1035 label (a Service's name)."""
    return _fits(value, DNS_1035_LABEL, DNS_LABEL_MAX)


def is_dns_subdomain(value: object) -> bool:
    """Whether ``value`` is a DNS-1123 subdomain of at most ``DNS_SUBDOMAIN_MAX`` characters."""
    return _fits(value, DNS_SUBDOMAIN, DNS_SUBDOMAIN_MAX)


def is_host(value: object) -> bool:
    """Whether ``value`` is a ``HOST`` of at most ``DNS_SUBDOMAIN_MAX`` characters."""
    return _fits(value, HOST, DNS_SUBDOMAIN_MAX)


def _fits(value: object, pattern: str, max_length: int) -> bool:
    return (
        isinstance(value, str)
        and len(value) <= max_length
        and re.fullmatch(pattern, value) is not None
    )


def is_label_key(key: object) -> bool:
    """Whether ``key`` is a label or annotation key: ``LABEL_KEY``, with a prefix of at most
    ``DNS_SUBDOMAIN_MAX`` characters (a pattern cannot bound the prefix and the name apart)."""
    return (
        isinstance(key, str)
        and len(key.rpartition("/")[0]) <= DNS_SUBDOMAIN_MAX
        and re.fullmatch(LABEL_KEY, key) is not None
    )


LABEL_KEY_MAX = DNS_SUBDOMAIN_MAX + 1 + DNS_LABEL_MAX
"""The longest label key: a 253-character prefix, ``/`` and a 63-character name."""


def duration_seconds(text: str) -> float:
    """The seconds a ``DURATION`` stands for (``1m30s`` is 90, ``1500ms`` is 1.5).

    Raises:
        ValueError: ``text`` is not a duration.
    """
    match = re.fullmatch(DURATION, text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a Prometheus duration")
    hours, minutes, seconds, milliseconds = (int(match[i] or 0) for i in (3, 5, 7, 9))
    return hours * 3600 + minutes * 60 + seconds + milliseconds / 1000


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
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    return _quantity_value(value)


@functools.cache
def _quantity_value(value: str) -> Fraction:
    """``quantity_value`` of a string, once per string (the rules read every quantity of an
    app at each synth, and an app repeats a few)."""
    match = re.fullmatch(QUANTITY, value)
    if match is None:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    number, suffix = Fraction(match[1]), match[3] or ""
    if suffix in QUANTITY_SUFFIXES:
        return number * QUANTITY_SUFFIXES[suffix]
    return number * Fraction(10) ** int(suffix[1:])


_DECIMAL_IN = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_OUT = {exponent: suffix for suffix, exponent in _DECIMAL_IN.items()}
_BINARY_OUT = dict(enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), start=1))
_BINARY_IN = {suffix: 10 * power for power, suffix in _BINARY_OUT.items()}
_SUFFIX = re.compile(r"[eEinumkKMGTP]*[-+]?[0-9]*")
_MAX_INT64 = 2**63 - 1


def canonical_quantity(value: str | int) -> str:
    """The text the API server stores for the quantity ``value`` (``500m`` for ``0.5``).

    Kubernetes' own algorithm (``resource.ParseQuantity``, then ``Quantity.String``): the
    amount, rounded up to a nano, in the largest suffix of its kind (decimal, binary or
    exponent) that keeps it whole (``1536Mi`` for ``1.5Gi``, ``2`` for ``2000m``, ``1e3`` stays);
    a text the parser finds canonical already is kept as it was written.

    Raises:
        ValueError: ``value`` is not a quantity Kubernetes parses.
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    text = str(value)
    amount, form, kept = _parse_quantity(text)
    return kept if kept is not None else _quantity_text(amount, form)


def _parse_quantity(text: str) -> tuple[Fraction, str, str | None]:
    """``ParseQuantity``: the amount, its form (``decimal``, ``binary``, ``exponent``), and
    the text itself when the parser keeps it as the canonical text."""
    if text == "0":
        return Fraction(0), "decimal", "0"
    if not text:
        raise ValueError("an empty text is not a Kubernetes quantity")
    positive, value, number, fraction, suffix = _scan_quantity(text)
    if suffix in _DECIMAL_IN:
        base, exponent, form = 10, _DECIMAL_IN[suffix], "decimal"
    elif suffix in _BINARY_IN:
        base, exponent, form = 2, _BINARY_IN[suffix], "binary"
    elif len(suffix) > 1 and suffix[0] in "eE" and re.fullmatch(r"[-+]?[0-9]+", suffix[1:]):
        base, exponent, form = 10, int(suffix[1:]), "exponent"
        if abs(exponent) > 2**31 - 1:
            raise ValueError(f"{text!r}: the exponent is out of range")
    else:
        raise ValueError(f"{text!r}: unknown suffix {suffix!r}")
    # The fast path of ParseQuantity (an int64 and a scale), where a canonical text is kept.
    multiplier, scale = 1, exponent
    if form == "binary":
        scale = 0
        precision = -1
        if exponent >= 0 and not fraction:
            multiplier = 1 << exponent
            precision = 15 - len(number) - exponent * 3 // 10 - 1
    else:
        precision = 18 - len(number) - len(fraction)
    if precision >= 0 and scale - len(fraction) >= -9:
        scale -= len(fraction)
        digits = number + fraction
        result = int(digits) * multiplier
        if result <= _MAX_INT64:
            if form == "binary":
                canonical = exponent % 10 == 0 and int(digits) & 7 != 0
            else:
                canonical = scale % 3 == 0 and not digits.endswith("000") and digits[0] != "0"
            amount = Fraction(result if positive else -result) * Fraction(10) ** scale
            return amount, form, text if canonical else None
    # The exact path: any size, rounded up to a nano, binary amounts capped at 2^63 - 1.
    try:
        amount = abs(Fraction(value))
    except ValueError:
        raise ValueError(f"{text!r}: no number") from None
    amount *= Fraction(base) ** exponent
    if amount:
        amount = Fraction(-((-amount * 10**9) // 1), 10**9)
    if form == "binary":
        amount = min(amount, Fraction(_MAX_INT64))
        if amount < 1:
            form = "decimal"
    return (amount if positive else -amount), form, None


def _scan_quantity(text: str) -> tuple[bool, str, str, str, str]:
    """``parseQuantityString``: sign, the number's text, whole digits, fraction digits, suffix."""
    position, end = 0, len(text)
    positive = not text.startswith("-")
    if text[0] in "+-":
        position = 1
    while position < end and text[position] == "0":
        position += 1
    if position == end:
        return positive, "0", "0", "", ""
    start = position
    while position < end and text[position] in "0123456789":
        position += 1
    number = text[start:position] or "0"
    fraction = ""
    if position < end and text[position] == ".":
        position += 1
        start = position
        while position < end and text[position] in "0123456789":
            position += 1
        fraction = text[start:position]
    suffix = text[position:]
    if not _SUFFIX.fullmatch(suffix):
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    return positive, text[:position], number, fraction, suffix


def _quantity_text(amount: Fraction, form: str) -> str:
    """``Quantity.String`` of an amount in its form."""
    if amount == 0:
        return "0"
    if form == "binary" and (abs(amount) < 1024 or amount.denominator != 1):
        form = "decimal"
    if form == "binary":
        mantissa, power = amount.numerator, 0
        while mantissa % 1024 == 0:
            mantissa, power = mantissa // 1024, power + 1
        if power <= len(_BINARY_OUT):
            return f"{mantissa}{_BINARY_OUT.get(power, '')}"
        form = "exponent"  # past Ei: the exact decimal text
    mantissa, exponent = int(amount * 10**9), -9
    while mantissa % 10 == 0:
        mantissa, exponent = mantissa // 10, exponent + 1
    while exponent % 3:
        mantissa, exponent = mantissa * 10, exponent - 1
    if form == "decimal" and exponent in _DECIMAL_OUT:
        return f"{mantissa}{_DECIMAL_OUT[exponent]}"
    return f"{mantissa}e{exponent}" if exponent else str(mantissa)

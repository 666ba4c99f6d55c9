"""Value domains of stack settings (ports, sizes, durations, DNS names, URLs, names) as pydantic Annotated types.

Each type keeps the text the operator wrote (renders stay as written) and refuses at parse time what Kubernetes,
nats-server or NACK would refuse later. Patterns are matched whole (`re.fullmatch`): under `re.match`, `$` also
matches before a final newline, and `clusterId: "a\\n"` passed validation then failed `nats-server -t`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, Strict

from dsxbus.durations import duration_ns

INT64_MAX = 2**63 - 1
"""nats-server and NACK read sizes and durations into Go int64s; a larger number fails them at load."""

Port = Annotated[int, Strict(), Field(ge=1, le=65535)]
"""A TCP port: a YAML integer 1-65535 (`true` or `"7422"` is a mistake, not a port)."""
Count = Annotated[int, Strict(), Field(ge=1, le=INT64_MAX)]
Bytes = Annotated[int, Strict(), Field(ge=-1, le=INT64_MAX)]
"""A byte count as JetStream reads it: -1 is unlimited."""
PositiveBytes = Annotated[int, Strict(), Field(ge=1, le=INT64_MAX)]
Nanoseconds = Annotated[int, Strict(), Field(ge=0, le=INT64_MAX)]

_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
DNS_LABEL = re.compile(_DNS_LABEL)
DNS_SUBDOMAIN = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*")
DNS_NAME = re.compile(rf"(?:\*\.)?{_DNS_LABEL}(?:\.{_DNS_LABEL})*")
"""A host name as TLS and Gateway API take it: lower-case RFC 1123 labels, an optional leading `*.`."""
_DNS_1035_LABEL = re.compile(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?")
_LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
_LABEL_NAME = re.compile(r"(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_STACK_REFERENCE = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+){0,2}")
# The Docker reference grammar (distribution/reference): [registry[:port]/]path[:tag][@digest].
_IMAGE = re.compile(
    r"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?"
)
_CHART_VERSION = re.compile(r"v?[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.+-]+)?")
_ABSOLUTE_PATH = re.compile(r"(?:/[A-Za-z0-9._-]+)+")

_SIZE = re.compile(r"(\d{1,20})\s*([KMGT]i?)?[Bb]?")
_UNITS = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}

LEAF_SCHEMES = ("nats", "tls", "ws", "wss")
"""What nats-server dials for a leaf remote (nats, tls; ws, wss over websocket)."""

JETSTREAM_MIN_MAX_AGE_NS = 100 * 10**6
"""nats-server refuses a stream whose max age is below 100ms ('max age needs to be >= 100ms'); 0 is unlimited."""


def size_in_bytes(size: str | int) -> int:
    """`2Gi` -> 2147483648 (K, M, G, T powers of 1000; Ki, Mi, Gi, Ti of 1024; an optional B)."""
    if isinstance(size, int) and not isinstance(size, bool):
        return size
    match = _SIZE.fullmatch(size) if isinstance(size, str) else None
    if match is None:
        raise ValueError(f"{size!r} is not a size like 2Gi, 512Mi or 1073741824")
    number, unit = match.groups()
    return int(number) * (_UNITS[unit] if unit else 1)


def _size(text: str) -> str:
    size = size_in_bytes(text)
    if not 1 <= size <= INT64_MAX:
        raise ValueError(f"is {size} bytes: write a size from 1 byte to 8Ei, like 2Gi or 512Mi")
    return text


def _integer_as_text(value: object) -> object:
    # `maxMemoryStore: 1073741824` is a size too; kept as text so that renders show what was written.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Size = Annotated[str, BeforeValidator(_integer_as_text), AfterValidator(_size)]
"""A byte size as the upstream chart writes it: `2Gi`, `512Mi`, `1G` or a plain number of bytes."""


def _duration(text: str) -> str:
    duration_ns(text)
    return text


Duration = Annotated[str, AfterValidator(_duration)]
"""A Go duration (`3h`, `1h30m`) that fits Go's time.Duration."""


def _stream_max_age(text: str) -> str:
    ns = duration_ns(text)
    if 0 < ns < JETSTREAM_MIN_MAX_AGE_NS:
        raise ValueError("JetStream refuses a max age below 100ms ('max age needs to be >= 100ms'); use 0s for none")
    return text


StreamMaxAge = Annotated[str, AfterValidator(_stream_max_age)]
"""A JetStream stream's max age: a Go duration of 0 (keep until maxBytes) or at least 100ms."""


def _matching(pattern: re.Pattern[str], what: str, max_length: int) -> AfterValidator:
    def check(text: str) -> str:
        if len(text) > max_length or pattern.fullmatch(text) is None:
            raise ValueError(f"is not {what}")
        return text

    return AfterValidator(check)


DnsLabel = Annotated[
    str,
    _matching(DNS_LABEL, "a DNS label (RFC 1123: lower-case letters, digits and '-', at most 63, e.g. dsx)", 63),
]
"""A Kubernetes namespace name."""
ReleaseName = Annotated[
    str,
    _matching(DNS_LABEL, "a Helm release name (lower-case letters, digits and '-', at most 53, e.g. dsx)", 53),
]
"""Helm's limit: objects are named `<release>-<suffix>`, and a Service name is one DNS label."""
ObjectName = Annotated[
    str,
    _matching(DNS_SUBDOMAIN, "a Kubernetes object name (RFC 1123 subdomain: lower-case, digits, '-', '.')", 253),
]
ServiceName = Annotated[
    str, _matching(_DNS_1035_LABEL, "a Service name (RFC 1035 label: starts with a letter, e.g. nats)", 63)
]
LabelValue = Annotated[str, _matching(_LABEL_VALUE, "a Kubernetes label value (letters, digits, '-_.', 63)", 63)]
LabelName = Annotated[str, _matching(_LABEL_NAME, "a Kubernetes label or annotation key ([prefix/]name)", 317)]
EnvName = Annotated[str, _matching(_ENV_NAME, "an environment variable name (letters, digits, '_', '-', '.')", 256)]
StackReference = Annotated[
    str,
    _matching(_STACK_REFERENCE, "a stack reference like organization/dsx-bus/cpc-a (or a bare stack name)", 400),
]
ImageReference = Annotated[
    str, _matching(_IMAGE, "an image reference like registry.example.com/team/image:v1.2.3", 1024)
]
ChartVersion = Annotated[str, _matching(_CHART_VERSION, "a chart version like 2.12.6", 128)]
AbsolutePath = Annotated[str, _matching(_ABSOLUTE_PATH, "an absolute path like /etc/nats-leaf-tls", 1024)]


def is_dns_name(host: str) -> bool:
    """RFC 1123 host name (lower-case), optionally `*.`-prefixed, at most 253 characters."""
    return len(host) <= 253 and DNS_NAME.fullmatch(host) is not None


def url_problem(url: str, schemes: tuple[str, ...] | None, example: str, *, port_required: bool = True) -> str | None:
    """What is wrong with a URL whose scheme must be one of `schemes` (None: any) and that names a DNS host or IP
    address and a port 1-65535 (`port_required=False`: or none); None if nothing. urlsplit silently drops tabs and
    newlines, so they are refused first: the URL is rendered as written."""
    if not url.isprintable() or any(char.isspace() for char in url):
        return f"has white space or control characters; write a URL like {example}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"is not a URL ({exc}); write one like {example}"
    if schemes is not None and parts.scheme not in schemes:
        return f"use a URL with scheme {', '.join(schemes)}, host and port, e.g. {example}"
    if not parts.scheme:
        return f"has no scheme; write a URL like {example}"
    host = parts.hostname or ""
    if not (is_dns_name(host) or _is_ip(host)):
        return f"has no host (a DNS name or IP address); write a URL like {example}"
    if (port is None and port_required) or (port is not None and not 1 <= port <= 65535):
        return f"needs a port from 1 to 65535, e.g. {example}"
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def leaf_url_problem(url: str) -> str | None:
    """What is wrong with a leaf URL a CPC dials (`leafEndpoint`, `cscEndpoint`); None if nothing."""
    example = "nats://leaf.csc.example.com:7422"
    why = url_problem(url, LEAF_SCHEMES, example)
    if why is None:
        parts = urlsplit(url)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            return f"a leaf URL has no path, query or fragment; write one like {example}"
    return why


def _web_url(url: str) -> str:
    if not url.isprintable() or any(char.isspace() for char in url):
        raise ValueError("has white space or control characters; write a URL like https://idp.example.com/jwks.json")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"is not a URL ({exc})") from None
    if parts.scheme not in ("https", "http", "oci") or not parts.hostname:
        raise ValueError("write an https:// URL with a host, e.g. https://idp.example.com/.well-known/jwks.json")
    if port is not None and port == 0:
        raise ValueError("needs a port from 1 to 65535 (or none)")
    return url


WebUrl = Annotated[str, AfterValidator(_web_url)]
"""An http(s) URL (or oci:// for a chart repository) with a host; the port, if any, 1-65535."""

"""Go durations (`3h`, `1h30m`, `1.5h`), as NACK and Sveltos config write them, in the nanoseconds JetStream wants."""

from __future__ import annotations

import re
from fractions import Fraction

# time.ParseDuration's grammar, unsigned: a negative age or wait means nothing here.
_DURATION = re.compile(r"(\d{1,19}(?:\.\d{0,19})?|\.\d{1,19})(h|ms|m|s|us|µs|μs|ns)")
_NS = {"h": 3600 * 10**9, "m": 60 * 10**9, "s": 10**9, "ms": 10**6, "us": 10**3, "µs": 10**3, "μs": 10**3, "ns": 1}
_GO_MAX_NS = 2**63 - 1
"""Go's time.Duration is an int64 of nanoseconds (about 292 years); NACK's ParseDuration refuses more."""


def duration_ns(text: str) -> int:
    """A Go duration (`3h`, `1h30m`, `1.5h`, `0`) in nanoseconds, fractions of a nanosecond dropped as Go does."""
    if text == "0":
        return 0
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration like 3h, 90m or 1h30m")
    ns = int(sum(Fraction(n) * _NS[u] for n, u in parts))
    if ns > _GO_MAX_NS:
        raise ValueError(f"{text!r} is longer than a Go duration can be (about 292 years)")
    return ns

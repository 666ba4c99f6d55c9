"""Would Go's regexp.Compile (RE2 syntax) accept a pattern? Checked in Python, for EventSource messagingMatchCriteria.

event-manager compiles these patterns only when a message arrives; an invalid one is logged and its criterion never
matches, so the mistake surfaces as events that silently do nothing. Python's `re` accepts much that RE2 refuses
(lookaround, backreferences, possessive quantifiers) and refuses some RE2 syntax (\\z, \\pL, \\Q...\\E, (?U), flags
mid-pattern). So the pattern is walked the way Go's regexp/syntax parser walks it, refusing what Go refuses and
rewriting RE2-only syntax into equivalent Python, and Python's compiler judges what is left: how groups nest and
where repetitions stand.
"""

from __future__ import annotations

import itertools
import re

_MAX_REPEAT = 1000  # Go's limit for one {n,m}, and for the product of nested ones
_OCTAL = frozenset("01234567")
_PERL_CLASSES = frozenset("dDsSwW")
_POSIX_CLASS = re.compile(r"\^?(alnum|alpha|ascii|blank|cntrl|digit|graph|lower|print|punct|space|upper|word|xdigit)")
_C_ESCAPES = {"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}  # no \b: RE2 has no backspace escape
_ANCHORS = {"A": r"\A", "b": r"\b", "B": r"\B", "z": r"\Z"}  # Python spells RE2's \z as \Z
_HINTS = {"Z": "; RE2 spells end of text \\z", "u": "; write \\x{e9} instead", "U": "; write \\x{1F600} instead"}
_PYTHON_ONLY_GROUPS = {
    "(?=": "lookahead (?=...)",
    "(?!": "negative lookahead (?!...)",
    "(?<=": "lookbehind (?<=...)",
    "(?<!": "negative lookbehind (?<!...)",
    "(?>": "atomic groups (?>...)",
    "(?(": "conditionals (?(...)...)",
    "(?P=": "named backreferences (?P=name)",
    "(?#": "comments (?#...)",
}
_NAMED = re.compile(r"\(\?P?<([A-Za-z0-9_]+)>")
_FLAGS = re.compile(r"\(\?[imsU]*(?:-[imsU]+)?([:)])")
_REPEAT = re.compile(r"\{(0|[1-9][0-9]*)(?:(,)(0|[1-9][0-9]*)?)?\}")  # anything else, like {01} or {,2}, is literal
_HEX = re.compile(r"\{([0-9a-fA-F]+)\}|([0-9a-fA-F]{2})")
_UNICODE_NAME = re.compile(r"\^?[A-Za-z][A-Za-z0-9_ -]*")
_LEADING_FLAGS = re.compile(r"^(?:\(\?[imsU-]*\))*")


def problem(pattern: str) -> str | None:
    """Why Go's regexp.Compile would refuse the pattern, or None when it accepts it."""
    try:
        translated = _Translator(pattern).run()
        re.compile(translated)
    except _Re2Error as error:
        return str(error)
    except re.error as error:
        return f"invalid regular expression: {error.msg}"
    except RecursionError:  # Python's parser recurses per group; Go allows 1000 levels, no real pattern needs them
        return "groups nest too deeply to check"
    return None


def search(pattern: str, text: str) -> bool:
    """Go's MatchString for a pattern problem() accepts. Python's re refuses some RE2 it accepts (`$*`): translated."""
    return re.search(_Translator(pattern).run(), text) is not None


def unanchored(pattern: str) -> bool:
    """True when Go's MatchString can match inside a longer string: a top-level branch lacks a leading ^ or trailing $.

    `\\A` and `\\z` count as anchors. (?m) lets ^ and $ match at line breaks too, which changes nothing for the
    single-line values matched here. Meaningful only for patterns problem() accepts; for others it answers True.
    """
    try:
        translator = _Translator(pattern)
        translator.run()
    except _Re2Error:
        return True
    cuts = [-1, *translator.top_level_bars, len(pattern)]
    return not all(_anchored(pattern[start + 1 : end]) for start, end in itertools.pairwise(cuts))


def _anchored(branch: str) -> bool:
    body = _LEADING_FLAGS.sub("", branch, count=1)
    escaped = (len(body[:-1]) - len(body[:-1].rstrip("\\"))) % 2 == 1  # is the last character escaped?
    ends = (body.endswith("$") and not escaped) or (body.endswith("z") and escaped)
    return body.startswith(("^", "\\A")) and ends


class _Re2Error(ValueError):
    """Go's parser would stop here; the message says why."""


class _Translator:
    """Walks a pattern as Go's parser does and writes a Python pattern that fails to compile where Go's would."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.at = 0
        self.out: list[str] = []
        self.frames = [0]  # per open group, the largest product of {n,m} counts inside it
        self.atom: int | None = None  # that product for what a quantifier here would repeat; None: nothing
        self.after_repeat = False
        self.repeat_start = 0
        self.top_level_bars: list[int] = []

    def run(self) -> str:
        while self.at < len(self.pattern):
            char = self.pattern[self.at]
            if char in "*+?" or (char == "{" and _REPEAT.match(self.pattern, self.at)):
                self._quantifier()
                continue
            self.after_repeat = False
            if char == "\\":
                self._escape()
            elif char == "[":
                self._atom(self._char_class(), self.at)
            elif char == "(":
                self._group()
            elif char == ")":
                self._commit()
                inner = self.frames.pop() if len(self.frames) > 1 else 0  # a stray ) is left for Python to report
                self._atom(")", self.at + 1, max(1, inner))
            elif char == "|":
                if len(self.frames) == 1:
                    self.top_level_bars.append(self.at)
                self._atom("|", self.at + 1, None)
            elif char in "^$":
                self._atom(f"(?:{char})", self.at + 1)  # RE2 may repeat an anchor; Python only a group
            else:
                self._atom("." if char == "." else re.escape(char), self.at + 1)
        return "".join(self.out)

    def _commit(self) -> None:
        if self.atom is not None:
            self.frames[-1] = max(self.frames[-1], self.atom)
        self.atom = None

    def _atom(self, text: str, end: int, weight: int | None = 1) -> None:
        self._commit()
        self.out.append(text)
        self.at, self.atom = end, weight

    def _open(self, text: str, end: int) -> None:
        self._atom(text, end, None)
        self.frames.append(0)

    def _quantifier(self) -> None:
        pattern, start = self.pattern, self.at
        if self.after_repeat:
            what = "possessive quantifiers like" if pattern[start] == "+" else "a repetition right after another:"
            raise _Re2Error(f"RE2 does not support {what} {pattern[self.repeat_start : start + 1]}")
        repeat = _REPEAT.match(pattern, start) if pattern[start] == "{" else None
        end = repeat.end() if repeat else start + 1
        if repeat:
            low = int(repeat[1])
            high = None if repeat[2] and not repeat[3] else int(repeat[3] or low)
            if max(low, high or 0) > _MAX_REPEAT:
                raise _Re2Error(f"repetition count above {_MAX_REPEAT} in {repeat[0]}")
            if self.atom is not None:  # like Go's repeatIsValid: {0} repeats nothing, {n,} counts n
                self.atom = 0 if high == 0 else self.atom * max(1, high if high is not None else low)
                if self.atom > _MAX_REPEAT:
                    raise _Re2Error(f"nested repetition counts multiply past {_MAX_REPEAT} at {repeat[0]}")
        end += pattern.startswith("?", end)  # lazy
        self.out.append(pattern[start:end])
        self.repeat_start, self.at, self.after_repeat = start, end, True

    def _escape(self) -> None:
        pattern, start = self.pattern, self.at
        code = pattern[start + 1 : start + 2]
        if code and code in _ANCHORS:
            self._atom(f"(?:{_ANCHORS[code]})", start + 2)
        elif code == "Q":  # \Q...\E quotes literally, to \E or the end
            close = pattern.find("\\E", start + 2)
            end = len(pattern) if close < 0 else close
            if end > start + 2:
                self._atom(re.escape(pattern[start + 2 : end]), end)
            self.at = end if close < 0 else close + 2
        elif code and code in "pP":
            self._atom(r"\w", self._unicode_class(start))
        elif code and code in _PERL_CLASSES:
            self._atom(pattern[start : start + 2], start + 2)
        else:
            char, end = self._escaped_char(start)
            self._atom(re.escape(char), end)

    def _escaped_char(self, start: int) -> tuple[str, int]:
        """Go's parseEscape: one character written as an escape."""
        pattern = self.pattern
        if start + 1 >= len(pattern):
            raise _Re2Error("trailing backslash at end of expression")
        code, end = pattern[start + 1], start + 2
        if code.isascii() and not code.isalnum():
            return code, end
        if code in "89" or (code in "1234567" and pattern[end : end + 1] not in _OCTAL):
            raise _Re2Error(f"RE2 does not support backreferences like \\{code}")
        if code in _OCTAL:  # \0, or a digit followed by more: up to three octal digits
            digits = code
            while len(digits) < 3 and pattern[end : end + 1] in _OCTAL:
                digits, end = digits + pattern[end], end + 1
            return chr(int(digits, 8)), end
        hexadecimal = _HEX.match(pattern, end) if code == "x" else None
        if hexadecimal and int(hexadecimal[1] or hexadecimal[2], 16) <= 0x10FFFF:
            return chr(int(hexadecimal[1] or hexadecimal[2], 16)), hexadecimal.end()
        if code in _C_ESCAPES:
            return _C_ESCAPES[code], end
        raise _Re2Error(f"invalid escape sequence {pattern[start:end]}{_HINTS.get(code, '')}")

    def _unicode_class(self, start: int) -> int:
        pattern = self.pattern
        braced = pattern.startswith("{", start + 2)
        close = pattern.find("}", start + 2) if braced else start + 2
        name = pattern[start + 3 : close] if braced else pattern[start + 2 : start + 3]
        # Scripts such as Greek cannot be checked from Python, so any plausible name passes.
        if close < 0 or not (_UNICODE_NAME.fullmatch(name) if braced else name.upper() in "CLMNPSZ" and name):
            raise _Re2Error(f"invalid Unicode class {pattern[start : close + 1 if close >= 0 else None]}")
        return close + 1

    def _char_class(self) -> str:
        """Go's parseClass; the Python class it returns has every literal escaped, so only RE2's reading counts."""
        pattern, start = self.pattern, self.at
        index = start + 1 + pattern.startswith("^", start + 1)
        parts, first = [pattern[start:index]], True
        while first or index >= len(pattern) or pattern[index] != "]":
            if index >= len(pattern):
                raise _Re2Error(f"missing closing ] in {pattern[start:]}")
            first = False
            posix = pattern.find(":]", index + 2) if pattern.startswith("[:", index) else -1
            code = pattern[index + 1 : index + 2] if pattern[index] == "\\" else ""
            if posix >= 0:
                if not _POSIX_CLASS.fullmatch(pattern[index + 2 : posix]):
                    raise _Re2Error(f"unknown POSIX class {pattern[index : posix + 2]}")
                parts.append(r"\w")
                index = posix + 2
            elif code and code in "pP":
                parts.append(r"\w")
                index = self._unicode_class(index)
            elif code and code in _PERL_CLASSES:
                parts.append(pattern[index : index + 2])
                index += 2
            else:
                low, end = self._class_char(index)
                high = low
                if end + 1 < len(pattern) and pattern[end] == "-" and pattern[end + 1] != "]":
                    high, end = self._class_char(end + 1)
                    if high < low:
                        raise _Re2Error(f"invalid character class range {pattern[index:end]}")
                parts.append(re.escape(low) + ("-" + re.escape(high) if high != low else ""))
                index = end
        self.at = index + 1
        return "".join(parts) + "]"

    def _class_char(self, index: int) -> tuple[str, int]:
        if index >= len(self.pattern):
            raise _Re2Error(f"missing closing ] in {self.pattern}")
        if self.pattern[index] == "\\":
            return self._escaped_char(index)
        return self.pattern[index], index + 1

    def _group(self) -> None:
        pattern, start = self.pattern, self.at
        if not pattern.startswith("(?", start):
            self._open("(", start + 1)
            return
        for opening, name in _PYTHON_ONLY_GROUPS.items():
            if pattern.startswith(opening, start):
                raise _Re2Error(f"RE2 does not support {name}")
        if named := _NAMED.match(pattern, start):
            self._open("(", named.end())  # unnamed for Python, which refuses names Go allows (leading digit, repeats)
        elif pattern.startswith(("(?P<", "(?<"), start):
            raise _Re2Error(f"invalid named capture at {pattern[start:]}: names are letters, digits and _")
        elif flags := _FLAGS.match(pattern, start):
            if flags[1] == ":":
                self._open("(?:", flags.end())
            else:
                self.at = flags.end()  # (?i) alone changes flags, not what a following quantifier repeats
        else:
            group = pattern[start : pattern.find(")", start) + 1 or None]
            raise _Re2Error(f"RE2 does not support {group}: its flags are i, m, s and U, as in (?i) or (?i-s:...)")

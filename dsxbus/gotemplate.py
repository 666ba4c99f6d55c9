"""Every string a Sveltos `cloudEventAction` can render, decided from its Go text/template source without running it.

event-manager renders the template once per CloudEvent and compares the result byte for byte with "Create" and
"Delete". Any other result makes it return (nil, nil), which its caller dereferences: event-manager panics, restarts
and replays the same event. So one bad branch is a crash loop, and a check must cover every branch. Conditions are
opaque here (any branch may be taken) and only text and string literals count as known output.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

ACTIONS = frozenset({"Create", "Delete"})
FIX = 'render exactly Create or Delete in every branch, e.g. {{if eq .CloudEvent.type "x"}}Delete{{else}}Create{{end}}'
_SPACE = " \t\r\n"  # what Go's trim markers remove and what may separate a marker from the action
_MAX_DEPTH = 100  # keeps the recursive walks far from Python's recursion limit
_MAX_RENDERS = 1024  # sequential ifs multiply renders; past this the template is no longer a Create/Delete switch
_UNSUPPORTED = frozenset({"range", "with", "define", "template", "block"})
_FOLLOWED = "only {{if}}, {{else}} and {{end}} are followed"
_KEYWORD = re.compile(r"([^\W\d]\w*)(?=[\s.,|:()]|\Z)")
_DECLARATION = re.compile(r"\$\w*(?:\s*,\s*\$\w*)?\s*:?=(?!=)")  # Go prints nothing for `{{$x := ...}}`
_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`', re.DOTALL)
_RUNE = re.compile(r"[^\\']|\\[abfnrtv\\']|\\x[0-9a-fA-F]{2}|\\[0-7]{3}|\\u[0-9a-fA-F]{4}|\\U[0-9a-fA-F]{8}")
_ESCAPE = re.compile(r'\\(?:([abfnrtv\\"])|x([0-9a-fA-F]{2})|([0-7]{3})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))')
_C_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"'}


class TemplateError(ValueError):
    """A template Go refuses to parse, or (UnsupportedTemplateError) one this module cannot follow."""


class UnsupportedTemplateError(TemplateError):
    """Possibly valid Go, but beyond {{if}}/{{else}}/{{end}}, so its renders cannot be listed."""


@dataclass(frozen=True)
class _Action:
    body: str  # between the delimiters, trim markers removed


@dataclass(frozen=True)
class _Printed:
    source: str  # a pipeline whose value is only known at run time, e.g. ".CloudEvent.data.action"


@dataclass
class _If:
    branches: list[list[_Node]] = field(default_factory=lambda: [[]])
    has_else: bool = False


_Node = str | _Printed | _If


def possible_renders(template: str) -> frozenset[str] | None:
    """Every output over all branch choices; None when some action prints a value only known at run time.

    Raises TemplateError (or its UnsupportedTemplateError) when the set cannot be listed.
    """
    renders = _renders(_parse(template))
    return None if renders is None else frozenset(renders)


def action_problem(template: str) -> str | None:
    """None when every possible render is exactly Create or Delete; otherwise a sentence for the operator."""
    crash = "but event-manager accepts only exactly Create or Delete and panics on anything else; " + FIX
    try:
        nodes = _parse(template)
        renders = _renders(nodes)
    except UnsupportedTemplateError as error:
        return f"cloudEventAction cannot be checked: {error}; {FIX}"
    except TemplateError as error:
        return f"cloudEventAction is not a valid Go template: {error}"
    if renders is None:
        printed = next(node for node in _walk(nodes) if isinstance(node, _Printed))
        return f"cloudEventAction prints {printed.source}, which can be anything, {crash}"
    bad = sorted(renders - ACTIONS)
    if not bad:
        return None
    missing_else = any(isinstance(node, _If) and not node.has_else for node in _walk(nodes))
    shown, noted = [], set()
    for render in bad[:3]:
        note = _note(render, missing_else)
        shown.append(f"{render!r} ({note})" if note and note not in noted else repr(render))
        noted.add(note)
    if len(bad) > 3:
        shown.append(f"{len(bad) - 3} more")
    listing = ", ".join(shown[:-1]) + " or " + shown[-1] if len(shown) > 1 else shown[0]
    return f"cloudEventAction can render {listing}, {crash}"


def _note(render: str, missing_else: bool) -> str:
    """Why a render is probably there, for the mistakes operators actually make."""
    if render == "" and missing_else:
        return "an {{if}} with no {{else}}"
    if render.strip(_SPACE) in ACTIONS:
        return "whitespace outside {{ }} is output too; trim it with {{- and -}}"
    if render.strip(_SPACE).capitalize() in ACTIONS:
        return "the comparison is case-sensitive"
    return ""


def _walk(nodes: list[_Node]) -> Iterator[_Node]:
    for node in nodes:
        yield node
        if isinstance(node, _If):
            for branch in node.branches:
                yield from _walk(branch)


def _renders(nodes: list[_Node]) -> set[str] | None:
    outputs = {""}
    for node in nodes:
        if isinstance(node, _Printed):
            return None
        if isinstance(node, str):
            options = {node}
        else:
            options = set() if node.has_else else {""}
            for branch in node.branches:
                branch_renders = _renders(branch)
                if branch_renders is None:
                    return None
                options |= branch_renders
        outputs = {before + after for before in outputs for after in options}
        if len(outputs) > _MAX_RENDERS:
            raise UnsupportedTemplateError(f"it has more than {_MAX_RENDERS} possible renders")
    return outputs


def _parse(template: str) -> list[_Node]:
    root: list[_Node] = []
    open_ifs: list[_If] = []
    for item in _items(template):
        body = open_ifs[-1].branches[-1] if open_ifs else root
        if isinstance(item, str):
            body.append(item)
            continue
        action = item.body.strip(_SPACE)
        word, rest = _keyword(action)
        if word == "if":
            _require_condition("if", rest)
            if len(open_ifs) >= _MAX_DEPTH:
                raise UnsupportedTemplateError(f"its {{{{if}}}}s nest more than {_MAX_DEPTH} deep")
            body.append(open_if := _If())
            open_ifs.append(open_if)
        elif word == "else":
            _else(open_ifs, rest)
        elif word == "end":
            if rest:
                raise TemplateError(f"unexpected {rest!r} in {{{{end}}}}")
            if not open_ifs:
                raise TemplateError("unexpected {{end}}: no {{if}} is open")
            open_ifs.pop()
        elif word in _UNSUPPORTED:
            raise UnsupportedTemplateError(f"it uses {{{{{word}}}}}, and {_FOLLOWED}")
        elif word in ("break", "continue"):
            raise TemplateError(f"{{{{{word}}}}} outside {{{{range}}}}")
        elif not action:
            raise TemplateError("empty action {{ }}: missing value for command")
        elif action.startswith("/*"):
            raise TemplateError("a comment must open right after {{ or {{- , as in {{/* ... */}}")
        elif not _DECLARATION.match(action):
            body.append(_unquote(action) if _LITERAL.fullmatch(action) else _Printed(action))
    if open_ifs:
        raise TemplateError("unexpected EOF: an {{if}} has no {{end}}")
    return root


def _else(open_ifs: list[_If], rest: str) -> None:
    if not open_ifs:
        raise TemplateError("unexpected {{else}}: no {{if}} is open")
    if open_ifs[-1].has_else:
        raise TemplateError("expected {{end}}; found a second {{else}}")
    word, condition = _keyword(rest)
    if word == "if":
        _require_condition("else if", condition)
    elif word == "with":
        raise UnsupportedTemplateError("it uses {{else with}}, and " + _FOLLOWED)
    elif rest:
        raise TemplateError(f"unexpected {rest!r} in {{{{else}}}}")
    else:
        open_ifs[-1].has_else = True
    open_ifs[-1].branches.append([])


def _require_condition(keyword: str, condition: str) -> None:
    if not condition:
        raise TemplateError(f"missing value for {{{{{keyword}}}}}")


def _keyword(action: str) -> tuple[str, str]:
    match = _KEYWORD.match(action)
    return (match[1], action[match.end() :].strip(_SPACE)) if match else ("", action)


def _items(template: str) -> Iterator[str | _Action]:
    """Go's lexer, reduced to text and action bodies: comments vanish and trim markers eat neighbouring text."""
    pos, trim_next = 0, False
    while True:
        start = template.find("{{", pos)
        text = template[pos:] if start < 0 else template[pos:start]
        if trim_next:
            text = text.lstrip(_SPACE)
        trim_before = start >= 0 and template[start + 2 : start + 3] == "-" and _is_space(template, start + 3)
        if trim_before:
            text = text.rstrip(_SPACE)
        if text:
            yield text
        if start < 0:
            return
        body_start = start + (4 if trim_before else 2)
        if template.startswith("/*", body_start):
            end = template.find("*/", body_start + 2)
            if end < 0:
                raise TemplateError("unclosed comment: {{/* has no */")
            body_end = end + 2
            closed, trim_next = _at_right_delim(template, body_end)
            if not closed:
                raise TemplateError("comment ends before closing delimiter: write */}}")
        else:
            body_end, trim_next = _scan_action(template, body_start)
            yield _Action(template[body_start:body_end])
        pos = body_end + (4 if trim_next else 2)


def _is_space(text: str, index: int) -> bool:
    return index < len(text) and text[index] in _SPACE


def _at_right_delim(text: str, index: int) -> tuple[bool, bool]:
    """Whether `}}` (False) or a trimming ` -}}` (True) starts at index."""
    if _is_space(text, index) and text.startswith("-}}", index + 1):
        return True, True
    return text.startswith("}}", index), False


def _scan_action(template: str, start: int) -> tuple[int, bool]:
    """Where the action's body ends, skipping quoted `}}` the way Go's lexer does."""
    index, depth = start, 0
    while True:
        closed, trims = _at_right_delim(template, index)
        if closed:
            if depth:
                raise TemplateError(f"unclosed left paren in {{{{{template[start:index]}}}}}")
            return index, trims
        if index >= len(template):
            raise TemplateError(f"unclosed action: {{{{{template[start:]} has no closing }}}}")
        char = template[index]
        if char in "\"`'":
            index = _literal_end(template, index)
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise TemplateError(f"unexpected right paren in {{{{{template[start : index + 1]}")
        index += 1


def _literal_end(template: str, start: int) -> int:
    quote = template[start]
    if quote == "`":
        end = template.find("`", start + 1)
        if end < 0:
            raise TemplateError("unterminated raw quoted string")
        return end + 1
    index = start + 1
    while index < len(template) and template[index] not in (quote, "\n"):
        index += 2 if template[index] == "\\" and template[index + 1 : index + 2] not in ("", "\n") else 1
    if index >= len(template) or template[index] == "\n":
        raise TemplateError("unterminated " + ("quoted string" if quote == '"' else "character constant"))
    literal = template[start : index + 1]
    if quote == "'" and not _RUNE.fullmatch(literal[1:-1]):
        text = literal[1:-1]
        raise TemplateError(
            f"malformed character constant {literal}: single quotes make a Go rune literal (one character), "
            f'not a string; quote strings with double quotes ("{text}") or backticks (`{text}`)'
        )
    if quote == '"':
        _unquote(literal)
    return index + 1


def _unquote(literal: str) -> str:
    """Go's strconv.Unquote for "..." and `...`; an escape Go rejects is a parse error."""
    if literal.startswith("`"):
        return literal[1:-1].replace("\r", "")  # Go drops carriage returns from raw strings
    body, out, index = literal[1:-1], [], 0
    while index < len(body):
        if body[index] != "\\":
            out.append(body[index])
            index += 1
            continue
        match = _ESCAPE.match(body, index)
        if match is None:
            raise TemplateError(f"invalid escape {body[index : index + 2]} in {literal}")
        simple, byte_hex, octal, short, long = match.groups()
        # \x and octal escapes are single bytes in Go; as code points they still never equal Create or Delete.
        value = int(byte_hex or octal or short or long or "0", 8 if octal else 16)
        invalid = value > 255 if octal else value > 0x10FFFF or 0xD800 <= value <= 0xDFFF  # no surrogates
        if invalid:
            raise TemplateError(f"invalid escape {match[0]} in {literal}")
        out.append(_C_ESCAPES[simple] if simple else chr(value))
        index = match.end()
    return "".join(out)

"""docs/contract.md read as claims, and an answer compared with a claim.

tests/integration/test_contract_doc.py checks every claim against running
processes; a suite that makes a line's situation itself (the e2e suites:
a real swarm) takes the line with doc_claim() and checks its answer with
verify(), so that the status and message it expects are the doc's own.

How the doc is read:
- a status is a three-digit HTTP status outside code spans; a message
  pairs with the status before it in its item (or its parent item's);
  a status followed by another one before any message is a condition of
  what follows ("The replica answers 404: the load balancer answers 400");
  a status with no message is a claim of its own ("413 for a body over
  64 KiB"), unless its item has sub-items, which it gives its status to;
- in a message, `<name>` is a placeholder (not `<Error>`), `...` stands for
  any text;
- code spans `Name: value` after a status are headers of the answer, and
  "`Name` header" says the answer has one;
- code spans after "e.g." are example values of the message's placeholder;
- "nothing changed" in a status's words (or its parent's) means that /rep is
  the same after the request.
"""
import dataclasses
import functools
import http
import json
import os
import re

import pytest

from lbtest import ROOT

DOC = os.path.join(ROOT, "docs", "contract.md")

ERROR = "<Error> "
SPAN = re.compile(r"`([^`]+)`")
# An HTTP status: three digits standing alone, not a quantity ("256 KiB").
STATUS = re.compile(r"(?<![\w.])([1-5]\d\d)(?!\w|\.\w)"
                    r"(?!\s*(?:KiB|MiB|ms|s\b|bytes|slots|levels))")
HEADER = re.compile(r"([A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*): (\S.*)")
HEADER_NAME = re.compile(r"[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
PLACEHOLDER = re.compile(r"<(?!Error>)([A-Za-z][A-Za-z ]*)>")
STARTUP = re.compile(r"(lb-(?:controlplane|dataplane|replica)): "
                     r"(LB_[A-Z0-9_]+)=([^:]*): ")


class ContractParseError(Exception):
    """A line of docs/contract.md that this parser cannot read for sure."""


@dataclasses.dataclass
class Block:
    kind: str          # "item", "para" or "row"
    line: int          # where it starts (1-based)
    section: str       # the heading's request, e.g. "POST /add"
    section_body: str  # the heading's example body, or ""
    lines: list
    indent: int = 0
    parent: "Block" = None
    request: str = ""  # rows: the request cell
    has_children: bool = False

    @property
    def text(self):
        return " ".join(self.lines)


@dataclasses.dataclass
class Group:
    """A status and what the doc pairs with it."""
    status: int
    text: str = ""
    messages: list = dataclasses.field(default_factory=list)
    headers: list = dataclasses.field(default_factory=list)
    conditions: list = dataclasses.field(default_factory=list)
    unchanged: bool = False


@dataclasses.dataclass
class Claim:
    section: str
    section_body: str
    line: int
    kind: str            # "error", "json", "status" or "startup"
    status: int          # None for "startup"
    message: str         # None for "status"
    text: str            # the item's (or row's) words
    request: str
    headers: list
    conditions: list
    unchanged: bool
    examples: list = dataclasses.field(default_factory=list)
    id: str = ""

    def where(self):
        what = self.message if self.message is not None else self.text
        return f"docs/contract.md:{self.line} ({self.section}): {what!r}"


# ---- reading the doc ------------------------------------------------------

def _heading(text):
    """("POST /add", '{"n": 4, ...}') from '`POST /add`, body `{...}`'."""
    spans = SPAN.findall(text)
    if not spans:
        return text.strip(), ""
    body = ""
    m = re.search(r"body `([^`]+)`", text)
    if m:
        body = m.group(1)
    return spans[0], body


def _cells(line, n):
    s = line.strip()
    if not (s.startswith("|") and s.endswith("|")):
        raise ContractParseError(f"line {n}: a table row must start and "
                                 f"end with '|': {line!r}")
    return [c.strip() for c in s[1:-1].split("|")]


def read_blocks(lines):
    blocks = []
    section, section_body = "", ""
    fence = False
    para = None
    items = []
    i = 0
    while i < len(lines):
        raw, n = lines[i], i + 1
        i += 1
        if raw.lstrip().startswith("```"):
            fence = not fence
            para, items = None, []
            continue
        if fence:
            continue
        if not raw.strip():
            para, items = None, []
            continue
        m = re.match(r"(#{1,6}) (.*)", raw)
        if m:
            section, section_body = _heading(m.group(2))
            para, items = None, []
            continue
        if raw.startswith("|"):
            table = [(raw, n)]
            while i < len(lines) and lines[i].startswith("|"):
                table.append((lines[i], i + 1))
                i += 1
            if len(table) < 3:
                raise ContractParseError(f"line {n}: a table without rows")
            head = _cells(*table[0])
            if head != ["request", "answer"]:
                raise ContractParseError(
                    f"line {n}: a table whose columns are not "
                    f"'request | answer': {head}")
            if not all(re.fullmatch(r":?-+:?", c)
                       for c in _cells(*table[1])):
                raise ContractParseError(f"line {n + 1}: not a table's "
                                         f"separator row")
            for row, rn in table[2:]:
                cells = _cells(row, rn)
                if len(cells) != 2 or not all(cells):
                    raise ContractParseError(
                        f"line {rn}: a row without its two cells: {row!r}")
                req = SPAN.findall(cells[0])
                blocks.append(Block("row", rn, section, section_body,
                                    [cells[1]],
                                    request=req[0] if req else cells[0]))
            para, items = None, []
            continue
        m = re.match(r"( *)- (.*)", raw)
        if m:
            indent = len(m.group(1))
            while items and items[-1].indent >= indent:
                items.pop()
            parent = items[-1] if items else None
            if parent:
                parent.has_children = True
            b = Block("item", n, section, section_body, [m.group(2).strip()],
                      indent=indent, parent=parent)
            items.append(b)
            blocks.append(b)
            para = None
            continue
        indent = len(raw) - len(raw.lstrip())
        if items:
            while items and indent < items[-1].indent + 2:
                items.pop()
            if not items:
                raise ContractParseError(
                    f"line {n}: a line right after a list item that is not "
                    f"indented as its continuation (add a blank line): "
                    f"{raw!r}")
            items[-1].lines.append(raw.strip())
        elif para:
            para.lines.append(raw.strip())
        else:
            para = Block("para", n, section, section_body, [raw.strip()])
            blocks.append(para)
    if fence:
        raise ContractParseError("a code fence that is never closed")
    return blocks


def _events(text, n):
    """The statuses, messages, headers and examples of a block's text, in
    order: (kind, value, position)."""
    out = []
    pos = 0
    example_mode = False
    for m in list(SPAN.finditer(text)) + [None]:
        end = m.start() if m else len(text)
        outside = text[pos:end]
        for s in STATUS.finditer(outside):
            code = int(s.group(1))
            try:
                http.HTTPStatus(code)
            except ValueError:
                raise ContractParseError(f"line {n}: {code} looks like a "
                                         f"status but is none") from None
            out.append(("S", code, pos + s.start(), pos + s.end()))
        if "e.g." in outside:
            example_mode = True
        if m is None:
            break
        span = m.group(1)
        after = text[m.end():m.end() + 8]
        if span == ERROR:
            pass  # the rule "a message starts with `<Error> `"
        elif span.startswith(ERROR):
            out.append(("M", ("error", span), m.start(), m.end()))
        elif span.startswith('{"message"'):
            out.append(("M", ("json", span), m.start(), m.end()))
        elif STARTUP.match(span):
            out.append(("M", ("startup", span), m.start(), m.end()))
        elif HEADER.fullmatch(span):
            out.append(("H", HEADER.fullmatch(span).groups(), m.start(),
                        m.end()))
        elif HEADER_NAME.fullmatch(span) and after.startswith(" header"):
            out.append(("H", (span, None), m.start(), m.end()))
        elif example_mode and span.startswith("("):
            out.append(("X", span, m.start(), m.end()))
        pos = m.end()
    return out


def _check_message(kind, span, n):
    if kind == "json":
        try:
            json.loads(PLACEHOLDER.sub("0", span))
        except ValueError as e:
            raise ContractParseError(f"line {n}: a JSON answer that is not "
                                     f"JSON: {span!r} ({e})") from None
    if kind == "error" and span.count("`"):
        raise ContractParseError(f"line {n}: a backquote in a message")


def claims_of(block, groups_of):
    """The claims of one block; groups_of[block] is set to its groups so
    that its sub-items inherit the last one."""
    text, n = block.text, block.line
    inherited = None
    p = block.parent
    while p is not None and inherited is None:
        inherited = groups_of[id(p)][-1] if groups_of[id(p)] else None
        p = p.parent
    events = _events(text, n)
    groups = []
    claims = []
    cur = None
    pending = []  # statuses that are conditions of the next one

    for i, (kind, value, at, _) in enumerate(events):
        if kind == "S":
            if cur is not None and not cur.messages and not cur.headers:
                # Two statuses in a row: the first is what leads to the
                # second ("The replica answers 404: ... answers 400").
                groups.pop()
                pending.append(cur.status)
            nxt = next((e[2] for e in events[i + 1:] if e[0] == "S"),
                       len(text))
            # Its words: from the end of what came before it.
            since = events[i - 1][3] if i else 0
            cur = Group(value, text=text[since:nxt], conditions=pending)
            cur.unchanged = "nothing changed" in cur.text
            pending = []
            groups.append(cur)
        elif kind == "M":
            mkind, span = value
            _check_message(mkind, span, n)
            if mkind == "startup":
                if cur is not None:
                    raise ContractParseError(f"line {n}: a start-up message "
                                             f"after a status")
                claims.append(Claim(block.section, block.section_body, n,
                                    "startup", None, span, text,
                                    block.request, [], [], False))
                continue
            g = cur or inherited
            if g is None:
                raise ContractParseError(f"line {n}: a message with no "
                                         f"status before it: {span!r}")
            if pending:
                raise ContractParseError(f"line {n}: statuses "
                                         f"{pending} lead nowhere")
            c = Claim(block.section, block.section_body, n, mkind, g.status,
                      span, text, block.request, g.headers, g.conditions,
                      g.unchanged)
            if g is cur:
                g.messages.append(c)
            claims.append(c)
        elif kind == "H":
            if cur is not None:
                cur.headers.append(tuple(value))
            # before any status: a header of the request, a condition
        elif kind == "X":
            last = claims[-1] if claims and claims[-1].message else None
            if last is None or not PLACEHOLDER.search(last.message):
                raise ContractParseError(f"line {n}: an example {value!r} "
                                         f"of no message with a "
                                         f"placeholder")
            last.examples.append(value)
    if pending:
        raise ContractParseError(f"line {n}: statuses {pending} lead "
                                 f"nowhere")
    for j, g in enumerate(groups):
        last = j == len(groups) - 1
        if g.messages or (last and block.has_children):
            continue
        claims.append(Claim(block.section, block.section_body, n, "status",
                            g.status, None, g.text.strip(" ;,"),
                            block.request, g.headers, g.conditions,
                            g.unchanged))
    if not events and inherited is not None and not block.has_children:
        # "- a malformed body, as for `/add`" under "- 400, ...:"
        claims.append(Claim(block.section, block.section_body, n, "status",
                            inherited.status, None, text, block.request,
                            inherited.headers, [], inherited.unchanged))
    groups_of[id(block)] = groups
    return claims


def parse_contract(path=DOC):
    with open(path, encoding="utf-8") as f:
        source = f.read()
    blocks = read_blocks(source.splitlines())
    groups_of = {}
    claims = []
    for b in blocks:
        claims.extend(claims_of(b, groups_of))
    # Nothing skipped: every `<Error> ...` of the doc is a claim.
    spans = source.count("`" + ERROR) - source.count("`" + ERROR + "`")
    errors = [c for c in claims if c.kind == "error"]
    if spans != len(errors):
        raise ContractParseError(f"{spans} error messages in the doc, "
                                 f"{len(errors)} read")
    seen = {}
    for c in claims:
        words = c.message if c.message is not None else c.text
        slug = re.sub(r"[^A-Za-z0-9]+", "-",
                      words.replace(ERROR, "")).strip("-")[:48]
        base = f"L{c.line}-{slug}"
        seen[base] = seen.get(base, 0) + 1
        c.id = base if seen[base] == 1 else f"{base}-{seen[base]}"
    return claims


@functools.lru_cache(maxsize=None)
def all_claims():
    """The doc's claims, read once."""
    return tuple(parse_contract())


def matches(claim, section, key, context=""):
    """Whether claim is the line of `section` whose request and message
    (or, without a message, words) match the regex `key`, and whose item's
    words match `context`."""
    words = claim.message if claim.message is not None else claim.text
    return claim.section == section and bool(
        re.search(key, f"{claim.request} {words}")) and bool(
        re.search(context, claim.text))


def doc_claim(section, key, context=""):
    """The one line of the doc that matches (see matches())."""
    found = [c for c in all_claims() if matches(c, section, key, context)]
    assert len(found) == 1, \
        f"docs/contract.md: {len(found)} lines of {section!r} match " \
        f"/{key}/ (context /{context}/): {[c.where() for c in found]}"
    return found[0]


# ---- what an answer must be -----------------------------------------------

@dataclasses.dataclass
class Answer:
    status: int
    headers: dict      # lower-case names
    content: bytes

    @classmethod
    def of(cls, r):
        return cls(r.status_code, {k.lower(): v for k, v in r.headers.items()},
                   r.content)

    @classmethod
    def raw(cls, data):
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for h in lines[1:]:
            k, _, v = h.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", len(body)))
        return cls(int(lines[0].split(" ", 2)[1]), headers, body[:length])

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


def fill(claim, text, subst, values):
    """[(kind, str)]: the doc's text with its example values replaced by
    this test's (each must be in the doc), placeholders by their values and
    "..." as "any text"."""
    parts = [("lit", text)]
    for lit, actual in (subst or {}).items():
        if text.count(lit) != 1:
            pytest.fail(f"{claim.where()}: the check stands {lit!r} for "
                        f"{actual!r}, but the doc has it "
                        f"{text.count(lit)} times")
        parts = _split(parts, re.escape(lit), lambda m, a=actual: ("val", a))
    names = PLACEHOLDER.findall(text)
    for name in names:
        if name not in (values or {}):
            pytest.fail(f"{claim.where()}: no value for <{name}>")
    parts = _split(parts, PLACEHOLDER.pattern,
                   lambda m: ("val", values[m.group(1)]))
    parts = _split(parts, re.escape("..."), lambda m: ("any", ""))
    return parts


def _split(parts, pattern, make):
    out = []
    for kind, s in parts:
        if kind != "lit":
            out.append((kind, s))
            continue
        pos = 0
        for m in re.finditer(pattern, s):
            out.append(("lit", s[pos:m.start()]))
            out.append(make(m))
            pos = m.end()
        out.append(("lit", s[pos:]))
    return out


def message_pattern(claim, subst=None, values=None, message=None):
    parts = fill(claim, message or claim.message, subst, values)
    return re.compile("".join(".+" if k == "any" else re.escape(s)
                              for k, s in parts), re.S)


def verify(claim, ans, subst=None, values=None, message=None):
    """The answer is what the claim says: its status, headers and message
    (the doc's words, with `subst` and placeholder `values` filled in).
    `message` stands for the claim's own for a status-only claim that
    refers to another line's messages."""
    where = claim.where()
    assert ans.status == claim.status, \
        f"{where}: {claim.status} promised, {ans.status} answered " \
        f"({ans.text[:300]!r})"
    for name, value in claim.headers:
        got = ans.headers.get(name.lower())
        assert got is not None, f"{where}: no {name} header ({ans.headers})"
        if value is not None:
            want = "".join(s for _, s in fill(claim, value, None, values))
            assert got == want, f"{where}: {name}: {got!r}, not {want!r}"
    kind = claim.kind if message is None else "error"
    if kind == "error":
        # "Answers of the load balancer itself": application/json with a
        # Content-Length, {"message": ..., "status": "failure"}.
        assert ans.headers.get("content-type") == "application/json", \
            f"{where}: {ans.headers.get('content-type')}"
        assert ans.headers.get("content-length") == str(len(ans.content))
        body = ans.json()
        assert set(body) == {"message", "status"}, body
        assert body["status"] == "failure", body
        rx = message_pattern(claim, subst, values, message)
        assert rx.fullmatch(body["message"]), \
            f"{where}: the doc says {message or claim.message!r}, the " \
            f"answer is {body['message']!r}"
    elif kind == "json":
        parts = fill(claim, claim.message, subst, values)
        want = json.loads("".join(s for _, s in parts))
        assert ans.json() == want, f"{where}: {ans.text!r}"
    elif kind == "status" and ans.status >= 400 and claim.section != \
            "Replica":
        body = ans.json()
        assert body["status"] == "failure", body
        assert body["message"].startswith(ERROR), body


"""docs/contract.md, checked line by line against the running system.

The doc is parsed, not copied: every table row and every list item or
paragraph that pairs a request with a status and a message (a code span
that starts with `<Error> `, a JSON body, or a program's start-up message)
becomes a claim, and each claim is one test here.  The expected status,
message and headers are the doc's own words; a check only says how to make
the situation the line describes (the request, and the state it needs) and
which of the doc's example values stand for something that varies here
(e.g. the address `172.18.0.5`, a timeout of `20000 ms`).  A line the
parser cannot read fails the collection; a claim without a check, or a
check without its claim, fails a test.

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
import contextlib
import dataclasses
import http
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from lbstack import Stack, count_replica_processes
from lbtest import ROOT, Proc, binary, free_port, wait_for

DOC = os.path.join(ROOT, "docs", "contract.md")
HERE = os.path.dirname(os.path.abspath(__file__))
BAD = os.path.join(HERE, "bad_replica.py")

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


CLAIMS = parse_contract()


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


class Ctx:
    """What a check gets: the claim, stacks, and bookkeeping of the
    "nothing changed" promise."""

    def __init__(self, claim, stacks, stack_factory, tmp_path, replica):
        self.claim = claim
        self.stacks = stacks
        self.stack_factory = stack_factory
        self.tmp = tmp_path
        self.replica = replica
        self.unchanged_checked = False

    @contextlib.contextmanager
    def unchanged(self, stack):
        """With: /rep is the same after the block as before it."""
        before = stack.rep()
        yield
        assert stack.rep() == before, f"{self.claim.where()}: /rep changed"
        self.unchanged_checked = True

    def expect(self, ans, **kw):
        verify(self.claim, ans, **kw)

    def each(self, cases, run):
        """run(case) for every case; the failures all told together."""
        failed = []
        for case in cases:
            try:
                run(case)
            except AssertionError as e:
                failed.append(f"{repr(case)[:60]}: {e}")
        assert not failed, "\n".join(failed)


# ---- the checks: how to make each line's situation -----------------------

@dataclasses.dataclass
class Check:
    """Makes the situation of the one line whose section is `section`,
    whose request and message (or, without a message, words) match `key`,
    and whose item's words match `context`."""
    section: str
    key: re.Pattern
    context: re.Pattern
    run: object

    def matches(self, claim):
        words = claim.message if claim.message is not None else claim.text
        return claim.section == self.section and bool(
            self.key.search(f"{claim.request} {words}")) and bool(
            self.context.search(claim.text))


CHECKS = []


def check(section, key, context=""):
    def deco(fn):
        CHECKS.append(Check(section, re.compile(key), re.compile(context),
                            fn))
        return fn
    return deco


def post(stack, path, body, **kw):
    kw.setdefault("timeout", 60)
    data = body if isinstance(body, bytes) else body.encode()
    return Answer.of(requests.post(stack.url(path), data=data, **kw))


def delete(stack, path, body, **kw):
    kw.setdefault("timeout", 60)
    data = body if isinstance(body, bytes) else body.encode()
    return Answer.of(requests.delete(stack.url(path), data=data, **kw))


def get(stack, path, **kw):
    kw.setdefault("timeout", 30)
    return Answer.of(requests.get(stack.url(path), **kw))


def raw_exchange(port, data, timeout=15):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return read_answer(s)


def read_answer(sock, data=b""):
    """The answer on sock (data: what was read of it already)."""
    while True:
        if b"\r\n\r\n" in data:
            a = Answer.raw(data)
            if len(a.content) >= int(a.headers.get("content-length", 0)):
                return a
        chunk = sock.recv(65536)
        if not chunk:
            return Answer.raw(data)
        data += chunk


def request_from(source, port, method, path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                   source_address=(source, 0))
    try:
        c.request(method, path, body=json.dumps(body),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return Answer(r.status, {k.lower(): v for k, v in r.getheaders()},
                      r.read())
    finally:
        c.close()


def replica_script(tmp, name="replica.sh"):
    """A replica program for the process driver: lb-replica, except that a
    replica named never* never answers and one named slow* starts 3 s
    late."""
    path = os.path.join(str(tmp), name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                "case \"$LB_REPLICA_NAME\" in\n"
                "never*) exec /bin/sleep 60 ;;\n"
                "slow*) /bin/sleep 3 ;;\n"
                "esac\n"
                f"exec {binary('replica/lb-replica')} \"$@\"\n")
    os.chmod(path, 0o755)
    return path


# Bodies for each way an admin body can be malformed (by the words of its
# line in the doc).
DEEP = '{"a":' * 20 + "1" + "}" * 20
BODY_CASES = [
    (r"not a JSON object|must be a JSON object$",
     ["not json", "[1, 2]", '"n"', '{"n": 1', ""]),
    (r"nested", [DEEP, "[" * 5000 + "]" * 5000]),
    (r"NUL", ['{"n": 1, "hostnames": ["S\\u0000x"]}',
              '{"n": 1, "hostnames": ["S5"]}\x00']),
]


def malformed_bodies(claim):
    """The bodies for a "Request body ..." line: those of each condition
    its words name."""
    words = claim.text
    out = []
    for rx, bodies in BODY_CASES:
        if re.search(rx, words) or re.search(rx, claim.message or ""):
            out.extend(bodies)
    assert out, f"{claim.where()}: no body case for these words"
    return out


# -- Replica ----------------------------------------------------------------

@check("Replica", r"^GET /home ")
def _home(ctx):
    r = requests.get(f"http://127.0.0.1:{ctx.replica}/home", timeout=5)
    ctx.expect(Answer.of(r), values={"ID": "7"})
    assert r.headers["Content-Type"] == "application/json"


@check("Replica", r"^GET /heartbeat .*empty body")
def _heartbeat(ctx):
    r = requests.get(f"http://127.0.0.1:{ctx.replica}/heartbeat", timeout=5)
    ctx.expect(Answer.of(r))
    assert r.content == b""


@check("Replica", r"^anything else ")
def _replica_404(ctx):
    for method, path in (("GET", "/other"), ("GET", "/home/x"),
                         ("POST", "/"), ("DELETE", "/heartbeatz")):
        r = requests.request(method, f"http://127.0.0.1:{ctx.replica}{path}",
                             timeout=5)
        ctx.expect(Answer.of(r), values={"path": path})


# -- GET /rep -----------------------------------------------------------------

@check("GET /rep", r'"replicas"')
def _rep(ctx):
    s = ctx.stacks("shared")
    ans = get(s, "/rep")
    ctx.expect(ans)
    assert ans.headers["content-type"] == "application/json"


# -- POST /add ----------------------------------------------------------------

def claim_of_section_body(section):
    bodies = {c.section_body for c in CLAIMS if c.section == section}
    assert len(bodies) == 1, bodies
    return bodies.pop()


@check("POST /add", r"with the `/rep` body once")
def _add_200(ctx):
    """The heading's example, answered with the /rep body."""
    s = ctx.stack_factory().start()
    before = s.rep()["message"]["replicas"]
    ans = post(s, "/add", ctx.claim.section_body)
    ctx.expect(ans)
    got = ans.json()
    names = json.loads(ctx.claim.section_body)["hostnames"]
    assert got["message"]["replicas"] == before + names
    assert got["message"]["N"] == len(before) + len(names)
    # Once they run, answered a heartbeat and are in the ring.
    assert sorted(s.routable()) == sorted(got["message"]["replicas"])
    assert s.rep() == got


@check("POST /add", r"more than newly added instances$")
def _add_too_many(ctx):
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        ctx.expect(post(s, "/add", '{"n": 2, "hostnames": '
                                   '["S5", "S4", "S10"]}'))


@check("POST /add", r"Request body must be a JSON object$")
def _add_not_object(ctx):
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        ctx.each(malformed_bodies(ctx.claim),
                 lambda body: ctx.expect(post(s, "/add", body)))


@check("POST /add", r"Request body must be a JSON object \(nested")
def _add_too_deep(ctx):
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        ctx.each(malformed_bodies(ctx.claim),
                 lambda body: ctx.expect(post(s, "/add", body)))


@check("POST /add", r"Request body must not contain NUL")
def _add_nul(ctx):
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        ctx.each(malformed_bodies(ctx.claim),
                 lambda body: ctx.expect(post(s, "/add", body)))


@check("POST /add", r"'n' is missing$")
def _add_n_missing(ctx):
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        for body in ("{}", '{"hostnames": ["S5"]}', '{"N": 2}'):
            ctx.expect(post(s, "/add", body))


@check("POST /add", r"'n' must be an integer$")
def _add_n_not_integer(ctx):
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        for body in ('{"n": "2"}', '{"n": 1.5}', '{"n": true}',
                     '{"n": null}', '{"n": [2]}'):
            ctx.expect(post(s, "/add", body))


@check("POST /add", r"'n' must be at least 1$")
def _add_n_under_1(ctx):
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        for body in ('{"n": 0}', '{"n": -3}'):
            ctx.expect(post(s, "/add", body))


@check("POST /add", r"'hostnames' must be an array of strings$")
def _add_hostnames_type(ctx):
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        for body in ('{"n": 1, "hostnames": "S5"}',
                     '{"n": 2, "hostnames": ["S5", 7]}',
                     '{"n": 1, "hostnames": {"a": "S5"}}'):
            ctx.expect(post(s, "/add", body))


@check("POST /add", r"Hostname '[^']+' is listed twice$")
def _add_listed_twice(ctx):
    name = re.search(r"Hostname '([^']+)'", ctx.claim.message).group(1)
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        ctx.expect(post(s, "/add", json.dumps({"n": 3,
                                               "hostnames": [name, name]})))


@check("POST /add", r"already exists$")
def _add_exists(ctx):
    name = re.search(r"Replica '([^']+)'", ctx.claim.message).group(1)
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        ctx.expect(post(s, "/add", '{"n": 1, "hostnames": ["server2"]}'),
                   subst={f"'{name}'": "'server2'"})
    if "in progress" not in ctx.claim.text:
        return
    # A name that another /add in progress is adding.
    t = ctx.stack_factory(replicas=0,
                          replica_bin=replica_script(ctx.tmp)).start()
    first = {}
    th = threading.Thread(target=lambda: first.setdefault(
        "r", t.add({"n": 1, "hostnames": ["slow1"]})))
    th.start()
    try:
        # The first /add took the name and started its replica, which is
        # slow to answer.
        wait_for(lambda: count_replica_processes(t.instance) == 1, 5,
                 what="the first /add under way")
        assert th.is_alive()
        ctx.expect(post(t, "/add", '{"n": 1, "hostnames": ["slow1"]}'),
                   subst={f"'{name}'": "'slow1'"})
    finally:
        th.join(60)
    assert first["r"].status_code == 200, first["r"].text
    assert t.rep()["message"]["replicas"] == ["slow1"]


@check("POST /add", r"is not a valid replica name")
def _add_bad_name(ctx):
    name = re.search(r"'([^']+)' is not", ctx.claim.message).group(1)
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        ctx.expect(post(s, "/add", json.dumps({"n": 1, "hostnames": [name]})))


@check("POST /add", r"would pass the maximum")
def _add_over_max(ctx):
    m = re.search(r"Adding (\d+) replicas to (\d+) ", ctx.claim.message)
    s = ctx.stacks("shared")
    have = str(s.rep()["message"]["N"])
    with ctx.unchanged(s):
        ctx.expect(post(s, "/add", json.dumps({"n": int(m.group(1))})),
                   subst={f"to {m.group(2)} ": f"to {have} "})


@check("POST /add", r"^ \d+ for a body over 64 KiB")
def _add_413(ctx):
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        ctx.expect(post(s, "/add", b"{" + b" " * (64 * 1024) + b"}"))
    # At the limit, a body is read (and judged on its content).
    pad = 64 * 1024 - len('{"n": 0}')
    r = post(s, "/add", '{"n": 0' + " " * pad + "}")
    assert r.status == 400, r.text


class FakeEngine:
    """A Docker Engine API on a unix socket, as much of it as a control
    plane needs to start and to try an /add: `answers` maps (method, path
    regex) to (status, JSON body); /events streams nothing until stop()."""

    def __init__(self, answers):
        import socketserver
        from http.server import BaseHTTPRequestHandler
        # A short path: a socket's is at most 108 bytes.
        self.dir = tempfile.mkdtemp(prefix="lbeng", dir="/tmp")
        self.path = os.path.join(self.dir, "docker.sock")
        self.seen = []
        self.closing = threading.Event()
        eng = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def address_string(self):
                return "unix"

            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                path = re.sub(r"^/v1\.\d+", "", self.path)
                eng.seen.append((self.command, path))
                try:
                    if path.startswith("/events"):
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        self.wfile.flush()
                        eng.closing.wait()
                        self.close_connection = True
                        return
                    for (m, rx), (st, body) in answers.items():
                        if m == self.command and re.match(rx, path):
                            break
                    else:
                        st, body = 404, {"message": f"fake: no {path}"}
                    data = b"" if body is None else json.dumps(body).encode()
                    self.send_response(st)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_POST = do_DELETE = do_HEAD = answer

        class Server(socketserver.ThreadingMixIn,
                     socketserver.UnixStreamServer):
            daemon_threads = True

        self.server = Server(self.path, Handler)
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def stop(self):
        """Stops answering; the socket is gone (idempotent)."""
        if self.closing.is_set():
            return
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
        os.unlink(self.path)
        os.rmdir(self.dir)


ENGINE_BASE = {("GET", r"/_ping"): (200, None),
               ("GET", r"/containers/json"): (200, []),
               ("GET", r"/services"): (200, []),
               ("GET", r"/networks/"): (200, {}),
               ("DELETE", r"/"): (204, None)}


def engine_stack(ctx, driver, answers, **cp):
    """A control plane (no replica) on a fake engine."""
    eng = FakeEngine({**ENGINE_BASE, **answers})
    sock = eng.path
    env = {"LB_DRIVER": driver, "LB_DOCKER_SOCKET": sock}
    env.update(cp)
    try:
        s = ctx.stack_factory(replicas=0, cp_env=env).start()
    except BaseException:
        eng.stop()
        raise
    return s, eng, sock


@check("POST /add", r"Could not add replicas: image .* not found")
def _add_no_image(ctx):
    image = re.search(r"image (\S+) not found", ctx.claim.message).group(1)
    s, eng, _ = engine_stack(ctx, "docker", {
        ("POST", r"/containers/create"):
        (404, {"message": f"No such image: {image}"})}, LB_IMAGE=image)
    try:
        with ctx.unchanged(s):
            ctx.expect(post(s, "/add", '{"n": 1, "hostnames": ["S5"]}'))
        # Nothing half-made: no container was started.
        assert not [x for x in eng.seen if x[1].endswith("/start")]
    finally:
        s.stop()
        eng.stop()


@check("POST /add", r"Could not add replicas: Docker engine at")
def _add_no_engine(ctx):
    s, eng, sock = engine_stack(ctx, "docker", {})
    try:
        eng.stop()  # the engine goes away after the start
        with ctx.unchanged(s):
            ctx.expect(post(s, "/add", '{"n": 1, "hostnames": ["S5"]}'),
                       subst={"/var/run/docker.sock": sock})
    finally:
        s.stop()
        eng.stop()


@check("POST /add", r"Could not add replicas: \d+ of \d+ new replicas did "
                    r"not answer", context=r"start that timed out")
def _add_timeout(ctx):
    m = re.search(r"(\d+) of (\d+) new replicas .* within (\d+) ms",
                  ctx.claim.message)
    bad, n, ms = int(m.group(1)), int(m.group(2)), m.group(3)
    names = [f"ok{i}" for i in range(n - bad)] + \
        [f"never{i}" for i in range(bad)]
    s = ctx.stack_factory(replicas=0, replica_bin=replica_script(ctx.tmp),
                          cp_env={"LB_START_TIMEOUT_MS": "700"}).start()
    with ctx.unchanged(s):
        ctx.expect(post(s, "/add", json.dumps({"n": n, "hostnames": names})),
                   subst={ms: "700"})
    # Nothing half-made: the replica that did start is stopped too.
    wait_for(lambda: s.replica_pids() == [], 5, what="no replica left")


# The static driver (its paragraph under POST /add).
def static_stack(ctx, **cp):
    port = free_port()
    p = Proc([binary("replica/lb-replica")],
             {"SERVER_ID": "11", "PORT": str(port), "HOST": "127.0.0.1"},
             os.path.join(str(ctx.tmp), f"backend{port}.log"))
    wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/heartbeat",
                                  timeout=1).status_code == 200, 10,
             what="backend up")
    env = {"LB_DRIVER": "static", "LB_BACKENDS": f"a=127.0.0.1:{port}"}
    env.update(cp)
    s = ctx.stack_factory(replicas=1, cp_env=env).start()
    return s, p


def _static_bad(hostnames, n=None):
    def run(ctx):
        s, p = static_stack(ctx)
        try:
            with ctx.unchanged(s):
                body = {"n": n or len(hostnames), "hostnames": hostnames}
                ctx.expect(post(s, "/add", json.dumps(body)))
        finally:
            s.stop()
            p.stop()
    return run


STATIC = r"LB_DRIVER=static"


def _static_spec(rx):
    """The hostname of a static /add line: its example, in quotes."""
    def run(ctx):
        spec = re.search(rx, ctx.claim.message).group(1)
        _static_bad([spec])(ctx)
    return run


check("POST /add", r"The static driver needs one name=host:port", STATIC)(
    _static_bad(["x=127.0.0.1:1"], n=2))
check("POST /add", r"is not name=host:port$", STATIC)(
    _static_spec(r"'([^']+)' is not name"))
check("POST /add", r"is not a host$", STATIC)(
    _static_spec(r"'([^']+)': '[^']+' is not a host"))
check("POST /add", r"the port must be 1\.\.65535$", STATIC)(
    _static_spec(r"'([^']+)': the port"))
check("POST /add", r"is not a valid name$", STATIC)(
    _static_spec(r"'([^']+)': '[^']+' is not a valid name"))


@check("POST /add", r"Could not add replicas: \d+ of \d+ new replicas did "
                    r"not answer", context=STATIC)
def _static_timeout(ctx):
    ms = re.search(r"within (\d+) ms", ctx.claim.message).group(1)
    s, p = static_stack(ctx, LB_START_TIMEOUT_MS="700")
    try:
        with ctx.unchanged(s):
            dead = free_port()  # nothing listens there
            ctx.expect(post(s, "/add", json.dumps(
                {"n": 1, "hostnames": [f"x=127.0.0.1:{dead}"]})),
                subst={ms: "700"})
    finally:
        s.stop()
        p.stop()


@check("POST /add", r"the task of service")
def _swarm_rejected(ctx):
    name = re.search(r"service (\S+) is", ctx.claim.message).group(1)
    s, eng, _ = engine_stack(ctx, "swarm", {
        ("POST", r"/services/create"): (201, {"ID": "svc1"}),
        ("GET", r"/tasks"): (200, [{
            "ID": "t1", "ServiceID": "svc1", "Version": {"Index": 1},
            "Status": {"State": "rejected",
                       "Err": "no suitable node (1 node not available)"}}])})
    try:
        with ctx.unchanged(s):
            ctx.expect(post(s, "/add", json.dumps({"n": 1,
                                                   "hostnames": [name]})))
        if "service is deleted" in ctx.claim.text:
            assert ("DELETE", "/services/svc1") in eng.seen, eng.seen
    finally:
        s.stop()
        eng.stop()


# -- DELETE /rm ---------------------------------------------------------------

@check("DELETE /rm", r"Removes the named replicas")
def _rm_200(ctx):
    s = ctx.stack_factory().start()
    add = json.loads(claim_of_section_body("POST /add"))
    assert s.add(add).status_code == 200
    body = json.loads(ctx.claim.section_body)
    before = s.rep()["message"]["replicas"]
    ans = delete(s, "/rm", json.dumps(body))
    verify(ctx.claim, ans)
    got = ans.json()["message"]
    assert got["N"] == len(before) - body["n"] == len(got["replicas"])
    assert not set(body["hostnames"]) & set(got["replicas"])
    assert set(got["replicas"]) < set(before)
    assert sorted(s.routable()) == sorted(got["replicas"])
    assert s.rep() == ans.json()


@check("DELETE /rm", r"more than removable instances$")
def _rm_too_many(ctx):
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        ctx.expect(delete(s, "/rm", '{"n": 1, "hostnames": '
                                    '["server1", "server2"]}'))


@check("DELETE /rm", r"a malformed body, as for `/add`")
def _rm_malformed(ctx):
    s = ctx.stacks("shared")
    family = [c for c in CLAIMS if c.section == "POST /add" and
              c.message and c.message.startswith(ERROR + "Request body")]
    assert family, "no /add line about a malformed body"
    cases = [(c, body) for c in family for body in malformed_bodies(c)]
    with ctx.unchanged(s):
        ctx.each(cases, lambda case: ctx.expect(
            delete(s, "/rm", case[1]), message=case[0].message))


@check("DELETE /rm", r"Cannot remove \d+ replicas")
def _rm_over_n(ctx):
    m = re.search(r"remove (\d+) replicas: (only \d+ )", ctx.claim.message)
    s = ctx.stacks("shared")
    have = s.rep()["message"]["N"]
    with ctx.unchanged(s):
        ctx.expect(delete(s, "/rm", json.dumps({"n": int(m.group(1))})),
                   subst={m.group(2): f"only {have} "})


@check("DELETE /rm", r"is listed twice$")
def _rm_listed_twice(ctx):
    # /rm names replicas that exist: server1 stands for the doc's name.
    name = re.search(r"Hostname '([^']+)'", ctx.claim.message).group(1)
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        ctx.expect(delete(s, "/rm", '{"n": 2, "hostnames": '
                                    '["server1", "server1"]}'),
                   subst={f"'{name}'": "'server1'"})


@check("DELETE /rm", r"does not exist$")
def _rm_unknown(ctx):
    name = re.search(r"Replica '([^']+)'", ctx.claim.message).group(1)
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        ctx.expect(delete(s, "/rm", json.dumps({"n": 1,
                                                "hostnames": [name]})))


@check("DELETE /rm", r"only to the operator's addresses")
def _admin_allow(ctx):
    example = re.search(r"not to (\S+)$", ctx.claim.message).group(1)
    s = ctx.stacks("allow")
    with ctx.unchanged(s):
        for method, path in (("POST", "/add"), ("DELETE", "/rm")):
            ctx.expect(request_from("127.0.0.2", s.port, method, path,
                                    {"n": 1}),
                       subst={example: "127.0.0.2"})


@check("DELETE /rm", r"from a page of another site")
def _admin_origin(ctx):
    s = ctx.stacks("shared")
    own = f"http://127.0.0.1:{s.port}"
    # (headers, the field that tells)
    cases = [({"Origin": "http://evil.example"}, "Origin"),
             ({"Origin": "null"}, "Origin"),
             # a name that may resolve to us (DNS rebinding)
             ({"Origin": f"http://evil.example:{s.port}",
               "Host": f"evil.example:{s.port}"}, "Origin"),
             ({"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site"),
             ({"Sec-Fetch-Site": "same-site", "Origin": own},
              "Sec-Fetch-Site")]
    names = set(SPAN.findall(ctx.claim.text))

    def one(case):
        h, field = case
        assert field in names, f"{ctx.claim.where()}: {field} not named"
        ctx.expect(post(s, "/add", '{"n": 1}', headers=h),
                   values={"field": field})
        ctx.expect(delete(s, "/rm", '{"n": 1}', headers=h),
                   values={"field": field})
    with ctx.unchanged(s):
        ctx.each(cases, one)


@check("DELETE /rm", r"Missing or wrong admin token")
def _admin_token(ctx):
    s = ctx.stacks("token")
    with ctx.unchanged(s):
        for h in ({}, {"Authorization": "Bearer wrong"}):
            ctx.expect(post(s, "/add", '{"n": 1}', headers=h))
            ctx.expect(delete(s, "/rm", '{"n": 1}', headers=h))


@check("DELETE /rm", r"holds a control character")
def _admin_control_char(ctx):
    s = ctx.stacks("shared")
    with ctx.unchanged(s):
        for name in ("a\nb", "c\x1b[2J", "\x7f", "s\u00e9rver"):
            body = json.dumps({"n": 1, "hostnames": [name]})
            ctx.expect(post(s, "/add", body))
            ctx.expect(delete(s, "/rm", body))


@check("DELETE /rm", r"Method \w+ is not allowed on")
def _wrong_method(ctx):
    m = re.search(r"Method (\w+) is not allowed on (\S+);",
                  ctx.claim.message)
    s = ctx.stacks("shared")
    ctx.expect(Answer.of(requests.request(m.group(1), s.url(m.group(2)),
                                          timeout=10)))


@check("DELETE /rm", r"Control plane unavailable")
def _cp_unavailable(ctx):
    s = ctx.stack_factory().start()
    s.cp.p.send_signal(signal.SIGKILL)
    s.cp.p.wait()
    wait_for(lambda: requests.get(s.url("/rep"), timeout=5).status_code ==
             503, 5, what="the data plane sees the control plane gone")
    t0 = time.monotonic()
    ans = get(s, "/rep")
    took = time.monotonic() - t0
    ctx.expect(ans)
    assert took < 1, f"{ctx.claim.where()}: {took:.2f} s"  # at once
    ctx.expect(post(s, "/add", '{"n": 1}'))
    ctx.expect(delete(s, "/rm", '{"n": 1}'))
    if "proxying goes on" in ctx.claim.text:
        assert get(s, "/home").status == 200


# -- Every other path: proxied ------------------------------------------------

PROXIED = "Every other path and method: proxied"


@check(PROXIED, r"endpoint does not exist in server replicas")
def _proxied_404(ctx):
    path = re.search(r"'([^']+)' endpoint", ctx.claim.message).group(1)
    for status in ctx.claim.conditions:  # "The replica answers 404"
        r = requests.get(f"http://127.0.0.1:{ctx.replica}{path}", timeout=5)
        assert r.status_code == status
    s = ctx.stacks("shared")
    ctx.expect(get(s, path))
    if "without its query" in ctx.claim.text:
        ctx.expect(get(s, path + "?q=1&r=2"))


@check(PROXIED, r"No replica could serve the request")
def _no_replica_could(ctx):
    s, p = static_stack(ctx, LB_HEARTBEAT_MS="60000")
    try:
        assert get(s, "/home").status == 200
        p.p.kill()  # connections are refused from now on
        p.p.wait()
        ctx.expect(get(s, "/home"))
    finally:
        s.stop()
        p.stop()


BAD_CASES = {"bare LF": "bare-lf", "transfer coding": "te-unknown",
             "content-length header": "cl-nonnumeric"}


@check(PROXIED, r"The replica's answer was refused")
def _answer_refused(ctx):
    s = ctx.stacks("bad")
    assert ctx.claim.examples, f"{ctx.claim.where()}: no example"
    for ex in ctx.claim.examples:
        cases = [c for k, c in BAD_CASES.items() if k in ex]
        assert len(cases) == 1, f"no bad_replica case for {ex!r}"
        assert ex.startswith("(") and ex.endswith(")"), ex
        ctx.expect(get(s, f"/case/{cases[0]}"), values={"rule": ex[1:-1]})


@check(PROXIED, r"Replica did not answer in time")
def _silent(ctx):
    ms = re.search(r"silent for (\d+) ms", ctx.claim.message).group(1)
    s = ctx.stacks("bad")
    ctx.expect(get(s, "/silent"),
               subst={ms: s.dp_env["LB_UPSTREAM_TIMEOUT_MS"]})


def active_upstream(s):
    m = s.metrics(s.site_url("/metrics"))
    return sum(v for k, v in m.items()
               if k.startswith("lb_upstream_connections{")
               and 'state="active"' in k)


@check(PROXIED, r"Replicas are busy")
def _busy(ctx):
    s = ctx.stacks("bad")
    out = {}
    t = threading.Thread(target=lambda: out.setdefault(
        "r", requests.get(s.url("/home?delay_ms=1500"), timeout=30)))
    t.start()
    try:
        wait_for(lambda: active_upstream(s) == 1, 5,
                 what="the one connection allowed is taken")
        ctx.expect(get(s, "/home"))
    finally:
        t.join()
    assert out["r"].status_code == 200


@check(PROXIED, r"No server replicas available")
def _no_replicas(ctx):
    ctx.expect(get(ctx.stacks("empty"), "/home"))


@check(PROXIED, r"came slower than LB_MIN_BODY_RATE")
def _slow_body(ctx):
    s = ctx.stacks("shared")
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
        c.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 100000\r\n\r\n")
        t0 = time.monotonic()
        c.settimeout(0.1)
        first = b""
        # 100 bytes a second, until the answer (the rate is judged from
        # 2 s on, between civetweb's reads of 512 bytes).
        while not first and time.monotonic() - t0 < 15:
            try:
                c.sendall(b"x" * 10)
                first = c.recv(65536)
            except socket.timeout:
                pass
            except OSError:
                break
        c.settimeout(5)
        ctx.expect(read_answer(c, first))


@check(PROXIED, r"Request body is over LB_MAX_BODY")
def _body_too_big(ctx):
    s = ctx.stacks("bad")
    limit = s.dp_env["LB_MAX_BODY"]
    ctx.expect(post(s, "/upload", b"x" * (int(limit) + 1)),
               values={"N": limit})


@check(PROXIED, r"an answer over it: \d+")
def _answer_too_big(ctx):
    s = ctx.stacks("bad")
    limit = int(s.dp_env["LB_MAX_BODY"])
    ctx.expect(get(s, f"/download?size={limit + 1}&framing=length"))
    assert get(s, f"/download?size={limit}&framing=length").status == 200


@check(PROXIED, r"Too many header fields")
def _too_many_fields(ctx):
    most = int(re.search(r"at most (\d+)", ctx.claim.message).group(1))
    s = ctx.stacks("shared")

    def head(fields):  # Host and fields - 1 others
        return (b"GET /home HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                b"".join(b"X-F%d: v\r\n" % i for i in range(fields - 2)) +
                b"\r\n")
    ctx.expect(raw_exchange(s.port, head(most + 1)))
    assert raw_exchange(s.port, head(most)).status == 200


@check(PROXIED, r"WebSocket is not proxied")
def _websocket(ctx):
    s = ctx.stacks("shared")
    ctx.expect(get(s, "/chat", headers={
        "Upgrade": "websocket", "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13"}))


# -- Configuration ------------------------------------------------------------

@check("Configuration", r"^ lb-\w+: LB_")
def _bad_setting(ctx):
    prog, var, value = STARTUP.match(ctx.claim.message).groups()
    env = dict(os.environ, **{var: value,
                              "LB_STATE_DIR": str(ctx.tmp / "state")})
    # lb-controlplane is controlplane/lb-controlplane, and so on.
    r = subprocess.run([binary(f"{prog[3:]}/{prog}")], env=env,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0, r.stderr
    assert ctx.claim.message in r.stderr.splitlines(), \
        f"{ctx.claim.where()}: {r.stderr!r}"


# ---- the stacks -------------------------------------------------------------

SCENARIOS = {
    # Three replicas, server1..3; the checks that use it change nothing.
    "shared": lambda d: Stack(d),
    "empty": lambda d: Stack(d, replicas=0),
    "allow": lambda d: Stack(d, dp_env={"LB_ADMIN_ALLOW": "127.0.0.1"}),
    "token": lambda d: Stack(d, dp_env={"LB_ADMIN_TOKEN": "s3cret"}),
    # One misbehaving replica (bad_replica.py): every request reaches it.
    "bad": lambda d: Stack(d, replicas=1, replica_bin=BAD, dp_env={
        "LB_UPSTREAM_TIMEOUT_MS": "2000", "LB_MAX_BODY": "1000",
        "LB_REPLICA_MAX_CONNS": "1", "LB_QUEUE_TIMEOUT_MS": "300"}),
}


@pytest.fixture(scope="module")
def stacks(tmp_path_factory):
    """stacks(name): the module's stack of that scenario, started on first
    use."""
    made = {}

    def get_stack(name):
        if name not in made:
            made[name] = SCENARIOS[name](
                tmp_path_factory.mktemp(name)).start()
        return made[name]
    yield get_stack
    failed = []
    for s in made.values():
        try:
            s.stop()
        except AssertionError as e:  # a sanitizer report
            failed.append(str(e))
    assert not failed, "\n".join(failed)


@pytest.fixture(scope="module")
def replica(tmp_path_factory):
    """A bare lb-replica with SERVER_ID 7: its port."""
    port = free_port()
    p = Proc([binary("replica/lb-replica"), "--port", str(port),
              "--host", "127.0.0.1"], {"SERVER_ID": "7"},
             str(tmp_path_factory.mktemp("replica") / "replica.log"))
    wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/heartbeat",
                                  timeout=1).status_code == 200, 10,
             what="replica up")
    yield port
    p.stop()


# ---- the tests --------------------------------------------------------------

def test_the_doc_is_read_whole():
    """The parser found the doc's claims of each kind (a parser that reads
    nothing would pass every other test here)."""
    kinds = {k: sum(c.kind == k for c in CLAIMS)
             for k in ("error", "json", "status", "startup")}
    assert kinds["error"] >= 40 and kinds["json"] >= 2 and \
        kinds["status"] >= 4 and kinds["startup"] >= 1, kinds
    sections = {c.section for c in CLAIMS}
    assert {"Replica", "GET /rep", "POST /add", "DELETE /rm", PROXIED,
            "Configuration"} <= sections, sections


def test_every_check_has_its_line():
    """A check whose line left the doc (or changed past its key) is stale."""
    for chk in CHECKS:
        found = [c.where() for c in CLAIMS if chk.matches(c)]
        assert len(found) == 1, \
            f"check {chk.run.__name__} ({chk.section}, /{chk.key.pattern}/)" \
            f" matches {len(found)} lines: {found}"


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_contract_line(claim, stacks, stack_factory, tmp_path, replica):
    found = [chk for chk in CHECKS if chk.matches(claim)]
    assert found, f"{claim.where()}: no check makes this line's situation " \
                  f"(add one to {os.path.basename(__file__)})"
    assert len(found) == 1, f"{claim.where()}: several checks: " \
                            f"{[c.run.__name__ for c in found]}"
    ctx = Ctx(claim, stacks, stack_factory, tmp_path, replica)
    found[0].run(ctx)
    if claim.unchanged:
        assert ctx.unchanged_checked, \
            f"{claim.where()}: the check did not see that nothing changed"

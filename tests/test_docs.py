"""The documentation holds: the settings tables say what the programs'
--help says, every relative link and image points to a file (and a heading,
when it names one), the README stays a front door, and no file names a page
that is gone.

The settings are checked against the release build (LB_RELEASE_BUILD,
relative to the repository root; make test builds it)."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE_BUILD = os.environ.get("LB_RELEASE_BUILD", "build")
README_MAX_LINES = 300

# A page that no longer exists; spelled in two pieces so that this file
# does not name it.
GONE = "pitfalls" + ".md"


def markdown_files():
    docs = os.path.join(ROOT, "docs")
    return [os.path.join(ROOT, "README.md")] + sorted(
        os.path.join(docs, f) for f in os.listdir(docs) if f.endswith(".md"))


def outside_fences(text):
    """(number, line) of each line of a markdown text that is not in a
    fenced code block."""
    fence = None
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^\s*(```+|~~~+)", line)
        if m:
            if fence is None:
                fence = m.group(1)[0] * 3
            elif m.group(1).startswith(fence):
                fence = None
            continue
        if fence is None:
            yield n, line


def outside_code(text):
    """The lines outside fenced code, with their numbers; inline code
    spans are blanked."""
    for n, line in outside_fences(text):
        yield n, re.sub(r"`[^`]*`", "``", line)


def heading_slugs(path):
    """The anchors GitHub makes for a markdown file's headings."""
    slugs, seen = set(), {}
    with open(path) as f:
        text = f.read()
    for _, line in outside_fences(text):
        h = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if h:
            slug = re.sub(r"[^\w\- ]", "", h.group(1).strip().lower())
            slug = slug.replace(" ", "-")
            k = seen.get(slug, 0)
            seen[slug] = k + 1
            slugs.add(slug if k == 0 else f"{slug}-{k}")
    return slugs


LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def test_settings_tables_agree_with_help():
    r = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "settings_doc.py"),
         "--build", RELEASE_BUILD, "--check"],
        capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (
        "docs/operations.md's settings tables differ from the programs' "
        f"--help (run make docs):\n{r.stdout}{r.stderr}")


@pytest.mark.parametrize("path", markdown_files(),
                         ids=lambda p: os.path.relpath(p, ROOT))
def test_relative_links_point_to_files(path):
    with open(path) as f:
        text = f.read()
    bad = []
    for n, line in outside_code(text):
        for target in LINK.findall(line):
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                continue  # http:, https:, mailto:
            file, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path),
                                                 file)) if file else path
            where = f"{os.path.relpath(path, ROOT)}:{n}: {target}"
            if not os.path.exists(dest):
                bad.append(f"{where}: no such file")
            elif anchor and dest.endswith(".md") and \
                    anchor not in heading_slugs(dest):
                bad.append(f"{where}: no such heading")
    assert not bad, "\n".join(bad)


def test_readme_is_a_front_door():
    with open(os.path.join(ROOT, "README.md")) as f:
        n = len(f.read().splitlines())
    assert n <= README_MAX_LINES, (
        f"README.md has {n} lines (at most {README_MAX_LINES}): move the "
        f"detail into docs/")


def test_no_file_names_a_page_that_is_gone():
    files = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"],
                           capture_output=True, check=True,
                           timeout=60).stdout.decode().split("\0")
    bad = []
    for rel in filter(None, files):
        if rel.startswith(("docs/bench/", "docs/analysis/")):
            continue
        try:
            with open(os.path.join(ROOT, rel), "rb") as f:
                data = f.read()
        except OSError:
            continue  # removed from the work tree, not yet from the index
        if b"\0" in data[:8192]:
            continue  # binary
        for n, line in enumerate(data.decode("utf-8", "replace")
                                 .splitlines(), 1):
            if GONE in line:
                bad.append(f"{rel}:{n}: {line.strip()}")
    assert not bad, f"{GONE} does not exist; named in:\n" + "\n".join(bad)

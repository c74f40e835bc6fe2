"""The documentation stands alone in the repository (issue 14): every relative link of README.md and docs/*.md
reaches a file of the repository, and its anchor a heading of that file; no document has two sections with
one heading; no tracked file reads or links the design notes outside the repository; every test and every
repository path the documents name exists.

Each check was seen to fail: a link to docs/missing.md, an anchor #no-such-section, the README before its
duplicated second half was removed (two `## Reporting database`…), and tests/test_cli.py while it read the
KPI catalog from outside the repository.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# built from parts, so that this file does not mention what it looks for
OUTSIDE_FIXED = ["../" + "shared", "/work/" + "shared"]
OUTSIDE_PATTERN = "shared" + r"""["']?\s*/\s*["']?""" + "spec"  # as a path, or joined with pathlib's /
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def tracked_files() -> set[str]:
    """The repository's files (git ls-files), as POSIX paths relative to the root."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return {name for name in out.stdout.decode().split("\0") if name}


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, with their numbers; inline code spans blanked out."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, re.sub(r"`[^`]*`", "``", line)))
    return lines


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: links and markup dropped, lower-cased, punctuation other than
    hyphens and underscores removed, spaces made hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def headings(path: Path) -> list[tuple[int, str]]:
    """(line, heading text) of every ATX heading outside code blocks (inline code keeps its text)."""
    found, fenced = [], False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and (match := HEADING.match(line)):
            found.append((number, match.group(2).replace("`", "")))
    return found


def anchors(path: Path) -> set[str]:
    return {slug(text) for _, text in headings(path)}


def links(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in prose_lines(path):
        found += [(number, target) for target in LINK.findall(line)]
        if match := REFERENCE_LINK.match(line):
            found.append((number, match.group(1)))
    return found


def test_every_relative_link_reaches_a_file_of_the_repository_and_its_anchor():
    tracked = tracked_files()
    folders = {str(Path(name).parent) for name in tracked} | {
        str(parent) for name in tracked for parent in Path(name).parents
    }
    broken = []
    for document in DOCUMENTS:
        where = document.relative_to(ROOT)
        for number, target in links(document):
            if SCHEME.match(target):
                continue  # https:, mailto:: not a file of the repository
            path, _, anchor = target.partition("#")
            file = (document.parent / path).resolve() if path else document
            try:
                relative = file.relative_to(ROOT).as_posix()
            except ValueError:
                broken.append(f"{where}:{number}: {target} leaves the repository")
                continue
            if relative not in tracked and relative not in folders:
                broken.append(f"{where}:{number}: {target} is not a file of the repository")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                broken.append(f"{where}:{number}: {target}: {relative} has no heading #{anchor}")
    assert not broken, "\n".join(broken)
    assert sum(len(links(d)) for d in DOCUMENTS) > 20  # the parser does find the links


def test_no_document_has_two_sections_with_one_heading():
    repeated = []
    for document in DOCUMENTS:
        seen: dict[str, int] = {}
        for number, text in headings(document):
            key = slug(text)
            if key in seen:
                repeated.append(f"{document.relative_to(ROOT)}:{number}: '{text}' again (first at line {seen[key]})")
            seen.setdefault(key, number)
    assert not repeated, "\n".join(repeated)


def test_no_tracked_file_reads_or_links_the_design_notes_outside_the_repository():
    found = []
    for args in (["-F", *[x for pattern in OUTSIDE_FIXED for x in ("-e", pattern)]], ["-E", "-e", OUTSIDE_PATTERN]):
        grep = subprocess.run(["git", "grep", "-n", "-I", *args], cwd=ROOT, capture_output=True, text=True)
        assert grep.returncode in (0, 1), grep.stderr  # 1: no match
        found += grep.stdout.splitlines()
    assert not found, "\n".join(found)


def test_every_test_and_repository_path_the_documents_name_exists():
    defined = {
        name
        for file in (ROOT / "tests").glob("test_*.py")
        for name in re.findall(r"^def (test_\w+)", file.read_text(), re.M)
    }
    tracked = tracked_files()
    missing = []
    for document in DOCUMENTS:
        text = document.read_text()
        for name in re.findall(r"`(?:[\w/]+\.py)?(?:::)?(test_\w+)`", text):
            if name not in defined:
                missing.append(f"{document.relative_to(ROOT)}: test {name}")
        for path in re.findall(r"`((?:[\w.-]+/)+[\w.-]+\.(?:py|md|yaml|yml|toml|cfg|txt))`", text):
            if path not in tracked:
                missing.append(f"{document.relative_to(ROOT)}: file {path}")
    assert not missing, "\n".join(missing)

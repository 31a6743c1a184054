"""Code cites docs/protocols.md for protocol facts, by headings that exist, and nothing else."""

import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROTOCOLS = ROOT / "docs" / "protocols.md"
SCANNED = ("backend", "portal", "emulators", "tests", "bench", "scripts", "migrations")

# Written as escapes so this file does not trip its own check: the section sign and the
# confidence marks of the out-of-repository research notes the comments used to cite.
MARKS = {"\u00a7": "section sign", "\u2705": "check mark", "\U0001f7e1": "yellow circle"}
MARKS["\u2753"] = "question mark"
# Names of those notes: a maintainer does not have them, so code must not send anyone there.
FOREIGN_SOURCES = ("integration-protocols", "fulfilment-wechat-protocols", "shared/reference")
THIS_FILE = Path(__file__).resolve()

POINTER = re.compile(r'docs/protocols\.md,\s*((?:"[^"]+"(?:\s*(?:,|and)\s*)?)+)')
QUOTED = re.compile(r'"([^"]+)"')
HEADING = re.compile(r"^(#{2,3}) (.+?)\s*$")


def source_files() -> list[Path]:
    files = [p for folder in SCANNED for p in (ROOT / folder).rglob("*") if p.is_file()]
    return sorted(p for p in files if p.suffix in (".py", ".html"))


def section_paths(markdown: str) -> list[str]:
    """Every "Section" (##) and "Section / Subsection" (###) of the page, in order."""
    paths: list[str] = []
    section, fenced = "", False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else HEADING.match(line)
        if match is None:
            continue
        level, title = match.groups()
        if level == "##":
            section = title
            paths.append(title)
        else:
            paths.append(f"{section} / {title}")
    return paths


def text_units(path: Path) -> list[tuple[int, str]]:
    """(first line, text) of each comment block and string; a template is one unit."""
    source = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return [(1, source)]
    return sorted(_python_units(source))


def _python_units(source: str) -> Iterator[tuple[int, str]]:
    block: list[str] = []
    start = last = 0
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and token.line[: token.start[1]].strip():
            yield token.start[0], token.string  # a comment after code stands alone
        elif token.type == tokenize.COMMENT:
            line = token.start[0]
            if block and line != last + 1:
                yield start, " ".join(block)
                block = []
            if not block:
                start = line
            block.append(token.string.lstrip("#"))
            last = line
        elif token.type == tokenize.STRING:
            yield token.start[0], token.string
    if block:
        yield start, " ".join(block)


def pointers(path: Path) -> Iterator[tuple[int, str]]:
    """(line, section path) of every citation of a section of the page, in line order."""
    for line, text in text_units(path):
        flat = " ".join(text.split())
        for match in POINTER.finditer(flat):
            for section in QUOTED.findall(match.group(1)):
                yield line, " ".join(section.split())


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_no_source_carries_the_section_sign_or_a_confidence_mark():
    found = [
        f"{where(path, number)}: {name}"
        for path in source_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for mark, name in MARKS.items()
        if mark in line
    ]
    assert not found, "say it in words and point at docs/protocols.md:\n" + "\n".join(found)


def test_no_source_points_at_research_notes_outside_the_repository():
    found = [
        f"{where(path, number)}: {name}"
        for path in source_files()
        if path != THIS_FILE
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for name in FOREIGN_SOURCES
        if name in line
    ]
    assert not found, "point at docs/protocols.md instead:\n" + "\n".join(found)


def test_every_pointer_into_the_protocols_page_names_one_of_its_headings():
    known = set(section_paths(PROTOCOLS.read_text(encoding="utf-8")))
    broken = [
        f'{where(path, line)}: "{section}"'
        for path in [*source_files(), ROOT / "README.md"]
        for line, section in pointers(path)
        if section not in known
    ]
    assert not broken, "no such heading in docs/protocols.md:\n" + "\n".join(broken)


def test_the_protocols_page_names_each_section_once():
    paths = section_paths(PROTOCOLS.read_text(encoding="utf-8"))
    assert len(paths) > 20
    assert sorted({p for p in paths if paths.count(p) > 1}) == []


@pytest.mark.parametrize(
    "adapter",
    [
        "backend/logistics/carriers/kuaidi100.py",
        "backend/logistics/carriers/sf.py",
        "backend/logistics/carriers/recognition.py",
        "backend/logistics/carriers/autonumber.py",
        "backend/logistics/waybills/kuaidi100.py",
        "backend/logistics/waybills/sf.py",
        "backend/orders/channels/signatures.py",
        "backend/orders/channels/mapping.py",
        "backend/refunds/gateways/wechatpay.py",
        "backend/refunds/gateways/alipay.py",
        "backend/notifications/aliyun_sms.py",
        "backend/notifications/wechat_subscribe.py",
        "backend/notifications/wechat_jsapi.py",
        "backend/notifications/wechat_push.py",
    ],
)
def test_every_adapter_points_at_the_protocols_page(adapter):
    assert list(pointers(ROOT / adapter))


def test_a_pointer_split_over_comment_lines_is_read_whole(tmp_path):
    module = tmp_path / "example.py"
    module.write_text(
        '# Aliyun asks for a timeout (docs/protocols.md, "Aliyun SMS /\n'
        '# SendSms") and more: docs/protocols.md, "Kuaidi100 / Query" and\n'
        '# "No such / Section".\n'
        'x = 1  # docs/protocols.md, "Shopify"\n'
        'def f():\n    """Also in docstrings: docs/protocols.md, "WeChat Pay / Refund\n'
        '    notify"."""\n'
    )
    assert list(pointers(module)) == [
        (1, "Aliyun SMS / SendSms"),
        (1, "Kuaidi100 / Query"),
        (1, "No such / Section"),
        (4, "Shopify"),
        (6, "WeChat Pay / Refund notify"),
    ]


def test_the_readme_links_the_protocols_page():
    assert "docs/protocols.md" in (ROOT / "README.md").read_text(encoding="utf-8")

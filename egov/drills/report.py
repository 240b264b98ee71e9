"""The drill report an auditor signs, in Markdown or as one self-contained HTML page.

Pure: a DrillSummary (see ``summary.py``) and a language in, text out. What the report says
is decided once, in ``document.build_document``, as sections of tables, paragraphs and
charts; the two writers here only spell it in their syntax, so both formats always carry the
same content. Every text from the summary is escaped by the writer: Markdown's active
characters get a backslash, HTML goes through ``html.escape``.
"""

from __future__ import annotations

import re
from html import escape

from egov.drills.document import (
    DASH,
    Block,
    Cell,
    Chart,
    Heading,
    Listing,
    Paragraph,
    Preformatted,
    Table,
    build_document,
)
from egov.drills.summary import DrillSummary

# Markdown: CommonMark renders any backslash-escaped ASCII punctuation as itself.
_MARKDOWN_ACTIVE = re.compile(r"([\\`*_\[\]<>|~&#])")
_MARKDOWN_LIST_MARKER = re.compile(r"^(\s*\d{0,9})([-+.)])(?=\s|$)")


def _markdown_text(text: str) -> str:
    lines = [
        _MARKDOWN_LIST_MARKER.sub(r"\1\\\2", _MARKDOWN_ACTIVE.sub(r"\\\1", line))
        for line in text.strip().splitlines()
    ]
    return "<br>".join(line for line in lines if line.strip())


def _markdown_code(text: str) -> str:
    """A code span longer than any run of backticks inside; GFM tables still need ``\\|``."""
    text = " ".join(text.split())
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}".replace("|", "\\|")


def _markdown_cell(cell: Cell, kind: str) -> str:
    text = _markdown_code(cell.text) if cell.code and cell.text else _markdown_text(cell.text)
    if cell.tone == "bad" and text:
        text = f"**{text}**"
    if cell.note:
        text += f"<br>{_markdown_text(cell.note)}"
    return text or ("……………………" if kind == "signoff" else "")


def _markdown_block(block: Block) -> list[str]:
    if isinstance(block, Table):
        head = [_markdown_text(header) for header in block.headers]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += [
            "| " + " | ".join(_markdown_cell(cell, block.kind) for cell in row) + " |"
            for row in block.rows
        ]
        return lines
    if isinstance(block, Paragraph):
        text = _markdown_text(block.text)
        return [f"**{text}**" if block.tone == "bad" else f"_{text}_" if block.tone else text]
    if isinstance(block, Heading):
        return [f"### {_markdown_text(block.text)}"]
    if isinstance(block, Listing):
        return [f"- {_markdown_text(item) or DASH}" for item in block.items]
    if isinstance(block, Preformatted):
        fence = "`" * max([3, *(len(run) + 1 for run in re.findall("`+", block.text))])
        return [f"**{_markdown_text(block.title)}**", "", fence, block.text.rstrip("\n"), fence]
    return []  # charts are drawn in the HTML report only


def render_markdown(summary: DrillSummary, lang: str) -> str:
    """The report of ``summary`` as GitHub-flavoured Markdown in ``lang`` ("vi" or "en").

    Raise ValueError for another language.
    """
    document = build_document(summary, lang)
    lines = [f"# {_markdown_text(document.title)}", "", _markdown_text(document.subtitle), ""]
    lines += [f"**{_markdown_text(document.verdict)}**", ""]
    for paragraph in document.preamble:
        lines += [*_markdown_block(paragraph), ""]
    for section in document.sections:
        lines += [f"## {_markdown_text(section.title)}", ""]
        for block in section.blocks:
            if not isinstance(block, Chart):
                lines += [*_markdown_block(block), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


# HTML: one polyglot document (it parses as XML too), printable on A4 without splitting rows.
STYLE = """
@page { size: A4; margin: 15mm }
body { font-family: "Noto Sans", "DejaVu Sans", Arial, sans-serif; font-size: 10.5pt;
  color: #222; line-height: 1.35; max-width: 190mm; margin: 1em auto }
h1 { font-size: 18pt; margin: 0 0 4pt }
h2 { font-size: 13pt; border-bottom: 1px solid #999; margin: 16pt 0 6pt }
h3 { font-size: 11pt; margin: 10pt 0 4pt }
h2, h3 { break-after: avoid; page-break-after: avoid }
table { border-collapse: collapse; width: 100%; margin: 4pt 0 8pt }
thead { display: table-header-group }
th, td { border: 1px solid #bbb; padding: 3pt 5pt; text-align: left; vertical-align: top;
  white-space: pre-line; overflow-wrap: anywhere }
th { background: #f0f0f0 }
li { white-space: pre-line }
table.facts th { width: 32% }
table.signoff td { height: 22mm; vertical-align: bottom }
tr, figure, .verdict, table.signoff { break-inside: avoid; page-break-inside: avoid }
.good { color: #1e7d45; font-weight: bold }
.bad { color: #b03a2e; font-weight: bold }
.muted { color: #666; font-style: italic }
.code { font-family: "DejaVu Sans Mono", monospace; font-size: 9pt }
.note { display: block; color: #666; font-size: 8.5pt; font-weight: normal }
.subtitle { font-size: 12pt; margin: 0 0 8pt }
.verdict { border: 2px solid; padding: 6pt 10pt; font-size: 15pt; margin: 8pt 0 }
.verdict.good { background: #eaf6ee }
.verdict.bad { background: #fbecea }
figure { margin: 6pt 0 }
svg { max-width: 100%; height: auto }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f6f6;
  border: 1px solid #ddd; padding: 4pt; font-size: 8.5pt }
@media print {
  body { max-width: none; margin: 0; font-size: 10pt }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact }
}
"""


def _html_text(text: str, tone: str = "") -> str:
    return f'<span class="{tone}">{escape(text)}</span>' if tone else escape(text)


def _html_cell(cell: Cell, tag: str) -> str:
    classes = " ".join(name for name in (cell.tone, "code" if cell.code else "") if name)
    inner = escape(cell.text)
    if cell.note:
        inner += f'<span class="note">{escape(cell.note)}</span>'
    return f'<{tag} class="{classes}">{inner}</{tag}>' if classes else f"<{tag}>{inner}</{tag}>"


def _html_block(block: Block) -> str:
    if isinstance(block, Table):
        if block.kind == "facts":
            rows = "".join(
                f"<tr>{_html_cell(label, 'th')}{''.join(_html_cell(c, 'td') for c in rest)}</tr>"
                for label, *rest in block.rows
            )
            return f'<table class="facts"><tbody>{rows}</tbody></table>'
        head = "".join(f"<th>{escape(header)}</th>" for header in block.headers)
        body = "".join(
            f"<tr>{''.join(_html_cell(cell, 'td') for cell in row)}</tr>" for row in block.rows
        )
        kind = f' class="{block.kind}"' if block.kind else ""
        return f"<table{kind}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, Paragraph):
        return f"<p>{_html_text(block.text, block.tone)}</p>"
    if isinstance(block, Heading):
        return f"<h3>{escape(block.text)}</h3>"
    if isinstance(block, Listing):
        return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Preformatted):
        return f"<h3>{escape(block.title)}</h3><pre>{escape(block.text)}</pre>"
    return f"<figure>{block.svg}</figure>"


def render_html(summary: DrillSummary, lang: str) -> str:
    """The report of ``summary`` as one self-contained HTML page in ``lang`` ("vi" or "en").

    No script and no external resource: the CSS and the two SVG charts are inline, and the
    page prints on A4. Raise ValueError for another language.
    """
    document = build_document(summary, lang)
    tone = "good" if document.passed else "bad"
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{document.lang}">',
        '<head><meta charset="utf-8"/>',
        f"<title>{escape(document.title)}: {escape(document.subtitle)}</title>",
        f"<style>{STYLE}</style></head>",
        "<body><header>",
        f"<h1>{escape(document.title)}</h1>",
        f'<p class="subtitle">{escape(document.subtitle)}</p>',
        f'<div class="verdict {tone}">{escape(document.verdict)}</div>',
        *(_html_block(paragraph) for paragraph in document.preamble),
        "</header>",
    ]
    for section in document.sections:
        parts.append(f"<section><h2>{escape(section.title)}</h2>")
        parts += [_html_block(block) for block in section.blocks]
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"

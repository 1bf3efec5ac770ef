"""The evaluation report as a PDF: the Word report's own content laid out with fpdf2 (pure Python).

The PDF is made from the python-docx ``Document`` that ``planner.io.report.build_report`` builds, in
its order: the title and headings, every paragraph and list item, every table and every drawing.
So the two files hold the same content by construction. The Chinese text needs a CJK font, the one
the report's drawings use (``report.cjk_font``: Noto Sans CJK from Debian's fonts-noto-cjk, which
``bash run.sh`` installs); the font is embedded (subset) so the PDF reads anywhere. Without such a
font no PDF is made: a PlannerError says what to install (the Word report still works).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from planner.errors import PlannerError

FAMILY = "cjk"
SIZES = {"Title": 18.0, "Heading 1": 14.0, "Heading 2": 12.0}
BODY_SIZE = 10.5
TABLE_SIZE = 8.0


def collection_index(font_path: str) -> int:
    """The Simplified Chinese face of a font collection (.ttc/.otc; ``SC`` in its family name),
    else its first face; 0 for a single font file."""
    if not font_path.lower().endswith((".ttc", ".otc")):
        return 0
    from fontTools.ttLib import TTCollection

    with TTCollection(font_path, lazy=True) as collection:
        for i, font in enumerate(collection.fonts):
            family = str(font["name"].getDebugName(1) or "")
            if family.endswith(" SC"):
                return i
    return 0


def _font() -> str:
    from planner.io.report import cjk_font

    path = cjk_font()
    if path is None:
        raise PlannerError(
            "未找到中文字体, 无法生成 PDF; 请安装 fonts-noto-cjk (bash run.sh 会安装), 或下载 Word 版报告 / no CJK "
            "font found, so no PDF: install Debian's fonts-noto-cjk (bash run.sh does), or take the Word report"
        )
    return path


def _images(paragraph_element: Any, document: Any) -> list[bytes]:
    """The pictures of a paragraph (python-docx inline shapes) as image bytes."""
    from docx.oxml.ns import qn

    out = []
    for blip in paragraph_element.iter(qn("a:blip")):
        rid = blip.get(qn("r:embed"))
        if rid:
            out.append(document.part.related_parts[rid].blob)
    return out


def pdf_from_document(document: Any) -> bytes:
    """A python-docx ``Document`` (paragraphs, headings, lists, tables, pictures) as PDF bytes."""
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    font = _font()
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font(FAMILY, fname=font, collection_font_number=collection_index(font))
    pdf.add_page()
    numbered = 0
    for child in document.element.body.iterchildren():
        if child.tag == qn("w:p"):
            paragraph = Paragraph(child, document)
            for blob in _images(child, document):
                pdf.image(io.BytesIO(blob), w=pdf.epw)
            text = paragraph.text.strip()
            if not text:
                continue
            style = paragraph.style.name if paragraph.style is not None else ""
            numbered = numbered + 1 if style == "List Number" else 0
            prefix = {"List Bullet": "• ", "List Number": f"{numbered}. "}.get(style, "")
            size = SIZES.get(style, BODY_SIZE)
            pdf.set_font(FAMILY, size=size)
            pdf.multi_cell(0, size * 0.55, prefix + text, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5 if style in SIZES else 0.8)
        elif child.tag == qn("w:tbl"):
            numbered = 0
            pdf.set_font(FAMILY, size=TABLE_SIZE)
            with pdf.table(
                headings_style=FontFace(emphasis="", fill_color=(235, 235, 235)),
                line_height=TABLE_SIZE * 0.55,
                text_align="LEFT",
            ) as table:
                for row in Table(child, document).rows:
                    cells = table.row()
                    for cell in row.cells:
                        cells.cell(cell.text)
            pdf.ln(2)
    return bytes(pdf.output())


def write_pdf(document: Any, path: str | Path) -> Path:
    """Write ``document`` as a PDF to ``path``."""
    path = Path(path)
    path.write_bytes(pdf_from_document(document))
    return path

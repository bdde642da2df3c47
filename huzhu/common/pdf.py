"""What the PDF documents (the volunteer archive, certificates) share: the CJK font and a
canvas that knows the page count when it draws each page's footer."""

from __future__ import annotations

from typing import Any

from reportlab.lib import colors
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas as pdf_canvas

# Adobe's built-in CID font for Simplified Chinese: every PDF reader has it, nothing embedded.
FONT = "STSong-Light"
_registered = False
# Table look shared by the certificate and statement PDFs.
GRID = colors.HexColor("#bbbbbb")
HEAD_BACKGROUND = colors.HexColor("#f3f3f3")


def cjk_font() -> str:
    """The Chinese font's name, registered with reportlab on first use."""
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


class PageCountingCanvas(pdf_canvas.Canvas):
    """Holds its pages back until the document is saved, then calls ``decorate(page,
    total)`` on each — so a footer can say "page 2 of 5". Subclasses draw in ``decorate``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for page, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self.decorate(page, total)
            super().showPage()
        super().save()

    def decorate(self, page: int, total: int) -> None:
        """Draw on the page (footer, watermark); nothing by default."""

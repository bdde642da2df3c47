"""The certificate (志愿服务证明) as an A4 PDF, built with reportlab.

Everything printed comes from the snapshot frozen when the certificate was issued
(``record_services.certificate_issue``), so a later correction of a record never changes a
certificate already handed out. The only identity number printed is the masked ID number.
A QR code carries the verification address; a revoked certificate still prints, marked
已撤销 on every page. Chinese text uses the CID font registered by the archive PDF.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from huzhu.activities.models import Certificate, CertificateStatus
from huzhu.common.pdf import FONT, GRID, HEAD_BACKGROUND, PageCountingCanvas, cjk_font
from huzhu.volunteers.archive_selectors import cn_date, format_hours

PRINTABLE = (CertificateStatus.ISSUED, CertificateStatus.REVOKED)
QR_SIZE = 30 * mm
MARGIN = 20 * mm
RECORD_WIDTHS_MM = (12, 22, 54, 44, 24, 18)  # 174 mm: the page width inside the margins
REVOKED_RED = colors.HexColor("#b02a37")


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("cert", fontName=cjk_font(), fontSize=10.5, leading=16, wordWrap="CJK")
    return {
        "title": ParagraphStyle(
            "cert-title", parent=base, fontSize=22, leading=30, alignment=TA_CENTER
        ),
        "number": ParagraphStyle("cert-number", parent=base, alignment=TA_CENTER, spaceAfter=10),
        "body": ParagraphStyle(
            "cert-body", parent=base, fontSize=12, leading=22, firstLineIndent=24
        ),
        "h2": ParagraphStyle(
            "cert-h2", parent=base, fontSize=12, leading=18, spaceBefore=10, spaceAfter=4
        ),
        "cell": ParagraphStyle("cert-cell", parent=base, fontSize=9.5, leading=13),
        "right": ParagraphStyle(
            "cert-right", parent=base, fontSize=12, leading=22, alignment=TA_RIGHT
        ),
        "note": ParagraphStyle("cert-note", parent=base, fontSize=9.5, leading=14),
        "revoked": ParagraphStyle(
            "cert-revoked", parent=base, textColor=REVOKED_RED, alignment=TA_CENTER, spaceAfter=6
        ),
    }


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape("" if text is None else str(text)), style)


def _local_day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def _table(rows: list[list[Any]], widths_mm: tuple[int, ...], style: ParagraphStyle) -> Table:
    """A grid whose first row is a header repeated on every page the table runs onto."""
    table = Table(
        [[_p(cell, style) for cell in row] for row in rows],
        colWidths=[w * mm for w in widths_mm],
        repeatRows=1,
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                ("BACKGROUND", (0, 0), (-1, 0), HEAD_BACKGROUND),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _qr(url: str) -> Drawing:
    widget = QrCodeWidget(url, barLevel="M")
    left, bottom, right, top = widget.getBounds()
    drawing = Drawing(
        QR_SIZE,
        QR_SIZE,
        transform=[QR_SIZE / (right - left), 0, 0, QR_SIZE / (top - bottom), 0, 0],
    )
    drawing.add(widget)
    return drawing


def verify_page(verify_url: str) -> str:
    """The verification address without its query (short enough to type by hand)."""
    return urlsplit(verify_url)._replace(query="", fragment="").geturl()


def _page_canvas(number: str, revoked: bool) -> type[PageCountingCanvas]:
    """A canvas that holds its pages back until the end so every footer can say how many
    pages there are, and marks each page of a revoked certificate."""

    class CertificateCanvas(PageCountingCanvas):
        def decorate(self, page: int, total: int) -> None:
            width, height = A4
            self.saveState()
            self.setFont(FONT, 8.5)
            self.setFillColor(colors.grey)
            self.drawString(MARGIN, 10 * mm, _("证明编号 %(number)s") % {"number": number})
            self.drawRightString(
                width - MARGIN,
                10 * mm,
                _("第 %(n)d 页 / 共 %(total)d 页") % {"n": page, "total": total},
            )
            if revoked:
                self.setFillColor(colors.Color(0.69, 0.16, 0.22, alpha=0.18))
                self.setFont(FONT, 96)
                self.translate(width / 2, height / 2)
                self.rotate(35)
                self.drawCentredString(0, -30, _("已撤销"))
            self.restoreState()

    return CertificateCanvas


def _certifying_sentence(certificate: Certificate, snapshot: dict[str, Any]) -> str:
    period = _("%(start)s至%(end)s") % {
        "start": cn_date(certificate.period_from),
        "end": cn_date(certificate.period_to),
    }
    return _(
        "兹证明%(name)s（志愿者编号 %(number)s，身份证号 %(id)s）于%(period)s期间在"
        "%(org)s参加志愿服务，累计服务时长 %(hours)s 小时，共 %(count)d 次。特此证明。"
    ) % {
        "name": snapshot.get("name", ""),
        "number": snapshot.get("volunteer_number", ""),
        "id": snapshot.get("id_masked", ""),
        "period": period,
        "org": snapshot.get("org_name", ""),
        "hours": certificate.total_hours,
        "count": certificate.record_count,
    }


def _revoked_notice(certificate: Certificate, styles: dict[str, ParagraphStyle]) -> list[Any]:
    if certificate.status != CertificateStatus.REVOKED:
        return []
    day = cn_date(_local_day(certificate.revoked_at)) if certificate.revoked_at else ""
    text = _("本证明已于%(date)s撤销，不再具有证明效力。") % {"date": day}
    if certificate.decision_reason:
        text += _("撤销原因：%(reason)s") % {"reason": certificate.decision_reason}
    return [_p(text, styles["revoked"])]


def _categories_table(
    certificate: Certificate, snapshot: dict[str, Any], style: ParagraphStyle
) -> Table:
    rows: list[list[Any]] = [[_("服务类别"), _("服务时长（小时）")]]
    rows += [[name, format_hours(minutes)] for name, minutes in snapshot.get("categories", [])]
    rows.append([_("合计"), certificate.total_hours])
    return _table(rows, (87, 87), style)


def _records_table(snapshot: dict[str, Any], style: ParagraphStyle) -> Table:
    rows: list[list[Any]] = [
        [_("序号"), _("服务日期"), _("服务内容"), _("服务地点"), _("服务类别"), _("时长（小时）")]
    ]
    rows += [
        [n, r["date"], r["content"], r["place"], r["category"], r["hours"]]
        for n, r in enumerate(snapshot.get("records", []), start=1)
    ]
    return _table(rows, RECORD_WIDTHS_MM, style)


def _closing(
    certificate: Certificate,
    snapshot: dict[str, Any],
    verify_url: str,
    styles: dict[str, ParagraphStyle],
) -> KeepTogether:
    """Issuer, issue date, the free-of-charge note and the verification block, kept on one
    page."""
    issued = cn_date(_local_day(certificate.issued_at)) if certificate.issued_at else ""
    verification = Table(
        [
            [
                _qr(verify_url),
                [
                    _p(_("本证明免费出具。"), styles["note"]),
                    Spacer(1, 2 * mm),
                    _p(
                        _("验证码 %(code)s；扫描二维码或访问 %(page)s 核验真伪")
                        % {
                            "code": snapshot.get("verify_code", ""),
                            "page": verify_page(verify_url),
                        },
                        styles["note"],
                    ),
                ],
            ]
        ],
        colWidths=[QR_SIZE + 4 * mm, 174 * mm - QR_SIZE - 4 * mm],
    )
    verification.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (0, 0), 0),
            ]
        )
    )
    return KeepTogether(
        [
            Spacer(1, 8 * mm),
            _p(
                _("出具单位（盖章）：%(org)s") % {"org": snapshot.get("org_name", "")},
                styles["right"],
            ),
            _p(_("出具日期：%(date)s") % {"date": issued}, styles["right"]),
            Spacer(1, 6 * mm),
            verification,
        ]
    )


def render_certificate_pdf(certificate: Certificate, verify_url: str) -> bytes:
    """The printable certificate of an issued (or revoked) ``certificate``; ``verify_url``
    is the public verification address the QR code encodes."""
    if certificate.status not in PRINTABLE or not certificate.number:
        raise ValueError("only an issued or revoked certificate can be printed")
    snapshot = certificate.snapshot
    styles = _styles()
    story: list[Any] = [
        _p(_("志愿服务证明"), styles["title"]),
        _p(_("证明编号：%(number)s") % {"number": certificate.number}, styles["number"]),
        *_revoked_notice(certificate, styles),
        _p(_certifying_sentence(certificate, snapshot), styles["body"]),
    ]
    if certificate.purpose:
        story.append(
            _p(_("证明用途：%(purpose)s") % {"purpose": certificate.purpose}, styles["body"])
        )
    story += [
        _p(_("一、服务时长（按服务类别）"), styles["h2"]),
        _categories_table(certificate, snapshot, styles["cell"]),
        _p(_("二、服务明细"), styles["h2"]),
        _records_table(snapshot, styles["cell"]),
        _closing(certificate, snapshot, verify_url, styles),
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=18 * mm,
        bottomMargin=20 * mm,
        title=_("志愿服务证明 %(number)s") % {"number": certificate.number},
        author=snapshot.get("org_name", ""),
        subject=_("志愿服务证明"),
        creator="Huzhu",
    )
    revoked = certificate.status == CertificateStatus.REVOKED
    document.build(story, canvasmaker=_page_canvas(certificate.number, revoked))
    return buffer.getvalue()

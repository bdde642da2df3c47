"""The printable certificate: read back from the PDF's own content streams (no PDF reader is
a dependency). Page content is ASCII85 + Flate encoded; Chinese text is UTF-16BE strings."""

import base64
import datetime as dt
import re
import zlib

import pytest
from django.utils import timezone
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing

from huzhu.activities.certificate_pdf import render_certificate_pdf
from huzhu.activities.models import Certificate, CertificateStatus
from huzhu.activities.record_services import (
    RecordInput,
    certificate_apply,
    certificate_issue,
    certificate_revoke,
    record_enter,
)
from huzhu.volunteers.archive_selectors import cn_date
from tests.activities.factories import SYSTEM, category, make_volunteer

pytestmark = pytest.mark.django_db

VERIFY_URL = "https://huzhu.example/activities/verify/?number=N&code=C"
VERIFY_PAGE = "https://huzhu.example/activities/verify/"

_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)
_STRING = re.compile(rb"\(((?:[^\\()]|\\.)*)\)\s*Tj", re.S)
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)
_SIMPLE = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
_FILLED_RECT = re.compile(rb"n ([-\d. ]+) re f\*")


def _unescape(literal: bytes) -> bytes:
    def one(match: re.Match) -> bytes:
        code = match.group(1)
        if code[:1].isdigit():
            return bytes([int(code, 8)])
        return _SIMPLE.get(code, code)

    return _ESCAPE.sub(one, literal)


def _streams(pdf: bytes) -> list[bytes]:
    return [
        zlib.decompress(base64.a85decode(m.group(1).strip(), adobe=True))
        for m in _STREAM.finditer(pdf)
    ]


def page_texts(pdf: bytes) -> list[str]:
    """The text shown on each page, in drawing order, spaces removed (line breaks may fall
    on a space)."""
    return [
        "".join(_unescape(s).decode("utf_16_be") for s in _STRING.findall(stream)).replace(" ", "")
        for stream in _streams(pdf)
    ]


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page[^s]", pdf))


def info(pdf: bytes, key: bytes) -> str:
    literal = re.search(rb"/" + key + rb" \(((?:[^\\()]|\\.)*)\)", pdf).group(1)
    raw = _unescape(literal)
    return raw[2:].decode("utf_16_be") if raw.startswith(b"\xfe\xff") else raw.decode()


def qr_rects(url: str) -> list[bytes]:
    """The filled modules reportlab draws for ``url`` (level M), in drawing order."""
    widget = QrCodeWidget(url, barLevel="M")
    left, bottom, right, top = widget.getBounds()
    drawing = Drawing(right - left, top - bottom)
    drawing.add(widget)
    [stream] = _streams(renderPDF.drawToString(drawing))
    rects = _FILLED_RECT.findall(stream)
    assert len(rects) > 50
    return rects


def contains_run(haystack: list[bytes], needle: list[bytes]) -> bool:
    return any(
        haystack[i : i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1)
    )


def issued_certificate(city, days: int = 2, name: str = "王一") -> Certificate:
    volunteer = make_volunteer(city.grid_a, name)
    today = timezone.localdate()
    categories = [category("社区服务"), category("环境保护")]
    for n in range(days):
        record_enter(
            actor=None,
            scope=SYSTEM,
            volunteer=volunteer,
            org=city.community_a,
            data=RecordInput(
                served_on=today - dt.timedelta(days=days - n),
                minutes=90 if n % 2 == 0 else 60,
                content=f"陪伴独居老人第{n + 1}次",
                place="甲社区活动室",
                category=categories[n % 2],
            ),
            confirm=True,
        )
    certificate = certificate_apply(
        actor=None,
        volunteer=volunteer,
        org=city.community_a,
        period_from=today - dt.timedelta(days=days),
        period_to=today - dt.timedelta(days=1),
        purpose="升学",
    )
    return certificate_issue(actor=None, scope=SYSTEM, certificate=certificate)


def test_issued_certificate_prints_what_was_certified(city):
    certificate = issued_certificate(city)
    snapshot = certificate.snapshot
    today = timezone.localdate()
    first, second = today - dt.timedelta(days=2), today - dt.timedelta(days=1)
    volunteer = certificate.volunteer

    pdf = render_certificate_pdf(certificate, VERIFY_URL)

    assert pdf.startswith(b"%PDF")
    assert page_count(pdf) == 1
    [text] = page_texts(pdf)
    expected = [
        "志愿服务证明",
        f"证明编号：{certificate.number}",
        f"兹证明王一（志愿者编号{volunteer.number}，身份证号{snapshot['id_masked']}）"
        f"于{cn_date(first)}至{cn_date(second)}期间在甲社区参加志愿服务，"
        "累计服务时长2.5小时，共2次。特此证明。",
        "证明用途：升学",
        "一、服务时长（按服务类别）",
        "服务类别服务时长（小时）社区服务1.5环境保护1合计2.5",
        "二、服务明细",
        "序号服务日期服务内容服务地点服务类别时长（小时）",
        f"1{first.isoformat()}陪伴独居老人第1次甲社区活动室社区服务1.5",
        f"2{second.isoformat()}陪伴独居老人第2次甲社区活动室环境保护1",
        "出具单位（盖章）：甲社区",
        f"出具日期：{cn_date(timezone.localtime(certificate.issued_at).date())}",
        "本证明免费出具。",
        f"验证码{snapshot['verify_code']}；扫描二维码或访问{VERIFY_PAGE}核验真伪",
        f"证明编号{certificate.number}第1页/共1页",
    ]
    position = 0
    for part in expected:  # all there, in reading order
        found = text.find(part, position)
        assert found >= 0, part
        position = found + len(part)
    assert "已撤销" not in text
    # Only the masked ID number; neither the full number nor the phone.
    person = volunteer.person
    assert snapshot["id_masked"] == person.id_number_masked
    assert person.id_number not in text and person.phone not in text
    assert person.id_number.encode() not in pdf
    assert info(pdf, b"Title") == f"志愿服务证明 {certificate.number}"
    assert info(pdf, b"Author") == "甲社区"


def test_qr_code_encodes_the_verification_address(city):
    certificate = issued_certificate(city)

    [stream] = _streams(render_certificate_pdf(certificate, VERIFY_URL))

    drawn = _FILLED_RECT.findall(stream)
    assert contains_run(drawn, qr_rects(VERIFY_URL))
    assert not contains_run(drawn, qr_rects("https://huzhu.example/other/"))


def test_long_service_list_runs_over_pages_with_the_header_repeated(city):
    certificate = issued_certificate(city, days=200)
    assert certificate.record_count == 200

    pdf = render_certificate_pdf(certificate, VERIFY_URL)

    pages = page_count(pdf)
    texts = page_texts(pdf)
    assert pages == len(texts) >= 5
    header = "序号服务日期服务内容服务地点服务类别时长（小时）"
    assert [text.count(header) for text in texts] == [1] * pages
    assert [text.endswith(f"第{n}页/共{pages}页") for n, text in enumerate(texts, 1)] == [
        True
    ] * pages
    whole = "".join(texts)
    assert [whole.count(f"陪伴独居老人第{n}次") for n in range(1, 201)] == [1] * 200
    assert whole.count("验证码") == 1
    assert "本证明免费出具。" in texts[-1]


def test_revoked_certificate_still_prints_marked_revoked(city):
    certificate = issued_certificate(city)
    certificate = certificate_revoke(
        actor=None, scope=SYSTEM, certificate=certificate, reason="服务记录有误"
    )
    assert certificate.status == CertificateStatus.REVOKED
    revoked_on = cn_date(timezone.localtime(certificate.revoked_at).date())

    [text] = page_texts(render_certificate_pdf(certificate, VERIFY_URL))

    assert f"本证明已于{revoked_on}撤销，不再具有证明效力。撤销原因：服务记录有误" in text
    assert text.endswith("第1页/共1页已撤销")  # the watermark, drawn over the page
    assert f"证明编号：{certificate.number}" in text


def test_a_certificate_not_yet_issued_is_not_printed(city):
    issued = issued_certificate(city)
    applied = Certificate.objects.create(
        volunteer=issued.volunteer,
        org=issued.org,
        period_from=issued.period_from,
        period_to=issued.period_to,
    )
    with pytest.raises(ValueError):
        render_certificate_pdf(applied, VERIFY_URL)

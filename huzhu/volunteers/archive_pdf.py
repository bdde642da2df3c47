"""The printable archive (志愿者档案) as a PDF, built with reportlab.

Chinese text uses reportlab's built-in CID font STSong-Light (Adobe-GB1), which PDF readers
supply themselves, so no font file ships with Huzhu. Identity numbers appear masked only.
Every page carries a footer naming who printed it and when, and "第 x 页 / 共 y 页".
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from huzhu.common.pdf import FONT, PageCountingCanvas, cjk_font
from huzhu.volunteers.archive_selectors import Archive, format_hours, star_label
from huzhu.volunteers.availability import describe


def _styles() -> dict[str, ParagraphStyle]:
    font = cjk_font()
    base = ParagraphStyle("hz", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK")
    return {
        "title": ParagraphStyle(
            "hz-title", parent=base, fontSize=18, leading=24, alignment=TA_CENTER, spaceAfter=4
        ),
        "subtitle": ParagraphStyle(
            "hz-subtitle", parent=base, alignment=TA_CENTER, textColor=colors.grey, spaceAfter=8
        ),
        "h2": ParagraphStyle(
            "hz-h2", parent=base, fontSize=12.5, leading=18, spaceBefore=10, spaceAfter=4
        ),
        "cell": base,
        "head": ParagraphStyle("hz-head", parent=base, textColor=colors.HexColor("#58151c")),
        "note": ParagraphStyle("hz-note", parent=base, textColor=colors.grey, fontSize=8.5),
    }


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape("" if text is None else str(text)).replace("\n", "<br/>"), style)


def _d(day: dt.date | dt.datetime | None) -> str:
    if day is None:
        return "—"
    if isinstance(day, dt.datetime):
        day = timezone.localtime(day).date()
    return day.isoformat()


def _table(
    header: list[str], rows: list[list[Any]], widths: list[float], styles: dict
) -> Table | Paragraph:
    if not rows:
        return _p(_("（无）"), styles["note"])
    data = [[_p(h, styles["head"]) for h in header]]
    data += [[_p(cell, styles["cell"]) for cell in row] for row in rows]
    table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#bbbbbb")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f8d7da")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _footer_canvas(printed_by: str, printed_at: str) -> type[PageCountingCanvas]:
    """A canvas that holds its pages back until the end, so each footer can say how many
    pages there are."""

    class FooterCanvas(PageCountingCanvas):
        def decorate(self, number: int, total: int) -> None:
            width, _height = A4
            self.saveState()
            self.setFont(FONT, 8)
            self.setFillColor(colors.grey)
            self.drawString(
                18 * mm,
                10 * mm,
                _("打印人 %(user)s  %(time)s") % {"user": printed_by, "time": printed_at},
            )
            self.drawRightString(
                width - 18 * mm,
                10 * mm,
                _("第 %(n)d 页 / 共 %(total)d 页") % {"n": number, "total": total},
            )
            # A faint watermark with the printing user (DESIGN.md §3: exports are watermarked).
            self.setFillColor(colors.Color(0.85, 0.2, 0.25, alpha=0.07))
            self.setFont(FONT, 28)
            self.translate(width / 2, A4[1] / 2)
            self.rotate(35)
            self.drawCentredString(0, 0, _("%(user)s 打印 仅供工作使用") % {"user": printed_by})
            self.restoreState()

    return FooterCanvas


def _service_record_flowables(archive: Archive, styles: dict) -> list[Any]:
    """The newest confirmed service records as a table that splits across pages with its
    header repeated, and a note when older records are left out."""
    if not archive.service_records:
        return [_p(_("暂无已确认的服务记录。"), styles["note"])]
    table = _table(
        [_("服务日期"), _("服务内容"), _("服务地点"), _("时长（小时）"), _("记录单位")],
        [
            [_d(r.served_on), r.content, r.place, r.hours, r.org.name]
            for r in archive.service_records
        ],
        [24, 58, 40, 22, 30],
        styles,
    )
    flowables: list[Any] = [table]
    if archive.service_records_truncated:
        note = _("仅显示最近 %(shown)d 条，共 %(total)d 条") % {
            "shown": len(archive.service_records),
            "total": archive.service_record_count,
        }
        flowables += [Spacer(1, 1.5 * mm), _p(note, styles["note"])]
    return flowables


def render_archive_pdf(archive: Archive, *, printed_by: str, printed_at: dt.datetime) -> bytes:
    styles = _styles()
    volunteer = archive.volunteer
    person = volunteer.person
    story: list[Any] = [
        _p(_("志愿者档案"), styles["title"]),
        _p(
            _("%(name)s　志愿者编号 %(number)s")
            % {"name": person.name, "number": volunteer.number},
            styles["subtitle"],
        ),
    ]

    def section(title: str, *flowables: Any) -> None:
        story.append(KeepTogether([_p(title, styles["h2"]), *flowables[:1]]))
        story.extend(flowables[1:])

    identity = [
        [_("姓名"), person.name, _("志愿者编号"), volunteer.number],
        [_("身份证号"), person.id_number_masked, _("手机号"), person.phone_masked or "—"],
        [
            _("性别"),
            person.get_gender_display(),
            _("年龄"),
            _("%(age)d 岁") % {"age": archive.age},
        ],
        [
            _("政治面貌"),
            volunteer.get_political_status_display(),
            _("注册状态"),
            volunteer.get_status_display(),
        ],
        [_("所属社区"), volunteer.org.name, _("登记时间"), _d(volunteer.registered_at)],
        [
            _("技能特长"),
            "、".join(archive.skills) or "—",
            _("服务类别"),
            "、".join(archive.categories) or "—",
        ],
        [
            _("服务对象"),
            "、".join(archive.served_groups) or "—",
            _("可服务时间"),
            describe(volunteer.availability) or "—",
        ],
    ]
    identity_table = Table(
        [[_p(c, styles["cell"]) for c in row] for row in identity],
        colWidths=[22 * mm, 63 * mm, 22 * mm, 67 * mm],
    )
    identity_table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#bbbbbb")),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f3f3f3")),
                ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#f3f3f3")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    section(_("一、个人信息"), identity_table)

    section(
        _("二、注册记录"),
        _table(
            [_("时间"), _("原状态"), _("新状态"), _("原因"), _("办理人")],
            [
                [
                    _d(c.created_at),
                    c.get_from_status_display() or "—",
                    c.get_to_status_display(),
                    c.reason or "—",
                    c.actor_label or "—",
                ]
                for c in archive.status_changes
            ],
            [28, 22, 22, 70, 32],
            styles,
        ),
    )

    teams = archive.current_teams + archive.past_teams
    section(
        _("三、服务队"),
        _table(
            [_("服务队"), _("所属总队"), _("职务"), _("加入日期"), _("退出日期")],
            [
                [
                    m.team.name,
                    m.team.parent.name if m.team.parent else "—",
                    m.get_role_display(),
                    _d(m.joined_on),
                    _d(m.left_on) if m.left_on else _("在队"),
                ]
                for m in teams
            ],
            [48, 48, 20, 29, 29],
            styles,
        ),
    )

    section(
        _("四、培训记录"),
        _table(
            [_("课程"), _("日期"), _("学时（小时）"), _("出勤"), _("考核")],
            [
                [
                    a.session.course.name,
                    _d(a.session.starts_at),
                    a.hours,
                    _("出勤") if a.attended else _("缺勤"),
                    _("合格") if a.passed else _("不合格"),
                ]
                for a in archive.training
            ],
            [70, 28, 26, 25, 25],
            styles,
        ),
        Spacer(1, 1.5 * mm),
        _p(_("培训累计 %(h)s 小时") % {"h": archive.training_hours}, styles["note"]),
    )
    section(
        _("五、资格证书"),
        _table(
            [_("证书"), _("编号"), _("发证机构"), _("发证日期"), _("有效期至"), _("状态")],
            [
                [
                    q.kind.name,
                    q.certificate_no or "—",
                    q.issuer or "—",
                    _d(q.issued_on),
                    _d(q.expires_on) if q.expires_on else _("长期"),
                    q.state_label,
                ]
                for q in archive.qualifications
            ],
            [32, 32, 36, 25, 25, 24],
            styles,
        ),
    )

    hours = archive.hours
    hour_rows: list[list[Any]] = [
        [_("%(y)d年") % {"y": year}, format_hours(minutes)] for year, minutes in hours.by_year
    ]
    if hours.historical_minutes:
        hour_rows.append([_("导入的历史时长"), format_hours(hours.historical_minutes)])
    hour_rows.append([_("合计"), format_hours(hours.total_minutes)])
    category_rows = [[name, format_hours(minutes)] for name, minutes in hours.by_category]
    hour_tables: list[Any] = [_table([_("年度"), _("时长（小时）")], hour_rows, [87, 87], styles)]
    if category_rows:
        hour_tables += [
            Spacer(1, 3 * mm),
            _table([_("服务类别"), _("时长（小时）")], category_rows, [87, 87], styles),
        ]
    hour_tables.append(_p(_("导入的历史时长来自纸质名册，没有年度和类别。"), styles["note"]))
    section(_("六、服务时长"), *hour_tables)
    section(_("七、服务记录"), *_service_record_flowables(archive, styles))

    section(
        _("八、荣誉"),
        _table(
            [_("荣誉名称"), _("级别"), _("授予单位"), _("授予日期")],
            [
                [h.title, h.get_level_display(), h.awarded_by, _d(h.awarded_on)]
                for h in archive.honours
            ],
            [68, 22, 56, 28],
            styles,
        ),
    )

    star = archive.star
    star_lines = [
        _("当前星级：%(s)s") % {"s": star_label(star.level) if star.level else _("未认定")},
        _("累计服务时长：%(h)s 小时") % {"h": format_hours(star.recorded_minutes)},
    ]
    if star.barred:
        star_lines.append(_("限制申请星级认定至 %(d)s") % {"d": _d(star.barred_until)})
    section(
        _("九、星级认定"),
        _p("　".join(star_lines), styles["cell"]),
        Spacer(1, 2 * mm),
        _table(
            [_("申请星级"), _("申请时间"), _("申请时时长"), _("公示期"), _("状态"), _("说明")],
            [
                [
                    star_label(a.level),
                    _d(a.applied_at),
                    _("%(h)s 小时") % {"h": format_hours(a.minutes_at_application)},
                    (
                        f"{_d(a.publicity_starts_on)} ~ {_d(a.publicity_ends_on)}"
                        if a.publicity_starts_on
                        else "—"
                    ),
                    a.get_status_display(),
                    a.decision_reason or "—",
                ]
                for a in archive.star_applications
            ],
            [20, 24, 24, 44, 20, 42],
            styles,
        ),
    )

    section(
        _("十、评价"),
        _table(
            [_("年度"), _("评价组织"), _("等级"), _("评语")],
            [
                [str(e.year), e.org.name, e.get_grade_display(), e.comment or "—"]
                for e in archive.evaluations
            ],
            [18, 48, 20, 88],
            styles,
        ),
    )

    buffer = io.BytesIO()
    stamp = timezone.localtime(printed_at).strftime("%Y-%m-%d %H:%M")
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=_("志愿者档案 %(number)s") % {"number": volunteer.number},
        author=printed_by,
        creator="Huzhu",
    )
    document.build(story, canvasmaker=_footer_canvas(printed_by, stamp))
    return buffer.getvalue()

"""Volunteers over the API: search, one registration, worker entry, profile changes, review
(approve / reject / suspend / resume / cancel), the caller's own registration and the
classification lists.

The person is shown masked only (``id_number_masked``, ``phone_masked``; the guardian's
phone as ``guardian_phone_masked``); the full numbers come from ``POST /people/{id}/reveal``
alone. Every write goes through ``volunteers.services``.
"""

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import Model, Prefetch, QuerySet
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from huzhu.api.helpers import active_items, by_sort_order, missing_as_invalid, user_name
from huzhu.api.pagination import Pagination
from huzhu.api.types import (
    ErrorOut,
    NamedOut,
    ObjectId,
    Text20,
    Text30,
    Text50,
    Text200,
    Text2000,
    ValidationErrorOut,
)
from huzhu.orgs.models import Org
from huzhu.orgs.selectors import org_get
from huzhu.volunteers.availability import SLOTS, describe, from_mask, slot_label, to_mask
from huzhu.volunteers.models import (
    PoliticalStatus,
    QualificationType,
    RegistrationSource,
    ServedGroup,
    ServiceCategory,
    Skill,
    TeamMembership,
    Volunteer,
    VolunteerStatus,
)
from huzhu.volunteers.selectors import (
    SORTS,
    VolunteerFilters,
    volunteer_for_person,
    volunteer_get,
    volunteer_list,
)
from huzhu.volunteers.services import (
    RegistrationInput,
    volunteer_register,
    volunteer_set_status,
    volunteer_update,
)

router = Router(tags=["志愿者"])

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}

SlotCode = Literal[SLOTS]  # type: ignore[valid-type]  # mon_am … sun_eve
SortKey = Literal[tuple(SORTS)]  # type: ignore[valid-type]
ReviewStatus = Literal["registered", "rejected", "suspended", "cancelled"]


# --- output -------------------------------------------------------------------------------


class SkillOut(NamedOut):
    is_curated: bool


class VolunteerPersonOut(Schema):
    """The registered person, masked: no full numbers and no birth date."""

    id: int
    name: str
    gender: str
    age: int
    id_number_masked: str
    phone_masked: str


class TeamOut(Schema):
    team_id: int
    team_name: str
    role: str
    role_label: str
    joined_on: dt.date

    @staticmethod
    def resolve_team_name(obj: TeamMembership) -> str:
        return obj.team.name

    @staticmethod
    def resolve_role_label(obj: TeamMembership) -> str:
        return str(obj.get_role_display())


class VolunteerOut(Schema):
    id: int
    number: str
    status: str
    status_label: str
    status_reason: str
    source: str
    source_label: str
    person: VolunteerPersonOut
    org_id: int
    org_name: str
    political_status: str
    political_status_label: str
    skills: list[SkillOut]
    categories: list[NamedOut]
    served_groups: list[NamedOut]
    availability: list[str] = Field(description="可服务时段代码，如 sat_am")
    availability_label: str
    publish_name: bool
    guardian_name: str
    guardian_phone_masked: str
    guardian_consent_at: dt.datetime | None
    historical_minutes: int
    recorded_minutes: int
    star_level: int
    teams: list[TeamOut]
    approved_by: str | None
    approved_at: dt.datetime | None
    notes: str
    registered_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_status_label(obj: Volunteer) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_source_label(obj: Volunteer) -> str:
        return str(obj.get_source_display())

    @staticmethod
    def resolve_org_name(obj: Volunteer) -> str:
        return obj.org.name

    @staticmethod
    def resolve_political_status_label(obj: Volunteer) -> str:
        return str(obj.get_political_status_display())

    @staticmethod
    def resolve_skills(obj: Volunteer) -> list[Skill]:
        return by_sort_order(obj.skills.all())

    @staticmethod
    def resolve_categories(obj: Volunteer) -> list[ServiceCategory]:
        return by_sort_order(obj.categories.all())

    @staticmethod
    def resolve_served_groups(obj: Volunteer) -> list[ServedGroup]:
        return by_sort_order(obj.served_groups.all())

    @staticmethod
    def resolve_availability(obj: Volunteer) -> list[str]:
        return from_mask(obj.availability)

    @staticmethod
    def resolve_availability_label(obj: Volunteer) -> str:
        return describe(obj.availability)

    @staticmethod
    def resolve_teams(obj: Volunteer) -> list[TeamMembership]:
        return list(obj.memberships.all())  # active ones, prefetched by _with_details

    @staticmethod
    def resolve_approved_by(obj: Volunteer) -> str | None:
        return user_name(obj.approved_by)


class VolunteerCreatedOut(VolunteerOut):
    existing: bool = Field(description="true：此人已注册，返回的是已有记录，未新建")


class SlotOut(Schema):
    code: str
    label: str


class ChoiceOut(Schema):
    value: str
    label: str


class QualificationTypeOut(NamedOut):
    validity_months: int | None


class ClassificationOut(Schema):
    categories: list[NamedOut]
    served_groups: list[NamedOut]
    skills: list[NamedOut] = Field(description="常用技能（也可填写自定义技能）")
    qualification_types: list[QualificationTypeOut]
    slots: list[SlotOut]
    political_statuses: list[ChoiceOut]
    statuses: list[ChoiceOut]


# --- input --------------------------------------------------------------------------------


class VolunteerQuery(Schema):
    q: Text50 = Field("", description="姓名、拼音首字母、全拼、志愿者编号或身份证号末四位")
    org_id: ObjectId | None = Field(None, description="只列出此组织（含下级）的志愿者")
    status: VolunteerStatus | None = Field(None, description="注册状态")
    skill: list[ObjectId] = Field([], description="技能 id，可重复（任一）")
    category: list[ObjectId] = Field([], description="服务类别 id，可重复（任一）")
    served_group: list[ObjectId] = Field([], description="服务对象 id，可重复（任一）")
    slot: list[SlotCode] = Field([], description="可服务时段，可重复（全部满足），如 sat_am")
    qualification_type: ObjectId | None = Field(None, description="持有有效的此类资格证书")
    min_star: int | None = Field(None, ge=1, le=5, description="最低星级")
    political_status: PoliticalStatus | None = Field(None, description="政治面貌")
    min_age: int | None = Field(None, ge=0, le=150, description="最小年龄（周岁）")
    max_age: int | None = Field(None, ge=0, le=150, description="最大年龄（周岁）")
    team_id: ObjectId | None = Field(None, description="服务队 id：只列出该队在队成员")
    sort: SortKey = Field(
        "number", description="排序：number、name、hours、star、registered、age，前加 - 为倒序"
    )


class VolunteerIn(Schema):
    org_id: ObjectId = Field(description="所在社区或网格")
    name: Text50
    id_number: Text30 = Field(description="18位身份证号（或15位旧号码）")
    phone: Text30 = ""
    address: Text200 = ""
    political_status: Text20 = PoliticalStatus.MASSES.value
    skill_ids: list[ObjectId] = Field([], description="技能 id")
    skill_names: list[Text30] = Field([], description="技能名称；不在列表中的作为自定义技能")
    category_ids: list[ObjectId] = []
    served_group_ids: list[ObjectId] = []
    availability: list[SlotCode] = Field([], description="可服务时段代码")
    publish_name: bool = False
    guardian_name: Text50 = ""
    guardian_phone: Text30 = ""
    guardian_consent: bool = False
    historical_minutes: int = Field(0, ge=0, le=10_000_000, description="历史服务时长（分钟）")
    notes: Text2000 = ""


class VolunteerPatch(Schema):
    """Only the fields sent are changed. ``skill_ids`` and ``skill_names`` together replace
    the skills: sending either one replaces all of them."""

    org_id: ObjectId | None = None
    political_status: Text20 | None = None
    skill_ids: list[ObjectId] | None = None
    skill_names: list[Text30] | None = None
    category_ids: list[ObjectId] | None = None
    served_group_ids: list[ObjectId] | None = None
    availability: list[SlotCode] | None = None
    publish_name: bool | None = None
    notes: Text2000 | None = None
    historical_minutes: int | None = Field(None, ge=0, le=10_000_000)


class StatusIn(Schema):
    status: ReviewStatus | None = Field(
        None, description="registered（通过/恢复）、rejected、suspended、cancelled"
    )
    reason: Text200 = Field("", description="原因（不通过、暂停、注销时必填）")


# --- helpers ------------------------------------------------------------------------------


def _with_details(qs: QuerySet[Volunteer]) -> QuerySet[Volunteer]:
    """Everything the output needs in a fixed number of queries, whatever the page size."""
    return qs.select_related("person", "org", "approved_by").prefetch_related(
        "skills",
        "categories",
        "served_groups",
        Prefetch(
            "memberships",
            queryset=TeamMembership.objects.filter(left_on__isnull=True)
            .select_related("team")
            .order_by("joined_on", "id"),
        ),
    )


def _detail(volunteer: Volunteer) -> Volunteer:
    return _with_details(Volunteer.objects.filter(pk=volunteer.pk)).get()


def _visible(request: HttpRequest, volunteer_id: int) -> Volunteer:
    return volunteer_get(scope=request.scope, volunteer_id=volunteer_id)


def _residence(request: HttpRequest, org_id: int) -> Org:
    with missing_as_invalid("org_id", _("请选择您有权登记的社区或网格")):
        return org_get(scope=request.scope, org_id=org_id)


def _skills(ids: list[int], names: list[str]) -> list[Skill | str]:
    message = _("技能不存在或已停用：%(ids)s")
    found: list[Skill | str] = active_items(Skill, ids, "skill_ids", message)
    return [*found, *(n for n in names if n.strip())]


def _categories(ids: list[int]) -> list[ServiceCategory]:
    message = _("服务类别不存在或已停用：%(ids)s")
    return active_items(ServiceCategory, ids, "category_ids", message)


def _served_groups(ids: list[int]) -> list[ServedGroup]:
    message = _("服务对象不存在或已停用：%(ids)s")
    return active_items(ServedGroup, ids, "served_group_ids", message)


# --- routes -------------------------------------------------------------------------------
# The fixed paths (/me, /classification) come before /{volunteer_id}. The teams and training
# router (huzhu/volunteers/api_training.py) shares the /volunteers prefix and is mounted
# before this one, so /volunteers/teams… reaches it first.


@router.get("/me", response={200: VolunteerOut, **ERRORS}, summary="我的志愿者注册信息")
def my_registration(request: HttpRequest) -> Any:
    volunteer = volunteer_for_person(person_id=request.scope.person_id)
    if volunteer is None:
        raise Http404
    return _detail(volunteer)


@router.get(
    "/classification",
    response={200: ClassificationOut, 401: ErrorOut},
    summary="分类目录：服务类别、服务对象、常用技能、证书类型、服务时段",
)
def classification(request: HttpRequest) -> Any:
    def active(model: type[Model]) -> QuerySet:
        return model.objects.filter(is_active=True).order_by("sort_order", "id")

    return {
        "categories": active(ServiceCategory),
        "served_groups": active(ServedGroup),
        "skills": active(Skill).filter(is_curated=True),
        "qualification_types": active(QualificationType),
        "slots": [{"code": code, "label": slot_label(code)} for code in SLOTS],
        "political_statuses": [
            {"value": v, "label": str(label)} for v, label in PoliticalStatus.choices
        ],
        "statuses": [{"value": v, "label": str(label)} for v, label in VolunteerStatus.choices],
    }


@router.get("", response=list[VolunteerOut], summary="志愿者列表（查找与筛选）")
@paginate(Pagination)
def list_volunteers(request: HttpRequest, filters: Query[VolunteerQuery]) -> Any:
    scope = request.scope

    def org(org_id: int | None) -> Org | None:
        return org_get(scope=scope, org_id=org_id) if org_id else None

    if (
        filters.min_age is not None
        and filters.max_age is not None
        and filters.min_age > filters.max_age
    ):
        raise ValidationError({"max_age": _("最大年龄不能小于最小年龄")})
    criteria = VolunteerFilters(
        search=filters.q,
        org=org(filters.org_id),
        status=filters.status or "",
        skill_ids=sorted(set(filters.skill)),
        category_ids=sorted(set(filters.category)),
        served_group_ids=sorted(set(filters.served_group)),
        slots=list(dict.fromkeys(filters.slot)),
        qualification_type_id=filters.qualification_type,
        min_star=filters.min_star,
        political_status=filters.political_status or "",
        min_age=filters.min_age,
        max_age=filters.max_age,
        team=org(filters.team_id),
        sort=filters.sort,
    )
    return _with_details(volunteer_list(scope=scope, filters=criteria))


@router.get("/{volunteer_id}", response={200: VolunteerOut, **ERRORS}, summary="志愿者详情")
def get_volunteer(request: HttpRequest, volunteer_id: ObjectId) -> Any:
    return _detail(_visible(request, volunteer_id))


@router.post(
    "",
    response={201: VolunteerCreatedOut, 200: VolunteerCreatedOut, **ERRORS},
    summary="代为登记志愿者（已注册的返回已有记录）",
)
def create_volunteer(request: HttpRequest, payload: VolunteerIn) -> Any:
    org = _residence(request, payload.org_id)
    data = RegistrationInput(
        name=payload.name,
        id_number=payload.id_number,
        phone=payload.phone,
        address=payload.address,
        political_status=payload.political_status,
        skills=_skills(payload.skill_ids, payload.skill_names),
        categories=_categories(payload.category_ids),
        served_groups=_served_groups(payload.served_group_ids),
        availability=to_mask(payload.availability),
        publish_name=payload.publish_name,
        guardian_name=payload.guardian_name,
        guardian_phone=payload.guardian_phone,
        guardian_consent=payload.guardian_consent,
        historical_minutes=payload.historical_minutes,
        notes=payload.notes,
    )
    result = volunteer_register(
        actor=request.user,
        scope=request.scope,
        org=org,
        data=data,
        source=RegistrationSource.WORKER,
    )
    try:
        volunteer = _visible(request, result.volunteer.pk)
    except Http404 as exc:  # registered elsewhere: say so, show nothing of it
        raise ValidationError(
            {"id_number": _("此人已在其他社区注册为志愿者，请联系其所在社区")}
        ) from exc
    volunteer = _detail(volunteer)
    volunteer.existing = not result.created
    return Status(201 if result.created else 200, volunteer)


@router.patch("/{volunteer_id}", response={200: VolunteerOut, **ERRORS}, summary="修改志愿者信息")
def update_volunteer(request: HttpRequest, volunteer_id: ObjectId, payload: VolunteerPatch) -> Any:
    volunteer = _visible(request, volunteer_id)
    sent = payload.dict(exclude_unset=True)
    changes: dict[str, Any] = {}
    for key in ("political_status", "publish_name", "notes", "historical_minutes"):
        if key in sent:
            if sent[key] is None:
                raise ValidationError({key: _("不能为空")})
            changes[key] = sent[key]
    if "org_id" in sent:
        if sent["org_id"] is None:
            raise ValidationError({"org_id": _("请选择所在社区或网格")})
        changes["org"] = _residence(request, sent["org_id"])
    if "skill_ids" in sent or "skill_names" in sent:
        changes["skills"] = _skills(sent.get("skill_ids") or [], sent.get("skill_names") or [])
    if "category_ids" in sent:
        changes["categories"] = _categories(sent["category_ids"] or [])
    if "served_group_ids" in sent:
        changes["served_groups"] = _served_groups(sent["served_group_ids"] or [])
    if "availability" in sent:
        changes["availability"] = to_mask(sent["availability"] or [])
    volunteer_update(actor=request.user, scope=request.scope, volunteer=volunteer, **changes)
    return _detail(volunteer)


@router.post(
    "/{volunteer_id}/status",
    response={200: VolunteerOut, **ERRORS},
    summary="审核与状态变更：通过、不通过、暂停、恢复、注销",
)
def set_status(request: HttpRequest, volunteer_id: ObjectId, payload: StatusIn) -> Any:
    volunteer = _visible(request, volunteer_id)  # 404 first: nothing about others' records
    if payload.status is None:
        raise ValidationError({"status": _("此项为必填项")})
    volunteer_set_status(
        actor=request.user,
        scope=request.scope,
        volunteer=volunteer,
        status=payload.status,
        reason=payload.reason,
    )
    return _detail(volunteer)

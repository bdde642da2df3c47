"""Writes on people. Personal numbers are validated, encrypted and hashed here only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from pypinyin import lazy_pinyin

from huzhu.common import crypto
from huzhu.common.audit import log_action
from huzhu.common.identity import mask_mobile, normalise_mobile, parse_id_number
from huzhu.orgs.models import RESIDENCE_KINDS, Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person, ResidenceStatus, Tag, TagCategory

ID_HASH_PURPOSE = "id_number"
PHONE_HASH_PURPOSE = "phone"


def id_number_hash(number: str) -> str:
    """Keyed hash of an already-normalised ID number, for exact lookup."""
    return crypto.keyed_hash(number, ID_HASH_PURPOSE)


def phone_hash(number: str) -> str:
    return crypto.keyed_hash(number, PHONE_HASH_PURPOSE)


def name_pinyin(name: str) -> tuple[str, str]:
    """(initials, full) in lower case: 张三 → ("zs", "zhangsan"). One conversion: the
    initials are the first letters of the syllables (bulk imports call this per row)."""
    syllables = [
        "".join(ch for ch in s.lower() if ch.isascii() and ch.isalnum())
        for s in lazy_pinyin(name, errors="default")
    ]
    syllables = [s for s in syllables if s]
    return "".join(s[0] for s in syllables)[:50], "".join(syllables)[:200]


def _apply_name(person: Person, name: str) -> None:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("姓名不能为空")})
    if len(name) > 50:
        raise ValidationError({"name": _("姓名不能超过50个字")})
    person.name = name
    person.name_initials, person.name_pinyin = name_pinyin(name)


def _apply_id_number(person: Person, raw: str) -> None:
    try:
        citizen = parse_id_number(raw)
    except ValidationError as exc:
        raise ValidationError({"id_number": exc.messages}) from exc
    person.id_number_encrypted = crypto.encrypt(citizen.number)
    person.id_number_hash = id_number_hash(citizen.number)
    person.id_number_masked = citizen.masked
    person.gender = citizen.gender
    person.birth_date = citizen.birth_date


def _apply_phone(person: Person, raw: str) -> None:
    raw = (raw or "").strip()
    if not raw:
        person.phone_encrypted = person.phone_hash = person.phone_masked = ""
        return
    try:
        number = normalise_mobile(raw)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from exc
    person.phone_encrypted = crypto.encrypt(number)
    person.phone_hash = phone_hash(number)
    person.phone_masked = mask_mobile(number)


def _check_residence(scope: Scope, org: Org) -> None:
    if org is None or not scope.can(Perm.PERSON_EDIT, org):
        raise ValidationError({"org": _("请选择您有权登记的社区或网格")})
    if org.kind not in RESIDENCE_KINDS:
        raise ValidationError({"org": _("居民只能登记在社区或网格下")})


def _ensure_unique_id(person: Person) -> None:
    clash = Person.objects.filter(id_number_hash=person.id_number_hash).exclude(pk=person.pk)
    if clash.exists():
        raise ValidationError({"id_number": _("该身份证号已登记，一人只能有一条实名记录")})


def person_build(
    *,
    org: Org,
    name: str,
    id_number: str,
    phone: str = "",
    address: str = "",
    notes: str = "",
    status: str = ResidenceStatus.ACTIVE,
) -> Person:
    """Validate and encrypt into an unsaved Person (used by create and by bulk loaders)."""
    person = Person(org=org, address=(address or "").strip(), notes=notes or "", status=status)
    errors: dict[str, list[str]] = {}
    for field, apply, value in (
        ("name", _apply_name, name),
        ("id_number", _apply_id_number, id_number),
        ("phone", _apply_phone, phone),
    ):
        try:
            apply(person, value)
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.message_dict.get(field, exc.messages))
    if status not in ResidenceStatus.values:
        errors["status"] = [_("未知的居住状态")]
    if errors:
        raise ValidationError(errors)
    return person


def _set_tags(person: Person, tags: Iterable[Tag] | None) -> list[str]:
    if tags is None:
        return []
    tags = list(tags)
    person.tags.set(tags)
    return sorted(t.name for t in tags)


@transaction.atomic
def person_create(
    *,
    actor: Any,
    scope: Scope,
    org: Org,
    name: str,
    id_number: str,
    phone: str = "",
    address: str = "",
    notes: str = "",
    tags: Iterable[Tag] | None = None,
    status: str = ResidenceStatus.ACTIVE,
) -> Person:
    _check_residence(scope, org)
    person = person_build(
        org=org,
        name=name,
        id_number=id_number,
        phone=phone,
        address=address,
        notes=notes,
        status=status,
    )
    _ensure_unique_id(person)
    try:
        with transaction.atomic():
            person.save()
    except IntegrityError as exc:  # a concurrent registration of the same ID won the race
        raise ValidationError({"id_number": _("该身份证号已登记，一人只能有一条实名记录")}) from exc
    tag_names = _set_tags(person, tags)
    log_action(
        actor,
        "person.create",
        person,
        {
            "name": person.name,
            "id_number": person.id_number_masked,
            "phone": person.phone_masked,
            "org": org.name,
            "tags": tag_names,
        },
    )
    return person


PERSON_FIELDS = ("name", "id_number", "phone", "address", "notes", "status", "org", "tags")


@transaction.atomic
def person_update(*, actor: Any, scope: Scope, person: Person, **changes: Any) -> Person:
    """Change any of PERSON_FIELDS. An empty ``id_number`` leaves it unchanged."""
    if not scope.can(Perm.PERSON_EDIT, person.org):
        raise PermissionDenied(_("您没有修改该居民信息的权限"))
    unknown = set(changes) - set(PERSON_FIELDS)
    if unknown:
        raise ValidationError(_("不能修改这些字段：%(f)s") % {"f": ", ".join(sorted(unknown))})
    person = Person.objects.select_for_update().get(pk=person.pk)
    before = _snapshot(person)
    errors: dict[str, list[str]] = {}

    def attempt(field: str, func: Any, *args: Any) -> None:
        try:
            func(*args)
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.message_dict.get(field, exc.messages))

    if "name" in changes:
        attempt("name", _apply_name, person, changes["name"])
    if (changes.get("id_number") or "").strip():
        attempt("id_number", _apply_id_number, person, changes["id_number"])
    if "phone" in changes:
        attempt("phone", _apply_phone, person, changes["phone"])
    if "org" in changes and changes["org"] != person.org:
        attempt("org", _check_residence, scope, changes["org"])
        person.org = changes["org"]
    for field in ("address", "notes"):
        if field in changes:
            setattr(person, field, (changes[field] or "").strip())
    if "status" in changes:
        if changes["status"] not in ResidenceStatus.values:
            errors["status"] = [_("未知的居住状态")]
        person.status = changes["status"]
    if errors:
        raise ValidationError(errors)
    _ensure_unique_id(person)
    try:
        with transaction.atomic():
            person.save()
    except IntegrityError as exc:  # a concurrent registration of the same ID won the race
        raise ValidationError({"id_number": _("该身份证号已登记，一人只能有一条实名记录")}) from exc
    if "tags" in changes:
        _set_tags(person, changes["tags"])
    after = _snapshot(person)
    diff = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if diff:
        log_action(actor, "person.update", person, {"changes": diff})
    if "status" in diff or "org" in diff:  # moved out, died, moved: matching must know
        _refresh_match_profile(person)
    return person


def _refresh_match_profile(person: Person) -> None:
    from huzhu.volunteers.models import Volunteer
    from huzhu.volunteers.services import match_profiles_refresh

    match_profiles_refresh(
        volunteer_ids=Volunteer.objects.filter(person=person).values_list("pk", flat=True)
    )


def _snapshot(person: Person) -> dict[str, Any]:
    """Display values only: masked numbers, never plaintext."""
    return {
        "name": person.name,
        "id_number": person.id_number_masked,
        "phone": person.phone_masked,
        "address": person.address,
        "notes": person.notes,
        "status": person.status,
        "org": person.org.name,
        "tags": sorted(t.name for t in person.tags.all()) if person.pk else [],
    }


def person_reveal(*, actor: Any, scope: Scope, person: Person, reason: str = "") -> dict[str, str]:
    """Full ID and phone for a role that needs them; every reveal is audited."""
    if not scope.can(Perm.PERSON_REVEAL, person.org):
        raise PermissionDenied(_("您没有查看完整证件号码的权限"))
    log_action(actor, "person.reveal", person, {"fields": ["id_number", "phone"], "reason": reason})
    return {"id_number": person.id_number, "phone": person.phone}


@transaction.atomic
def person_link_user(*, actor: Any, scope: Scope, person: Person, user: Any) -> Person:
    if not scope.can(Perm.PERSON_EDIT, person.org):
        raise PermissionDenied(_("您没有修改该居民信息的权限"))
    person.user = user
    person.save(update_fields=["user", "updated_at"])
    log_action(actor, "person.link_user", person, {"user": user.get_username()})
    return person


@transaction.atomic
def tag_create(
    *,
    actor: Any,
    scope: Scope,
    name: str,
    category: str,
    description: str = "",
    is_sensitive: bool = False,
) -> Tag:
    if not scope.is_superuser and not scope.can(Perm.ORG_MANAGE):
        raise PermissionDenied(_("只有管理员可以维护居民标签"))
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("标签名称不能为空")})
    if category not in TagCategory.values:
        raise ValidationError({"category": _("未知的标签类别")})
    if Tag.objects.filter(name=name).exists():
        raise ValidationError({"name": _("标签“%(n)s”已存在") % {"n": name}})
    tag = Tag.objects.create(
        name=name, category=category, description=description, is_sensitive=is_sensitive
    )
    log_action(actor, "tag.create", tag, {"name": name})
    return tag

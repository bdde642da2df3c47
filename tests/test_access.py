"""The generic access test (DESIGN.md §2).

It walks every URL pattern of the project — web pages and API routes alike — and calls each
with every HTTP method as three actors: a worker of community A, a worker of the sibling
community B, and an anonymous visitor, with the URL parameters pointing at objects of
community A. It fails when B or the anonymous visitor

* sees anything of community A (its residents' names, its org names), or
* gets anything but "missing" for an object route (404; 405 for a method the route lacks), or
* changes anything (rows and audit entries are counted before and after), or
* causes a server error.

Routes with a URL parameter this test does not know fail it: a new parameter name must be
taught to ``PARAMS`` below, so new routes are covered without anyone remembering to.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from PIL import Image as PILImage

from huzhu.activities.models import Activity, Certificate, ServiceRecord, Shift, Signup
from huzhu.activities.record_services import (
    RecordInput,
    certificate_apply,
    certificate_issue,
    record_enter,
)
from huzhu.activities.services import signup_create
from huzhu.common.models import AuditEntry
from huzhu.desk.models import (
    AppKey,
    MatterType,
    Notice,
    PatrolTeam,
    PublicContact,
    Suggestion,
    Ticket,
    TicketEvent,
    TicketPhoto,
)
from huzhu.desk.services import TicketInput, ticket_create
from huzhu.needs.models import (
    Invitation,
    Message,
    Need,
    NeedEvent,
    Offer,
    Pairing,
    Payment,
    Visit,
)
from huzhu.needs.pairing_services import PairingInput, VisitInput, pairing_create, visit_log
from huzhu.needs.selectors import NeedAccess
from huzhu.needs.services import (
    NeedInput,
    OfferInput,
    message_post,
    need_create,
    need_invite,
    offer_save,
)
from huzhu.orgs.models import Org, OrgKind, RoleGrant
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person, Tag
from huzhu.timebank.counter_services import ItemInput, adjustment_request, item_create, redeem
from huzhu.timebank.family_services import family_declare
from huzhu.timebank.models import (
    Account,
    Adjustment,
    ExchangeItem,
    FamilyLink,
    Redemption,
    Transfer,
)
from huzhu.volunteers.models import (
    Course,
    Evaluation,
    Honour,
    Qualification,
    QualificationType,
    StarApplication,
    TeamMembership,
    TrainingSession,
    Volunteer,
)
from huzhu.volunteers.services import RegistrationInput, volunteer_register
from tests.activities.factories import SYSTEM, category, first_shift, make_activity
from tests.factories import City, make_org, make_person

METHODS = ("get", "post", "put", "patch", "delete")

# Routes that are public by design (they answer the same to everyone).
PUBLIC_PREFIXES = (
    "favicon.ico",
    "accounts/login/",
    "accounts/logout/",
    "i18n/",
    "api/v1/openapi.json",
    "api/v1/docs",
    # certificate verification (number + code) and calendar feeds (signed token)
    "activities/verify/",
    "activities/ical/<",  # the token route only (the reset is not public)
    "api/v1/activities/certificates/verify",
    # the public face of the service desk: community pages, the civic report board, photos
    # a worker published (others answer 404 to everyone), and Open311 (DOMAIN.md §6)
    "desk/public/",
    "desk/photos/",
    "api/v1/desk/public/",
    "open311/v2/",
)
# Django's admin is the superuser back office: it is checked separately below.
SKIPPED_PREFIXES = ("admin/",)


@dataclass
class World:
    city: City
    person_a: Person
    grant_a: RoleGrant
    tag: Tag
    volunteer: Volunteer
    team: Org
    membership: TeamMembership
    course: Course
    session: TrainingSession
    qualification: Qualification
    application: StarApplication
    honour: Honour
    evaluation: Evaluation
    activity: Activity
    shift: Shift
    signup: Signup
    record: ServiceRecord
    certificate: Certificate
    account: Account
    link: FamilyLink
    item: ExchangeItem
    redemption: Redemption
    adjustment: Adjustment
    need: Need
    invitation: Invitation
    offer: Offer
    pairing: Pairing
    ticket: Ticket
    photo: TicketPhoto
    matter: MatterType
    notice: Notice
    suggestion: Suggestion
    contact: PublicContact
    key: AppKey


# How to fill each URL parameter with an object of community A, and whether the parameter
# names an object of community A (True) or a shared, non-personal object (False).
PARAMS: dict[str, tuple[Callable[[World], object], bool]] = {
    "org_id": (lambda w: w.city.community_a.pk, True),
    "person_id": (lambda w: w.person_a.pk, True),
    "grant_id": (lambda w: w.grant_a.pk, True),
    "code": (lambda w: w.city.community_a.division_code, True),
    "tag_id": (lambda w: w.tag.pk, False),
    "volunteer_id": (lambda w: w.volunteer.pk, True),
    "team_id": (lambda w: w.team.pk, True),
    "membership_id": (lambda w: w.membership.pk, True),
    "course_id": (lambda w: w.course.pk, True),
    "session_id": (lambda w: w.session.pk, True),
    "qualification_id": (lambda w: w.qualification.pk, True),
    "application_id": (lambda w: w.application.pk, True),
    "honour_id": (lambda w: w.honour.pk, True),
    "evaluation_id": (lambda w: w.evaluation.pk, True),
    # an import upload of worker A (tokens are per user: anyone else gets 404)
    "token": (lambda w: "a" * 32, True),
    "activity_id": (lambda w: w.activity.pk, True),
    "shift_id": (lambda w: w.shift.pk, True),
    "signup_id": (lambda w: w.signup.pk, True),
    "record_id": (lambda w: w.record.pk, True),
    "certificate_id": (lambda w: w.certificate.pk, True),
    "account_id": (lambda w: w.account.pk, True),
    "link_id": (lambda w: w.link.pk, True),
    "item_id": (lambda w: w.item.pk, True),
    "redemption_id": (lambda w: w.redemption.pk, True),
    "adjustment_id": (lambda w: w.adjustment.pk, True),
    "need_id": (lambda w: w.need.pk, True),
    "invitation_id": (lambda w: w.invitation.pk, True),
    "offer_id": (lambda w: w.offer.pk, True),
    "pairing_id": (lambda w: w.pairing.pk, True),
    # a calendar feed token that is not valid (a valid one is a capability, like a password)
    "feed_token": (lambda w: "not-a-valid-token", True),
    "ticket_id": (lambda w: w.ticket.pk, True),
    "photo_id": (lambda w: w.photo.pk, True),
    "matter_id": (lambda w: w.matter.pk, True),
    "notice_id": (lambda w: w.notice.pk, True),
    "suggestion_id": (lambda w: w.suggestion.pk, True),
    "contact_id": (lambda w: w.contact.pk, True),
    "key_id": (lambda w: w.key.pk, True),
    # Open311: a shared service code and the public number of community A's civic report
    "service_code": (lambda w: "civic-flyposting", False),
    "request_id": (lambda w: w.ticket.number, True),
}

MARKERS = ("甲社区", "甲社区第一网格", "欧阳甲乙")
# Public pages name community A by design; a resident's name must still never show.
PUBLIC_MARKERS = ("欧阳甲乙", "甲社区居民建议人")


@dataclass(frozen=True)
class Route:
    route: str
    params: tuple[str, ...]

    def url(self, world: World) -> str:
        path = self.route
        for name in self.params:
            value = PARAMS[name][0](world)
            start = path.index("<")
            end = path.index(">", start)
            path = path[:start] + str(value) + path[end + 1 :]
        return "/" + path

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    @property
    def targets_community_a(self) -> bool:
        return any(PARAMS[name][1] for name in self.params)


def _walk(patterns: list, prefix: str = "") -> Iterator[tuple[str, list[str]]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            yield (
                route,
                list(entry.pattern.converters) if hasattr(entry.pattern, "converters") else [],
            )


def all_routes() -> list[Route]:
    routes = []
    for route, _ in _walk(get_resolver().url_patterns):
        if route.startswith(SKIPPED_PREFIXES):
            continue
        names = tuple(part.split(">")[0].split(":")[-1] for part in route.split("<")[1:])
        routes.append(Route(route=route, params=names))
    return sorted(set(routes), key=lambda r: r.route)


def _snapshot() -> tuple:
    return (
        Person.objects.count(),
        Org.objects.count(),
        RoleGrant.objects.count(),
        Tag.objects.count(),
        # worker B's audited exports of their own community are theirs to make
        AuditEntry.objects.exclude(actor__username="worker-b", verb__endswith="export").count(),
        Volunteer.objects.count(),
        tuple(Volunteer.objects.order_by("pk").values_list("status", "star_level", "availability")),
        TeamMembership.objects.filter(left_on__isnull=True).count(),
        StarApplication.objects.filter(status="applied").count(),
        Honour.objects.count(),
        Evaluation.objects.count(),
        Qualification.objects.count(),
        Course.objects.count(),
        TrainingSession.objects.count(),
        tuple(Person.objects.order_by("pk").values_list("name", "phone_hash", "org_id")),
        tuple(Activity.objects.order_by("pk").values_list("status", "beneficiary_count", "title")),
        tuple(
            Shift.objects.order_by("pk").values_list("capacity", "confirmed_count", "is_cancelled")
        ),
        tuple(
            Signup.objects.order_by("pk").values_list(
                "status", "attendance", "checked_in_at", "checked_out_at"
            )
        ),
        tuple(ServiceRecord.objects.order_by("pk").values_list("status", "minutes", "rating")),
        tuple(Certificate.objects.order_by("pk").values_list("status", "number")),
        tuple(Account.objects.order_by("pk").values_list("balance", "credit_limit")),
        Transfer.objects.count(),
        tuple(FamilyLink.objects.order_by("pk").values_list("verified_at", "revoked_at")),
        tuple(ExchangeItem.objects.order_by("pk").values_list("stock", "price_minutes")),
        Redemption.objects.count(),
        tuple(
            Adjustment.objects.order_by("pk").values_list("approved_by", "transfer", "rejected_at")
        ),
        tuple(Need.objects.order_by("pk").values_list("status", "volunteer", "title", "rating")),
        tuple(Invitation.objects.order_by("pk").values_list("status", "volunteer")),
        Message.objects.count(),
        NeedEvent.objects.count(),
        tuple(Offer.objects.order_by("pk").values_list("title", "is_active", "availability")),
        tuple(Pairing.objects.order_by("pk").values_list("status", "last_visit_on")),
        Visit.objects.count(),
        tuple(
            Ticket.objects.order_by("pk").values_list(
                "status", "team", "receiver", "due_date", "rating", "duplicate_of"
            )
        ),
        TicketEvent.objects.count(),
        tuple(TicketPhoto.objects.order_by("pk").values_list("is_public", flat=True)),
        tuple(MatterType.objects.order_by("pk").values_list("name", "deadline_days", "is_active")),
        tuple(PatrolTeam.objects.order_by("pk").values_list("grid", "team")),
        tuple(Notice.objects.order_by("pk").values_list("status", "title")),
        tuple(Suggestion.objects.order_by("pk").values_list("status", "reply")),
        tuple(PublicContact.objects.order_by("pk").values_list("name", "phone")),
        tuple(AppKey.objects.order_by("pk").values_list("revoked_at", flat=True)),
        tuple(Org.objects.order_by("pk").values_list("service_phone", "supervision_phone")),
    )


def _call(client: Client, method: str, url: str, api: bool):
    kwargs = {"content_type": "application/json", "data": "{}"} if method != "get" else {}
    if api and method != "get":
        kwargs = {"content_type": "application/json", "data": "{}"}
    return getattr(client, method)(url, **kwargs)


@pytest.fixture
def world(city: City) -> World:
    person = make_person(city.grid_a, "欧阳甲乙", address="甲社区1号楼")
    volunteer = volunteer_register(
        actor=None,
        scope=Scope(user_id=0, is_superuser=True),
        org=city.grid_a,
        data=RegistrationInput(id_number=person.id_number, historical_minutes=7000),
    ).volunteer
    corps = make_org(OrgKind.CORPS, "甲社区志愿者总队", city.community_a)
    team = make_org(OrgKind.TEAM, "甲社区助老服务队", corps)
    course = Course.objects.create(org=city.community_a, name="甲社区急救培训")
    start = timezone.now() - dt.timedelta(days=3)
    if volunteer.status != "registered":
        volunteer.status = "registered"
        volunteer.save(update_fields=["status"])
    activity = make_activity(city.community_a, title="甲社区助老活动")
    shift = first_shift(activity)
    signup = signup_create(actor=None, volunteer=volunteer, shift_id=shift.pk)
    served_on = timezone.localdate() - dt.timedelta(days=2)
    record = record_enter(
        actor=None,
        scope=SYSTEM,
        volunteer=volunteer,
        org=city.community_a,
        data=RecordInput(
            served_on=served_on,
            minutes=120,
            content="甲社区助老服务",
            place="甲社区活动室",
            category=category(),
        ),
        confirm=True,
    )
    certificate = certificate_apply(
        actor=None,
        volunteer=volunteer,
        org=city.community_a,
        period_from=served_on,
        period_to=served_on,
    )
    certificate = certificate_issue(actor=None, scope=SYSTEM, certificate=certificate)
    relative = make_person(city.grid_a, "欧阳丙丁", address="甲社区2号楼")
    link = family_declare(
        actor=None, scope=SYSTEM, person=person, relation="parent", relative=relative
    )
    item = item_create(
        actor=None,
        scope=SYSTEM,
        org=city.community_a,
        data=ItemInput(name="甲社区爱心超市大米", price_minutes=30, stock=10),
    )
    redemption = redeem(actor=None, scope=SYSTEM, item=item, person=person, quantity=1)
    account = Account.objects.get(person=person)
    adjustment = adjustment_request(
        actor=city.worker_a, scope=SYSTEM, account=account, minutes=15, reason="补记"
    )
    need, invitation, offer, pairing = _needs_world(city, person, relative, volunteer)
    desk = _desk_world(city, person, team)
    return World(
        city=city,
        person_a=person,
        grant_a=RoleGrant.objects.get(user=city.worker_a, org=city.community_a),
        tag=Tag.objects.first(),
        volunteer=volunteer,
        team=team,
        membership=TeamMembership.objects.create(
            team=team, volunteer=volunteer, joined_on=dt.date(2025, 1, 1)
        ),
        course=course,
        session=TrainingSession.objects.create(
            course=course, starts_at=start, ends_at=start + dt.timedelta(hours=2)
        ),
        qualification=Qualification.objects.create(
            volunteer=volunteer,
            kind=QualificationType.objects.get(name="急救证"),
            issued_on=dt.date(2025, 1, 1),
            expires_on=dt.date(2028, 1, 1),
        ),
        application=StarApplication.objects.create(
            volunteer=volunteer, level=1, minutes_at_application=7000
        ),
        honour=Honour.objects.create(
            volunteer=volunteer,
            title="优秀志愿者",
            awarded_by="甲社区",
            awarded_on=dt.date(2025, 5, 1),
        ),
        evaluation=Evaluation.objects.create(
            volunteer=volunteer, year=2025, grade="excellent", org=city.community_a
        ),
        activity=activity,
        shift=shift,
        signup=signup,
        record=record,
        certificate=certificate,
        account=account,
        link=link,
        item=item,
        redemption=redemption,
        adjustment=adjustment,
        need=need,
        invitation=invitation,
        offer=offer,
        pairing=pairing,
        **desk,
    )


def _desk_world(city: City, person: Person, team: Org) -> dict[str, object]:
    """A civic report of community A registered at the desk for the resident (a photo not yet
    published), a matter type, a pending notice, a suggestion, a grid contact, an app key."""
    PatrolTeam.objects.create(grid=city.grid_a, team=team)
    matter = MatterType.objects.create(
        org=city.community_a, code="a-parking", name="甲社区停车咨询", kind="consult"
    )
    image = io.BytesIO()
    PILImage.new("RGB", (40, 30), (200, 30, 30)).save(image, format="JPEG")
    ticket = ticket_create(
        actor=city.worker_a,
        scope=Scope.for_user(city.worker_a),
        data=TicketInput(
            matter_type_id=MatterType.objects.get(code="civic-flyposting").pk,
            description="甲社区3号楼门口小广告",
            channel="walk_in",
            org_id=city.grid_a.pk,
            address="甲社区3号楼",
            reporter_id=person.pk,
            photos=[SimpleUploadedFile("a.jpg", image.getvalue(), "image/jpeg")],
        ),
    )
    author = make_person(city.grid_a, "甲社区居民建议人")
    return {
        "ticket": ticket,
        "photo": ticket.photos.get(),
        "matter": matter,
        "notice": Notice.objects.create(
            org=city.community_a, kind="good_deed", title="甲社区好人好事", body="甲社区拾金不昧"
        ),
        "suggestion": Suggestion.objects.create(
            number="JY2026999999",
            org=city.community_a,
            author=author,
            title="甲社区增设座椅",
            body="甲社区花园增设座椅",
            is_public=True,
        ),
        "contact": PublicContact.objects.create(
            org=city.grid_a, name="甲网格员", phone="0531-88880000"
        ),
        "key": AppKey.objects.create(
            name="甲社区小程序", org=city.community_a, prefix="o311_aaaa", key_hash="0" * 64
        ),
    }


def _needs_world(
    city: City, person: Person, relative: Person, volunteer: Volunteer
) -> tuple[Need, Invitation, Offer, Pairing]:
    """A need of community A (posted by worker A for the relative) with an invitation of the
    volunteer and a message; the volunteer's offer; a pair with one visit."""
    from huzhu.needs.models import NeedCategory

    start = timezone.now() + dt.timedelta(days=1)
    scope_a = Scope.for_user(city.worker_a)
    need = need_create(
        actor=city.worker_a,
        scope=scope_a,
        requester=relative,
        data=NeedInput(
            description="甲社区欧阳丙丁需要买菜",
            address="甲社区2号楼",
            starts_at=start,
            ends_at=start + dt.timedelta(hours=2),
            payment=Payment.NONE,
        ),
    )
    access = NeedAccess(need=need, is_worker=True)
    invitation = need_invite(actor=city.worker_a, access=access, volunteer_ids=[volunteer.pk])[0]
    message_post(actor=city.worker_a, access=access, body="甲社区工作人员留言")
    offer = offer_save(
        actor=SYSTEM_OFFER_ACTOR,
        org=city.community_a,
        scope=SYSTEM,
        data=OfferInput(
            title="甲社区超市送货上门",
            category_ids=[NeedCategory.objects.get(name="跑腿代办").pk],
        ),
    )
    pairing = pairing_create(
        actor=city.worker_a,
        scope=scope_a,
        data=PairingInput(
            helper=person,
            resident=relative,
            purpose="甲社区每周探望",
            started_on=timezone.localdate() - dt.timedelta(days=10),
        ),
    )
    visit_log(
        actor=city.worker_a,
        scope=scope_a,
        pairing=pairing,
        data=VisitInput(visited_on=timezone.localdate(), done="甲社区送菜上门"),
    )
    return need, invitation, offer, pairing


SYSTEM_OFFER_ACTOR = None


def test_every_route_parameter_is_known():
    unknown = {(r.route, name) for r in all_routes() for name in r.params if name not in PARAMS}
    assert unknown == set(), "teach these URL parameters to tests/test_access.py PARAMS"


def test_route_enumeration_is_not_empty():
    routes = {r.route for r in all_routes()}
    assert "" in routes  # the home page
    assert any(r.startswith("api/v1/") for r in routes)
    assert any("<int:person_id>" in r for r in routes)


@pytest.mark.django_db
def test_no_route_leaks_community_a(world: World):
    worker_b = Client(raise_request_exception=False)
    worker_b.force_login(world.city.worker_b)
    anonymous = Client(raise_request_exception=False)
    failures: list[str] = []
    before = _snapshot()
    checked = 0
    for route in all_routes():
        url = route.url(world)
        public = route.route.startswith(PUBLIC_PREFIXES)
        for method in METHODS:
            for actor, client in (("worker-b", worker_b), ("anonymous", anonymous)):
                response = _call(client, method, url, route.is_api)
                checked += 1
                status = response.status_code
                body = response.content.decode("utf-8", "replace")
                where = f"{actor} {method.upper()} {url} → {status}"
                if status >= 500:
                    failures.append(f"server error: {where}")
                    continue
                leaked = [m for m in (PUBLIC_MARKERS if public else MARKERS) if m in body]
                if leaked:
                    failures.append(f"leak {leaked}: {where}")
                if public or status == 405:
                    continue
                if actor == "anonymous":
                    login_redirect = status == 302 and "/accounts/login/" in response["Location"]
                    if not (login_redirect or status == 401 or (route.is_api and status == 404)):
                        failures.append(f"anonymous not refused: {where}")
                elif route.targets_community_a and status not in (404, 302):
                    failures.append(f"object of community A not missing: {where}")
                elif route.targets_community_a and status == 302:
                    failures.append(f"redirect instead of 404: {where}")
        worker_b.force_login(world.city.worker_b)  # a logout route ends the session
    assert _snapshot() == before, "worker-b or anonymous changed data"
    assert failures == []
    assert checked >= 10 * len(METHODS) * 2


@pytest.mark.django_db
def test_worker_a_reaches_every_route_without_server_error(world: World):
    worker_a = Client(raise_request_exception=False)
    worker_a.force_login(world.city.worker_a)
    errors = []
    ok_object_pages = 0
    for route in all_routes():
        url = route.url(world)
        for method in METHODS:
            response = _call(worker_a, method, url, route.is_api)
            if response.status_code >= 500:
                errors.append(f"{method.upper()} {url} → {response.status_code}")
            if method == "get" and route.targets_community_a and response.status_code == 200:
                ok_object_pages += 1
        worker_a.force_login(world.city.worker_a)
    assert errors == []
    # The parameters really point at visible objects: worker A opens them.
    assert ok_object_pages >= 3


@pytest.mark.django_db
def test_admin_site_is_closed_to_workers_and_anonymous(world: World):
    worker_b = Client()
    worker_b.force_login(world.city.worker_b)
    for client in (worker_b, Client()):
        response = client.get("/admin/people/person/")
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
    assert not User.objects.get(username="worker-b").is_staff

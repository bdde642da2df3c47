"""Forms of the resident's desk pages (phones first, large inputs): 我要反映, the rating of a
result and withdrawing a matter. They parse input only; the rules (plain text, photo size and
kind, the hourly limit, a comment when dissatisfied) live in ``desk.services`` and come back as
errors beside the fields they name."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from huzhu.desk.models import Channel, MatterKind, MatterType
from huzhu.desk.ratelimit import RateLimited
from huzhu.desk.services import FollowUp, TicketInput
from huzhu.desk.text import markup_error
from huzhu.orgs.forms import BootstrapForm

# The kinds a resident may report from the phone: civic reports first, then "其他事项".
# Affairs (办事) need the resident at the desk with their papers, so they are not offered.
OTHER_KINDS = (MatterKind.HELP, MatterKind.COMPLAINT, MatterKind.CONSULT)
REPORT_KINDS = (MatterKind.CIVIC, *OTHER_KINDS)
SATISFIED = "yes"
DISSATISFIED = "no"
RATING_CHOICES = [(str(n), str(n)) for n in range(1, 6)]


class ServiceErrorsForm(BootstrapForm):
    """Puts a service's ValidationError beside the field it names (``error_fields`` maps the
    service's names to the form's); anything else goes above the fields."""

    error_fields: dict[str, str] = {}
    # Where a refusal without field names goes (None: above the fields).
    loose_errors_field: str | None = None

    def add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            field = None if isinstance(exc, RateLimited) else self.loose_errors_field
            for message in exc.messages:
                self.add_error(field, message)
            return
        for name, messages in exc.message_dict.items():
            field = self.error_fields.get(name, name)
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several photos from one ``<input type=file multiple>``; the service checks each."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            MultipleFileInput(
                attrs={
                    "accept": "image/*",
                    "capture": "environment",
                    "class": "form-control form-control-lg",
                }
            ),
        )
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        uploads = data if isinstance(data, list | tuple) else [data]
        single = super().clean
        return [single(upload, initial) for upload in uploads if upload]


class ReportForm(ServiceErrorsForm):
    """我要反映: which matter, what happened, where (with the phone's location when allowed),
    photos, and whether the reporter's name may appear (masked) on the public board."""

    error_fields = {"title": "description"}
    loose_errors_field = "photos"  # ticket_create's only unnamed refusals are photos and limits

    matter_type = forms.ModelChoiceField(
        label=_("反映什么问题"),
        queryset=MatterType.objects.none(),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("请选择要反映的问题类别。"),
            "invalid_choice": _("请选择本社区事项清单中的事项。"),
        },
    )
    description = forms.CharField(
        label=_("请说说具体情况"),
        required=False,
        widget=forms.Textarea(
            attrs={
                "class": "form-control form-control-lg fs-4",
                "rows": 4,
                "maxlength": 2000,
                "placeholder": _("例如：3号楼单元门口贴满了小广告"),
            }
        ),
    )
    address = forms.CharField(
        label=_("地点"),
        required=False,
        widget=forms.TextInput(
            attrs={"class": "form-control form-control-lg", "maxlength": 200, "autocomplete": "off"}
        ),
    )
    latitude = forms.FloatField(
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid": _("位置信息无效，请重新获取。")},
    )
    longitude = forms.FloatField(
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid": _("位置信息无效，请重新获取。")},
    )
    photos = PhotosField(label=_("照片（可多张）"), required=False)
    reporter_public = forms.BooleanField(label=_("愿意公开我的姓名"), required=False)

    def __init__(self, *args: Any, matter_types: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["matter_type"].queryset = matter_types
        self.matter_types: list[MatterType] = list(matter_types)

    def _options(self, civic: bool) -> list[tuple[MatterType, bool]]:
        chosen = str(self["matter_type"].value() or "")
        return [
            (matter, str(matter.pk) == chosen)
            for matter in self.matter_types
            if matter.is_civic == civic
        ]

    @property
    def civic_options(self) -> list[tuple[MatterType, bool]]:
        return self._options(civic=True)

    @property
    def other_options(self) -> list[tuple[MatterType, bool]]:
        return self._options(civic=False)

    @property
    def other_chosen(self) -> bool:
        return any(checked for _matter, checked in self.other_options)

    def to_input(self) -> TicketInput:
        data = self.cleaned_data
        return TicketInput(
            matter_type_id=data["matter_type"].pk,
            description=data["description"],
            channel=Channel.MOBILE,
            address=data["address"],
            latitude=data["latitude"],
            longitude=data["longitude"],
            reporter_public=data["reporter_public"],
            photos=data["photos"],
        )


class RateForm(ServiceErrorsForm):
    """回访: satisfied or not, one to five stars and a comment (needed when dissatisfied)."""

    satisfied = forms.TypedChoiceField(
        label=_("您对办理结果满意吗"),
        choices=[(SATISFIED, _("满意")), (DISSATISFIED, _("不满意"))],
        coerce=lambda value: value == SATISFIED,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择满意或不满意。")},
    )
    rating = forms.TypedChoiceField(
        label=_("满意度"),
        choices=RATING_CHOICES,
        coerce=int,
        required=False,
        empty_value=None,
        error_messages={"invalid_choice": _("请选择 1 到 5 星的满意度。")},
    )
    comment = forms.CharField(label=_("评价"), required=False)

    def to_follow_up(self) -> FollowUp:
        data = self.cleaned_data
        return FollowUp(satisfied=data["satisfied"], rating=data["rating"], comment=data["comment"])


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("撤回原因（选填）"), required=False, max_length=200)

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"]
        message = markup_error(reason)
        if message:
            raise ValidationError(message)
        return reason

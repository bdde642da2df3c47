"""Form fields shared by the pages' filter bars: optional selects whose first option ("全部…")
filters nothing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms


def _select() -> forms.Select:
    return forms.Select(attrs={"class": "form-select"})


def choice_filter(
    label: Any, choices: Iterable[tuple[Any, Any]], all_label: Any
) -> forms.ChoiceField:
    """An optional choice of a filter bar; the empty first option is ``all_label``."""
    return forms.ChoiceField(
        label=label, required=False, choices=[("", all_label), *choices], widget=_select()
    )


def model_filter(label: Any, all_label: Any) -> forms.ModelChoiceField:
    """An optional object choice of a filter bar; the form sets the queryset, and the empty
    first option is ``all_label``."""
    return forms.ModelChoiceField(
        label=label, queryset=None, required=False, empty_label=all_label, widget=_select()
    )

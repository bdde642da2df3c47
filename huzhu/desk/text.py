"""Checks on the free text residents send: plain text only, no markup or script."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

# A tag (<b>, </script>, <!-- …>), a script URL, or an event handler attribute (onclick=)
# not inside a longer word ("condition=" is not one).
_MARKUP = re.compile(
    r"<\s*/?\s*[a-zA-Z!][^>]*>|(?:java|vb)script\s*:|data\s*:\s*text/html|(?<![a-z])on[a-z]+\s*=",
    re.IGNORECASE,
)


def markup_error(value: str) -> str | None:
    """A message when ``value`` holds HTML or script, else None."""
    if value and _MARKUP.search(value):
        return _("不能包含 HTML 标记或脚本，请只填写文字。")
    return None


def plain_text_errors(fields: dict[str, str]) -> dict[str, list[str]]:
    """Errors keyed by field name for every field that holds markup."""
    errors: dict[str, list[str]] = {}
    for name, value in fields.items():
        message = markup_error(value)
        if message:
            errors[name] = [message]
    return errors

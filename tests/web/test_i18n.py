"""Chinese by default, English on request; every catalog entry translated."""

from pathlib import Path

import polib
import pytest

LOCALE = Path(__file__).resolve().parents[2] / "huzhu" / "locale"


def test_english_catalog_is_complete():
    catalog = polib.pofile(str(LOCALE / "en" / "LC_MESSAGES" / "django.po"))
    assert [e.msgid for e in catalog.untranslated_entries()] == []
    assert [e.msgid for e in catalog.fuzzy_entries()] == []
    assert len(catalog.translated_entries()) >= 300
    compiled = LOCALE / "en" / "LC_MESSAGES" / "django.mo"
    assert compiled.stat().st_size > 1000


@pytest.mark.django_db
def test_login_page_is_chinese_by_default_and_english_after_switch(client):
    page = client.get("/accounts/login/").content.decode()
    assert "登录互助平台" in page
    assert '<html lang="zh-hans">' in page
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in to Huzhu" in page
    assert '<html lang="en">' in page


@pytest.mark.django_db
def test_chinese_password_length_message(city):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError
    from django.utils import translation

    with translation.override("zh-hans"), pytest.raises(ValidationError) as caught:
        validate_password("abc")
    assert caught.value.messages == ["密码太短，至少需要 8 个字符。"]

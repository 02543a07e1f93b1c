"""The desk speaks Korean and English: the Korean catalogue is complete (every message
translated, nothing fuzzy), compiled, and picked by the browser's language or the switch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation

from crm.models import Channel
from tests.crm.factories import manager_client

CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "ko" / "LC_MESSAGES"


def _entries(text: str) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) of each entry of a .po file (plural forms joined)."""
    found = []
    for block in text.split("\n\n"):
        fuzzy = "#, fuzzy" in block or re.search(r"^#,.*\bfuzzy\b", block, re.M) is not None
        ids = re.findall(r'^msgid(?:_plural)? "(.*)"\n((?:".*"\n?)*)', block + "\n", re.M)
        strs = re.findall(r'^msgstr(?:\[\d\])? "(.*)"\n?((?:".*"\n?)*)', block + "\n", re.M)
        if not ids:
            continue
        msgid = "".join(first + "".join(re.findall(r'"(.*)"', rest)) for first, rest in ids)
        msgstrs = [first + "".join(re.findall(r'"(.*)"', rest)) for first, rest in strs]
        found.append((msgid, "" if not all(msgstrs) else "|".join(msgstrs), fuzzy))
    return found


def test_the_korean_catalogue_is_complete_and_compiled() -> None:
    po = (CATALOGUE / "django.po").read_text(encoding="utf-8")
    entries = [e for e in _entries(po) if e[0]]  # the header has an empty msgid
    assert len(entries) > 50
    assert [msgid for msgid, msgstr, _ in entries if not msgstr] == []
    assert [msgid for msgid, _, fuzzy in entries if fuzzy] == []
    mo = CATALOGUE / "django.mo"
    assert mo.exists() and mo.stat().st_size > 1000


def test_the_seeds_labels_are_the_korean_names_of_the_built_in_fields() -> None:
    with translation.override("ko"):
        assert translation.gettext("Last seen") == "최근 접속 시간"
        assert translation.gettext("Member id") == "회원 아이디"
        assert translation.gettext("Customer tags") == "고객 태그"


@pytest.mark.django_db
def test_the_browser_language_and_the_switch_pick_korean(channel: Channel) -> None:
    client: Client = manager_client(channel, "basic")
    korean = client.get(f"/desk/{channel.pk}/contacts/", HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9")
    assert korean.status_code == 200 and 'lang="ko"' in korean.content.decode()
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/desk/"})
    assert switched.status_code == 302
    english = client.get(f"/desk/{channel.pk}/contacts/", HTTP_ACCEPT_LANGUAGE="ko-KR")
    assert 'lang="en"' in english.content.decode()

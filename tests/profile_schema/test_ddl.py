"""DDL runs on a connection of its own, without the requests' statement timeout; names are
deterministic, short, and tell keys apart that differ only in case."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection

from profile_schema.ddl import ddl_cursor, identifier_for


@pytest.mark.django_db
def test_the_build_connection_has_no_statement_timeout() -> None:
    with ddl_cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] != "0"  # requests keep theirs


def test_an_identifier_is_the_head_the_key_cut_to_fit_and_a_digest() -> None:
    digest = hashlib.sha256(b"lastPurchaseAt").hexdigest()[:8]

    assert identifier_for("x_", "profile.lastPurchaseAt") == f"x_lastpurchaseat_{digest}"
    assert identifier_for("x_", "lastPurchaseAt") == f"x_lastpurchaseat_{digest}"
    assert (
        identifier_for("x_", "k" + "Y" * 62)
        == "x_k" + "y" * 51 + "_" + (hashlib.sha256(("k" + "Y" * 62).encode()).hexdigest()[:8])
    )
    assert len(identifier_for("x_", "k" + "Y" * 62)) == 63

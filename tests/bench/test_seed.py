"""bench.seed through manage.py seed_bench: the skewed tenant mix, valid rows, indexes and keys
put back, the same data for the same seed."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from bench.seed.loader import LoadPlan, batch_seed
from contacts.models import Contact, Event, Tag
from crm.models import Channel
from profile_schema.rules import landline_number_clean, mobile_number_clean


def index_and_key_definitions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes"
            " WHERE tablename IN ('contacts_contact', 'contacts_event')"
        )
        indexes = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid IN ('contacts_contact'::regclass, 'contacts_event'::regclass)"
            " OR confrelid IN ('contacts_contact'::regclass, 'contacts_event'::regclass)"
        )
        constraints = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT attname || ':' || attstattarget FROM pg_attribute"
            " WHERE attrelid = 'contacts_contact'::regclass AND attstattarget >= 0"
        )
        return indexes | constraints | {row[0] for row in cursor.fetchall()}


def seed(*extra: str) -> str:
    out = StringIO()
    call_command(
        "seed_bench",
        "--contacts",
        "3000",
        "--channels",
        "3",
        "--workers",
        "1",
        "--batch-size",
        "1000",
        *extra,
        stdout=out,
    )
    return out.getvalue()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_seed_bench_makes_a_skewed_valid_data_set_and_restores_the_schema() -> None:
    before = index_and_key_definitions()

    seed("--seed", "7")

    assert index_and_key_definitions() == before
    big, *others = Channel.objects.filter(name__startswith="bench-").order_by("name")
    counts = [Contact.objects.filter(channel=c).count() for c in [big, *others]]
    assert sum(counts) == 3000
    assert 0.55 <= counts[0] / 3000 <= 0.65  # one tenant holds about 60 %
    assert Event.objects.filter(channel=big).count() > 0
    members = Contact.objects.filter(channel=big, type="member")
    sizes = [len(c.profile) for c in members[:200]]
    assert 17 <= sum(sizes) / len(sizes) <= 24  # about 20 profile keys each
    phones = [c.profile["mobileNumber"] for c in members[:200] if "mobileNumber" in c.profile]
    assert len(phones) > 100 and all(p.startswith("+8210") and len(p) == 13 for p in phones)
    assert Tag.objects.filter(channel=big).exists()
    assert not Contact.objects.filter(channel=big, blocked=True, blocked_at__isnull=True).exists()
    # Every stored number passes the app's own rules, as the numbers of real contacts do.
    profiles = list(Contact.objects.values_list("profile", flat=True))
    mobiles = [p["mobileNumber"] for p in profiles if "mobileNumber" in p]
    landlines = [p["landlineNumber"] for p in profiles if "landlineNumber" in p]
    assert len(mobiles) > 1000 and len(landlines) > 10
    assert [m for m in mobiles if mobile_number_clean(m) != m] == []
    assert [n for n in landlines if landline_number_clean(n) != n] == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_same_seed_gives_the_same_data_and_reset_replaces_it() -> None:
    seed("--seed", "7")
    first = sorted(Contact.objects.values_list("member_id", "veil_id", "name"), key=str)

    seed("--seed", "7", "--reset")

    again = sorted(Contact.objects.values_list("member_id", "veil_id", "name"), key=str)
    assert again == first
    assert Channel.objects.filter(name__startswith="bench-").count() == 3


def test_batches_cover_every_contact_once_in_order() -> None:
    plan = LoadPlan(contacts=2_500, events_per_contact=1, batch_size=1_000, seed=7, params={})

    assert plan.batches() == [(0, 1, 1_000), (1, 1_001, 2_000), (2, 2_001, 2_500)]


def test_a_batch_seed_depends_only_on_the_run_seed_and_the_batch_number() -> None:
    assert batch_seed(7, 3) == batch_seed(7, 3)
    assert len({batch_seed(7, 0), batch_seed(7, 1), batch_seed(8, 0)}) == 3
    assert all(-1.0 <= batch_seed(seed, n) <= 1.0 for seed in range(5) for n in range(5))


@pytest.mark.django_db
def test_a_refused_option_names_the_flag_and_seeds_nothing() -> None:
    with pytest.raises(CommandError) as refused:
        call_command("seed_bench", "--contacts", "10", "--channels", "1", "--batch-size", "0")

    assert str(refused.value) == "--batch-size must be at least 1."
    assert not Channel.objects.filter(name__startswith="bench-").exists()

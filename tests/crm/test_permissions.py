"""Who is acting: a credential's viewer holds its role's permissions in its channel."""

from __future__ import annotations

import pytest

from crm import services
from crm.models import Channel
from crm.permissions import Permission, viewer_for_credential


@pytest.mark.django_db
def test_a_credential_acts_with_its_roles_permissions(channel: Channel) -> None:
    role = services.role_create(channel=channel, name="exporter", permissions=["contacts_export"])
    issued = services.credential_create(channel=channel, role=role)

    viewer = viewer_for_credential(credential=issued.credential)
    assert viewer.channel == channel
    assert viewer.can(Permission.CONTACTS_EXPORT)
    assert not viewer.can(Permission.CONTACTS_VIEW)

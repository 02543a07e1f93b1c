"""The contact admin: a channel's contacts, each value shown through the masking policy of
its channel, searched and filtered only as that policy allows, deleted through the service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError, transaction
from django.db.models import F, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from contacts.admin import shown
from contacts.admin.contact_list import ContactTypeListFilter, SegmentListFilter, segment_too_slow
from contacts.admin.deletion import contacts_deletion_summary
from contacts.admin.search import SEARCHED, search_q, term_q
from contacts.filtering.search import searched_key
from contacts.models import Contact
from contacts.services.profile import contact_consent_set, contact_delete
from contacts.services.reveal import contact_value_reveal
from contacts.services.tags import contact_tags_set
from contacts.services.values import tags_clean
from crm.admin_scoping import ChannelListFilter
from crm.errors import InvalidInput, RateLimited
from crm.permissions import Permission, Viewer
from crm.selectors import channel_get, viewer_for_user
from crm.session_settings import settings_for_block, statement_timed_out
from masking.admin_policy import MaskedAdmin, request_policies
from masking.lookups import masked_lookups_charge
from profile_schema.cache import channel_fields, channel_version

# What the change form shows of the built-in columns, each masked per policy.
SHOWN_COLUMNS = (
    "member_id",
    "name",
    "city",
    "country",
    "language",
    "sessions_count",
    "last_seen_at",
    "web_browser",
    "web_browser_name",
    "web_os",
    "web_os_name",
    "web_device",
    "web_last_seen_at",
    "web_sessions_count",
    "mobile_app_name",
    "mobile_app_version",
    "mobile_os",
    "mobile_os_name",
    "mobile_device",
    "mobile_last_seen_at",
    "mobile_sessions_count",
    "has_push_token",
    "has_chat",
    "blocked",
    "blocked_at",
    "blocked_by",
    "blocked_reason",
    "created_at",
    "updated_at",
)
# The changelist's columns, masked per policy.
LISTED_COLUMNS = ("name", "member_id", "tags", "last_seen_at", "blocked")
# Form fields a manager edits, and the keys they hold: a key masked for the manager is shown
# masked instead, and left as it is.
EDITED_COLUMNS = ("tags", "unsubscribe_email", "unsubscribe_texting")
# The device id (veil_id) is never shown: it is a credential, since an SDK boot with it alone
# reads the anonymous contact or lead it names.
FIXED_COLUMNS = ("channel", "type")


def shown_name(column: str) -> str:
    return f"{column}_shown" if column in SHOWN_COLUMNS or column in EDITED_COLUMNS else column


class ContactForm(forms.ModelForm):
    """Managers edit tags and marketing consent here; built-in fields are read-only."""

    tags = forms.CharField(
        required=False,
        help_text="Comma-separated; at most 20, lowercase, no '.', '$', '/', '\\' or spaces.",
    )
    # Fields whose key is masked for the manager: left out, and left as they are.
    masked_columns: frozenset[str] = frozenset()

    class Meta:
        model = Contact
        fields = ["tags", "unsubscribe_email", "unsubscribe_texting"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for column in self.masked_columns:
            self.fields.pop(column, None)
        if self.instance.pk and "tags" in self.fields:
            self.initial["tags"] = ", ".join(self.instance.tags)

    def clean_tags(self) -> list[str]:
        raw = self.cleaned_data.get("tags") or ""
        try:
            return tags_clean(part for part in raw.split(",") if part.strip())
        except ValidationError as error:
            raise ValidationError(error.message_dict["tags"]) from error


class ContactChangeList(ChangeList):
    """The contacts changelist sorts only the ways an index reads a channel's contacts.

    A sort by a column without an index (type, blocked) sorted a whole tenant on every page:
    some 370 ms at 600,000 contacts. `last_seen_at` is sorted as `contact_last_seen_idx` reads,
    forwards (newest first, never-seen last) or backwards, unless it is masked for the manager
    in one of their channels; any other order asked in the URL falls back to the default,
    newest contact first (`contact_channel_id_idx`)."""

    def get_ordering(self, request: HttpRequest, queryset: QuerySet[Contact]) -> list[Any]:
        ordering = super().get_ordering(request, queryset)
        first = str(ordering[0]) if ordering else ""
        model_admin = self.model_admin
        assert isinstance(model_admin, ContactAdmin)
        if first.lstrip("-") == "last_seen_at" and model_admin.may_sort_last_seen(request):
            if first == "-last_seen_at":
                return [F("last_seen_at").desc(nulls_last=True), F("id").desc()]
            return [F("last_seen_at").asc(nulls_first=True), F("id").asc()]
        return ["-id"]


@admin.register(Contact)
class ContactAdmin(MaskedAdmin):
    view_permission = Permission.CONTACTS_VIEW
    edit_permission = Permission.CONTACTS_EDIT
    delete_permission = Permission.CONTACTS_DELETE
    form = ContactForm
    list_display = [
        "__str__",
        "name_listed",
        "member_id_listed",
        "type",
        "tags_listed",
        "last_seen_at_listed",
        "blocked_listed",
        "channel",
    ]
    list_filter = [ContactTypeListFilter, "blocked", ChannelListFilter, SegmentListFilter]
    list_select_related = ["channel"]
    search_fields = ["member_id"]  # the search box runs the product's quick search instead
    column_keys = shown.COLUMN_KEYS

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ContactChangeList

    def may_sort_last_seen(self, request: HttpRequest) -> bool:
        return not self.masked_somewhere(request, "lastSeenAt")

    def get_sortable_by(self, request: HttpRequest) -> Any:
        return ["last_seen_at_listed"] if self.may_sort_last_seen(request) else []

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The list, run under the list's statement timeout as the API's is: a segment that
        takes longer is a message naming the fields to mark indexed, over the list without it."""
        if request.method != "GET":  # actions on selected contacts keep the usual bounds
            return super().changelist_view(request, extra_context)
        timeout = int(settings.LIST_STATEMENT_TIMEOUT_MS)
        try:
            with settings_for_block({"statement_timeout": str(timeout)}):
                return super().changelist_view(request, extra_context)  # rendered within
        except OperationalError as error:
            if not statement_timed_out(error) or "segment" not in request.GET:
                raise
            self.message_user(request, segment_too_slow(request, timeout), messages.ERROR)
            rest = request.GET.copy()
            del rest["segment"]
            return HttpResponseRedirect(f"{request.path}?{rest.urlencode()}")

    # The change form -----------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        def named(*columns: str) -> list[str]:
            return [self._form_column(obj, column) for column in columns]

        web = [c for c in SHOWN_COLUMNS if c.startswith("web_")]
        app = [c for c in SHOWN_COLUMNS if c.startswith("mobile_")]
        return [
            (None, {"fields": named("channel", "type", "member_id", "name", "tags")}),
            ("Profile", {"fields": ["profile_shown"]}),
            ("Marketing consent", {"fields": named("unsubscribe_email", "unsubscribe_texting")}),
            (
                "Visits",
                {
                    "fields": named(
                        "city",
                        "country",
                        "language",
                        "sessions_count",
                        "last_seen_at",
                        "has_push_token",
                        "has_chat",
                    )
                },
            ),
            ("Web", {"classes": ["collapse"], "fields": named(*web)}),
            ("App", {"classes": ["collapse"], "fields": named(*app)}),
            ("Blocked", {"fields": named("blocked", "blocked_at", "blocked_by", "blocked_reason")}),
            (None, {"fields": named("created_at", "updated_at")}),
        ]

    def _form_column(self, obj: Contact | None, column: str) -> str:
        """The change form's entry for COLUMN: the form field, or its masked display."""
        if column in EDITED_COLUMNS and column not in self._masked_columns(obj):
            return column
        return shown_name(column)

    def _masked_columns(self, obj: Contact | None) -> frozenset[str]:
        if obj is None:
            return frozenset(EDITED_COLUMNS)
        policy = self.policy_of(obj)
        return frozenset(c for c in EDITED_COLUMNS if policy.is_masked(shown.COLUMN_KEYS[c]))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        masked = self._masked_columns(obj)
        edited_shown = [shown_name(c) for c in EDITED_COLUMNS if c in masked]
        return [*FIXED_COLUMNS, "profile_shown", *map(shown_name, SHOWN_COLUMNS), *edited_shown]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        form.masked_columns = self._masked_columns(obj)  # type: ignore[attr-defined]
        return form

    @admin.display(description="profile")
    def profile_shown(self, obj: Contact) -> str:
        """The profile field by field, by display name, in the channel's order, masked."""
        fields = channel_fields(channel_id=obj.channel_id, version=channel_version(obj.channel))
        rows = shown.profile_rows(obj, self.policy_of(obj), fields, self.reveal_url(obj))
        return shown.profile_table(rows)

    def reveal_url(self, obj: Contact) -> str:
        return reverse("admin:contacts_contact_reveal", args=[obj.pk])

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Contacts come from the SDK, the API and imports, which apply the profile rules.
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """The quick search of the desk and the API: name, mobile number, email, member id,
        each channel's contacts as its policy allows (contacts.admin.search)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        policies = request_policies(request)
        ids = self.channel_ids(request, self.view_permission)
        try:
            if ids is None:  # a superuser, who may reveal everywhere: searches every key
                found = term_q(term, partial=SEARCHED, whole=frozenset())
            else:
                found = search_q(term, [(pk, policies.of_id(pk)) for pk in ids])
                self._masked_lookup_charge(request, term, ids, policies)
        except InvalidInput:
            return queryset.none(), False
        except RateLimited as refused:
            messages.error(request, str(refused))
            return queryset.none(), False
        return queryset.filter(found), False

    def _masked_lookup_charge(
        self, request: HttpRequest, term: str, ids: list[int], policies: Any
    ) -> None:
        """A search by a whole value of a key masked for the manager counts against their
        budget (masking.lookups) in each channel where it is masked."""
        key = searched_key(term)
        for channel_id in ids:
            if key is None or policies.of_id(channel_id).may_match_partially(key):
                continue
            channel = channel_get(channel_id=channel_id)
            viewer = viewer_for_user(user=request.user, channel=channel) if channel else None
            if viewer is not None:
                masked_lookups_charge(viewer=viewer, count=1)

    def save_model(self, request: HttpRequest, obj: Contact, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if "tags" in data:
            contact_tags_set(contact=obj, tags=data["tags"])
        if "unsubscribe_email" in data or "unsubscribe_texting" in data:
            contact_consent_set(
                contact=obj,
                unsubscribe_email=data.get("unsubscribe_email", obj.unsubscribe_email),
                unsubscribe_texting=data.get("unsubscribe_texting", obj.unsubscribe_texting),
            )

    # The reveal ---------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        reveal = path(
            "<path:object_id>/reveal/",
            self.admin_site.admin_view(self.reveal_view),
            name="contacts_contact_reveal",
        )
        return [reveal, *super().get_urls()]

    def reveal_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """One masked value of one contact, answered to a manager with `sensitive_view` and
        recorded in the audit log (contacts.services.reveal); the eye buttons post here."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        contact = self.get_object(request, unquote(object_id))
        if contact is None or not self.has_view_permission(request, contact):
            raise Http404("No such contact.")
        viewer = viewer_for_user(user=request.user, channel=contact.channel)
        if viewer is None:
            raise PermissionDenied
        key = request.POST.get("reveal", "")
        try:
            revealed = contact_value_reveal(viewer=viewer, contact=contact, key=key)
        except InvalidInput as refused:
            self.message_user(request, refused.message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:contacts_contact_change", args=[contact.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"{self._label_of(contact, revealed.key)} of {contact}",
            "opts": self.opts,
            "original": contact,
            "key": revealed.key,
            "value": shown.profile_value_text(revealed.value) if revealed.value is not None else "",
        }
        return TemplateResponse(request, "admin/contacts/contact/reveal.html", context)

    @staticmethod
    def _label_of(contact: Contact, key: str) -> str:
        fields = channel_fields(
            channel_id=contact.channel_id, version=channel_version(contact.channel)
        )
        return next((field.name for field in fields if field.key == key), key)

    # Deleting -----------------------------------------------------------------------------

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        """What a delete confirmation lists: each contact by its id and its name as the
        manager sees it, and how many of the rows held on them go with them (never a message's
        text or an event's properties)."""
        contacts = list(objs)
        listed = [
            format_html(
                '{}: <a href="{}">{}</a> ({})',
                "Contact",
                reverse("admin:contacts_contact_change", args=[contact.pk]),
                contact,
                shown.column_shown(contact, "name", self.policy_of(contact), ""),
            )
            for contact in contacts
        ]
        counts = contacts_deletion_summary(contacts)
        allowed = all(self.has_delete_permission(request, contact) for contact in contacts)
        return listed, counts, set() if allowed else {"contact"}, []

    def delete_model(self, request: HttpRequest, obj: Contact) -> None:
        contact_delete(viewer=self._deleting_viewer(request, obj), contact=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        found = list(queryset.select_related("channel"))
        viewers = [self._deleting_viewer(request, contact) for contact in found]  # all, first
        with transaction.atomic():
            for contact, viewer in zip(found, viewers, strict=True):
                contact_delete(viewer=viewer, contact=contact)

    def _deleting_viewer(self, request: HttpRequest, contact: Contact) -> Viewer:
        """Who the manager is in CONTACT's channel, where they must hold contacts_delete: the
        service deletes (and records it) as them."""
        viewer = viewer_for_user(user=request.user, channel=contact.channel)
        if viewer is None or not viewer.can(Permission.CONTACTS_DELETE):
            raise PermissionDenied("You may not delete this channel's contacts.")
        return viewer


# One display method per column, masked by the row's policy: `member_id_shown` in the change
# form (with the eye button), `member_id_listed` in the list.
for _column in SHOWN_COLUMNS + EDITED_COLUMNS:
    setattr(ContactAdmin, shown_name(_column), shown.column_display(_column, in_form=True))
for _column in LISTED_COLUMNS:
    _display = shown.column_display(
        _column, in_form=False, ordering="last_seen_at" if _column == "last_seen_at" else None
    )
    setattr(ContactAdmin, f"{_column}_listed", _display)

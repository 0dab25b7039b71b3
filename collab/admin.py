"""Admin pages of collab: documents with their history (op log, snapshots, past text)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from . import services
from .history import text_at
from .models import Document, DocumentOp, Peer, Snapshot

HISTORY_PAGE = 100
PREVIEW_LENGTH = 2000


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Rows written only by the services (the op log, snapshots, peers)."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin[Document]):
    """Title, access and editors are editable here; the text changes only through ops."""

    list_display = ["id", "title", "owner", "access", "version", "updated", "history_link"]
    list_filter = ["access"]
    search_fields = ["title", "owner__username"]
    list_select_related = ["owner"]
    filter_horizontal = ["editors"]
    raw_id_fields = ["owner"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Document]:
        # The text can be a million code points: load it only where it is shown.
        return super().get_queryset(request).defer("content")

    def get_fields(self, request: HttpRequest, obj: Document | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("title", "owner", "access", "editors", "content")
        return ("title", "owner", "access", "editors", "version", "updated", "preview")

    def get_readonly_fields(
        self, request: HttpRequest, obj: Document | None = None
    ) -> tuple[str, ...]:
        return () if obj is None else ("version", "updated", "preview")

    @admin.display(description="text (start)")
    def preview(self, obj: Document) -> str:
        more = "…" if len(obj.content) > PREVIEW_LENGTH else ""
        return format_html("<pre>{}{}</pre>", obj.content[:PREVIEW_LENGTH], more)

    @admin.display(description="history")
    def history_link(self, obj: Document) -> str:
        url = reverse("admin:collab_document_ops", args=[obj.pk])
        return format_html('<a href="{}">history</a>', url)

    def save_model(
        self, request: HttpRequest, obj: Document, form: ModelForm[Any], change: bool
    ) -> None:
        if change:
            obj.save(update_fields=["title", "owner", "access"])
            return
        created = services.doc_create(
            owner=obj.owner, title=obj.title, content=obj.content, access=obj.access
        )
        obj.pk, obj.created, obj.updated = created.pk, created.created, created.updated
        obj._state.adding = False

    def get_urls(self) -> list[URLPattern]:
        history = path(
            "<int:doc_id>/ops/",
            self.admin_site.admin_view(self.ops_view),
            name="collab_document_ops",
        )
        return [history, *super().get_urls()]

    def ops_view(self, request: HttpRequest, doc_id: int) -> HttpResponse:
        """The op log (newest first, in pages), the snapshots, and the text at ?version=N."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        document = get_object_or_404(Document, pk=doc_id)
        ops = DocumentOp.objects.filter(document=document).select_related("user")
        before = request.GET.get("before", "")
        if before.isdigit():
            ops = ops.filter(version__lt=int(before))
        page = list(ops.order_by("-version")[:HISTORY_PAGE])
        version = request.GET.get("version", "")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"History of “{document.title}”",
            "document": document,
            "ops": page,
            "next_before": page[-1].version if len(page) == HISTORY_PAGE else None,
            "snapshots": Snapshot.objects.filter(document=document).values("version", "created"),
            "version": int(version) if version.isdigit() else None,
        }
        if context["version"] is not None:
            context["text"] = text_at(document_id=document.pk, version=context["version"])
        return TemplateResponse(request, "collab/admin_ops.html", context)


@admin.register(DocumentOp)
class DocumentOpAdmin(ReadOnlyAdmin):
    list_display = ["document", "version", "base_version", "user", "client", "op_id", "created"]
    list_filter = ["document"]
    list_select_related = ["document", "user"]


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdmin):
    list_display = ["document", "version", "created"]
    list_filter = ["document"]
    list_select_related = ["document"]


@admin.register(Peer)
class PeerAdmin(ReadOnlyAdmin):
    """Sockets open on documents right now, across all server processes."""

    list_display = ["connection", "document", "user", "position", "selection_end", "version"]
    list_select_related = ["document", "user"]

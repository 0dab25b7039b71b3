"""REST routes of collab, mounted under /api/."""

from __future__ import annotations

from django.urls import path

from .api import DocDetailView, DocListView

urlpatterns = [
    path("docs/", DocListView.as_view(), name="docs"),
    path("docs/<int:doc_id>/", DocDetailView.as_view(), name="doc"),
]

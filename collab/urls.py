"""Page routes of collab."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "collab"
urlpatterns = [
    path("", views.doc_list, name="doc-list"),
    path("<int:doc_id>/", views.doc_page, name="doc"),
]

"""REST routes of chat, mounted under /api/."""

from __future__ import annotations

from django.urls import path

from .api import RoomListView, RoomMessagesView

urlpatterns = [
    path("rooms/", RoomListView.as_view(), name="rooms"),
    path("rooms/<slug:slug>/messages/", RoomMessagesView.as_view(), name="room-messages"),
]

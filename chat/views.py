"""Chat pages: the room list (with a form to create one) and a room."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from realtime.frames import Frame, user_json

from . import services
from .models import ReadMarker, Room
from .selectors import room_may_enter, rooms_visible_to


class RoomForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=100)
    is_private = forms.BooleanField(required=False, label="Private (members only)")


@login_required
def room_list(request: HttpRequest) -> HttpResponse:
    form = RoomForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            room = services.room_create(creator=request.user, **form.cleaned_data)  # type: ignore[arg-type]
        except IntegrityError:
            form.add_error("slug", "A room with this slug exists.")
        else:
            return redirect("chat:room", slug=room.slug)
    rooms = rooms_visible_to(user=request.user)  # type: ignore[arg-type]
    return render(request, "chat/room_list.html", {"rooms": rooms, "form": form})


@login_required
def room_page(request: HttpRequest, slug: str) -> HttpResponse:
    room = get_object_or_404(Room, slug=slug)
    if not room_may_enter(room=room, user=request.user):  # type: ignore[arg-type]
        # Nothing of the room is shown: its name is for its members only.
        return render(request, "chat/forbidden.html", status=403)
    return render(request, "chat/room.html", {"room": room, "read_markers": _read_markers(room)})


def _read_markers(room: Room) -> list[Frame]:
    """How far each reader got, as `read` frames carry it: the page shows "seen by" from these."""
    markers = ReadMarker.objects.filter(room=room, last_seq__gt=0).select_related("user")
    return [{"user": user_json(marker.user), "last_seq": marker.last_seq} for marker in markers]

from django.contrib import admin

from .models import Message, ReadMarker, Room


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin[Room]):
    list_display = ["slug", "name", "is_private", "last_seq", "created"]
    search_fields = ["slug", "name"]
    filter_horizontal = ["members"]
    readonly_fields = ["last_seq"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin[Message]):
    """Messages are read-only here: posting goes through the service, which broadcasts."""

    list_display = ["room", "seq", "user", "body", "created"]
    list_filter = ["room"]
    search_fields = ["body", "user__username"]
    list_select_related = ["room", "user"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(ReadMarker)
class ReadMarkerAdmin(admin.ModelAdmin[ReadMarker]):
    list_display = ["room", "user", "last_seq", "updated"]
    list_select_related = ["room", "user"]

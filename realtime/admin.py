from django.contrib import admin

from .logins import AdminLoginForm
from .models import Connection, ServerProcess

# The admin's login counts failed logins with the login page and the API (logins.py).
admin.site.login_form = AdminLoginForm


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin[Connection]):
    """Open sockets of every process; rows come and go with the sockets themselves."""

    list_display = ["id", "user", "endpoint", "target", "ip", "process", "connected", "last_seen"]
    list_filter = ["endpoint", "process"]
    search_fields = ["user__username", "target", "ip"]
    list_select_related = ["user"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(ServerProcess)
class ServerProcessAdmin(admin.ModelAdmin[ServerProcess]):
    list_display = ["id", "hostname", "pid", "started", "last_heartbeat"]

    def has_add_permission(self, request: object) -> bool:
        return False

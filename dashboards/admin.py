from typing import Any

from django import forms
from django.contrib import admin

from .catalog import METRIC_CHOICES
from .models import Dashboard, DashboardState, EngagementEvent


class DashboardForm(forms.ModelForm[Dashboard]):
    metrics = forms.MultipleChoiceField(
        choices=METRIC_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tiles are shown in this order.",
    )

    class Meta:
        model = Dashboard
        fields = ["slug", "title", "metrics", "staff_only", "show_sales", "position"]


class DashboardStateInline(admin.StackedInline[DashboardState, Dashboard]):
    """What the dashboard last published, and which process published it (read-only)."""

    model = DashboardState
    readonly_fields = ["seq", "metrics", "last_order_id", "checked", "published", "publisher"]
    can_delete = False
    extra = 0
    max_num = 0
    verbose_name_plural = "published state (the publisher is the process holding the lease)"


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin[Dashboard]):
    form = DashboardForm
    list_display = ["title", "slug", "staff_only", "show_sales", "position", "seq", "publisher"]
    list_select_related = ["state"]
    search_fields = ["slug", "title"]
    inlines = [DashboardStateInline]

    @admin.display(description="seq")
    def seq(self, obj: Dashboard) -> Any:
        state = getattr(obj, "state", None)
        return state.seq if state else "-"

    @admin.display(description="last published by")
    def publisher(self, obj: Dashboard) -> Any:
        state = getattr(obj, "state", None)
        return state.publisher if state and state.publisher else "-"


@admin.register(EngagementEvent)
class EngagementEventAdmin(admin.ModelAdmin[EngagementEvent]):
    """Events are read-only here: they are recorded through the API or the service."""

    list_display = ["kind", "user", "created"]
    list_filter = ["kind"]
    list_select_related = ["user"]
    date_hierarchy = "created"

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

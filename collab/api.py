"""REST endpoints of collab: create, list and read documents (PROTOCOL.md, REST API)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime.errors import FrameError
from realtime.fields import DB_INT_MAX, has_lone_surrogate

from . import services
from .models import MAX_ID, TITLE_MAX_LENGTH, Document
from .selectors import doc_json, doc_may_read, doc_summary_json, docs_visible_to


class StrictCharField(serializers.CharField):
    """A JSON string only: numbers and booleans are not quietly turned into text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class DocIn(serializers.Serializer[Any]):
    title = StrictCharField(max_length=TITLE_MAX_LENGTH)
    content = StrictCharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    access = serializers.ChoiceField(choices=Document.Access.values, default=Document.Access.PUBLIC)
    editors = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=DB_INT_MAX),
        required=False,
        default=list,
        max_length=1000,
    )

    def validate_title(self, value: str) -> str:
        if has_lone_surrogate(value):
            raise serializers.ValidationError("Not valid Unicode.")
        return value

    def validate_content(self, value: str) -> str:
        try:
            services.doc_check_text(value)
        except FrameError as exc:
            raise serializers.ValidationError(exc.message) from None
        return value

    def validate_editors(self, value: list[int]) -> list[int]:
        # A deactivated user is answered as a missing one: ids tell nothing more.
        active = get_user_model().objects.filter(pk__in=value, is_active=True)
        found = set(active.values_list("pk", flat=True))
        missing = sorted(set(value) - found)
        if missing:
            raise serializers.ValidationError(f"No such users: {missing}.")
        return value


class DocOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    access = serializers.CharField()
    version = serializers.IntegerField()
    content = serializers.CharField()


class DocSummaryOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    access = serializers.CharField()
    version = serializers.IntegerField()
    owner = serializers.DictField()
    updated = serializers.IntegerField(help_text="ms since the Unix epoch")


class DocListView(APIView):
    """Documents the user may open (without their text); create a document."""

    @extend_schema(responses=DocSummaryOut(many=True))
    def get(self, request: Request) -> Response:
        documents = docs_visible_to(user=request.user)  # type: ignore[arg-type]
        return Response([doc_summary_json(document) for document in documents])

    @extend_schema(request=DocIn, responses={201: DocOut})
    def post(self, request: Request) -> Response:
        form = DocIn(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        document = services.doc_create(
            owner=request.user,  # type: ignore[arg-type]
            title=data["title"],
            content=data["content"],
            access=data["access"],
            editor_ids=data["editors"],
        )
        return Response(doc_json(document), status=status.HTTP_201_CREATED)


class DocDetailView(APIView):
    """One document with its text at its current version."""

    @extend_schema(responses=DocOut)
    def get(self, request: Request, doc_id: int) -> Response:
        if doc_id > MAX_ID:
            raise exceptions.NotFound()
        document = get_object_or_404(Document, pk=doc_id)
        if not doc_may_read(document=document, user=request.user):  # type: ignore[arg-type]
            raise exceptions.PermissionDenied("This document is private.")
        return Response(doc_json(document))

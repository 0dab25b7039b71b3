"""Collab pages: the document list (with a form to create one) and the editor."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from . import services
from .models import MAX_ID, TITLE_MAX_LENGTH, Document
from .selectors import doc_may_edit, doc_may_read, docs_visible_to


class DocumentForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX_LENGTH)
    access = forms.ChoiceField(choices=Document.Access.choices, initial=Document.Access.PUBLIC)


@login_required
def doc_list(request: HttpRequest) -> HttpResponse:
    form = DocumentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        document = services.doc_create(owner=request.user, **form.cleaned_data)  # type: ignore[arg-type]
        return redirect("collab:doc", doc_id=document.pk)
    documents = docs_visible_to(user=request.user)  # type: ignore[arg-type]
    return render(request, "collab/doc_list.html", {"documents": documents, "form": form})


@login_required
def doc_page(request: HttpRequest, doc_id: int) -> HttpResponse:
    if doc_id > MAX_ID:
        raise Http404
    document = get_object_or_404(Document, pk=doc_id)
    user = request.user
    if not doc_may_read(document=document, user=user):  # type: ignore[arg-type]
        # Nothing of the document is shown: its title is for those who may read it.
        return render(request, "collab/forbidden.html", status=403)
    can_edit = doc_may_edit(document=document, user=user)  # type: ignore[arg-type]
    return render(request, "collab/editor.html", {"document": document, "can_edit": can_edit})

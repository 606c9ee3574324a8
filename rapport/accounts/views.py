"""Login, logout and the settings pages: profile, API tokens, users and teams, custom fields, roles."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LoginView, LogoutView
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from rapport.accounts import selectors, services
from rapport.accounts.forms import (
    CustomFieldForm,
    EmailLoginForm,
    TeamForm,
    TokenForm,
    UserCreateForm,
    UserUpdateForm,
)
from rapport.accounts.roles import OBJECT_TYPES, ROLE_SCOPES, Role
from rapport.core import selectors as core_selectors
from rapport.core import services as core_services
from rapport.core.choices import Scope
from rapport.core.errors import NotFound, PermissionDenied, RapportError
from rapport.core.permissions import is_admin
from rapport.web.ui import apply_errors, split_list

login = login_not_required(LoginView.as_view(
    template_name="accounts/login.html", authentication_form=EmailLoginForm,
    redirect_authenticated_user=True,
))
logout = LogoutView.as_view()


def _render(request, template, section, context):
    context.update(settings_section=section, is_admin=is_admin(request.user))
    return render(request, template, context)


def profile(request):
    return _render(request, "accounts/profile.html", "profile", {})


def tokens(request):
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        try:
            _token, new_token = services.token_create(user=request.user,
                                                     name=form.cleaned_data["name"])
            form = TokenForm()
        except RapportError as exc:
            apply_errors(form, exc)
    return _render(request, "accounts/tokens.html", "tokens", {
        "form": form, "new_token": new_token, "tokens": list(selectors.token_list(user=request.user)),
    })


@require_POST
def token_revoke(request, token_id: int):
    try:
        token = services.token_revoke(actor=request.user, token_id=token_id)
    except NotFound:
        raise Http404() from None
    messages.success(request, f"Token “{token.name}” revoked. Programs using it can no longer sign in.")
    return redirect("settings:tokens")


def users(request):
    teams = list(selectors.team_list())
    user_form = UserCreateForm(prefix="user", teams=teams)
    team_form = TeamForm(prefix="team")
    if request.method == "POST":
        try:
            if "add_user" in request.POST:
                user_form = UserCreateForm(request.POST, prefix="user", teams=teams)
                if user_form.is_valid():
                    data = user_form.cleaned_data
                    created = services.user_create(
                        actor=request.user, email=data["email"], full_name=data["full_name"],
                        role=data["role"], team_id=int(data["team_id"]) if data["team_id"] else None,
                        password=data["password"] or None)
                    messages.success(request, f"Added {created}.")
                    return redirect("settings:users")
            elif "add_team" in request.POST:
                team_form = TeamForm(request.POST, prefix="team")
                if team_form.is_valid():
                    team = services.team_create(actor=request.user,
                                                name=team_form.cleaned_data["name"])
                    messages.success(request, f"Team “{team}” created.")
                    return redirect("settings:users")
        except PermissionDenied as exc:
            messages.error(request, exc.message)
            return redirect("settings:users")
        except RapportError as exc:
            apply_errors(user_form if "add_user" in request.POST else team_form, exc)
    people = list(selectors.user_list())
    admin = is_admin(request.user)
    rows = [(person, UserUpdateForm(prefix=f"u{person.pk}", teams=teams,
                                    initial={"role": person.role, "team_id": person.team_id or ""})
             if admin else None) for person in people]
    return _render(request, "accounts/users.html", "users", {
        "rows": rows, "teams": teams, "user_form": user_form, "team_form": team_form,
    })


@require_POST
def user_update(request, user_id: int):
    person = selectors.user_list().filter(pk=user_id).first()
    if person is None:
        raise Http404()
    form = UserUpdateForm(request.POST, prefix=f"u{person.pk}", teams=selectors.team_list())
    if form.is_valid():
        try:
            services.user_update(
                actor=request.user, user=person, role=form.cleaned_data["role"],
                team_id=int(form.cleaned_data["team_id"]) if form.cleaned_data["team_id"] else None)
            messages.success(request, f"Updated {person}.")
        except RapportError as exc:
            messages.error(request, " ".join(m for msgs in exc.fields.values() for m in msgs)
                           or exc.message)
    else:
        messages.error(request, "Choose a valid role and team.")
    return redirect("settings:users")


def custom_fields(request):
    form = CustomFieldForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            definition = core_services.custom_field_create(
                actor=request.user, object_type=data["object_type"], key=data["key"],
                label=data["label"], type=data["type"], options=split_list(data["options"]),
                is_required=data["is_required"], help_text=data["help_text"])
            messages.success(request, f"Custom field “{definition.label}” added.")
            return redirect("settings:custom_fields")
        except PermissionDenied as exc:
            messages.error(request, exc.message)
            return redirect("settings:custom_fields")
        except RapportError as exc:
            apply_errors(form, exc)
    definitions = list(core_selectors.custom_field_list())
    return _render(request, "accounts/custom_fields.html", "custom_fields", {
        "form": form,
        "groups": [("Contact fields", [d for d in definitions if d.object_type == "contact"]),
                   ("Company fields", [d for d in definitions if d.object_type == "company"]),
                   ("Deal fields", [d for d in definitions if d.object_type == "deal"]),
                   ("Lead fields", [d for d in definitions if d.object_type == "lead"])],
    })


def custom_field_delete(request, field_id: int):
    definition = core_selectors.custom_field_list().filter(pk=field_id).first()
    if definition is None:
        raise Http404()
    if request.method == "POST":
        try:
            core_services.custom_field_delete(actor=request.user, definition=definition)
            messages.success(request, f"Custom field “{definition.label}” deleted.")
        except PermissionDenied as exc:
            messages.error(request, exc.message)
        return redirect("settings:custom_fields")
    return _render(request, "accounts/custom_field_delete.html", "custom_fields",
                   {"definition": definition})


def roles(request):
    labels = dict(Scope.choices)
    matrix = [(Role(role).label, [labels[scopes[t]] for t in OBJECT_TYPES])
              for role, scopes in ROLE_SCOPES.items()]
    return _render(request, "accounts/roles.html", "roles", {
        "object_types": OBJECT_TYPES, "matrix": matrix,
    })

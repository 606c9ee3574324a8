"""Login and settings forms. They shape input; the services validate and write."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from rapport.accounts.roles import Role
from rapport.core.choices import CustomFieldType


class EmailLoginForm(AuthenticationForm):
    """Django's login form with the username field shown as Email (axes reads `username`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email"
        self.fields["username"].widget = forms.EmailInput(
            attrs={"autocomplete": "email", "autofocus": True, "maxlength": 254})
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"


class TokenForm(forms.Form):
    name = forms.CharField(label="Token name", max_length=80,
                           help_text="What the token is for, such as “Zapier” or “backup script”.")


class TeamForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=80)


def _team_choices(teams):
    return [("", "— No team —")] + [(t.pk, t.name) for t in teams]


class UserCreateForm(forms.Form):
    full_name = forms.CharField(label="Full name", max_length=150)
    email = forms.CharField(label="Email", max_length=254, widget=forms.EmailInput)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.SALES)
    team_id = forms.ChoiceField(label="Team", required=False)
    password = forms.CharField(label="Password", required=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                               help_text="Optional. Without one, the user cannot log in yet.")

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team_id"].choices = _team_choices(teams)


class UserUpdateForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)
    team_id = forms.ChoiceField(label="Team", required=False)

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team_id"].choices = _team_choices(teams)


class CustomFieldForm(forms.Form):
    object_type = forms.ChoiceField(label="Record", choices=[("contact", "Contact"),
                                                            ("company", "Company"),
                                                            ("deal", "Deal"),
                                                            ("lead", "Lead")])
    label = forms.CharField(label="Label", max_length=100)
    key = forms.CharField(label="Key", max_length=64,
                          help_text="Lower-case letters, digits and _; used by the API and "
                                    "imports. It cannot change later.")
    type = forms.ChoiceField(label="Type", choices=CustomFieldType.choices)
    options = forms.CharField(label="Options", required=False, max_length=5000,
                              help_text="For select fields: options separated by commas.")
    is_required = forms.BooleanField(label="Required", required=False)
    help_text = forms.CharField(label="Help text", required=False, max_length=200)

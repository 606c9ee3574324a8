from django import forms

from rapport.mail.models import MailboxSecurity, UnknownSenders


class MailboxForm(forms.Form):
    """Add a mailbox, or change one (`editing`: an empty password keeps the saved one)."""

    name = forms.CharField(label="Name", max_length=120,
                           widget=forms.TextInput(attrs={"placeholder": "Sales inbox"}))
    host = forms.CharField(label="IMAP server", max_length=253,
                           widget=forms.TextInput(attrs={"placeholder": "imap.example.com",
                                                         "autocapitalize": "none"}))
    security = forms.ChoiceField(label="Security", choices=MailboxSecurity.choices,
                                 initial=MailboxSecurity.SSL)
    port = forms.IntegerField(label="Port", min_value=1, max_value=65535, required=False,
                              help_text="Leave empty for the usual one: 993 with SSL/TLS, 143 otherwise.")
    username = forms.CharField(label="User name", max_length=254, strip=True,
                               widget=forms.TextInput(attrs={"autocomplete": "off",
                                                             "autocapitalize": "none"}))
    password = forms.CharField(label="Password", max_length=500, strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    folder = forms.CharField(label="Folder", max_length=200, initial="INBOX", required=False,
                             help_text="Empty means INBOX.")
    unknown_senders = forms.ChoiceField(
        label="Mail from an address no contact or lead has", choices=UnknownSenders.choices,
        initial=UnknownSenders.IGNORE, required=False,
        help_text="A new lead gets the source “Email” and an owner from the lead assignment "
                  "rules. Bounces, auto-replies, mailing lists and colleagues never become "
                  "contacts or leads.")

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["password"].required = False
            self.fields["password"].help_text = "Leave empty to keep the saved password."

    def data_for_service(self) -> dict:
        data = dict(self.cleaned_data)
        if not data.get("password"):
            data.pop("password", None)
        if data.get("port") is None:
            data.pop("port", None)
        if not data.get("unknown_senders"):
            data.pop("unknown_senders", None)  # left out: ignore when new, unchanged when saved
        return data

from django import forms

from rapport.mail import merge

MERGE_HELP = ("Merge fields such as {{ contact.first_name|default:\"there\" }} fill in each "
              "recipient's details; the body is Markdown.")


class TemplateForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120)
    subject = forms.CharField(label="Subject", max_length=300)
    body = forms.CharField(label="Body", max_length=50_000, help_text=MERGE_HELP,
                           widget=forms.Textarea(attrs={"rows": 12, "class": "mono"}))


class IdentityForm(forms.Form):
    display_name = forms.CharField(label="Name on your messages", max_length=120, required=False,
                                   help_text="Leave empty to use your full name.")
    reply_to = forms.CharField(label="Replies go to", max_length=254, required=False,
                               widget=forms.EmailInput(), help_text="Leave empty for your own address.")
    signature = forms.CharField(label="Signature", max_length=2000, required=False,
                                help_text="Markdown; added below every message you send.",
                                widget=forms.Textarea(attrs={"rows": 4}))


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented recipe); cleans to a list."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)] if data else []


class ComposeForm(forms.Form):
    template_id = forms.TypedChoiceField(label="Template", required=False, coerce=int,
                                         empty_value=None)
    to = forms.CharField(label="To", max_length=2000,
                         help_text="Addresses separated by commas.")
    cc = forms.CharField(label="Cc", max_length=2000, required=False)
    subject = forms.CharField(label="Subject", max_length=300, required=False)
    body = forms.CharField(label="Message", max_length=50_000, required=False, help_text=MERGE_HELP,
                           widget=forms.Textarea(attrs={"rows": 12}))
    attachments = MultipleFileField(label="Attachments", required=False)

    def __init__(self, *args, templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template_id"].choices = [("", "No template")] + [
            (t.pk, t.name) for t in templates]
        self.merge_fields = merge.field_list()
        self.filters = sorted(merge.FILTERS)

from django import forms


class WebhookForm(forms.Form):
    url = forms.CharField(label="Receiver URL", max_length=2000,
                          widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/rapport"}))
    events = forms.CharField(label="Events", max_length=2000, initial="*",
                             help_text="Event types or patterns, separated by spaces or commas: "
                                       "contact.created, deal.*, or * for every event.")
    description = forms.CharField(label="Description", max_length=200, required=False)

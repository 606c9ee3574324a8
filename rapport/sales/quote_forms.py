"""Forms for products, price books, quote settings and quotes. They only shape input: the
services in rapport.sales.quote_services validate it (decimals arrive as text)."""

from django import forms

DECIMAL = {"inputmode": "decimal", "autocomplete": "off"}


def _text(label, max_length=200, **kwargs):
    return forms.CharField(label=label, required=False, max_length=max_length, **kwargs)


def _decimal(label, **kwargs):
    return forms.CharField(label=label, required=False, max_length=24,
                           widget=forms.TextInput(attrs=DECIMAL), **kwargs)


# Settings → Products ---------------------------------------------------------------------

class ProductForm(forms.Form):
    name = _text("Name", 200, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    sku = _text("SKU", 64, widget=forms.TextInput(attrs={"autocomplete": "off"}),
                help_text="Optional; unique whatever its case.")
    tax_rate = _decimal("Tax rate (%)", help_text="Copied onto each quote line.")
    description = _text("Description", 5000, widget=forms.Textarea(attrs={"rows": 3}))
    active = forms.BooleanField(label="Active (offered on new quote lines)", required=False,
                                initial=True)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, books=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.books = list(books)
        for book in self.books:
            self.fields[f"price_{book.pk}"] = _decimal(
                f"Price in {book.name} ({book.currency})",
                help_text="Leave empty for no price in this book.")

    def price_fields(self):
        return [self[f"price_{book.pk}"] for book in self.books]

    def detail_fields(self):
        return [self[name] for name in ("name", "sku", "tax_rate", "description", "active")]

    @staticmethod
    def initial_for(product) -> dict:
        initial = {"name": product.name, "sku": product.sku, "tax_rate": f"{product.tax_rate}",
                   "description": product.description, "active": product.active,
                   "version": product.version}
        for entry in product.prices.all():
            initial[f"price_{entry.price_book_id}"] = f"{entry.unit_price}"
        return initial

    def to_data(self, *, creating: bool) -> dict:
        data = {name: self.cleaned_data[name] for name in ("name", "sku", "description", "active")}
        if self.cleaned_data["tax_rate"] or not creating:
            data["tax_rate"] = self.cleaned_data["tax_rate"] or "0"
        prices = []
        for book in self.books:
            raw = self.cleaned_data.get(f"price_{book.pk}", "").strip()
            if raw or not creating:
                prices.append({"price_book_id": book.pk, "unit_price": raw or None})
        data["prices"] = prices
        self.sent_books = [price["price_book_id"] for price in prices]  # errors name an index
        return data


class PriceBookForm(forms.Form):
    name = _text("Name", 100)
    currency = forms.ChoiceField(label="Currency")
    is_default = forms.BooleanField(label="Default for its currency", required=False,
                                    help_text="Prices new quotes in this currency.")

    def __init__(self, *args, currencies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = list(currencies)


class QuoteSettingsForm(forms.Form):
    approval_discount_limit = _decimal(
        "Approval needed above this line discount (%)",
        help_text="A quote with any line discounted more than this, counting the discount on "
                  "the whole quote too, needs a manager's approval.")
    approval_total_limit = _decimal(
        "Approval needed above this total",
        help_text="In the quote's own currency. Empty: no limit on the total.")
    default_valid_days = forms.IntegerField(label="New quotes are valid for (days)", min_value=1,
                                            max_value=3650)
    default_terms = _text("Default terms", 10_000, widget=forms.Textarea(attrs={"rows": 4}))

    @staticmethod
    def initial_for(rules) -> dict:
        return {"approval_discount_limit": f"{rules.approval_discount_limit}",
                "approval_total_limit": "" if rules.approval_total_limit is None
                else f"{rules.approval_total_limit}",
                "default_valid_days": rules.default_valid_days,
                "default_terms": rules.default_terms}

    def to_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["approval_total_limit"] = data["approval_total_limit"].strip() or None
        return data


# Quotes ----------------------------------------------------------------------------------

class NewQuoteForm(forms.Form):
    deal_id = forms.TypedChoiceField(label="Deal", coerce=int, empty_value=None,
                                     help_text="The quote is in the deal's currency.")

    def __init__(self, *args, deals=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deal_id"].choices = [("", "Choose a deal…")] + [
            (d.pk, f"{d.name} ({d.currency})") for d in deals]


class QuoteForm(forms.Form):
    """A quote's own fields in the editor; the lines come as lists (see quote_views)."""

    contact_id = forms.TypedChoiceField(label="Prepared for", coerce=int, empty_value=None,
                                        required=False)
    price_book_id = forms.TypedChoiceField(label="Price book", coerce=int, empty_value=None,
                                           required=False)
    valid_until = forms.DateField(label="Valid until", required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}))
    win_deal_on_accept = forms.BooleanField(label="Mark the deal won when the customer accepts",
                                            required=False)
    discount_percent = _decimal("Discount on the whole quote (%)",
                                help_text="Taken off after the line discounts, before tax.")
    terms = _text("Terms", 10_000, widget=forms.Textarea(attrs={"rows": 4}))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, contacts=(), books=(), currency="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact_id"].choices = [("", "— Nobody in particular —")] + [
            (c.pk, f"{c.full_name} ({c.email})" if c.email else c.full_name) for c in contacts]
        self.fields["price_book_id"].choices = [("", f"The default {currency} price book")] + [
            (b.pk, b.name) for b in books]

    @staticmethod
    def initial_for(quote) -> dict:
        return {"contact_id": quote.contact_id or "", "price_book_id": quote.price_book_id or "",
                "valid_until": quote.valid_until, "terms": quote.terms,
                "win_deal_on_accept": quote.win_deal_on_accept, "version": quote.version,
                "discount_percent": f"{quote.discount_percent.normalize():f}"
                if quote.discount_percent else ""}

    def to_data(self) -> dict:
        data = {name: self.cleaned_data[name] for name in ("contact_id", "price_book_id",
                                                           "terms", "win_deal_on_accept",
                                                           "discount_percent")}
        data["valid_until"] = self.cleaned_data["valid_until"]
        if data["valid_until"] is None:
            data.pop("valid_until")
        return data


class SendForm(forms.Form):
    to = _text("To", 2000, help_text="Separate several addresses with commas.")
    subject = _text("Subject", 300, help_text="Empty: “Quote Q-… from <you>”.")
    message = _text("Message", 10_000, widget=forms.Textarea(attrs={"rows": 4}),
                    help_text="Empty: a short note with the total and the date. The PDF and "
                              "the link to accept online are always included.")
    win_deal_on_accept = forms.BooleanField(label="Mark the deal won when the customer accepts",
                                            required=False)

    def to_data(self) -> dict:
        data = {"to": [a.strip() for a in self.cleaned_data["to"].replace(";", ",").split(",")
                       if a.strip()],
                "win_deal_on_accept": self.cleaned_data["win_deal_on_accept"]}
        for name in ("subject", "message"):
            if self.cleaned_data[name].strip():
                data[name] = self.cleaned_data[name]
        return data


class CommentForm(forms.Form):
    comment = _text("Comment", 2000, widget=forms.Textarea(attrs={"rows": 2}))


class AcceptForm(forms.Form):
    full_name = forms.CharField(label="Your full name", max_length=200,
                                widget=forms.TextInput(attrs={"autocomplete": "name"}),
                                help_text="Typing your name is your signature.")


class DeclineForm(forms.Form):
    reason = forms.CharField(label="Why? (optional)", required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))

"""A quote as a PDF: the HTML template sales/quotes/pdf.html through WeasyPrint.

WeasyPrint is imported when a PDF is made, not when Rapport starts: it needs Pango from the
operating system, and a machine without it should still run everything else (and say
clearly what to install when a PDF is asked for).
"""

from django.template.loader import render_to_string
from django.utils import timezone

from rapport.core.errors import RapportError
from rapport.sales.models import Quote, QuoteLine

APT_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0"


class PdfUnavailable(RapportError):
    status = 503
    code = "pdf_unavailable"

    def default_message(self):
        return ("PDFs cannot be made on this server: WeasyPrint needs Pango. Install Debian's "
                f"{APT_PACKAGES} (apt-get install {APT_PACKAGES}) and restart Rapport.")


def _weasyprint():
    try:
        import weasyprint
    except OSError as exc:  # cffi could not load libpango / libpangoft2
        raise PdfUnavailable(PdfUnavailable().default_message() + f" ({exc})") from exc
    except ImportError as exc:
        raise PdfUnavailable("PDFs cannot be made on this server: the weasyprint package is "
                             "missing (pip install -r requirements.txt).") from exc
    return weasyprint


def quote_html(quote: Quote, *, link: str = "") -> str:
    lines = list(QuoteLine.objects.filter(quote=quote).select_related("product")
                 .order_by("position", "id"))
    deal = quote.deal
    contact = quote.contact
    return render_to_string("sales/quotes/pdf.html", {
        "quote": quote, "lines": lines, "deal": deal, "contact": contact,
        "company": (contact.company if contact and contact.company_id else None) or deal.company,
        "seller": quote.sent_by or quote.created_by or deal.owner,
        "issued": (quote.sent_at or timezone.now()).date(),
        "link": link,
        "is_draft": not quote.is_out,
        # The Amount column is each line after its own discount; the quote's comes after.
        "line_discounts": quote.discount_total - quote.quote_discount_amount,
        "net_total": quote.subtotal - quote.discount_total,
    })


def render_quote_pdf(quote: Quote, *, link: str = "") -> bytes:
    """The quote's PDF; PdfUnavailable (503) when WeasyPrint's system libraries are missing."""
    weasyprint = _weasyprint()

    class NoFetching(weasyprint.urls.URLFetcher):
        """The template needs no file or URL: nothing in a quote makes WeasyPrint load one."""

        def fetch(self, url, headers=None):
            raise ValueError(f"Quote PDFs load nothing from outside ({url[:100]}).")

    html = quote_html(quote, link=link)
    return weasyprint.HTML(string=html, url_fetcher=NoFetching()).write_pdf()

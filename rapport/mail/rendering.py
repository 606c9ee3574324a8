"""Turning a template and a recipient into the subject, plain-text and HTML parts."""

from dataclasses import dataclass

import css_inline
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import mark_safe

from rapport.activities.rendering import render_markdown
from rapport.mail import merge

# css-inline copies the layout's <style> rules onto each element, because many mail
# clients (Gmail's among them) drop <style> blocks.
INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    body_html: str  # the sanitised message alone, for showing inside a Rapport page


def render_notification(*, subject: str, body: str) -> Rendered:
    """A message Rapport writes itself (Markdown, no merge fields): its text is never read as
    a template, so braces in a deal's name or a comment stay what they are."""
    body_html = render_markdown(body)  # sanitised by nh3
    html = render_to_string("mail/message.html", {
        "subject": subject, "body": mark_safe(body_html), "signature": ""})
    return Rendered(subject=" ".join(subject.split()), text=body.strip() + "\n",
                    html=INLINER.inline(html), body_html=body_html)


def render_parts(*, subject: str, body: str, context: dict, signature: str = "") -> Rendered:
    """Merge `context` into the templates; the body is Markdown, its merged values escaped."""
    merged_subject = " ".join(merge.render(subject, context, html=False).split())
    text = merge.render(body, context, html=False).strip()
    body_html = render_markdown(merge.render(body, context, html=True))
    signature_html = ""
    if signature.strip():
        text = f"{text}\n\n-- \n{signature.strip()}"
        signature_html = render_markdown(escape(signature))
    # Both fragments come out of render_markdown, sanitised by nh3.
    html = render_to_string("mail/message.html", {
        "subject": merged_subject, "body": mark_safe(body_html),
        "signature": mark_safe(signature_html),
    })
    return Rendered(subject=merged_subject, text=text + "\n", html=INLINER.inline(html),
                    body_html=body_html + signature_html)

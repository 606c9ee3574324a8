"""Markdown to HTML that is safe to show: rendered by `markdown`, then sanitised by nh3."""

import markdown
import nh3

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h1", "h2", "h3", "h4", "hr", "table", "thead", "tbody", "tr", "th", "td", "del",
}


def render_markdown(source: str) -> str:
    html = markdown.markdown(source or "", extensions=["extra", "sane_lists", "nl2br"])
    return nh3.clean(
        html, tags=ALLOWED_TAGS, attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto", "tel"}, link_rel="noopener noreferrer nofollow",
    )

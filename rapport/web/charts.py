"""Chart.js configurations built on the server; app.js only draws them.

The data goes to the page as JSON (`json_script`), never as inline script, so the
strict Content-Security-Policy holds.
"""

# Colour-blind-safe series colours (Okabe–Ito), matched by the legend and the data tables.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def bar(*, labels: list[str], series: list[tuple[str, list[int]]]) -> dict:
    return _chart("bar", labels, series, stacked=False)


def stacked_bar(*, labels: list[str], series: list[tuple[str, list[int]]]) -> dict:
    return _chart("bar", labels, series, stacked=True)


def _chart(kind: str, labels, series, *, stacked: bool) -> dict:
    return {
        "type": kind,
        "data": {
            "labels": labels,
            "datasets": [
                {"label": name, "data": values, "backgroundColor": PALETTE[i % len(PALETTE)]}
                for i, (name, values) in enumerate(series)
            ],
        },
        "options": {
            "responsive": True,
            "maintainAspectRatio": False,
            "animation": False,
            "plugins": {"legend": {"display": len(series) > 1, "position": "bottom"}},
            "scales": {
                "x": {"stacked": stacked, "ticks": {"autoSkip": True, "maxRotation": 0}},
                "y": {"stacked": stacked, "beginAtZero": True, "ticks": {"precision": 0}},
            },
        },
    }


def doughnut(*, labels: list[str], values: list[int]) -> dict:
    """Shares of a whole (lost reasons): one slice per label, the legend below."""
    return {
        "type": "doughnut",
        "data": {"labels": labels, "datasets": [{
            "data": values,
            "backgroundColor": [PALETTE[i % len(PALETTE)] for i in range(len(values))]}]},
        "options": {"responsive": True, "maintainAspectRatio": False, "animation": False,
                    "plugins": {"legend": {"display": True, "position": "bottom"}}},
    }

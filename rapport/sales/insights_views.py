"""The sales home: win rate, deal size, cycle, velocity, the pipeline by stage, the funnel
and the lost reasons, for the deals the user may see."""

from django.shortcuts import render

from rapport.accounts import selectors as account_selectors
from rapport.core.errors import BadRequest
from rapport.sales import analytics
from rapport.sales.selectors import pipeline_list
from rapport.web import charts


def sales_home(request):
    errors = {}
    try:
        figures = analytics.overview(user=request.user, params=request.GET)
    except BadRequest as exc:
        errors = exc.fields
        figures = analytics.overview(user=request.user, params={})
    return render(request, "sales/insights/home.html", {
        "figures": figures, "errors": errors,
        "periods": [(key, label) for key, (label, _) in analytics.PERIODS.items()],
        "pipelines": list(pipeline_list()),
        "owners": list(account_selectors.user_list(active_only=True)),
        "owner_id": request.GET.get("owner_id", ""),
        "stage_chart": charts.bar(
            labels=[bar.name for bar in figures.stages],
            series=[("Amount", [float(bar.amount) for bar in figures.stages]),
                    ("Weighted", [float(bar.weighted_amount) for bar in figures.stages])],
        ) if figures.stages else None,
        "funnel_chart": charts.bar(
            labels=[step.name for step in figures.funnel],
            series=[("Deals", [step.reached for step in figures.funnel])],
        ) if figures.funnel and figures.funnel[0].reached else None,
        "lost_chart": charts.doughnut(
            labels=[row.reason for row in figures.lost_reasons],
            values=[row.count for row in figures.lost_reasons],
        ) if figures.lost_reasons else None,
    })

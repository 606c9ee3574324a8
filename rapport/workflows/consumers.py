from rapport.core.dispatch import consumer
from rapport.workflows import engine


@consumer("workflows", "*", batch=engine.runs_for_events)
def start_rules(event):
    """Every event may fire rules: record changes, field changes, any event type."""
    engine.runs_for_event(event)

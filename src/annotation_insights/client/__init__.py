"""The Python client: `from annotation_insights import Client`."""

from annotation_insights.client.client import AnnotationInsightsError, Client, SendResult
from annotation_insights.client.models import Labeler, Period, Stats, StatsRow, StatsTotals, Timeseries

__all__ = ["AnnotationInsightsError", "Client", "Labeler", "Period", "SendResult", "Stats",
           "StatsRow", "StatsTotals", "Timeseries"]

"""Annotation Insights: what labelers did, per workspace, project and labeler."""

__version__ = "0.1.0"

"""Annotation Insights: what labelers did, per workspace, project and labeler."""

__version__ = "0.1.0"

__all__ = ["Client", "__version__"]


def __getattr__(name: str):
    # Lazy, so the server and CLI do not import the HTTP client they never use.
    if name == "Client":
        from annotation_insights.client import Client

        return Client
    raise AttributeError(f"module 'annotation_insights' has no attribute {name!r}")

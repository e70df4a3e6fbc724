"""The HTTP API: one router per resource, assembled by `app.create_app`."""

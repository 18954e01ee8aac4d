"""The schedule service's shared domain: settings, database access and SQL, time math, dispatch.

Both the web app (`api`) and the daemon (`ticker`) import this package; it imports neither of them
and never imports Flask, so the ticker and the RQ worker load it without an app.
"""

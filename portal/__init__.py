"""The web layer: Starlette app, routes, templates and static files."""

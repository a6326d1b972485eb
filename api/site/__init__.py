"""The staff site: server-rendered pages (Jinja2, with htmx for small live updates) over the
same services and role checks as the staff API."""

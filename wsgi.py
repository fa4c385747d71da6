"""The WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app``."""
from g6app.app import create_app

app = create_app()

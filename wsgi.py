"""The WSGI entry point: ``gunicorn -k eventlet -w 1 wsgi:app`` (gunicorn patches eventlet first)."""
from app import create_app
from app.realtime.upkeep import start_upkeep

app = create_app()
start_upkeep(app)

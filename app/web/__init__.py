"""Browser pages: server-rendered shells whose ES modules talk to the REST API and /realtime."""
from flask import Blueprint

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")  # the app itself owns /static

from . import routes  # noqa: E402,F401

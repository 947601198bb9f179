"""Operations endpoints: health and readiness."""
from flask import Blueprint

bp = Blueprint("ops", __name__)

from . import health  # noqa: E402,F401

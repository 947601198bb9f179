"""Security headers on every response, and CORS only for the origins in ``CORS_ORIGINS``.

Flask's responses get them here (``after_request``); Engine.IO's, which it answers before
Flask (``/socket.io/``), get ``DATA_HEADERS`` from ``requests.EngineIoRequests``, and so
do the problems the server answers itself (``serving.threaded``).
"""
import functools

from flask import current_app, request

# Scripts, styles, images and fonts from this origin only; the websocket to this origin
# (CSP 'self' covers ws:/wss: in current browsers; the explicit host covers older ones).
# Inline style attributes are allowed because chart libraries set them; inline scripts are not.
DEFAULT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "font-src 'self'; connect-src 'self' {websockets}; object-src 'none'; base-uri 'self'; "
               "form-action 'self'; frame-ancestors 'none'")
# Every response: no type sniffing, no framing, no referrer beyond the origin, no opener.
BASELINE_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                    ("Referrer-Policy", "strict-origin-when-cross-origin"), ("Cross-Origin-Opener-Policy", "same-origin"))
# Responses that are data, never a page (Engine.IO's handshakes and long polls, the
# server's own problem+json): never stored, nothing to render.
DATA_HEADERS = BASELINE_HEADERS + (("Cache-Control", "no-store"),
                                       ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"))
CORS_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type, If-Match, Idempotency-Key, X-Request-ID, Cache-Control"


def allowed_origins(app=None):
    """The origins in ``CORS_ORIGINS`` (comma-separated), as a set."""
    raw = (app or current_app).config.get("CORS_ORIGINS") or ""
    if isinstance(raw, (list, tuple)):
        return set(raw)
    return {origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip()}


def socket_origin_check(app):
    """For Socket.IO: a browser may connect from the app's own origin and from the
    ``CORS_ORIGINS`` ones. The own origin is the scheme and host of the request as the
    client saw them: behind ``TRUSTED_PROXIES``, ProxyFix has already put the proxy's
    ``X-Forwarded-Proto``/``-Host`` there; anyone else's forwarded headers count for
    nothing. Clients that send no ``Origin`` (not browsers) are not asked."""
    listed = allowed_origins(app)

    def allowed(origin, environ):
        if origin is None:
            return True
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin.rstrip("/") in listed | {own}

    return allowed


@functools.lru_cache(maxsize=64)
def _csp(template, host):
    return template.format(websockets=f"ws://{host} wss://{host}")


def _add_headers(response):
    headers = response.headers
    for name, value in BASELINE_HEADERS:
        headers.setdefault(name, value)
    headers.setdefault("Content-Security-Policy", _csp(current_app.config.get("CONTENT_SECURITY_POLICY") or DEFAULT_CSP,
                                                       request.host))
    if request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")
    origin = request.headers.get("Origin")
    if origin and origin.rstrip("/") in allowed_origins():
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = "ETag, X-Request-ID, Retry-After, Location, Beacon-Seq"
        headers.add("Vary", "Origin")
        if request.method == "OPTIONS":
            headers["Access-Control-Allow-Methods"] = CORS_METHODS
            headers["Access-Control-Allow-Headers"] = CORS_HEADERS
            headers["Access-Control-Max-Age"] = "600"
    return response


def install(app):
    app.after_request(_add_headers)

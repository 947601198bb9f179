"""/metrics answers from a short per-process cache: scraping it in a loop (anyone may, when
METRICS_TOKEN is unset) runs its database and Redis queries at most once per period."""
import time

from sqlalchemy import event

from app.extensions import db
from app.models import Batch


def scrape_counting_statements(client, headers=None):
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get("/metrics", headers=headers or {})
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return response, len(statements)


def test_scrapes_within_the_period_share_one_answer(make_app, factory):
    app = make_app(METRICS_CACHE_SECONDS=0.5)
    client = app.test_client()
    with app.app_context():
        first, ran = scrape_counting_statements(client)
        assert first.status_code == 200 and ran > 0
        user = factory.user()
        db.session.add(Batch(user_id=user.id, mode="atomic", status="succeeded", operations=[], total=1, done=1,
                             succeeded=1))
        db.session.commit()
        for _ in range(20):
            again, ran = scrape_counting_statements(client)
            assert again.status_code == 200 and again.data == first.data and ran == 0
        time.sleep(0.6)
        fresh, ran = scrape_counting_statements(client)
        assert ran > 0 and b'beacon_batches{status="succeeded"} 1.0' in fresh.data
        db.session.remove()


def test_the_cache_never_answers_without_the_token(make_app):
    app = make_app(METRICS_TOKEN="s3cret", METRICS_CACHE_SECONDS=60)
    client = app.test_client()
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401

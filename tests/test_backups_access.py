"""A restore never brings access back: sign-outs, revocations, deactivations and lost admin
rights made after the backup hold after it, and the sockets they concern are closed."""
import requests
from sqlalchemy import select

from app.backups import service
from app.extensions import db
from app.models import AccessChange, User
from tests.support.backups import plant_backup, repo_dir
from tests.support.factory import PASSWORD
from tests.support.sockets import realtime

__all__ = ["realtime", "repo_dir"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def sign_in(client, user):
    return client.post("/api/v1/auth/tokens", json={"email": user.email, "password": PASSWORD})


def answers(client, token):
    return client.get("/api/v1/projects", headers=bearer(token)).status_code


def user_flags(user_id):
    db.session.expire_all()
    user = db.session.get(User, user_id)
    return {"active": user.active, "is_admin": user.is_admin}


def test_sign_out_and_deactivation_after_the_backup_hold_after_restores(app, client, factory, repo_dir):
    admin, dev, gone = factory.admin("Admin"), factory.user("Dev"), factory.user("Gone")
    admin_token, dev_token, kept_token, gone_token = (factory.token(u) for u in (admin, dev, dev, gone))
    record = service.run_backup(None, "before the revocations")
    assert client.delete("/api/v1/auth/tokens/current", headers=bearer(dev_token)).status_code == 204
    assert client.patch(f"/api/v1/admin/users/{gone.id}", json={"active": False},
                        headers=bearer(admin_token)).status_code == 200

    for _ in range(2):  # the record of what was revoked outlives a restore, so a second one holds too
        service.run_restore(record["id"])
        assert answers(client, dev_token) == 401 and answers(client, gone_token) == 401
        assert answers(client, kept_token) == 200 and answers(client, admin_token) == 200
        assert sign_in(client, gone).status_code == 401 and sign_in(client, dev).status_code == 201
        assert user_flags(gone.id) == {"active": False, "is_admin": False}
    changes = db.session.execute(select(AccessChange.change, AccessChange.user_id)
                                 .order_by(AccessChange.id)).all()
    assert changes == [("token_revoked", dev.id), ("deactivated", gone.id), ("tokens_revoked", gone.id)]


def test_reactivation_after_the_backup_holds_and_old_tokens_stay_revoked(app, client, factory, repo_dir):
    admin, user = factory.admin("Admin"), factory.user("Back again")
    admin_token, old_token = factory.token(admin), factory.token(user)
    record = service.run_backup(None, None)
    for active in (False, True):
        assert client.patch(f"/api/v1/admin/users/{user.id}", json={"active": active},
                            headers=bearer(admin_token)).status_code == 200
    new_token = sign_in(client, user).json["token"]

    service.run_restore(record["id"])
    assert user_flags(user.id)["active"] is True
    assert answers(client, old_token) == 401  # revoked by the deactivation, which came after the backup
    assert answers(client, new_token) == 401  # made after the backup: the restore does not hold it
    assert sign_in(client, user).status_code == 201


def test_admin_rights_taken_after_the_backup_stay_taken(app, client, factory, repo_dir):
    first, second, promoted = factory.admin("First"), factory.admin("Second"), factory.user("Promoted")
    headers = bearer(factory.token(first))
    record = service.run_backup(None, None)
    assert client.patch(f"/api/v1/admin/users/{second.id}", json={"is_admin": False},
                        headers=headers).status_code == 200
    assert client.patch(f"/api/v1/admin/users/{promoted.id}", json={"is_admin": True},
                        headers=headers).status_code == 200

    service.run_restore(record["id"])
    assert user_flags(second.id) == {"active": True, "is_admin": False}
    assert user_flags(promoted.id) == {"active": True, "is_admin": True}  # granted after the backup: granted still


def test_a_backup_restored_as_unsigned_gets_revocations_again_but_no_grant(app, client, factory, repo_dir):
    """Its user ids may name other people (another installation's backup): only what takes
    access away is applied again."""
    admin, promoted, leaving = factory.admin("Admin"), factory.user("Promoted"), factory.user("Leaving")
    headers, leaving_token = bearer(factory.token(admin)), factory.token(leaving)
    unsigned = plant_backup(repo_dir, service.run_backup(None, None)["id"], "someone@elsewhere.test")
    assert client.patch(f"/api/v1/admin/users/{promoted.id}", json={"is_admin": True},
                        headers=headers).status_code == 200
    assert client.delete("/api/v1/auth/tokens/current", headers=bearer(leaving_token)).status_code == 204

    service.run_restore(unsigned, allow_unsigned=True)
    assert user_flags(promoted.id)["is_admin"] is False
    assert answers(client, leaving_token) == 401


def test_restore_by_a_worker_refuses_revoked_access_and_closes_its_sockets(app, factory, repo_dir, realtime,
                                                                          make_app, redis_url, monkeypatch):
    """End to end with a real server process: the restore runs in another process (as a
    worker's does) and reaches the server's sockets through the Redis message queue."""
    from app.realtime import broadcast

    admin, dev, victim = factory.admin("Admin"), factory.user("Dev"), factory.user("Victim")
    admin_token, dev_token, victim_token = (factory.token(u) for u in (admin, dev, victim))
    record = service.run_backup(None, "before the revocations")
    server = realtime.server()
    api = f"{server.url}/api/v1"

    dev_socket = realtime.client(server, token=dev_token)
    assert requests.delete(f"{api}/auth/tokens/current", headers=bearer(dev_token)).status_code == 204
    assert dev_socket.wait_for(lambda _ev: not dev_socket.client.connected, timeout=5)
    later_token = requests.post(f"{api}/auth/tokens", json={"email": dev.email, "password": PASSWORD}).json()["token"]
    later_socket = realtime.client(server, token=later_token)  # a token the backup does not hold
    victim_socket = realtime.client(server, token=victim_token)
    with monkeypatch.context() as patch:  # the deactivation's message to the sockets is lost
        patch.setattr(broadcast, "user_deactivated", lambda user_id: None)
        response = app.test_client().patch(f"/api/v1/admin/users/{victim.id}", json={"active": False},
                                           headers=bearer(admin_token))
        assert response.status_code == 200

    worker = make_app(REDIS_URL=redis_url, SOCKETIO_MESSAGE_QUEUE=redis_url, BACKUP_DIR=str(repo_dir))
    with worker.app_context():
        service.run_restore(record["id"])
        db.session.remove()

    for socket in (victim_socket, later_socket):
        assert socket.wait_for(lambda _ev, socket=socket: not socket.client.connected, timeout=5)
    assert victim_socket.received("session.ended") == [{"reason": "deactivated"}]
    assert len(later_socket.received("session.ended")) == 1

    def status(token):
        return requests.get(f"{api}/projects", headers=bearer(token)).status_code

    assert status(dev_token) == status(later_token) == status(victim_token) == 401
    assert status(admin_token) == 200
    assert requests.post(f"{api}/auth/tokens", json={"email": victim.email, "password": PASSWORD}).status_code == 401
    assert requests.get(f"{api}/admin/users/{victim.id}", headers=bearer(admin_token)).json()["active"] is False

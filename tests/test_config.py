"""Configuration from the environment."""
import pytest

from app.config import normalize_database_url


@pytest.mark.parametrize("url,mode,expected", [
    ("postgres://u@h/db", "threading", "postgresql+psycopg://u@h/db"),
    ("postgresql://u@h/db?host=/run/pg", "threading", "postgresql+psycopg://u@h/db?host=/run/pg"),
    ("postgresql+psycopg2://u@h/db", "threading", "postgresql+psycopg2://u@h/db"),
    ("postgresql://u@h/db", "eventlet", "postgresql+psycopg2://u@h/db"),
    ("postgresql+psycopg://u@h/db", "eventlet", "postgresql+psycopg2://u@h/db"),
    ("sqlite:///x.db", "eventlet", "sqlite:///x.db"),
])
def test_database_url_driver_follows_async_mode(url, mode, expected):
    assert normalize_database_url(url, mode) == expected


def test_secret_key_is_generated_once_into_instance(tmp_path, monkeypatch):
    from app.config import load_secret_key

    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_secret_key(tmp_path)
    assert len(first) == 64 and load_secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600

"""Encryption of chunks (AES-256-GCM) and authentication of manifests.

``BACKUP_ENCRYPTION_KEY`` is base64 of 32 bytes. Three keys are derived from it: one
encrypts chunks, one makes their nonces, one authenticates manifests. The nonce is an
HMAC of the plaintext, so the same rows encrypt to the same chunk and deduplicate
(an observer learns only that two chunks are equal, never their content).
Without a key, a manifest still carries a SHA-256 of itself, so truncation or an edit
is caught; with a key it carries an HMAC, so it cannot be forged.
"""
import base64
import binascii
import hashlib
import hmac
import json

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = "beacon-backup/1"
CHUNK_MAGIC = b"BKE1"


class BackupIntegrityError(Exception):
    """A manifest or chunk failed its hash, authentication or decryption."""


def parse_key(value):
    """Return the 32-byte key from its base64 form, or None when unset."""
    if not value:
        return None
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("BACKUP_ENCRYPTION_KEY is not valid base64") from None
    if len(key) != 32:
        raise ValueError("BACKUP_ENCRYPTION_KEY must be base64 of 32 bytes")
    return key


def _derive(key, purpose):
    return hmac.new(key, b"beacon-backup:" + purpose, hashlib.sha256).digest()


class Sealer:
    """Seals chunks and manifests with the configured key (or none)."""

    def __init__(self, key=None):
        self.key = key
        if key:
            self._aead = AESGCM(_derive(key, b"chunk"))
            self._nonce_key = _derive(key, b"nonce")
            self._mac_key = _derive(key, b"manifest")

    @property
    def encrypted(self):
        return self.key is not None

    def seal_chunk(self, data):
        if not self.key:
            return data
        nonce = hmac.new(self._nonce_key, data, hashlib.sha256).digest()[:12]
        return CHUNK_MAGIC + nonce + self._aead.encrypt(nonce, data, CHUNK_MAGIC)

    def open_chunk(self, data, encrypted):
        if not encrypted:
            return data
        if not self.key:
            raise BackupIntegrityError("the backup is encrypted and BACKUP_ENCRYPTION_KEY is not set")
        if not data.startswith(CHUNK_MAGIC) or len(data) < 4 + 12 + 16:
            raise BackupIntegrityError("not an encrypted chunk")
        try:
            return self._aead.decrypt(data[4:16], data[16:], CHUNK_MAGIC)
        except InvalidTag:
            raise BackupIntegrityError("decryption failed (wrong key or damaged chunk)") from None

    def seal_manifest(self, manifest):
        """Return the manifest file's bytes and the SHA-256 of its canonical body."""
        body = canonical(manifest)
        if self.key:
            auth = {"type": "hmac-sha256", "value": hmac.new(self._mac_key, body, hashlib.sha256).hexdigest()}
        else:
            auth = {"type": "sha256", "value": hashlib.sha256(body).hexdigest()}
        document = {"format": FORMAT, "manifest": manifest, "auth": auth}
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode(), hashlib.sha256(body).hexdigest()

    def open_manifest(self, data):
        """Return ``(manifest, sha256)`` after checking the file's integrity and authenticity."""
        try:
            document = json.loads(data)
            manifest, auth = document["manifest"], document["auth"]
            kind, value = auth["type"], auth["value"]
        except (ValueError, TypeError, KeyError):
            raise BackupIntegrityError("the manifest is truncated or not a manifest") from None
        if document.get("format") != FORMAT or not isinstance(manifest, dict) or not isinstance(value, str):
            raise BackupIntegrityError("the manifest is not in a known format")
        body = canonical(manifest)
        if kind == "hmac-sha256":
            if not self.key:
                raise BackupIntegrityError("the backup is encrypted and BACKUP_ENCRYPTION_KEY is not set")
            expected = hmac.new(self._mac_key, body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, value):
                raise BackupIntegrityError("the manifest failed authentication (wrong key or edited manifest)")
        elif kind == "sha256":
            if self.key:
                # With a key set, an unauthenticated manifest could be a forgery: refuse it.
                raise BackupIntegrityError("the manifest is not authenticated and BACKUP_ENCRYPTION_KEY is set")
            if not hmac.compare_digest(hashlib.sha256(body).hexdigest(), value):
                raise BackupIntegrityError("the manifest does not match its checksum (edited or damaged)")
        else:
            raise BackupIntegrityError("the manifest's authentication is of an unknown type")
        if bool(manifest.get("encrypted")) != (kind == "hmac-sha256"):
            raise BackupIntegrityError("the manifest's encryption flag does not match its authentication")
        return manifest, hashlib.sha256(body).hexdigest()


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

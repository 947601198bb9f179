"""Encryption of chunks (AES-256-GCM) and authentication of manifests.

``BACKUP_ENCRYPTION_KEY`` is base64 of 32 bytes. Three keys are derived from it: one
encrypts chunks, one makes their nonces, one authenticates manifests. The nonce is an
HMAC of the plaintext, so the same rows encrypt to the same chunk and deduplicate
(an observer learns only that two chunks are equal, never their content).

Without that key, a manifest carries an HMAC keyed from ``SECRET_KEY`` (generated per
installation), beside a SHA-256 of itself: whoever can write ``BACKUP_DIR`` but does not
know the secret cannot plant a backup this installation takes for its own. A manifest
names its chunks by their SHA-256, so authenticating it authenticates every row.
A manifest that is not authenticated (another installation's, an older Beacon's that
carried only a SHA-256, or a forgery) is refused (``UnauthenticatedBackup``) unless the
caller allows it explicitly; damage is refused either way.
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
ENCRYPTION_KEY_HMAC = "hmac-sha256"  # keyed from BACKUP_ENCRYPTION_KEY (an encrypted backup)
SECRET_KEY_HMAC = "hmac-sha256-secret-key"  # keyed from SECRET_KEY
CHECKSUM_ONLY = "sha256"  # not authenticated
UNSIGNED_HINT = "restore it as unsigned (--unsigned, or allow_unsigned) only if you trust where it came from"


class BackupIntegrityError(Exception):
    """A manifest or chunk failed its hash, authentication or decryption."""


class UnauthenticatedBackup(BackupIntegrityError):
    """The manifest is intact but nothing proves this installation made it."""


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
    """Seals chunks and manifests with the configured encryption key (or none), and signs
    manifests with ``secret`` (``SECRET_KEY``) when there is no encryption key."""

    def __init__(self, key=None, secret=None):
        self.key = key
        if key:
            self._aead = AESGCM(_derive(key, b"chunk"))
            self._nonce_key = _derive(key, b"nonce")
            self._mac_key = _derive(key, b"manifest")
        self._secret_mac_key = _derive(secret.encode(), b"manifest-secret-key") if secret else None

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
        digest = hashlib.sha256(body).hexdigest()
        if self.key:
            auth = {"type": ENCRYPTION_KEY_HMAC, "value": hmac.new(self._mac_key, body, hashlib.sha256).hexdigest()}
        elif self._secret_mac_key:
            auth = {"type": SECRET_KEY_HMAC, "sha256": digest,
                    "value": hmac.new(self._secret_mac_key, body, hashlib.sha256).hexdigest()}
        else:
            auth = {"type": CHECKSUM_ONLY, "value": digest}
        document = {"format": FORMAT, "manifest": manifest, "auth": auth}
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode(), digest

    def open_manifest(self, data, allow_unsigned=False):
        """Return ``(manifest, sha256)`` after checking the file's integrity and authenticity.

        Raises ``UnauthenticatedBackup`` for an intact manifest nothing authenticates,
        unless ``allow_unsigned``; ``BackupIntegrityError`` for damage, always."""
        try:
            document = json.loads(data)
            manifest, auth = document["manifest"], document["auth"]
            kind, value = auth["type"], auth["value"]
        except (ValueError, TypeError, KeyError):
            raise BackupIntegrityError("the manifest is truncated or not a manifest") from None
        if document.get("format") != FORMAT or not isinstance(manifest, dict) or not isinstance(value, str):
            raise BackupIntegrityError("the manifest is not in a known format")
        body = canonical(manifest)
        digest = hashlib.sha256(body).hexdigest()
        if kind == ENCRYPTION_KEY_HMAC:
            if not self.key:
                raise BackupIntegrityError("the backup is encrypted and BACKUP_ENCRYPTION_KEY is not set")
            expected = hmac.new(self._mac_key, body, hashlib.sha256).hexdigest()
            if not _same(expected, value):
                raise BackupIntegrityError("the manifest failed authentication (wrong key or edited manifest)")
        elif kind in (SECRET_KEY_HMAC, CHECKSUM_ONLY):
            checksum = auth.get("sha256") if kind == SECRET_KEY_HMAC else value
            if not isinstance(checksum, str) or not _same(digest, checksum):
                raise BackupIntegrityError("the manifest does not match its checksum (edited or damaged)")
            if not allow_unsigned:
                self._require_secret_key_hmac(kind, body, value)
        else:
            raise BackupIntegrityError("the manifest's authentication is of an unknown type")
        if bool(manifest.get("encrypted")) != (kind == ENCRYPTION_KEY_HMAC):
            raise BackupIntegrityError("the manifest's encryption flag does not match its authentication")
        return manifest, digest

    def _require_secret_key_hmac(self, kind, body, value):
        """Raise UnauthenticatedBackup unless ``value`` is this installation's HMAC of ``body``."""
        if kind == CHECKSUM_ONLY:
            raise UnauthenticatedBackup("the manifest is not authenticated (it carries only a checksum: an older "
                                        f"Beacon made it, or someone planted it); {UNSIGNED_HINT}")
        expected = hmac.new(self._secret_mac_key, body, hashlib.sha256).hexdigest() if self._secret_mac_key else ""
        if not _same(expected, value):
            raise UnauthenticatedBackup(
                "the manifest is not authenticated by this installation's SECRET_KEY (another installation made it, "
                f"or someone forged it); restore it with that SECRET_KEY, or {UNSIGNED_HINT}")


def _same(expected, given):
    """Compare in constant time (bytes: a forged manifest may hold any character)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

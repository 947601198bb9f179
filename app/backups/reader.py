"""Read a backup back: its manifest, checked, and its chunks, checked, as rows."""
import json

import zstandard

from .crypto import BackupIntegrityError, UnauthenticatedBackup
from .repository import RepositoryError, check_backup_id, check_chunk_name

MAX_CHUNK_BYTES = 512 * 1024 * 1024  # a decompressed chunk larger than this is not ours


def load_manifest(repository, sealer, backup_id, allow_unsigned=False):
    """Return ``(manifest, sha256)``; raise BackupIntegrityError if it is damaged or forged
    (UnauthenticatedBackup if nothing authenticates it, unless ``allow_unsigned``)."""
    check_backup_id(backup_id)
    try:
        data = repository.read_manifest(backup_id)
    except RepositoryError as error:
        raise BackupIntegrityError(str(error)) from None
    manifest, digest = sealer.open_manifest(data, allow_unsigned)
    _check_shape(manifest, backup_id)
    return manifest, digest


def load_restorable_manifest(repository, sealer, backup_id, allow_unsigned):
    """Return ``(manifest, authenticated)``: a manifest nothing authenticates only when
    ``allow_unsigned`` (else UnauthenticatedBackup), and damaged ones never."""
    try:
        return load_manifest(repository, sealer, backup_id)[0], True
    except UnauthenticatedBackup:
        if not allow_unsigned:
            raise
    return load_manifest(repository, sealer, backup_id, allow_unsigned=True)[0], False


def _check_shape(manifest, backup_id):
    """Refuse a manifest whose structure is not what a backup writes (names, types)."""
    try:
        if manifest["id"] != backup_id:
            raise ValueError("it belongs to another backup")
        if not isinstance(manifest["tables"], list):
            raise ValueError("no table list")
        for table in manifest["tables"]:
            if not isinstance(table["name"], str) or not isinstance(table["rows"], int):
                raise ValueError("a table entry is malformed")
            if not all(isinstance(c, str) for c in table["columns"]):
                raise ValueError(f"table {table['name']}: columns are malformed")
            for chunk in table["chunks"]:
                check_chunk_name(chunk["hash"])
                if "base" in chunk:
                    check_chunk_name(chunk["base"])
                if not isinstance(chunk["rows"], int) or not isinstance(chunk["bytes"], int):
                    raise ValueError(f"table {table['name']}: a chunk entry is malformed")
        for entry in manifest.get("blobs", []):
            if not isinstance(entry["sha256"], str) or not isinstance(entry["size"], int):
                raise ValueError("an attachment blob entry is malformed")
            for piece in entry["pieces"] + entry.get("thumbnail", []):
                check_chunk_name(piece["hash"])
    except (KeyError, TypeError, ValueError, RepositoryError) as error:
        raise BackupIntegrityError(f"the manifest is malformed: {error}") from None


def chunk_body(repository, sealer, encrypted, name, base_body=None):
    """A chunk's decompressed content (a delta needs its base's content)."""
    stored = repository.get_chunk(name)
    plain = sealer.open_chunk(stored, encrypted)
    if base_body is None:
        return zstandard.ZstdDecompressor().decompress(plain, max_output_size=MAX_CHUNK_BYTES)
    dictionary = zstandard.ZstdCompressionDict(base_body, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdDecompressor(dict_data=dictionary).decompress(plain, max_output_size=MAX_CHUNK_BYTES)


def read_chunk_body(repository, sealer, manifest, table, chunk):
    """Return one chunk's content, after hash, decryption and decompression (of its base too)."""
    encrypted = manifest.get("encrypted")
    base_body = None
    if "base" in chunk:
        where = f"table {table['name']} chunk {chunk['base']} (base of {chunk['hash']})"
        try:
            base_body = chunk_body(repository, sealer, encrypted, chunk["base"])
        except (RepositoryError, BackupIntegrityError) as error:
            raise BackupIntegrityError(f"{where}: {error}") from None
        except zstandard.ZstdError as error:
            raise BackupIntegrityError(f"{where}: cannot be decompressed ({type(error).__name__})") from None
    where = f"table {table['name']} chunk {chunk['hash']}"
    try:
        return chunk_body(repository, sealer, encrypted, chunk["hash"], base_body)
    except (RepositoryError, BackupIntegrityError) as error:
        raise BackupIntegrityError(f"{where}: {error}") from None
    except zstandard.ZstdError as error:
        raise BackupIntegrityError(f"{where}: cannot be decompressed ({type(error).__name__})") from None


def read_chunk(repository, sealer, manifest, table, chunk):
    """Return the rows of one chunk, after hash, decryption, decompression and parsing."""
    body = read_chunk_body(repository, sealer, manifest, table, chunk)
    where = f"table {table['name']} chunk {chunk['hash']}"
    try:
        data = json.loads(body)
    except ValueError as error:
        raise BackupIntegrityError(f"{where}: cannot be parsed ({type(error).__name__})") from None
    if not isinstance(data, dict) or data.get("table") != table["name"] or data.get("columns") != table["columns"]:
        raise BackupIntegrityError(f"{where}: holds rows of another table")
    rows = data.get("rows")
    width = len(table["columns"])
    if not isinstance(rows, list) or len(rows) != chunk["rows"] or any(
            not isinstance(r, list) or len(r) != width for r in rows):
        raise BackupIntegrityError(f"{where}: row count or shape does not match the manifest")
    return rows


def iter_table_chunks(repository, sealer, manifest, table):
    for chunk in table["chunks"]:
        yield read_chunk(repository, sealer, manifest, table, chunk)


def check_all_chunks(repository, sealer, manifest):
    """Read every chunk once: hash, decrypt, decompress. (Parsing is proven by verify, and the
    restore checks each chunk's rows again as it loads them, inside its transaction.)"""
    for table in manifest["tables"]:
        if sum(chunk["rows"] for chunk in table["chunks"]) != table["rows"]:
            raise BackupIntegrityError(f"table {table['name']}: the chunks' rows do not add up to the table's")
        for chunk in table["chunks"]:
            read_chunk_body(repository, sealer, manifest, table, chunk)


class PreviousBackup:
    """The newest readable backup, as the base for the next one's deltas."""

    def __init__(self, repository, sealer, manifest):
        self.repository, self.sealer, self.manifest = repository, sealer, manifest
        self.entries = {(t["name"], c.get("key")): c for t in manifest["tables"] for c in t["chunks"]}
        self.blobs = {entry["sha256"]: entry for entry in manifest.get("blobs", [])}

    @classmethod
    def newest(cls, repository, sealer):
        for backup_id in reversed(repository.backup_ids()):
            try:
                manifest, _digest = load_manifest(repository, sealer, backup_id)
            except (BackupIntegrityError, RepositoryError):
                continue
            if bool(manifest.get("encrypted")) == sealer.encrypted:
                return cls(repository, sealer, manifest)
            return None
        return None

    def base_of(self, table_name, key):
        """The whole chunk a delta of this range would be based on, or None."""
        entry = self.entries.get((table_name, key))
        if entry is None:
            return None
        if "base" in entry:
            return {"hash": entry["base"], "bytes": entry["base_bytes"]}
        return {"hash": entry["hash"], "bytes": entry["bytes"]}

    def load(self, base):
        try:
            return chunk_body(self.repository, self.sealer, self.manifest.get("encrypted"), base["hash"])
        except (RepositoryError, BackupIntegrityError, zstandard.ZstdError):
            return None  # a damaged base: write the chunk whole instead

"""Output sets on an object store (``s3://``, ``gs://``, ``az://``, any fsspec URL), published by a manifest.

An object store has no rename, so ``core/atomic.output_set``'s folder swap cannot apply. Instead a set
is staged in a local temporary folder (the same writers, the same bytes), then:

1. every file is uploaded under ``<prefix>/_sets/<set id>/<path>``, its size checked after upload;
2. ``<prefix>/_manifest.json`` is written LAST (one PUT: readers see the old manifest or the new one);
3. objects listed by the previous manifest and not by the new one are deleted.

The set id is a digest of the files' sha256 and the run's seed/config/version, so a rerun with the
same seed and config lands on the same keys with the same bytes, and a rerun with another config
never overwrites an object the previous manifest refers to: a failure before step 2 leaves the
previous set whole and authoritative. Readers read the manifest and then only the objects it lists
(``read_manifest``, ``download_set``); docs/scale-out.md "Object storage" states the contract and
the failure cases. Credentials come from the standard environment of each backend
(``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ``GOOGLE_APPLICATION_CREDENTIALS``, fsspec config).

Standard library only at import: fsspec is imported when a URL is actually used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synth_pipelines.core.atomic import file_sha256
from synth_pipelines.core.cli_support import OUTPUT_COMPLETE

MANIFEST_NAME = "_manifest.json"
SETS_DIR = "_sets"
MANIFEST_FORMAT = "synth-output-set/1"
_SET_ID = re.compile(r"^[0-9a-f]{20}$")
_URL = re.compile(r"^(?P<protocol>[A-Za-z][A-Za-z0-9+.-]*)://")
# Backends fsspec knows but needs a package for: the one line names it.
_BACKEND_PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}


log = logging.getLogger(__name__)


class ObjectStoreError(OSError):
    """A URL that cannot be written or read (bad protocol, bucket, credentials): one line, no traceback."""


def is_remote(location: str | os.PathLike[str]) -> bool:
    """True for a URL other than ``file://`` (which is a local path)."""
    found = _URL.match(str(location)) if isinstance(location, str) else None
    return found is not None and found["protocol"].lower() not in ("file", "local")


def local_or_url(location: str | os.PathLike[str]) -> str | Path:
    """A URL as it is; a local path (or ``file://`` URL) as a ``Path``."""
    text = os.fspath(location)
    if is_remote(text):
        protocol, _, rest = text.partition("://")
        return f"{protocol}://{rest.rstrip('/')}"  # "s3://" stays a URL (refused later, naming the bucket)
    return Path(text.removeprefix("file://")) if text.startswith("file://") else Path(text)


def redact(url: str) -> str:
    """The URL without a ``user:password@`` part: messages and metadata never carry a secret."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1***@", url)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _filesystem(url: str, what: str) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) for ``url``, or an ``ObjectStoreError`` naming what is missing."""
    import fsspec

    protocol = url.split("://", 1)[0].lower()
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError:
        package = _BACKEND_PACKAGES.get(protocol, f"the fsspec backend for {protocol}://")
        raise ObjectStoreError(f"{what} {redact(url)}: {protocol}:// needs {package} installed") from None
    except ValueError as exc:  # "Protocol not known: foo"
        raise ObjectStoreError(f"{what} {redact(url)}: unknown storage protocol {protocol!r} ({exc})") from None
    except Exception as exc:  # a backend refusing its own settings (malformed endpoint, profile)
        raise ObjectStoreError(f"{what} {redact(url)}: {_one_line(exc)}") from None
    if not path.strip("/"):
        raise ObjectStoreError(f"{what} {redact(url)}: give a bucket (and a prefix), e.g. {protocol}://bucket/prefix")
    return fs, path.rstrip("/")


def _translate(url: str, what: str, exc: BaseException) -> ObjectStoreError:
    if isinstance(exc, FileNotFoundError):
        reason = f"not found ({_one_line(exc)})"
    elif isinstance(exc, PermissionError):
        reason = f"access denied; check the credentials in the environment ({_one_line(exc)})"
    else:
        reason = _one_line(exc)
    return ObjectStoreError(f"{what} {redact(url)}: {reason}")


def translated(url: str, what: str, exc: BaseException) -> ObjectStoreError:
    """A backend's error (botocore, aiohttp, fsspec) on ``url`` as one line naming it."""
    return _translate(url, what, exc)


def check_writable_url(url: str, what: str = "output") -> None:
    """Prove before any work that ``url`` can be written (bucket exists, credentials allow a PUT and a DELETE)."""
    fs, path = _filesystem(url, what)
    probe = f"{path}/.synth-write-probe.{os.getpid()}"
    try:
        fs.pipe_file(probe, b"")
        fs.rm_file(probe)
    except Exception as exc:  # botocore/aiohttp raise many types; each becomes one line
        raise _translate(url, what, exc) from None


@dataclass(frozen=True)
class SetInfo:
    """What the manifest says besides the files: enough to tell which run made the set."""

    domain: str
    generator_version: str
    seed: int
    config: Mapping[str, Any]
    # A set of K shards (core/shards.py): its parts, shard manifests and the set's own summary, a file of
    # the set at the path ``_manifest.json`` (key ``_sets/<id>/_manifest.json``); None for single files.
    shards: int | None = None

    def as_json(self) -> dict[str, Any]:
        facts = {
            "domain": self.domain,
            "generator_version": self.generator_version,
            "seed": self.seed,
            "config": dict(self.config),
        }
        return facts if self.shards is None else {**facts, "shards": self.shards}


def set_info(domain: Any, cfg: Any, seed: int) -> SetInfo:
    """The manifest facts of a domain run (``cfg`` a pydantic model or a plain mapping)."""
    config = cfg.model_dump(mode="json") if hasattr(cfg, "model_dump") else dict(cfg)
    return SetInfo(str(domain.name), str(domain.version), int(seed), config)


def build_manifest(staging: Path, info: SetInfo) -> dict[str, Any]:
    """The manifest of the files below ``staging``: path, object key, size, sha256, in path order."""
    entries = []
    for file in sorted(p for p in staging.rglob("*") if p.is_file()):
        rel = file.relative_to(staging).as_posix()
        entries.append({"path": rel, "size": file.stat().st_size, "sha256": file_sha256(file)})
    identity = json.dumps({"files": entries, **info.as_json()}, sort_keys=True).encode()
    set_id = hashlib.sha256(identity).hexdigest()[:20]
    for entry in entries:
        entry["key"] = f"{SETS_DIR}/{set_id}/{entry['path']}"
    return {"format": MANIFEST_FORMAT, "set_id": set_id, **info.as_json(), "files": entries}


def own_key(key: str) -> bool:
    """A key this module writes: ``_sets/<20 hex>/<path>``, no empty, ``.`` or ``..`` segment."""
    parts = key.split("/")
    return (
        len(parts) >= 3
        and parts[0] == SETS_DIR
        and bool(_SET_ID.match(parts[1]))
        and all(p not in ("", ".", "..") for p in parts[2:])
    )


def read_manifest(url: str, what: str = "input") -> dict[str, Any] | None:
    """The set's manifest at ``url``, or None when there is none yet."""
    fs, path = _filesystem(url, what)
    try:
        fs.invalidate_cache()  # a listing cached before another writer's publish must not hide its manifest
        raw = fs.cat_file(f"{path}/{MANIFEST_NAME}")
    except FileNotFoundError:
        return None
    except Exception as exc:
        raise _translate(url, what, exc) from None
    manifest = json.loads(raw)
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ObjectStoreError(f"{what} {redact(url)}/{MANIFEST_NAME}: not a {MANIFEST_FORMAT} manifest")
    return manifest


def publish_set(staging: Path, url: str, info: SetInfo, what: str = "output") -> dict[str, Any]:
    """Upload the staged set to ``url``, write the manifest last, then delete the previous set's leftovers."""
    fs, root = _filesystem(url, what)
    previous = read_manifest(url, what)
    manifest = build_manifest(staging, info)
    try:
        for entry in manifest["files"]:
            key = f"{root}/{entry['key']}"
            fs.put_file(str(staging / entry["path"]), key)
            fs.invalidate_cache(key)  # the size must be the stored object's, not a cached listing's
            uploaded = fs.info(key)["size"]
            if uploaded != entry["size"]:
                raise OSError(f"{entry['path']}: {uploaded} bytes stored, {entry['size']} written")
        fs.pipe_file(f"{root}/{MANIFEST_NAME}", json.dumps(manifest, indent=1, sort_keys=True).encode())
    except ObjectStoreError:
        raise
    except Exception as exc:
        raise _translate(url, what, exc) from None
    if previous is not None:
        keep = {entry["key"] for entry in manifest["files"]}
        # Only keys of our own layout: a damaged or foreign manifest never makes us delete anything else.
        stale = [
            f"{root}/{key}"
            for e in previous.get("files", [])
            if isinstance(key := e.get("key"), str) and own_key(key) and key not in keep
        ]
        if stale:
            # The new set is already published: a failure here leaves unreferenced objects, never a broken set,
            # so it is a warning, not a failed run.
            try:
                fs.rm(stale)
            except FileNotFoundError:
                pass
            except KeyboardInterrupt as exc:
                exc.add_note(OUTPUT_COMPLETE)
                raise
            except Exception as exc:
                log.warning(
                    f"{what} {redact(url)}: published; {len(stale)} object(s) of the previous set not deleted "
                    f"({_one_line(exc)}); nothing reads them"
                )
    return manifest


def filesystem(url: str, what: str = "output") -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) for ``url``; a bad URL or missing backend is one ``ObjectStoreError``."""
    return _filesystem(url, what)


def upload_files(staging: Path, url: str, paths: list[str], what: str = "output") -> None:
    """Upload ``staging/<path>`` to ``<url>/<path>`` in the order given (the last one last), sizes checked.

    No manifest and no set id: for areas readers never read (the shards of a cluster awaiting their commit).
    """
    fs, root = _filesystem(url, what)
    try:
        for rel in paths:
            key = f"{root}/{rel}"
            fs.put_file(str(staging / rel), key)
            fs.invalidate_cache(key)
            stored, written = fs.info(key)["size"], (staging / rel).stat().st_size
            if stored != written:
                raise OSError(f"{rel}: {stored} bytes stored, {written} written")
    except Exception as exc:
        raise _translate(url, what, exc) from None


@contextmanager
def remote_output_set(url: str, info: SetInfo, what: str = "output") -> Iterator[Path]:
    """Yield a local staging folder; on success its files become the set published at ``url``.

    On any exception before the manifest is written nothing a reader uses changes (see the module doc).
    """
    staging = Path(tempfile.mkdtemp(prefix=f"synth-upload.{os.getpid()}."))
    try:
        yield staging
        publish_set(staging, url, info, what)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def staged_output(location: str | Path, info: SetInfo, *, exclusive: bool = False) -> Iterator[Path]:
    """``core/atomic.output_set`` for a local folder, ``remote_output_set`` for a URL: one call site per command."""
    if isinstance(location, str) and is_remote(location):
        with remote_output_set(location, info) as staging:
            yield staging
        return
    from synth_pipelines.core.atomic import output_set

    with output_set(location, exclusive=exclusive) as staging:
        yield staging


def check_output(location: str | Path) -> str | Path:
    """Prove ``location`` writable before a run draws anything (a local folder is created)."""
    if isinstance(location, str) and is_remote(location):
        check_writable_url(location)
        return location
    from synth_pipelines.core.atomic import check_writable_dir

    return check_writable_dir(location)


def shown(location: str | Path, rel: str | os.PathLike[str]) -> str:
    """Where a staged file ends up, for the command's listing (a URL keeps its ``//``)."""
    if isinstance(location, str) and is_remote(location):
        return f"{redact(location)}/{Path(rel).as_posix()}"
    return str(Path(location) / rel)


def download_set(url: str, target: Path, what: str = "input") -> dict[str, Any]:
    """The reader side of the contract: fetch the files the manifest lists, verifying size and sha256.

    Raises ``ObjectStoreError`` when there is no manifest, or an object is missing or differs (a
    rerun deleted it after this reader read the manifest: read the manifest again and retry).
    """
    manifest = read_manifest(url, what)
    if manifest is None:
        raise ObjectStoreError(f"{what} {redact(url)}: no {MANIFEST_NAME} (nothing published there yet)")
    fs, root = _filesystem(url, what)
    for entry in manifest["files"]:
        local = target / entry["path"]
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            fs.get_file(f"{root}/{entry['key']}", str(local))
        except Exception as exc:
            raise _translate(f"{url}/{entry['key']}", what, exc) from None
        if local.stat().st_size != entry["size"] or file_sha256(local) != entry["sha256"]:
            raise ObjectStoreError(f"{what} {redact(url)}/{entry['key']}: bytes differ from the manifest")
    return manifest


def read_set_file(url: str, manifest: Mapping[str, Any], rel: str, what: str = "input") -> bytes:
    """One file of a published set, by its path in the set, checked against the manifest's sha256."""
    entry = next((e for e in manifest["files"] if e["path"] == rel), None)
    if entry is None:
        raise ObjectStoreError(f"{what} {redact(url)}: the manifest lists no {rel}")
    fs, root = _filesystem(url, what)
    try:
        data = fs.cat_file(f"{root}/{entry['key']}")
    except Exception as exc:
        raise _translate(f"{url}/{entry['key']}", what, exc) from None
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise ObjectStoreError(f"{what} {redact(url)}/{entry['key']}: bytes differ from the manifest")
    return data

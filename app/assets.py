"""Static assets served as a CDN would: compressed, cached for a year under names that change with content.

- Vendored files live under `static/vendor/<package>-<version>/`: the version in the path changes whenever
  their content does, so they are immutable.
- Our own files (`app.css`, `app.js`) and the subset of the DSFR icon sheet that the templates use are
  copied to `static/build/<name>.<content hash>.<ext>`: immutable too.
- Every text file gets pre-compressed `.br` and `.gz` siblings, which WhiteNoise serves to browsers that
  accept them.

`build()` is idempotent and cheap once done (it only rewrites what changed); the application runs it at
start, and `flask assets build` runs it by hand (e.g. while building a production image, when the code
folder is read-only at run time). Generated files are not committed (see `.gitignore`).
"""

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

BUILD_DIR = "build"
OWN_FILES = ("app.css", "app.js")
ICON_SHEET = "utility/icons/icons.min.css"
COMPRESSED_SUFFIXES = (".css", ".js", ".svg", ".json", ".webmanifest", ".ico", ".html", ".txt")
ONE_YEAR = 365 * 24 * 3600
# Our icon names as templates write them: a class, or the `icon=` argument of the DSFR macros.
_ICON_USES = re.compile(r"""fr-icon-([a-z0-9-]+)|\bicon=["']([a-z0-9-]+)["']""")
_IMMUTABLE = re.compile(r"^/?static/(vendor/[a-z0-9-]+-\d[^/]*/|build/.+\.[0-9a-f]{12}\.)")
_ICON_RULE = re.compile(r"\.fr-icon-([a-z0-9-]+):after,\.fr-icon-\1:before\{[^}]*\}")


def init_app(app) -> None:
    static = Path(app.static_folder)
    manifest = build(static, Path(app.root_path))
    app.extensions["assets"] = manifest
    app.jinja_env.globals["asset"] = lambda name: f"{app.static_url_path}/{manifest.get(name, name)}"
    app.wsgi_app = WhiteNoise(
        app.wsgi_app,
        root=str(static),
        prefix=app.static_url_path.lstrip("/") + "/",
        max_age=0,
        immutable_file_test=lambda _path, url: bool(_IMMUTABLE.match(url)),
        add_headers_function=_cache_headers,
    )


def _cache_headers(headers, _path, url) -> None:
    """WhiteNoise says `max-age=0` for unversioned files; make that an explicit revalidation."""
    if not _IMMUTABLE.match(url):
        headers["Cache-Control"] = "public, max-age=0, must-revalidate"


def build(static: Path, package_root: Path) -> dict[str, str]:
    """Write the hashed copies, the icon subset and the compressed siblings; return logical → built names."""
    out = static / BUILD_DIR
    out.mkdir(exist_ok=True)
    manifest = {name: _hashed_copy(out, name, (static / name).read_bytes()) for name in OWN_FILES}
    manifest["icons.css"] = _hashed_copy(out, "icons.css", icon_subset(static, used_icons(package_root)))
    _remove_stale(out, set(manifest.values()))
    _write_if_changed(out / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True).encode())
    _compress_tree(static)
    return manifest


def used_icons(package_root: Path) -> set[str]:
    """Every DSFR utility icon named in our templates and Python code."""
    names = set()
    for path in [*package_root.glob("templates/**/*.html"), *package_root.glob("**/*.py")]:
        for match in _ICON_USES.finditer(path.read_text(encoding="utf-8")):
            names.add(match.group(1) or match.group(2))
    return names


def icon_subset(static: Path, names: set[str]) -> bytes:
    """The rules of the DSFR icon sheet for `names` only, with their URLs made relative to `static/build/`."""
    sheet_path = _vendor_dir(static, "dsfr") / ICON_SHEET
    sheet = sheet_path.read_text(encoding="utf-8")
    icons_url = "../" + (sheet_path.parent.parent.parent / "icons").relative_to(static).as_posix() + "/"
    rules = [m.group(0) for m in _ICON_RULE.finditer(sheet) if m.group(1) in names]
    header = "/* DSFR icons used by this application, extracted from " + ICON_SHEET + " (Etalab-2.0). */\n"
    return (header + "".join(rules).replace("../../icons/", icons_url)).encode()


def _vendor_dir(static: Path, package: str) -> Path:
    versions = json.loads((static / "vendor" / "manifest.json").read_text())
    return static / "vendor" / f"{package}-{versions[package]}"


def _hashed_copy(out: Path, name: str, content: bytes) -> str:
    stem, ext = os.path.splitext(name)
    built = f"{stem}.{hashlib.sha256(content).hexdigest()[:12]}{ext}"
    _write_if_changed(out / built, content)
    return f"{BUILD_DIR}/{built}"


def _remove_stale(out: Path, keep: set[str]) -> None:
    for path in out.iterdir():
        base = path.name.removesuffix(".br").removesuffix(".gz")
        if base != "manifest.json" and f"{BUILD_DIR}/{base}" not in keep:
            path.unlink(missing_ok=True)


def _compress_tree(static: Path) -> None:
    for path in static.rglob("*"):
        if path.suffix in COMPRESSED_SUFFIXES and path.is_file():
            _compress(path)


def _compress(path: Path) -> None:
    """Brotli and gzip siblings of `path`, kept only when they save at least 5 %; rewritten when stale."""
    mtime = path.stat().st_mtime
    targets = [(path.with_name(path.name + ".br"), Compressor.compress_brotli)]
    targets.append((path.with_name(path.name + ".gz"), Compressor.compress_gzip))
    if all(t.exists() and t.stat().st_mtime >= mtime for t, _ in targets):
        return
    data = path.read_bytes()
    for target, compress in targets:
        compressed = compress(data)
        if len(compressed) < 0.95 * len(data):
            _write_atomically(target, compressed)


def _write_if_changed(path: Path, content: bytes) -> None:
    if not path.exists() or path.read_bytes() != content:
        _write_atomically(path, content)


def _write_atomically(path: Path, content: bytes) -> None:
    """Several workers may build at once: each writes a temporary file and renames it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the file from a web server running as another user
    os.replace(tmp, path)

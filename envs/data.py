"""Locate DeepMimic's reference data (character, PD controllers, motion clips).

The project never commits DeepMimic's files (see DESIGN.md, "Reference data"). A user either
fetches them once from a pinned upstream commit into a cache dir, or points the project at a
local copy of DeepMimic's ``data/`` folder with ``--data-dir`` or the ``MIMICBENCH_DATA``
environment variable. This module is the single place that knows where those files live and
what their bytes must be (sha256), so every other part asks it instead of guessing paths.

It deliberately imports nothing heavy (no JAX) so that ``python -m envs.data fetch`` and path
resolution stay instant.

CLI::

    python -m envs.data fetch [--dest DIR] [--force]
    python -m envs.data verify [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Sequence

__all__ = [
    "COMMIT",
    "DATA_ENV_VAR",
    "DataError",
    "DataFile",
    "FETCH_COMMAND",
    "FILES",
    "MOTION_NAMES",
    "default_cache_dir",
    "download_file",
    "fetch",
    "main",
    "resolve_character_file",
    "resolve_controller_file",
    "resolve_data_dir",
    "resolve_motion_file",
    "sha256_file",
    "verify",
]

REPO = "xbpeng/DeepMimic"
# Pinned so that a moving upstream can never silently change the benchmark's reference motions.
COMMIT = "1f915c52fcd4b95b5f5f15b759ae91bd81e9a801"
DATA_ENV_VAR = "MIMICBENCH_DATA"
FETCH_COMMAND = "python run_benchmark.py fetch"
TIMEOUT_S = 30.0

CHARACTER_PREFIX = "humanoid3d"


@dataclass(frozen=True)
class DataFile:
    """One upstream file: its path relative to DeepMimic's ``data/`` folder and its sha256."""

    relpath: str
    sha256: str

    @property
    def upstream_path(self) -> str:
        return f"data/{self.relpath}"

    @property
    def url(self) -> str:
        return f"https://raw.githubusercontent.com/{REPO}/{COMMIT}/{self.upstream_path}"


# Hashes from shared/data/deepmimic/SOURCE.md (computed from the pinned commit).
FILES: tuple[DataFile, ...] = (
    DataFile("characters/humanoid3d.txt", "17469797e00704e82c53f70e3c08fd0e5adaf437b9c838b808f1173ca78c16a6"),
    DataFile("controllers/humanoid3d_ctrl.txt", "e7477605203c2059eda368a8773f424bc9589542252f2fbe488a7265dfc81a17"),
    DataFile("controllers/humanoid3d_phase_rot_ctrl.txt", "c53bdab04c6785d8d965265832e31c4c06426575041697438c3da600f22f714d"),
    DataFile("motions/humanoid3d_backflip.txt", "ffc5e117f69364e239eeedc86d6a30ab854500a375a1c137a405f1b7652905e6"),
    DataFile("motions/humanoid3d_cartwheel.txt", "17453459a40ec4ea08346072748ae3c7c384b49e619753e9779637fa8a9f7c49"),
    DataFile("motions/humanoid3d_crawl.txt", "104a3b675131a43e7a214e24c0ed631c6a0d814b85c8b66b71ce63b23a5731ae"),
    DataFile("motions/humanoid3d_dance_a.txt", "15ef3731f594edc9ed078170f1075815cc164acaca9e35a46db12a31ac64b717"),
    DataFile("motions/humanoid3d_jog.txt", "8664855dc19871fe859b543cd27d113e6f85769cb3fe7819efb47a0341bc6fd9"),
    DataFile("motions/humanoid3d_jump.txt", "a433557e94b193d8a95530572a0e32f387eb6d9996987b4216efb65444c3c641"),
    DataFile("motions/humanoid3d_roll.txt", "50d75c2243b2859f8dcae4ad8fa14b59054dd9ee529b4fb52ec14470cd982c55"),
    DataFile("motions/humanoid3d_run.txt", "2cbe488023b243e5769299158ce7c78875ec4b701a2ffe6c0beeaf83d16ca87b"),
    DataFile("motions/humanoid3d_sideflip.txt", "18ec3f7402e966fd4503a21c4f1b788daf8c96eab0cee8036b7a64ef6f40d9eb"),
    DataFile("motions/humanoid3d_spinkick.txt", "e293f84c00e5a3cefaf8e9e9952ac39cfcdc8a9d445b5c1d24c67a271c97d43c"),
    DataFile("motions/humanoid3d_walk.txt", "32d082c3599bc40aac50b1afa196ff1e2cf3842bb40f0541ab088845f6328a41"),
    DataFile("motions/humanoid3d_zombie_walk.txt", "6935eaa0a83a0ca13fbf4aaba58efa391f582a83436875fe08212b2029bcfbac"),
)


def _names(folder: str) -> tuple[str, ...]:
    return tuple(Path(f.relpath).stem for f in FILES if f.relpath.startswith(folder + "/"))


# Short clip names, as users and suites spell them (`walk` -> motions/humanoid3d_walk.txt).
MOTION_NAMES: tuple[str, ...] = tuple(n[len(CHARACTER_PREFIX) + 1 :] for n in _names("motions"))
CHARACTER_NAMES: tuple[str, ...] = _names("characters")
CONTROLLER_NAMES: tuple[str, ...] = _names("controllers")

# DeepMimic's license; written next to fetched files because MIT requires the notice to travel with copies.
LICENSE_TEXT = """\
MIT License

Copyright (c) 2018 Xue Bin Peng

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

_LOCAL_COPY_HINT = (
    f"pass --data-dir DIR or set {DATA_ENV_VAR}=DIR to a local copy of DeepMimic's data/ folder "
    f"(github.com/{REPO}, with characters/, controllers/ and motions/ inside)"
)

Opener = Callable[..., IO[bytes]]
"""Called as ``opener(url, timeout=seconds)``; returns a readable binary file (like ``urlopen``)."""


class DataError(Exception):
    """Reference data is missing, corrupt, unreachable, or was named wrongly; the message says what to do."""


# --------------------------------------------------------------------------- locating the data dir


def default_cache_dir() -> Path:
    """Where ``fetch`` puts files by default: ``$XDG_CACHE_HOME/mimicbench/deepmimic`` or ``~/.cache/...``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "mimicbench" / "deepmimic"


def _resolve_with_source(data_dir: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """Data dir plus a human phrase saying where it came from (for error messages)."""
    if data_dir is not None and str(data_dir) != "":
        path, source = Path(data_dir).expanduser(), "the data_dir argument (--data-dir)"
    elif os.environ.get(DATA_ENV_VAR):
        path, source = Path(os.environ[DATA_ENV_VAR]).expanduser(), f"environment variable {DATA_ENV_VAR}"
    else:
        return default_cache_dir(), "the default cache dir"
    # An explicit choice that points nowhere is a typo, not a request to download: say so loudly.
    if not path.is_dir():
        raise DataError(f"data dir {path} (from {source}) does not exist or is not a directory")
    return path, source


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The DeepMimic data dir: ``data_dir`` if given, else ``$MIMICBENCH_DATA``, else the cache dir.

    An explicitly given (argument or env var) dir must exist; the cache dir need not (it is
    created by ``fetch``).
    """
    return _resolve_with_source(data_dir)[0]


# --------------------------------------------------------------------------- resolving files


def _resolve_file(
    kind: str,
    folder: str,
    name: str | os.PathLike[str],
    valid: Sequence[str],
    full_names: dict[str, str],
    data_dir: str | os.PathLike[str] | None,
) -> Path:
    """Shared logic: an existing file path passes through; a known name maps into the data dir.

    No hashing here (resolving must stay cheap); ``verify`` checks bytes.
    """
    as_path = Path(name).expanduser()
    if as_path.is_file():
        return as_path
    text = os.fspath(name)
    key = text[:-4] if text.endswith(".txt") and os.sep not in text and "/" not in text else text
    if key not in full_names:
        if os.sep in text or "/" in text or text.endswith(".txt"):
            raise DataError(f"{kind} file {text} does not exist")
        raise DataError(f"unknown {kind} {text!r}; valid names: {', '.join(valid)} (or a path to a file)")
    root, source = _resolve_with_source(data_dir)
    path = root / folder / f"{full_names[key]}.txt"
    if not path.is_file():
        raise DataError(
            f"{kind} {key!r} not found: {path} is missing in data dir {root} (from {source}). "
            f"Run `{FETCH_COMMAND}` (or `python -m envs.data fetch`) to download DeepMimic's data, "
            f"or {_LOCAL_COPY_HINT}."
        )
    return path


def resolve_motion_file(clip: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of a motion clip given a file path, a short name (``walk``) or a full name (``humanoid3d_walk``)."""
    full = {f"{CHARACTER_PREFIX}_{n}": f"{CHARACTER_PREFIX}_{n}" for n in MOTION_NAMES}
    full.update({n: f"{CHARACTER_PREFIX}_{n}" for n in MOTION_NAMES})
    return _resolve_file("motion clip", "motions", clip, MOTION_NAMES, full, data_dir)


def resolve_character_file(
    name: str | os.PathLike[str] = "humanoid3d", data_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Path of a DeepMimic character file given a path or a shipped name (``humanoid3d``)."""
    return _resolve_file("character", "characters", name, CHARACTER_NAMES, {n: n for n in CHARACTER_NAMES}, data_dir)


def resolve_controller_file(
    name: str | os.PathLike[str] = "humanoid3d_ctrl", data_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Path of a DeepMimic PD controller file given a path or a shipped name (``humanoid3d_ctrl``)."""
    return _resolve_file(
        "controller", "controllers", name, CONTROLLER_NAMES, {n: n for n in CONTROLLER_NAMES}, data_dir
    )


# --------------------------------------------------------------------------- verify and fetch


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(data_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Problems with the data dir (missing files, wrong sha256); an empty list means all 15 files are right."""
    root = resolve_data_dir(data_dir)
    if not root.is_dir():
        return [f"data dir {root} does not exist; run `{FETCH_COMMAND}`"]
    problems = []
    for f in FILES:
        path = root / f.relpath
        if not path.is_file():
            problems.append(f"missing: {path}")
        elif (actual := sha256_file(path)) != f.sha256:
            problems.append(f"bad sha256: {path}: expected {f.sha256}, got {actual}")
    return problems


def download_file(f, target: Path, opener: Opener, timeout: float, local_copy_hint: str = _LOCAL_COPY_HINT) -> None:
    """Download one file (``f``: its ``url``, ``relpath`` and ``sha256``) to ``target`` atomically: bytes go to a temp
    file that replaces ``target`` only once the sha256 matches, so an interrupted or corrupt download never leaves a
    file behind. ``local_copy_hint`` tells an offline user how to point the project at a copy instead."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with opener(f.url, timeout=timeout) as resp:
                    for chunk in iter(lambda: resp.read(1 << 16), b""):
                        h.update(chunk)
                        out.write(chunk)
            except urllib.error.HTTPError as e:
                raise DataError(
                    f"could not download {f.relpath} from {f.url}: HTTP {e.code} {e.reason}. "
                    f"If this machine is offline or cannot reach GitHub, {local_copy_hint}."
                ) from e
            except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as e:
                reason = getattr(e, "reason", e)
                raise DataError(
                    f"could not download {f.relpath} from {f.url}: this machine appears to be offline "
                    f"or cannot reach GitHub ({reason}). To work offline, {local_copy_hint}."
                ) from e
        if (actual := h.hexdigest()) != f.sha256:
            raise DataError(
                f"sha256 mismatch for {f.relpath} downloaded from {f.url}: expected {f.sha256}, got {actual}; "
                "the file was not saved"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text)
    os.replace(tmp, path)


def _source_md() -> str:
    rows = "\n".join(f"| {f.relpath} | {f.sha256} |" for f in FILES)
    return (
        "# DeepMimic data (MIT License, see LICENSE)\n\n"
        f"Source: github.com/{REPO} at commit {COMMIT}.\n"
        "Upstream path of each file: data/<folder>/<file> (e.g. data/motions/humanoid3d_walk.txt).\n"
        "Fetched by MimicBench (envs/data.py).\n\n"
        f"| file | sha256 |\n|---|---|\n{rows}\n"
    )


def fetch(
    dest: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    progress: Callable[[str], object] | None = print,
    opener: Opener | None = None,
    timeout: float = TIMEOUT_S,
) -> Path:
    """Download the 15 DeepMimic files from the pinned commit into ``dest`` (default: the cache dir).

    Files already present with the right sha256 are skipped unless ``force``. Writes LICENSE and
    SOURCE.md beside them. ``opener`` defaults to ``urllib.request.urlopen`` (injectable so tests
    run offline). Returns the data dir. Raises ``DataError`` when offline or on a hash mismatch.
    """
    root = Path(dest).expanduser() if dest is not None else default_cache_dir()
    open_url: Opener = opener if opener is not None else urllib.request.urlopen
    say = progress if progress is not None else (lambda _msg: None)
    root.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(FILES, 1):
        target = root / f.relpath
        tag = f"[{i}/{len(FILES)}] {f.relpath}"
        if not force and target.is_file() and sha256_file(target) == f.sha256:
            say(f"{tag}: present, sha256 ok")
            continue
        download_file(f, target, open_url, timeout)
        say(f"{tag}: downloaded, sha256 ok")
    _write_text_atomic(root / "LICENSE", LICENSE_TEXT)
    _write_text_atomic(root / "SOURCE.md", _source_md())
    say(f"DeepMimic data ready in {root}")
    return root


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m envs.data {fetch,verify}``; returns a process exit code."""
    parser = argparse.ArgumentParser(prog="python -m envs.data", description="Fetch or verify DeepMimic data.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_fetch = sub.add_parser("fetch", help="download the pinned DeepMimic files and check their sha256")
    p_fetch.add_argument("--dest", default=None, help=f"target dir (default: {default_cache_dir()})")
    p_fetch.add_argument("--force", action="store_true", help="re-download files that are already present")
    p_verify = sub.add_parser("verify", help="check that all files are present with the right sha256")
    p_verify.add_argument("--data-dir", default=None, help=f"data dir (default: ${DATA_ENV_VAR} or the cache dir)")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "fetch":
            fetch(args.dest, force=args.force)
            return 0
        root = resolve_data_dir(args.data_dir)
        problems = verify(root)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {root}", file=sys.stderr)
        return 1
    print(f"all {len(FILES)} files present with the right sha256 in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

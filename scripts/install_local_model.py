"""Install llama-cpp-python (the local-model extra's llama.cpp) from a wheel built without AMX.

Usage: ``python scripts/install_local_model.py`` with the venv's python (the Makefile does this
before ``pip install -e '.[test,local-model]'``). Standard library only.

Why a script, not just the extra: PyPI has only llama-cpp-python's sdist, so pip compiles
llama.cpp with ``-march=native``. On a CPU with AMX (Xeon Sapphire Rapids and later) that
compiles ggml's AMX matmul kernel, and GCC 12's ``_tile_loadconfig`` (amxtileintrin.h) tells the
optimizer it reads 8 of the config's 64 bytes. The stores to the tile rows and column widths are
then dropped, ``ldtilecfg`` loads garbage, and the server dies with SIGSEGV on its first prompt of
2+ tokens. We keep ``-march=native`` and compile with ``-mno-amx-tile -mno-amx-int8
-mno-amx-bf16``, so ggml uses its AVX512-VNNI kernels instead.

pip caches a wheel it built by name and version, not by compile flags, so a plain ``pip install``
would keep reusing a wheel built with AMX. We build with ``--no-cache-dir`` into a directory keyed
by version, flags, compilers and CPU (``COSTROUTER_WHEEL_CACHE``, default
``~/.cache/langchain-costrouter/wheels``), install that file, and skip all this when the venv
already has that exact wheel.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

ROOT = Path(__file__).resolve().parent.parent
DIST = "llama-cpp-python"
NO_AMX = ("-mno-amx-tile", "-mno-amx-int8", "-mno-amx-bf16")
CMAKE_ARGS = "-DGGML_NATIVE=ON"


class InstallError(RuntimeError):
    """The local model's llama.cpp could not be built or installed; the message says why."""


def pinned_version(pyproject: str) -> str:
    """The ``==`` version of llama-cpp-python in the ``local-model`` extra of ``pyproject``."""
    extra = re.search(r"^local-model\s*=\s*\[(.*?)\]\s*$", pyproject, re.M | re.S)
    if extra is None:
        raise InstallError("pyproject.toml has no local-model extra")
    pin = re.search(r'"llama-cpp-python(?:\[[^\]]*\])?\s*==\s*([0-9][^",;\s]*)"', extra.group(1))
    if pin is None:
        raise InstallError(
            "the local-model extra must pin llama-cpp-python with == (this script builds "
            f"exactly that version): {extra.group(1).strip()}"
        )
    return pin.group(1)


def accepts(compiler: str, flags: Sequence[str], lang: str) -> bool:
    """Whether ``compiler`` compiles an empty program with ``flags``."""
    if shutil.which(compiler) is None:
        return False
    try:
        done = subprocess.run(
            [compiler, *flags, "-x", lang, "-c", "-o", os.devnull, "-"],
            input=b"int main(void) { return 0; }\n", capture_output=True, timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def build_env(
    base: Mapping[str, str], machine: str, cc_ok: bool, cxx_ok: bool
) -> dict[str, str]:
    """The variables the build needs, on top of the caller's own CMAKE_ARGS/CFLAGS/CXXFLAGS."""

    def join(*parts: str) -> str:
        return " ".join(p for p in parts if p)

    env = {"CMAKE_ARGS": join(CMAKE_ARGS, base.get("CMAKE_ARGS", ""))}
    amd64 = machine.lower() in ("x86_64", "amd64")
    for var, ok in (("CFLAGS", cc_ok), ("CXXFLAGS", cxx_ok)):
        if amd64 and not ok:
            raise InstallError(
                f"the compiler for {var} rejects {' '.join(NO_AMX)}; without them llama.cpp "
                "may be built with the AMX kernel that crashes (see this script's docstring)"
            )
        env[var] = join(base.get(var, ""), *(NO_AMX if amd64 else ()))
    return env


def cache_key(version: str, env: Mapping[str, str], compilers: str, cpu: str) -> str:
    """Short hash of everything the built wheel depends on (``-march=native``: the CPU too)."""
    text = json.dumps([version, dict(sorted(env.items())), compilers, cpu, platform.machine()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cpu_signature() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    flags = re.search(r"^(?:flags|Features)\s*:(.*)$", info, re.M)
    return " ".join(sorted(flags.group(1).split())) if flags else info[:4096]


def compiler_versions(env: Mapping[str, str]) -> str:
    out = []
    for var, default in (("CC", "cc"), ("CXX", "c++")):
        exe = env.get(var, default)
        try:
            out.append(subprocess.run([exe, "--version"], capture_output=True, text=True,
                                      timeout=60).stdout.splitlines()[:1])
        except (OSError, subprocess.TimeoutExpired):
            out.append([f"{exe}: missing"])
    return json.dumps(out)


def installed_wheel(python: str) -> str | None:
    """The wheel file the venv's llama-cpp-python was installed from, if pip recorded one."""
    code = (
        "import importlib.metadata as m\n"
        "try: print(m.distribution('llama-cpp-python').read_text('direct_url.json') or '')\n"
        "except m.PackageNotFoundError: pass\n"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout
    if not out.strip():
        return None
    url = json.loads(out).get("url", "")
    return unquote(urlparse(url).path) if url.startswith("file:") else None


def build(python: str, version: str, env: Mapping[str, str], dest: Path) -> Path:
    """Build the wheel into ``dest`` (atomically: a half-built directory is never used)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
    print(f"building {DIST}=={version} without AMX (about 10 CPU-minutes) into {dest}",
          flush=True)
    cmd = [python, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "--no-binary", DIST,
           "-w", str(tmp), f"{DIST}=={version}"]
    done = subprocess.run(cmd, env={**os.environ, **env})
    wheels = sorted(tmp.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InstallError(f"building {DIST}=={version} failed (exit {done.returncode}): "
                           f"{' '.join(cmd)} with {dict(env)}")
    (tmp / "build-env.json").write_text(json.dumps({"version": version, **env}, indent=1))
    try:
        tmp.rename(dest)
    except OSError:  # another build finished first: keep its wheel
        shutil.rmtree(tmp, ignore_errors=True)
    return next(dest.glob("*.whl"))


def main(argv: Sequence[str] = ()) -> int:
    python = argv[0] if argv else sys.executable
    version = pinned_version((ROOT / "pyproject.toml").read_text())
    env = build_env(os.environ, platform.machine(),
                    accepts(os.environ.get("CC", "cc"), NO_AMX, "c"),
                    accepts(os.environ.get("CXX", "c++"), NO_AMX, "c++"))
    key = cache_key(version, env, compiler_versions(os.environ), cpu_signature())
    cache = Path(os.environ.get("COSTROUTER_WHEEL_CACHE")
                 or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                 / "langchain-costrouter" / "wheels").resolve()  # pip records absolute paths
    dest = cache / f"{DIST}-{version}-{key}"
    found = sorted(dest.glob("*.whl"))
    wheel = found[0] if found else build(python, version, env, dest)
    if installed_wheel(python) == str(wheel):
        print(f"{DIST}=={version} is already installed from {wheel}")
        return 0
    pip = [python, "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--no-deps", "--force-reinstall", str(wheel)], check=True)
    subprocess.run([*pip, f"{wheel}[server]"], check=True)  # the server's own dependencies
    print(f"installed {DIST}=={version} from {wheel}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except InstallError as e:
        sys.exit(f"install_local_model: {e}")

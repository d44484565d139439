"""``scripts/tls.py``: make the local CA (once) and this machine's server certificate, then say how to start.

Run with ComfyUI's Python from the ComfyUI folder or anywhere:

    python custom_nodes/ComfyUI-CozyGen/scripts/tls.py [--name nas.home] [--address 10.0.0.5] [--port 8188]
"""

from __future__ import annotations

import argparse
import shlex
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ..accounts.cli import PACKAGE, default_data_dir
from ..errors import CozyGenError
from ..store.datadir import ENV_VAR, ensure_data_dir
from .authority import TlsFiles, issue_server
from .machine import default_names_and_addresses, usable


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="tls.py",
        description="Make a local certificate authority (once) and a certificate for this machine, for HTTPS "
        "on the home network.",
    )
    top.add_argument(
        "--data-dir", type=Path, help=f"CozyGen's data folder (default: ${ENV_VAR} or <ComfyUI>/user/cozygen)"
    )
    top.add_argument("--name", action="append", default=[], help="another host name to cover (repeatable)")
    top.add_argument("--address", action="append", default=[], help="another IP address to cover (repeatable)")
    top.add_argument("--only", action="store_true", help="cover only the --name and --address given")
    top.add_argument("--port", type=int, default=8188, help="ComfyUI's port, for the printed command (8188)")
    top.add_argument("--listen", default="0.0.0.0", help="ComfyUI's --listen, for the printed command (0.0.0.0)")
    return top


def start_command(files: TlsFiles, listen: str, port: int) -> str:
    """The command that starts ComfyUI with this certificate."""
    args = [sys.executable, "main.py", "--listen", listen, "--port", str(port)]
    args += ["--tls-keyfile", str(files.server_key), "--tls-certfile", str(files.server_cert)]
    command = shlex.join(args)
    comfyui = comfyui_folder()
    return f"cd {shlex.quote(str(comfyui))} && {command}" if comfyui else command


def comfyui_folder() -> Path | None:
    """ComfyUI's folder, when this package sits in its custom_nodes."""
    comfyui = PACKAGE.parent.parent
    return comfyui if PACKAGE.parent.name == "custom_nodes" and (comfyui / "main.py").is_file() else None


def https_urls(names: Sequence[str], addresses: Sequence[str], port: int, path: str = "/cozygen/") -> list[str]:
    """The https URLs a phone can open: LAN addresses first, then names (loopback left out)."""
    hosts = [f"[{a}]" if ":" in a else a for a in addresses if usable(a)]
    hosts += [n for n in names if n != "localhost"]
    suffix = "" if port == 443 else f":{port}"
    return [f"https://{h}{suffix}{path}" for h in hosts]


def run(args: argparse.Namespace, out: TextIO) -> int:
    data_dir = args.data_dir or default_data_dir()
    if data_dir is None:
        raise CozyGenError(f"cannot tell where CozyGen's data folder is: pass --data-dir or set {ENV_VAR}")
    files = TlsFiles.of(ensure_data_dir(Path(data_dir).expanduser().resolve()))
    names, addresses = ([], []) if args.only else default_names_and_addresses()
    issued = issue_server(files, [*names, *args.name], [*addresses, *args.address], label=socket.gethostname())
    state = "created" if issued.ca_created else "kept (phones that trust it keep working)"
    print(f"Certificate authority {state}: {files.ca_cert}", file=out)
    covered = ", ".join([*issued.names, *issued.addresses])
    print(f"Server certificate for {covered}; valid until {issued.not_after:%Y-%m-%d}.", file=out)
    where = "" if comfyui_folder() else " (from ComfyUI's folder)"
    print(f"\nStart ComfyUI with{where}:\n", file=out)
    print(f"  {start_command(files, args.listen, args.port)}\n", file=out)
    urls = https_urls(issued.names, issued.addresses, args.port)
    if urls:
        print("Then, on the phone, open this page, install the certificate authority and follow its steps:\n", file=out)
        print(f"  {urls[0].removesuffix('/cozygen/')}/cozygen/trust\n", file=out)
        print("CozyGen is then at:\n", file=out)
        for url in urls:
            print(f"  {url}", file=out)
    if args.listen not in ("127.0.0.1", "::1", "localhost"):
        print("\nListening on the network turns CozyGen's sign-in on (see the README's phone section).", file=out)
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args, out)
    except (CozyGenError, ValueError, OSError) as error:
        print(f"tls.py: {error}", file=sys.stderr)
        return 1

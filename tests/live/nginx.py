"""``deploy/nginx.conf`` as shipped, run by an unprivileged-path nginx of a test or benchmark:
only the listen port, the upstream's server lines, the static folder and the files nginx
writes (pid, logs, temp folders) are templated. Everything else, the balancing included, is
the shipped file's."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "nginx.conf"
NGINX_CANDIDATES = ("/usr/sbin/nginx", "nginx")


def nginx_binary() -> str:
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise RuntimeError("nginx is not installed: run `make nginx` (make test does it first)")


def _replace_once(pattern: str, repl: str, text: str, what: str) -> str:
    new, count = re.subn(pattern, lambda _m: repl, text, flags=re.MULTILINE)
    if count != 1:
        raise AssertionError(f"deploy/nginx.conf: expected one {what}, found {count}")
    return new


def render(workdir: Path, *, upstream_ports: list[int], listen_port: int) -> Path:
    """Write the shipped config, templated for ``workdir``, to ``workdir/nginx.conf``."""
    text = SHIPPED.read_text()
    servers = "".join(f"        server 127.0.0.1:{port};\n" for port in upstream_ports)
    block = re.search(r"upstream attendance \{\n(.*?)\n    \}", text, flags=re.DOTALL)
    if not block:
        raise AssertionError("deploy/nginx.conf: no `upstream attendance { ... }` block")
    body = block.group(1)
    lines = [ln for ln in body.splitlines(True) if re.match(r"\s*server 127\.0\.0\.1:\d+;", ln)]
    if not lines:
        raise AssertionError("deploy/nginx.conf: no server lines in the upstream")
    kept = "".join(
        ln for ln in body.splitlines(True) if ln not in lines and not ln.strip().startswith("#")
    )
    text = text.replace(body, kept.rstrip("\n") + "\n" + servers.rstrip("\n"))
    text = _replace_once(
        r"^(\s*)listen 80;", f"        listen 127.0.0.1:{listen_port};", text, "`listen 80;`"
    )
    text = _replace_once(
        r"^\s*alias /srv/attendance/static/;",
        f"            alias {ROOT / 'static'}/;",
        text,
        "static alias",
    )
    temp = [
        f"    access_log {workdir / 'access.log'};",
        *(
            f"    {kind}_temp_path {workdir / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        ),
    ]
    text = _replace_once(r"^http \{$", "http {\n" + "\n".join(temp), text, "`http {`")
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (workdir / kind).mkdir(exist_ok=True)
        (workdir / kind).chmod(0o777)  # workers run as `nobody` when nginx starts as root
    conf = workdir / "nginx.conf"
    conf.write_text(text)
    return conf


def nginx_command(workdir: Path, *, upstream_ports: list[int], listen_port: int) -> list[str]:
    """The argv of a foreground nginx serving the shipped config from ``workdir``."""
    conf = render(workdir, upstream_ports=upstream_ports, listen_port=listen_port)
    return [
        nginx_binary(),
        "-p",
        str(workdir),
        "-c",
        str(conf),
        "-e",
        str(workdir / "error.log"),
        "-g",
        f"daemon off; pid {workdir / 'nginx.pid'};",
    ]

"""The nginx configuration the benches start nginx with: one process, in the foreground, every
file it writes under a temporary folder, no access log; each bench adds its own ``http``
directives and servers."""

from __future__ import annotations

from pathlib import Path

_HEAD = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
"""


def nginx_conf(tmp: Path, http: str, *, connections: int = 1024) -> str:
    """A whole ``nginx.conf``: the common head, then ``http`` (indented directives and servers)."""
    return _HEAD.format(tmp=tmp, connections=connections) + http + "}\n"

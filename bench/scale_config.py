#!/usr/bin/env python3
"""Writes the N-route configurations of bench/scale.sh: the router's dynamic file and nginx's.

    scale_config.py N DIR BACKEND_PORT NGINX_PORT

A realistic mix, one route in four of each shape, every one to the same backend, one in four
with a headers middleware:
    Host(`h<i>.test`)                          nginx: a server_name
    Host(`hp<i>.test`) && PathPrefix(`/api`)   nginx: a server_name and a location
    HostRegexp(`^r<i>\\.[a-z]+\\.test$`)        nginx: a regex server_name
    PathPrefix(`/p<i>/`)                       nginx: a prefix location in the default server
Writes DIR/dynamic-N.yml and DIR/nginx-N.conf, and prints the four probes (shape, Host, path)
of the last route of each shape (the one a scan by priority would reach last).
"""

import sys

n, out, backend, nginx_port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
shapes = ["host", "hostpath", "regex", "path"]
routes = []
for i in range(n):
    shape = shapes[i % 4]
    routes.append((shape, i))

dyn = ["http:", "  routers:"]
for shape, i in routes:
    rule = {
        "host": f"Host(`h{i}.test`)",
        "hostpath": f"Host(`hp{i}.test`) && PathPrefix(`/api`)",
        "regex": f"HostRegexp(`^r{i}\\\\.[a-z]+\\\\.test$`)",
        "path": f"PathPrefix(`/p{i}/`)",
    }[shape]
    dyn.append(f"    r{i}:")
    dyn.append(f'      rule: "{rule}"')
    dyn.append("      service: backend")
    if i % 4 == 1:
        dyn.append("      middlewares: [hdr]")
dyn += [
    "  middlewares:",
    "    hdr:",
    "      headers:",
    "        customRequestHeaders:",
    '          X-Bench: "1"',
    "  services:",
    "    backend:",
    "      loadBalancer:",
    "        servers:",
    f'          - url: "http://127.0.0.1:{backend}"',
]
with open(f"{out}/dynamic-{n}.yml", "w") as f:
    f.write("\n".join(dyn) + "\n")

loc = "proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\";"
servers = []
paths = []
for shape, i in routes:
    if shape == "host":
        servers.append(f"    server {{ listen 127.0.0.1:{nginx_port}; server_name h{i}.test; location / {{ {loc} }} }}")
    elif shape == "hostpath":
        servers.append(
            f"    server {{ listen 127.0.0.1:{nginx_port}; server_name hp{i}.test; location /api {{ proxy_set_header X-Bench 1; {loc} }} }}"
        )
    elif shape == "regex":
        servers.append(f"    server {{ listen 127.0.0.1:{nginx_port}; server_name ~^r{i}\\.[a-z]+\\.test$; location / {{ {loc} }} }}")
    else:
        paths.append(f"        location /p{i}/ {{ {loc} }}")
conf = f"""worker_processes auto;
daemon off;
pid {out}/nginx-scale.pid;
error_log {out}/nginx-scale-error.log error;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {out}/body;
    proxy_temp_path {out}/proxy;
    fastcgi_temp_path {out}/fastcgi;
    uwsgi_temp_path {out}/uwsgi;
    scgi_temp_path {out}/scgi;
    keepalive_requests 1000000;
    server_names_hash_max_size 65536;
    server_names_hash_bucket_size 128;
    upstream backend {{ server 127.0.0.1:{backend}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{nginx_port} default_server;
{chr(10).join(paths)}
    }}
{chr(10).join(servers)}
}}
"""
with open(f"{out}/nginx-{n}.conf", "w") as f:
    f.write(conf)

last = {}
for shape, i in routes:
    last[shape] = i
probes = {
    "host": (f"h{last['host']}.test", "/"),
    "hostpath": (f"hp{last.get('hostpath', 0)}.test", "/api/x"),
    "regex": (f"r{last.get('regex', 0)}.any.test", "/"),
    "path": ("other.test", f"/p{last.get('path', 0)}/x"),
}
for shape in shapes:
    host, path = probes[shape]
    print(shape, host, path)

"""moto's server (PyPI moto[server]) for the ECS provider's tests, with what the ECS agent adds.

moto answers the ECS and EC2 APIs but runs no agent, so its tasks' containers carry no
`networkBindings` (bridge and host mode) and no `networkInterfaces` (awsvpc), which real ECS
reports once a container runs. This launcher fills them as the agent reports them: the task
definition's static port mappings, and the task's ENI address (and a container's `cpu` and
`memory` as the strings ECS's model has, where moto copies the definition's numbers). ENI addresses are taken in order
from MOTO_ECS_ENI_IPS (comma-separated) so that the tests' backends can listen there.

Besides, for the tests:
- every request's access key id and action (`AKID ecs:ListTasks`, from its SigV4
  Authorization header and X-Amz-Target or Action) is appended to the file named by
  MOTO_ACTION_LOG;
- while the file named by MOTO_THROTTLE exists, every call is answered with ECS's or EC2's
  throttling error (HTTP 400, ThrottlingException / RequestLimitExceeded).

Prints `listening <port>` once it accepts connections on 127.0.0.1. It patches moto's models,
so moto's version is pinned (scripts/prereqs.list).
"""

import io
import os
import sys
import threading
import urllib.parse

from moto.ecs import models as ecs_models
from moto.moto_api import state_manager
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

ENI_IPS = [ip for ip in os.environ.get("MOTO_ECS_ENI_IPS", "").split(",") if ip]
ENI_LOCK = threading.Lock()


def next_eni_ip(*_args, **_kwargs):
    with ENI_LOCK:
        if ENI_IPS:
            return ENI_IPS.pop(0)
    return "10.255.255.254"


ecs_models.random_private_ip = next_eni_ip

ORIGINAL_TASK_INIT = ecs_models.Task.__init__


def task_init(self, cluster, task_definition, *args, **kwargs):
    ORIGINAL_TASK_INIT(self, cluster, task_definition, *args, **kwargs)
    eni = None
    for a in self.attachments:
        details = {d["name"]: d["value"] for d in a["details"]}
        eni = (a["id"], details.get("privateIPv4Address"))
    for container in self.containers:
        # ECS's model has these as strings (moto copies the definition's numbers).
        for field in ("cpu", "memory"):
            value = getattr(container, field, None)
            if value is not None:
                setattr(container, field, str(value))
        definition = next(
            (d for d in task_definition.container_definitions if d.get("name") == container.name),
            {},
        )
        if eni:
            container.network_interfaces = [
                {"attachmentId": eni[0], "privateIpv4Address": eni[1]}
            ]
            container.last_status = "RUNNING"
            continue
        bindings = []
        for m in definition.get("portMappings", []):
            host = m.get("hostPort") or (
                m.get("containerPort") if task_definition.network_mode == "host" else None
            )
            if host:
                bindings.append(
                    {
                        "bindIP": "0.0.0.0",
                        "containerPort": m.get("containerPort"),
                        "hostPort": host,
                        "protocol": m.get("protocol", "tcp"),
                    }
                )
        container.network_bindings = bindings
        container.last_status = "RUNNING"


ecs_models.Task.__init__ = task_init


class Recorder:
    """Logs each call's action and answers throttling errors while asked to."""

    def __init__(self, app):
        self.app = app
        self.log = os.environ.get("MOTO_ACTION_LOG")
        self.throttle = os.environ.get("MOTO_THROTTLE")
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target:
            size = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(size) if size else b""
            environ["wsgi.input"] = io.BytesIO(body)
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
            action = (form.get("Action") or query.get("Action") or [""])[0]
            service = "ec2"
        else:
            service, _, action = target.partition(".")
            service = "ecs" if "EC2ContainerService" in service else service
        if not action and environ.get("PATH_INFO", "").startswith("/moto-api"):
            return self.app(environ, start_response)
        if self.log:
            auth = environ.get("HTTP_AUTHORIZATION", "")
            key = auth.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in auth else "-"
            with self.lock, open(self.log, "a") as f:
                f.write(f"{key} {service}:{action}\n")
        if self.throttle and os.path.exists(self.throttle):
            if service == "ec2":
                payload = (
                    b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
                    b"<Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
                    b"</Message></Error></Errors><RequestID>t</RequestID></Response>"
                )
                kind = "text/xml"
            else:
                payload = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
                kind = "application/x-amz-json-1.1"
            start_response(
                "400 Bad Request",
                [("Content-Type", kind), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        return self.app(environ, start_response)


def main():
    # moto moves a task one state on (RUNNING, DEACTIVATING, ... STOPPED) each time it is
    # described; a task on ECS stays RUNNING until it is stopped.
    state_manager.set_transition(
        model_name="ecs::task", transition={"progression": "manual", "times": 10**9}
    )
    app = Recorder(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

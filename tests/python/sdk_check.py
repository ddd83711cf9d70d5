#!/usr/bin/env python3
"""docker-py (the `docker` package) through a socket-guard with CONTAINERS=1 and POST=0.

Checks that the SDK pings, lists containers (the one named by --listed among them), and that
`containers.run(...)` raises docker.errors.APIError with status 403 and socket-guard's message.
The guard is found through DOCKER_HOST (docker.from_env), e.g. DOCKER_HOST=tcp://127.0.0.1:2375.

Exits 0 when every check passes; otherwise prints what failed on stderr and exits 1
(2 when the SDK is not installed).
"""

import argparse
import sys

try:
    import docker
    import docker.errors
except ImportError:
    print("sdk_check: the Python Docker SDK is missing: pip install docker", file=sys.stderr)
    sys.exit(2)

DENIED = "socket-guard: POST /containers/create is not allowed (needs CONTAINERS=1 and POST=1)"


def check(ok, what):
    if not ok:
        raise AssertionError(what)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True, help="a local image to try to run")
    parser.add_argument("--listed", required=True, help="a container name that must be listed")
    parser.add_argument("--denied-name", required=True, help="the name of the refused container")
    args = parser.parse_args()

    client = docker.from_env(timeout=30)
    try:
        check(client.ping() is True, "ping() did not return True")
        names = [c.name for c in client.containers.list(all=True)]
        check(args.listed in names, f"containers.list(all=True) lacks {args.listed}: {names}")
        try:
            client.containers.run(args.image, ["true"], name=args.denied_name, remove=True)
        except docker.errors.APIError as e:
            check(e.status_code == 403, f"containers.run raised status {e.status_code}, not 403: {e}")
            check(e.explanation == DENIED, f"containers.run explanation {e.explanation!r} != {DENIED!r}")
        else:
            raise AssertionError("containers.run was not refused")
    except Exception as e:  # noqa: BLE001 - any failure is a failed check
        print(f"sdk_check: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print("sdk_check: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

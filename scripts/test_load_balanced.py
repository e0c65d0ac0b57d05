#!/usr/bin/env python3
"""Horizontal-scaling test: two `emovere serve` replicas behind HAProxy on loopback, each stopped (SIGTERM) and
restarted in turn under load, and no request lost.

HAProxy checks each replica's readiness with GET /healthz every 0.5 s. After SIGTERM a replica answers /healthz
with 503 for 3 s (--unready-seconds) while it still serves, so HAProxy takes it out of rotation before it stops
listening; then it finishes its requests in flight (drain). A request HAProxy cannot connect with is retried on the
other replica; one already sent cannot be (the photo is larger than HAProxy's 16 kB buffer), which is why the
replica must not stop listening while it is still in rotation. The test fails if any request does not get a 200, if a replica
does not exit 0 within its drain deadline, or if the Kubernetes manifests and container recipe in deploy/ do not
parse with what they must hold.

  python3 scripts/test_load_balanced.py [--emovere .build/debug/emovere] [--seconds 24]
"""

import argparse
import glob
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from loopback import ROOT, SAMPLE, free_port, healthy


class Replica:
    def __init__(self, emovere, port, log):
        self.emovere, self.port, self.log = emovere, port, log
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.emovere, "serve", "--port", str(self.port), "--max-concurrent", "1", "--tta", "none",
             "--unready-seconds", "3", "--drain-seconds", "10"], stdout=self.log, stderr=self.log)
        deadline = time.time() + 600
        while not healthy(self.port):
            if self.process.poll() is not None or time.time() > deadline:
                self.process.kill()  # a replica that did not start is not left behind
                self.process.wait()
                raise SystemExit(f"replica on port {self.port} did not start")
            time.sleep(0.2)

    def stop(self):
        """SIGTERM; returns (exit status, seconds to exit)."""
        start = time.time()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        return code, time.time() - start


def haproxy_config(front, backends, folder):
    path = os.path.join(folder, "haproxy.cfg")
    servers = "\n".join(f"    server replica{i} 127.0.0.1:{port} check inter 500 fall 1 rise 1"
                        for i, port in enumerate(backends))
    with open(path, "w") as config:
        config.write(f"""global
    maxconn 256
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    retries 3
    option redispatch 1
    option http-buffer-request
    retry-on all-retryable-errors
frontend emovere
    bind 127.0.0.1:{front}
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
{servers}
""")
    return path


def check_deploy_files():
    """The manifests parse and hold the probes, resources, drain and autoscaling the README promises."""
    import yaml
    documents = {}
    for name in glob.glob(os.path.join(ROOT, "deploy", "kubernetes", "*.yaml")):
        with open(name) as manifest:
            for document in yaml.safe_load_all(manifest):
                documents[document["kind"]] = document
    missing = {"Deployment", "Service", "HorizontalPodAutoscaler", "RayJob"} - documents.keys()
    assert not missing, f"deploy/kubernetes lacks {sorted(missing)}"
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz", "readiness probe on /healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness probe on /healthz"
    assert "cpu" in container["resources"]["requests"], "CPU request (the autoscaler needs it)"
    drain = int(container["args"][container["args"].index("--drain-seconds") + 1])
    assert pod["terminationGracePeriodSeconds"] > drain, "grace period longer than the drain"
    assert documents["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == documents["Deployment"]["metadata"]["name"]
    with open(os.path.join(ROOT, "deploy", "Containerfile")) as recipe:
        text = recipe.read()
    assert "--static-swift-stdlib" in text and "HEALTHCHECK" in text, "Containerfile builds a static binary"
    # An installed emovere looks for its models in ../share/emovere beside bin/ (AnalyzeTests checks that layout).
    assert "/out/bin/" in text and "/out/share/emovere/" in text, "Containerfile installs bin/ and share/emovere/"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emovere", default=os.path.join(ROOT, ".build", "debug", "emovere"))
    parser.add_argument("--seconds", type=float, default=24)
    parser.add_argument("--clients", type=int, default=4)
    arguments = parser.parse_args()
    check_deploy_files()
    if not shutil.which("haproxy"):
        raise SystemExit("haproxy is not installed (apt-get install haproxy; scripts/test.sh installs it)")

    folder = tempfile.mkdtemp(prefix="emovere-lb-")
    log = open(os.path.join(folder, "replicas.log"), "w")
    replicas = [Replica(arguments.emovere, free_port(), log) for _ in range(2)]
    proxy = None
    try:  # from the first replica on: whatever fails, no process is left running
        for replica in replicas:
            replica.start()
        front = free_port()
        proxy = subprocess.Popen(["haproxy", "-f", haproxy_config(front, [r.port for r in replicas], folder)],
                                 stdout=log, stderr=log)
        started = time.time() + 120
        while not healthy(front):
            if proxy.poll() is not None:
                raise SystemExit(f"haproxy exited with status {proxy.returncode}; see {folder}/replicas.log")
            if time.time() > started:
                raise SystemExit(f"haproxy on port {front} was not healthy after 120 s; see {folder}/replicas.log")
            time.sleep(0.2)
        photo = open(SAMPLE, "rb").read()
        statuses, lock = [], threading.Lock()
        deadline = time.time() + arguments.seconds

        def client():
            while time.time() < deadline:
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", front, timeout=120)
                    connection.request("POST", "/v1/analyze", body=photo, headers={"Content-Type": "image/jpeg"})
                    status = connection.getresponse().status
                    connection.close()
                except OSError as error:
                    status = f"{type(error).__name__}: {error}"
                with lock:
                    statuses.append(status)

        threads = [threading.Thread(target=client) for _ in range(arguments.clients)]
        for thread in threads:
            thread.start()
        stops = []
        for index, replica in enumerate(replicas):
            time.sleep(arguments.seconds / 4)
            code, seconds = replica.stop()
            stops.append((index, code, seconds))
            replica.start()  # same port: HAProxy's check marks it up again
        for thread in threads:
            thread.join()
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait()
        for replica in replicas:
            if replica.process and replica.process.poll() is None:
                replica.process.terminate()
                replica.process.wait()
        log.close()

    failed = [status for status in statuses if status != 200]
    print(f"{len(statuses)} requests through HAProxy, {len(failed)} not 200; replicas stopped: "
          + ", ".join(f"#{index} exit {code} in {seconds:.1f} s" for index, code, seconds in stops))
    problems = []
    if not statuses:
        problems.append("no request was made")
    if failed:
        problems.append(f"requests lost or failed: {failed[:5]}")
    if any(code != 0 for _, code, _ in stops):
        problems.append("a replica did not exit 0 after SIGTERM")
    if problems:
        print("FAILED: " + "; ".join(problems) + f" (logs in {folder})")
        sys.exit(1)
    shutil.rmtree(folder)
    print("load-balanced replicas: ok")


if __name__ == "__main__":
    main()

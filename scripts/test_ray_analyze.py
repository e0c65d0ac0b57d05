#!/usr/bin/env python3
"""Scale-out test: scripts/ray_analyze.py on a local Ray cluster with 2 workers equals one emovere analyze run.

Makes a few hundred photos (the repository's sample, copied), kills one emovere worker midway (the actor starts a new
one and asks it again), then checks that the output holds the same lines as a single
`emovere analyze --output` process, line for line (order aside), nothing lost or duplicated. A second run over
the same output folder finds nothing left to do (resume).

  python3 scripts/test_ray_analyze.py [--emovere .build/debug/emovere] [--photos 200]
"""

import argparse
import functools
import glob
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lines_in(pattern):
    lines = []
    for name in sorted(glob.glob(pattern)):
        with open(name, encoding="utf-8") as results:
            lines.extend(line.rstrip("\n") for line in results if line.strip())
    return lines


def check_worker_death():
    """A worker that dies (before reading a path: a broken pipe; or while writing its answer: half a line) or answers
    out of step is restarted and asked once more; a photo that stops two workers gets an error line, so a photo that
    crashes emovere cannot stop the run at every retry, and a traceback would fail the whole run."""
    workers = {
        "dead": "echo 'Fatal error: out of luck' >&2; exit 3",
        "an answer without its line end": 'read p; printf \'{"path": "%s"}\' "$p"; exit 3',
        "out of step": 'while read p; do echo \'{"path": "other.jpg"}\'; done',
    }
    for name, script in workers.items():
        probe = ("import json, sys, time; sys.path.insert(0, sys.argv[1]); import ray_analyze; "
                 "worker = ray_analyze.EmovereWorker(['sh', '-c', sys.argv[2]]); time.sleep(0.5); "
                 "print(json.dumps(worker({'path': ['a.jpg', 'b.jpg']})))")
        run = subprocess.run([sys.executable, "-c", probe, os.path.join(ROOT, "scripts"), script], capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 0 and "restarting" in run.stderr and "Traceback" not in run.stderr, (name, run.stderr)
        answer = json.loads(run.stdout)
        lines = [json.loads(line) for line in answer["line"]]
        assert [line["path"] for line in lines] == ["a.jpg", "b.jpg"], (name, lines)
        assert all("died twice" in line.get("error", "") for line in lines), (name, lines)
        # Each photo's notice names the exit status twice (two workers), and the worker's last words when it had any.
        assert all(note.count("exited with status") == 2 for note in answer["note"]), (name, answer["note"])
        if "Fatal error" in script:
            assert all("its standard error ended: Fatal error: out of luck" in note for note in answer["note"]), answer


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the test's photos without a log line per request."""

    def log_message(self, format, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--emovere", default=os.path.join(ROOT, ".build/debug/emovere"))
    parser.add_argument("--photos", type=int, default=200)
    arguments = parser.parse_args()
    # Small and quick: the mini-Xception model without test-time augmentation.
    check_worker_death()
    options = ["--model", os.path.join(ROOT, "models/mini-xception-48.safetensors"), "--tta", "none"]
    scratch = tempfile.mkdtemp(prefix="emovere-ray-")
    driver = None
    try:
        photos = os.path.join(scratch, "photos")
        os.makedirs(photos)
        sample = os.path.join(ROOT, "samples/astronaut.jpg")
        for index in range(arguments.photos):
            shutil.copy(sample, os.path.join(photos, f"photo-{index:04d}.jpg"))

        # Two photos from a web server too, named by URL in a list (a third, with a password, is left out by the driver).
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=photos))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        urls, listed = os.path.join(scratch, "urls.txt"), os.path.join(scratch, "listed.txt")
        with open(urls, "w", encoding="utf-8") as plain:
            plain.write(f"{base}/photo-0000.jpg?copy=1\n{base}/photo-0001.jpg?copy=2\n")
        with open(listed, "w", encoding="utf-8") as secret:
            secret.write(f"{base}/photo-0000.jpg?copy=1\n{base}/photo-0001.jpg?copy=2\n"
                         f"http://u:secret@127.0.0.1:{server.server_address[1]}/photo-0002.jpg\n")

        single = os.path.join(scratch, "single.jsonl")
        subprocess.run([arguments.emovere, "analyze", photos, "--files-from", urls, "--output", single] + options,
                       check=True, stderr=subprocess.DEVNULL, timeout=1200)

        out = os.path.join(scratch, "ray")
        pids = os.path.join(scratch, "pids")
        os.makedirs(pids)
        # A cluster of its own: not one named by RAY_ADDRESS or started on this machine with `ray start`.
        environment = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
        environment["EMOVERE_RAY_PIDS"] = pids
        command = [sys.executable, os.path.join(ROOT, "scripts/ray_analyze.py"), photos, "--files-from", listed,
                   "--out", out, "--workers", "2", "--batch-size", "16", "--emovere", arguments.emovere, "--address", "local",
                   "--"] + options
        driver_log = open(os.path.join(scratch, "driver.log"), "w+", encoding="utf-8")
        driver = subprocess.Popen(command, env=environment, stderr=driver_log)

        killed = []

        def kill_one_worker():
            # Once some results are written, kill one emovere worker process (as a crash would).
            deadline = time.time() + 600
            while time.time() < deadline and driver.poll() is None:
                if len(lines_in(os.path.join(out, "results-*.jsonl"))) >= 32 and glob.glob(os.path.join(pids, "*.pid")):
                    pid = int(os.path.basename(sorted(glob.glob(os.path.join(pids, "*.pid")))[0])[:-4])
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
                time.sleep(0.2)

        killer = threading.Thread(target=kill_one_worker, daemon=True)
        killer.start()
        status = driver.wait(timeout=1200)
        killer.join()
        driver_log.seek(0)
        printed = driver_log.read()
        sys.stderr.write(printed)
        assert status == 0, f"ray_analyze.py exited with {status}"
        assert killed, "no worker was killed: the run ended before 32 results"
        # The actor's notice reaches the driver: the killed worker's status (SIGKILL), not only Ray's logs.
        assert "emovere worker exited with status -9 while analysing" in printed, printed[-2000:]
        started = glob.glob(os.path.join(pids, "*.pid"))
        assert len(started) >= 3, f"expected a replacement worker after the kill, saw {len(started)} worker processes"

        expected = sorted(lines_in(single))
        got = sorted(lines_in(os.path.join(out, "results-*.jsonl")))
        assert len(expected) == arguments.photos + 2, f"single run wrote {len(expected)} lines"
        assert "a URL with an @ (user information" in printed and "secret" not in printed, printed[-2000:]
        paths = [json.loads(line)["path"] for line in got]
        assert len(paths) == len(set(paths)), f"{len(paths) - len(set(paths))} photos written twice"
        assert got == expected, "Ray results differ from the single process's"

        again = subprocess.run(command, env=environment, capture_output=True, text=True, check=True, timeout=600)
        assert "0 to analyse" in again.stderr, again.stderr
        # A new photo with another --tta: refused before Ray starts, the results left as they were.
        shutil.copy(sample, os.path.join(photos, "photo-new.jpg"))
        before = sorted(glob.glob(os.path.join(out, "results-*.jsonl")))
        other = subprocess.run(command[:-1] + ["flip"], env=environment, capture_output=True, text=True, timeout=600)
        assert other.returncode != 0 and "written with --tta none, this run uses flip" in other.stderr, other.stderr
        assert sorted(glob.glob(os.path.join(out, "results-*.jsonl"))) == before
        assert sorted(lines_in(os.path.join(out, "results-*.jsonl"))) == got
        print(f"ok: {arguments.photos} photos and 2 URLs on 2 Ray workers with one killed (pid {killed[0]}) equal one "
              "emovere run")
    finally:
        if driver is not None and driver.poll() is None:  # a failed check or a timeout: no cluster is left running
            driver.send_signal(signal.SIGINT)  # Ray shuts its local cluster down as the driver exits
            try:
                driver.wait(timeout=60)
            except subprocess.TimeoutExpired:
                driver.kill()
                driver.wait()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

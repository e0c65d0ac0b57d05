#!/usr/bin/env python3
"""Analyse a large photo collection with Emovere on a Ray cluster.

Python only orchestrates: Ray Data splits the photo paths into batches and hands them to a pool of actors;
each actor keeps one long-lived `emovere analyze --files-from - --output -` process (the model is loaded once
per worker, not per batch) and returns one JSON line per photo. The driver appends the lines to
OUT/results-<run>.jsonl as batches finish, so a crash loses at most the batches in flight, and a new run over
the same OUT skips every photo that already has a line there without an error (resume; a photo that failed is tried
again, and its new line follows the old: the last line for a path counts).

  python3 scripts/ray_analyze.py PHOTO_OR_FOLDER... --out OUT [--files-from LIST] [--workers 2]
      [--batch-size 32] [--emovere .build/release/emovere] [--address auto|local|HOST:PORT] [-- EXTRA EMOVERE OPTIONS]

Without --address, Ray's own default: the cluster named by RAY_ADDRESS or started on this machine with `ray start`
(as in a KubeRay job), else a new local one for the run; `--address local` always starts a new one, `--address auto`
joins a running one (`ray start`, `ray up`, KubeRay). Every node needs the emovere binary and the model at the same
paths. A worker process that dies is restarted and its photo tried once more (a photo that kills it twice gets an
`error` line), and the driver prints why: the worker's exit status and the end of its standard error; actors that die (a crashed node) are restarted by Ray and their batches retried (Ray Data's default
for actor pools); a run's output holds each photo exactly once. Folders are searched as `emovere analyze` searches
them (links followed, an unreadable folder an error), and the driver exits 1 when a photo's line holds an error.
"""

import argparse
import collections
import glob
import json
import os
import subprocess
import sys
import threading
import time

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")


def sendable(path):
    """Whether path can be sent to a worker: one line of UTF-8 (emovere skips names that are not UTF-8, and a line
    break would split the path into two requests)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        print(f"warning: skipping {path!r}: its name is not valid UTF-8, which emovere cannot open; rename the file",
              file=sys.stderr)
        return False
    if "\n" in path or "\r" in path:
        print(f"warning: skipping {path!r}: its name holds a line break", file=sys.stderr)
        return False
    if is_url(path) and "@" in path:
        # Ray records what its tasks receive, and a password may hold an unencoded ? or # (emovere still hides it):
        # any @ may end user information. The URL is shown from its last @ on.
        scheme, rest = path.split("://", 1)
        print(f"warning: skipping {scheme}://***@{rest.rsplit('@', 1)[1]}: a URL with an @ (user information, perhaps "
              "a password) is not sent to Ray workers, as Ray's task records would hold it; analyse it with "
              "emovere analyze", file=sys.stderr)
        return False
    return True


def is_url(path):
    """Whether path is an http(s) URL, which emovere downloads (kept as given, not made absolute)."""
    return path.lower().startswith(("http://", "https://"))


def photo_paths(inputs, files_from):
    """The photos named by inputs (files, folders searched recursively, or http(s) URLs) and by files_from, in order,
    files as absolute paths (a worker on another node of the cluster runs in another folder); names that cannot be
    sent are skipped."""
    paths = []
    for item in inputs:
        if is_url(item):
            paths.append(item)
        elif os.path.isdir(item):
            paths.extend(sorted(photos_in(item)))
        elif os.path.isfile(item):
            paths.append(item)
        else:
            sys.exit(f"error: no such file or folder: {item}")
    if files_from:
        # Lines that are not UTF-8 are read (as surrogate escapes) and skipped by sendable() with a warning.
        with open(files_from, encoding="utf-8-sig", errors="surrogateescape") as listing:
            paths.extend(line.strip() for line in listing if line.strip())
    absolute = (path if is_url(path) else os.path.abspath(path) for path in paths)
    return [path for path in absolute if sendable(path)]


def photos_in(folder):
    """The photo files under folder, as `emovere analyze` finds them: links to folders followed (each real folder
    once, so a link loop ends), and a folder that cannot be read an error, not a silent gap."""
    def refuse(error):
        sys.exit(f"error: cannot read {error.filename}: {error.strerror}")
    seen, found = set(), []
    for root, folders, names in os.walk(folder, followlinks=True, onerror=refuse):
        real = os.path.realpath(root)
        if real in seen:
            folders[:] = []
            continue
        seen.add(real)
        found.extend(os.path.join(root, name) for name in names if name.lower().endswith(PHOTO_EXTENSIONS))
    return found


def finished_paths(out):
    """Paths that already have a line without an error in OUT/results-*.jsonl (a failed photo is tried again, as
    `emovere analyze --resume` does), and where the first line is, with the line (its model and settings; None
    without lines); a partial last line (a crash mid-write) is cut off."""
    done, first = set(), None
    for name in sorted(glob.glob(os.path.join(out, "results-*.jsonl"))):
        with open(name, "rb") as results:
            data = results.read()
        if data and not data.endswith(b"\n"):
            with open(name, "r+b") as results:
                results.truncate(data.rfind(b"\n") + 1)
            data = data[: data.rfind(b"\n") + 1]
        for number, line in enumerate(data.splitlines(), start=1):
            try:
                entry = json.loads(line)
                if first is None:
                    first = (f"{name}:{number}", entry)
                if "error" not in entry:
                    path = entry["path"]  # lines of earlier versions may hold relative paths
                    done.add(path if is_url(path) else os.path.abspath(path))
            except (ValueError, KeyError, TypeError):
                sys.exit(f"error: {name}:{number}: expected a JSON line of emovere analyze with a \"path\"")
    return done, first


def provenance_difference(recorded, current):
    """What differs between the model file, detector, test-time augmentation and precision of a line `recorded`
    earlier and a line of this run, in words; None when they agree. As `emovere analyze --resume` compares them: a
    field an earlier version did not write is not compared, and a detector recorded without its settings is compared
    on its kind, file and score threshold."""
    model, now = recorded.get("model"), current.get("model")
    if model is not None and model != now and os.path.realpath(model) != os.path.realpath(now or ""):
        return f"the model {model}, this run uses {now}"
    detector, now = recorded.get("detector"), current.get("detector") or {}
    if detector is not None:
        keys = None if "detectionSize" in detector or "scaleFactor" in detector else ("kind", "file", "scoreThreshold")
        if (detector != now) if keys is None else any(detector.get(key) != now.get(key) for key in keys):
            return f"the detector {json.dumps(detector, sort_keys=True)}, this run uses {json.dumps(now, sort_keys=True)}"
    for field, option in (("tta", "--tta"), ("precision", "--precision")):
        if recorded.get(field) is not None and recorded.get(field) != current.get(field):
            return f"{option} {recorded.get(field)}, this run uses {current.get(field)}"
    return None


class EmovereWorker:
    """One Ray actor: a long-lived emovere worker process fed batches of paths."""

    # The end of a dead worker's standard error that its notice quotes, in characters.
    STDERR_TAIL = 2000

    def __init__(self, command):
        self.command = command
        self.process = None
        self.stderr_lines = None
        self.stderr_reader = None
        self.notes = []
        self.start()

    def start(self):
        self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, bufsize=1, errors="replace")
        # The worker's standard error passes on to the actor's (Ray's logs), its last lines kept for the notice
        # should the worker die (an actor's own output does not reach the driver).
        self.stderr_lines = collections.deque(maxlen=50)
        self.stderr_reader = threading.Thread(target=self.pass_on, args=(self.process.stderr, self.stderr_lines),
                                              daemon=True)
        self.stderr_reader.start()
        pid_folder = os.environ.get("EMOVERE_RAY_PIDS")
        if pid_folder:  # lets the fault test find and kill a worker
            with open(os.path.join(pid_folder, f"{self.process.pid}.pid"), "w", encoding="utf-8") as marker:
                marker.write(str(os.getpid()))

    def ask(self, path):
        """The worker's whole answer line for path, or None when the worker died (or answered out of step)."""
        try:
            self.process.stdin.write(path + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except BrokenPipeError:  # the worker died before reading the path
            return None
        if not line.endswith("\n"):  # nothing, or half a line: the worker died while writing
            return None
        try:
            answer = json.loads(line)
        except ValueError:
            answer = None
        answered = answer.get("path") if isinstance(answer, dict) else None
        return line.rstrip("\n") if answered == path else None

    @staticmethod
    def pass_on(stream, lines):
        for line in stream:
            sys.stderr.write(line)
            lines.append(line)

    def restart(self, path):
        """Ends the worker process (dead, or out of step), notes why with the end of its standard error, and starts a
        new one."""
        self.process.kill()
        code = self.process.wait()
        self.stderr_reader.join(timeout=10)  # the pipe ends with the process (unless a child of it holds it)
        tail = "".join(self.stderr_lines)[-self.STDERR_TAIL:].strip()
        note = f"emovere worker exited with status {code} while analysing {path}; restarting"
        self.notes.append(note + (f"; its standard error ended: {tail}" if tail else ""))
        print(note, file=sys.stderr, flush=True)
        self.start()

    def __call__(self, batch):
        """The answer lines for the batch's paths, and beside each the notices of the workers its photo stopped."""
        paths = list(batch["path"])
        lines, notes = [], []
        for path in paths:
            self.notes = []
            line = self.ask(path)
            if line is None:
                self.restart(path)
                line = self.ask(path)
            if line is None:
                # The photo stopped two workers: it gets an error line instead of stopping the run at every retry.
                self.restart(path)
                line = json.dumps({"path": path, "error": "the emovere worker died twice while analysing this photo"},
                                  sort_keys=True)
            lines.append(line)
            notes.append("\n".join(self.notes))
        return {"path": paths, "line": lines, "note": notes}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", help="photos or folders")
    parser.add_argument("--out", required=True, help="output folder for results-*.jsonl")
    parser.add_argument("--files-from", help="a file of photo paths, one per line")
    parser.add_argument("--workers", type=int, default=2, help="emovere worker actors (default 2)")
    parser.add_argument("--batch-size", type=int, default=32, help="photos per batch (default 32)")
    parser.add_argument("--emovere", default=".build/release/emovere", help="the emovere executable")
    parser.add_argument("--address", default=None,
                        help="Ray cluster address: auto, local (a new local cluster) or host:port (default: Ray's: "
                             "RAY_ADDRESS, or a cluster started on this machine, else a new local one)")
    # Everything after -- goes to emovere unread (parse_known_args would take its values for photos).
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    arguments, unknown = parser.parse_known_args(argv[:argv.index("--")] if "--" in argv else argv)
    if unknown:
        parser.error(f"unknown options {' '.join(unknown)}: put emovere's own options after --")
    if arguments.workers < 1 or arguments.batch_size < 1:
        parser.error("--workers and --batch-size must be at least 1")
    if not os.access(arguments.emovere, os.X_OK):
        parser.error(f"--emovere {arguments.emovere} is not an executable; build it with swift build -c release")

    os.makedirs(arguments.out, exist_ok=True)
    paths = photo_paths(arguments.inputs, arguments.files_from)
    done, first = finished_paths(arguments.out)
    todo = list(dict.fromkeys(path for path in paths if path not in done))
    print(f"{len(paths)} photos, {len(paths) - len(todo)} already in {arguments.out}, {len(todo)} to analyse",
          file=sys.stderr)
    if not todo:
        return

    command = [os.path.abspath(arguments.emovere), "analyze", "--files-from", "-", "--output", "-"] + extra
    # A worker that cannot start (a bad option after --, a missing model) would be restarted by Ray without end:
    # start one here first, with no photo (a blank line, answered with an error line that names the model and
    # settings), and stop on its error, or when OUT holds lines of another model or settings.
    check = subprocess.run(command, input="\n", capture_output=True, text=True)
    if check.returncode != 0:
        sys.exit(f"error: the emovere worker ({' '.join(command)}) cannot start: {check.stderr.strip()}")
    if first is not None:
        difference = provenance_difference(first[1], json.loads(check.stdout))
        if difference:
            fallback = (" (this machine's worker checks the options: --precision bfloat16 runs float32 on a CPU "
                        "without AVX512_BF16 or under EMOVERE_MAX_ISA)") if difference.startswith("--precision") else ""
            sys.exit(f"error: {first[0]}: written with {difference}{fallback}; resume with the same options after -- "
                     "or choose another --out (the results were left as they were)")

    import ray  # imported late so that --help and argument errors work without Ray installed

    ray.init(address=arguments.address, include_dashboard=False, log_to_driver=False)
    dataset = ray.data.from_items([{"path": path} for path in todo], override_num_blocks=max(1, len(todo) // arguments.batch_size))
    # Ray Data restarts a pool's dead actors and retries their batches by default (max_restarts and
    # max_task_retries -1).
    results = dataset.map_batches(
        EmovereWorker, fn_constructor_args=(command,), batch_size=arguments.batch_size, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=arguments.workers))
    output = os.path.join(arguments.out, f"results-{int(time.time() * 1000)}.jsonl")
    written, failed, start = 0, 0, time.time()
    with open(output, "a", encoding="utf-8") as results_file:
        for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
            for note in batch["note"]:
                if note:
                    print(note, file=sys.stderr, flush=True)
            results_file.write("".join(line + "\n" for line in batch["line"]))
            failed += sum(1 for line in batch["line"] if "error" in json.loads(line))
            results_file.flush()
            os.fsync(results_file.fileno())  # a batch reported written is on disk
            written += len(batch["line"])
            rate = written / max(time.time() - start, 1e-9)
            print(f"{written}/{len(todo)} photos, {rate:.1f} photos/s, eta {(len(todo) - written) / max(rate, 1e-9):.0f} s",
                  file=sys.stderr)
    ray.shutdown()
    if failed:
        # As `emovere analyze` does: the lines are written, and a failure is not a success.
        sys.exit(f"{failed} of {written} photos failed (their lines in {output} say why)")


if __name__ == "__main__":
    main()

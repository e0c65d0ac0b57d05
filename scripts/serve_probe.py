#!/usr/bin/env python3
"""Load and fault probe for `emovere serve` on loopback: starts the server, runs malformed-request, slowloris, idle,
large-image, many-face and 16-client load probes, sends SIGTERM under load, and prints one Markdown table.

Usage: python3 scripts/serve_probe.py [--binary .build/release/emovere] [--seconds 20] [--clients 16]
Needs only the Python standard library (and opencv-python-headless for the many-face image, skipped without it).
The figures in the README's reliability section come from this script.
"""
import argparse
import atexit
import http.client
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import zlib

from loopback import ROOT, SAMPLE, free_port, healthy


class Server:
    """The `serve` process and a thread sampling its resident memory."""

    def __init__(self, binary, port, extra):
        self.port = port
        self.process = subprocess.Popen(
            [binary, "serve", "--port", str(port)] + extra,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        atexit.register(self.kill)  # whatever ends the probe (a failed start, an exception), no server is left
        threading.Thread(target=self.process.stderr.read, daemon=True).start()
        self.peak_kib = 0
        self.running = True
        threading.Thread(target=self.sample_memory, daemon=True).start()
        deadline = time.time() + 300
        while not healthy(port):
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with status {self.process.returncode} before answering")
            if time.time() > deadline:
                raise SystemExit("the server did not start within 300 s")
            time.sleep(0.2)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def sample_memory(self):
        while self.running and self.process.poll() is None:
            try:
                with open(f"/proc/{self.process.pid}/status") as status:
                    for line in status:
                        # The kernel's own high-water mark: a sample of VmRSS every 0.1 s can miss a peak.
                        if line.startswith("VmHWM:"):
                            self.peak_kib = max(self.peak_kib, int(line.split()[1]))
            except OSError:
                return
            time.sleep(0.1)

    def post(self, body, content_type="image/jpeg", connection=None):
        own = connection is None
        connection = connection or http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        connection.request("POST", "/v1/analyze", body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        data = response.read()
        if own:
            connection.close()
        return response.status, data

    def connections(self):
        """Established TCP connections on the server's port, from /proc/net/tcp."""
        count = 0
        with open("/proc/net/tcp") as table:
            for line in table.readlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].split(":")[1], 16)
                if local_port == self.port and fields[3] == "01":
                    count += 1
        return count


def raw(port, data, wait=10.0):
    """Sends `data` on a new connection; returns (status line or '', seconds until the server closed or None)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(wait)
    start = time.time()
    if data:
        s.sendall(data)
    received = b""
    closed_after = None
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed_after = time.time() - start
                break
            received += chunk
    except ConnectionResetError:
        closed_after = time.time() - start
    except socket.timeout:
        pass  # still open after `wait`: closed_after stays None
    s.close()
    return received.split(b"\r\n", 1)[0].decode("latin-1"), closed_after


MALFORMED = {
    "lowercase method": b"get / HTTP/1.1\r\nHost: x\r\n\r\n",
    "unknown method": b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad Content-Length": b"POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "two Content-Lengths": b"POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    "huge chunk size": b"POST /v1/analyze HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n",
    "LF-only lines": b"GET / HTTP/1.1\nHost: x\n\n",
    "HTTP/0.9": b"GET /\r\n",
    "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "TLS ClientHello": bytes.fromhex("16030100a5010000a10303") + bytes(40),
    "binary garbage": bytes(range(256)),
    "100 kB header": b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 100000 + b"\r\n\r\n",
}


def black_png(width, height):
    """A black 8-bit gray PNG, tiny on disk, `width * height` pixels decoded."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = (b"\x00" + bytes(width)) * height
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def large_jpeg(side):
    """The sample photo scaled to `side` x `side` (a 40-megapixel JPEG at 6300), or None without OpenCV."""
    try:
        import cv2
    except ImportError:
        return None
    ok, encoded = cv2.imencode(".jpg", cv2.resize(cv2.imread(SAMPLE), (side, side)), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return encoded.tobytes() if ok else None


def tiled_faces(tiles):
    try:
        import cv2
    except ImportError:
        return None
    face = cv2.resize(cv2.imread(SAMPLE), (160, 160))
    row = cv2.hconcat([face] * tiles)
    ok, encoded = cv2.imencode(".jpg", cv2.vconcat([row] * tiles), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return encoded.tobytes() if ok else None


def load(server, seconds, clients, photo, stop_event=None):
    """`clients` threads posting `photo` on keep-alive connections for `seconds`; returns latencies and failures."""
    latencies, failures, lock = [], [0], threading.Lock()
    deadline = time.time() + seconds

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
        while time.time() < deadline and not (stop_event and stop_event.is_set()):
            start = time.time()
            try:
                status, _ = server.post(photo, connection=connection)
            except (OSError, http.client.HTTPException):
                status = None
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
                if stop_event is not None:
                    return
            with lock:
                if status == 200:
                    latencies.append(time.time() - start)
                else:
                    failures[0] += 1
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(latencies), failures[0]


def concurrently(server, clients, body, content_type, name):
    """`clients` threads posting `body` at once; a table row with their statuses, time and the peak memory."""
    before = server.peak_kib
    start = time.time()
    statuses = []
    def post():
        statuses.append(server.post(body, content_type)[0])
    threads = [threading.Thread(target=post) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (f"{clients} clients at once, each {name}",
            f"{statuses.count(200)} answered 200 in {time.time() - start:.1f} s, "
            f"peak memory {server.peak_kib / 1024:.0f} MB (before {before / 1024:.0f} MB)")


def percentile(values, fraction):
    return values[min(len(values) - 1, int(fraction * len(values)))] if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "emovere"))
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--request-timeout", type=int, default=5)
    parser.add_argument("--max-decoded-pixels", type=int, help="passed to serve (default: serve's own)")
    arguments = parser.parse_args()
    photo = open(SAMPLE, "rb").read()
    rows = []
    port = free_port()
    extra = ["--request-timeout", str(arguments.request_timeout), "--drain-seconds", "5"]
    if arguments.max_decoded_pixels:
        extra += ["--max-decoded-pixels", str(arguments.max_decoded_pixels)]
    server = Server(arguments.binary, port, extra)
    timeout = arguments.request_timeout

    answered = closed = 0
    for name, request in MALFORMED.items():
        status, closed_after = raw(port, request, wait=timeout + 5)
        answered += status.startswith("HTTP/1.1 ")
        closed += closed_after is not None
    rows.append(("malformed requests (11 kinds)", f"{answered} answered with a 4xx/5xx status, {closed} closed"))

    status, closed_after = raw(port, b"", wait=timeout + 10)
    rows.append(("silent connection", f"'{status}', closed after {closed_after:.1f} s" if closed_after else "still open"))

    slow = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        slow.append(s)
    start = time.time()
    open_slow = list(slow)
    while open_slow and time.time() - start < timeout + 10:
        for s in list(open_slow):
            try:
                s.sendall(b"X")
            except OSError:
                open_slow.remove(s)
        time.sleep(1)
    rows.append(("20 slowloris connections (a header byte a second)",
                 f"{20 - len(open_slow)} closed within {time.time() - start:.0f} s"))
    for s in slow:
        s.close()

    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
    time.sleep(timeout + 2)
    left = server.connections()
    rows.append(("200 idle connections", f"{left} still open after {timeout + 2} s"))
    for s in idle:
        s.close()

    # Large JPEGs first (the peak is a high-water mark): decoded at a reduced scale (--max-decoded-pixels).
    jpeg = large_jpeg(6300)
    if jpeg:
        before = server.peak_kib
        start = time.time()
        status, body = server.post(jpeg)
        rows.append((f"{len(jpeg) // 1024} kB JPEG of 6300x6300 pixels (the sample scaled up)",
                     f"{status} in {time.time() - start:.1f} s, {body.count(b'emotion')} face, "
                     f"peak memory {server.peak_kib / 1024:.0f} MB (before {before / 1024:.0f} MB)"))
        rows.append(concurrently(server, arguments.clients, jpeg, "image/jpeg", "that JPEG"))

    before = server.peak_kib
    start = time.time()
    status, _ = server.post(black_png(6300, 6300), "image/png")
    rows.append(("37 kB PNG of 6300x6300 black pixels",
                 f"{status} in {time.time() - start:.1f} s, peak memory {server.peak_kib / 1024:.0f} MB (before {before / 1024:.0f} MB)"))

    # Worst-case decodes at once: only --max-concurrent of them decode at a time, so memory stays bounded.
    rows.append(concurrently(server, arguments.clients, black_png(6300, 6300), "image/png", "that PNG"))

    tiled = tiled_faces(8)
    if tiled:
        start = time.time()
        status, body = server.post(tiled)
        rows.append((f"{len(tiled) // 1024} kB JPEG with 64 tiled faces",
                     f"{status} in {time.time() - start:.1f} s, {body.count(b'emotion')} faces analysed"))

    latencies, failures = load(server, arguments.seconds, arguments.clients, photo)
    rate = len(latencies) / arguments.seconds
    rows.append((f"{arguments.clients} clients for {arguments.seconds:.0f} s (the 512x512 sample)",
                 f"{rate:.1f} requests/s, p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
                 f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, {failures} non-2xx"))
    rows.append(("peak memory over the run", f"{server.peak_kib / 1024:.0f} MB"))

    stop = threading.Event()
    loader = threading.Thread(target=lambda: load(server, 60, arguments.clients, photo, stop))
    loader.start()
    time.sleep(3)
    hung = socket.create_connection(("127.0.0.1", port))
    hung.sendall(b"POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 1000\r\n\r\nabc")
    start = time.time()
    server.process.send_signal(signal.SIGTERM)
    code = server.process.wait(timeout=120)
    stop.set()
    loader.join()
    server.running = False
    rows.append(("SIGTERM under load, one stalled upload", f"exit {code} after {time.time() - start:.1f} s"))

    print("| probe | result |")
    print("| --- | --- |")
    for name, result in rows:
        print(f"| {name} | {result} |")


if __name__ == "__main__":
    main()

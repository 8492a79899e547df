"""The hardening probes of issue #9, at full size, against a running binspector.

Usage: python3 bench/probes.py HTTP_PORT HTTPS_BASE PID
(bench/probes.sh starts a release binspector and runs this.) Prints one line per figure:
the listing of fifty 10 MiB bodies (time, size, the server's peak memory), 4,096 idle live
streams (how they were answered, and a capture and /healthz meanwhile), sixteen stalled
4 MiB uploads from another address (captures meanwhile), and an inspect page of fifty 1 MB
JSON arrays (size, time, a capture while two render, peak memory).
"""

import json
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request

HTTP = ("127.0.0.1", int(sys.argv[1]))
HTTPS = sys.argv[2]
PID = int(sys.argv[3])
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def call(method, path, body=None, base=HTTPS, headers=None):
    """(status, seconds, body bytes) of one request; errors are reported, not raised."""
    started = time.time()
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, context=CTX, timeout=60) as answer:
            body = answer.read()
            return answer.status, time.time() - started, body
    except urllib.error.HTTPError as err:
        body = err.read()
        return err.code, time.time() - started, body
    except Exception as err:  # a timeout is a figure too
        return type(err).__name__, time.time() - started, b""


def peak_mib():
    with open(f"/proc/{PID}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return -1


def reset_peak():
    with open(f"/proc/{PID}/clear_refs", "w") as refs:
        refs.write("5")


def new_bin():
    return json.loads(call("POST", "/api/v1/bins")[2])["id"]


def upload(bin_id, body, count, content_type="application/octet-stream", parallel=2):
    plain = f"http://{HTTP[0]}:{HTTP[1]}"
    statuses = []
    def send(n):
        for _ in range(n):
            statuses.append(call("POST", f"/{bin_id}", body, plain, {"content-type": content_type})[0])
    threads = [threading.Thread(target=send, args=(count // parallel,)) for _ in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def probe_listing():
    bin_id = new_bin()
    statuses = upload(bin_id, b"\x01" * (10 * 1024 * 1024), 50)
    assert all(s == 200 for s in statuses), statuses
    time.sleep(0.5)
    before = peak_mib()
    reset_peak()
    status, took, body = call("GET", f"/api/v1/bins/{bin_id}/requests")
    listed = json.loads(body)["requests"]
    cut = sum(1 for r in listed if r["body_truncated"])
    print(f"1. list of 50 x 10 MiB bodies: {status}, {len(body) / 1e6:.1f} MB in {took * 1000:.0f} ms, "
          f"{cut} of {len(listed)} cut; peak RSS {peak_mib()} MiB while listing ({before} MiB after the uploads)")
    status, took, body = call("GET", f"/inspect/{bin_id}")
    print(f"   its inspect page: {status}, {len(body) / 1e6:.1f} MB in {took * 1000:.0f} ms, peak RSS {peak_mib()} MiB")


def probe_streams():
    bin_id = new_bin()
    sockets, answers = [], {}
    for _ in range(4096):
        conn = socket.create_connection(HTTP)
        conn.sendall(f"GET /inspect/{bin_id}/events HTTP/1.1\r\nHost: h\r\n\r\n".encode())
        sockets.append(conn)
    time.sleep(1.0)
    for conn in sockets:
        conn.setblocking(False)
        try:
            head = conn.recv(12).decode(errors="replace")
        except BlockingIOError:
            head = "no answer"
        answers[head] = answers.get(head, 0) + 1
    capture = call("POST", f"/{bin_id}", b"probe")
    health = call("GET", "/healthz")
    print(f"2. 4,096 idle live streams: {answers}; meanwhile a capture {capture[0]} in "
          f"{capture[1] * 1000:.1f} ms, /healthz {health[0]} in {health[1] * 1000:.1f} ms")
    for conn in sockets:
        conn.close()
    time.sleep(0.5)


def probe_stalls():
    bin_id = new_bin()
    stalled = []
    for _ in range(16):
        conn = socket.create_connection(HTTP, source_address=("127.0.0.2", 0))
        conn.sendall(f"POST /{bin_id} HTTP/1.1\r\nHost: h\r\nContent-Length: 4194304\r\n\r\n".encode())
        conn.setblocking(False)
        data, sent, until = b"x" * (4194304 - 1), 0, time.time() + 0.5
        while sent < len(data) and time.time() < until:
            try:
                sent += conn.send(data[sent:sent + 65536])
            except BlockingIOError:
                time.sleep(0.005)
        stalled.append(conn)
    results = [call("POST", f"/{bin_id}/other-client", b"y" * 65536) for _ in range(5)]
    shown = ", ".join(f"{s} in {t * 1000:.0f} ms" for s, t, _ in results)
    print(f"3. captures of 64 KiB from another address while 16 x 4 MiB uploads stall: {shown}")
    for conn in stalled:
        conn.close()


def probe_page():
    bin_id = new_bin()
    array = ("[" + "1," * 499_999 + "1]").encode()
    statuses = upload(bin_id, array, 50, "application/json")
    assert all(s == 200 for s in statuses), statuses
    reset_peak()
    status, took, body = call("GET", f"/inspect/{bin_id}")
    one = call("GET", f"/inspect/{bin_id}/1")
    renders = [threading.Thread(target=call, args=("GET", f"/inspect/{bin_id}")) for _ in range(2)]
    for thread in renders:
        thread.start()
    time.sleep(0.05)
    capture = call("POST", f"/{bin_id}", b"meanwhile")
    for thread in renders:
        thread.join()
    print(f"11. inspect page of 50 x 1 MB JSON arrays: {status}, {len(body) / 1e6:.1f} MB in "
          f"{took * 1000:.0f} ms; one request's page {len(one[2]) / 1e6:.1f} MB; a capture while two "
          f"pages render: {capture[0]} in {capture[1] * 1000:.0f} ms; peak RSS {peak_mib()} MiB")


probe_listing()
probe_streams()
probe_stalls()
probe_page()

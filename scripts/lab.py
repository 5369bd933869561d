#!/usr/bin/env python3
"""Servers and clients for the network-namespace labs (scripts/record-demo.sh).

Every client is bounded in count and time and talks only to the address it is given.

  lab.py http PORT DIR                    serve DIR (and create its files) over HTTP
  lab.py dns PORT                         answer every A query with 10.88.0.10
  lab.py echo PORT                        echo TCP connections (an SSH-like server)
  lab.py sink PORT                        accept TCP connections and discard the data
  lab.py web URL COUNT GAP                fetch URL COUNT times, GAP seconds apart
  lab.py query SERVER COUNT GAP           COUNT DNS queries for lab names
  lab.py ssh HOST PORT SECONDS            an interactive-looking session (small packets)
  lab.py upload HOST PORT BYTES           send BYTES to HOST:PORT
  lab.py dnsburst SERVER COUNT GAP        COUNT queries for long random names (like DNS tunnelling)
  lab.py fanout NET FIRST LAST PORT GAP   one short TCP exchange with each of NET.FIRST..NET.LAST
"""
import http.server
import os
import random
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.request

random.seed(7)
NAMES = ["www.lab.test", "mail.lab.test", "files.lab.test", "api.lab.test", "cdn.lab.test"]


def http_server(port, root):
    os.makedirs(root, exist_ok=True)
    for i in range(5):
        with open(os.path.join(root, f"page{i}.html"), "w") as f:
            f.write("<html><body>" + ("lorem ipsum " * (200 + 150 * i)) + "</body></html>")
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(random.randbytes(3 * 1024 * 1024))
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=root)  # noqa: E731
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer(("0.0.0.0", port), handler) as srv:
        srv.serve_forever()


def dns_server(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    while True:
        query, peer = sock.recvfrom(512)
        if len(query) < 12:
            continue
        # Header: same id, response + recursion available, one question, one answer.
        header = query[:2] + b"\x81\x80" + query[4:6] + b"\x00\x01\x00\x00\x00\x00"
        answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04" + socket.inet_aton("10.88.0.10")
        sock.sendto(header + query[12:] + answer, peer)


def tcp_server(port, echo):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(16)

    def serve(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                if echo:
                    conn.sendall(data)

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def web(url, count, gap):
    for _ in range(count):
        try:
            urllib.request.urlopen(url, timeout=5).read()
        except OSError:
            pass
        time.sleep(gap * random.uniform(0.5, 1.5))


def dns_query(name):
    qid = random.randrange(65536)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\x00\x00\x01\x00\x01"


def query(server, count, gap):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(1)
    for _ in range(count):
        sock.sendto(dns_query(random.choice(NAMES)), (server, 53))
        try:
            sock.recv(512)
        except OSError:
            pass
        time.sleep(gap * random.uniform(0.5, 1.5))


def ssh(host, port, seconds):
    with socket.create_connection((host, port), timeout=5) as s:
        end = time.time() + seconds
        while time.time() < end:
            s.sendall(os.urandom(random.choice([36, 36, 52, 68])))
            s.recv(4096)
            time.sleep(random.uniform(0.1, 0.6))


def dnsburst(server, count, gap):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.5)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    for _ in range(count):
        labels = ["".join(random.choice(alphabet) for _ in range(random.randint(40, 60))) for _ in range(2)]
        sock.sendto(dns_query(".".join(labels) + ".t.lab.test"), (server, 53))
        try:
            sock.recv(512)
        except OSError:
            pass
        time.sleep(gap)


def fanout(net, first, last, port, gap):
    for i in range(first, last + 1):
        try:
            with socket.create_connection((f"{net}.{i}", port), timeout=2) as s:
                s.sendall(b"hello\n")
        except OSError:
            pass
        time.sleep(gap)


def upload(host, port, total):
    with socket.create_connection((host, port), timeout=5) as s:
        chunk = os.urandom(64 * 1024)
        sent = 0
        while sent < total:
            s.sendall(chunk[: min(len(chunk), total - sent)])
            sent += len(chunk)


def main(argv):
    mode, args = argv[1], argv[2:]
    if mode == "http":
        http_server(int(args[0]), args[1])
    elif mode == "dns":
        dns_server(int(args[0]))
    elif mode in ("echo", "sink"):
        tcp_server(int(args[0]), echo=mode == "echo")
    elif mode == "web":
        web(args[0], int(args[1]), float(args[2]))
    elif mode == "query":
        query(args[0], int(args[1]), float(args[2]))
    elif mode == "ssh":
        ssh(args[0], int(args[1]), float(args[2]))
    elif mode == "upload":
        upload(args[0], int(args[1]), int(args[2]))
    elif mode == "dnsburst":
        dnsburst(args[0], int(args[1]), float(args[2]))
    elif mode == "fanout":
        fanout(args[0], int(args[1]), int(args[2]), int(args[3]), float(args[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

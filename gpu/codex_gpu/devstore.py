"""A small threaded HTTP object store standing in for S3 presigned URLs, for tests and local runs.

GET serves an object, PUT stores one (refusing chunked bodies, as S3 does). Faults can be injected per
key (answer with a status N times, or always), and a GET can be redirected. URLs carry a fake
signature in the query string, as presigned URLs do, so tests can check that it never reaches a log.

``python -m codex_gpu.devstore`` serves ``.dev-store/`` on 127.0.0.1:8765 with a generated sample
source, for ``python -m codex_gpu`` and gpu/test_input.json (RunPod's local mode).
"""

from __future__ import annotations

import argparse
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SIGNATURE = "X-Amz-Signature=ffffsecretsignatureffff"


@dataclass
class Fault:
    status: int
    times: int | None = None  # None: always


@dataclass
class PutRecord:
    headers: dict[str, str]
    body: bytes


@dataclass
class Store:
    objects: dict[str, bytes] = field(default_factory=dict)
    puts: dict[str, PutRecord] = field(default_factory=dict)
    faults: dict[tuple[str, str], Fault] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)  # key -> Location of a 302 answer
    requests: list[tuple[str, str]] = field(default_factory=list)
    send_length: bool = True
    base: str = ""
    root: Path | None = None  # where PUT objects are also written, and GET objects are also read from

    def url(self, key: str) -> str:
        return f"{self.base}/{key}?{SIGNATURE}&X-Amz-Expires=600"

    def fail(self, method: str, key: str, status: int, times: int | None = None) -> None:
        self.faults[(method, key)] = Fault(status, times)

    def _fault(self, method: str, key: str) -> int | None:
        fault = self.faults.get((method, key))
        if fault is None or fault.times == 0:
            return None
        if fault.times is not None:
            fault.times -= 1
        return fault.status


def _handler(store: Store) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _key(self) -> str:
            return urlsplit(self.path).path.lstrip("/")

        def _reply(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            key = self._key()
            store.requests.append(("GET", key))
            if key in store.redirects:
                self.send_response(302)
                self.send_header("Location", store.redirects[key])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            status = store._fault("GET", key)
            if status is not None:
                return self._reply(status, b"<Error>injected</Error>")
            body = store.objects.get(key)
            if body is None and store.root is not None and (store.root / key).is_file():
                body = (store.root / key).read_bytes()
            if body is None:
                return self._reply(404)
            self.send_response(200)
            if store.send_length:
                self.send_header("Content-Length", str(len(body)))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self) -> None:
            key = self._key()
            store.requests.append(("PUT", key))
            if "chunked" in self.headers.get("Transfer-Encoding", ""):
                return self._reply(501, b"<Error>chunked PUT not supported, like S3</Error>")
            length = int(self.headers.get("Content-Length", "-1"))
            if length < 0:
                return self._reply(411)
            body = self.rfile.read(length)
            status = store._fault("PUT", key)
            if status is not None:
                return self._reply(status, b"<Error>injected</Error>")
            store.puts[key] = PutRecord(dict(self.headers.items()), body)
            if store.root is not None:
                (store.root / key).parent.mkdir(parents=True, exist_ok=True)
                (store.root / key).write_bytes(body)
            self._reply(200)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that stops reading (the worker aborting an over-size download) is not a server error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class StoreServer:
    def __init__(self, port: int = 0, root: Path | None = None) -> None:
        self.store = Store(root=root)
        self._server = _Server(("127.0.0.1", port), _handler(self.store))
        self.store.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _sample(path: Path) -> None:
    import av
    from av.video.frame import PictureType

    with av.open(str(path), "w") as output:
        video = output.add_stream("libx264", rate=30, options={"preset": "veryfast"})
        video.width, video.height, video.pix_fmt = 1920, 1080, "yuv420p"
        with av.open("testsrc2=size=1920x1080:rate=30:duration=6", format="lavfi") as pattern:
            for frame in pattern.decode(video=0):
                frame.pict_type = PictureType.NONE
                output.mux(video.encode(frame))
        output.mux(video.encode(None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(".dev-store"))
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    source = args.root / "source.mp4"
    if not source.exists():
        print(f"writing a 6 s 1080p sample to {source}")
        _sample(source)
    server = StoreServer(args.port, args.root)
    print(f"serving {args.root} at {server.store.base} (GET source.mp4, PUT out/...); Ctrl-C stops")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":
    main()

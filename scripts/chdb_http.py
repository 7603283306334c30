#!/usr/bin/env python3
"""A test shim: ClickHouse's HTTP interface in front of chDB (current ClickHouse in-process).

jobslo's ClickHouse store must run on ClickHouse 18.16 (the dev/CI server) and on
current releases. Only 18.16 installs here as a server; chDB (`pip install chdb`,
see scripts/install-chdb.sh) embeds a current ClickHouse engine. This script puts
enough of ClickHouse's HTTP interface in front of a persistent chDB session for
@clickhouse/client (and plain `fetch`) to run jobslo's schema and queries on that
engine: test/store/clickhouse-current.test.ts starts it.

    python3 scripts/chdb_http.py --port 0 --data /tmp/x   # prints "listening on http://127.0.0.1:PORT"

What it speaks:
- `GET /ping`, `GET /` (no query) -> `Ok.`
- `POST /` (and `GET /?query=...`): the SQL is the `query` URL parameter and/or
  the body; with both, `query + '\\n' + body` (as ClickHouse does, so an INSERT's
  data rows can follow its `FORMAT` clause in the body). `Content-Encoding: gzip`
  bodies and chunked bodies are decoded.
- URL parameters `database`, `default_format` (TabSeparated if absent), `query_id`,
  and settings: a parameter named like a setting of the engine (system.settings)
  is applied for that request only with `SET`; other parameters (`session_id`,
  `user`, `wait_end_of_query`, `param_*`, ...) are ignored.
- `enable_http_compression=1` with `Accept-Encoding: gzip` -> gzip response.
- 200 with the result bytes in the format the SQL names (else `default_format`),
  headers X-ClickHouse-Query-Id, -Format, -Timezone, -Summary (read/written rows
  and bytes), Content-Type, Keep-Alive.
- Errors: 500 (real servers use 4xx for some codes), body `Code: N. DB::Exception:
  ... (NAME) (version V)`, header X-ClickHouse-Exception-Code: N. Multi-statement
  queries are refused with code 62, as a server does.

Limits (a test shim, not a server to deploy):
- Listens on 127.0.0.1 only; no authentication (credentials are ignored), no TLS,
  no users, quotas, readonly profiles or server settings (config.xml).
- One chDB session per process; queries run one at a time (a lock); whole
  request bodies and results are held in memory (request bodies up to
  --max-body-bytes); no streaming, progress headers, query cancellation or
  `KILL QUERY`; timeouts are the client's.
- Sessions (`session_id`, temporary tables across requests) and query parameters
  (`param_*`, `{name:Type}`) are not supported; ClickHouse's native compression
  (`compress`/`decompress=1`) neither.
- `GET` does not force readonly=1 beyond refusing statements that are not reads.
- No replication, distributed tables or ZooKeeper/Keeper: whatever the engine
  itself does in-process is what is tested.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import parse_qsl, urlsplit

# URL parameters of the HTTP interface that are not settings, or that this shim handles itself.
HTTP_PARAMS = {
    'query', 'database', 'default_format', 'query_id', 'session_id', 'session_timeout', 'session_check',
    'user', 'password', 'quota_key', 'role', 'compress', 'decompress', 'buffer_size', 'wait_end_of_query',
    'enable_http_compression', 'http_zlib_compression_level', 'readonly',
}

CONTENT_TYPES = {
    'TabSeparated': 'text/tab-separated-values; charset=UTF-8',
    'TSV': 'text/tab-separated-values; charset=UTF-8',
    'TabSeparatedWithNames': 'text/tab-separated-values; charset=UTF-8',
    'TSVWithNames': 'text/tab-separated-values; charset=UTF-8',
    'CSV': 'text/csv; charset=UTF-8; header=absent',
    'CSVWithNames': 'text/csv; charset=UTF-8; header=present',
    'JSON': 'application/json; charset=UTF-8',
    'JSONCompact': 'application/json; charset=UTF-8',
    'JSONEachRow': 'application/x-ndjson; charset=UTF-8',
    'JSONCompactEachRow': 'application/x-ndjson; charset=UTF-8',
}

READ_STATEMENT = re.compile(rb'^\s*(\(\s*)*(SELECT|WITH|SHOW|DESC|DESCRIBE|EXISTS|EXPLAIN|CHECK)\b', re.IGNORECASE)
FORMAT_CLAUSE = re.compile(rb'\bFORMAT\s+([A-Za-z][A-Za-z0-9]*)\s*;?\s*$', re.IGNORECASE)
INSERT_STATEMENT = re.compile(rb'^\s*INSERT\b', re.IGNORECASE)
ERROR_CODE = re.compile(r'^Code: (\d+)\.')
IDENTIFIER = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')


class ShimError(Exception):
    """An error the shim raises itself, with a ClickHouse error code and name."""

    def __init__(self, code: int, name: str, message: str, status: int = 500):
        super().__init__(message)
        self.code = code
        self.name = name
        self.status = status


def has_second_statement(sql: bytes) -> bool:
    """True when `sql` has text other than whitespace, comments and `;` after a
    top-level `;`. Stops at an INSERT's VALUES/FORMAT: what follows is data."""
    insert = INSERT_STATEMENT.match(sql) is not None
    i, n = 0, len(sql)
    while i < n:
        c = sql[i:i + 1]
        if c in (b"'", b'"', b'`'):
            i += 1
            while i < n and sql[i:i + 1] != c:
                i += 2 if sql[i:i + 1] == b'\\' else 1
            i += 1
        elif sql.startswith(b'--', i) or sql.startswith(b'#', i):
            j = sql.find(b'\n', i)
            i = n if j < 0 else j + 1
        elif sql.startswith(b'/*', i):
            j = sql.find(b'*/', i + 2)
            i = n if j < 0 else j + 2
        elif c == b';':
            rest = re.sub(rb'(--|#)[^\n]*|/\*.*?\*/', b'', sql[i + 1:], flags=re.S)
            return rest.strip(b' \t\r\n;') != b''
        elif insert and re.match(rb'(?i)(VALUES|FORMAT)(?![A-Za-z0-9_])', sql[i:i + 7]) and (i == 0 or not re.match(rb'[A-Za-z0-9_]', sql[i - 1:i])):
            return False
        else:
            i += 1
    return False


class Engine:
    """The chDB session, its version, its settings and their baseline values; one query at a time."""

    def __init__(self, data_dir: str):
        from chdb import session  # imported here so `--help` works without chDB

        import chdb

        self.lock = threading.Lock()
        self.session = session.Session(data_dir)
        self.chdb_version = getattr(chdb, '__version__', 'unknown')
        self.version = self._scalar('SELECT version()')
        # chDB's session differs from a server's default profile here; put it back.
        self.session.query('SET implicit_select = 0', 'TabSeparated')
        self.baseline = dict(
            line.split('\t', 1)
            for line in self.session.query('SELECT name, value FROM system.settings', 'TabSeparated').bytes().decode().splitlines()
        )

    def _scalar(self, sql: str) -> str:
        return self.session.query(sql, 'TabSeparated').bytes().decode().strip()

    def run(self, sql: bytes, database: str, default_format: str, settings: dict[str, str]):
        """Runs one statement; returns the chDB result. Settings apply to this statement only."""
        with self.lock:
            applied: list[str] = []
            try:
                self.session.query(f'USE `{database}`', 'TabSeparated')
                for name, value in settings.items():
                    self.session.query(f'SET {name} = {quote(value)}', 'TabSeparated')
                    applied.append(name)
                return self.session.query(sql, default_format)
            finally:
                for name in applied:
                    self.session.query(f'SET {name} = {quote(self.baseline[name])}', 'TabSeparated')

    def close(self) -> None:
        with self.lock:
            self.session.close()


def quote(value: str) -> str:
    return "'" + value.replace('\\', '\\\\').replace("'", "\\'") + "'"


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'chdb-http'
    # Idle keep-alive connections are closed after this many seconds (sent as Keep-Alive: timeout=).
    timeout = 10
    engine: Engine
    max_body_bytes: int
    log_requests: bool

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (BaseHTTPRequestHandler's name)
        if self.log_requests:
            sys.stderr.write('chdb_http: ' + (format % args) + '\n')

    def do_HEAD(self) -> None:
        self._reply(200, b'', {'Content-Type': 'text/html; charset=UTF-8'}, head=True)

    def do_GET(self) -> None:
        self._handle(read_only=True)

    def do_POST(self) -> None:
        self._handle(read_only=False)

    def _read_body(self) -> bytes:
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            parts: list[bytes] = []
            total = 0
            while True:
                line = self.rfile.readline(65_537)
                size = int(line.split(b';', 1)[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline(65_537) not in (b'\r\n', b'\n', b''):
                        pass
                    break
                total += size
                if total > self.max_body_bytes:
                    raise ShimError(1000, 'STD_EXCEPTION', f'request body over --max-body-bytes={self.max_body_bytes}', 413)
                parts.append(self.rfile.read(size))
                self.rfile.readline(3)
            body = b''.join(parts)
        else:
            length = int(self.headers.get('Content-Length') or 0)
            if length > self.max_body_bytes:
                raise ShimError(1000, 'STD_EXCEPTION', f'request body over --max-body-bytes={self.max_body_bytes}', 413)
            body = self.rfile.read(length) if length > 0 else b''
        encoding = self.headers.get('Content-Encoding', '').lower()
        if encoding in ('gzip', 'x-gzip'):
            body = gzip.decompress(body)
        elif encoding not in ('', 'identity'):
            raise ShimError(1000, 'STD_EXCEPTION', f'Content-Encoding {encoding} is not supported by this shim (gzip only)')
        return body

    def _handle(self, read_only: bool) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        query_id = params.get('query_id') or str(uuid.uuid4())
        headers = {'X-ClickHouse-Query-Id': query_id, 'X-ClickHouse-Timezone': 'UTC', 'X-ClickHouse-Server-Display-Name': 'chdb-http'}
        try:
            body = b'' if read_only else self._read_body()
            if url.path == '/ping' or (url.path == '/' and 'query' not in params and body == b''):
                self._reply(200, b'Ok.\n', {**headers, 'Content-Type': 'text/html; charset=UTF-8'})
                return
            if url.path != '/':
                raise ShimError(1000, 'STD_EXCEPTION', f'no handler for {url.path} in this shim (only / and /ping)', 404)
            if params.get('decompress') == '1' or params.get('compress') == '1':
                raise ShimError(1000, 'STD_EXCEPTION', "ClickHouse's native compression (compress/decompress=1) is not supported by this shim")
            query = params.get('query', '').encode()
            sql = query + b'\n' + body if query and body else query or body
            if sql.strip() == b'':
                raise ShimError(62, 'SYNTAX_ERROR', 'Empty query')
            if has_second_statement(query if query else body):
                raise ShimError(62, 'SYNTAX_ERROR', 'Multi-statements are not allowed')
            if read_only and not READ_STATEMENT.match(sql):
                raise ShimError(164, 'READONLY', 'Cannot execute query in readonly mode: use POST for statements that write')
            if self.log_requests:
                head = (query if query else body)[:200].decode('utf-8', 'replace').replace('\n', ' ')
                sys.stderr.write(f'chdb_http: query_id={query_id} params={sorted(params)} sql={head!r}\n')
            database = params.get('database') or 'default'
            if not IDENTIFIER.match(database):
                raise ShimError(81, 'UNKNOWN_DATABASE', f'database name {database!r} is not supported by this shim')
            default_format = params.get('default_format') or 'TabSeparated'
            settings = {k: v for k, v in params.items() if k not in HTTP_PARAMS and not k.startswith('param_') and k in self.engine.baseline}
            result = self.engine.run(sql, database, default_format, settings)
            data = result.bytes() or b''
            fmt_match = None if INSERT_STATEMENT.match(sql) else FORMAT_CLAUSE.search(sql.rstrip())
            fmt = fmt_match.group(1).decode() if fmt_match else default_format
            headers['X-ClickHouse-Format'] = fmt
            headers['Content-Type'] = CONTENT_TYPES.get(fmt, 'text/plain; charset=UTF-8')
            headers['X-ClickHouse-Summary'] = json.dumps(
                {
                    'read_rows': str(result.rows_read()),
                    'read_bytes': str(result.bytes_read()),
                    'written_rows': str(result.rows_written()),
                    'written_bytes': str(result.bytes_written()),
                    'total_rows_to_read': '0',
                    'result_rows': '0',
                    'result_bytes': str(len(data)),
                    'elapsed_ns': str(int((time.monotonic() - started) * 1e9)),
                },
                separators=(',', ':'),
            )
            if params.get('enable_http_compression') == '1' and 'gzip' in self.headers.get('Accept-Encoding', ''):
                data = gzip.compress(data, compresslevel=3)
                headers['Content-Encoding'] = 'gzip'
            self._reply(200, data, headers)
        except ShimError as err:
            if err.status == 413:
                self.close_connection = True  # the unread rest of the body would be taken for the next request
            self._error(err.status, err.code, f'Code: {err.code}. DB::Exception: {err}. ({err.name})', headers)
        except Exception as err:  # chDB raises RuntimeError subclasses with the server's message
            text = str(err).strip()
            m = ERROR_CODE.match(text)
            if m:
                self._error(500, int(m.group(1)), text, headers)
            else:
                self._error(500, 1000, f'Code: 1000. DB::Exception: {type(err).__name__}: {text}. (STD_EXCEPTION)', headers)

    def _error(self, status: int, code: int, message: str, headers: dict[str, str]) -> None:
        body = f'{message} (version {self.engine.version})\n'.encode()
        self._reply(status, body, {**headers, 'X-ClickHouse-Exception-Code': str(code), 'Content-Type': 'text/plain; charset=UTF-8'})

    def _reply(self, status: int, body: bytes, headers: dict[str, str], head: bool = False) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header('Content-Length', str(len(body)))
        if self.close_connection:
            self.send_header('Connection', 'close')
        else:
            self.send_header('Keep-Alive', f'timeout={self.timeout}')
        self.end_headers()
        if not head:
            self.wfile.write(body)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="ClickHouse's HTTP interface in front of chDB, for tests (see the top of this file for its limits).")
    ap.add_argument('--port', type=int, default=0, help='port on 127.0.0.1; 0 picks a free one (default 0)')
    ap.add_argument('--data', help='directory of the chDB session (created if missing); default: a temp dir removed at exit')
    ap.add_argument('--max-body-bytes', type=int, default=512 * 1024 * 1024, help='largest request body, bytes; larger ones get 413 (default 512 MiB)')
    ap.add_argument('--log-requests', action='store_true', help='log each request line to stderr')
    ap.add_argument('--exit-on-stdin-eof', action='store_true', help='exit when standard input closes (the parent died)')
    args = ap.parse_args(argv)

    data_dir = args.data or tempfile.mkdtemp(prefix='chdb-http-')
    os.makedirs(data_dir, exist_ok=True)
    try:
        engine = Engine(data_dir)
    except ImportError as err:
        print(f'chdb_http: cannot import chdb ({err}); run "bash scripts/install-chdb.sh"', file=sys.stderr)
        return 2

    handler = type('BoundHandler', (Handler,), {'engine': engine, 'max_body_bytes': args.max_body_bytes, 'log_requests': args.log_requests})
    server = ThreadingHTTPServer(('127.0.0.1', args.port), handler)
    server.daemon_threads = True

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.exit_on_stdin_eof:
        threading.Thread(target=lambda: (sys.stdin.buffer.read(), stop()), daemon=True).start()

    print(f'chdb_http: chDB {engine.chdb_version}, ClickHouse {engine.version}, data in {data_dir}', file=sys.stderr, flush=True)
    print(f'listening on http://127.0.0.1:{server.server_address[1]}', flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        engine.close()
        if not args.data:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

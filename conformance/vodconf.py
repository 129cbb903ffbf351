"""Support code for the conformance suite: run the real `vodstack` binary, talk to it with
the official Alibaba SDKs, and sign raw V1 requests by hand.

Nothing here knows about pytest; conftest.py wires it into fixtures.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Mapping

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
VOD_VERSION = "2017-03-21"
ICE_VERSION = "2020-11-09"
REGION = "cn-shanghai"

# The fixed root key every fixture server is started with (VODSTACK_ROOT_ACCESS_KEY_*).
ROOT_AK = "LTAI5tConformanceRoot01"
ROOT_SECRET = "conformance-root-secret-0123456789abcdef"

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


def binary_path() -> Path:
    """The vodstack binary under test: $VODSTACK_BIN, else target/debug/vodstack."""
    return Path(os.environ.get("VODSTACK_BIN") or REPO_ROOT / "target" / "debug" / "vodstack")


# ---------------------------------------------------------------------------------------
# Raw V1 (HMAC-SHA1) signing, protocol.md §1.3
# ---------------------------------------------------------------------------------------

def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding of UTF-8: only A-Z a-z 0-9 - _ . ~ stay literal."""
    return urllib.parse.quote(str(value).encode("utf-8"), safe="-_.~")


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    pairs = sorted((percent_encode(k), percent_encode(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in pairs)


def string_to_sign(method: str, params: Iterable[tuple[str, str]]) -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def sign_v1(secret: str, sts: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), sts.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def v3_authorization(method: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes,
                     ak: str, secret: str, signed: Iterable[str] | None = None) -> str:
    """ACS3-HMAC-SHA256 Authorization for an RPC request (protocol.md §1.4). `headers` must
    hold lower-case names; `signed` defaults to all of them."""
    names = sorted(h.lower() for h in (signed if signed is not None else headers))
    cq = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(query.items()))
    ch = "".join(f"{n}:{headers[n].strip()}\n" for n in names)
    hashed = headers.get("x-acs-content-sha256") or hashlib.sha256(body).hexdigest()
    canonical = f"{method.upper()}\n/\n{cq}\n{ch}\n{';'.join(names)}\n{hashed}"
    sts = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    sig = hmac.new(secret.encode(), sts.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"ACS3-HMAC-SHA256 Credential={ak},SignedHeaders={';'.join(names)},Signature={sig}"


def iso8601(offset_seconds: float = 0) -> str:
    t = datetime.now(timezone.utc) + timedelta(seconds=offset_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def nonce() -> str:
    return secrets.token_hex(16)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------
# Databases: one fresh database per server (group)
# ---------------------------------------------------------------------------------------

class Database:
    """Where a server keeps its metadata. `url` is None for SQLite in the data directory."""

    url: str | None = None

    def drop(self) -> None:
        pass


class SqliteDatabase(Database):
    """SQLite at <data-dir>/meta.db (the zero-config default)."""


class PostgresDatabase(Database):
    """A fresh schema `vodconf_<random>` on the test database, dropped afterwards."""

    def __init__(self, base_url: str):
        if shutil.which("psql") is None:
            raise RuntimeError("postgres mode needs psql (Debian package postgresql-client)")
        self.base_url = base_url
        self.schema = "vodconf_" + secrets.token_hex(6)
        psql(base_url, f"CREATE SCHEMA {self.schema}")
        sep = "&" if "?" in base_url else "?"
        self.url = f"{base_url}{sep}options=-c%20search_path%3D{self.schema}"

    def drop(self) -> None:
        psql(self.base_url, f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")


def psql(url: str, sql: str) -> str:
    out = subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
        capture_output=True, text=True, timeout=60,
    )
    if out.returncode != 0:
        raise RuntimeError(f"psql failed ({out.returncode}): {sql}\n{out.stderr}")
    return out.stdout


# ---------------------------------------------------------------------------------------
# The server under test
# ---------------------------------------------------------------------------------------

class ServerError(RuntimeError):
    pass


class Server:
    """One `vodstack serve` process (or a not-yet-started one, for CLI set-up first).

    Every server has its own temporary working directory (also its cwd, so no stray
    ./vodstack.toml is read) and data directory. `db_url` selects the database: None =
    SQLite in the data directory; several Server objects may share one url (a cluster).
    """

    def __init__(self, workdir: Path, db_url: str | None = None, *, root_key: bool = True,
                 data_dir: Path | None = None, env: Mapping[str, str] | None = None,
                 zero_config: bool = False):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        # zero_config: no --data-dir / --database-url flags at all (defaults: ./vodstack-data).
        self.zero_config = zero_config
        self.data_dir = Path(data_dir) if data_dir else self.workdir / ("vodstack-data" if zero_config else "data")
        self.db_url = db_url
        self.root_key = root_key
        self.ak = ROOT_AK if root_key else None
        self.secret = ROOT_SECRET if root_key else None
        self.env = dict(env or {})
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.exit_code: int | None = None
        self.starts = 0
        self._stdout_path: Path | None = None
        self._stderr_path: Path | None = None

    # ---- process environment

    def base_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The caller's environment without any VODSTACK_* variable, plus ours."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("VODSTACK_")}
        env.setdefault("RUST_LOG", "warn")
        if self.root_key:
            env["VODSTACK_ROOT_ACCESS_KEY_ID"] = ROOT_AK
            env["VODSTACK_ROOT_ACCESS_KEY_SECRET"] = ROOT_SECRET
        # Every server gets its own playback edge on a free port (play URLs follow it).
        env["VODSTACK_EDGE_ADDR"] = "127.0.0.1:0"
        env.update(self.env)
        env.update(extra or {})
        return env

    def global_args(self) -> list[str]:
        if self.zero_config:
            return []
        args = ["--data-dir", str(self.data_dir)]
        if self.db_url:
            args += ["--database-url", self.db_url]
        return args

    # ---- CLI

    def cli(self, *args: str, check: bool = True, env: Mapping[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        """Runs `vodstack <global flags> ARGS...` against this server's database."""
        cmd = [str(binary_path()), *self.global_args(), *args]
        out = subprocess.run(cmd, cwd=self.workdir, env=self.base_env(env), capture_output=True,
                             text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise ServerError(f"{' '.join(args)} exited {out.returncode}\nstdout:\n{out.stdout}\nstderr:\n{out.stderr}")
        return out

    def cli_json(self, *args: str, **kw):
        out = self.cli(*args, **kw)
        try:
            return json.loads(out.stdout)
        except json.JSONDecodeError as e:
            raise ServerError(f"`{' '.join(args)}` did not print JSON: {out.stdout!r}") from e

    def create_user(self, name: str, policy: dict | str) -> dict:
        doc = policy if isinstance(policy, str) else json.dumps(policy)
        return self.cli_json("users", "create", name, "--policy", doc)

    def create_key(self, user: str | None = None) -> tuple[str, str]:
        args = ["keys", "create"] + (["--user", user] if user else [])
        k = self.cli_json(*args)
        return k["AccessKeyId"], k["AccessKeySecret"]

    def sts(self, user: str | None = None, duration: int = 3600) -> dict:
        args = ["keys", "sts", "--duration-seconds", str(duration)] + (["--user", user] if user else [])
        return self.cli_json(*args)

    # ---- lifecycle

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def endpoint(self) -> str:
        assert self.port, "server not started"
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def start(self, env: Mapping[str, str] | None = None, args: Iterable[str] = (),
              port: int | None = None) -> "Server":
        """Starts `vodstack serve` and waits for the banner and an answered HTTP request."""
        assert not self.running, "already running"
        last_error = None
        for _attempt in range(3):
            self.port = port or free_port()
            try:
                self._spawn(env, list(args))
                return self
            except ServerError as e:
                last_error = e
                if port or "cannot listen" not in str(e):
                    raise
        raise last_error  # type: ignore[misc]

    def _spawn(self, env: Mapping[str, str] | None, args: list[str]) -> None:
        self.starts += 1
        self._stdout_path = self.workdir / f"serve-{self.starts}.stdout"
        self._stderr_path = self.workdir / f"serve-{self.starts}.stderr"
        cmd = [str(binary_path()), *self.global_args(), "serve", "--api-addr", self.endpoint, *args]
        with open(self._stdout_path, "wb") as so, open(self._stderr_path, "wb") as se:
            self.proc = subprocess.Popen(cmd, cwd=self.workdir, env=self.base_env(env), stdout=so, stderr=se,
                                         stdin=subprocess.DEVNULL)
        self.exit_code = None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.exit_code = self.proc.returncode
                raise ServerError(f"vodstack serve exited {self.proc.returncode} during start-up\n{self.logs()}")
            # Ready = banner printed and an HTTP request answered (the listener alone accepts
            # TCP before the server loop, and its signal handling, runs).
            if "root AccessKeyId" in self.stdout and _port_open(self.port) and _http_answers(self.url):
                return
            time.sleep(0.05)
        self.kill()
        raise ServerError(f"vodstack serve did not answer on {self.endpoint} within {START_TIMEOUT_S}s\n{self.logs()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Sends `sig` and waits; returns the exit code (None-safe when never started)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise ServerError(f"vodstack serve ignored signal {sig} for {STOP_TIMEOUT_S}s\n{self.logs()}")
        self.exit_code = self.proc.returncode
        return self.exit_code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def stdout(self) -> str:
        return _read(self._stdout_path)

    @property
    def stderr(self) -> str:
        return _read(self._stderr_path)

    def logs(self, tail: int = 60) -> str:
        err = "\n".join(self.stderr.splitlines()[-tail:])
        return f"--- stdout ({self._stdout_path}):\n{self.stdout}--- stderr (last {tail} lines):\n{err}"

    def banner_value(self, label: str) -> str | None:
        """The value after `label` on a banner line, e.g. banner_value('root AccessKeyId')."""
        m = re.search(rf"^\s*{re.escape(label)}\s+(\S+)", self.stdout, re.M)
        return m.group(1) if m else None

    # ---- SDK clients

    def legacy_client(self, ak: str | None = None, secret: str | None = None, token: str | None = None):
        """aliyun-python-sdk-core AcsClient (V1 HMAC-SHA1); StsTokenCredential with a token."""
        from aliyunsdkcore.client import AcsClient
        from aliyunsdkcore.auth.credentials import StsTokenCredential

        ak, secret = ak or self.ak, secret or self.secret
        if token:
            return AcsClient(region_id=REGION, credential=StsTokenCredential(ak, secret, token), timeout=30)
        return AcsClient(ak, secret, REGION, timeout=30)

    def legacy(self, request, client=None) -> dict:
        """Runs an aliyunsdkvod request against this server; returns the decoded JSON body."""
        request.set_endpoint(self.endpoint)
        body = (client or self.legacy_client()).do_action_with_exception(request)
        return json.loads(body)

    def tea_config(self, ak: str | None = None, secret: str | None = None, token: str | None = None,
                   v2: bool = False):
        from alibabacloud_tea_openapi import models as open_api_models

        cfg = open_api_models.Config(access_key_id=ak or self.ak, access_key_secret=secret or self.secret,
                                     endpoint=self.endpoint, protocol="http", region_id=REGION,
                                     read_timeout=30000, connect_timeout=5000)
        if token:
            cfg.security_token = token
        if v2:
            cfg.signature_algorithm = "v2"
        return cfg

    def vod(self, ak: str | None = None, secret: str | None = None, token: str | None = None, v2: bool = False):
        """alibabacloud-vod20170321 client (V3 by default, V2 HMAC-SHA1 with v2=True)."""
        from alibabacloud_vod20170321.client import Client

        return Client(self.tea_config(ak, secret, token, v2))

    def ice(self, ak: str | None = None, secret: str | None = None, token: str | None = None, v2: bool = False):
        """alibabacloud-ice20201109 client (V3)."""
        from alibabacloud_ice20201109.client import Client

        return Client(self.tea_config(ak, secret, token, v2))

    def legacy_sts(self, user: str | None = None, duration: int = 3600):
        c = self.sts(user, duration)
        return self.legacy_client(c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"])

    def vod_sts(self, user: str | None = None, duration: int = 3600, v2: bool = False):
        c = self.sts(user, duration)
        return self.vod(c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"], v2=v2)

    def ice_sts(self, user: str | None = None, duration: int = 3600):
        c = self.sts(user, duration)
        return self.ice(c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"])

    # ---- raw signed V1 requests

    def raw(self, action: str | None, params: Mapping[str, str] | None = None, *,
            version: str | None = VOD_VERSION, fmt: str | None = "JSON", method: str = "POST",
            ak: str | None = None, secret: str | None = None, token: str | None = None,
            timestamp: str | None = None, signature_nonce: str | None = None,
            common: Mapping[str, str | None] | None = None, in_body: bool = False,
            headers: Mapping[str, str] | None = None, sign: bool = True,
            signature: str | None = None) -> requests.Response:
        """Sends a V1 request signed with the raw signer.

        `fmt=None` omits Format; `common` overrides (value None removes) common parameters
        before signing; `in_body` sends everything as an x-www-form-urlencoded body.
        """
        p: dict[str, str] = {}
        if action is not None:
            p["Action"] = action
        if version is not None:
            p["Version"] = version
        if fmt is not None:
            p["Format"] = fmt
        p.update({
            "AccessKeyId": ak or self.ak,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": signature_nonce or nonce(),
            "Timestamp": timestamp or iso8601(),
        })
        if token:
            p["SecurityToken"] = token
        p.update({k: str(v) for k, v in (params or {}).items()})
        for k, v in (common or {}).items():
            if v is None:
                p.pop(k, None)
            else:
                p[k] = v
        if sign and not (common and "Signature" in common and common["Signature"] is None):
            p["Signature"] = signature or sign_v1(secret or self.secret, string_to_sign(method, p.items()))
        encoded = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in p.items())
        hdrs = dict(headers or {})
        if in_body:
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
            resp = requests.request(method, f"{self.url}/", data=encoded.encode(), headers=hdrs, timeout=30)
        else:
            resp = requests.request(method, f"{self.url}/?{encoded}", headers=hdrs, timeout=30)
        resp.sent_params = {k: v for k, v in p.items() if k != "Signature"}  # type: ignore[attr-defined]
        return resp


    def raw_v3(self, action: str, query: Mapping[str, str] | None = None, *, form: Mapping[str, str] | None = None,
               version: str = VOD_VERSION, method: str = "POST", ak: str | None = None,
               secret: str | None = None, token: str | None = None, date: str | None = None,
               signature_nonce: str | None = None, extra_headers: Mapping[str, str] | None = None,
               unsigned: Iterable[str] = (), content_sha256: str | None = None) -> requests.Response:
        """Sends a V3 (ACS3-HMAC-SHA256) request signed by the suite's own signer. Headers
        named in `unsigned` are sent but left out of SignedHeaders."""
        query = {k: str(v) for k, v in (query or {}).items()}
        body = b""
        headers = {
            "host": self.endpoint,
            "x-acs-action": action,
            "x-acs-version": version,
            "x-acs-date": date or iso8601(),
            "x-acs-signature-nonce": signature_nonce or nonce(),
            "accept": "application/json",
        }
        if form is not None:
            body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in form.items()).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        headers["x-acs-content-sha256"] = content_sha256 or hashlib.sha256(body).hexdigest()
        if token:
            headers["x-acs-security-token"] = token
            headers["x-acs-accesskey-id"] = ak or self.ak
        headers.update({k.lower(): v for k, v in (extra_headers or {}).items()})
        signed = [h for h in headers if h not in set(unsigned)]
        headers["authorization"] = v3_authorization(method, query, headers, body, ak or self.ak,
                                                    secret or self.secret, signed)
        qs = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in query.items())
        return requests.request(method, f"{self.url}/" + (f"?{qs}" if qs else ""), data=body or None,
                                headers=headers, timeout=30)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _http_answers(url: str) -> bool:
    try:
        requests.get(f"{url}/", timeout=2)
        return True
    except requests.RequestException:
        return False


def _read(path: Path | None) -> str:
    if path is None or not path.exists():
        return ""
    return path.read_text(errors="replace")


def new_workdir(prefix: str = "vodconf-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


# ---------------------------------------------------------------------------------------
# Error expectations: each SDK must raise its own proper exception type
# ---------------------------------------------------------------------------------------

def legacy_error(fn, *args, **kwargs):
    """Calls fn, which must raise aliyunsdkcore's ServerException; returns it."""
    from aliyunsdkcore.acs_exception.exceptions import ServerException

    try:
        result = fn(*args, **kwargs)
    except ServerException as e:
        return e
    raise AssertionError(f"expected aliyunsdkcore ServerException, the call returned {result!r}")


def assert_legacy_error(fn, code: str, status: int, *, message_contains: str | None = None):
    e = legacy_error(fn)
    got = (e.get_error_code(), e.get_http_status())
    assert got == (code, status), f"legacy SDK: expected {code} {status}, got {got}: {e.get_error_msg()}"
    assert e.get_request_id(), f"legacy SDK: {code} without RequestId"
    if message_contains is not None:
        assert message_contains in e.get_error_msg(), e.get_error_msg()
    return e


def tea_error(fn, *args, **kwargs):
    """Calls fn, which must raise a Tea AlibabaCloudException (Client/Server/Throttling)."""
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

    try:
        result = fn(*args, **kwargs)
    except AlibabaCloudException as e:
        return e
    raise AssertionError(f"expected a Tea AlibabaCloudException, the call returned {result!r}")


def assert_tea_error(fn, code: str, status: int, *, message_contains: str | None = None):
    e = tea_error(fn)
    got = (e.code, e.status_code)
    assert got == (code, status), f"Tea SDK: expected {code} {status}, got {got}: {e.message}"
    assert e.request_id and e.request_id != "None", f"Tea SDK: {code} without RequestId"
    if message_contains is not None:
        assert message_contains in (e.message or ""), e.message
    return e


def assert_raw_error(resp: requests.Response, code: str, status: int, *, fmt: str = "json") -> dict:
    """A raw error response: status, content type exactly as the SDKs need, envelope fields,
    and x-acs-request-id equal to the body's RequestId. Returns the envelope as a dict."""
    assert resp.status_code == status, f"expected HTTP {status}, got {resp.status_code}: {resp.text}"
    ctype = resp.headers.get("Content-Type")
    if fmt == "json":
        assert ctype == "application/json;charset=utf-8", ctype
        body = resp.json()
    else:
        import xml.etree.ElementTree as ET

        assert ctype == "text/xml;charset=utf-8", ctype
        root = ET.fromstring(resp.content)
        assert root.tag == "Error", resp.text
        body = {child.tag: (child.text or "") for child in root}
    for field in ("RequestId", "HostId", "Code", "Message"):
        assert body.get(field), f"error envelope lacks {field}: {resp.text}"
    assert body["Code"] == code, f"expected {code}, got {body['Code']}: {body['Message']}"
    assert resp.headers.get("x-acs-request-id") == body["RequestId"], (resp.headers, body)
    return body

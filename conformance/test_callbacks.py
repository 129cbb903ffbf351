"""Event notifications through the official SDKs: SetMessageCallback / GetMessageCallback /
DeleteMessageCallback in both SDK generations (aliyun-python-sdk-vod, V1 signatures, and
alibabacloud-vod20170321, V3), their errors in JSON and XML, and a real FileUploadComplete
event delivered end to end by the real binary: CreateUploadVideo, an oss2 upload to the
OSS listener, then a signed POST to a receiver in this test (X-VOD-TIMESTAMP,
X-VOD-SIGNATURE = md5(url|timestamp|AuthKey), Extend from UserData). Without
`callbacks.allow_loopback` the same delivery is refused and its job fails.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import re
import threading
import time
import xml.etree.ElementTree as ET

import pytest
from aliyunsdkvod.request.v20170321.CreateUploadVideoRequest import CreateUploadVideoRequest
from aliyunsdkvod.request.v20170321.DeleteMessageCallbackRequest import DeleteMessageCallbackRequest
from aliyunsdkvod.request.v20170321.GetMessageCallbackRequest import GetMessageCallbackRequest
from aliyunsdkvod.request.v20170321.SetMessageCallbackRequest import SetMessageCallbackRequest
from alibabacloud_vod20170321 import models as m

from vodconf import assert_legacy_error, assert_raw_error, assert_tea_error

DEFAULT_APP = "app-1000000"
KEY = "Conformance2024Key"


# ---- legacy helpers

def l_set(srv, client=None, **kw) -> dict:
    r = SetMessageCallbackRequest()
    for k, v in kw.items():
        getattr(r, f"set_{k}")(v)
    return srv.legacy(r, client)


def l_get(srv, app_id=None, client=None) -> dict:
    r = GetMessageCallbackRequest()
    if app_id:
        r.set_AppId(app_id)
    return srv.legacy(r, client)["MessageCallback"]


def l_delete(srv, app_id=None, client=None) -> dict:
    r = DeleteMessageCallbackRequest()
    if app_id:
        r.set_AppId(app_id)
    return srv.legacy(r, client)


def new_app(srv, name="cb-app") -> str:
    return srv.vod().create_app_info(m.CreateAppInfoRequest(app_name=name)).body.app_id


# ---- round trips

def test_round_trip_legacy_default_app(server):
    assert l_get(server) == {"AppId": DEFAULT_APP}, "nothing configured yet"
    body = l_set(server, CallbackType="HTTP", CallbackURL="https://example.com/vod/cb",
                 EventTypeList="FileUploadComplete,TranscodeComplete", AuthSwitch="on", AuthKey=KEY)
    assert set(body) == {"RequestId"}, body
    got = l_get(server)
    assert got == {"AppId": DEFAULT_APP, "CallbackType": "HTTP", "CallbackURL": "https://example.com/vod/cb",
                   "AuthKey": KEY, "EventTypeList": "FileUploadComplete,TranscodeComplete", "AuthSwitch": "on"}, got
    assert l_get(server, DEFAULT_APP) == got, "AppId defaults to app-1000000"

    # Only the parameters given change.
    l_set(server, EventTypeList="ALL", AuthSwitch="off")
    got = l_get(server)
    assert (got["EventTypeList"], got["AuthSwitch"], got["CallbackURL"], got["AuthKey"]) == (
        "ALL", "off", "https://example.com/vod/cb", KEY), got

    assert set(l_delete(server)) == {"RequestId"}
    assert l_get(server) == {"AppId": DEFAULT_APP}
    l_delete(server)  # deleting nothing is fine


def test_round_trip_legacy_created_app(server):
    app = new_app(server)
    l_set(server, AppId=app, CallbackURL="http://hooks.example.com:8080/a?b=c", EventTypeList="ALL")
    got = l_get(server, app)
    assert (got["AppId"], got["CallbackType"], got["CallbackURL"], got["EventTypeList"], got["AuthSwitch"]) == (
        app, "HTTP", "http://hooks.example.com:8080/a?b=c", "ALL", "off"), got
    assert "AuthKey" not in got
    assert l_get(server) == {"AppId": DEFAULT_APP}, "settings are per app"
    l_delete(server, app)
    assert l_get(server, app) == {"AppId": app}


@pytest.mark.parametrize("v2", [False, True], ids=["tea-v3", "tea-v2"])
def test_round_trip_tea(server, v2):
    c = server.vod(v2=v2)
    app = new_app(server, f"tea-{v2}")
    for app_id in (None, app):
        resp = c.set_message_callback(m.SetMessageCallbackRequest(
            app_id=app_id, callback_type="HTTP", callback_url=f"https://example.com/{app_id or 'default'}",
            event_type_list="FileUploadComplete", auth_switch="on", auth_key=KEY))
        assert resp.status_code == 200 and resp.body.request_id
        got = c.get_message_callback(m.GetMessageCallbackRequest(app_id=app_id)).body.message_callback
        assert (got.app_id, got.callback_type, got.callback_url, got.event_type_list, got.auth_switch, got.auth_key) == (
            app_id or DEFAULT_APP, "HTTP", f"https://example.com/{app_id or 'default'}", "FileUploadComplete", "on", KEY)
        assert got.mns_endpoint is None and got.mns_queue_name is None
    c.delete_message_callback(m.DeleteMessageCallbackRequest(app_id=app))
    gone = c.get_message_callback(m.GetMessageCallbackRequest(app_id=app)).body.message_callback
    assert (gone.app_id, gone.callback_url, gone.callback_type) == (app, None, None)
    still = c.get_message_callback(m.GetMessageCallbackRequest()).body.message_callback
    assert still.callback_url == "https://example.com/default"


def test_mns_settings_are_kept(server):
    l_set(server, CallbackType="MNS", MnsEndpoint="https://1234.mns.cn-shanghai.aliyuncs.com/",
          MnsQueueName="vod-events")
    got = l_get(server)
    assert (got["CallbackType"], got["MnsEndpoint"], got["MnsQueueName"]) == (
        "MNS", "https://1234.mns.cn-shanghai.aliyuncs.com/", "vod-events"), got


def test_xml_round_trip(server):
    resp = server.raw("SetMessageCallback", {"CallbackURL": "http://example.com/x&y", "AuthKey": KEY}, fmt="XML")
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "text/xml;charset=utf-8"
    assert ET.fromstring(resp.content).tag == "SetMessageCallbackResponse"
    resp = server.raw("GetMessageCallback", fmt="XML")
    assert resp.status_code == 200, resp.text
    root = ET.fromstring(resp.content)
    assert root.tag == "GetMessageCallbackResponse" and root.findtext("RequestId")
    cb = root.find("MessageCallback")
    assert {e.tag: e.text for e in cb} == {
        "AppId": DEFAULT_APP, "CallbackType": "HTTP", "CallbackURL": "http://example.com/x&y", "AuthKey": KEY,
        "EventTypeList": "ALL", "AuthSwitch": "on"}
    resp = server.raw("DeleteMessageCallback", fmt="XML")
    assert resp.status_code == 200 and ET.fromstring(resp.content).tag == "DeleteMessageCallbackResponse"


# ---- errors

BAD_KEYS = [
    ("alllowercase123", "no upper case"),
    ("ALLUPPERCASE123", "no lower case"),
    ("NoDigitsAtAll", "no digit"),
    ("Abc1" * 8 + "X", "33 characters"),
    ("Bad-Key-123", "not alphanumeric"),
]


@pytest.mark.parametrize("key,why", BAD_KEYS, ids=[w for _, w in BAD_KEYS])
def test_auth_key_rules(server, key, why):
    e = assert_legacy_error(lambda: l_set(server, CallbackURL="http://example.com/cb", AuthKey=key),
                            "InvalidParameter", 400)
    assert '"AuthKey"' in e.get_error_msg(), e.get_error_msg()
    e = assert_tea_error(lambda: server.vod().set_message_callback(m.SetMessageCallbackRequest(
        callback_url="http://example.com/cb", auth_key=key)), "InvalidParameter", 400)
    assert '"AuthKey"' in e.message, e.message
    assert l_get(server) == {"AppId": DEFAULT_APP}, "nothing was stored"


def test_auth_key_limits_accepted(server):
    l_set(server, CallbackURL="http://example.com/cb", AuthKey="Ab1" + "x" * 29)  # exactly 32
    assert l_get(server)["AuthKey"] == "Ab1" + "x" * 29


def test_auth_switch_on_needs_a_key(server):
    body = assert_raw_error(server.raw("SetMessageCallback", {"CallbackURL": "http://example.com/cb",
                                                               "AuthSwitch": "on"}), "MissingParameter", 400)
    assert '"AuthKey"' in body["Message"]


@pytest.mark.parametrize("url", ["ftp://example.com/cb", "example.com/cb", "http://", "http://a b/c",
                                 "http://example.com/" + "a" * 240])
def test_bad_callback_url(server, url):
    e = assert_legacy_error(lambda: l_set(server, CallbackURL=url), "InvalidParameter", 400)
    assert '"CallbackURL"' in e.get_error_msg(), e.get_error_msg()
    e = assert_tea_error(lambda: server.vod().set_message_callback(m.SetMessageCallbackRequest(callback_url=url)),
                         "InvalidParameter", 400)
    assert '"CallbackURL"' in e.message


def test_http_without_url_is_missing_parameter(server):
    e = assert_legacy_error(lambda: l_set(server, CallbackType="HTTP", EventTypeList="ALL"), "MissingParameter", 400)
    assert '"CallbackURL"' in e.get_error_msg()
    e = assert_tea_error(lambda: server.vod().set_message_callback(m.SetMessageCallbackRequest(
        callback_type="HTTP")), "MissingParameter", 400)
    assert '"CallbackURL"' in e.message
    body = assert_raw_error(server.raw("SetMessageCallback", {"CallbackType": "HTTP"}, fmt="XML"),
                            "MissingParameter", 400, fmt="xml")
    assert '"CallbackURL"' in body["Message"]


def test_unknown_app_is_404(server):
    for call in (lambda: l_set(server, AppId="app-nope", CallbackURL="http://example.com/cb"),
                 lambda: l_get(server, "app-nope"),
                 lambda: l_delete(server, "app-nope")):
        assert_legacy_error(call, "AppNotExist", 404)
    c = server.vod()
    assert_tea_error(lambda: c.get_message_callback(m.GetMessageCallbackRequest(app_id="app-nope")),
                     "AppNotExist", 404)
    assert_tea_error(lambda: c.set_message_callback(m.SetMessageCallbackRequest(
        app_id="app-nope", callback_url="http://example.com/cb")), "AppNotExist", 404)
    assert_raw_error(server.raw("GetMessageCallback", {"AppId": "app-nope"}), "AppNotExist", 404)
    assert_raw_error(server.raw("GetMessageCallback", {"AppId": "app-nope"}, fmt="XML"), "AppNotExist", 404,
                     fmt="xml")


# The callback actions pass the gateway (their RAM action is allowed, on no real app): what
# the user may touch comes from app policies only.
CALLBACKS_NOWHERE = {"Version": "1", "Statement": [{
    "Effect": "Allow",
    "Action": ["vod:SetMessageCallback", "vod:GetMessageCallback", "vod:DeleteMessageCallback",
               "vod:CreateAppInfo"],
    "Resource": "acs:vod:*:*:app/app-none",
}]}


def test_ram_user_needs_app_access(servers):
    srv = servers.new()
    srv.create_user("dave", CALLBACKS_NOWHERE)
    key = srv.create_key(user="dave")
    srv.start()
    full, read = new_app(srv, "dave-full"), new_app(srv, "dave-read")
    root = srv.vod()
    for app, policy in ((full, "VODAppFullAccess"), (read, "VODAppReadOnlyAccess")):
        root.attach_app_policy_to_identity(m.AttachAppPolicyToIdentityRequest(
            identity_type="RamUser", identity_name="dave", app_id=app, policy_names=policy))
    legacy = srv.legacy_client(*key)
    tea = srv.vod(*key)

    # No access to the default app at all.
    assert_legacy_error(lambda: l_get(srv, client=legacy), "Forbidden", 403)
    assert_legacy_error(lambda: l_set(srv, client=legacy, CallbackURL="http://example.com/cb"), "Forbidden", 403)
    assert_legacy_error(lambda: l_delete(srv, client=legacy), "Forbidden", 403)
    assert_tea_error(lambda: tea.get_message_callback(m.GetMessageCallbackRequest()), "Forbidden", 403)
    assert_raw_error(srv.raw("SetMessageCallback", {"CallbackURL": "http://example.com/cb"}, ak=key[0],
                             secret=key[1], fmt="XML"), "Forbidden", 403, fmt="xml")

    # Full access: everything; read-only: reading only.
    l_set(srv, client=legacy, AppId=full, CallbackURL="http://example.com/dave")
    assert tea.get_message_callback(m.GetMessageCallbackRequest(app_id=full)).body.message_callback.callback_url == \
        "http://example.com/dave"
    root.set_message_callback(m.SetMessageCallbackRequest(app_id=read, callback_url="http://example.com/root"))
    assert l_get(srv, read, client=legacy)["CallbackURL"] == "http://example.com/root"
    assert_tea_error(lambda: tea.set_message_callback(m.SetMessageCallbackRequest(
        app_id=read, callback_url="http://example.com/dave")), "Forbidden", 403)
    assert_legacy_error(lambda: l_delete(srv, read, client=legacy), "Forbidden", 403)
    tea.delete_message_callback(m.DeleteMessageCallbackRequest(app_id=full))
    assert l_get(srv, full) == {"AppId": full}
    assert l_get(srv, read)["CallbackURL"] == "http://example.com/root", "the refused delete changed nothing"


# ---- a real event, end to end

class Receiver:
    """A loopback HTTP endpoint recording each POST (headers and JSON body); answers 200."""

    def __init__(self):
        self.posts: list[tuple[dict, dict]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                outer.posts.append(({k.lower(): v for k, v in self.headers.items()}, json.loads(raw or b"{}")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/vod/callback?src=conformance"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, pred, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [p for p in self.posts if pred(p[1])]
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no matching callback within {timeout}s; got {self.posts}")

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def upload_server(servers, loopback: bool):
    # Arbitrary bytes are uploaded: processing (which would mark them damaged) stays off.
    env = {"VODSTACK_OSS_ADDR": "127.0.0.1:0", "VODSTACK_JOBS__POLL_MS": "100", "VODSTACK_PROCESSING__ENABLED": "false"}
    if loopback:
        env["VODSTACK_CALLBACKS__ALLOW_LOOPBACK"] = "true"
    return servers.new(env=env).start()


def upload(srv, user_data: str | None, data: bytes) -> str:
    """CreateUploadVideo (legacy SDK) and the upload itself with oss2 (STS auth, path style)."""
    import oss2

    r = CreateUploadVideoRequest()
    r.set_Title("callback me")
    r.set_FileName("clip.mp4")
    if user_data is not None:
        r.set_UserData(user_data)
    body = srv.legacy(r)
    addr = json.loads(base64.b64decode(body["UploadAddress"]))
    auth = json.loads(base64.b64decode(body["UploadAuth"]))
    bucket = oss2.Bucket(oss2.StsAuth(auth["AccessKeyId"], auth["AccessKeySecret"], auth["SecurityToken"]),
                         addr["Endpoint"], addr["Bucket"])
    bucket.put_object(addr["FileName"], data)
    return body["VideoId"]


def test_file_upload_complete_arrives_signed(servers, receiver):
    srv = upload_server(servers, loopback=True)
    l_set(srv, CallbackType="HTTP", CallbackURL=receiver.url, EventTypeList="FileUploadComplete",
          AuthSwitch="on", AuthKey=KEY)

    data = b"conformance callback bytes " * 100
    vid = upload(srv, json.dumps({"Extend": {"localId": "xx", "n": 1}}), data)
    headers, ev = receiver.wait(lambda e: e.get("VideoId") == vid)[0]

    # The payload, with the JSON types of the event reference (protocol.md §4.2).
    assert ev["EventType"] == "FileUploadComplete"
    assert isinstance(ev["EventTime"], str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ev["EventTime"]), ev
    assert isinstance(ev["VideoId"], str) and ev["VideoId"] == vid
    assert isinstance(ev["Size"], int) and not isinstance(ev["Size"], bool) and ev["Size"] == len(data)
    assert isinstance(ev["FileUrl"], str) and ev["FileUrl"].startswith("http") and vid in ev["FileUrl"], ev
    assert ev["Status"] == "success"
    assert ev["Extend"] == '{"localId":"xx","n":1}', "an object Extend is echoed as a compact JSON string"
    assert re.fullmatch(r"[0-9a-f]{32}", ev["EventId"]) and headers["x-vod-event-id"] == ev["EventId"]
    assert headers["content-type"].startswith("application/json")

    # md5("<CallbackURL>|<X-VOD-TIMESTAMP>|<AuthKey>"), the URL exactly as configured.
    ts = headers["x-vod-timestamp"]
    assert re.fullmatch(r"\d{10}", ts) and abs(int(ts) - time.time()) < 300, ts
    expected = hashlib.md5(f"{receiver.url}|{ts}|{KEY}".encode()).hexdigest()
    assert headers["x-vod-signature"] == expected

    # Extend given as a string comes back unchanged.
    vid2 = upload(srv, json.dumps({"Extend": "plain pass-through"}), b"second")
    _, ev2 = receiver.wait(lambda e: e.get("VideoId") == vid2)[0]
    assert ev2["Extend"] == "plain pass-through" and ev2["Size"] == 6

    # No UserData: no Extend field at all; signing off: no signature headers.
    l_set(srv, AuthSwitch="off")
    vid3 = upload(srv, None, b"third!")
    headers3, ev3 = receiver.wait(lambda e: e.get("VideoId") == vid3)[0]
    assert "Extend" not in ev3
    assert "x-vod-signature" not in headers3 and "x-vod-timestamp" not in headers3

    # Every delivery job succeeded.
    done = srv.cli_json("jobs", "list", "--kind", "callback.http", "--status", "succeeded")
    assert len(done) == 3, done


def test_event_types_filter(servers, receiver):
    srv = upload_server(servers, loopback=True)
    l_set(srv, CallbackURL=receiver.url, EventTypeList="TranscodeComplete")
    vid = upload(srv, None, b"filtered out")
    time.sleep(1.5)
    assert not [p for p in receiver.posts if p[1].get("VideoId") == vid], receiver.posts
    assert srv.cli_json("jobs", "list", "--kind", "callback.http") == [], "no job for a filtered event"


def test_loopback_receiver_refused_by_default(servers, receiver):
    srv = upload_server(servers, loopback=False)
    l_set(srv, CallbackURL=receiver.url, AuthKey=KEY)
    vid = upload(srv, json.dumps({"Extend": "x"}), b"refused")
    deadline = time.monotonic() + 20
    while True:
        failed = srv.cli_json("jobs", "list", "--kind", "callback.http", "--status", "failed")
        if failed:
            break
        assert time.monotonic() < deadline, srv.cli_json("jobs", "list", "--kind", "callback.http")
        time.sleep(0.2)
    (job,) = failed
    assert job["Attempts"] == 1, "a refused address is not retried"
    assert "refused" in job["LastError"] and "loopback" in job["LastError"], job
    shown = srv.cli_json("jobs", "show", job["Id"])
    assert shown["Payload"]["event"]["VideoId"] == vid and shown["Payload"]["url"] == receiver.url
    assert receiver.posts == []

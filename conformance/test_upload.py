"""Uploads through the official SDKs: CreateUploadVideo / RefreshUploadVideo (legacy and
Tea VOD SDKs), CreateUploadMedia / RefreshUploadMedia (ICE SDK), the Base64 JSON
UploadAddress / UploadAuth they return, the media library around them (GetVideoInfo,
GetMezzanineInfo, SearchMedia, DeleteVideo) and the seed-page errors.

The tests in the first half need only the RPC gateway. The ones using the `oss_server` fixture upload
the bytes with oss2 (V1) and alibabacloud-oss-v2 (V4) to the OSS listener named by the
UploadAddress, then check the state, size and MD5 the media library recorded and the
FileUploadComplete callback. They are skipped while the server does not run an OSS
listener (CI=true: failed instead).
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import socket
import threading
import time

import pytest
from aliyunsdkvod.request.v20170321.CreateUploadVideoRequest import CreateUploadVideoRequest
from aliyunsdkvod.request.v20170321.GetVideoInfoRequest import GetVideoInfoRequest
from aliyunsdkvod.request.v20170321.RefreshUploadVideoRequest import RefreshUploadVideoRequest
from alibabacloud_ice20201109 import models as im
from alibabacloud_vod20170321 import models as vm

import vodconf
from vodconf import assert_legacy_error, assert_tea_error


def decode(b64: str) -> dict:
    return json.loads(base64.b64decode(b64))


def legacy_create(srv, title="t", file_name="a.mp4", **kw) -> dict:
    r = CreateUploadVideoRequest()
    r.set_Title(title)
    r.set_FileName(file_name)
    for k, v in kw.items():
        getattr(r, f"set_{k}")(v)
    return srv.legacy(r)


def legacy_refresh(srv, video_id):
    r = RefreshUploadVideoRequest()
    r.set_VideoId(video_id)
    return srv.legacy(r)


def legacy_info(srv, video_id) -> dict:
    r = GetVideoInfoRequest()
    r.set_VideoId(video_id)
    return srv.legacy(r)["Video"]


# ---- gateway only ---------------------------------------------------------------------

def test_create_upload_video_legacy_shapes(server):
    body = legacy_create(server, title="hello world*~ 中", file_name="a b.mp4", FileSize=123, Tags="x,y")
    assert set(body) == {"RequestId", "VideoId", "UploadAddress", "UploadAuth"}, body
    vid = body["VideoId"]
    addr, auth = decode(body["UploadAddress"]), decode(body["UploadAuth"])
    assert list(addr) == ["Endpoint", "Bucket", "FileName"], addr
    assert addr["Endpoint"].startswith("http://"), addr
    assert addr["FileName"] == f"sv/{vid}/{vid}.mp4"
    assert list(auth) == ["AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration", "ExpireUTCTime", "Region"]
    assert auth["AccessKeyId"].startswith("STS.") and auth["Expiration"] == "3000", auth
    assert auth["Region"] == vodconf.REGION
    info = legacy_info(server, vid)
    assert (info["Status"], info["Title"], info["Tags"]) == ("Uploading", "hello world*~ 中", "x,y"), info

    # A refresh: a new credential for the same address.
    again = legacy_refresh(server, vid)
    assert again["VideoId"] == vid
    assert decode(again["UploadAddress"]) == addr
    assert decode(again["UploadAuth"])["AccessKeyId"] != auth["AccessKeyId"]


def test_tea_create_refresh_and_m3u8_prefix(server):
    client = server.vod()
    resp = client.create_upload_video(vm.CreateUploadVideoRequest(title="tea", file_name="list.m3u8",
                                                                  reference_id="tea-ref-0001"))
    vid = resp.body.video_id
    addr = decode(resp.body.upload_address)
    assert addr["ObjectPrefix"] == f"sv/{vid}/", addr
    r = client.refresh_upload_video(vm.RefreshUploadVideoRequest(reference_id="tea-ref-0001"))
    assert r.body.video_id == vid
    assert decode(r.body.upload_address) == addr
    info = client.get_video_info(vm.GetVideoInfoRequest(video_id=vid)).body.video
    assert (info.status, info.reference_id, info.storage_location) == ("Uploading", "tea-ref-0001", addr["Bucket"])
    # V2 signing (HMAC-SHA1 through the Tea SDK) works the same.
    r = server.vod(v2=True).refresh_upload_video(vm.RefreshUploadVideoRequest(video_id=vid))
    assert r.body.video_id == vid


def test_refresh_upload_video_seed_errors(server):
    assert_legacy_error(lambda: legacy_refresh(server, "c6a23a870c8c4ffcd40cbd3813330000"), "InvalidVideo.NotFound", 404)
    client = server.vod()
    assert_tea_error(lambda: client.refresh_upload_video(vm.RefreshUploadVideoRequest(video_id="nope")),
                     "InvalidVideo.NotFound", 404)
    resp = server.raw("RefreshUploadVideo", {"VideoId": "nope"}, fmt="XML")
    vodconf.assert_raw_error(resp, "InvalidVideo.NotFound", 404, fmt="xml")


def test_ice_create_and_refresh_upload_media(server):
    client = server.ice()
    resp = client.create_upload_media(im.CreateUploadMediaRequest(
        file_info=json.dumps({"Type": "video", "Name": "test", "Size": 123, "Ext": "mp4"}),
        media_meta_data=json.dumps({"Title": "t", "BusinessType": "general"})))
    mid = resp.body.media_id
    addr = decode(resp.body.upload_address)
    assert addr["FileName"] == f"ice/{mid}/{mid}.mp4"
    assert resp.body.file_url.endswith(addr["FileName"]) and resp.body.media_url
    r = client.refresh_upload_media(im.RefreshUploadMediaRequest(media_id=mid))
    assert (r.body.media_id, decode(r.body.upload_address)) == (mid, addr)
    info = client.get_media_info(im.GetMediaInfoRequest(media_id=mid)).body.media_info
    assert (info.media_basic_info.status, info.media_basic_info.title) == ("Init", "t")
    assert_tea_error(lambda: client.refresh_upload_media(im.RefreshUploadMediaRequest(media_id="nope")),
                     "InvalidVideo.NotFound", 404)
    reg = client.register_media_info(im.RegisterMediaInfoRequest(input_url="https://example.com/x.mp4", title="r"))
    assert client.get_media_info(im.GetMediaInfoRequest(input_url="https://example.com/x.mp4")).body.media_info.media_id == reg.body.media_id


def test_search_update_delete(server):
    client = server.vod()
    ids = [client.create_upload_video(vm.CreateUploadVideoRequest(title=t, file_name="a.mp4")).body.video_id
           for t in ("red fox", "blue whale", "red panda")]
    res = client.search_media(vm.SearchMediaRequest(match="Title = 'red' and Status in ('Uploading')",
                                                    sort_by="CreationTime:Asc", page_size=10)).body
    assert res.total == 2
    assert [m.video.title for m in res.media_list] == ["red fox", "red panda"]
    assert [m.media_id for m in res.media_list] == [ids[0], ids[2]]
    client.update_video_info(vm.UpdateVideoInfoRequest(video_id=ids[1], title="red whale"))
    infos = client.get_video_infos(vm.GetVideoInfosRequest(video_ids=f"{ids[1]},missing")).body
    assert [v.title for v in infos.video_list] == ["red whale"] and infos.non_exist_video_ids == ["missing"]
    deleted = client.delete_video(vm.DeleteVideoRequest(video_ids=",".join(ids + ["missing"]))).body
    assert deleted.non_exist_video_ids == ["missing"] and deleted.forbidden_video_ids == []
    assert client.search_media(vm.SearchMediaRequest(match="Title = 'red'")).body.total == 0


# ---- uploads through the OSS listener -------------------------------------------------

def _free_port() -> int:
    return vodconf.free_port()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Receiver:
    """A loopback HTTP endpoint collecting the JSON callbacks it receives."""

    def __init__(self):
        self.events: list[dict] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                n = int(self.headers.get("Content-Length") or 0)
                outer.events.append(json.loads(self.rfile.read(n) or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/callback"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, pred, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events if pred(e)]
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no matching callback within {timeout}s; got {self.events}")

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def oss_server(servers):
    """A server with its OSS listener on a known port and loopback callbacks allowed."""
    port = _free_port()
    public = f"http://127.0.0.1:{port}"
    srv = servers.new(env={
        "VODSTACK_OSS_PUBLIC_ENDPOINT": public,
        "VODSTACK_OSS_ADDR": f"127.0.0.1:{port}",
        "VODSTACK_OSS__ADDR": f"127.0.0.1:{port}",
        "VODSTACK_OSS__PUBLIC_ENDPOINT": public,
        "VODSTACK_CALLBACKS__ALLOW_LOOPBACK": "true",
        # Arbitrary bytes are uploaded: processing (which would mark them damaged) stays off.
        "VODSTACK_PROCESSING__ENABLED": "false",
    }).start()
    deadline = time.monotonic() + 5
    while not _answers(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not _answers(port):
        msg = f"the server runs no OSS listener on {public} yet (the OSS endpoint is not wired into `vodstack serve`)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    srv.oss_endpoint = public
    return srv


def wait_status(client, vid, status, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = client.get_video_info(vm.GetVideoInfoRequest(video_id=vid)).body.video
        if v.status == status:
            return v
        time.sleep(0.1)
    raise AssertionError(f"{vid} did not reach {status}: {v.status}")


def oss2_put(addr, auth, data: bytes, key=None):
    import oss2

    bucket = oss2.Bucket(oss2.StsAuth(auth["AccessKeyId"], auth["AccessKeySecret"], auth["SecurityToken"]),
                         addr["Endpoint"], addr["Bucket"])
    return bucket.put_object(key or addr["FileName"], data)


def ossv2_put(addr, auth, data: bytes, key=None):
    import alibabacloud_oss_v2 as oss

    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
        auth["AccessKeyId"], auth["AccessKeySecret"], auth["SecurityToken"])
    cfg.region = auth["Region"]
    cfg.endpoint = addr["Endpoint"]
    return oss.Client(cfg).put_object(oss.PutObjectRequest(bucket=addr["Bucket"], key=key or addr["FileName"], body=data))


def test_upload_refresh_overwrite_and_callback(oss_server):
    recv = Receiver()
    try:
        srv = oss_server
        client = srv.vod()
        user_data = json.dumps({"MessageCallback": {"CallbackURL": recv.url}, "Extend": {"localId": "xx"}})
        body = legacy_create(srv, title="upload me", file_name="clip.mp4", UserData=user_data)
        vid = body["VideoId"]
        addr, auth = decode(body["UploadAddress"]), decode(body["UploadAuth"])
        assert addr["Endpoint"] == srv.oss_endpoint

        first = b"first source " * 1000
        oss2_put(addr, auth, first)
        v = wait_status(client, vid, "UploadSucc")
        assert v.size == len(first)
        mezz = client.get_mezzanine_info(vm.GetMezzanineInfoRequest(video_id=vid)).body.mezzanine
        assert mezz.file_md5 == hashlib.md5(first).hexdigest() and mezz.size == len(first)
        ev = recv.wait(lambda e: e.get("EventType") == "FileUploadComplete" and e.get("VideoId") == vid)[0]
        assert ev["Size"] == len(first) and ev["Extend"] == json.dumps({"localId": "xx"}, separators=(",", ":"))

        # The credential names one object: another key is refused.
        import oss2
        with pytest.raises(oss2.exceptions.AccessDenied):
            oss2_put(addr, auth, b"x", key=f"sv/{vid}/other.mp4")

        # Overwrite through a refreshed credential (oss-v2, V4): same id, new source, new event.
        fresh = client.refresh_upload_video(vm.RefreshUploadVideoRequest(video_id=vid)).body
        second = b"second source" * 2000
        ossv2_put(decode(fresh.upload_address), decode(fresh.upload_auth), second)
        deadline = time.monotonic() + 20
        while client.get_video_info(vm.GetVideoInfoRequest(video_id=vid)).body.video.size != len(second):
            assert time.monotonic() < deadline, "the overwrite was not recorded"
            time.sleep(0.1)
        recv.wait(lambda e: e.get("EventType") == "FileUploadComplete" and e.get("Size") == len(second))

        # Deleting the media revokes its credentials (the OSS listener caches its answer
        # for a few seconds, so the refusal may take that long).
        client.delete_video(vm.DeleteVideoRequest(video_ids=vid))
        deadline = time.monotonic() + 15
        while True:
            try:
                oss2_put(decode(fresh.upload_address), decode(fresh.upload_auth), b"late")
            except oss2.exceptions.OssError as e:
                assert e.status == 403, e
                break
            assert time.monotonic() < deadline, "a deleted media's credential still writes"
            time.sleep(0.5)
    finally:
        recv.close()


def test_empty_upload_is_damaged(oss_server):
    srv = oss_server
    body = legacy_create(srv, file_name="empty.mp4")
    vid = body["VideoId"]
    oss2_put(decode(body["UploadAddress"]), decode(body["UploadAuth"]), b"")
    wait_status(srv.vod(), vid, "UploadFail")
    assert_legacy_error(lambda: legacy_refresh(srv, vid), "InvalidVideo.Damaged", 400)
    assert_tea_error(lambda: srv.vod().refresh_upload_video(vm.RefreshUploadVideoRequest(video_id=vid)),
                     "InvalidVideo.Damaged", 400)


def test_ice_upload_with_oss_v2(oss_server):
    client = oss_server.ice()
    resp = client.create_upload_media(im.CreateUploadMediaRequest(
        file_info=json.dumps({"Type": "video", "Name": "ice", "Ext": "mp4"}),
        media_meta_data=json.dumps({"Title": "ice upload", "BusinessType": "general"}))).body
    data = b"ice bytes" * 500
    ossv2_put(decode(resp.upload_address), decode(resp.upload_auth), data)
    deadline = time.monotonic() + 20
    while True:
        info = client.get_media_info(im.GetMediaInfoRequest(media_id=resp.media_id)).body.media_info
        if info.media_basic_info.status == "Preparing":
            break
        assert time.monotonic() < deadline, info.media_basic_info.status
        time.sleep(0.1)
    assert info.file_info_list[0].file_basic_info.file_size == str(len(data))

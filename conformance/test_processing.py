"""Media processing through the official SDKs against the real binary and real ffmpeg:
upload a source generated with ffmpeg's lavfi, wait for the transcode, read GetPlayInfo
with both SDK generations, and play the result (ffprobe reads the play URL over HTTP).
Also: audio sources, damaged sources, overwrites (versioned streams), the no-transcode
group, snapshots, SubmitTranscodeJobs, the processing events, and the GetPlayInfo errors.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time

import pytest
import requests
from aliyunsdkvod.request.v20170321.CreateUploadVideoRequest import CreateUploadVideoRequest
from aliyunsdkvod.request.v20170321.GetPlayInfoRequest import GetPlayInfoRequest
from aliyunsdkvod.request.v20170321.RefreshUploadVideoRequest import RefreshUploadVideoRequest
from alibabacloud_vod20170321 import models as vm

import vodconf
from vodconf import assert_legacy_error, assert_tea_error


@pytest.fixture(scope="module", autouse=True)
def ffmpeg():
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        msg = "ffmpeg/ffprobe are not installed (scripts/test.sh installs Debian's ffmpeg)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg + " (CI=true: nothing may be skipped)", pytrace=False)
        pytest.skip(msg)


def make_source(tmp_path, name: str, seconds: float = 3, size: str = "640x360", audio_only: bool = False,
                tone: int = 440) -> bytes:
    out = tmp_path / name
    if audio_only:
        args = ["-f", "lavfi", "-i", f"sine=frequency={tone}:duration={seconds}", "-c:a", "aac", "-b:a", "96k"]
    else:
        args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency={tone}:duration={seconds}",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"]
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(out)], check=True)
    return out.read_bytes()


def processing_server(servers, **env):
    base = {"VODSTACK_OSS_ADDR": "127.0.0.1:0", "VODSTACK_JOBS__POLL_MS": "100",
            "VODSTACK_PROCESSING__PRESET": "ultrafast", "VODSTACK_CALLBACKS__ALLOW_LOOPBACK": "true"}
    base.update(env)
    return servers.new(env=base).start()


def upload_to(addr: dict, auth: dict, data: bytes) -> None:
    import oss2
    bucket = oss2.Bucket(oss2.StsAuth(auth["AccessKeyId"], auth["AccessKeySecret"], auth["SecurityToken"]),
                         addr["Endpoint"], addr["Bucket"])
    bucket.put_object(addr["FileName"], data)


def create_and_upload(srv, data: bytes, file_name: str = "clip.mp4", **kw) -> str:
    r = CreateUploadVideoRequest()
    r.set_Title("processing")
    r.set_FileName(file_name)
    for k, v in kw.items():
        getattr(r, f"set_{k}")(v)
    body = srv.legacy(r)
    upload_to(json.loads(base64.b64decode(body["UploadAddress"])),
              json.loads(base64.b64decode(body["UploadAuth"])), data)
    return body["VideoId"]


def overwrite(srv, vid: str, data: bytes) -> None:
    r = RefreshUploadVideoRequest()
    r.set_VideoId(vid)
    body = srv.legacy(r)
    upload_to(json.loads(base64.b64decode(body["UploadAddress"])),
              json.loads(base64.b64decode(body["UploadAuth"])), data)


def wait_status(srv, vid: str, want: set[str], timeout: float = 120.0) -> dict:
    client = srv.vod()
    deadline = time.monotonic() + timeout
    info = None
    while time.monotonic() < deadline:
        info = client.get_video_info(vm.GetVideoInfoRequest(video_id=vid)).body.video
        if info.status in want:
            return info
        time.sleep(0.2)
    jobs = srv.cli_json("jobs", "list")
    raise AssertionError(f"{vid} stayed {info.status if info else None}, wanted {want}; jobs: {jobs}")


def play_infos(srv, vid: str, **kw) -> list:
    body = srv.vod().get_play_info(vm.GetPlayInfoRequest(video_id=vid, **kw)).body
    return body.play_info_list.play_info


def ffprobe_url(url: str) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", url],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"ffprobe {url}: {out.stderr}"
    return json.loads(out.stdout)


def test_upload_transcode_and_play(servers, tmp_path):
    srv = processing_server(servers)
    vid = create_and_upload(srv, make_source(tmp_path, "src.mp4"))
    info = wait_status(srv, vid, {"Normal", "TranscodeFail", "UploadFail"})
    assert info.status == "Normal", info
    assert info.cover_url and vid in info.cover_url, "a cover is taken after transcoding"
    assert info.duration == pytest.approx(3.0, abs=0.2)

    # Tea SDK (V3): the default ladder never upscales, so a 640x360 source keeps one rung
    # (LD, at the source's size) as MP4 and HLS.
    plays = play_infos(srv, vid, output_type="oss")
    got = sorted((p.definition, p.format, p.stream_type) for p in plays)
    assert got == [("LD", "m3u8", "video"), ("LD", "mp4", "video")], got
    for p in plays:
        assert (p.width, p.height) == (640, 360), p
        assert isinstance(p.size, int) and p.size > 0 and isinstance(p.bitrate, str) and float(p.bitrate) > 0
        assert float(p.duration) == pytest.approx(3.0, abs=0.3) and p.fps in ("25", "25.0"), p
        assert p.status == "Normal" and p.encrypt == 0 and p.specification == "H264.LD" and p.job_id
    mp4 = next(p for p in plays if p.format == "mp4")
    # Play it: ffprobe reads the presigned OSS URL over HTTP.
    probed = ffprobe_url(mp4.play_url)
    assert float(probed["format"]["duration"]) == pytest.approx(3.0, abs=0.3)
    codecs = sorted(s["codec_name"] for s in probed["streams"])
    assert codecs == ["aac", "h264"], codecs

    # Legacy SDK (V1): the same streams, filtered by Formats.
    req = GetPlayInfoRequest()
    req.set_VideoId(vid)
    req.set_Formats("mp4")
    body = srv.legacy(req)
    items = body["PlayInfoList"]["PlayInfo"]
    assert [(i["Definition"], i["Format"]) for i in items] == [("LD", "mp4")]
    assert body["VideoBase"]["VideoId"] == vid and body["VideoBase"]["MediaType"] == "video"
    assert isinstance(body["VideoBase"]["Duration"], str)

    # Mezzanine: the probe's stream lists.
    # Default OutputType=cdn: URLs on the playback edge; HLS plays through it (playlist and
    # segments), the second read of a file is a cache hit.
    cdn = play_infos(srv, vid)
    m3u8 = next(p for p in cdn if p.format == "m3u8")
    assert m3u8.play_url.startswith("http://127.0.0.1:") and "Expires=" not in m3u8.play_url
    probed = ffprobe_url(m3u8.play_url)
    assert float(probed["format"]["duration"]) == pytest.approx(3.0, abs=0.4)
    mp4_url = next(p.play_url for p in cdn if p.format == "mp4")
    first = requests.get(mp4_url, timeout=10)
    again = requests.get(mp4_url, timeout=10)
    assert first.status_code == again.status_code == 200 and first.content == again.content
    assert again.headers["X-Cache"].startswith("HIT"), again.headers
    assert first.headers["Content-Type"] == "video/mp4"
    cover = requests.get(info.cover_url, timeout=10)
    assert cover.status_code == 200 and cover.headers["Content-Type"] == "image/jpeg"

    mz = srv.vod().get_mezzanine_info(vm.GetMezzanineInfoRequest(video_id=vid, addition_type="video,audio")).body.mezzanine
    assert (mz.width, mz.height) == (640, 360)
    assert mz.video_stream_list[0].codec_name == "h264" and mz.audio_stream_list[0].codec_name == "aac"


def test_audio_source_gives_mp3(servers, tmp_path):
    srv = processing_server(servers)
    vid = create_and_upload(srv, make_source(tmp_path, "a.m4a", audio_only=True), file_name="song.m4a")
    assert wait_status(srv, vid, {"Normal", "TranscodeFail", "UploadFail"}).status == "Normal"
    plays = play_infos(srv, vid)
    assert [(p.definition, p.format, p.stream_type) for p in plays] == [("SQ", "mp3", "audio")], \
        "HQ (256 Kbps) is skipped for a 96 Kbps source"
    body = srv.vod().get_play_info(vm.GetPlayInfoRequest(video_id=vid)).body
    assert body.video_base.media_type == "audio"


def test_damaged_source(servers, tmp_path):
    srv = processing_server(servers)
    vid = create_and_upload(srv, os.urandom(50_000))
    info = wait_status(srv, vid, {"UploadFail"})
    assert info.status == "UploadFail"
    r = RefreshUploadVideoRequest()
    r.set_VideoId(vid)
    assert_legacy_error(lambda: srv.legacy(r), "InvalidVideo.Damaged", 400)
    assert_tea_error(lambda: play_infos(srv, vid), "Forbidden.IllegalStatus", 403)


def test_overwrite_adds_streams_and_multiple_sees_both(servers, tmp_path):
    srv = processing_server(servers)
    vid = create_and_upload(srv, make_source(tmp_path, "one.mp4", seconds=3))
    wait_status(srv, vid, {"Normal"})
    first = {p.job_id for p in play_infos(srv, vid)}
    overwrite(srv, vid, make_source(tmp_path, "two.mp4", seconds=2))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            plays = play_infos(srv, vid)
            if {p.job_id for p in plays} - first:
                break
        except Exception:  # Forbidden.IllegalStatus while it transcodes again
            pass
        time.sleep(0.3)
    single = play_infos(srv, vid)
    assert len(single) == 2 and not ({p.job_id for p in single} & first), "Single: the newest run only"
    assert all(float(p.duration) == pytest.approx(2.0, abs=0.3) for p in single)
    multiple = play_infos(srv, vid, result_type="Multiple", output_type="oss")
    assert len(multiple) == 4 and {p.job_id for p in multiple} >= first, "Multiple: both runs"

    # DeleteStream drops the older run: its streams at once, its objects through media.purge.
    old_mp4 = next(p.play_url for p in multiple if p.job_id in first and p.format == "mp4")
    assert requests.get(old_mp4, timeout=10).status_code == 200
    srv.vod().delete_stream(vm.DeleteStreamRequest(video_id=vid, job_ids=",".join(first)))
    assert len(play_infos(srv, vid, result_type="Multiple")) == 2
    deadline = time.monotonic() + 30
    while requests.get(old_mp4, timeout=10).status_code != 404:
        assert time.monotonic() < deadline, "the deleted run's objects were not purged"
        time.sleep(0.3)
    assert_tea_error(lambda: srv.vod().delete_stream(vm.DeleteStreamRequest(video_id=vid, job_ids="0" * 32)),
                     "InvalidJobIds.NotFound", 404)


def test_no_transcode_group_publishes_the_source(servers, tmp_path):
    srv = processing_server(servers)
    data = make_source(tmp_path, "od.mp4")
    vid = create_and_upload(srv, data, TemplateGroupId="VOD_NO_TRANSCODE")
    assert wait_status(srv, vid, {"Normal", "UploadFail"}).status == "Normal"
    plays = play_infos(srv, vid, output_type="oss")
    assert [(p.definition, p.format, p.specification) for p in plays] == [("OD", "mp4", "Original")]
    assert plays[0].size == len(data)
    assert float(ffprobe_url(plays[0].play_url)["format"]["duration"]) == pytest.approx(3.0, abs=0.2)


def test_snapshots_and_submit_transcode_jobs(servers, tmp_path):
    srv = processing_server(servers)
    vid = create_and_upload(srv, make_source(tmp_path, "s.mp4", seconds=4))
    wait_status(srv, vid, {"Normal"})
    client = srv.vod()
    job = client.submit_snapshot_job(vm.SubmitSnapshotJobRequest(
        video_id=vid, specified_offset_time=500, count=3, interval=1, width=160, height=90)).body.snapshot_job.job_id
    deadline = time.monotonic() + 60
    snap = None
    while time.monotonic() < deadline:
        snap = client.list_snapshots(vm.ListSnapshotsRequest(video_id=vid, snapshot_type="NormalSnapshot")).body
        if snap.media_snapshot.total:
            break
        time.sleep(0.3)
    ms = snap.media_snapshot
    assert (ms.total, ms.job_id) == (3, job), ms
    assert [s.index for s in ms.snapshots.snapshot] == [1, 2, 3]
    assert "{SnapshotCount}" in ms.regular
    cover = client.list_snapshots(vm.ListSnapshotsRequest(video_id=vid, snapshot_type="CoverSnapshot")).body
    assert cover.media_snapshot.total == 1

    # A group of our own with an FLV template, run on demand.
    group = client.add_transcode_template_group(vm.AddTranscodeTemplateGroupRequest(
        name="flv only", transcode_template_list=json.dumps([{
            "Definition": "SD", "TemplateName": "flv", "Container": {"Format": "flv"},
            "Video": {"Codec": "H.264", "Height": 360, "Bitrate": 600}, "Audio": {"Codec": "AAC", "Bitrate": 64}}]),
    )).body.transcode_template_group_id
    sub = client.submit_transcode_jobs(vm.SubmitTranscodeJobsRequest(video_id=vid, template_group_id=group)).body
    assert sub.transcode_task_id and sub.transcode_jobs.transcode_job[0].job_id == sub.transcode_task_id
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        flv = [p for p in play_infos(srv, vid) if p.format == "flv"]
        if flv:
            break
        time.sleep(0.3)
    assert flv and flv[0].definition == "SD" and flv[0].job_id == sub.transcode_task_id
    assert_tea_error(lambda: client.submit_transcode_jobs(vm.SubmitTranscodeJobsRequest(
        video_id=vid, template_group_id="0" * 32)), "InvalidTranscodeTemplateGroup.NotFound", 404)


def test_play_info_errors(servers, tmp_path):
    srv = processing_server(servers)
    r = CreateUploadVideoRequest()
    r.set_Title("waiting")
    r.set_FileName("w.mp4")
    waiting = srv.legacy(r)["VideoId"]
    assert_tea_error(lambda: play_infos(srv, waiting), "Forbidden.IllegalStatus", 403)
    assert_tea_error(lambda: play_infos(srv, "0" * 32), "InvalidVideo.NotFound", 404)
    vid = create_and_upload(srv, make_source(tmp_path, "e.mp4", seconds=2))
    wait_status(srv, vid, {"Normal"})
    assert_tea_error(lambda: play_infos(srv, vid, formats="flv"), "InvalidVideo.NoneStream", 404)
    assert_tea_error(lambda: play_infos(srv, vid, definition="HD"), "InvalidVideo.NoneStream", 404)
    assert_tea_error(lambda: play_infos(srv, vid, formats="avi"), "InvalidParameter", 400)
    assert_tea_error(lambda: play_infos(srv, vid, output_type="ftp"), "InvalidParameter", 400)
    resp = srv.raw("GetPlayInfo", {"VideoId": vid, "Formats": "mp4"}, fmt="XML")
    assert resp.status_code == 200 and b"<PlayInfoList><PlayInfo>" in resp.content, resp.content[:400]


def test_killed_mid_transcode_finishes_after_restart(servers, tmp_path):
    srv = processing_server(servers, VODSTACK_JOBS__LEASE_SECS="2", VODSTACK_PROCESSING__PRESET="veryfast")
    vid = create_and_upload(srv, make_source(tmp_path, "long.mp4", seconds=20, size="1280x720"))
    wait_status(srv, vid, {"Transcoding"}, timeout=60)
    time.sleep(0.5)
    srv.kill()  # SIGKILL: ffmpeg and the job's lease are left behind
    srv.start()
    info = wait_status(srv, vid, {"Normal", "TranscodeFail"}, timeout=240)
    assert info.status == "Normal"
    got = sorted((p.definition, p.format) for p in play_infos(srv, vid))
    assert got == [("LD", "m3u8"), ("LD", "mp4"), ("SD", "m3u8"), ("SD", "mp4")], got
    jobs = srv.cli_json("jobs", "list", "--kind", "media.transcode")
    assert [j["Status"] for j in jobs] == ["succeeded"] and jobs[0]["Attempts"] >= 2, jobs


def test_processing_events(servers, tmp_path):
    from test_callbacks import Receiver

    receiver = Receiver()
    try:
        srv = processing_server(servers, VODSTACK_PROCESSING__SNAPSHOT_COUNT="3",
                                VODSTACK_PROCESSING__SNAPSHOT_INTERVAL_MS="500")
        client = srv.vod()
        client.set_message_callback(vm.SetMessageCallbackRequest(
            callback_type="HTTP", callback_url=receiver.url,
            event_type_list="TranscodeComplete,StreamTranscodeComplete,SnapshotComplete"))
        vid = create_and_upload(srv, make_source(tmp_path, "ev.mp4"), UserData=json.dumps({"Extend": "x-1"}))
        done = receiver.wait(lambda e: e.get("VideoId") == vid and e.get("EventType") == "TranscodeComplete",
                             timeout=120)[0][1]
        assert done["Status"] == "success" and done["Extend"] == "x-1"
        infos = done["StreamInfos"]
        assert sorted((i["Definition"], i["Format"]) for i in infos) == [("LD", "m3u8"), ("LD", "mp4")]
        for i in infos:
            assert i["Status"] == "success" and isinstance(i["Size"], int) and isinstance(i["Duration"], float)
            assert isinstance(i["Bitrate"], str) and isinstance(i["Width"], int) and i["Encrypt"] is False
            assert i["FileUrl"].startswith("http") and "auth_key" not in i["FileUrl"]
        streams = receiver.wait(lambda e: e.get("VideoId") == vid and e.get("EventType") == "StreamTranscodeComplete")
        assert len(streams) == 2
        snap = receiver.wait(lambda e: e.get("VideoId") == vid and e.get("EventType") == "SnapshotComplete")[0][1]
        assert snap["Status"] == "success" and snap["CoverUrl"].endswith(".jpg")
        kinds = {i["SnapshotType"]: i for i in snap["SnapshotInfos"]}
        assert kinds["CoverSnapshot"]["SnapshotCount"] == 1 and kinds["NormalSnapshot"]["SnapshotCount"] == 3
        assert "{SnapshotCount}" in kinds["NormalSnapshot"]["SnapshotRegular"]
        video = client.get_video_info(vm.GetVideoInfoRequest(video_id=vid)).body.video
        assert len(video.snapshots.snapshot) == 4 and video.snapshots.snapshot[0] == video.cover_url
        normal = client.list_snapshots(vm.ListSnapshotsRequest(video_id=vid, snapshot_type="NormalSnapshot")).body
        assert normal.media_snapshot.total == 3

        # An overwrite is transcoded again: new streams, a second TranscodeComplete.
        overwrite(srv, vid, make_source(tmp_path, "ev2.mp4", seconds=2))
        done = receiver.wait(lambda e: e.get("VideoId") == vid and e.get("EventType") == "TranscodeComplete"
                             and e["StreamInfos"][0]["JobId"] != infos[0]["JobId"], timeout=120)[0][1]
        assert done["Status"] == "success"
        assert all(i["Duration"] == pytest.approx(2.0, abs=0.3) for i in done["StreamInfos"])
    finally:
        receiver.close()


def test_type_a_url_auth_on_the_edge(servers, tmp_path):
    srv = processing_server(servers, VODSTACK_EDGE_AUTH_KEY="edgeSecretKey123")
    vid = create_and_upload(srv, make_source(tmp_path, "auth.mp4", seconds=2))
    wait_status(srv, vid, {"Normal"})
    mp4 = next(p for p in play_infos(srv, vid, auth_timeout=600) if p.format == "mp4")
    assert "auth_key=" in mp4.play_url
    assert requests.get(mp4.play_url, timeout=10).status_code == 200
    bare = mp4.play_url.split("?")[0]
    assert requests.get(bare, timeout=10).status_code == 403
    assert requests.get(bare + "?auth_key=1-0-0-" + "0" * 32, timeout=10).status_code == 403
    # HLS through an authenticated edge: the playlist's segment URIs come signed, so a
    # player (ffprobe here) plays the whole stream from the one signed URL.
    m3u8 = next(p for p in play_infos(srv, vid) if p.format == "m3u8")
    r = requests.get(m3u8.play_url, timeout=10)
    assert r.status_code == 200 and b"#EXTM3U" in r.content and b".ts?auth_key=" in r.content, r.text
    assert float(ffprobe_url(m3u8.play_url)["format"]["duration"]) == pytest.approx(2.0, abs=0.4)
    seg = next(l for l in r.text.splitlines() if l.endswith(".ts") or ".ts?" in l)
    bare_seg = m3u8.play_url.split("?")[0].rsplit("/", 1)[0] + "/" + seg.split("?")[0]
    assert requests.get(bare_seg, timeout=10).status_code == 403


def test_ice_media_is_probed_and_ready(servers, tmp_path):
    from alibabacloud_ice20201109 import models as im

    srv = processing_server(servers)
    client = srv.ice()
    resp = client.create_upload_media(im.CreateUploadMediaRequest(
        file_info=json.dumps({"Type": "video", "Name": "asset", "Ext": "mp4"}),
        media_meta_data=json.dumps({"Title": "ice asset", "BusinessType": "general"}))).body
    upload_to(json.loads(base64.b64decode(resp.upload_address)), json.loads(base64.b64decode(resp.upload_auth)),
              make_source(tmp_path, "ice.mp4", seconds=2))
    deadline = time.monotonic() + 60
    while True:
        info = client.get_media_info(im.GetMediaInfoRequest(media_id=resp.media_id)).body.media_info
        if info.media_basic_info.status in ("Normal", "PrepareFail") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert info.media_basic_info.status == "Normal"
    f = info.file_info_list[0].file_basic_info
    assert float(f.duration) == pytest.approx(2.0, abs=0.3) and (f.width, f.height) == ("640", "360"), f

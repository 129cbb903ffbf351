"""CDN refresh and preload on the playback edge through both SDK generations, against the
real binary (which runs the edge: VODSTACK_EDGE_ADDR / VODSTACK_EDGE_PUBLIC_URL; GetPlayInfo's
default OutputType=cdn gives edge URLs; the edge answers X-Cache: HIT|MISS).

* Refresh: play through the edge (miss, then hit), overwrite the source, the edge still
  serves the old bytes; RefreshMediaPlayUrls → the next fetch is a miss with the new bytes;
  GetMediaRefreshJobs shows the URL; SubmitMediaRefreshComplete arrives.
* Preload with SliceFlag: the playlist and its first SliceCount segments are hits on the
  first client fetch, the next segment is a miss.
* Filters and ResultType (Single / Multiple / Formats / no stream), NonExist and Forbidden
  ids, and every refused input (21 ids, SliceCount 0 and 21, bad TaskType/Formats/...).
* RefreshVodObjectCaches (file, directory), PreloadVodObjectCaches, DescribeVodRefreshTasks,
  DescribeVodRefreshQuota and the daily quota.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urljoin

import pytest
import requests
from aliyunsdkvod.request.v20170321.DescribeVodRefreshQuotaRequest import DescribeVodRefreshQuotaRequest
from aliyunsdkvod.request.v20170321.DescribeVodRefreshTasksRequest import DescribeVodRefreshTasksRequest
from aliyunsdkvod.request.v20170321.GetMediaRefreshJobsRequest import GetMediaRefreshJobsRequest
from aliyunsdkvod.request.v20170321.PreloadVodObjectCachesRequest import PreloadVodObjectCachesRequest
from aliyunsdkvod.request.v20170321.RefreshMediaPlayUrlsRequest import RefreshMediaPlayUrlsRequest
from alibabacloud_vod20170321 import models as vm

import vodconf
from test_callbacks import Receiver
from test_processing import create_and_upload, ffmpeg, make_source, overwrite, play_infos, wait_status  # noqa: F401
from vodconf import assert_legacy_error, assert_tea_error


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def refresh_server(servers, *, peer_of=None, shared_db: bool = False, **env):
    """A started server running its edge on a free port (`srv.edge_base`); `peer_of` makes it
    another node on that server's database."""
    edge_port = vodconf.free_port()
    base = {
        "VODSTACK_OSS_ADDR": "127.0.0.1:0",
        "VODSTACK_EDGE_ADDR": f"127.0.0.1:{edge_port}",
        "VODSTACK_EDGE_PUBLIC_URL": f"http://127.0.0.1:{edge_port}",
        "VODSTACK_JOBS__POLL_MS": "100",
        "VODSTACK_PROCESSING__PRESET": "ultrafast",
        "VODSTACK_CALLBACKS__ALLOW_LOOPBACK": "true",
    }
    base.update(env)
    srv = (servers.peer(peer_of, env=base) if peer_of else servers.new(env=base, shared_db=shared_db)).start()
    srv.edge_base = f"http://127.0.0.1:{edge_port}"
    try:
        requests.get(f"{srv.edge_base}/_edge/health", timeout=5).raise_for_status()
    except requests.RequestException as e:
        pytest.fail(f"vodstack serve runs no edge on {srv.edge_base} ({e}): the edge listener must be wired "
                    "into `vodstack serve` (VODSTACK_EDGE_ADDR)", pytrace=False)
    return srv


def fetch(url: str) -> tuple[str, bytes]:
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, (url, r.status_code, r.text[:200])
    return r.headers.get("X-Cache", ""), r.content


def wait_refresh(srv, job_id: str, timeout: float = 60.0) -> list:
    """GetMediaRefreshJobs (Tea) until no record is processing."""
    deadline = time.monotonic() + timeout
    items = []
    while time.monotonic() < deadline:
        items = srv.vod().get_media_refresh_jobs(
            vm.GetMediaRefreshJobsRequest(media_refresh_job_id=job_id)).body.media_refresh_jobs
        if items and all(i.status != "processing" for i in items):
            return items
        time.sleep(0.2)
    raise AssertionError(f"refresh {job_id} did not finish: {[i.to_map() for i in items]}; "
                         f"jobs: {srv.cli_json('jobs', 'list')}")


def wait_tasks(srv, task_ids: str, timeout: float = 60.0) -> list:
    deadline = time.monotonic() + timeout
    tasks = []
    while time.monotonic() < deadline:
        body = srv.vod().describe_vod_refresh_tasks(vm.DescribeVodRefreshTasksRequest(task_id=task_ids)).body
        tasks = body.tasks.task
        if tasks and all(t.status != "Refreshing" for t in tasks):
            return tasks
        time.sleep(0.2)
    raise AssertionError(f"tasks {task_ids} did not finish: {[t.to_map() for t in tasks]}")


def legacy_refresh(srv, client=None, **params) -> dict:
    r = RefreshMediaPlayUrlsRequest()
    for k, v in params.items():
        getattr(r, f"set_{k}")(v)
    return srv.legacy(r, client)


def test_refresh_after_overwrite_serves_new_bytes(servers, tmp_path, receiver):
    srv = refresh_server(servers)
    v1 = make_source(tmp_path, "v1.mp4", seconds=2, tone=440)
    vid = create_and_upload(srv, v1, TemplateGroupId="VOD_NO_TRANSCODE")
    assert wait_status(srv, vid, {"Normal", "UploadFail"}).status == "Normal"
    url = play_infos(srv, vid)[0].play_url
    assert url.startswith(srv.edge_base + "/"), url
    assert fetch(url) == ("MISS", v1)
    assert fetch(url) == ("HIT", v1)

    # A new source at the same key: the edge keeps its copy until refreshed.
    v2 = make_source(tmp_path, "v2.mp4", seconds=3, tone=880)
    assert v2 != v1
    overwrite(srv, vid, v2)
    deadline = time.monotonic() + 60
    while True:
        try:
            if play_infos(srv, vid)[0].size == len(v2):
                break
        except Exception:  # noqa: BLE001 - not playable while it is processed again
            pass
        assert time.monotonic() < deadline, "the new source was not published"
        time.sleep(0.2)
    assert fetch(url) == ("HIT", v1), "stale until refreshed"

    ud = json.dumps({"MessageCallback": {"CallbackURL": receiver.url}, "Extend": {"k": "v"}})
    body = legacy_refresh(srv, MediaIds=vid, TaskType="Refresh", UserData=ud)
    assert set(body) == {"RequestId", "MediaRefreshJobId", "NonExistMediaIds", "ForbiddenMediaIds"}, body
    assert (body["NonExistMediaIds"], body["ForbiddenMediaIds"]) == ("", "")
    job = body["MediaRefreshJobId"]
    [item] = wait_refresh(srv, job)
    assert (item.status, item.media_id, item.task_type) == ("success", vid, "Refresh"), item.to_map()
    assert item.success_play_urls == url.split("?")[0]
    assert len(item.task_ids.split(",")) == 1 and item.task_ids.isdigit()
    assert json.loads(item.filter_policy)["ResultType"] == "Single"
    assert item.user_data == ud and item.gmt_create and item.gmt_modified
    assert fetch(url) == ("MISS", v2), "the refresh dropped the edge's copy"
    assert fetch(url) == ("HIT", v2)

    # Legacy GET of the job, and the callback.
    g = GetMediaRefreshJobsRequest()
    g.set_MediaRefreshJobId(job)
    g.set_MediaId(vid)
    [legacy_item] = srv.legacy(g)["MediaRefreshJobs"]
    assert legacy_item["SuccessPlayUrls"] == item.success_play_urls
    [(_, event)] = receiver.wait(lambda b: b.get("EventType") == "SubmitMediaRefreshComplete")
    assert (event["Status"], event["MediaRefreshJobId"], event["MediaId"]) == ("success", job, vid)
    assert event["SuccessPlayUrls"] == item.success_play_urls and event["TaskIds"] == item.task_ids
    assert event["FilterPolicy"] == item.filter_policy and event["TaskType"].lower() == "refresh"
    assert '"k"' in event["Extend"], event


def test_preload_with_slices_makes_hits_without_a_client_fetch(servers, tmp_path):
    srv = refresh_server(servers)
    vid = create_and_upload(srv, make_source(tmp_path, "long.mp4", seconds=13))
    assert wait_status(srv, vid, {"Normal", "TranscodeFail"}).status == "Normal"
    playlist = play_infos(srv, vid, formats="m3u8")[0].play_url
    resp = srv.vod().refresh_media_play_urls(vm.RefreshMediaPlayUrlsRequest(
        media_ids=vid, task_type="Preload", formats="m3u8", slice_flag=True, slice_count=1)).body
    [item] = wait_refresh(srv, resp.media_refresh_job_id)
    assert item.status == "success", item.to_map()
    urls = item.success_play_urls.split(",")
    assert urls[0] == playlist.split("?")[0] and len(urls) == 2 and urls[1].endswith(".ts"), urls
    assert len(item.task_ids.split(",")) == 2

    cache, text = fetch(playlist)
    assert cache == "HIT", "the playlist was preloaded"
    segments = [urljoin(playlist, line) for line in text.decode().splitlines() if line and not line.startswith("#")]
    assert len(segments) >= 2, text
    assert segments[0].split("?")[0] == urls[1]
    assert fetch(segments[0])[0] == "HIT", "the first segment was preloaded"
    assert fetch(segments[1])[0] == "MISS", "SliceCount=1: only the first segment"


def test_filters_result_type_missing_and_forbidden_ids(servers, tmp_path):
    srv = refresh_server(servers)
    client = srv.vod()
    vid = create_and_upload(srv, make_source(tmp_path, "a.mp4", seconds=2))
    wait_status(srv, vid, {"Normal"})
    first = {p.job_id for p in play_infos(srv, vid)}
    overwrite(srv, vid, make_source(tmp_path, "b.mp4", seconds=2, tone=660))
    deadline = time.monotonic() + 120
    while True:
        try:
            if {p.job_id for p in play_infos(srv, vid)} - first:
                break
        except Exception:  # noqa: BLE001 - transcoding again
            pass
        assert time.monotonic() < deadline, "the second transcode did not finish"
        time.sleep(0.3)
    newest = {p.play_url.split("?")[0] for p in play_infos(srv, vid)}
    every = {p.play_url.split("?")[0] for p in play_infos(srv, vid, result_type="Multiple")}
    assert len(newest) == 2 and len(every) == 4

    def refreshed(**kw) -> tuple[str, set[str]]:
        job = client.refresh_media_play_urls(vm.RefreshMediaPlayUrlsRequest(media_ids=vid, **kw)).body
        [item] = wait_refresh(srv, job.media_refresh_job_id)
        return item.status, set(filter(None, (item.success_play_urls or "").split(",")))

    assert refreshed(task_type="Refresh") == ("success", newest), "Single: the newest run"
    assert refreshed(task_type="Refresh", result_type="Multiple") == ("success", every)
    status, urls = refreshed(task_type="Refresh", formats="mp4", definitions="LD", stream_type="video")
    assert status == "success" and len(urls) == 1 and next(iter(urls)).endswith(".mp4")
    job = client.refresh_media_play_urls(vm.RefreshMediaPlayUrlsRequest(
        media_ids=vid, task_type="Refresh", definitions="4K")).body
    [item] = wait_refresh(srv, job.media_refresh_job_id)
    assert (item.status, item.error_code) == ("fail", "InvalidVideo.NoneStream"), item.to_map()

    # NonExist and Forbidden ids (a RAM user limited to the default app).
    app = client.create_app_info(vm.CreateAppInfoRequest(app_name="other")).body.app_id
    theirs = create_and_upload(srv, make_source(tmp_path, "c.mp4", seconds=1), AppId=app)
    srv.create_user("refresher", {"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": ["vod:RefreshMediaPlayUrls", "vod:GetMediaRefreshJobs"],
        "Resource": "acs:vod:*:*:app/app-1000000"}]})
    ak, sk = srv.create_key("refresher")
    ids = f"{vid},missing-1,{theirs}"
    body = legacy_refresh(srv, srv.legacy_client(ak, sk), MediaIds=ids, TaskType="Refresh")
    assert body["NonExistMediaIds"] == "missing-1" and body["ForbiddenMediaIds"] == theirs, body
    tea = srv.vod(ak, sk).refresh_media_play_urls(vm.RefreshMediaPlayUrlsRequest(media_ids=ids, task_type="Preload")).body
    assert (tea.non_exist_media_ids, tea.forbidden_media_ids) == ("missing-1", theirs)

    # Refused inputs, through both SDK generations.
    ids21 = ",".join(f"id{i}" for i in range(21))
    bad = [
        (dict(MediaIds=ids21, TaskType="Refresh"), "InvalidParameter"),
        (dict(MediaIds=vid, TaskType="Refresh", SliceFlag=True, SliceCount=0), "InvalidParameter"),
        (dict(MediaIds=vid, TaskType="Refresh", SliceFlag=True, SliceCount=21), "InvalidParameter"),
        (dict(MediaIds=vid, TaskType="Purge"), "InvalidParameter"),
        (dict(MediaIds=vid, TaskType="Refresh", Formats="mp4,avi"), "InvalidParameter"),
        (dict(MediaIds=vid, TaskType="Refresh", ResultType="All"), "InvalidParameter"),
        (dict(MediaIds=vid, TaskType="Refresh", StreamType="subtitles"), "InvalidParameter"),
        (dict(MediaIds=vid, TaskType="Refresh", Definitions="XD"), "InvalidParameter"),
        (dict(MediaIds=vid), "MissingParameter"),
    ]
    snake = {"MediaIds": "media_ids", "TaskType": "task_type", "SliceFlag": "slice_flag", "SliceCount": "slice_count",
             "Formats": "formats", "ResultType": "result_type", "StreamType": "stream_type", "Definitions": "definitions"}
    for params, code in bad:
        assert_legacy_error(lambda: legacy_refresh(srv, **params), code, 400)
        req = vm.RefreshMediaPlayUrlsRequest(**{snake[k]: v for k, v in params.items()})
        assert_tea_error(lambda: client.refresh_media_play_urls(req), code, 400)


def test_object_caches_tasks_and_quota(servers, tmp_path):
    srv = refresh_server(servers, VODSTACK_CDN__QUOTAS__PRELOAD_PER_DAY="2")
    client = srv.vod()
    data = make_source(tmp_path, "o.mp4", seconds=1)
    vid = create_and_upload(srv, data, TemplateGroupId="VOD_NO_TRANSCODE")
    wait_status(srv, vid, {"Normal"})
    url = play_infos(srv, vid)[0].play_url.split("?")[0]
    assert fetch(url)[0] == "MISS" and fetch(url)[0] == "HIT"

    # File refresh (Tea).
    ids = client.refresh_vod_object_caches(vm.RefreshVodObjectCachesRequest(object_path=url)).body.refresh_task_id
    [task] = wait_tasks(srv, ids)
    assert (task.status, task.object_type, task.object_path, task.process) == ("Complete", "file", url, "100%")
    assert fetch(url)[0] == "MISS"
    # Directory refresh: the URL's folder.
    folder = url.rsplit("/", 1)[0] + "/"
    dir_ids = client.refresh_vod_object_caches(vm.RefreshVodObjectCachesRequest(
        object_path=folder, object_type="Directory")).body.refresh_task_id
    assert wait_tasks(srv, dir_ids)[0].object_type == "directory"
    # Preload (legacy) makes the next fetch a hit.
    p = PreloadVodObjectCachesRequest()
    p.set_ObjectPath(url)
    preload_id = srv.legacy(p)["PreloadTaskId"]
    assert wait_tasks(srv, preload_id)[0].status == "Complete"
    assert fetch(url) == ("HIT", data)

    # DescribeVodRefreshTasks through the legacy SDK, filtered.
    d = DescribeVodRefreshTasksRequest()
    d.set_ObjectType("file")
    d.set_Status("Complete")
    listed = srv.legacy(d)
    assert listed["TotalCount"] == 1 and listed["Tasks"]["Task"][0]["TaskId"] == ids
    assert isinstance(listed["PageNumber"], int) and isinstance(listed["PageSize"], int)

    # Quotas: one URL refresh, one directory, one preload used today; preloads are 2 a day.
    q = client.describe_vod_refresh_quota(vm.DescribeVodRefreshQuotaRequest()).body
    assert (int(q.url_quota) - int(q.url_remain), int(q.dir_quota) - int(q.dir_remain)) == (1, 1)
    assert (q.preload_quota, q.preload_remain) == ("2", "1")
    assert q.block_quota and q.block_remain, q.to_map()
    legacy_q = srv.legacy(DescribeVodRefreshQuotaRequest())
    assert all(isinstance(v, str) for k, v in legacy_q.items()), legacy_q
    two = f"{url}\n{folder}other.mp4"
    assert_tea_error(lambda: client.preload_vod_object_caches(vm.PreloadVodObjectCachesRequest(object_path=two)),
                     "QuotaExceeded.Refresh", 400)

    # Refused paths and types.
    assert_tea_error(lambda: client.refresh_vod_object_caches(vm.RefreshVodObjectCachesRequest(
        object_path="ftp://example.com/a.mp4")), "InvalidObjectPath.Malformed", 400)
    assert_tea_error(lambda: client.refresh_vod_object_caches(vm.RefreshVodObjectCachesRequest(
        object_path=url, object_type="Regex")), "InvalidObjectType.ValueNotSupported", 400)
    assert_legacy_error(lambda: srv.legacy(PreloadVodObjectCachesRequest()), "MissingParameter", 400)


def test_two_nodes_refresh_and_preload_reach_both_edges(servers, tmp_path):
    # Two nodes on one database and one object store, each running its edge.
    storage = str(tmp_path / "shared-objects")
    a = refresh_server(servers, shared_db=True, VODSTACK_STORAGE_URL=storage)
    b = refresh_server(servers, peer_of=a, VODSTACK_STORAGE_URL=storage)
    v1 = make_source(tmp_path, "n1.mp4", seconds=1, tone=300)
    vid = create_and_upload(a, v1, TemplateGroupId="VOD_NO_TRANSCODE")
    assert wait_status(a, vid, {"Normal", "UploadFail"}).status == "Normal"
    url_a = play_infos(a, vid)[0].play_url.split("?")[0]
    path = url_a[len(a.edge_base):]
    url_b = b.edge_base + path
    for u in (url_a, url_b):
        assert fetch(u) == ("MISS", v1) and fetch(u) == ("HIT", v1)

    # Refresh submitted on node b (its URLs name its own edge) purges both edges.
    job = legacy_refresh(b, MediaIds=vid, TaskType="Refresh")["MediaRefreshJobId"]
    [item] = wait_refresh(b, job)
    assert item.status == "success" and item.success_play_urls == url_b, item.to_map()
    for u in (url_a, url_b):
        assert fetch(u)[0] == "MISS", u

    # Purge again, then preload through node a: both edges hit on the first fetch.
    job = a.vod().refresh_media_play_urls(vm.RefreshMediaPlayUrlsRequest(media_ids=vid, task_type="Refresh")).body
    wait_refresh(a, job.media_refresh_job_id)
    job = a.vod().refresh_media_play_urls(vm.RefreshMediaPlayUrlsRequest(media_ids=vid, task_type="Preload")).body
    [item] = wait_refresh(a, job.media_refresh_job_id)
    assert item.status == "success", item.to_map()
    for u in (url_a, url_b):
        assert fetch(u) == ("HIT", v1), u

"""Per-account, per-action QPS limits: Throttling.User (400) as each SDK raises it, on one
node (in-process) and across a two-node cluster sharing Redis."""

import math
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkvod.request.v20170321.ListAppInfoRequest import ListAppInfoRequest
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_vod20170321 import models as m

from vodconf import assert_raw_error

LIMIT_ENV = "VODSTACK_GATEWAY__THROTTLE__ACTIONS__LISTAPPINFO"


def gcra_allowance(qps: int, elapsed: float) -> int:
    """The most calls a GCRA limiter with burst `qps` lets through in `elapsed` seconds."""
    return qps + math.ceil(elapsed * qps)


def burst_legacy(srv, n, client=None):
    client = client or srv.legacy_client()
    ok, throttled = 0, []
    started = time.monotonic()
    for _ in range(n):
        try:
            srv.legacy(ListAppInfoRequest(), client)
            ok += 1
        except ServerException as e:
            throttled.append((e.get_error_code(), e.get_http_status(), e.get_request_id()))
    return ok, throttled, time.monotonic() - started


def burst_tea(client, n):
    ok, throttled = 0, []
    started = time.monotonic()
    for _ in range(n):
        try:
            client.list_app_info(m.ListAppInfoRequest())
            ok += 1
        except AlibabaCloudException as e:
            throttled.append((e.code, e.status_code, e.request_id))
    return ok, throttled, time.monotonic() - started


def check_burst(ok, throttled, elapsed, qps=3):
    assert ok >= 1, f"no call passed: {throttled}"
    assert throttled, f"none of the calls was throttled ({ok} passed in {elapsed:.2f}s)"
    assert ok <= gcra_allowance(qps, elapsed), f"{ok} calls passed in {elapsed:.2f}s at {qps} QPS"
    assert all(t[:2] == ("Throttling.User", 400) and t[2] for t in throttled), throttled


@pytest.fixture
def limited(servers):
    """A server whose ListAppInfo limit is 3 QPS (set with an upper-case env key)."""
    srv = servers.new()
    srv.create_user("member", {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "vod:*"}]})
    srv.member_key = srv.create_key(user="member")
    return srv.start(env={LIMIT_ENV: "3"})


def test_burst_legacy(limited):
    check_burst(*burst_legacy(limited, 10))


def test_burst_tea(limited):
    check_burst(*burst_tea(limited.vod(), 10))


def test_burst_tea_v2_and_raw_envelope(limited):
    check_burst(*burst_tea(limited.vod(v2=True), 10))
    body = assert_raw_error(limited.raw("ListAppInfo"), "Throttling.User", 400)
    assert body["Message"] == "Request was denied due to user flow control."


def test_limit_refills(limited):
    check_burst(*burst_legacy(limited, 10))
    time.sleep(1.2)
    ok, _, _ = burst_legacy(limited, 2)
    assert ok >= 1


def test_other_actions_have_their_own_budget(limited):
    check_burst(*burst_legacy(limited, 10))
    c = limited.vod()
    for _ in range(10):
        c.get_app_infos(m.GetAppInfosRequest(app_ids="app-1000000"))


def test_ram_users_share_the_account_budget(limited):
    """12 calls alternating the root key and a RAM user's key: one budget of 3 QPS, not two."""
    ak, sk = limited.member_key
    for creds in ((None, None), (ak, sk)):  # warm the key cache on another action
        assert limited.raw("GetAppInfos", {"AppIds": "app-1000000"}, ak=creds[0], secret=creds[1]).ok

    def call(i):
        creds = (ak, sk) if i % 2 else (None, None)
        return limited.raw("ListAppInfo", ak=creds[0], secret=creds[1]).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(call, range(12)))
    elapsed = time.monotonic() - started
    ok = codes.count(200)
    assert set(codes) <= {200, 400}, codes
    # Two separate budgets would let 6 through at once.
    assert elapsed < 0.6, f"the burst took {elapsed:.2f}s, too slow to tell one budget from two"
    assert 1 <= ok <= gcra_allowance(3, elapsed), f"{ok} of 12 passed in {elapsed:.2f}s"


def test_throttle_can_be_disabled(servers):
    srv = servers.new().start(env={LIMIT_ENV: "1", "VODSTACK_GATEWAY__THROTTLE__ENABLED": "false"})
    ok, throttled, _ = burst_legacy(srv, 8)
    assert ok == 8, throttled


# ---- cluster: two nodes, one database, one Redis

@pytest.mark.cluster
def test_cluster_limit_is_shared_through_redis(servers, redis_url):
    env = {LIMIT_ENV: "5", "VODSTACK_REDIS_URL": redis_url}
    a = servers.new(shared_db=True).start(env=env)  # fresh database -> fresh account -> fresh Redis keys
    b = servers.peer(a).start(env=env)
    for node in (a, b):
        assert "cluster-wide (redis)" in node.stdout, node.stdout
        assert node.banner_value("account") == a.banner_value("account")
        # Warm both nodes (key cache, connections) on another action's budget.
        assert node.raw("GetAppInfos", {"AppIds": "app-1000000"}).status_code == 200

    nodes = [a, b] * 6

    def call(node):
        r = node.raw("ListAppInfo")
        return node, r.status_code, r.json().get("Code")

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(call, nodes))
    elapsed = time.monotonic() - started

    ok = [r for r in results if r[1] == 200]
    refused = [r for r in results if r[1] != 200]
    assert all(code == "Throttling.User" and status == 400 for _, status, code in refused), refused
    # GCRA at 5 QPS: a burst of 5, then one more every 0.2 s. Without a shared limit the two
    # nodes would let 10 of the 12 calls through.
    allowed = max(6, gcra_allowance(5, elapsed))
    assert len(ok) >= 1
    assert len(ok) <= allowed, f"{len(ok)} of 12 calls passed in {elapsed:.3f}s; the shared limit allows {allowed}"
    assert elapsed < 1.0, f"the burst took {elapsed:.2f}s, too slow to prove anything"


@pytest.mark.cluster
def test_cluster_sequential_alternating_calls(servers, redis_url):
    """The brief's scenario: 12 calls alternating nodes as fast as one client can."""
    env = {LIMIT_ENV: "5", "VODSTACK_REDIS_URL": redis_url}
    a = servers.new(shared_db=True).start(env=env)
    b = servers.peer(a).start(env=env)
    clients = [a.vod(), b.vod()]
    for c in clients:
        c.get_app_infos(m.GetAppInfosRequest(app_ids="app-1000000"))
    ok = 0
    started = time.monotonic()
    for i in range(12):
        try:
            clients[i % 2].list_app_info(m.ListAppInfoRequest())
            ok += 1
        except AlibabaCloudException as e:
            assert (e.code, e.status_code) == ("Throttling.User", 400), e
    elapsed = time.monotonic() - started
    allowed = max(6, gcra_allowance(5, elapsed))
    assert allowed < 10, f"12 calls took {elapsed:.2f}s, too slow to tell a shared limit from two"
    assert 1 <= ok <= allowed, f"{ok} of 12 passed in {elapsed:.3f}s (allowed {allowed})"

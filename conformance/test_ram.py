"""RAM users: action-level policies (Forbidden.RAM) and per-app permissions (multi-app),
through long-term user keys and STS tokens issued for a user, in both SDK generations."""

import json
import time

import pytest
from aliyunsdkvod.request.v20170321.GetAppInfosRequest import GetAppInfosRequest
from aliyunsdkvod.request.v20170321.ListAppInfoRequest import ListAppInfoRequest
from alibabacloud_vod20170321 import models as m

from vodconf import assert_legacy_error, assert_raw_error, assert_tea_error

DEFAULT_APP = "app-1000000"
GET_ONLY = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "vod:Get*", "Resource": "*"}]}


def l_list(srv, client):
    return srv.legacy(ListAppInfoRequest(), client)


def l_get(srv, client, ids):
    r = GetAppInfosRequest()
    r.set_AppIds(",".join(ids))
    return srv.legacy(r, client)


@pytest.fixture
def get_only(servers):
    """A server with user `reader` (policy: vod:Get* only) and a long-term key for it."""
    srv = servers.new()
    srv.create_user("reader", GET_ONLY)
    srv.user_key = srv.create_key(user="reader")
    return srv.start()


def test_denied_action_legacy(get_only):
    srv = get_only
    client = srv.legacy_client(*srv.user_key)
    assert_legacy_error(lambda: l_list(srv, client), "Forbidden.RAM", 403)
    assert [a["AppId"] for a in l_get(srv, client, [DEFAULT_APP])["AppInfoList"]] == [DEFAULT_APP]


@pytest.mark.parametrize("v2", [False, True], ids=["tea-v3", "tea-v2"])
def test_denied_action_tea(get_only, v2):
    srv = get_only
    c = srv.vod(*srv.user_key, v2=v2)
    assert_tea_error(lambda: c.list_app_info(m.ListAppInfoRequest()), "Forbidden.RAM", 403)
    body = c.get_app_infos(m.GetAppInfosRequest(app_ids=DEFAULT_APP)).body
    assert [a.app_id for a in body.app_info_list] == [DEFAULT_APP]


def test_denied_action_raw_envelope(get_only):
    srv = get_only
    ak, sk = srv.user_key
    assert_raw_error(srv.raw("ListAppInfo", ak=ak, secret=sk), "Forbidden.RAM", 403)
    assert_raw_error(srv.raw("ListAppInfo", ak=ak, secret=sk, fmt="XML"), "Forbidden.RAM", 403, fmt="xml")


def test_sts_token_of_user_carries_its_policy(get_only):
    srv = get_only
    assert_legacy_error(lambda: l_list(srv, srv.legacy_sts(user="reader")), "Forbidden.RAM", 403)
    c = srv.vod_sts(user="reader")
    assert_tea_error(lambda: c.list_app_info(m.ListAppInfoRequest()), "Forbidden.RAM", 403)
    assert c.get_app_infos(m.GetAppInfosRequest(app_ids=DEFAULT_APP)).body.app_info_list
    # An STS token for the account itself is not limited.
    assert srv.vod_sts().list_app_info(m.ListAppInfoRequest()).status_code == 200


def test_user_without_policy_is_denied_everything(servers):
    srv = servers.new()
    srv.create_user("nobody", {"Version": "1", "Statement": []})
    key = srv.create_key(user="nobody")
    srv.start()
    c = srv.vod(*key)
    assert_tea_error(lambda: c.list_app_info(m.ListAppInfoRequest()), "Forbidden.RAM", 403)
    assert_tea_error(lambda: c.get_app_infos(m.GetAppInfosRequest(app_ids=DEFAULT_APP)), "Forbidden.RAM", 403)
    assert_tea_error(lambda: c.create_app_info(m.CreateAppInfoRequest(app_name="x")), "Forbidden.RAM", 403)


def test_explicit_deny_wins(servers):
    srv = servers.new()
    srv.create_user("ops", {"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "vod:*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["vod:DeleteAppInfo", "vod:CreateAppInfo"], "Resource": "*"},
    ]})
    key = srv.create_key(user="ops")
    srv.start()
    c = srv.vod(*key)
    assert c.list_app_info(m.ListAppInfoRequest()).status_code == 200
    assert_tea_error(lambda: c.create_app_info(m.CreateAppInfoRequest(app_name="x")), "Forbidden.RAM", 403)
    app_id = srv.vod().create_app_info(m.CreateAppInfoRequest(app_name="by-root")).body.app_id
    assert_tea_error(lambda: c.delete_app_info(m.DeleteAppInfoRequest(app_id=app_id)), "Forbidden.RAM", 403)
    c.update_app_info(m.UpdateAppInfoRequest(app_id=app_id, description="ops may update"))


def test_action_wildcards_are_case_insensitive(servers):
    srv = servers.new()
    srv.create_user("lower", {"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": ["vod:listappinfo"], "Resource": "*"}]})
    key = srv.create_key(user="lower")
    srv.start()
    assert srv.vod(*key).list_app_info(m.ListAppInfoRequest()).status_code == 200


def test_policy_change_takes_effect_within_cache_ttl(get_only):
    srv = get_only
    c = srv.vod(*srv.user_key)
    assert_tea_error(lambda: c.list_app_info(m.ListAppInfoRequest()), "Forbidden.RAM", 403)
    srv.cli("users", "set-policy", "reader", "--policy",
            json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "vod:*", "Resource": "*"}]}))
    deadline = time.monotonic() + 8
    while True:
        try:
            assert c.list_app_info(m.ListAppInfoRequest()).status_code == 200
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


# ---- per-app permissions (multi-app)

# Allows the listing/reading actions at the gateway, but on no real app: what the user may
# see then comes only from app policies attached with AttachAppPolicyToIdentity.
SCOPED_NOWHERE = {"Version": "1", "Statement": [{
    "Effect": "Allow",
    "Action": ["vod:ListAppInfo", "vod:GetAppInfos", "vod:UpdateAppInfo"],
    "Resource": "acs:vod:*:*:app/app-none",
}]}


@pytest.fixture
def two_apps(servers):
    """Apps X (read-only for `bob`) and Y (nothing for bob), bob's key."""
    srv = servers.new()
    srv.create_user("bob", SCOPED_NOWHERE)
    key = srv.create_key(user="bob")
    srv.start()
    root = srv.vod()
    x = root.create_app_info(m.CreateAppInfoRequest(app_name="app-x")).body.app_id
    y = root.create_app_info(m.CreateAppInfoRequest(app_name="app-y")).body.app_id
    root.attach_app_policy_to_identity(m.AttachAppPolicyToIdentityRequest(
        identity_type="RamUser", identity_name="bob", app_id=x, policy_names="VODAppReadOnlyAccess"))
    return srv, key, x, y


def test_user_sees_only_apps_it_has_a_policy_on(two_apps):
    srv, key, x, y = two_apps
    listed = [a["AppId"] for a in l_list(srv, srv.legacy_client(*key))["AppInfoList"]]
    assert x in listed
    assert y not in listed and DEFAULT_APP not in listed
    tea = srv.vod(*key).list_app_info(m.ListAppInfoRequest()).body
    assert [a.app_id for a in tea.app_info_list] == [x]

    got = l_get(srv, srv.legacy_client(*key), [x, y])
    assert [a["AppId"] for a in got["AppInfoList"]] == [x]
    assert got["NonExistAppIds"] == [y]


def test_list_total_counts_only_visible_apps(two_apps):
    """Total must agree with what the caller may list, or PageNo/PageSize paging breaks."""
    srv, key, x, y = two_apps
    body = l_list(srv, srv.legacy_client(*key))
    assert body["Total"] == len(body["AppInfoList"]) == 1, body


def test_paging_over_visible_apps(two_apps):
    """Page 1 of size 1 must hold the user's one visible app even though other apps sort first."""
    srv, key, x, y = two_apps
    c = srv.vod(*key)
    page1 = c.list_app_info(m.ListAppInfoRequest(page_no=1, page_size=1)).body
    assert [a.app_id for a in page1.app_info_list] == [x], page1.to_map()


def test_read_only_app_policy_does_not_allow_writes(two_apps):
    srv, key, x, y = two_apps
    c = srv.vod(*key)
    assert_tea_error(lambda: c.update_app_info(m.UpdateAppInfoRequest(app_id=x, description="nope")), "Forbidden", 403)
    assert_tea_error(lambda: c.update_app_info(m.UpdateAppInfoRequest(app_id=y, description="nope")), "Forbidden", 403)


def test_full_access_app_policy_allows_writes(two_apps):
    srv, key, x, y = two_apps
    srv.vod().attach_app_policy_to_identity(m.AttachAppPolicyToIdentityRequest(
        identity_type="RamUser", identity_name="bob", app_id=y, policy_names="VODAppFullAccess"))
    c = srv.vod(*key)
    c.update_app_info(m.UpdateAppInfoRequest(app_id=y, description="bob was here"))
    assert srv.vod().get_app_infos(m.GetAppInfosRequest(app_ids=y)).body.app_info_list[0].description == "bob was here"
    # After detaching, Y disappears from bob's view again.
    srv.vod().detach_app_policy_from_identity(m.DetachAppPolicyFromIdentityRequest(
        identity_type="RamUser", identity_name="bob", app_id=y, policy_names="VODAppFullAccess"))
    assert [a.app_id for a in c.list_app_info(m.ListAppInfoRequest()).body.app_info_list] == [x]


def test_resource_scoped_policy_on_the_default_app(servers):
    srv = servers.new()
    srv.create_user("carol", {"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": "vod:*", "Resource": f"acs:vod:*:*:app/{DEFAULT_APP}"}]})
    key = srv.create_key(user="carol")
    srv.start()
    other = srv.vod().create_app_info(m.CreateAppInfoRequest(app_name="not-carols")).body.app_id
    c = srv.vod(*key)
    assert [a.app_id for a in c.list_app_info(m.ListAppInfoRequest()).body.app_info_list] == [DEFAULT_APP]
    assert c.get_app_infos(m.GetAppInfosRequest(app_ids=other)).body.non_exist_app_ids == [other]
    c.update_app_info(m.UpdateAppInfoRequest(app_id=DEFAULT_APP, description="carol"))
    assert_tea_error(lambda: c.update_app_info(m.UpdateAppInfoRequest(app_id=other, description="x")), "Forbidden", 403)

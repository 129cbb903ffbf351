"""VOD multi-app actions through both SDK generations: CreateAppInfo, ListAppInfo,
GetAppInfos, UpdateAppInfo, DeleteAppInfo and the app-policy attachments."""

import pytest
from aliyunsdkvod.request.v20170321.AttachAppPolicyToIdentityRequest import AttachAppPolicyToIdentityRequest
from aliyunsdkvod.request.v20170321.CreateAppInfoRequest import CreateAppInfoRequest
from aliyunsdkvod.request.v20170321.DeleteAppInfoRequest import DeleteAppInfoRequest
from aliyunsdkvod.request.v20170321.DetachAppPolicyFromIdentityRequest import DetachAppPolicyFromIdentityRequest
from aliyunsdkvod.request.v20170321.GetAppInfosRequest import GetAppInfosRequest
from aliyunsdkvod.request.v20170321.ListAppInfoRequest import ListAppInfoRequest
from aliyunsdkvod.request.v20170321.ListAppPoliciesForIdentityRequest import ListAppPoliciesForIdentityRequest
from aliyunsdkvod.request.v20170321.UpdateAppInfoRequest import UpdateAppInfoRequest
from alibabacloud_vod20170321 import models as m

from vodconf import assert_legacy_error, assert_raw_error, assert_tea_error

DEFAULT_APP = "app-1000000"
ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


# ---- legacy helpers (aliyunsdkvod request classes)

def l_create(srv, name, description=None):
    r = CreateAppInfoRequest()
    r.set_AppName(name)
    if description is not None:
        r.set_Description(description)
    return srv.legacy(r)["AppId"]


def l_get(srv, ids, client=None):
    r = GetAppInfosRequest()
    r.set_AppIds(",".join(ids))
    return srv.legacy(r, client)


def l_list(srv, client=None, **kw):
    r = ListAppInfoRequest()
    for k, v in kw.items():
        getattr(r, f"set_{k}")(v)
    return srv.legacy(r, client)


def l_update(srv, app_id, **kw):
    r = UpdateAppInfoRequest()
    r.set_AppId(app_id)
    for k, v in kw.items():
        getattr(r, f"set_{k}")(v)
    return srv.legacy(r)


def l_delete(srv, app_id):
    r = DeleteAppInfoRequest()
    r.set_AppId(app_id)
    return srv.legacy(r)


# ---- CRUD

def test_crud_legacy(server):
    app_id = l_create(server, "legacy-crud", "first")
    assert app_id.startswith("app-") and app_id != DEFAULT_APP

    got = l_get(server, [app_id])
    assert got["NonExistAppIds"] == []
    (app,) = got["AppInfoList"]
    assert (app["AppId"], app["AppName"], app["Description"]) == (app_id, "legacy-crud", "first")
    assert (app["Type"], app["Status"]) == ("Custom", "Normal")
    import re
    assert re.match(ISO, app["CreationTime"]) and re.match(ISO, app["ModificationTime"]), app

    listed = l_list(server)
    assert {DEFAULT_APP, app_id} <= {a["AppId"] for a in listed["AppInfoList"]}
    assert listed["Total"] == 2
    assert all(a["RegionId"] for a in listed["AppInfoList"])

    assert l_update(server, app_id, AppName="legacy-crud-2", Description="second", Status="Disable")["RequestId"]
    (app,) = l_get(server, [app_id])["AppInfoList"]
    assert (app["AppName"], app["Description"], app["Status"]) == ("legacy-crud-2", "second", "Disable")
    assert [a["AppId"] for a in l_list(server, Status="Disable")["AppInfoList"]] == [app_id]
    assert app_id not in [a["AppId"] for a in l_list(server, Status="Normal")["AppInfoList"]]

    assert l_delete(server, app_id)["RequestId"]
    got = l_get(server, [app_id])
    assert got["AppInfoList"] == [] and got["NonExistAppIds"] == [app_id]
    assert_legacy_error(lambda: l_delete(server, app_id), "AppNotExist", 404)
    assert_legacy_error(lambda: l_update(server, app_id, AppName="x"), "AppNotExist", 404)


def test_crud_tea_v3(server):
    c = server.vod()
    app_id = c.create_app_info(m.CreateAppInfoRequest(app_name="tea-crud", description="d1")).body.app_id
    body = c.get_app_infos(m.GetAppInfosRequest(app_ids=app_id)).body
    assert body.app_info_list[0].app_name == "tea-crud"
    assert body.app_info_list[0].type == "Custom"
    listed = c.list_app_info(m.ListAppInfoRequest(page_no=1, page_size=10)).body
    assert isinstance(listed.total, int) and listed.total == 2
    c.update_app_info(m.UpdateAppInfoRequest(app_id=app_id, app_name="tea-crud-2", status="Disable"))
    app = c.get_app_infos(m.GetAppInfosRequest(app_ids=app_id)).body.app_info_list[0]
    assert (app.app_name, app.status, app.description) == ("tea-crud-2", "Disable", "d1")
    c.update_app_info(m.UpdateAppInfoRequest(app_id=app_id, status="Normal"))
    assert c.get_app_infos(m.GetAppInfosRequest(app_ids=app_id)).body.app_info_list[0].status == "Normal"
    assert c.delete_app_info(m.DeleteAppInfoRequest(app_id=app_id)).status_code == 200
    assert c.get_app_infos(m.GetAppInfosRequest(app_ids=app_id)).body.non_exist_app_ids == [app_id]
    assert_tea_error(lambda: c.delete_app_info(m.DeleteAppInfoRequest(app_id=app_id)), "AppNotExist", 404)


def test_crud_tea_signature_v2(server):
    c = server.vod(v2=True)
    app_id = c.create_app_info(m.CreateAppInfoRequest(app_name="tea-v2 app")).body.app_id
    assert c.get_app_infos(m.GetAppInfosRequest(app_ids=app_id)).body.app_info_list[0].app_name == "tea-v2 app"
    c.delete_app_info(m.DeleteAppInfoRequest(app_id=app_id))


def test_name_clash(server):
    l_create(server, "dup-name")
    assert_legacy_error(lambda: l_create(server, "dup-name"), "AppNameExisted", 400)
    assert_tea_error(lambda: server.vod().create_app_info(m.CreateAppInfoRequest(app_name="dup-name")),
                     "AppNameExisted", 400)
    other = l_create(server, "other-name")
    assert_legacy_error(lambda: l_update(server, other, AppName="dup-name"), "AppNameExisted", 400)
    # After a clash nothing half-written is left: exactly the two apps plus the default one.
    assert l_list(server)["Total"] == 3


def test_app_name_limits(server):
    assert_legacy_error(lambda: l_create(server, "x" * 129), "InvalidParameter", 400)
    assert l_create(server, "名" * 128)


def test_paging(server):
    created = [l_create(server, f"page-{i}") for i in range(5)]
    seen = []
    for page in (1, 2, 3):
        body = l_list(server, PageNo=page, PageSize=2)
        assert body["Total"] == 6, body
        assert len(body["AppInfoList"]) == 2, (page, body)
        seen += [a["AppId"] for a in body["AppInfoList"]]
    assert l_list(server, PageNo=4, PageSize=2)["AppInfoList"] == []
    assert len(set(seen)) == 6 and set(created) | {DEFAULT_APP} == set(seen)
    # Tea sees the same pages.
    tea_pages = [a.app_id for p in (1, 2, 3)
                 for a in server.vod().list_app_info(m.ListAppInfoRequest(page_no=p, page_size=2)).body.app_info_list]
    assert tea_pages == seen
    # Default page size is 10.
    assert len(l_list(server)["AppInfoList"]) == 6


def test_get_app_infos_non_exist_and_limits(server):
    a = l_create(server, "exists")
    body = l_get(server, [a, "app-doesnotexist", DEFAULT_APP])
    assert sorted(x["AppId"] for x in body["AppInfoList"]) == sorted([a, DEFAULT_APP])
    assert body["NonExistAppIds"] == ["app-doesnotexist"]
    tea = server.vod().get_app_infos(m.GetAppInfosRequest(app_ids="app-nope1,app-nope2")).body
    assert tea.app_info_list == [] and tea.non_exist_app_ids == ["app-nope1", "app-nope2"]
    assert_raw_error(server.raw("GetAppInfos", {"AppIds": ",".join(f"app-{i}" for i in range(11))}),
                     "InvalidParameter", 400)
    body = assert_raw_error(server.raw("GetAppInfos"), "MissingParameter", 400)
    assert '"AppIds"' in body["Message"]


def test_system_app_cannot_be_deleted_or_disabled(server):
    e = assert_legacy_error(lambda: l_delete(server, DEFAULT_APP), "Forbidden.OperateSystemApp", 403)
    assert e.get_error_msg()
    assert_tea_error(lambda: server.vod().delete_app_info(m.DeleteAppInfoRequest(app_id=DEFAULT_APP)),
                     "Forbidden.OperateSystemApp", 403)
    assert_legacy_error(lambda: l_update(server, DEFAULT_APP, Status="Disable"), "Forbidden.OperateSystemApp", 403)
    # Renaming / describing the system app is allowed; it is still there and Normal.
    l_update(server, DEFAULT_APP, Description="still here")
    (app,) = l_get(server, [DEFAULT_APP])["AppInfoList"]
    assert (app["Type"], app["Status"], app["Description"]) == ("System", "Normal", "still here")


# ---- app policies

@pytest.fixture
def srv_with_user(servers):
    srv = servers.new()
    srv.create_user("alice", {"Version": "1", "Statement": []})
    return srv.start()


def _attach(srv, app_id, names, identity="alice", detach=False):
    r = DetachAppPolicyFromIdentityRequest() if detach else AttachAppPolicyToIdentityRequest()
    r.set_IdentityType("RamUser")
    r.set_IdentityName(identity)
    r.set_AppId(app_id)
    r.set_PolicyNames(names)
    return srv.legacy(r)


def _list_policies(srv, identity="alice", app_id=None):
    r = ListAppPoliciesForIdentityRequest()
    r.set_IdentityType("RamUser")
    r.set_IdentityName(identity)
    if app_id:
        r.set_AppId(app_id)
    return srv.legacy(r)["AppPolicyList"]


def test_attach_list_detach_policies(srv_with_user):
    srv = srv_with_user
    app = l_create(srv, "policy-app")
    body = _attach(srv, app, "VODAppReadOnlyAccess,NoSuchPolicy")
    assert body["NonExistPolicyNames"] == ["NoSuchPolicy"]
    assert body["FailedPolicyNames"] == []
    _attach(srv, DEFAULT_APP, "VODAppFullAccess")
    # Attaching twice is harmless.
    _attach(srv, app, "VODAppReadOnlyAccess")

    listed = _list_policies(srv)
    assert sorted((p["AppId"], p["PolicyName"]) for p in listed) == sorted(
        [(app, "VODAppReadOnlyAccess"), (DEFAULT_APP, "VODAppFullAccess")])
    assert all(p["PolicyType"] == "System" for p in listed)
    only = _list_policies(srv, app_id=app)
    assert [(p["AppId"], p["PolicyName"]) for p in only] == [(app, "VODAppReadOnlyAccess")]

    tea = srv.vod().list_app_policies_for_identity(
        m.ListAppPoliciesForIdentityRequest(identity_type="RamUser", identity_name="alice", app_id=app)).body
    assert [p.policy_name for p in tea.app_policy_list] == ["VODAppReadOnlyAccess"]

    _attach(srv, app, "VODAppReadOnlyAccess", detach=True)
    assert [(p["AppId"], p["PolicyName"]) for p in _list_policies(srv)] == [(DEFAULT_APP, "VODAppFullAccess")]
    tea_detach = srv.vod().detach_app_policy_from_identity(m.DetachAppPolicyFromIdentityRequest(
        identity_type="RamUser", identity_name="alice", app_id=DEFAULT_APP, policy_names="VODAppFullAccess"))
    assert tea_detach.status_code == 200
    assert _list_policies(srv) == []


def test_attach_policy_errors(srv_with_user):
    srv = srv_with_user
    assert_legacy_error(lambda: _attach(srv, DEFAULT_APP, "VODAppFullAccess", identity="nobody"),
                        "IdentityNotExist", 404)
    assert_legacy_error(lambda: _attach(srv, "app-missing", "VODAppFullAccess"), "AppNotExist", 404)
    body = assert_raw_error(srv.raw("AttachAppPolicyToIdentity",
                                    {"IdentityType": "RamUser", "IdentityName": "alice", "AppId": DEFAULT_APP}),
                            "MissingParameter", 400)
    assert '"PolicyNames"' in body["Message"]
    body = assert_raw_error(srv.raw("AttachAppPolicyToIdentity",
                                    {"IdentityType": "Robot", "IdentityName": "alice", "PolicyNames": "VODAppFullAccess"}),
                            "InvalidParameter", 400)
    assert '"IdentityType"' in body["Message"]
    tea = srv.vod().attach_app_policy_to_identity(m.AttachAppPolicyToIdentityRequest(
        identity_type="RamUser", identity_name="alice", app_id=DEFAULT_APP, policy_names="VODAppFullAccess"))
    assert tea.body.non_exist_policy_names == [] and tea.body.failed_policy_names == []


def test_deleting_an_app_drops_its_policy_attachments(srv_with_user):
    srv = srv_with_user
    app = l_create(srv, "short-lived")
    _attach(srv, app, "VODAppFullAccess")
    _attach(srv, DEFAULT_APP, "VODAppReadOnlyAccess")
    l_delete(srv, app)
    assert [(p["AppId"], p["PolicyName"]) for p in _list_policies(srv)] == [(DEFAULT_APP, "VODAppReadOnlyAccess")]
    # A new app never inherits old attachments, whatever id it gets.
    newer = l_create(srv, "short-lived")
    assert _list_policies(srv, app_id=newer) == []


def test_deleting_a_user_drops_its_attachments(servers):
    srv = servers.new()
    srv.create_user("temp", {"Version": "1", "Statement": []})
    srv.start()
    _attach(srv, DEFAULT_APP, "VODAppFullAccess", identity="temp")
    srv.cli("users", "delete", "temp")
    srv.create_user("temp", {"Version": "1", "Statement": []})
    assert _list_policies(srv, identity="temp") == []


def test_list_policies_of_unknown_identity(server):
    assert_legacy_error(lambda: _list_policies(server, identity="ghost"), "IdentityNotExist", 404)


def test_xml_escaping_of_names(server):
    import xml.etree.ElementTree as ET

    name = 'a<b>&"c\' ]]>'
    app_id = l_create(server, name)
    resp = server.raw("GetAppInfos", {"AppIds": app_id}, fmt="XML")
    assert resp.status_code == 200, resp.text
    root = ET.fromstring(resp.content)
    assert root.find("AppInfoList").findtext("AppName") == name

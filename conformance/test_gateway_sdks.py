"""Good calls: every official SDK generation signs, sends and parses successfully."""

import json

from aliyunsdkvod.request.v20170321.GetAppInfosRequest import GetAppInfosRequest
from aliyunsdkvod.request.v20170321.ListAppInfoRequest import ListAppInfoRequest
from alibabacloud_ice20201109 import models as ice_models
from alibabacloud_vod20170321 import models as vod_models

DEFAULT_APP = "app-1000000"


def test_legacy_sdk_v1_list_app_info(server):
    body = server.legacy(ListAppInfoRequest())
    assert body["RequestId"]
    assert body["Total"] >= 1
    apps = {a["AppId"]: a for a in body["AppInfoList"]}
    assert DEFAULT_APP in apps
    assert apps[DEFAULT_APP]["Type"] == "System"
    assert apps[DEFAULT_APP]["Status"] == "Normal"


def test_legacy_sdk_v1_get_app_infos(server):
    req = GetAppInfosRequest()
    req.set_AppIds(DEFAULT_APP)
    body = server.legacy(req)
    assert [a["AppId"] for a in body["AppInfoList"]] == [DEFAULT_APP]
    assert body["NonExistAppIds"] == []


def test_tea_vod_v3_list_app_info(server):
    resp = server.vod().list_app_info(vod_models.ListAppInfoRequest())
    assert resp.status_code == 200
    assert resp.body.request_id
    assert resp.headers.get("x-acs-request-id") == resp.body.request_id
    assert DEFAULT_APP in [a.app_id for a in resp.body.app_info_list]
    assert resp.body.total >= 1


def test_tea_vod_signature_v2_list_app_info(server):
    resp = server.vod(v2=True).list_app_info(vod_models.ListAppInfoRequest(page_no=1, page_size=10))
    assert resp.status_code == 200
    assert DEFAULT_APP in [a.app_id for a in resp.body.app_info_list]


def test_tea_vod_v3_query_params_with_spaces_and_unicode(server):
    # Tea form-encodes spaces as '+'; the server must decode before verifying the signature.
    name = "conf app * ~ 中文"
    created = server.vod().create_app_info(vod_models.CreateAppInfoRequest(app_name=name, description="a b+c"))
    got = server.vod().get_app_infos(vod_models.GetAppInfosRequest(app_ids=created.body.app_id))
    assert got.body.app_info_list[0].app_name == name
    assert got.body.app_info_list[0].description == "a b+c"


def test_legacy_sdk_params_with_spaces_and_unicode(server):
    from aliyunsdkvod.request.v20170321.CreateAppInfoRequest import CreateAppInfoRequest

    req = CreateAppInfoRequest()
    req.set_AppName("legacy app * ~ 中文")
    req.set_Description("x&y=z")
    app_id = server.legacy(req)["AppId"]
    got = GetAppInfosRequest()
    got.set_AppIds(app_id)
    app = server.legacy(got)["AppInfoList"][0]
    assert (app["AppName"], app["Description"]) == ("legacy app * ~ 中文", "x&y=z")


def test_ice_v3_add_and_get_categories(server):
    ice = server.ice()
    added = ice.add_category(ice_models.AddCategoryRequest(cate_name="conformance-ice", type="default"))
    assert added.status_code == 200
    cat = added.body.category
    assert isinstance(cat.cate_id, int), cat.to_map()
    assert cat.cate_name == "conformance-ice"
    listed = ice.get_categories(ice_models.GetCategoriesRequest(type="default"))
    assert listed.body.request_id
    names = [c.cate_name for c in listed.body.sub_categories.category]
    assert "conformance-ice" in names, json.dumps(listed.body.to_map())


def test_legacy_sdk_get_method(server):
    req = ListAppInfoRequest()
    req.set_method("GET")
    assert server.legacy(req)["RequestId"]


def test_legacy_sdk_port_and_add_endpoint(server):
    """The other documented way to aim the legacy SDK: AcsClient(port=...) + add_endpoint."""
    from aliyunsdkcore.client import AcsClient

    client = AcsClient(server.ak, server.secret, "cn-shanghai", port=server.port)
    client.add_endpoint("cn-shanghai", "vod", "127.0.0.1")
    body = json.loads(client.do_action_with_exception(ListAppInfoRequest()))
    assert DEFAULT_APP in [a["AppId"] for a in body["AppInfoList"]]


def test_ice_v3_sdk_error_is_parsed(server):
    from vodconf import assert_tea_error

    assert_tea_error(lambda: server.ice(secret="wrong").get_categories(ice_models.GetCategoriesRequest()),
                     "SignatureDoesNotMatch", 400, message_contains="server string to sign is:")

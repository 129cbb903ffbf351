"""Wire format at the gateway: Format selection (JSON/XML, any case, XML by default for V1),
the error envelope in both formats, x-acs-request-id, the Host header, unknown actions and
versions, and business-parameter validation as the SDKs see it."""

import json
import xml.etree.ElementTree as ET

import pytest
import requests
from aliyunsdkcore.request import CommonRequest
from aliyunsdkvod.request.v20170321.CreateAppInfoRequest import CreateAppInfoRequest
from aliyunsdkvod.request.v20170321.ListAppInfoRequest import ListAppInfoRequest
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_util import models as util_models
from alibabacloud_vod20170321 import models as vod_models

from vodconf import ICE_VERSION, VOD_VERSION, assert_legacy_error, assert_raw_error, assert_tea_error

JSON_CT = "application/json;charset=utf-8"
XML_CT = "text/xml;charset=utf-8"


def parse_xml(resp):
    root = ET.fromstring(resp.content)
    return root


# ---- Format selection

@pytest.mark.parametrize("fmt", ["XML", "xml", "Xml", None], ids=["XML", "xml", "Xml", "absent"])
def test_xml_success(server, fmt):
    resp = server.raw("ListAppInfo", fmt=fmt)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == XML_CT
    root = parse_xml(resp)
    assert root.tag == "ListAppInfoResponse"
    assert root.findtext("RequestId") == resp.headers["x-acs-request-id"]
    assert int(root.findtext("Total")) >= 1
    ids = [e.findtext("AppId") for e in root.findall("AppInfoList")]
    assert "app-1000000" in ids, resp.text


@pytest.mark.parametrize("fmt", ["JSON", "json", "Json"])
def test_json_success_any_case(server, fmt):
    resp = server.raw("ListAppInfo", fmt=fmt)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == JSON_CT
    body = resp.json()
    assert body["RequestId"] == resp.headers["x-acs-request-id"]
    assert any(a["AppId"] == "app-1000000" for a in body["AppInfoList"])


def test_xml_and_json_carry_the_same_fields(server):
    j = server.raw("GetAppInfos", {"AppIds": "app-1000000,app-nope"}).json()
    x = parse_xml(server.raw("GetAppInfos", {"AppIds": "app-1000000,app-nope"}, fmt="XML"))
    assert x.tag == "GetAppInfosResponse"
    assert [e.findtext("AppId") for e in x.findall("AppInfoList")] == [a["AppId"] for a in j["AppInfoList"]]
    assert [e.text for e in x.findall("NonExistAppIds")] == j["NonExistAppIds"] == ["app-nope"]


def test_xml_error_envelope(server):
    resp = server.raw("NoSuchAction", fmt="XML")
    body = assert_raw_error(resp, "InvalidAction.NotFound", 404, fmt="xml")
    assert resp.text.lstrip().startswith("<?xml")
    assert set(body) >= {"RequestId", "HostId", "Code", "Message"}


def test_xml_error_envelope_when_format_absent(server):
    resp = server.raw("ListAppInfo", fmt=None, secret="wrong")
    body = assert_raw_error(resp, "SignatureDoesNotMatch", 400, fmt="xml")
    assert "server string to sign is:" in body["Message"]


def test_json_error_envelope(server):
    resp = server.raw("NoSuchAction", fmt="json")
    body = assert_raw_error(resp, "InvalidAction.NotFound", 404)
    assert body["Message"]
    assert "Recommend" in body


def test_request_id_header_on_every_response(server):
    for resp in (server.raw("ListAppInfo"), server.raw("ListAppInfo", fmt="XML"),
                 server.raw("NoSuchAction"), server.raw("ListAppInfo", secret="bad")):
        rid = resp.headers.get("x-acs-request-id")
        assert rid, resp.headers
    plain = requests.get(f"{server.url}/", timeout=10)
    assert plain.headers.get("x-acs-request-id"), plain.headers


def test_unsigned_empty_request_gets_an_alibaba_error(server):
    resp = requests.get(f"{server.url}/", timeout=10)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.headers["Content-Type"] in (JSON_CT, XML_CT)
    code = (resp.json()["Code"] if resp.headers["Content-Type"] == JSON_CT
            else parse_xml(resp).findtext("Code"))
    assert code.startswith("Missing"), resp.text


# ---- Host header

def test_host_header_does_not_matter(server):
    resp = server.raw("ListAppInfo", headers={"Host": "vod.cn-shanghai.aliyuncs.com"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["RequestId"]


def test_error_host_id_is_the_request_host(server):
    resp = server.raw("NoSuchAction", headers={"Host": "vod.cn-shanghai.aliyuncs.com"})
    body = assert_raw_error(resp, "InvalidAction.NotFound", 404)
    assert body["HostId"] == "vod.cn-shanghai.aliyuncs.com"


def test_tea_endpoint_with_scheme_sends_odd_host(server):
    """`endpoint='http://127.0.0.1:PORT'` makes Tea sign `host: http://127.0.0.1:PORT`."""
    from alibabacloud_vod20170321.client import Client

    cfg = server.tea_config()
    cfg.endpoint = server.url
    resp = Client(cfg).list_app_info(vod_models.ListAppInfoRequest())
    assert resp.status_code == 200


# ---- unknown Action / Version

def _common(server, action, version, product="vod"):
    req = CommonRequest(domain=server.endpoint, version=version, action_name=action, product=product)
    req.set_method("POST")
    req.set_accept_format("json")
    return req


def _tea_call(server, action, version, v2=False):
    from alibabacloud_tea_openapi.client import Client as OpenApiClient

    params = open_api_models.Params(action=action, version=version, protocol="HTTP", pathname="/",
                                    method="POST", auth_type="AK", style="RPC", req_body_type="formData",
                                    body_type="json")
    client = OpenApiClient(server.tea_config(v2=v2))
    return client.call_api(params, open_api_models.OpenApiRequest(query={}), util_models.RuntimeOptions())


def test_unknown_action(server):
    assert_raw_error(server.raw("NoSuchAction"), "InvalidAction.NotFound", 404)
    client = server.legacy_client()
    assert_legacy_error(lambda: client.do_action_with_exception(_common(server, "NoSuchAction", VOD_VERSION)),
                        "InvalidAction.NotFound", 404)
    assert_tea_error(lambda: _tea_call(server, "NoSuchAction", VOD_VERSION), "InvalidAction.NotFound", 404)
    assert_tea_error(lambda: _tea_call(server, "NoSuchAction", VOD_VERSION, v2=True), "InvalidAction.NotFound", 404)


def test_action_names_are_case_sensitive(server):
    assert_raw_error(server.raw("listappinfo"), "InvalidAction.NotFound", 404)


def test_unknown_version(server):
    assert_raw_error(server.raw("ListAppInfo", version="2099-01-01"), "InvalidAction.NotFound", 404)
    client = server.legacy_client()
    assert_legacy_error(lambda: client.do_action_with_exception(_common(server, "ListAppInfo", "2099-01-01")),
                        "InvalidAction.NotFound", 404)
    assert_tea_error(lambda: _tea_call(server, "ListAppInfo", "2099-01-01"), "InvalidAction.NotFound", 404)


def test_vod_action_under_ice_version_is_not_found(server):
    assert_raw_error(server.raw("ListAppInfo", version=ICE_VERSION), "InvalidAction.NotFound", 404)


def test_missing_action_and_version(server):
    assert_raw_error(server.raw(None), "MissingAction", 400)
    assert_raw_error(server.raw("ListAppInfo", version=None), "MissingVersion", 400)


def test_legacy_common_request_good_call(server):
    body = json.loads(server.legacy_client().do_action_with_exception(_common(server, "ListAppInfo", VOD_VERSION)))
    assert body["RequestId"]


def test_tea_generic_call_api_good_call(server):
    resp = _tea_call(server, "ListAppInfo", VOD_VERSION)
    assert resp["statusCode"] == 200
    assert resp["body"]["RequestId"]


# ---- business parameters

def test_missing_parameter_names_it(server):
    e = assert_legacy_error(lambda: server.legacy(CreateAppInfoRequest()), "MissingParameter", 400)
    assert '"AppName"' in e.get_error_msg()
    e = assert_tea_error(lambda: server.vod().create_app_info(vod_models.CreateAppInfoRequest()), "MissingParameter", 400)
    assert '"AppName"' in e.message
    body = assert_raw_error(server.raw("CreateAppInfo", {"AppName": ""}), "MissingParameter", 400)
    assert '"AppName"' in body["Message"]


@pytest.mark.parametrize("name,value", [("PageSize", "1000"), ("PageSize", "abc"), ("PageNo", "0"),
                                        ("Status", "Bogus")])
def test_invalid_parameter_names_it(server, name, value):
    body = assert_raw_error(server.raw("ListAppInfo", {name: value}), "InvalidParameter", 400)
    assert f'"{name}"' in body["Message"]
    req = ListAppInfoRequest()
    req.add_query_param(name, value)
    e = assert_legacy_error(lambda: server.legacy(req), "InvalidParameter", 400)
    assert f'"{name}"' in e.get_error_msg()


def test_python_booleans_and_extra_params_are_signed_and_tolerated(server):
    """Python SDKs send booleans as True/False; unknown extra params must not break signing."""
    req = ListAppInfoRequest()
    req.add_query_param("SliceFlag", True)
    req.add_query_param("EmptyValue", "")
    assert server.legacy(req)["RequestId"]
    resp = server.raw("ListAppInfo", {"SliceFlag": "True", "Other": "false"})
    assert resp.status_code == 200, resp.text


def test_region_id_and_signature_type_sent_by_legacy_are_ignored(server):
    resp = server.raw("ListAppInfo", {"RegionId": "cn-beijing", "SignatureType": ""})
    assert resp.status_code == 200, resp.text

"""Authentication at the gateway: signatures (V1 legacy, V2 Tea, V3 Tea), access keys,
nonce replay, clock skew and STS security tokens, each seen through the official SDKs."""

import time

import pytest
from aliyunsdkcore.utils import parameter_helper
from aliyunsdkvod.request.v20170321.ListAppInfoRequest import ListAppInfoRequest
from alibabacloud_tea_openapi.utils import Utils as TeaUtils
from alibabacloud_vod20170321 import models as vod_models

from vodconf import (
    assert_legacy_error, assert_raw_error, assert_tea_error, iso8601, sign_v1, string_to_sign,
)

TEA_GENERATIONS = [pytest.param(False, id="tea-v3"), pytest.param(True, id="tea-v2")]


def legacy_list(server, client=None):
    return server.legacy(ListAppInfoRequest(), client)


def tea_list(client):
    return client.list_app_info(vod_models.ListAppInfoRequest())


# ---- wrong secret / unknown key / disabled key

def test_wrong_secret_legacy_becomes_invalid_access_key_secret(server):
    # The server's message ends with its string to sign; the legacy SDK recognises its own
    # string-to-sign there and rewrites the error (protocol.md §2.3).
    client = server.legacy_client(secret="not-the-secret")
    e = assert_legacy_error(lambda: legacy_list(server, client), "InvalidAccessKeySecret", 400)
    assert "AccessKeySecret is incorrect" in e.get_error_msg()


@pytest.mark.parametrize("v2", TEA_GENERATIONS)
def test_wrong_secret_tea(server, v2):
    assert_tea_error(lambda: tea_list(server.vod(secret="not-the-secret", v2=v2)), "SignatureDoesNotMatch", 400,
                     message_contains="server string to sign is:")


def test_wrong_secret_raw_message_carries_exact_string_to_sign(server):
    resp = server.raw("ListAppInfo", signature="AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    body = assert_raw_error(resp, "SignatureDoesNotMatch", 400)
    expected = string_to_sign("POST", resp.sent_params.items())
    assert body["Message"].endswith("server string to sign is:" + expected), body["Message"]
    # The legacy SDK splits on ':' and compares the 2nd piece: no raw ':' may precede it.
    assert body["Message"].split(":")[1] == expected


def test_unknown_access_key(server):
    assert_legacy_error(lambda: legacy_list(server, server.legacy_client(ak="LTAInoSuchKey000")),
                        "InvalidAccessKeyId.NotFound", 404)
    assert_tea_error(lambda: tea_list(server.vod(ak="LTAInoSuchKey000")), "InvalidAccessKeyId.NotFound", 404)
    assert_tea_error(lambda: tea_list(server.vod(ak="LTAInoSuchKey000", v2=True)), "InvalidAccessKeyId.NotFound", 404)
    assert_raw_error(server.raw("ListAppInfo", ak="LTAInoSuchKey000"), "InvalidAccessKeyId.NotFound", 404)


def test_disabled_and_reenabled_key(servers):
    srv = servers.new()
    ak, sk = srv.create_key()
    srv.cli("keys", "disable", ak)
    srv.start()
    assert_legacy_error(lambda: legacy_list(srv, srv.legacy_client(ak, sk)), "InvalidAccessKeyId.Inactive", 400)
    assert_tea_error(lambda: tea_list(srv.vod(ak, sk)), "InvalidAccessKeyId.Inactive", 400)
    assert_tea_error(lambda: tea_list(srv.vod(ak, sk, v2=True)), "InvalidAccessKeyId.Inactive", 400)
    srv.cli("keys", "enable", ak)
    deadline = time.monotonic() + 8  # key cache TTL is 5 s
    while True:
        try:
            assert legacy_list(srv, srv.legacy_client(ak, sk))["RequestId"]
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert tea_list(srv.vod(ak, sk)).status_code == 200


def test_created_key_works_in_both_generations(servers):
    srv = servers.new()
    ak, sk = srv.create_key()
    srv.start()
    assert legacy_list(srv, srv.legacy_client(ak, sk))["RequestId"]
    assert tea_list(srv.vod(ak, sk)).status_code == 200


def test_disabling_a_key_takes_effect_within_cache_ttl(server):
    ak, sk = server.create_key()
    assert tea_list(server.vod(ak, sk)).status_code == 200  # now cached
    server.cli("keys", "disable", ak)
    time.sleep(5.5)
    assert_tea_error(lambda: tea_list(server.vod(ak, sk)), "InvalidAccessKeyId.Inactive", 400)


# ---- nonce replay

def test_replayed_nonce_legacy(server, monkeypatch):
    monkeypatch.setattr(parameter_helper, "get_uuid", lambda: "0123456789abcdef0123456789abcdef")
    client = server.legacy_client()
    assert legacy_list(server, client)["RequestId"]
    assert_legacy_error(lambda: legacy_list(server, client), "SignatureNonceUsed", 400)


@pytest.mark.parametrize("v2", TEA_GENERATIONS)
def test_replayed_nonce_tea(server, monkeypatch, v2):
    monkeypatch.setattr(TeaUtils, "get_nonce", staticmethod(lambda: "fedcba9876543210fedcba9876543210"))
    client = server.vod(v2=v2)
    assert tea_list(client).status_code == 200
    assert_tea_error(lambda: tea_list(client), "SignatureNonceUsed", 400)


def test_same_nonce_for_different_keys_is_fine(server):
    ak, sk = server.create_key()
    n = "a-shared-nonce-0001"
    assert server.raw("ListAppInfo", signature_nonce=n).status_code == 200
    assert server.raw("ListAppInfo", signature_nonce=n, ak=ak, secret=sk).status_code == 200
    assert_raw_error(server.raw("ListAppInfo", signature_nonce=n), "SignatureNonceUsed", 400)


def test_rejected_signature_does_not_burn_the_nonce(server):
    n = "nonce-after-bad-signature"
    assert_raw_error(server.raw("ListAppInfo", signature_nonce=n, secret="wrong"), "SignatureDoesNotMatch", 400)
    assert server.raw("ListAppInfo", signature_nonce=n).status_code == 200


# ---- clock skew and timestamp format

def test_stale_timestamp_legacy(server, monkeypatch):
    monkeypatch.setattr(parameter_helper, "get_iso_8061_date", lambda: iso8601(-20 * 60))
    assert_legacy_error(lambda: legacy_list(server), "InvalidTimeStamp.Expired", 400)


@pytest.mark.parametrize("v2", TEA_GENERATIONS)
def test_stale_timestamp_tea(server, monkeypatch, v2):
    monkeypatch.setattr(TeaUtils, "get_timestamp", staticmethod(lambda: iso8601(-20 * 60)))
    assert_tea_error(lambda: tea_list(server.vod(v2=v2)), "InvalidTimeStamp.Expired", 400)


def test_future_timestamp_rejected_and_small_skew_accepted(server):
    assert_raw_error(server.raw("ListAppInfo", timestamp=iso8601(+20 * 60)), "InvalidTimeStamp.Expired", 400)
    assert server.raw("ListAppInfo", timestamp=iso8601(-10 * 60)).status_code == 200
    assert server.raw("ListAppInfo", timestamp=iso8601(+10 * 60)).status_code == 200


@pytest.mark.parametrize("ts", ["2024-13-45T99:00:00Z", "yesterday", "1700000000", "2024/01/01 00:00:00"])
def test_malformed_timestamp(server, ts):
    assert_raw_error(server.raw("ListAppInfo", timestamp=ts), "InvalidTimeStamp.Format", 400)


def test_millisecond_timestamp_accepted(server):
    ts = iso8601()[:-1] + ".312Z"
    assert server.raw("ListAppInfo", timestamp=ts).status_code == 200


def test_clock_skew_is_configurable(servers):
    srv = servers.new().start(env={"VODSTACK_GATEWAY__MAX_CLOCK_SKEW_SECS": "60"})
    assert_raw_error(srv.raw("ListAppInfo", timestamp=iso8601(-120)), "InvalidTimeStamp.Expired", 400)
    assert srv.raw("ListAppInfo", timestamp=iso8601(-30)).status_code == 200


# ---- missing / malformed common parameters

@pytest.mark.parametrize("name", ["AccessKeyId", "SignatureNonce", "Timestamp", "Signature"])
def test_missing_common_parameter(server, name):
    resp = server.raw("ListAppInfo", common={name: None})
    body = assert_raw_error(resp, f"Missing{name}", 400)
    assert name in body["Message"]


def test_bad_signature_method(server):
    assert_raw_error(server.raw("ListAppInfo", common={"SignatureMethod": "HMAC-MD5"}), "InvalidSignatureMethod", 400)


def test_signature_method_is_case_insensitive(server):
    assert server.raw("ListAppInfo", common={"SignatureMethod": "Hmac-SHA1"}).status_code == 200


def test_v3_unparsable_authorization_is_incomplete_signature(server):
    import requests

    resp = requests.post(f"{server.url}/", timeout=10, headers={
        "Authorization": "ACS3-HMAC-SHA256 garbage",
        "x-acs-action": "ListAppInfo", "x-acs-version": "2017-03-21",
        "x-acs-date": iso8601(), "x-acs-signature-nonce": "n-1",
        "x-acs-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    })
    assert_raw_error(resp, "IncompleteSignature", 400)


# ---- V1 transport variants

def test_v1_get_with_query(server):
    resp = server.raw("ListAppInfo", method="GET")
    assert resp.status_code == 200, resp.text
    assert resp.json()["RequestId"] == resp.headers["x-acs-request-id"]


def test_v1_params_in_form_body(server):
    resp = server.raw("CreateAppInfo", {"AppName": "from form body"}, in_body=True)
    assert resp.status_code == 200, resp.text
    assert resp.json()["AppId"]


def test_v1_plus_encoded_spaces_in_query(server):
    """Tea-style '+' for spaces must decode to ' ' before the signature is recomputed."""
    import requests
    from urllib.parse import quote_plus

    from vodconf import nonce

    p = {"Action": "CreateAppInfo", "Version": "2017-03-21", "Format": "JSON", "AccessKeyId": server.ak,
         "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": nonce(),
         "Timestamp": iso8601(), "AppName": "plus spaced name"}
    p["Signature"] = sign_v1(server.secret, string_to_sign("POST", p.items()))
    query = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in p.items())
    assert "plus+spaced+name" in query
    resp = requests.post(f"{server.url}/?{query}", timeout=10)
    assert resp.status_code == 200, resp.text


# ---- STS security tokens

def test_sts_good_call_legacy(server):
    assert legacy_list(server, server.legacy_sts())["RequestId"]


@pytest.mark.parametrize("v2", TEA_GENERATIONS)
def test_sts_good_call_tea(server, v2):
    assert tea_list(server.vod_sts(v2=v2)).status_code == 200


def test_sts_expired_token(server):
    cred = server.sts(duration=1)
    time.sleep(2.2)
    ak, sk, tok = cred["AccessKeyId"], cred["AccessKeySecret"], cred["SecurityToken"]
    assert_legacy_error(lambda: legacy_list(server, server.legacy_client(ak, sk, tok)),
                        "InvalidSecurityToken.Expired", 400)
    assert_tea_error(lambda: tea_list(server.vod(ak, sk, tok)), "InvalidSecurityToken.Expired", 400)
    assert_tea_error(lambda: tea_list(server.vod(ak, sk, tok, v2=True)), "InvalidSecurityToken.Expired", 400)


def test_sts_malformed_token(server):
    cred = server.sts()
    resp = server.raw("ListAppInfo", ak=cred["AccessKeyId"], secret=cred["AccessKeySecret"],
                      token="not-a-real-token")
    assert_raw_error(resp, "InvalidSecurityToken.Malformed", 400)
    assert_tea_error(lambda: tea_list(server.vod(cred["AccessKeyId"], cred["AccessKeySecret"], "garbage")),
                     "InvalidSecurityToken.Malformed", 400)


def test_sts_wrong_secret(server):
    cred = server.sts()
    assert_tea_error(lambda: tea_list(server.vod(cred["AccessKeyId"], "wrong", cred["SecurityToken"])),
                     "SignatureDoesNotMatch", 400)
    client = server.legacy_client(cred["AccessKeyId"], "wrong", cred["SecurityToken"])
    assert_legacy_error(lambda: legacy_list(server, client), "InvalidAccessKeySecret", 400)


def test_sts_token_survives_restart(servers):
    srv = servers.new().start()
    cred = srv.sts()
    assert srv.stop() == 0
    srv.start()
    assert tea_list(srv.vod(cred["AccessKeyId"], cred["AccessKeySecret"], cred["SecurityToken"])).status_code == 200


# ---- V3 by hand (the suite's own ACS3-HMAC-SHA256 signer)

def test_v3_raw_good_call_and_json_default(server):
    resp = server.raw_v3("ListAppInfo", {"PageSize": "5"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "application/json;charset=utf-8"
    assert resp.json()["RequestId"] == resp.headers["x-acs-request-id"]


def test_v3_params_in_form_body(server):
    resp = server.raw_v3("CreateAppInfo", form={"AppName": "v3 form body", "Description": "x y"})
    assert resp.status_code == 200, resp.text
    app_id = resp.json()["AppId"]
    got = server.raw_v3("GetAppInfos", {"AppIds": app_id}).json()
    assert got["AppInfoList"][0]["AppName"] == "v3 form body"


def test_v3_body_hash_mismatch(server):
    resp = server.raw_v3("CreateAppInfo", form={"AppName": "tampered"}, content_sha256="0" * 64)
    assert_raw_error(resp, "SignatureDoesNotMatch", 400)


def test_v3_unsigned_required_header_is_incomplete_signature(server):
    resp = server.raw_v3("ListAppInfo", unsigned=["x-acs-action"])
    assert_raw_error(resp, "IncompleteSignature", 400)


def test_v3_wrong_secret_and_unknown_key(server):
    body = assert_raw_error(server.raw_v3("ListAppInfo", secret="wrong"), "SignatureDoesNotMatch", 400)
    assert "server string to sign is:" in body["Message"]
    assert_raw_error(server.raw_v3("ListAppInfo", ak="LTAInope"), "InvalidAccessKeyId.NotFound", 404)


def test_v3_replayed_nonce_and_stale_date(server):
    assert server.raw_v3("ListAppInfo", signature_nonce="v3-nonce-1").status_code == 200
    assert_raw_error(server.raw_v3("ListAppInfo", signature_nonce="v3-nonce-1"), "SignatureNonceUsed", 400)
    assert_raw_error(server.raw_v3("ListAppInfo", date=iso8601(-20 * 60)), "InvalidTimeStamp.Expired", 400)
    assert_raw_error(server.raw_v3("ListAppInfo", date="not-a-date"), "InvalidTimeStamp.Format", 400)


def test_v3_sts(server):
    c = server.sts()
    resp = server.raw_v3("ListAppInfo", ak=c["AccessKeyId"], secret=c["AccessKeySecret"], token=c["SecurityToken"])
    assert resp.status_code == 200, resp.text
    # The token header must be signed when present.
    resp = server.raw_v3("ListAppInfo", ak=c["AccessKeyId"], secret=c["AccessKeySecret"], token=c["SecurityToken"],
                         unsigned=["x-acs-security-token"])
    assert_raw_error(resp, "IncompleteSignature", 400)


# ---- more STS and replay cases

def test_sts_access_key_without_token(server):
    c = server.sts()
    assert_raw_error(server.raw("ListAppInfo", ak=c["AccessKeyId"], secret=c["AccessKeySecret"]),
                     "MissingSecurityToken", 400)


def test_sts_token_of_another_access_key(server):
    c1, c2 = server.sts(), server.sts()
    resp = server.raw("ListAppInfo", ak=c2["AccessKeyId"], secret=c2["AccessKeySecret"], token=c1["SecurityToken"])
    assert_raw_error(resp, "InvalidSecurityToken.MismatchWithAccessKey", 400)


def test_nonce_replay_refused_after_restart(servers):
    srv = servers.new().start()
    assert srv.raw("ListAppInfo", signature_nonce="survives-restart").status_code == 200
    assert srv.stop() == 0
    srv.start()
    assert_raw_error(srv.raw("ListAppInfo", signature_nonce="survives-restart"), "SignatureNonceUsed", 400)


def test_nonce_replay_refused_across_nodes_sharing_a_database(servers):
    a = servers.new(shared_db=True).start()
    b = servers.peer(a).start()
    assert a.raw("ListAppInfo", signature_nonce="cross-node").status_code == 200
    assert_raw_error(b.raw("ListAppInfo", signature_nonce="cross-node"), "SignatureNonceUsed", 400)


def test_sts_token_verified_by_every_node(servers):
    a = servers.new(shared_db=True).start()
    b = servers.peer(a).start()
    c = a.sts()
    for node in (a, b):
        assert tea_list(node.vod(c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"])).status_code == 200

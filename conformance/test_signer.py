"""The suite's own raw V1 signer against the test vectors of protocol.md §1.3 (no server)."""

from vodconf import canonical_query, percent_encode, sign_v1, string_to_sign


def test_percent_encoding_rules():
    assert percent_encode("a b") == "a%20b"
    assert percent_encode("*") == "%2A"
    assert percent_encode("~-_.") == "~-_."
    assert percent_encode("中") == "%E4%B8%AD"
    assert percent_encode("/:+=&") == "%2F%3A%2B%3D%26"


def test_vector_docs_get_video_play_auth():
    params = {
        "AccessKeyId": "testAccessKeyId", "Action": "GetVideoPlayAuth", "Format": "JSON",
        "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "8f8a035d-6496-4268-afd4-67c22837e38d",
        "SignatureVersion": "1.0", "Timestamp": "2017-10-10T12:02:54Z", "Version": "2017-03-21",
        "VideoId": "5aed81b74ba84920be578cdfe004af4b",
    }
    sts = string_to_sign("GET", params.items())
    assert sts == (
        "GET&%2F&AccessKeyId%3DtestAccessKeyId%26Action%3DGetVideoPlayAuth%26Format%3DJSON%26"
        "SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D8f8a035d-6496-4268-afd4-67c22837e38d%26"
        "SignatureVersion%3D1.0%26Timestamp%3D2017-10-10T12%253A02%253A54Z%26Version%3D2017-03-21%26"
        "VideoId%3D5aed81b74ba84920be578cdfe004af4b"
    )
    assert sign_v1("testAccessKeySecret", sts) == "Ibgh7y8Vp47LBuAsf5Xhi1SvDss="


def test_vector_post_with_unicode_and_empty_value():
    params = {
        "AccessKeyId": "testAK", "Action": "CreateUploadVideo", "FileName": "a b.mp4", "Format": "JSON",
        "RegionId": "cn-shanghai", "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "0123456789abcdef0123456789abcdef", "SignatureType": "", "SignatureVersion": "1.0",
        "Timestamp": "2024-01-01T00:00:00Z", "Title": "hello world*~ 中", "Version": "2017-03-21",
    }
    assert "SignatureType=&" in canonical_query(params.items())
    sts = string_to_sign("POST", params.items())
    assert sts.startswith("POST&%2F&AccessKeyId%3DtestAK%26Action%3DCreateUploadVideo%26FileName%3Da%2520b.mp4")
    assert "Title%3Dhello%2520world%252A~%2520%25E4%25B8%25AD" in sts
    assert sign_v1("testSecret", sts) == "2X0RUkHvcELbAD4oZDusBu9PLX0="


def test_v3_vector_from_protocol_md():
    from vodconf import v3_authorization

    headers = {
        "host": "127.0.0.1:8080", "x-acs-version": "2017-03-21", "x-acs-action": "CreateUploadVideo",
        "x-acs-date": "2024-01-01T00:00:00Z", "x-acs-signature-nonce": "0123456789abcdef0123456789abcdef",
        "x-acs-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    }
    query = {"FileName": "a b.mp4", "FileSize": "123", "Title": "hello world*~ 中"}
    assert v3_authorization("POST", query, headers, b"", "testAK", "testSecret") == (
        "ACS3-HMAC-SHA256 Credential=testAK,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;"
        "x-acs-signature-nonce;x-acs-version,"
        "Signature=37f76bb9a433fbd0245e14de24d92c271789b7695abf10cc1feeab5792471292"
    )

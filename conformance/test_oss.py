"""The OSS-compatible listener with the official OSS SDKs: oss2 (V1 signatures) and
alibabacloud-oss-v2 (V4), using temporary credentials scoped to one object, minted by the
hidden `vodstack oss credential` command (the same credential CreateUploadVideo hands out).
Objects go to the local filesystem, or to the S3-compatible server named by
VODSTACK_TEST_S3_URL when it is set (scripts/start-seaweedfs.sh).

The SDKs check what they can themselves: ETags, `x-oss-hash-crc64ecma` (CRC-64 of every
PutObject, UploadPart, and combined across parts by oss2's resumable uploader), request ids.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time

import pytest
import requests

import vodconf

BUCKET = "outin-vodstack"
REGION = "cn-shanghai"


@pytest.fixture
def oss(servers):
    """A running server with its OSS listener on a free port; `oss.endpoint` is its URL."""
    port = vodconf.free_port()
    # Arbitrary bytes are uploaded: processing (which would mark them damaged) stays off.
    env = {"VODSTACK_OSS_ADDR": f"127.0.0.1:{port}", "VODSTACK_PROCESSING__ENABLED": "false"}
    s3 = os.environ.get("VODSTACK_TEST_S3_URL")
    if s3:
        # Objects on the S3-compatible test server, under a root of their own.
        head, _, query = s3.partition("?")
        env["VODSTACK_STORAGE_URL"] = f"{head.rstrip('/')}/conf-{secrets.token_hex(6)}" + (f"?{query}" if query else "")
    srv = servers.new(env=env).start()
    srv.oss_env = env
    srv.endpoint_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while srv.banner_value("OSS") is None and time.monotonic() < deadline:
        time.sleep(0.02)
    banner = srv.banner_value("OSS")
    assert banner == srv.endpoint_url, f"banner says OSS {banner}\n{srv.stdout}"
    while time.monotonic() < deadline:
        try:
            requests.options(srv.endpoint_url + f"/{BUCKET}/x", timeout=2)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    return srv


def credential(srv, key=None, prefix=None, duration=3000) -> dict:
    args = ["oss", "credential", "--duration-seconds", str(duration)]
    if key:
        args += ["--key", key]
    if prefix:
        args += ["--prefix", prefix]
    return srv.cli_json(*args, env=srv.oss_env)


def oss2_bucket(c: dict, **kw):
    import oss2

    auth = oss2.StsAuth(c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"], **kw)
    return oss2.Bucket(auth, c["Endpoint"], c["Bucket"], region=REGION, connect_timeout=10)


def oss_v2_client(c: dict):
    import alibabacloud_oss_v2 as oss

    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
        c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"])
    cfg.region = REGION
    cfg.endpoint = c["Endpoint"]
    return oss.Client(cfg)


def payload(size: int, seed: int = 0) -> bytes:
    block = hashlib.sha256(f"vodstack-{seed}".encode()).digest() * 64  # 2 KiB
    return (block * (size // len(block) + 1))[:size]


def test_oss2_v1_put_head_get_range(oss):
    import oss2

    key = "sv/1a2b3c/abc def 中.mp4"
    c = credential(oss, key=key)
    assert c["Endpoint"] == oss.endpoint_url and c["Bucket"] == BUCKET and c["FileName"] == key
    assert c["AccessKeyId"].startswith("STS.") and c["Expiration"] == "3000"
    bucket = oss2_bucket(c)
    data = payload(300_000, 1)
    r = bucket.put_object(key, data)  # enable_crc: oss2 compares x-oss-hash-crc64ecma
    assert r.status == 200
    assert r.etag == hashlib.md5(data).hexdigest().upper()
    assert re.fullmatch(r"[0-9A-F]{24}", r.request_id)

    meta = bucket.head_object(key)
    assert meta.content_length == len(data)
    assert meta.etag == hashlib.md5(data).hexdigest().upper()
    assert meta.object_type == "Normal"
    assert meta.headers["Content-Type"] == "video/mp4"

    assert bucket.get_object(key).read() == data
    assert bucket.get_object(key, byte_range=(100, 199)).read() == data[100:200]
    assert bucket.get_object(key, byte_range=(299_990, None)).read() == data[299_990:]

    # Out of scope is AccessDenied; in scope but absent is NotFound (HEAD: no body).
    with pytest.raises(oss2.exceptions.AccessDenied):
        bucket.head_object(key + ".missing")
    with pytest.raises(oss2.exceptions.NotFound):
        oss2_bucket(credential(oss, prefix="sv/1a2b3c/")).head_object(key + ".missing")


def test_oss2_multipart_and_resumable_upload(oss, tmp_path):
    import oss2
    from oss2.models import PartInfo

    key = "sv/multi/movie.mp4"
    c = credential(oss, prefix="sv/multi/")
    bucket = oss2_bucket(c)
    parts_data = [payload(102_400, 2), payload(150_000, 3), payload(777, 4)]
    upload_id = bucket.init_multipart_upload(key).upload_id
    parts = []
    for i, d in enumerate(parts_data, start=1):
        r = bucket.upload_part(key, upload_id, i, d)
        parts.append(PartInfo(i, r.etag))
    listed = bucket.list_parts(key, upload_id)
    assert [p.part_number for p in listed.parts] == [1, 2, 3]
    assert [p.size for p in listed.parts] == [len(d) for d in parts_data]
    assert not listed.is_truncated
    uploads = bucket.list_multipart_uploads(prefix="sv/multi/")
    assert [u.upload_id for u in uploads.upload_list] == [upload_id]
    r = bucket.complete_multipart_upload(key, upload_id, parts)
    assert r.status == 200
    whole = b"".join(parts_data)
    md5s = b"".join(hashlib.md5(d).digest() for d in parts_data)
    assert r.etag == f"{hashlib.md5(md5s).hexdigest().upper()}-3"
    assert bucket.get_object(key).read() == whole
    assert bucket.get_object(key, byte_range=(102_390, 102_409)).read() == whole[102_390:102_410]
    assert bucket.head_object(key).object_type == "Multipart"

    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.complete_multipart_upload(key, upload_id, parts)

    # A small part that is not the last one.
    upload_id = bucket.init_multipart_upload(key).upload_id
    small = [payload(1000, 5), payload(1000, 6)]
    infos = [PartInfo(i, bucket.upload_part(key, upload_id, i, d).etag) for i, d in enumerate(small, 1)]
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.complete_multipart_upload(key, upload_id, infos)
    assert (e.value.status, e.value.code) == (400, "EntityTooSmall")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.complete_multipart_upload(key, upload_id, [PartInfo(1, "0" * 32)])
    assert (e.value.status, e.value.code) == (400, "InvalidPart")
    bucket.abort_multipart_upload(key, upload_id)
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.abort_multipart_upload(key, upload_id)

    # The resumable uploader: threads, 100 KB parts, CRC combined across parts and compared.
    src = tmp_path / "big.bin"
    big = payload(1_100_000, 7)
    src.write_bytes(big)
    rkey = "sv/multi/resumable.mp4"
    oss2.resumable_upload(bucket, rkey, str(src), multipart_threshold=100 * 1024, part_size=100 * 1024,
                          num_threads=3, store=oss2.ResumableStore(root=str(tmp_path)))
    assert bucket.get_object(rkey).read() == big
    assert bucket.head_object(rkey).etag.endswith("-11")


def test_oss2_v4_signatures(oss):
    key = "sv/v4/oss2.mp4"
    c = credential(oss, key=key)
    bucket = oss2_bucket(c, auth_version="v4")
    data = payload(5000, 8)
    assert bucket.put_object(key, data).status == 200
    assert bucket.get_object(key).read() == data


def test_oss_v2_put_get_multipart_and_presign(oss):
    import alibabacloud_oss_v2 as osv

    key = "sv/ossv2/clip.mp4"
    c = credential(oss, prefix="sv/ossv2/")
    client = oss_v2_client(c)
    data = payload(250_000, 9)
    r = client.put_object(osv.PutObjectRequest(bucket=BUCKET, key=key, body=data))
    assert r.status_code == 200
    assert r.etag == f'"{hashlib.md5(data).hexdigest().upper()}"'
    assert r.hash_crc64 is not None
    head = client.head_object(osv.HeadObjectRequest(bucket=BUCKET, key=key))
    assert head.content_length == len(data)
    got = client.get_object(osv.GetObjectRequest(bucket=BUCKET, key=key))
    assert got.body.read() == data
    got = client.get_object(osv.GetObjectRequest(bucket=BUCKET, key=key, range_header="bytes=10-19"))
    assert got.body.read() == data[10:20]

    mkey = "sv/ossv2/multi.mp4"
    init = client.initiate_multipart_upload(osv.InitiateMultipartUploadRequest(bucket=BUCKET, key=mkey))
    parts = []
    chunks = [payload(102_400, 10), payload(3, 11)]
    for i, d in enumerate(chunks, start=1):
        up = client.upload_part(osv.UploadPartRequest(bucket=BUCKET, key=mkey, upload_id=init.upload_id,
                                                      part_number=i, body=d))
        parts.append(osv.UploadPart(part_number=i, etag=up.etag))
    done = client.complete_multipart_upload(osv.CompleteMultipartUploadRequest(
        bucket=BUCKET, key=mkey, upload_id=init.upload_id,
        complete_multipart_upload=osv.CompleteMultipartUpload(parts=parts)))
    assert done.status_code == 200
    assert client.get_object(osv.GetObjectRequest(bucket=BUCKET, key=mkey)).body.read() == b"".join(chunks)

    # The uploader (concurrent parts, CRC checked) and a presigned V4 GET.
    big = payload(700_000, 12)
    ukey = "sv/ossv2/uploaded.mp4"
    client.uploader(part_size=200 * 1024, parallel_num=3).upload_from(
        osv.PutObjectRequest(bucket=BUCKET, key=ukey), __import__("io").BytesIO(big))
    assert client.get_object(osv.GetObjectRequest(bucket=BUCKET, key=ukey)).body.read() == big
    pre = client.presign(osv.GetObjectRequest(bucket=BUCKET, key=ukey))
    assert "x-oss-signature" in pre.url
    assert requests.get(pre.url, timeout=30).content == big


def test_expired_credential_is_security_token_expired(oss):
    import oss2
    import alibabacloud_oss_v2 as osv

    key = "sv/exp/a.mp4"
    c = credential(oss, key=key, duration=0)
    with pytest.raises(oss2.exceptions.ServerError) as e:
        oss2_bucket(c).put_object(key, b"late")
    assert (e.value.status, e.value.code) == (403, "SecurityTokenExpired")
    assert e.value.request_id
    with pytest.raises(osv.exceptions.OperationError) as e2:
        oss_v2_client(c).put_object(osv.PutObjectRequest(bucket=BUCKET, key=key, body=b"late"))
    err = e2.value.unwrap()
    assert (err.status_code, err.code) == (403, "SecurityTokenExpired")


def test_credential_for_key_a_cannot_touch_key_b(oss):
    import oss2

    a, b = "sv/scope/a.mp4", "sv/scope/b.mp4"
    ca = credential(oss, key=a)
    cb = credential(oss, key=b)
    oss2_bucket(cb).put_object(b, b"bee")
    bucket_a = oss2_bucket(ca)
    for op in (lambda: bucket_a.put_object(b, b"x"),
               lambda: bucket_a.get_object(b).read(),
               lambda: bucket_a.init_multipart_upload(b)):
        with pytest.raises(oss2.exceptions.AccessDenied):
            op()
    # An STS key sent without its token.
    plain = oss2.Bucket(oss2.Auth(ca["AccessKeyId"], ca["AccessKeySecret"]), ca["Endpoint"], BUCKET)
    with pytest.raises(oss2.exceptions.ServerError) as e:
        plain.put_object(a, b"x")
    assert (e.value.status, e.value.code) == (403, "InvalidAccessKeyId")
    assert "Security Token may be lost" in e.value.message
    # A wrong secret.
    wrong = oss2.Bucket(oss2.StsAuth(ca["AccessKeyId"], "wrong-secret", ca["SecurityToken"]), ca["Endpoint"], BUCKET)
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch):
        wrong.put_object(a, b"x")


def test_root_key_presigned_url_and_cors(oss):
    import oss2

    bucket = oss2.Bucket(oss2.Auth(oss.ak, oss.secret), oss.endpoint_url, BUCKET)
    bucket.put_object("any/where.txt", b"hello world")
    url = bucket.sign_url("GET", "any/where.txt", 60)
    assert requests.get(url, timeout=10).content == b"hello world"

    origin = {"Origin": "http://app.example"}
    pre = requests.options(f"{oss.endpoint_url}/{BUCKET}/any/where.txt", timeout=10, headers={
        **origin, "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type,x-oss-security-token"})
    assert pre.status_code == 200
    assert pre.headers["Access-Control-Allow-Origin"] == "http://app.example"
    assert "PUT" in pre.headers["Access-Control-Allow-Methods"]
    got = requests.get(url, timeout=10, headers=origin)
    exposed = got.headers["Access-Control-Expose-Headers"]
    for h in ("ETag", "x-oss-request-id", "x-oss-hash-crc64ecma"):
        assert h in exposed
    assert got.headers["x-oss-request-id"]


def _vm_hwm_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def test_large_upload_keeps_server_memory_flat(oss, tmp_path):
    """A 256 MiB PutObject and a 256 MiB multipart upload stream through: the server's peak
    RSS stays far below the object size."""
    import oss2

    src = tmp_path / "large.bin"
    block = os.urandom(1 << 20)
    with open(src, "wb") as f:
        for _ in range(256):
            f.write(block)
    bucket = oss2.Bucket(oss2.Auth(oss.ak, oss.secret), oss.endpoint_url, BUCKET, enable_crc=False)
    base = _vm_hwm_kib(oss.proc.pid)
    bucket.put_object_from_file("large/put.bin", str(src))
    oss2.resumable_upload(bucket, "large/multi.bin", str(src), multipart_threshold=1 << 20,
                          part_size=16 << 20, num_threads=2, store=oss2.ResumableStore(root=str(tmp_path)))
    assert bucket.head_object("large/put.bin").content_length == 256 << 20
    assert bucket.head_object("large/multi.bin").content_length == 256 << 20
    peak = _vm_hwm_kib(oss.proc.pid)
    assert peak - base < 96 * 1024, f"server peak RSS grew {(peak - base) // 1024} MiB (from {base // 1024} MiB)"

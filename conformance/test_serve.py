"""`vodstack serve` as an operator meets it: zero-config start, the printed root key,
restarts that keep state, `config dump` (masking, precedence), signals, and the key/user CLI."""

import json
import signal
import socket
import subprocess
import tomllib

import pytest
from aliyunsdkvod.request.v20170321.ListAppInfoRequest import ListAppInfoRequest
from alibabacloud_vod20170321 import models as m

import vodconf
from vodconf import assert_raw_error, assert_tea_error


def apps_of(srv, **kw):
    return [a.app_id for a in srv.vod(**kw).list_app_info(m.ListAppInfoRequest(page_size=100)).body.app_info_list]


# ---- zero config, generated key, restart

def test_zero_config_start_prints_a_generated_key_and_keeps_state(servers):
    srv = servers.zero_config()
    assert list(srv.workdir.iterdir()) == []
    srv.start()
    ak, secret = srv.banner_value("root AccessKeyId"), srv.banner_value("root AccessKeySecret")
    assert ak and secret, srv.stdout
    assert f"http://{srv.endpoint}" in srv.stdout
    assert (srv.workdir / "vodstack-data" / "meta.db").is_file(), list(srv.workdir.rglob("*"))
    srv.ak, srv.secret = ak, secret

    assert srv.legacy(ListAppInfoRequest())["RequestId"]
    app_id = srv.vod().create_app_info(m.CreateAppInfoRequest(app_name="survives-restart")).body.app_id

    assert srv.stop(signal.SIGTERM) == 0
    srv.start()
    assert srv.banner_value("root AccessKeyId") == ak
    assert "AccessKeySecret" not in srv.stdout, srv.stdout
    assert secret not in srv.stdout
    assert app_id in apps_of(srv)
    assert srv.legacy(ListAppInfoRequest())["RequestId"]


def test_generated_key_is_kept_on_the_configured_database(servers):
    """Same as above on the suite's database (PostgreSQL in postgres mode)."""
    srv = servers.new(root_key=False)
    srv.start()
    ak, secret = srv.banner_value("root AccessKeyId"), srv.banner_value("root AccessKeySecret")
    assert ak and secret, srv.stdout
    srv.ak, srv.secret = ak, secret
    app_id = srv.vod().create_app_info(m.CreateAppInfoRequest(app_name="kept")).body.app_id
    assert srv.stop() == 0
    srv.start()
    assert srv.banner_value("root AccessKeyId") == ak and srv.banner_value("root AccessKeySecret") is None
    assert app_id in apps_of(srv)


def test_configured_root_key_is_used(server):
    assert server.banner_value("root AccessKeyId") == vodconf.ROOT_AK
    assert "AccessKeySecret" not in server.stdout
    assert vodconf.ROOT_SECRET not in server.stdout + server.stderr


def test_changing_the_configured_root_secret(servers):
    srv = servers.new()
    srv.start()
    assert srv.stop() == 0
    srv.start(env={"VODSTACK_ROOT_ACCESS_KEY_SECRET": "a-brand-new-secret"})
    assert_tea_error(lambda: apps_of(srv), "SignatureDoesNotMatch", 400)
    assert apps_of(srv, secret="a-brand-new-secret")


# ---- signals and start-up failures

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_shuts_down_cleanly(server, sig):
    assert server.raw("ListAppInfo").status_code == 200
    assert server.stop(sig) == 0
    assert not server.running


def test_busy_port_fails_start_with_a_message(servers):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        srv = servers.new()
        with pytest.raises(vodconf.ServerError) as err:
            srv.start(port=port)
    assert srv.exit_code not in (None, 0)
    assert "cannot listen" in str(err.value)


def test_missing_config_file_is_an_error(servers):
    srv = servers.new()
    out = srv.cli("--config", str(srv.workdir / "nope.toml"), "config", "dump", check=False)
    assert out.returncode != 0
    assert "nope.toml" in out.stderr


# ---- config dump

def dump(srv, *args, env=None):
    out = srv.cli(*args, "config", "dump", env=env)
    return out.stdout, tomllib.loads(out.stdout)


def test_config_dump_masks_secrets(servers):
    srv = servers.new(root_key=False)
    text, cfg = dump(srv, env={
        "VODSTACK_ROOT_ACCESS_KEY_ID": "LTAIdumpcheck",
        "VODSTACK_ROOT_ACCESS_KEY_SECRET": "xyz-very-secret-value",
        "VODSTACK_REDIS_URL": "redis://:redispw-42@127.0.0.1:6379",
    })
    assert "xyz-very-secret-value" not in text
    assert "redispw-42" not in text
    assert cfg["root_access_key_id"] == "LTAIdumpcheck"
    assert cfg["root_access_key_secret"] and cfg["root_access_key_secret"] != "xyz-very-secret-value"


def test_config_dump_masks_database_password(vodstack_bin, tmp_path):
    srv = vodconf.Server(tmp_path, None, root_key=False, zero_config=True)
    out = srv.cli("--database-url", "postgres://vod:hunter2-pw@db.invalid:5432/vod", "config", "dump")
    assert "hunter2-pw" not in out.stdout
    assert "db.invalid" in out.stdout


def test_config_precedence_file_env_flag(servers):
    srv = servers.new(root_key=False)
    (srv.workdir / "vodstack.toml").write_text(
        'data_dir = "/from/file"\napi_addr = "127.0.0.1:1111"\n'
        '[gateway]\nmax_clock_skew_secs = 60\n[gateway.throttle.actions]\nGetAppInfos = 7\n')
    zero = vodconf.Server(srv.workdir, None, root_key=False, zero_config=True)  # same cwd, no flags

    _, cfg = dump(zero)
    assert cfg["data_dir"] == "/from/file" and cfg["api_addr"] == "127.0.0.1:1111"
    assert cfg["gateway"]["max_clock_skew_secs"] == 60

    env = {"VODSTACK_DATA_DIR": "/from/env", "VODSTACK_GATEWAY__MAX_CLOCK_SKEW_SECS": "30",
           "VODSTACK_GATEWAY__THROTTLE__ACTIONS__LISTAPPINFO": "5"}
    _, cfg = dump(zero, env=env)
    assert cfg["data_dir"] == "/from/env"
    assert cfg["api_addr"] == "127.0.0.1:1111"  # untouched by env: still from the file
    assert cfg["gateway"]["max_clock_skew_secs"] == 30
    actions = {k.lower(): v for k, v in cfg["gateway"]["throttle"]["actions"].items()}
    assert actions["listappinfo"] == 5 and actions["getappinfos"] == 7

    _, cfg = dump(zero, "--data-dir", "/from/flag", env=env)
    assert cfg["data_dir"] == "/from/flag"

    # --config / VODSTACK_CONFIG name another file.
    other = srv.workdir / "other.toml"
    other.write_text('data_dir = "/from/other"\n')
    assert dump(zero, "--config", str(other))[1]["data_dir"] == "/from/other"
    assert dump(zero, env={"VODSTACK_CONFIG": str(other)})[1]["data_dir"] == "/from/other"


def test_serve_uses_the_config_file(servers):
    srv = servers.new()
    (srv.workdir / "vodstack.toml").write_text("[gateway]\nmax_clock_skew_secs = 60\n")
    srv.start()
    assert_raw_error(srv.raw("ListAppInfo", timestamp=vodconf.iso8601(-120)), "InvalidTimeStamp.Expired", 400)


# ---- key and user CLI

def test_keys_cli_lifecycle(server):
    ak, sk = server.create_key()
    listed = server.cli_json("keys", "list")
    row = next(k for k in listed if k["AccessKeyId"] == ak)
    assert row["Status"].lower() in ("active", "enabled")
    assert sk not in json.dumps(listed), "keys list must not show secrets"
    assert apps_of(server, ak=ak, secret=sk)
    server.cli("keys", "delete", ak)
    assert ak not in [k["AccessKeyId"] for k in server.cli_json("keys", "list")]
    # The key was cached by the call above; after the cache TTL it is gone.
    import time
    time.sleep(5.5)
    assert_tea_error(lambda: apps_of(server, ak=ak, secret=sk), "InvalidAccessKeyId.NotFound", 404)


def test_keys_cli_errors(server):
    assert server.cli("keys", "disable", "LTAInope", check=False).returncode != 0
    assert server.cli("keys", "create", "--user", "ghost", check=False).returncode != 0
    assert server.cli("keys", "sts", "--duration-seconds", "0", check=False).returncode != 0


def test_users_cli(server):
    policy = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "vod:Get*", "Resource": "*"}]}
    server.create_user("dave", policy)
    assert "dave" in [u["UserName"] for u in server.cli_json("users", "list")]
    shown = server.cli_json("users", "show", "dave")
    assert shown["Policy"]["Statement"][0]["Action"] in ("vod:Get*", ["vod:Get*"])
    assert server.cli("users", "create", "dave", "--policy", json.dumps(policy), check=False).returncode != 0
    bad = server.cli("users", "create", "erin", "--policy", '{"Statement":[{"Effect":"Allow","Action":"GetX"}]}',
                     check=False)
    assert bad.returncode != 0
    ak, sk = server.create_key(user="dave")
    assert server.cli_json("keys", "list") and any(k["User"] == "dave" for k in server.cli_json("keys", "list"))
    server.cli("users", "delete", "dave")
    assert "dave" not in [u["UserName"] for u in server.cli_json("users", "list")]
    assert ak not in [k["AccessKeyId"] for k in server.cli_json("keys", "list")], "user keys go with the user"
    assert_raw_error(server.raw("GetAppInfos", {"AppIds": "app-1000000"}, ak=ak, secret=sk),
                     "InvalidAccessKeyId.NotFound", 404)


def test_sts_cli_output(server):
    cred = server.sts(duration=900)
    assert set(cred) >= {"AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration"}
    import re
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", cred["Expiration"]), cred


def test_cli_help_exits_zero(vodstack_bin):
    out = subprocess.run([str(vodstack_bin), "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "serve" in out.stdout


def test_metrics_endpoint(server):
    import requests

    server.raw("ListAppInfo")
    resp = requests.get(f"{server.url}/metrics", timeout=10)
    assert resp.status_code == 200
    assert "vod_api_requests_total" in resp.text


def test_sigterm_right_after_the_banner_is_graceful(servers, vodstack_bin):
    """A supervisor may stop the process as soon as it announced itself: the SIGTERM handler
    must be in place before the banner is printed, or the default action kills it (-15)."""
    import time

    srv = servers.new()
    srv.cli("keys", "list")  # migrate once, so each start below is quick
    codes = []
    for i in range(10):
        port = vodconf.free_port()
        out = srv.workdir / f"early-{i}.stdout"
        with open(out, "wb") as so:
            proc = subprocess.Popen([str(vodstack_bin), *srv.global_args(), "serve", "--api-addr", f"127.0.0.1:{port}"],
                                    cwd=srv.workdir, env=srv.base_env(), stdout=so, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while "root AccessKeyId" not in out.read_text() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.001)
        proc.send_signal(signal.SIGTERM)
        try:
            codes.append(proc.wait(timeout=15))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append("hung")
    assert codes == [0] * 10, f"exit codes after a SIGTERM right after the banner: {codes}"

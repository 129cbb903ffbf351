"""Transcode template groups: AddTranscodeTemplateGroup, UpdateTranscodeTemplateGroup,
GetTranscodeTemplateGroup, ListTranscodeTemplateGroup, SetDefaultTranscodeTemplateGroup and
DeleteTranscodeTemplateGroup through the legacy SDK (V1) and the Tea SDK (V3 and V2), plus
the TemplateGroupId check of CreateUploadVideo / UploadMediaByURL.

Shapes follow the generated Tea models: template settings (Video, Audio, Container,
MuxConfig, ...) come back as JSON strings, WatermarkIds as a list, IsDefault is
Default/NotDefault, Locked is Enabled/Disabled. Every app has the built-in groups
VOD_DEFAULT_LADDER (the default until another is set) and VOD_NO_TRANSCODE, both locked.
Error codes are those of the actions' reference pages.
"""

import json
import xml.etree.ElementTree as ET

import pytest
from aliyunsdkvod.request.v20170321.AddTranscodeTemplateGroupRequest import AddTranscodeTemplateGroupRequest
from aliyunsdkvod.request.v20170321.CreateUploadVideoRequest import CreateUploadVideoRequest
from aliyunsdkvod.request.v20170321.DeleteTranscodeTemplateGroupRequest import DeleteTranscodeTemplateGroupRequest
from aliyunsdkvod.request.v20170321.GetTranscodeTemplateGroupRequest import GetTranscodeTemplateGroupRequest
from aliyunsdkvod.request.v20170321.ListTranscodeTemplateGroupRequest import ListTranscodeTemplateGroupRequest
from aliyunsdkvod.request.v20170321.SetDefaultTranscodeTemplateGroupRequest import (
    SetDefaultTranscodeTemplateGroupRequest,
)
from aliyunsdkvod.request.v20170321.UpdateTranscodeTemplateGroupRequest import UpdateTranscodeTemplateGroupRequest
from alibabacloud_vod20170321 import models as vm

from vodconf import assert_legacy_error, assert_raw_error, assert_tea_error

DEFAULT_APP = "app-1000000"
BUILTINS = ["VOD_DEFAULT_LADDER", "VOD_NO_TRANSCODE"]
# AddTranscodeTemplateGroup is limited to 5 QPS (its reference page); these tests go faster.
UNTHROTTLED = {"VODSTACK_GATEWAY__THROTTLE__ACTIONS__ADDTRANSCODETEMPLATEGROUP": "1000"}


@pytest.fixture
def srv(servers):
    return servers.new(env=UNTHROTTLED).start()


def tpl(definition, fmt="mp4", **extra):
    t = {"TemplateName": f"{definition} {fmt}", "Definition": definition, "Container": {"Format": fmt},
         "Video": {"Codec": "H.264", "Bitrate": "900", "Width": "960", "Remove": "false", "Fps": "30"},
         "Audio": {"Codec": "AAC", "Bitrate": "64", "Samplerate": "44100"}}
    if fmt == "m3u8":
        t["MuxConfig"] = {"Segment": {"Duration": "6"}}
    t.update(extra)
    return t


# ---- legacy SDK helpers

def l_add(srv, name=None, templates=None, group_id=None, app_id=None):
    r = AddTranscodeTemplateGroupRequest()
    if name is not None:
        r.set_Name(name)
    if templates is not None:
        r.set_TranscodeTemplateList(json.dumps(templates))
    if group_id:
        r.set_TranscodeTemplateGroupId(group_id)
    if app_id:
        r.set_AppId(app_id)
    return srv.legacy(r)


def l_get(srv, group_id):
    r = GetTranscodeTemplateGroupRequest()
    r.set_TranscodeTemplateGroupId(group_id)
    return srv.legacy(r)["TranscodeTemplateGroup"]


def l_list(srv, app_id=None):
    r = ListTranscodeTemplateGroupRequest()
    if app_id:
        r.set_AppId(app_id)
    return srv.legacy(r)["TranscodeTemplateGroupList"]


def l_update(srv, group_id, **kw):
    r = UpdateTranscodeTemplateGroupRequest()
    r.set_TranscodeTemplateGroupId(group_id)
    for k, v in kw.items():
        getattr(r, f"set_{k}")(json.dumps(v) if k == "TranscodeTemplateList" else v)
    return srv.legacy(r)


def l_set_default(srv, group_id):
    r = SetDefaultTranscodeTemplateGroupRequest()
    r.set_TranscodeTemplateGroupId(group_id)
    return srv.legacy(r)


def l_delete(srv, group_id, ids=None, force=None):
    r = DeleteTranscodeTemplateGroupRequest()
    r.set_TranscodeTemplateGroupId(group_id)
    if ids is not None:
        r.set_TranscodeTemplateIds(ids)
    if force is not None:
        r.set_ForceDelGroup(force)
    return srv.legacy(r)


def defaults(groups):
    return [g["TranscodeTemplateGroupId"] for g in groups if g["IsDefault"] == "Default"]


# ---- tests

def test_lifecycle_legacy(srv):
    groups = l_list(srv)
    assert [g["TranscodeTemplateGroupId"] for g in groups] == BUILTINS
    assert defaults(groups) == ["VOD_DEFAULT_LADDER"]

    body = l_add(srv, "my group", [tpl("LD"), tpl("SD", "m3u8", WatermarkIds=["USER_DEFAULT_WATERMARK"])])
    gid = body["TranscodeTemplateGroupId"]
    assert isinstance(gid, str) and len(gid) == 32 and body["RequestId"]

    g = l_get(srv, gid)
    assert (g["Name"], g["IsDefault"], g["Locked"], g["AppId"]) == ("my group", "NotDefault", "Disabled", DEFAULT_APP)
    assert g["CreationTime"].endswith("Z") and g["ModifyTime"].endswith("Z")
    ld, sd = g["TranscodeTemplateList"]
    for t in (ld, sd):
        for key in ("Video", "Audio", "Container", "Definition", "TemplateName", "TranscodeTemplateId", "Type"):
            assert isinstance(t[key], str), (key, t)
    assert json.loads(ld["Video"]) == tpl("LD")["Video"]
    assert json.loads(sd["MuxConfig"]) == {"Segment": {"Duration": "6"}}
    assert sd["WatermarkIds"] == ["USER_DEFAULT_WATERMARK"]

    # Add templates to the group, then change one by id and add one without id.
    assert l_add(srv, templates=[tpl("HD")], group_id=gid)["TranscodeTemplateGroupId"] == gid
    changed = dict(tpl("LD"), TranscodeTemplateId=ld["TranscodeTemplateId"])
    changed["Video"] = {"Codec": "H.264", "Bitrate": "600"}
    assert l_update(srv, gid, Name="renamed", TranscodeTemplateList=[changed, tpl("FD", "flv")])[
        "TranscodeTemplateGroupId"] == gid
    g = l_get(srv, gid)
    assert g["Name"] == "renamed"
    assert [t["Definition"] for t in g["TranscodeTemplateList"]] == ["LD", "SD", "HD", "FD"]
    assert json.loads(g["TranscodeTemplateList"][0]["Video"])["Bitrate"] == "600"

    # Default group.
    assert l_set_default(srv, gid)["RequestId"]
    assert defaults(l_list(srv)) == [gid]
    assert l_get(srv, "VOD_DEFAULT_LADDER")["IsDefault"] == "NotDefault"
    assert_legacy_error(lambda: l_delete(srv, gid, force="true"), "Forbidden.DefaultTemplateGroup", 403)

    # Remove some templates.
    body = l_delete(srv, gid, ids=f"{sd['TranscodeTemplateId']},0000")
    assert body["NonExistTranscodeTemplateIds"] == ["0000"]
    assert len(l_get(srv, gid)["TranscodeTemplateList"]) == 3

    # Lock, refuse, unlock.
    l_update(srv, gid, Locked="Enabled")
    assert l_get(srv, gid)["Locked"] == "Enabled"
    assert_legacy_error(lambda: l_update(srv, gid, Name="x"), "Forbidden.LockedTemplateGroup", 403)
    assert_legacy_error(lambda: l_add(srv, templates=[tpl("2K")], group_id=gid), "Forbidden.LockedTemplateGroup", 403)
    l_update(srv, gid, Locked="Disabled")

    l_set_default(srv, "VOD_DEFAULT_LADDER")
    assert defaults(l_list(srv)) == ["VOD_DEFAULT_LADDER"]
    assert l_delete(srv, gid, force="true")["NonExistTranscodeTemplateIds"] == []
    assert_legacy_error(lambda: l_get(srv, gid), "InvalidTranscodeTemplateGroup.NotFound", 404)
    assert [g["TranscodeTemplateGroupId"] for g in l_list(srv)] == BUILTINS


@pytest.mark.parametrize("v2", [False, True], ids=["tea-v3", "tea-v2"])
def test_lifecycle_tea(srv, v2):
    c = srv.vod(v2=v2)
    templates = json.dumps([tpl("LD"), tpl("HD", "m3u8", WatermarkIds=["w1", "w2"])])
    added = c.add_transcode_template_group(vm.AddTranscodeTemplateGroupRequest(
        name="tea group", transcode_template_list=templates, app_id=DEFAULT_APP)).body
    gid = added.transcode_template_group_id
    assert len(gid) == 32

    g = c.get_transcode_template_group(vm.GetTranscodeTemplateGroupRequest(transcode_template_group_id=gid)).body
    group = g.transcode_template_group
    assert (group.name, group.is_default, group.locked, group.app_id) == ("tea group", "NotDefault", "Disabled",
                                                                         DEFAULT_APP)
    ld, hd = group.transcode_template_list
    assert json.loads(ld.container) == {"Format": "mp4"}
    assert json.loads(hd.mux_config) == {"Segment": {"Duration": "6"}}
    assert hd.watermark_ids == ["w1", "w2"] and ld.type == "Normal" and ld.definition == "LD"
    assert ld.template_name == "LD mp4" and len(ld.transcode_template_id) == 32

    updated = c.update_transcode_template_group(vm.UpdateTranscodeTemplateGroupRequest(
        transcode_template_group_id=gid, name="tea renamed")).body
    assert updated.transcode_template_group_id == gid

    listed = c.list_transcode_template_group(vm.ListTranscodeTemplateGroupRequest(app_id=DEFAULT_APP)).body
    names = {x.transcode_template_group_id: x for x in listed.transcode_template_group_list}
    assert list(names) == BUILTINS + [gid]
    assert names[gid].name == "tea renamed" and names[gid].locked == "Disabled"
    assert names["VOD_DEFAULT_LADDER"].is_default == "Default"

    c.set_default_transcode_template_group(vm.SetDefaultTranscodeTemplateGroupRequest(transcode_template_group_id=gid))
    listed = c.list_transcode_template_group(vm.ListTranscodeTemplateGroupRequest()).body
    assert [x.transcode_template_group_id for x in listed.transcode_template_group_list
            if x.is_default == "Default"] == [gid]

    deleted = c.delete_transcode_template_group(vm.DeleteTranscodeTemplateGroupRequest(
        transcode_template_group_id=gid, transcode_template_ids=f"{ld.transcode_template_id},missing")).body
    assert deleted.non_exist_transcode_template_ids == ["missing"]
    assert_tea_error(lambda: c.delete_transcode_template_group(vm.DeleteTranscodeTemplateGroupRequest(
        transcode_template_group_id=gid, force_del_group="true")), "Forbidden.DefaultTemplateGroup", 403)
    c.set_default_transcode_template_group(vm.SetDefaultTranscodeTemplateGroupRequest(
        transcode_template_group_id="VOD_NO_TRANSCODE"))
    c.delete_transcode_template_group(vm.DeleteTranscodeTemplateGroupRequest(
        transcode_template_group_id=gid, force_del_group="true"))
    assert_tea_error(lambda: c.get_transcode_template_group(vm.GetTranscodeTemplateGroupRequest(
        transcode_template_group_id=gid)), "InvalidTranscodeTemplateGroup.NotFound", 404)


def test_builtin_groups(srv):
    ladder = l_get(srv, "VOD_DEFAULT_LADDER")
    assert ladder["Locked"] == "Enabled" and ladder["IsDefault"] == "Default"
    formats = {(t["Definition"], json.loads(t["Container"])["Format"]) for t in ladder["TranscodeTemplateList"]}
    assert {("LD", "mp4"), ("HD", "m3u8"), ("SQ", "mp3")} <= formats
    assert l_get(srv, "VOD_NO_TRANSCODE")["TranscodeTemplateList"] == []
    c = srv.vod()
    for gid in BUILTINS:
        assert_legacy_error(lambda: l_update(srv, gid, Name="x"), "Forbidden.SpecialTemplateGroup", 403)
        assert_legacy_error(lambda: l_add(srv, templates=[tpl("SD")], group_id=gid),
                            "Forbidden.SpecialTemplateGroup", 403)
        assert_tea_error(lambda: c.delete_transcode_template_group(vm.DeleteTranscodeTemplateGroupRequest(
            transcode_template_group_id=gid, force_del_group="true")), "Forbidden.SpecialTemplateGroup", 403)
        got = c.get_transcode_template_group(vm.GetTranscodeTemplateGroupRequest(transcode_template_group_id=gid))
        assert got.body.transcode_template_group.locked == "Enabled"


def test_errors(srv):
    missing = "0123456789abcdef0123456789abcdef"
    c = srv.vod()
    for call in (lambda: l_get(srv, missing), lambda: l_update(srv, missing, Name="x"),
                 lambda: l_set_default(srv, missing), lambda: l_delete(srv, missing, force="true"),
                 lambda: l_add(srv, templates=[tpl("SD")], group_id=missing)):
        assert_legacy_error(call, "InvalidTranscodeTemplateGroup.NotFound", 404)
    assert_tea_error(lambda: c.set_default_transcode_template_group(vm.SetDefaultTranscodeTemplateGroupRequest(
        transcode_template_group_id=missing)), "InvalidTranscodeTemplateGroup.NotFound", 404)

    body = assert_raw_error(srv.raw("AddTranscodeTemplateGroup"), "MissingParameter", 400)
    assert '"Name"' in body["Message"]
    body = assert_raw_error(srv.raw("GetTranscodeTemplateGroup"), "MissingParameter", 400)
    assert '"TranscodeTemplateGroupId"' in body["Message"]

    bad = tpl("SD", Video={"Bitrate": "-5"})
    e = assert_legacy_error(lambda: l_add(srv, "bad", [tpl("LD"), bad]), "InvalidParameter", 400)
    assert "TranscodeTemplateList" in e.get_error_msg() and "template 2" in e.get_error_msg(), e.get_error_msg()
    assert "Video.Bitrate" in e.get_error_msg()
    e = assert_tea_error(lambda: c.add_transcode_template_group(vm.AddTranscodeTemplateGroupRequest(
        name="bad", transcode_template_list="{not json")), "InvalidParameter", 400)
    assert "JSON array" in e.message
    assert_legacy_error(lambda: l_add(srv, "dup", [tpl("LD"), tpl("LD")]), "InvalidParameter", 400,
                        message_contains="Definition LD and format mp4")
    assert_legacy_error(lambda: l_add(srv, "many", [tpl("LD")] * 21), "TranscodeTemplateExceededMax", 400)
    assert_legacy_error(lambda: l_add(srv, "marks", [tpl("LD", WatermarkIds=list("abcde"))]),
                        "WatermarkExceededMax", 400)

    gid = l_add(srv, "g", [tpl("LD")])["TranscodeTemplateGroupId"]
    assert_legacy_error(lambda: l_update(srv, gid, Locked="maybe"), "InvalidParameter", 400)
    assert_legacy_error(lambda: l_delete(srv, gid), "MissingParameter", 400)
    redefined = dict(tpl("HD"), TranscodeTemplateId=l_get(srv, gid)["TranscodeTemplateList"][0]["TranscodeTemplateId"])
    assert_legacy_error(lambda: l_update(srv, gid, TranscodeTemplateList=[redefined]), "InvalidParameter", 400,
                        message_contains="cannot be changed")
    assert_legacy_error(lambda: l_list(srv, "app-nope"), "AppNotExist", 404)

    for i in range(19):
        l_add(srv, f"filler {i}")
    assert_legacy_error(lambda: l_add(srv, "one too many"), "TrasncodeTemplateGroupExceededMax", 400)


def test_xml(srv):
    gid = l_add(srv, "x<y", [tpl("LD"), tpl("SD")])["TranscodeTemplateGroupId"]
    resp = srv.raw("GetTranscodeTemplateGroup", {"TranscodeTemplateGroupId": gid}, fmt="XML")
    assert resp.status_code == 200, resp.text
    root = ET.fromstring(resp.content)
    assert root.tag == "GetTranscodeTemplateGroupResponse"
    group = root.find("TranscodeTemplateGroup")
    assert group.findtext("Name") == "x<y" and group.findtext("IsDefault") == "NotDefault"
    items = group.findall("TranscodeTemplateList")
    assert [t.findtext("Definition") for t in items] == ["LD", "SD"]
    assert json.loads(items[0].findtext("Container")) == {"Format": "mp4"}
    resp = srv.raw("ListTranscodeTemplateGroup", fmt="XML")
    root = ET.fromstring(resp.content)
    assert [g.findtext("TranscodeTemplateGroupId") for g in root.findall("TranscodeTemplateGroupList")] == \
        BUILTINS + [gid]
    resp = srv.raw("DeleteTranscodeTemplateGroup", {"TranscodeTemplateGroupId": gid, "TranscodeTemplateIds": "a,b"},
                   fmt="XML")
    root = ET.fromstring(resp.content)
    assert [e.text for e in root.findall("NonExistTranscodeTemplateIds")] == ["a", "b"]


def test_apps_and_ram(servers):
    srv = servers.new(env=UNTHROTTLED)
    srv.create_user("tpl", {"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": ["vod:*TranscodeTemplateGroup"], "Resource": [f"acs:vod:*:*:app/{DEFAULT_APP}"]},
    ]})
    key = srv.create_key(user="tpl")
    srv.start()
    other = srv.vod().create_app_info(vm.CreateAppInfoRequest(app_name="templates-app")).body.app_id
    theirs = l_add(srv, "theirs", [tpl("SD")], app_id=other)["TranscodeTemplateGroupId"]
    assert [g["TranscodeTemplateGroupId"] for g in l_list(srv, other)] == BUILTINS + [theirs]
    assert [g["TranscodeTemplateGroupId"] for g in l_list(srv)] == BUILTINS
    assert l_get(srv, theirs)["AppId"] == other
    l_set_default(srv, theirs)
    assert defaults(l_list(srv, other)) == [theirs] and defaults(l_list(srv)) == ["VOD_DEFAULT_LADDER"]

    user = srv.legacy_client(*key)
    mine = l_add_as(srv, user, "mine")
    assert len(mine) == 32
    r = GetTranscodeTemplateGroupRequest()
    r.set_TranscodeTemplateGroupId(theirs)
    assert_legacy_error(lambda: srv.legacy(r, client=user), "Forbidden", 403)
    tea_user = srv.vod(*key)
    assert_tea_error(lambda: tea_user.list_transcode_template_group(vm.ListTranscodeTemplateGroupRequest(
        app_id=other)), "Forbidden", 403)
    assert_tea_error(lambda: tea_user.delete_transcode_template_group(vm.DeleteTranscodeTemplateGroupRequest(
        transcode_template_group_id=theirs, force_del_group="true")), "Forbidden", 403)


def l_add_as(srv, client, name):
    r = AddTranscodeTemplateGroupRequest()
    r.set_Name(name)
    return srv.legacy(r, client=client)["TranscodeTemplateGroupId"]


def test_uploads_check_template_group_id(srv):
    gid = l_add(srv, "for uploads", [tpl("SD")])["TranscodeTemplateGroupId"]

    def upload(group):
        r = CreateUploadVideoRequest()
        r.set_Title("t")
        r.set_FileName("a.mp4")
        r.set_TemplateGroupId(group)
        return srv.legacy(r)

    assert len(upload(gid)["VideoId"]) == 32
    assert upload("VOD_NO_TRANSCODE")["VideoId"]
    assert_legacy_error(lambda: upload("0123456789abcdef0123456789abcdef"), "InvalidTranscodeTemplateGroup.NotFound",
                        404)
    c = srv.vod()
    assert_tea_error(lambda: c.create_upload_video(vm.CreateUploadVideoRequest(
        title="t", file_name="a.mp4", template_group_id="nope")), "InvalidTranscodeTemplateGroup.NotFound", 404)
    assert_tea_error(lambda: c.upload_media_by_url(vm.UploadMediaByURLRequest(
        upload_urls="http://example.com/a.mp4", template_group_id="nope")), "InvalidTranscodeTemplateGroup.NotFound",
        404)
    ok = c.upload_media_by_url(vm.UploadMediaByURLRequest(upload_urls="http://example.com/a.mp4",
                                                          template_group_id=gid)).body
    assert len(ok.upload_jobs) == 1

"""Media categories: VOD AddCategory / UpdateCategory / DeleteCategory / GetCategories
(legacy and Tea SDKs) and the same four actions of ICE (Tea V3).

Shapes follow the generated Tea models: AddCategory -> {Category:{CateId, CateName,
ParentId, Level, Type}}; GetCategories -> {Category:{...}, SubTotal, SubCategories:
{Category:[...]}}. A first-level category has Level 0 and ParentId -1; GetCategories
without CateId (or with -1) lists the first level.
"""

import pytest
from aliyunsdkvod.request.v20170321.AddCategoryRequest import AddCategoryRequest
from aliyunsdkvod.request.v20170321.DeleteCategoryRequest import DeleteCategoryRequest
from aliyunsdkvod.request.v20170321.GetCategoriesRequest import GetCategoriesRequest
from aliyunsdkvod.request.v20170321.UpdateCategoryRequest import UpdateCategoryRequest
from alibabacloud_ice20201109 import models as im
from alibabacloud_vod20170321 import models as vm

from vodconf import assert_raw_error, legacy_error, tea_error


# ---- VOD through the legacy SDK

def l_add(srv, name, parent=None, type_=None):
    r = AddCategoryRequest()
    r.set_CateName(name)
    if parent is not None:
        r.set_ParentId(parent)
    if type_:
        r.set_Type(type_)
    return srv.legacy(r)["Category"]


def l_get(srv, cate_id=None, **kw):
    r = GetCategoriesRequest()
    if cate_id is not None:
        r.set_CateId(cate_id)
    for k, v in kw.items():
        getattr(r, f"set_{k}")(v)
    return srv.legacy(r)


def sub_names(body):
    return [c["CateName"] for c in (body.get("SubCategories") or {}).get("Category", [])]


def test_vod_category_tree_legacy(server):
    root = l_add(server, "movies")
    assert isinstance(root["CateId"], int), root
    assert (root["CateName"], root["Level"], root["ParentId"]) == ("movies", 0, -1), root
    assert root.get("Type", "default") == "default"

    child = l_add(server, "comedy", parent=root["CateId"])
    assert (child["Level"], child["ParentId"]) == (1, root["CateId"]), child
    grandchild = l_add(server, "slapstick", parent=child["CateId"])
    assert grandchild["Level"] == 2

    top = l_get(server)
    assert "movies" in sub_names(top), top
    assert top["SubTotal"] >= 1

    under_root = l_get(server, root["CateId"])
    assert under_root["Category"]["CateId"] == root["CateId"]
    assert under_root["Category"]["CateName"] == "movies"
    assert sub_names(under_root) == ["comedy"] and under_root["SubTotal"] == 1

    r = UpdateCategoryRequest()
    r.set_CateId(child["CateId"])
    r.set_CateName("comedies")
    assert server.legacy(r)["RequestId"]
    assert sub_names(l_get(server, root["CateId"])) == ["comedies"]

    r = DeleteCategoryRequest()
    r.set_CateId(child["CateId"])
    assert server.legacy(r)["RequestId"]
    after = l_get(server, root["CateId"])
    assert sub_names(after) == [] and after["SubTotal"] == 0


def test_vod_delete_removes_subcategories(server):
    root = l_add(server, "to-delete")
    child = l_add(server, "its-child", parent=root["CateId"])
    r = DeleteCategoryRequest()
    r.set_CateId(root["CateId"])
    server.legacy(r)
    assert "to-delete" not in sub_names(l_get(server))
    e = legacy_error(lambda: l_get(server, child["CateId"]))
    assert 400 <= e.get_http_status() < 500, e


def test_vod_category_paging(server):
    root = l_add(server, "paged")
    for i in range(3):
        l_add(server, f"p{i}", parent=root["CateId"])
    page = l_get(server, root["CateId"], PageNo=1, PageSize=2)
    assert page["SubTotal"] == 3 and len(sub_names(page)) == 2, page
    page2 = l_get(server, root["CateId"], PageNo=2, PageSize=2)
    assert len(sub_names(page2)) == 1
    assert sorted(sub_names(page) + sub_names(page2)) == ["p0", "p1", "p2"]


def test_vod_category_errors(server):
    body = assert_raw_error(server.raw("AddCategory"), "MissingParameter", 400)
    assert '"CateName"' in body["Message"]
    e = legacy_error(lambda: l_add(server, "orphan", parent=987654321))
    assert 400 <= e.get_http_status() < 500
    r = UpdateCategoryRequest()
    r.set_CateId(987654321)
    r.set_CateName("x")
    e = legacy_error(lambda: server.legacy(r))
    assert 400 <= e.get_http_status() < 500
    # Three levels at most for Type=default.
    a = l_add(server, "l0")
    b = l_add(server, "l1", parent=a["CateId"])
    c = l_add(server, "l2", parent=b["CateId"])
    e = legacy_error(lambda: l_add(server, "l3", parent=c["CateId"]))
    assert 400 <= e.get_http_status() < 500


# ---- VOD through the Tea SDK

@pytest.mark.parametrize("v2", [False, True], ids=["tea-v3", "tea-v2"])
def test_vod_categories_tea(server, v2):
    c = server.vod(v2=v2)
    root = c.add_category(vm.AddCategoryRequest(cate_name="tea-root")).body.category
    assert isinstance(root.cate_id, int) and root.level == 0 and root.parent_id == -1, root.to_map()
    child = c.add_category(vm.AddCategoryRequest(cate_name="tea child", parent_id=root.cate_id)).body.category
    assert child.level == 1 and child.parent_id == root.cate_id
    got = c.get_categories(vm.GetCategoriesRequest(cate_id=root.cate_id)).body
    assert got.category.cate_id == root.cate_id
    assert [x.cate_name for x in got.sub_categories.category] == ["tea child"] and got.sub_total == 1
    c.update_category(vm.UpdateCategoryRequest(cate_id=child.cate_id, cate_name="renamed"))
    got = c.get_categories(vm.GetCategoriesRequest(cate_id=root.cate_id)).body
    assert [x.cate_name for x in got.sub_categories.category] == ["renamed"]
    c.delete_category(vm.DeleteCategoryRequest(cate_id=root.cate_id))
    top = c.get_categories(vm.GetCategoriesRequest()).body
    names = [x.cate_name for x in (top.sub_categories.category if top.sub_categories else [])]
    assert "tea-root" not in names


def test_vod_categories_xml(server):
    import xml.etree.ElementTree as ET

    server.raw("AddCategory", {"CateName": "xml-cat"})
    resp = server.raw("GetCategories", fmt="XML")
    assert resp.status_code == 200, resp.text
    root = ET.fromstring(resp.content)
    assert root.tag == "GetCategoriesResponse"
    names = [e.findtext("CateName") for e in root.findall("SubCategories/Category")]
    assert "xml-cat" in names, resp.text


# ---- ICE

def test_ice_category_tree(server):
    c = server.ice()
    root = c.add_category(im.AddCategoryRequest(cate_name="ice-root", type="default")).body.category
    assert isinstance(root.cate_id, int) and root.cate_name == "ice-root" and root.level == 0, root.to_map()
    child = c.add_category(im.AddCategoryRequest(cate_name="ice-child", parent_id=root.cate_id)).body.category
    assert child.level == 1 and child.parent_id == root.cate_id
    got = c.get_categories(im.GetCategoriesRequest(cate_id=root.cate_id)).body
    assert got.category.cate_id == root.cate_id
    assert [x.cate_name for x in got.sub_categories.category] == ["ice-child"] and got.sub_total == 1
    c.update_category(im.UpdateCategoryRequest(cate_id=child.cate_id, cate_name="ice-renamed"))
    got = c.get_categories(im.GetCategoriesRequest(cate_id=root.cate_id)).body
    assert [x.cate_name for x in got.sub_categories.category] == ["ice-renamed"]
    c.delete_category(im.DeleteCategoryRequest(cate_id=child.cate_id))
    got = c.get_categories(im.GetCategoriesRequest(cate_id=root.cate_id)).body
    assert got.sub_total == 0


def test_ice_add_category_missing_name(server):
    e = tea_error(lambda: server.ice().add_category(im.AddCategoryRequest()))
    assert (e.code, e.status_code) == ("MissingParameter", 400), (e.code, e.message)
    assert '"CateName"' in e.message


def test_ice_categories_through_sts(server):
    c = server.ice_sts()
    c.add_category(im.AddCategoryRequest(cate_name="via-sts"))
    top = c.get_categories(im.GetCategoriesRequest()).body
    assert "via-sts" in [x.cate_name for x in top.sub_categories.category]


# ---- documented limits (AddCategory: at most 3 levels for Type=default, 2 for
# Type=material, at most 100 subcategories under one category; CateName at most 64 bytes)

def test_material_categories_have_two_levels_at_most(server):
    a = l_add(server, "m0", type_="material")
    assert a["Type"] == "material" and a["Level"] == 0
    b = l_add(server, "m1", parent=a["CateId"], type_="material")
    assert b["Level"] == 1
    e = legacy_error(lambda: l_add(server, "m2", parent=b["CateId"], type_="material"))
    assert 400 <= e.get_http_status() < 500, e
    # Material categories are listed with Type=material only.
    assert "m0" in sub_names(l_get(server, Type="material"))
    assert "m0" not in sub_names(l_get(server))


def test_at_most_100_subcategories(servers):
    srv = servers.new().start(env={"VODSTACK_GATEWAY__THROTTLE__ENABLED": "false"})
    root = l_add(srv, "crowded")
    for i in range(100):
        srv.raw("AddCategory", {"CateName": f"c{i}", "ParentId": root["CateId"]}).raise_for_status()
    assert l_get(srv, root["CateId"])["SubTotal"] == 100
    e = legacy_error(lambda: l_add(srv, "one-too-many", parent=root["CateId"]))
    assert 400 <= e.get_http_status() < 500, e


def test_cate_name_length(server):
    assert l_add(server, "x" * 64)["CateName"] == "x" * 64
    body = assert_raw_error(server.raw("AddCategory", {"CateName": "x" * 65}), "InvalidParameter", 400)
    assert '"CateName"' in body["Message"]


def test_get_categories_sort_order(server):
    root = l_add(server, "sorted")
    for name in ("first", "second", "third"):
        l_add(server, name, parent=root["CateId"])
    assert sub_names(l_get(server, root["CateId"], SortBy="CreationTime:Desc")) == ["third", "second", "first"]
    assert sub_names(l_get(server, root["CateId"], SortBy="CreationTime:Asc")) == ["first", "second", "third"]


def test_deleted_category_is_not_found(server):
    cat = l_add(server, "gone")
    r = DeleteCategoryRequest()
    r.set_CateId(cat["CateId"])
    server.legacy(r)
    e = legacy_error(lambda: server.legacy(r))
    assert e.get_http_status() == 404, (e.get_error_code(), e.get_error_msg())

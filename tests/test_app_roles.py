"""The app for each role, with a simulated signed-in user (AppTest): what each may edit, that a
change is a new version in the store, that a refused change leaves the register and the store as
they were and is recorded in the store's audit log, and the sign-in form."""

from __future__ import annotations

from unittest import mock

import pytest
import shapely
import shapely.geometry
from streamlit.testing.v1 import AppTest

from planner.core.access import User
from planner.core.accounts import set_account
from planner.core.changes import register_changes
from planner.core.plan import Plan
from tests.conftest import inside, square
from tests.test_app import APP, TIMEOUT, _fake_st_folium, app_as
from tests.test_session_auth import events

BAOAN, NANSHAN = "440306", "440305"
PLANNER = User("wang", "planner", display_name="王工")
BAOAN_STAFF = User("li", "district", BAOAN, display_name="李科长")
VIEWER = User("zhao", "viewer")
PASSWORD = "correct horse 7"


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    return "\n".join(parts + [e.value for e in at.error] + [s.value for s in at.success])


def _keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button if b.key} | {d.key for d in at.data_editor if d.key}


def _stored_changes(at: AppTest):
    """What the latest stored version of main changed against v1 (and that version)."""
    store = at.session_state.store
    latest, v = store.load("main")
    return register_changes(store.load("main", 1)[0], latest), v


def _edit(at: AppTest, key: str, rows: dict) -> None:
    at.session_state[key] = {"edited_rows": rows, "added_rows": [], "deleted_rows": []}


# city planner


def test_planner_applies_an_allocation_edit_in_any_district() -> None:
    at = app_as(PLANNER, "pages/district.py")
    at.selectbox(key="district_code").set_value(NANSHAN).run()
    first = at.data_editor[0].value.iloc[0]["allocation_id"]
    _edit(at, f"alloc_editor_{NANSHAN}", {0: {"area_m2": 12345}})
    at.button(key="apply_allocations").click().run()
    assert not at.exception and not at.error
    a = at.session_state.register.allocations.set_index("allocation_id")
    assert a.loc[first, "area_m2"] == 12345
    changes, v = _stored_changes(at)
    assert changes.allocations.changed == [first] and (v.version, v.author) == (2, "wang")
    (event,) = events(at.session_state.store)
    assert (event["action"], event["outcome"], event["user"]) == ("save", "ok", "wang")


def test_planner_sets_a_quota() -> None:
    at = app_as(PLANNER, "pages/capacity.py")
    codes = list(at.data_editor(key="quota_editor").value["district_code"])
    _edit(at, "quota_editor", {codes.index(BAOAN): {"quota_m2": 500_000}})
    at.button(key="apply_quotas").click().run()
    assert not at.exception and not at.error
    assert at.session_state.register.quota(BAOAN) == 500_000
    assert any("指标已保存" in s.value for s in at.success)
    changes, v = _stored_changes(at)
    assert changes.quotas.added == [BAOAN] and v.comment == "各区指标 district quotas"
    at.switch_page("pages/district.py").run()
    at.selectbox(key="district_code").set_value(BAOAN).run()
    assert at.metric[0].value == "50.0 万㎡"  # the district page shows the new quota


def test_a_bad_quota_is_refused_and_changes_nothing() -> None:
    at = app_as(PLANNER, "pages/capacity.py")
    _edit(at, "quota_editor", {0: {"quota_m2": -1}})
    at.button(key="apply_quotas").click().run()
    assert at.error and "未保存: 数据未通过校验" in at.error[0].value
    assert at.session_state.register.quotas.empty


# district staff


def test_district_staff_start_on_their_district_and_apply_an_edit() -> None:
    at = app_as(BAOAN_STAFF, "pages/district.py")
    assert at.selectbox(key="district_code").value == BAOAN
    assert {f"alloc_editor_{BAOAN}", "apply_allocations"} <= _keys(at)
    _edit(at, f"alloc_editor_{BAOAN}", {0: {"area_m2": 450_000}})
    at.button(key="apply_allocations").click().run()
    assert not at.exception and not at.error
    assert any("修改已应用" in s.value for s in at.success)
    a = at.session_state.register.allocations.set_index("allocation_id")
    assert a.loc["tencent_penguin-a1", "area_m2"] == 450_000


def test_district_staff_see_another_district_read_only() -> None:
    at = app_as(BAOAN_STAFF, "pages/district.py")
    before = at.session_state.register
    # a forged session: the other district chosen and an edit waiting in its editor's state
    _edit(at, f"alloc_editor_{NANSHAN}", {0: {"area_m2": 1}})
    at.selectbox(key="district_code").set_value(NANSHAN).run()
    assert not at.exception
    assert not at.data_editor and "apply_allocations" not in _keys(at)
    assert any("只读" in i.value and "宝安区" in i.value for i in at.info)
    shown = next(d.value for d in at.dataframe if "allocation_id" in d.value.columns)
    assert "sz_bay_super_hq-a1" in set(shown["allocation_id"])  # Nanshan's, to read
    assert at.session_state.register is before and events(at.session_state.store) == []


def _draw(user: User, polygon: shapely.Polygon) -> AppTest:
    drawing = {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(polygon)}
    with mock.patch("streamlit_folium.st_folium", _fake_st_folium(drawing)):
        at = app_as(user, "pages/map.py")
        name = next(w for w in at.text_input if w.label == "名称")
        name.set_value("区级绘制")
        next(b for b in at.button if b.label == "加入登记册").click().run()
        assert not at.exception, [e.message for e in at.exception]
    return at


def test_district_staff_draw_a_park_in_their_district(plan: Plan) -> None:
    at = _draw(BAOAN_STAFF, square(inside(plan, BAOAN), 300))
    assert not at.error
    parks = at.session_state.register.parks
    assert parks.iloc[-1]["id"] == "drawn-001" and parks.iloc[-1]["district_code"] == BAOAN
    changes, v = _stored_changes(at)
    assert changes.parks.added == ["drawn-001"] and (v.author, v.role) == ("li", "district")


def test_district_staff_drawing_in_another_district_is_refused_and_recorded(
    plan: Plan, seed_register
) -> None:
    at = _draw(BAOAN_STAFF, square(inside(plan, NANSHAN), 300))
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("无权修改") and "已记录" in errors[0]
    assert "drawn-001" in errors[0] and "南山区" in errors[0] and "Nanshan" in errors[0]  # zh / en
    assert len(at.session_state.register.parks) == len(seed_register.parks)  # unchanged
    store = at.session_state.store
    assert len(store.history("main")) == 1  # nothing written
    (event,) = events(store)
    assert (event["action"], event["outcome"], event["user"], event["role"]) == (
        "save",
        "denied",
        "li",
        "district",
    )
    assert event["detail"].startswith("park drawn-001 [") and "南山区" in event["detail"]


def test_district_staff_see_no_quota_editor() -> None:
    at = app_as(BAOAN_STAFF, "pages/capacity.py")
    assert "quota_editor" not in _keys(at) and "apply_quotas" not in _keys(at)


# viewer and anonymous


@pytest.mark.parametrize("user", [VIEWER, None], ids=["viewer", "anonymous"])
def test_viewers_get_no_editing_controls(user: User | None, seed_register) -> None:
    at = app_as(user, "pages/district.py")
    assert not at.data_editor and "apply_allocations" not in _keys(at)
    assert any("只读" in i.value for i in at.info)
    at.switch_page("pages/capacity.py").run()
    assert "apply_quotas" not in _keys(at)
    square_ = shapely.geometry.mapping(shapely.box(113.93, 22.53, 113.935, 22.535))
    with mock.patch("streamlit_folium.st_folium", _fake_st_folium({"geometry": square_})):
        at.switch_page("pages/map.py").run()
        assert not at.exception
        assert not [b for b in at.button if b.label == "加入登记册"]  # no drawing form
        assert any("只读" in i.value for i in at.info)
    assert at.session_state.register.parks.equals(seed_register.parks)
    assert at.session_state.register.allocations.equals(seed_register.allocations)
    assert events(at.session_state.store) == [] and len(at.session_state.store.history("main")) == 1


# sign-in


def test_sign_in_page_without_accounts_shows_the_first_command() -> None:
    at = app_as(None, "pages/signin.py")
    assert not at.error and not at.text_input
    assert any("不附带默认账户" in i.value for i in at.info)
    assert [c.value for c in at.code] == ["python -m planner account add NAME --role planner"]
    assert not [b for b in at.button if b.key == "oidc_login"]  # no identity provider configured


def _sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="signin_name").set_value(name)
    at.text_input(key="signin_password").set_value(password)
    return next(b for b in at.button if b.label == "登录").click().run()


def test_sign_in_with_a_real_account_and_sign_out() -> None:
    set_account("li", "district", PASSWORD, district_code=BAOAN, display_name="李科长")
    at = app_as(None, "pages/signin.py")
    _sign_in(at, "li", "not the password")
    assert not at.exception and at.error
    assert "用户名或密码错误" in at.error[0].value
    assert "user" not in at.session_state
    _sign_in(at, "li", PASSWORD)
    assert not at.exception and not at.error
    assert at.session_state.user == User("li", "district", BAOAN, "李科长")
    assert any("已登录" in s.value for s in at.success)
    assert any(c.value == ":material/person: 李科长 · 区级工作人员 · 宝安区" for c in at.sidebar.caption)
    at.switch_page("pages/district.py").run()
    assert at.selectbox(key="district_code").value == BAOAN and at.data_editor
    at.button(key="sign_out").click().run()
    assert "user" not in at.session_state and not at.data_editor
    log = events(at.session_state.store)
    assert [(e["action"], e["outcome"], e["user"]) for e in log] == [
        ("sign_in", "denied", "li"),
        ("sign_in", "ok", "li"),
    ]


def test_five_wrong_passwords_lock_the_sign_in_form() -> None:
    set_account("li", "district", PASSWORD, district_code=BAOAN)
    at = app_as(None, "pages/signin.py")
    for _ in range(5):
        _sign_in(at, "li", "not the password")
        assert "用户名或密码错误" in at.error[0].value
    _sign_in(at, "li", PASSWORD)
    assert not at.exception and "user" not in at.session_state
    assert (
        "尝试次数过多, 请 15 分钟后再试 / too many failed attempts, try again in 15 minutes"
        in at.error[0].value
    )
    assert events(at.session_state.store)[-1]["detail"].startswith("locked")


@pytest.mark.parametrize("page", ["app.py", "pages/map.py", "pages/capacity.py", "pages/export.py"])
def test_every_page_says_who_is_signed_in(page: str) -> None:
    at = app_as(PLANNER, None if page == "app.py" else page)
    assert ":material/person: 王工 · 市级规划人员" in [c.value for c in at.sidebar.caption]
    at.radio[0].set_value("en").run()
    assert ":material/person: 王工 · City planner" in [c.value for c in at.sidebar.caption]


# an identity provider (OIDC): st.login / st.user, simulated with AppTest.secrets and AppTest.user

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test only",
        "client_id": "planner", "client_secret": "test only",
        "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}  # fmt: skip


def _oidc_app(user_info: dict, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["auth"] = AUTH
    at.user = user_info
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_with_an_identity_provider_the_sign_in_page_offers_it() -> None:
    at = _oidc_app({"is_logged_in": False}, "pages/signin.py")
    assert at.button(key="oidc_login").label == "使用单位统一身份认证登录"
    assert "user" not in at.session_state


def test_the_providers_email_signs_in_its_account() -> None:
    set_account("wang", "planner", PASSWORD, display_name="王工", email="wang@sz.gov.cn")
    at = _oidc_app({"is_logged_in": True, "email": "Wang@SZ.gov.cn"})  # back on the home page
    assert at.session_state.user == User("wang", "planner", None, "王工")
    assert ":material/person: 王工 · 市级规划人员" in [c.value for c in at.sidebar.caption]
    at.button(key="sign_out").click().run()
    assert "user" not in at.session_state  # and the next rerun does not sign in again
    log = events(at.session_state.store)
    assert [(e["outcome"], e["user"], e["detail"]) for e in log] == [("ok", "wang", "oidc Wang@SZ.gov.cn")]


def test_an_unknown_providers_email_stays_read_only() -> None:
    set_account("wang", "planner", PASSWORD, email="wang@sz.gov.cn")
    at = _oidc_app({"is_logged_in": True, "email": "stranger@sz.gov.cn"}, "pages/signin.py")
    assert "user" not in at.session_state
    assert any("stranger@sz.gov.cn" in w.value for w in at.warning)
    (event,) = events(at.session_state.store)
    assert event["outcome"] == "denied" and "stranger@sz.gov.cn" in event["detail"]

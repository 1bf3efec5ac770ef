"""Sign-in page: an account from the accounts file (name and password, argon2-checked), or the
organisation's identity provider (OIDC, ``st.login``) when ``.streamlit/secrets.toml`` has an
``[auth]`` section. Anonymous visitors read everything and change nothing."""

from __future__ import annotations

import streamlit as st

from pages import frame
from planner.app.session import (
    FIRST_ACCOUNT_COMMAND,
    accounts_file,
    current_user,
    has_accounts,
    identity_sign_in_once,
    rights_text,
    sign_in,
    sign_in_identity,
    sign_out,
    user_line,
)
from planner.app.text import md
from planner.core.accounts import TOKEN_HOURS
from planner.errors import PlannerError
from planner.i18n import translator

plan, register, lang = frame()
t = translator(lang)  # the one translator (planner.i18n)

try:
    oidc = "auth" in st.secrets  # an identity provider is configured
except FileNotFoundError:  # no secrets.toml at all
    oidc = False
idp_email = st.user.get("email") if oidc and st.user.is_logged_in else None
try:
    identity_sign_in_once(st.session_state, idp_email)
    any_account = has_accounts()
except PlannerError as err:  # the accounts file is broken: say where, sign-in is not possible
    st.title(t("登录", "Sign in"))
    st.error(
        t(
            f"账户文件有误, 暂时无法登录; 请管理员修正 {accounts_file()} (或用 python -m planner account add 重建该账户):",
            f"The accounts file is broken, so nobody can sign in; an administrator must fix {accounts_file()} "
            "(or recreate the account with python -m planner account add):",
        )
        + f"\n\n{md(err)}"
    )
    st.stop()

st.title(t("登录", "Sign in"))
user = current_user(st.session_state)
if user is not None:
    st.success(t("已登录: ", "Signed in: ") + md(user_line(st.session_state, lang)))
    st.markdown(md(rights_text(user, plan, lang)))
    if st.button(t("退出登录", "Sign out"), key="sign_out_main"):
        sign_out(st.session_state)
        if idp_email:
            st.logout()  # also end the identity provider's session cookie
        st.rerun()
    st.stop()

st.caption(
    t(
        f"未登录时只能查看 (只读); 登录后按账户角色编辑。登录在本浏览器保持 {TOKEN_HOURS} 小时 (刷新页面不会退出), "
        "点击「退出登录」即失效。",
        "Without signing in the app is read-only; sign in to edit as your role allows. The sign-in lasts "
        f"{TOKEN_HOURS} hours in this browser (a reload keeps it) until you sign out.",
    )
)
if any_account:
    with st.form("sign_in_form", clear_on_submit=True):  # the password is not kept
        name = st.text_input(t("用户名", "User name"), key="signin_name")
        password = st.text_input(t("密码", "Password"), type="password", key="signin_password")
        submitted = st.form_submit_button(t("登录", "Sign in"), type="primary")
    if submitted:
        try:
            sign_in(st.session_state, name, password)
        except PlannerError as err:  # wrong password, or a misconfigured account
            st.error(md(err))
        else:
            st.rerun()
else:
    st.info(
        t(
            f"尚未创建任何账户 (账户文件 {accounts_file()} 不存在或为空)。系统不附带默认账户或默认密码; "
            "请在服务器上用以下命令创建第一个市级规划人员账户 (会提示输入两次密码):",
            f"No account exists yet (accounts file {accounts_file()} missing or empty). No default account "
            "or password ships; create the first city planner on the server with (asks for the password twice):",
        )
    )
    st.code(FIRST_ACCOUNT_COMMAND, language="bash")

if oidc:
    st.divider()
    if idp_email:  # signed in at the identity provider, but no account has this e-mail
        st.warning(
            t(
                f"{md(idp_email)} 没有对应的账户; 请联系市级规划人员用 --email 创建账户。",
                f"No account has the e-mail {md(idp_email)}; ask a city planner to create one with --email.",
            )
        )
        if st.button(t("重试", "Try again"), key="oidc_retry"):
            try:
                sign_in_identity(st.session_state, idp_email)
            except PlannerError as err:
                st.error(md(err))
            else:
                st.rerun()
    else:
        st.button(t("使用单位统一身份认证登录", "Sign in with your organisation's identity provider"),
                  key="oidc_login", on_click=st.login)  # fmt: skip

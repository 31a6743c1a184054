"""Where a customer page was opened: a browser, WeChat's browser (公众号), or the
`<web-view>` of a merchant's mini-program (docs/protocols.md, "WeChat web-view").

Only the user agent reaches the server: WeChat's says MicroMessenger, and since WeChat
7.0.0 a web-view's also says miniProgram. portal.js confirms a web-view in the page
(window.__wxjs_environment) before it offers the way back.
"""

from __future__ import annotations

from enum import StrEnum

from portal.security import CONTENT_SECURITY_POLICY

# Tencent serves the JS-SDK only from its own host; wx.miniProgram.* needs no wx.config.
JSSDK_URL = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"
JSSDK_ORIGIN = "https://res.wx.qq.com"


class Container(StrEnum):
    BROWSER = "browser"
    WECHAT = "wechat"  # WeChat's own browser: a 公众号 message, a chat link
    MINIPROGRAM = "miniprogram"  # a mini-program's <web-view>


def container_of(user_agent: str) -> Container:
    agent = user_agent.lower()
    if "micromessenger" not in agent:
        return Container.BROWSER
    return Container.MINIPROGRAM if "miniprogram" in agent else Container.WECHAT


def policy_with_jssdk() -> str:
    """Our CSP with the JS-SDK's host added to script-src, for the pages that load it."""
    return CONTENT_SECURITY_POLICY.replace(
        "script-src 'self'", f"script-src 'self' {JSSDK_ORIGIN}", 1
    )

"""A loopback WeChat Pay APIv3 + Alipay refund gateway: keyed refunds, signed answers, notifies."""

from __future__ import annotations

import argparse
import json

from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette

from emulators.alipay import AlipayCredentials, AlipayEmulator
from emulators.ledger import Delivery, EmulatedRefund, Faults, Ledger, Payment
from emulators.wechatpay import WeChatCredentials, WeChatPayEmulator

__all__ = ["AlipayCredentials", "PaymentsEmulator", "WeChatCredentials"]


class PaymentsEmulator:
    """Both gateways over one ledger of payments; a refund key never refunds twice."""

    def __init__(self, *, settle_delay: float = 0.2, default_notify_url: str = "") -> None:
        self.ledger = Ledger(settle_delay=settle_delay, default_notify_url=default_notify_url)
        self.wechat = WeChatPayEmulator(self.ledger)
        self.alipay = AlipayEmulator(self.ledger)
        self.app = Starlette(
            routes=[*self.wechat.routes, *self.alipay.routes], lifespan=self.ledger.lifespan
        )

    @property
    def faults(self) -> Faults:
        return self.ledger.faults

    @property
    def deliveries(self) -> list[Delivery]:
        return self.ledger.deliveries

    @property
    def platform_key(self) -> rsa.RSAPrivateKey:
        return self.wechat.platform_key

    @property
    def platform_serial(self) -> str:
        return self.wechat.platform_serial

    @property
    def alipay_key(self) -> rsa.RSAPrivateKey:
        return self.alipay.alipay_key

    def enroll_wechat_merchant(self, mchid: str = "1900000109") -> WeChatCredentials:
        return self.wechat.enroll(mchid)

    def enroll_alipay_app(self, app_id: str = "2021000000000001") -> AlipayCredentials:
        return self.alipay.enroll(app_id)

    def seed_payment(
        self,
        out_trade_no: str,
        total_fen: int,
        *,
        received_account: str = "支付用户零钱",
        notify_url: str = "",
    ) -> Payment:
        """A payment to refund. `notify_url` is the one given when it was paid: Alipay sends
        its refund notifies there (WeChat Pay takes a notify_url with each refund)."""
        return self.ledger.seed_payment(
            out_trade_no, total_fen, received_account=received_account, notify_url=notify_url
        )

    def refunds_of(self, out_trade_no: str) -> list[EmulatedRefund]:
        return self.ledger.refunds_of(out_trade_no)

    def refunded_fen(self, out_trade_no: str) -> int:
        return self.ledger.refunded_fen(out_trade_no)

    def wait_for_deliveries(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        return self.ledger.wait_for_deliveries(count, timeout)


def main() -> None:
    """`python -m emulators.payments --port 8770`: serve with a demo payment; print credentials."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8770)
    parser.add_argument("--notify-url", default="")
    args = parser.parse_args()
    emulator = PaymentsEmulator(default_notify_url=args.notify_url)
    emulator.seed_payment("DEMO-PAY-1", 12_800)
    credentials = [emulator.enroll_wechat_merchant(), emulator.enroll_alipay_app()]
    print(json.dumps([vars(c) for c in credentials], indent=2, default=bytes.decode))
    uvicorn.run(emulator.app, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
